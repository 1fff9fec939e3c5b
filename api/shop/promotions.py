"""The demo city's promotions: coupons, each store's full-reduction tiers (满减), flash sales in Redis.

Coupons and flash sales live in Redis (an admin adds a flash sale at run time, ``open_flash_sale``:
one script, and opening the same sale again never puts back on the shelf what it already sold); tiers
are a store setting. The demo coupons and tiers themselves are plain data in ``commerce.promotions``
(the simulator's shoppers use them too); ``seed_promotions`` writes the demo coupons once.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from commerce.errors import CommerceError
from commerce.pricing import Coupon, FlashSale
from commerce.promotions import DEFAULT_TIERS, DEMO_COUPONS, tiers_for

__all__ = ["COUPONS", "DEFAULT_TIERS", "DEMO_COUPONS", "FLASH", "OPEN_FLASH", "Opened", "coupon", "coupon_from", "coupon_json",
           "flash_from", "flash_json", "flash_sales", "flash_units_key", "open_flash_sale", "seed_promotions", "tiers_for"]

COUPONS = "shop:coupons"
FLASH = "shop:flash"


def coupon_json(c: Coupon) -> str:
    return json.dumps({
        "code": c.code, "kind": c.kind, "value": c.value, "min_spend_cents": c.min_spend_cents,
        "categories": sorted(c.categories) if c.categories is not None else None,
        "valid_from": None if math.isinf(c.valid_from) else c.valid_from, "valid_to": None if math.isinf(c.valid_to) else c.valid_to,
        "per_customer_limit": c.per_customer_limit, "max_off_cents": c.max_off_cents,
        "stacks_with_reductions": c.stacks_with_reductions, "store_id": c.store_id,
    })


def coupon_from(raw: str | bytes) -> Coupon:
    d = json.loads(raw)
    return Coupon(
        d["code"], d["kind"], int(d["value"]), min_spend_cents=int(d["min_spend_cents"]),
        categories=frozenset(d["categories"]) if d["categories"] is not None else None,
        valid_from=float("-inf") if d["valid_from"] is None else float(d["valid_from"]),
        valid_to=float("inf") if d["valid_to"] is None else float(d["valid_to"]),
        per_customer_limit=int(d["per_customer_limit"]), max_off_cents=d["max_off_cents"],
        stacks_with_reductions=bool(d["stacks_with_reductions"]), store_id=d["store_id"],
    )


def seed_promotions(r: Any) -> None:
    """Demo coupons (kept if already there)."""
    for c in DEMO_COUPONS:
        r.hsetnx(COUPONS, c.code, coupon_json(c))


def flash_json(f: FlashSale) -> str:
    return json.dumps({"store_id": f.store_id, "sku": f.sku, "price_cents": f.price_cents, "starts": f.starts,
                       "ends": f.ends, "per_customer_limit": f.per_customer_limit})


def flash_from(raw: str | bytes) -> FlashSale:
    d = json.loads(raw)
    return FlashSale(d["store_id"], d["sku"], int(d["price_cents"]), float(d["starts"]), float(d["ends"]), int(d["per_customer_limit"]))


async def coupon(r: Any, code: str) -> Coupon | None:
    raw = await r.hget(COUPONS, code.upper())
    return None if raw is None else coupon_from(raw)


async def flash_sales(r: Any, store_id: str) -> list[FlashSale]:
    raw = await r.hgetall(f"{FLASH}:{store_id}")
    return [flash_from(v) for v in raw.values()]


def flash_units_key(store_id: str) -> str:
    """Hash SKU -> the units the store's live (or last) flash sale of it was opened with."""
    return f"{FLASH}-units:{store_id}"


# KEYS: the store's flash sales, stock, flash units, pending reservations (``inventory.expiring_key``). ARGV: sku, the new
# sale's JSON, units, now (live minute), price, per-customer limit, the reservation key prefix (``resv:{store}:``).
# One script, so the sale is never live with a shelf it was not opened with, and however often it is sent:
# - the same sale (open, same price and limit) again is the same sale: its start (which its per-customer counts hang on) and
#   end are kept, and its shelf moves by the difference of the units only (a retry: not at all), never below what is
#   already sold or held of it: {0, sale, shelf, units}; or {-1, sale, shelf, units} when fewer units than that are asked;
# - otherwise a new sale: the SKU's shelf is its units less what checkouts awaiting payment hold of the SKU (their units
#   come back to the shelf if they are not paid): {1, sale, shelf, units}; {-2, '', held, units} when they hold more.
OPEN_FLASH = """
local sku, units = ARGV[1], tonumber(ARGV[3])
local raw = redis.call('HGET', KEYS[1], sku)
if raw then
  local sale = cjson.decode(raw)
  if tonumber(sale.ends) > tonumber(ARGV[4]) and tonumber(sale.price_cents) == tonumber(ARGV[5])
      and tonumber(sale.per_customer_limit) == tonumber(ARGV[6]) then
    local shelf = tonumber(redis.call('HGET', KEYS[2], sku) or '0')
    local had = tonumber(redis.call('HGET', KEYS[3], sku) or '-1')
    if had < 0 then had = units end  -- opened before its units were kept: take it as opened with these
    if shelf + units - had < 0 then return {-1, raw, shelf, had} end
    redis.call('HINCRBY', KEYS[2], sku, units - had)
    redis.call('HSET', KEYS[3], sku, units)
    return {0, raw, shelf + units - had, units}
  end
end
local held = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do
  held = held + tonumber(redis.call('HGET', ARGV[7] .. id, sku) or '0')
end
if held > units then return {-2, '', held, units} end
redis.call('HSET', KEYS[1], sku, ARGV[2])
redis.call('HSET', KEYS[2], sku, units - held)
redis.call('HSET', KEYS[3], sku, units)
return {1, ARGV[2], units - held, units}
"""


@dataclass(frozen=True)
class Opened:
    sale: FlashSale  # the live sale (an earlier one when this was the same sale again)
    new: bool  # a new sale (False: the same sale, opened again)
    units: int  # what it is opened with now
    stock: int  # the SKU's shelf now


async def open_flash_sale(r: Any, sale: FlashSale, units: int) -> Opened:
    """Open ``sale`` with ``units`` of its SKU, or the same sale again (``OPEN_FLASH``): atomic, and idempotent."""
    from actors.live_host import minutes_now
    from api.shop.inventory import expiring_key, reservation_key, stock_key

    store = sale.store_id
    code, raw, shelf, units_now = await r.eval(
        OPEN_FLASH, 4, f"{FLASH}:{store}", stock_key(store), flash_units_key(store), expiring_key(store),
        sale.sku, flash_json(sale), int(units), minutes_now(), sale.price_cents, sale.per_customer_limit, reservation_key(store, ""))
    code, shelf, units_now = int(code), int(shelf), int(units_now)
    if code == -1:
        raise CommerceError("flash_units_taken", f"{units_now - shelf} of the {units_now} units of the {sale.sku} flash sale are sold "
                                                 f"or held; it cannot be opened with fewer ({units})")
    if code == -2:
        raise CommerceError("flash_units_taken", f"checkouts awaiting payment hold {shelf} units of {sale.sku}, more than {units}")
    return Opened(flash_from(raw), code == 1, units_now, shelf)
