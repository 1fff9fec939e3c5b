"""The demo city's promotions as plain data: its coupons and every store's full-reduction tiers (满减).

Shared by the shop API (``api.shop.promotions`` keeps them in Redis and serves them) and the
simulator's shoppers (``commerce.shopper``), so both price the same carts the same way.
"""
from __future__ import annotations

from commerce.pricing import Coupon, ReductionTier

DEMO_COUPONS: tuple[Coupon, ...] = (
    Coupon("WELCOME10", "threshold", 1000, min_spend_cents=5000, per_customer_limit=1),
    Coupon("SAVE5", "fixed", 500, min_spend_cents=2000, per_customer_limit=3),
    Coupon("NOODLE15", "percent", 1500, categories=frozenset({"noodles"}), max_off_cents=2000, per_customer_limit=2),
    Coupon("FRESH20", "percent", 2000, categories=frozenset({"grocery"}), max_off_cents=3000, stacks_with_reductions=True),
)
DEFAULT_TIERS: tuple[ReductionTier, ...] = (ReductionTier(3000, 300), ReductionTier(6000, 800), ReductionTier(10000, 1500))


def tiers_for(store_id: str) -> tuple[ReductionTier, ...]:
    """A store's 满减 tiers; every demo store has the default ones."""
    return DEFAULT_TIERS
