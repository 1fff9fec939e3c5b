"""Pricing steps 1-3 and 6 (goods, flash, member, 满减 tiers, delivery) and all six stacked, hand-computed.

Prices (pricing_fixtures): apple 1250 (fruit), milk 899 (dairy), coffee 1000, tea 333 (drinks), cent 1.
Delivery is 500 (0 m, asap) unless a row says otherwise.
"""
from __future__ import annotations

from typing import Any

import pytest
from pricing_fixtures import APPLE_FLASH, CATEGORY, GOLD, PRICES, TIERS, amounts, quote

from commerce.pricing import CartLine, Coupon, FlashSale, MemberLevel, ReductionTier, price_cart

D = 500  # default delivery fee

CASES = [
    # -- plain carts ---------------------------------------------------------------------------
    pytest.param(
        {"apple": 2, "milk": 1}, {},
        # 2 × 1250 = 2500; 1 × 899; goods 3399; + 500 = 3899
        [("goods", 2500), ("goods", 899), ("delivery", D)], 3899, id="plain-cart"),
    pytest.param(
        {"tea": 3}, {},
        # 3 × 333 = 999; + 500 = 1499
        [("goods", 999), ("delivery", D)], 1499, id="plain-single-line"),
    # -- step 1: flash price -------------------------------------------------------------------
    pytest.param(
        {"apple": 2}, {"flash": [APPLE_FLASH]},
        # limit 2, both at 999: 1998; + 500 = 2498
        [("flash", 1998), ("delivery", D)], 2498, id="flash-within-limit"),
    pytest.param(
        {"apple": 3}, {"flash": [APPLE_FLASH]},
        # 2 at 999 = 1998, the third at 1250; 3248 + 500 = 3748
        [("goods", 1250), ("flash", 1998), ("delivery", D)], 3748, id="flash-over-limit"),
    pytest.param(
        {"apple": 3}, {"flash": [APPLE_FLASH], "flash_bought": {"apple": 1}},
        # 1 of the limit left: 999; 2 × 1250 = 2500; 3499 + 500 = 3999
        [("goods", 2500), ("flash", 999), ("delivery", D)], 3999, id="flash-partly-bought"),
    pytest.param(
        {"apple": 2}, {"flash": [APPLE_FLASH], "flash_bought": {"apple": 2}},
        # limit used up: 2 × 1250 = 2500; + 500 = 3000
        [("goods", 2500), ("delivery", D)], 3000, id="flash-limit-used-up"),
    pytest.param(
        {"apple": 2}, {"flash": [APPLE_FLASH], "now": 200},
        # the sale is [0, 200): at 200 it is over; 2500 + 500 = 3000
        [("goods", 2500), ("delivery", D)], 3000, id="flash-at-its-end"),
    pytest.param(
        {"apple": 2}, {"flash": [FlashSale("s1", "apple", 999, starts=150, ends=200)]},
        # not started at 100; 2500 + 500 = 3000
        [("goods", 2500), ("delivery", D)], 3000, id="flash-before-its-start"),
    pytest.param(
        {"apple": 1}, {"flash": [APPLE_FLASH], "now": 0},
        # starts at 0 inclusive: 999 + 500 = 1499
        [("flash", 999), ("delivery", D)], 1499, id="flash-at-its-start"),
    pytest.param(
        {"apple": 2}, {"flash": [FlashSale("s2", "apple", 999, 0, 200)]},
        # another store's sale: 2500 + 500 = 3000
        [("goods", 2500), ("delivery", D)], 3000, id="flash-other-store"),
    pytest.param(
        {"apple": 2}, {"flash": [FlashSale("s1", "apple", 1300, 0, 200)]},
        # a "flash" price above the store price is ignored: 2500 + 500 = 3000
        [("goods", 2500), ("delivery", D)], 3000, id="flash-not-cheaper"),
    pytest.param(
        {"apple": 2}, {"flash": [FlashSale("s1", "apple", 999, 0, 200), FlashSale("s1", "apple", 899, 0, 200)]},
        # the cheaper live sale (899, limit 1); the other unit 1250; 2149 + 500 = 2649
        [("goods", 1250), ("flash", 899), ("delivery", D)], 2649, id="flash-cheapest-sale"),
    # -- step 2: member discount ---------------------------------------------------------------
    pytest.param(
        {"apple": 2, "milk": 1}, {"member": GOLD},
        # 5 % of 3399 = 169.95 -> 170; 3399 - 170 + 500 = 3729
        [("goods", 2500), ("goods", 899), ("member", -170), ("delivery", D)], 3729, id="member-discount"),
    pytest.param(
        {"apple": 3, "milk": 1}, {"member": GOLD, "flash": [APPLE_FLASH]},
        # non-flash = 1250 + 899 = 2149; 5 % = 107.45 -> 107; flash 1998 untouched
        # 1250 + 1998 + 899 = 4147 - 107 + 500 = 4540
        [("goods", 1250), ("flash", 1998), ("goods", 899), ("member", -107), ("delivery", D)], 4540,
        id="member-not-on-flash-lines"),
    pytest.param(
        {"apple": 2}, {"member": GOLD, "flash": [APPLE_FLASH]},
        # all flash: no member line; 1998 + 500 = 2498
        [("flash", 1998), ("delivery", D)], 2498, id="member-all-flash"),
    pytest.param(
        {"apple": 1}, {"member": GOLD},
        # 5 % of 1250 = 62.5 -> 63 (half-up, not banker's 62); 1250 - 63 + 500 = 1687
        [("goods", 1250), ("member", -63), ("delivery", D)], 1687, id="member-rounds-half-up"),
    pytest.param(
        {"apple": 1}, {"member": MemberLevel("regular", 0, 0)},
        # 0 bp: no line; 1250 + 500 = 1750
        [("goods", 1250), ("delivery", D)], 1750, id="member-zero-discount"),
    # -- step 3: reduction tiers 满30减3 / 满50减8 / 满100减20 ------------------------------------
    pytest.param(
        {"coffee": 2, "tea": 3}, {"tiers": TIERS},
        # 2000 + 999 = 2999 < 3000: no tier; + 500 = 3499
        [("goods", 2000), ("goods", 999), ("delivery", D)], 3499, id="tier-just-below-3000"),
    pytest.param(
        {"coffee": 3}, {"tiers": TIERS},
        # 3000 >= 3000: -300; 3000 - 300 + 500 = 3200
        [("goods", 3000), ("reduction", -300), ("delivery", D)], 3200, id="tier-exactly-3000"),
    pytest.param(
        {"coffee": 3, "cent": 1}, {"tiers": TIERS},
        # 3001: -300; 3001 - 300 + 500 = 3201
        [("goods", 3000), ("goods", 1), ("reduction", -300), ("delivery", D)], 3201, id="tier-just-above-3000"),
    pytest.param(
        {"coffee": 4, "tea": 3}, {"tiers": TIERS},
        # 4000 + 999 = 4999: only 满30 met, -300; 4999 - 300 + 500 = 5199
        [("goods", 4000), ("goods", 999), ("reduction", -300), ("delivery", D)], 5199, id="tier-just-below-5000"),
    pytest.param(
        {"coffee": 5}, {"tiers": TIERS},
        # 5000: 满50 -800 beats 满30; 5000 - 800 + 500 = 4700
        [("goods", 5000), ("reduction", -800), ("delivery", D)], 4700, id="tier-exactly-5000"),
    pytest.param(
        {"coffee": 12}, {"tiers": TIERS},
        # 12000 meets all three: the highest, -2000; 12000 - 2000 + 500 = 10500
        [("goods", 12000), ("reduction", -2000), ("delivery", D)], 10500, id="tier-highest-wins"),
    pytest.param(
        {"coffee": 12}, {"tiers": tuple(reversed(TIERS))},
        # order of the tiers does not matter: as above, 10500
        [("goods", 12000), ("reduction", -2000), ("delivery", D)], 10500, id="tier-order-irrelevant"),
    pytest.param(
        {"coffee": 3}, {"tiers": TIERS, "member": GOLD},
        # member 5 % of 3000 = 150 first; 2850 < 3000: no tier; 3000 - 150 + 500 = 3350
        [("goods", 3000), ("member", -150), ("delivery", D)], 3350, id="tier-after-member-discount"),
    pytest.param(
        {"apple": 2, "coffee": 2}, {"tiers": TIERS, "flash": [APPLE_FLASH]},
        # goods 1998 + 2000 = 3998 but the tier sees only non-flash 2000: none; 3998 + 500 = 4498
        [("flash", 1998), ("goods", 2000), ("delivery", D)], 4498, id="tier-ignores-flash-lines"),
    # -- everything at once (the docs/pricing.md example) ---------------------------------------
    pytest.param(
        {"apple": 3, "coffee": 6},
        {"flash": [APPLE_FLASH], "member": GOLD, "tiers": TIERS,
         "coupon": Coupon("SP10", "percent", 1000, max_off_cents=1000, stacks_with_reductions=True),
         "points": 10_000, "points_balance": 5000, "distance_m": 3500, "mode": "scheduled"},
        # 1 flash: apple 1 × 1250, 2 × 999 = 1998; coffee 6000; goods 9248, non-flash 7250
        # 2 member: 5 % of 7250 = 362.5 -> 363; non-flash left 6887
        # 3 tier: 6887 meets 满50 (not 满100): -800
        # 4 coupon (stacks): eligible 9248 - 363 - 800 = 8085; 10 % = 808.5 -> 809 (cap 1000 not hit)
        #   goods after discounts 9248 - 1972 = 7276
        # 5 points: half of 7276 = 3638 -> 36 whole yuan = 3600 points; min(10000, 5000, 3600) = 3600 -> -3600
        # 6 delivery 3500 m scheduled: 500 + 2 started km × 100 + 200 = 900
        # total 7276 - 3600 + 900 = 4576
        [("goods", 1250), ("flash", 1998), ("goods", 6000), ("member", -363), ("reduction", -800),
         ("coupon", -809), ("points", -3600), ("delivery", 900)], 4576, id="all-six-steps-stacked"),
    pytest.param(
        {"apple": 3, "coffee": 6},
        {"flash": [APPLE_FLASH], "member": GOLD, "tiers": TIERS, "coupon": Coupon("F10", "fixed", 1000),
         "points": 10_000, "points_balance": 5000, "distance_m": 3500, "mode": "scheduled"},
        # as above to step 3 (goods 9248, member -363, tier -800). The coupon does not stack:
        # 1000 off (eligible 9248 - 363 = 8885) > 800, so the coupon replaces the tier.
        # after = 9248 - 363 - 1000 = 7885; half 3942 -> 3900 points; min(10000, 5000, 3900) = 3900
        # total 7885 - 3900 + 900 = 4885
        [("goods", 1250), ("flash", 1998), ("goods", 6000), ("member", -363), ("coupon", -1000),
         ("not_stacked", 0), ("points", -3900), ("delivery", 900)], 4885, id="all-steps-coupon-replaces-tier"),
]


