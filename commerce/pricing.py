"""Cart pricing: flash prices, member discount, 满减 tiers, one coupon, points, delivery fee.

The order of the steps is the contract (docs/pricing.md): each step sees the amount the previous
steps left, every step is a ``PriceLine`` (discounts negative), and the total is the sum of the
lines. Everything is integer cents; only percentages round, half-up to a cent (``money.pct``).
No step may take off more than the goods it applies to, so the total never drops below the
delivery fee.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from commerce.errors import CommerceError
from commerce.money import BP_PER_WHOLE, pct, yuan
from dispatch.modes import DeliveryMode

POINTS_PER_YUAN_REDEEM = 100  # 100 points = ¥1
MAX_POINTS_SHARE = 0.5  # points pay at most half of the goods after discounts
CENTS_PER_YUAN = 100

CouponKind = Literal["fixed", "percent", "threshold"]
COUPON_KINDS: frozenset[str] = frozenset({"fixed", "percent", "threshold"})


# -- inputs ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CartLine:
    """``qty`` units of one SKU; the price comes from the store at quote time, never from the client."""

    sku: str
    qty: int

    def __post_init__(self) -> None:
        if not self.sku:
            raise CommerceError("bad_line", "a cart line needs a SKU")
        if isinstance(self.qty, bool) or not isinstance(self.qty, int) or self.qty <= 0:
            raise CommerceError("bad_quantity", f"quantity of {self.sku} must be a positive whole number, got {self.qty!r}")


@dataclass(frozen=True, slots=True)
class Coupon:
    """One coupon. fixed/threshold: ``value`` cents off; percent: ``value`` basis points off (1500 = 15 %).

    ``categories`` restricts it to lines of those categories (the caller's ``category_matches``
    decides about descendants); ``valid_from``/``valid_to`` are inclusive.
    """

    code: str
    kind: CouponKind
    value: int
    min_spend_cents: int = 0
    categories: frozenset[str] | None = None
    valid_from: float = -math.inf
    valid_to: float = math.inf
    per_customer_limit: int = 1
    max_off_cents: int | None = None
    stacks_with_reductions: bool = False
    store_id: str | None = None

    def __post_init__(self) -> None:
        if not self.code:
            raise CommerceError("bad_coupon", "a coupon needs a code")
        if self.kind not in COUPON_KINDS:
            raise CommerceError("bad_coupon", f"coupon {self.code}: kind must be one of {sorted(COUPON_KINDS)}, got {self.kind!r}")
        if self.value <= 0:
            raise CommerceError("bad_coupon", f"coupon {self.code}: value must be positive, got {self.value}")
        if self.kind == "percent" and self.value > BP_PER_WHOLE:
            raise CommerceError("bad_coupon", f"coupon {self.code}: a percent coupon takes at most 10000 bp, got {self.value}")
        if self.kind == "threshold" and self.min_spend_cents <= 0:
            raise CommerceError("bad_coupon", f"coupon {self.code}: a threshold coupon needs a minimum spend")
        if self.min_spend_cents < 0:
            raise CommerceError("bad_coupon", f"coupon {self.code}: minimum spend must not be negative")
        if self.per_customer_limit < 1:
            raise CommerceError("bad_coupon", f"coupon {self.code}: per-customer limit must be at least 1")
        if self.max_off_cents is not None and self.max_off_cents < 0:
            raise CommerceError("bad_coupon", f"coupon {self.code}: max off must not be negative")
        if self.valid_from > self.valid_to:
            raise CommerceError("bad_coupon", f"coupon {self.code}: valid_from {self.valid_from} is after valid_to {self.valid_to}")
        if self.categories is not None and not self.categories:
            raise CommerceError("bad_coupon", f"coupon {self.code}: an empty category restriction would match nothing")


@dataclass(frozen=True, slots=True)
class ReductionTier:
    """A store's 满减 tier: spend at least ``threshold_cents`` (non-flash, after member discount), get ``off_cents`` off."""

    threshold_cents: int
    off_cents: int

    def __post_init__(self) -> None:
        if not (0 < self.off_cents <= self.threshold_cents):
            raise CommerceError("bad_tier", f"a reduction tier needs 0 < off <= threshold, got {self.off_cents} off {self.threshold_cents}")


