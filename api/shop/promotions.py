"""The demo city's promotions: coupons, each store's full-reduction tiers (满减), flash sales in Redis.

Coupons and flash sales live in Redis (an admin adds a flash sale at run time); tiers are a
store setting. ``seed_promotions`` writes the demo coupons once.
"""
from __future__ import annotations

import json
import math
from typing import Any

from commerce.pricing import Coupon, FlashSale, ReductionTier

COUPONS = "shop:coupons"
FLASH = "shop:flash"
DEMO_COUPONS = (
    Coupon("WELCOME10", "threshold", 1000, min_spend_cents=5000, per_customer_limit=1),
    Coupon("SAVE5", "fixed", 500, min_spend_cents=2000, per_customer_limit=3),
    Coupon("NOODLE15", "percent", 1500, categories=frozenset({"noodles"}), max_off_cents=2000, per_customer_limit=2),
    Coupon("FRESH20", "percent", 2000, categories=frozenset({"grocery"}), max_off_cents=3000, stacks_with_reductions=True),
)
DEFAULT_TIERS = (ReductionTier(3000, 300), ReductionTier(6000, 800), ReductionTier(10000, 1500))


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


def tiers_for(store_id: str) -> tuple[ReductionTier, ...]:
    return DEFAULT_TIERS
