"""Simulated customers: fill a basket in one store, maybe use a coupon, and check out through ``price_cart``.

The simulator's customers shop through the same flow as the shop API, so the demo city's dispatch
sees orders with realistic baskets (and their sizes and preparation times) and the run can report
what was sold. A customer ordering at store S at minute t, with a delivery mode already chosen:

1. **Basket** (``Shopper.fill``): 1-6 distinct products, fewer more likely, and more of them in
   stores that sell mostly groceries (``big_baskets``); each product is drawn without replacement
   with weight ``(sales + 1) × exp(RATING_PULL × (rating − 4.5))``, × ``PROMOTED_BOOST`` when the store
   promotes it; 1-3 units each (mostly 1). Only items in stock are offered and a quantity never
   exceeds what is left: the shopper keeps each item's stock for the day, starting from the
   catalog's, and a checkout takes its units off.
2. **Customer** (``Shopper.checkout``): a lifetime spend drawn from a lognormal gives the member
   level (``commerce.membership.level_for``). With probability ``coupon_share`` the customer tries
   one of the coupons, picked at random. Pricing refuses a coupon that does not fit (wrong store,
   minimum spend, no eligible lines, ...): the cart is then priced again without it. A coupon
   that fits may still lose to the store's 满减 tier (docs/pricing.md, step 4); ``Basket.coupon``
   is the coupon actually applied.
3. **Price**: ``price_cart`` with the store's prices and tiers, the member level, no flash sales and
   no points, and the delivery fee for the store-to-door distance and the mode.

Every draw comes from one ``random.Random`` seeded with ``seed``, so the same seed and the same
sequence of calls give the same baskets. ``checkout`` makes the same three draws (spend, whether to
try a coupon, which one) whatever the customer then does, so a coupon that fits or not never
shifts the draws of the customers after it.
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from commerce.catalog import Catalog, StoreItem
from commerce.errors import CommerceError
from commerce.membership import LEVELS, level_for
from commerce.pricing import CartLine, Coupon, DeliveryFee, MemberLevel, PriceQuote, ReductionTier, price_cart
from commerce.promotions import DEFAULT_TIERS, DEMO_COUPONS

LINE_WEIGHTS = (0.40, 0.28, 0.16, 0.09, 0.05, 0.02)  # 1..6 distinct products (a meal)
BIG_LINE_WEIGHTS = (0.08, 0.14, 0.20, 0.22, 0.20, 0.16)  # 1..6 in a store selling mostly groceries (a shop)
QTY_WEIGHTS = (0.72, 0.20, 0.08)  # 1..3 units of a product
PROMOTED_BOOST = 2.5
RATING_PULL = 1.5  # a product rated 4.9 is drawn ~1.8x as often as one at 4.5 with the same sales
BIG_BASKET_ROOTS = frozenset({"grocery"})
SPEND_MEDIAN_CENTS = 60_000  # lifetime spend: median ¥600 ...
SPEND_SIGMA = 1.2  # ... log-sd: ~40 % regular, ~40 % silver, ~15 % gold, ~5 % diamond

FEES = DeliveryFee()  # the shop's standard fee (frozen, so one shared default is safe)

Tiers = Sequence[ReductionTier] | Callable[[str], Sequence[ReductionTier]]


@dataclass(frozen=True)
class Basket:
    """One customer's priced cart in one store. ``quote.total_cents`` is the sum of the quote's lines."""

    store_id: str
    lines: tuple[CartLine, ...]
    items: int  # units over all lines
    member: str  # the customer's membership level
    tried_coupon: str | None  # the coupon the customer tried, whether or not it applied
    quote: PriceQuote = field(hash=False)  # holds a dict (flash units), so it stays out of the hash

    @property
    def value_cents(self) -> int:
        """Goods after discounts: what the basket adds to GMV (delivery fee and points excluded)."""
        return self.quote.goods_cents - self.quote.discount_cents

    @property
    def coupon(self) -> str | None:
        """The coupon applied, if any (one that was tried but lost to the 满减 tier is not)."""
        return self.quote.coupon


class Shopper:
    """Customers of one simulated day in ``catalog``'s stores; deterministic for a seed and a call sequence."""

    def __init__(
        self,
        catalog: Catalog,
        coupons: Sequence[Coupon] = DEMO_COUPONS,
        tiers: Tiers = DEFAULT_TIERS,
        seed: int | str = 0,
        *,
        coupon_share: float = 0.5,
        levels: tuple[MemberLevel, ...] = LEVELS,
        fees: DeliveryFee = FEES,
    ) -> None:
        if not 0.0 <= coupon_share <= 1.0:
            raise CommerceError("bad_input", f"coupon share must be between 0 and 1, got {coupon_share!r}")
        self.catalog = catalog
        self.coupons = tuple(coupons)
        self._tiers = tiers
        self.coupon_share = coupon_share
        self.levels = levels
        self.fees = fees
        self._rng = random.Random(seed)
        self._stock: dict[tuple[str, str], int] = {}
        self._big: dict[str, bool] = {}

    # -- the store ------------------------------------------------------------------------------
    def _items(self, store_id: str) -> list[StoreItem]:
        self.catalog.store(store_id)  # an unknown store is a CommerceError
        return self.catalog.items(store_id)

    def stock(self, store_id: str, sku: str) -> int:
        """Units of ``sku`` left in ``store_id`` today."""
        key = (store_id, sku)
        if key not in self._stock:
            self._stock[key] = self.catalog.item(store_id, sku).stock
        return self._stock[key]

    def sells(self, store_id: str) -> bool:
        """Whether ``store_id`` is in the catalog and still has something in stock."""
        try:
            items = self._items(store_id)
        except CommerceError:
            return False
        return any(self.stock(store_id, i.sku) > 0 for i in items)

    def big_baskets(self, store_id: str) -> bool:
        """Whether most of the store's products are groceries: its customers fill bigger baskets."""
        if store_id not in self._big:
            items = self._items(store_id)
            tree = self.catalog.categories
            grocery = sum(1 for i in items if tree.path(self.catalog.category_of(i.sku))[0] in BIG_BASKET_ROOTS)
            self._big[store_id] = bool(items) and 2 * grocery > len(items)
        return self._big[store_id]

    def tiers_for(self, store_id: str) -> Sequence[ReductionTier]:
        return self._tiers(store_id) if callable(self._tiers) else self._tiers

    # -- the customer ---------------------------------------------------------------------------
    def fill(self, store_id: str) -> tuple[CartLine, ...]:
        """A basket of 1-6 lines of 1-3 units from what the store has in stock (nothing is taken yet)."""
        rng = self._rng
        offered = [i for i in self._items(store_id) if self.stock(store_id, i.sku) > 0]
        if not offered:
            raise CommerceError("sold_out", f"store {store_id} has nothing left in stock")
        weights = [(i.sales + 1) * math.exp(RATING_PULL * (i.rating - 4.5)) * (PROMOTED_BOOST if i.promoted else 1.0) for i in offered]
        n_lines = rng.choices(range(1, len(LINE_WEIGHTS) + 1), BIG_LINE_WEIGHTS if self.big_baskets(store_id) else LINE_WEIGHTS)[0]
        lines: list[CartLine] = []
        for _ in range(min(n_lines, len(offered))):
            k = rng.choices(range(len(offered)), weights)[0]
            item = offered.pop(k)
            weights.pop(k)
            qty = rng.choices(range(1, len(QTY_WEIGHTS) + 1), QTY_WEIGHTS)[0]
            lines.append(CartLine(item.sku, min(qty, self.stock(store_id, item.sku))))
        return tuple(lines)

    def checkout(self, store_id: str, lines: Sequence[CartLine], now: float, mode: str = "asap", distance_m: float = 0.0) -> Basket:
        """Price ``lines`` for a newly drawn customer and take the units off the day's stock.

        The customer tries a coupon now and then; one that pricing refuses is dropped and the cart
        priced again without it. Raises ``CommerceError`` for a SKU the store does not sell or has
        not enough of, or for a bad mode or distance.
        """
        rng = self._rng
        lines = tuple(lines)
        if not lines:
            raise CommerceError("empty_cart", "there is nothing in the cart to check out")
        need: dict[str, int] = {}
        for line in lines:
            need[line.sku] = need.get(line.sku, 0) + line.qty
        for sku, qty in need.items():
            left = self.stock(store_id, sku)  # unknown SKU here: CommerceError
            if qty > left:
                raise CommerceError("out_of_stock", f"store {store_id} has {left} of {sku} left, the cart wants {qty}")
        # the same three draws whatever happens next, so one customer's coupon never shifts the next customer's
        spend = int(rng.lognormvariate(math.log(SPEND_MEDIAN_CENTS), SPEND_SIGMA))
        tries = rng.random() < self.coupon_share
        pick = rng.randrange(len(self.coupons)) if self.coupons else 0
        member = level_for(spend, self.levels)
        coupon = self.coupons[pick] if tries and self.coupons else None
        tree = self.catalog.categories

        def price(with_coupon: Coupon | None) -> PriceQuote:
            return price_cart(
                lines, store_id=store_id, unit_price=lambda sku: self.catalog.item(store_id, sku).price_cents,
                category_of=self.catalog.category_of, now=now, member=member, coupon=with_coupon,
                tiers=self.tiers_for(store_id), distance_m=distance_m, mode=mode, fees=self.fees, category_matches=tree.matches,
            )

        if coupon is None:
            quote = price(None)
        else:
            try:
                quote = price(coupon)
            except CommerceError as exc:
                if not exc.code.startswith("coupon_"):
                    raise
                quote = price(None)
        for sku, qty in need.items():
            self._stock[(store_id, sku)] -= qty
        return Basket(store_id, lines, sum(need.values()), member.name, coupon.code if coupon else None, quote)

    def basket(self, store_id: str, now: float, mode: str = "asap", distance_m: float = 0.0) -> Basket:
        """``fill`` then ``checkout``: one customer's whole visit."""
        return self.checkout(store_id, self.fill(store_id), now, mode, distance_m)