@dataclass(frozen=True, slots=True)
class FlashSale:
    """A flash price for one SKU in one store during [starts, ends), up to ``per_customer_limit`` units per customer."""

    store_id: str
    sku: str
    price_cents: int
    starts: float
    ends: float
    per_customer_limit: int = 1

    def __post_init__(self) -> None:
        if self.price_cents < 0:
            raise CommerceError("bad_flash_sale", f"flash price of {self.sku} must not be negative")
        if self.ends <= self.starts:
            raise CommerceError("bad_flash_sale", f"flash sale of {self.sku} must end after it starts")
        if self.per_customer_limit < 1:
            raise CommerceError("bad_flash_sale", f"flash sale of {self.sku}: per-customer limit must be at least 1")

    def active(self, now: float) -> bool:
        return self.starts <= now < self.ends


@dataclass(frozen=True, slots=True)
class MemberLevel:
    """A membership level reached at ``min_spend_cents`` of lifetime spend, with its discount on non-flash goods."""

    name: str
    min_spend_cents: int
    discount_bp: int

    def __post_init__(self) -> None:
        if self.min_spend_cents < 0 or not (0 <= self.discount_bp <= BP_PER_WHOLE):
            raise CommerceError("bad_member_level", f"level {self.name}: need min spend >= 0 and 0 <= discount <= 10000 bp")


@dataclass(frozen=True, slots=True)
class DeliveryFee:
    """Delivery fee: ``base_cents`` up to ``free_m`` metres, then ``per_km_cents`` per started km, plus a mode surcharge."""

    base_cents: int = 500
    free_m: float = 2000
    per_km_cents: int = 100
    scheduled_cents: int = 200
    timed_cents: int = 300

    def __post_init__(self) -> None:
        if min(self.base_cents, self.per_km_cents, self.scheduled_cents, self.timed_cents) < 0 or self.free_m < 0:
            raise CommerceError("bad_fee", "delivery fee parts must not be negative")

    def fee(self, distance_m: float, mode: str) -> int:
        """Cents for ``distance_m`` (store to door) in ``mode``; a started kilometre beyond ``free_m`` counts whole."""
        if not (distance_m >= 0):  # also rejects NaN
            raise CommerceError("bad_distance", f"distance must be a non-negative number of metres, got {distance_m!r}")
        try:
            m = DeliveryMode(mode)
        except ValueError:
            raise CommerceError("bad_mode", f"unknown delivery mode {mode!r}") from None
        extra_km = math.ceil(max(0.0, distance_m - self.free_m) / 1000)
        surcharge = {DeliveryMode.ASAP: 0, DeliveryMode.SCHEDULED: self.scheduled_cents, DeliveryMode.TIMED: self.timed_cents}[m]
        return self.base_cents + extra_km * self.per_km_cents + surcharge


# -- output ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PriceLine:
    """One step of the quote. Goods and delivery positive, discounts and points negative, notes zero."""

    code: str
    label: str
    amount_cents: int
    sku: str | None = None


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """The priced cart. ``total_cents == sum(line.amount_cents)``; ``coupon`` is the code only if it was applied."""

    lines: tuple[PriceLine, ...]
    goods_cents: int
    discount_cents: int
    points_used: int
    points_cents: int
    delivery_cents: int
    total_cents: int
    coupon: str | None
    flash_units: dict[str, int]


# Line codes, so callers need not match on labels.
GOODS, FLASH, MEMBER, REDUCTION, COUPON, NOT_STACKED, POINTS, DELIVERY = (
    "goods", "flash", "member", "reduction", "coupon", "not_stacked", "points", "delivery")
DISCOUNT_CODES = frozenset({MEMBER, REDUCTION, COUPON})


@dataclass(frozen=True, slots=True)
class _Priced:
    """One merged cart line after step 1: units at the store price and at the flash price."""

    sku: str
    unit_cents: int
    regular_units: int
    flash_units: int
    flash_unit_cents: int

    @property
    def regular_cents(self) -> int:
        return self.unit_cents * self.regular_units

    @property
    def flash_cents(self) -> int:
        return self.flash_unit_cents * self.flash_units


def _share(amount: int, part: int, whole: int) -> int:
    """``amount * part / whole`` rounded half-up: the slice of a cart-wide discount that falls on ``part``."""
    if whole <= 0 or part <= 0:
        return 0
    return (amount * part * 2 + whole) // (2 * whole)


def merge_lines(lines: Sequence[CartLine]) -> dict[str, int]:
    """Quantities per SKU in first-seen order; the same SKU twice is one line (flash limits are per SKU)."""
    merged: dict[str, int] = {}
    for line in lines:
        if not isinstance(line, CartLine):
            raise CommerceError("bad_line", f"expected a CartLine, got {line!r}")
        merged[line.sku] = merged.get(line.sku, 0) + line.qty
    return merged


