"""The demo city's promotions: coupons, each store's full-reduction tiers (满减), flash sales in Redis.

Coupons and flash sales live in Redis (an admin adds a flash sale at run time); tiers are a
store setting. The demo coupons and tiers themselves are plain data in ``commerce.promotions``
(the simulator's shoppers use them too); ``seed_promotions`` writes the demo coupons once.
"""
from __future__ import annotations

import json
import math
from typing import Any

from commerce.pricing import Coupon, FlashSale
from commerce.promotions import DEFAULT_TIERS, DEMO_COUPONS, tiers_for

__all__ = ["COUPONS", "DEFAULT_TIERS", "DEMO_COUPONS", "FLASH", "coupon", "coupon_from", "coupon_json", "flash_from",
           "flash_json", "flash_sales", "open_flash_sale", "seed_promotions", "tiers_for"]

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


async def open_flash_sale(r: Any, sale: FlashSale, units: int) -> None:
    """Open ``sale``: its record, and ``units`` of the SKU on the shelf."""
    from api.shop.inventory import stock_key

    await r.hset(f"{FLASH}:{sale.store_id}", sale.sku, flash_json(sale))
    await r.hset(stock_key(sale.store_id), sale.sku, int(units))
