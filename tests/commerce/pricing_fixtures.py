"""A tiny store for the pricing tests: prices chosen so every total can be checked by hand."""
from __future__ import annotations

from typing import Any

from commerce.pricing import CartLine, FlashSale, MemberLevel, PriceQuote, ReductionTier, price_cart

STORE = "s1"
NOW = 100.0
PRICES = {  # cents
    "apple": 1250,
    "milk": 899,
    "coffee": 1000,
    "tea": 333,
    "wine": 8800,
    "cent": 1,
}
CATEGORY = {"apple": "fruit", "milk": "dairy", "coffee": "drinks", "tea": "drinks", "wine": "alcohol", "cent": "misc"}
PARENT = {"fruit": "food", "dairy": "food", "drinks": "beverages", "alcohol": "beverages", "misc": None}

GOLD = MemberLevel("gold", 200_000, 500)  # 5 % off non-flash goods
TIERS = (ReductionTier(3000, 300), ReductionTier(5000, 800), ReductionTier(10000, 2000))  # 满30减3, 满50减8, 满100减20
APPLE_FLASH = FlashSale(STORE, "apple", 999, starts=0, ends=200, per_customer_limit=2)  # ¥9.99, two per customer


def cart(**qty: int) -> list[CartLine]:
    return [CartLine(sku, n) for sku, n in qty.items()]


def quote(items: dict[str, int], **kw: Any) -> PriceQuote:
    """``price_cart`` in store s1 at minute 100 with the price list above; ``kw`` overrides."""
    args: dict[str, Any] = {"store_id": STORE, "unit_price": PRICES.__getitem__, "category_of": CATEGORY.__getitem__, "now": NOW}
    args.update(kw)
    return price_cart(cart(**items), **args)


def amounts(q: PriceQuote) -> list[tuple[str, int]]:
    """The quote as (code, cents) per line, in order: what the tables compare."""
    return [(line.code, line.amount_cents) for line in q.lines]


def in_tree(category: str, allowed: frozenset[str]) -> bool:
    """A ``category_matches`` that also accepts any ancestor (what a category tree gives the API)."""
    at: str | None = category
    while at is not None:
        if at in allowed:
            return True
        at = PARENT.get(at)
    return False