@pytest.mark.parametrize(("items", "kw", "lines", "total"), CASES)
def test_pricing_table(items: dict[str, int], kw: dict[str, Any], lines: list[tuple[str, int]], total: int) -> None:
    q = quote(items, **kw)
    assert amounts(q) == lines
    assert q.total_cents == total
    assert q.total_cents == sum(a for _, a in lines)


def test_quote_fields_of_the_stacked_example() -> None:
    q = quote({"apple": 3, "coffee": 6}, flash=[APPLE_FLASH], member=GOLD, tiers=TIERS,
              coupon=Coupon("SP10", "percent", 1000, max_off_cents=1000, stacks_with_reductions=True),
              points=10_000, points_balance=5000, distance_m=3500, mode="scheduled")
    # hand totals from the table row above
    assert (q.goods_cents, q.discount_cents, q.points_used, q.points_cents, q.delivery_cents, q.total_cents) == (
        9248, 1972, 3600, 3600, 900, 4576)
    assert q.coupon == "SP10"
    assert q.flash_units == {"apple": 2}
    assert [line.sku for line in q.lines if line.code in ("goods", "flash")] == ["apple", "apple", "coffee"]


def test_flash_units_are_reported_per_sku() -> None:
    q = quote({"apple": 3, "milk": 1}, flash=[APPLE_FLASH], flash_bought={"apple": 1})
    assert q.flash_units == {"apple": 1}  # limit 2, one bought before
    assert quote({"apple": 3}).flash_units == {}


def test_same_sku_twice_is_one_line() -> None:
    q = price_cart([CartLine("apple", 1), CartLine("apple", 2)], store_id="s1", unit_price=PRICES.__getitem__,
                   category_of=CATEGORY.__getitem__, now=100, flash=[APPLE_FLASH])
    # as apple × 3 with the limit of 2: 1250 + 1998 + 500 = 3748
    assert amounts(q) == [("goods", 1250), ("flash", 1998), ("delivery", 500)]


def test_tier_with_a_single_tier_list_and_none_met() -> None:
    # 满200减50 with a cart of 1250: no line, 1250 + 500
    q = quote({"apple": 1}, tiers=[ReductionTier(20000, 5000)])
    assert amounts(q) == [("goods", 1250), ("delivery", 500)]