def _unit_price(unit_price: Callable[[str], int], sku: str) -> int:
    try:
        cents = unit_price(sku)
    except CommerceError:
        raise
    except Exception as exc:  # the lookup's own error (KeyError, ...) means the store does not sell it
        raise CommerceError("unknown_sku", f"no price for {sku}: {exc!r}") from exc
    if isinstance(cents, bool) or not isinstance(cents, int) or cents < 0:
        raise CommerceError("bad_price", f"price of {sku} must be whole non-negative cents, got {cents!r}")
    return cents


def _best_flash(flash: Sequence[FlashSale], store_id: str, sku: str, now: float, unit_cents: int) -> FlashSale | None:
    """The cheapest flash sale live now for this SKU here, if it is cheaper than the store price."""
    live = [f for f in flash if f.store_id == store_id and f.sku == sku and f.active(now) and f.price_cents < unit_cents]
    return min(live, key=lambda f: f.price_cents, default=None)


def _best_tier(tiers: Sequence[ReductionTier], basis: int) -> ReductionTier | None:
    """The tier met by ``basis`` that takes most off (ties: the higher threshold)."""
    met = [t for t in tiers if t.threshold_cents <= basis]
    return max(met, key=lambda t: (t.off_cents, t.threshold_cents), default=None)


def _check_coupon(coupon: Coupon, store_id: str, now: float, coupon_uses: int) -> None:
    if coupon_uses < 0:
        raise CommerceError("bad_input", f"coupon uses must not be negative, got {coupon_uses}")
    if now < coupon.valid_from:
        raise CommerceError("coupon_not_yet_valid", f"coupon {coupon.code} is valid from {coupon.valid_from}, not at {now}")
    if now > coupon.valid_to:
        raise CommerceError("coupon_expired", f"coupon {coupon.code} expired at {coupon.valid_to}")
    if coupon.store_id is not None and coupon.store_id != store_id:
        raise CommerceError("coupon_wrong_store", f"coupon {coupon.code} is for store {coupon.store_id}, not {store_id}")
    if coupon_uses >= coupon.per_customer_limit:
        raise CommerceError("coupon_used_up", f"coupon {coupon.code} may be used {coupon.per_customer_limit} time(s) per customer; used {coupon_uses}")


def _coupon_off(coupon: Coupon, eligible: int) -> int:
    """Cents the coupon takes off ``eligible`` (its lines after the earlier steps); checks the minimum spend."""
    if eligible <= 0:
        raise CommerceError("coupon_not_applicable", f"coupon {coupon.code} applies to none of the goods in the cart")
    if eligible < coupon.min_spend_cents:
        raise CommerceError("coupon_min_spend", f"coupon {coupon.code} needs {yuan(coupon.min_spend_cents)} of eligible goods, "
                                                f"the cart has {yuan(eligible)}")
    off = pct(eligible, coupon.value) if coupon.kind == "percent" else coupon.value
    if coupon.max_off_cents is not None:
        off = min(off, coupon.max_off_cents)
    return min(off, eligible)


def price_cart(
    lines: Sequence[CartLine],
    *,
    store_id: str,
    unit_price: Callable[[str], int],
    category_of: Callable[[str], str],
    now: float,
    member: MemberLevel | None = None,
    coupon: Coupon | None = None,
    coupon_uses: int = 0,
    tiers: Sequence[ReductionTier] = (),
    flash: Sequence[FlashSale] = (),
    flash_bought: Mapping[str, int] = {},  # read only, never mutated
    points: int = 0,
    points_balance: int = 0,
    distance_m: float = 0.0,
    mode: str = "asap",
    fees: DeliveryFee = DeliveryFee(),  # frozen, so one shared default is safe
    category_matches: Callable[[str, frozenset[str]], bool] | None = None,
) -> PriceQuote:
    """Price a cart in one store at ``now``; the steps and their order are docs/pricing.md."""
    merged = merge_lines(lines)
    if not merged:
        raise CommerceError("empty_cart", "there is nothing in the cart to price")
    if points < 0 or points_balance < 0:
        raise CommerceError("bad_points", f"points and balance must not be negative, got {points} of {points_balance}")
    if any(v < 0 for v in flash_bought.values()):
        raise CommerceError("bad_input", "flash units already bought must not be negative")
    if coupon is not None:
        _check_coupon(coupon, store_id, now, coupon_uses)  # before any pricing: a bad coupon is the customer's first fix
    delivery = fees.fee(distance_m, mode)
    out: list[PriceLine] = []

    # 1. flash price for up to the per-customer limit (less what was already bought), the rest at the store price
    priced: list[_Priced] = []
    for sku, qty in merged.items():
        unit = _unit_price(unit_price, sku)
        sale = _best_flash(flash, store_id, sku, now, unit)
        allowance = 0 if sale is None else max(0, sale.per_customer_limit - flash_bought.get(sku, 0))
        n_flash = min(qty, allowance)
        p = _Priced(sku, unit, qty - n_flash, n_flash, sale.price_cents if sale and n_flash else 0)
        priced.append(p)
        if p.regular_units:
            out.append(PriceLine(GOODS, f"{sku} × {p.regular_units} @ {yuan(unit)}", p.regular_cents, sku))
        if p.flash_units:
            out.append(PriceLine(FLASH, f"{sku} × {p.flash_units} @ flash {yuan(p.flash_unit_cents)} (was {yuan(unit)})",
                                 p.flash_cents, sku))
    goods = sum(p.regular_cents + p.flash_cents for p in priced)
    regular = sum(p.regular_cents for p in priced)
    flash_units = {p.sku: p.flash_units for p in priced if p.flash_units}

    # 2. member discount on the non-flash goods
    member_off = pct(regular, member.discount_bp) if member is not None else 0
    if member is not None and member_off:
        out.append(PriceLine(MEMBER, f"{member.name} member {member.discount_bp / 100:g} % off non-flash goods", -member_off))

    # 3. the best reduction tier met by the non-flash goods after the member discount
    tier = _best_tier(tiers, regular - member_off)
    reduction_off = min(tier.off_cents, regular - member_off) if tier else 0

    # 4. one coupon on its eligible lines after steps 1-3 (without the tier when the two are alternatives)
    coupon_off = 0
    if coupon is not None:
        match = category_matches or (lambda cat, cats: cat in cats)
        if coupon.categories is None:
            mine = priced
        else:
            mine = [p for p in priced if match(_category(category_of, p.sku), coupon.categories)]
        mine_regular = sum(p.regular_cents for p in mine)
        earlier_off = member_off + (reduction_off if coupon.stacks_with_reductions else 0)
        eligible = sum(p.flash_cents for p in mine) + mine_regular - _share(earlier_off, mine_regular, regular)
        coupon_off = _coupon_off(coupon, eligible)
    applied_coupon = coupon
    note: PriceLine | None = None
    if coupon is not None and reduction_off and not coupon.stacks_with_reductions:
        if coupon_off > reduction_off:  # the larger of the two; a tie keeps the tier and leaves the coupon unused
            note = PriceLine(NOT_STACKED, f"coupon {coupon.code} ({yuan(coupon_off)}) does not stack with "
                                          f"满减 ({yuan(reduction_off)}): the coupon applies", 0)
            reduction_off = 0
        else:
            note = PriceLine(NOT_STACKED, f"coupon {coupon.code} ({yuan(coupon_off)}) does not stack with "
                                          f"满减 ({yuan(reduction_off)}): the reduction applies, the coupon is not used", 0)
            applied_coupon, coupon_off = None, 0
    if reduction_off:
        assert tier is not None
        out.append(PriceLine(REDUCTION, f"满减: spend {yuan(tier.threshold_cents)}, {yuan(tier.off_cents)} off", -reduction_off))
    if applied_coupon is not None:
        out.append(PriceLine(COUPON, f"coupon {applied_coupon.code}", -coupon_off))
    if note is not None:
        out.append(note)
    discount = member_off + reduction_off + coupon_off

    # 5. points: whole 100-point units, at most the balance and half of the goods after discounts
    after = goods - discount
    cap_points = int(after * MAX_POINTS_SHARE) // CENTS_PER_YUAN * POINTS_PER_YUAN_REDEEM
    points_used = min(points, points_balance, cap_points) // POINTS_PER_YUAN_REDEEM * POINTS_PER_YUAN_REDEEM
    points_cents = points_used // POINTS_PER_YUAN_REDEEM * CENTS_PER_YUAN
    if points_used:
        out.append(PriceLine(POINTS, f"{points_used} points", -points_cents))

    # 6. delivery, never discounted
    out.append(PriceLine(DELIVERY, f"delivery {distance_m / 1000:.1f} km, {DeliveryMode(mode)}", delivery))
    total = after - points_cents + delivery
    assert total == sum(line.amount_cents for line in out) and total >= delivery
    return PriceQuote(tuple(out), goods, discount, points_used, points_cents, delivery, total,
                      applied_coupon.code if applied_coupon else None, flash_units)


def _category(category_of: Callable[[str], str], sku: str) -> str:
    try:
        return category_of(sku)
    except CommerceError:
        raise
    except Exception as exc:
        raise CommerceError("unknown_sku", f"no category for {sku}: {exc!r}") from exc
