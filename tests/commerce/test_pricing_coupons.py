"""Pricing step 4: one coupon (fixed, percent, threshold, category-restricted), its checks, and 满减 vs coupon.

Prices (pricing_fixtures): apple 1250 (fruit < food), milk 899 (dairy < food), coffee 1000, tea 333
(drinks < beverages), wine 8800 (alcohol < beverages). Delivery 500. Tiers 满30减3 / 满50减8 / 满100减20.
"""
from __future__ import annotations

from typing import Any

import pytest
from pricing_fixtures import APPLE_FLASH, GOLD, TIERS, amounts, in_tree, quote

from commerce.errors import CommerceError
from commerce.pricing import Coupon

D = 500
DAIRY = Coupon("DAIRY3", "threshold", 300, min_spend_cents=2000, categories=frozenset({"dairy"}))  # 满20减3 on dairy

CASES = [
    # -- kinds ---------------------------------------------------------------------------------
    pytest.param(
        {"apple": 2, "milk": 1}, {"coupon": Coupon("F5", "fixed", 500)},
        # 3399 - 500 + 500 = 3399
        [("goods", 2500), ("goods", 899), ("coupon", -500), ("delivery", D)], 3399, "F5", id="fixed"),
    pytest.param(
        {"tea": 1}, {"coupon": Coupon("F50", "fixed", 5000)},
        # ¥50 off ¥3.33 of goods: only 333 taken; 0 + 500 = 500
        [("goods", 333), ("coupon", -333), ("delivery", D)], 500, "F50", id="fixed-capped-at-goods"),
    pytest.param(
        {"apple": 2, "milk": 1}, {"coupon": Coupon("F5MIN", "fixed", 500, min_spend_cents=3399)},
        # min spend 3399 met exactly: 3399 - 500 + 500 = 3399
        [("goods", 2500), ("goods", 899), ("coupon", -500), ("delivery", D)], 3399, "F5MIN", id="fixed-min-spend-exact"),
    pytest.param(
        {"apple": 2, "milk": 1}, {"coupon": Coupon("P15", "percent", 1500)},
        # 15 % of 3399 = 509.85 -> 510; 3399 - 510 + 500 = 3389
        [("goods", 2500), ("goods", 899), ("coupon", -510), ("delivery", D)], 3389, "P15", id="percent"),
    pytest.param(
        {"apple": 2, "milk": 1}, {"coupon": Coupon("P15C", "percent", 1500, max_off_cents=300)},
        # 510 capped at 300; 3399 - 300 + 500 = 3599
        [("goods", 2500), ("goods", 899), ("coupon", -300), ("delivery", D)], 3599, "P15C", id="percent-max-off"),
    pytest.param(
        {"apple": 1}, {"coupon": Coupon("P15", "percent", 1500)},
        # 15 % of 1250 = 187.5 -> 188 (half-up); 1250 - 188 + 500 = 1562
        [("goods", 1250), ("coupon", -188), ("delivery", D)], 1562, "P15", id="percent-rounds-half-up"),
    pytest.param(
        {"apple": 1}, {"coupon": Coupon("P15", "percent", 1500, max_off_cents=188)},
        # the cap equal to the amount changes nothing: 1562
        [("goods", 1250), ("coupon", -188), ("delivery", D)], 1562, "P15", id="percent-cap-equal"),
    pytest.param(
        {"tea": 2}, {"coupon": Coupon("FREE", "percent", 10000)},
        # 100 %: 666 off; goods 0, total = delivery 500
        [("goods", 666), ("coupon", -666), ("delivery", D)], 500, "FREE", id="percent-100"),
    pytest.param(
        {"coffee": 5}, {"coupon": Coupon("T8", "threshold", 800, min_spend_cents=5000)},
        # 5000 >= 5000: -800; 5000 - 800 + 500 = 4700
        [("goods", 5000), ("coupon", -800), ("delivery", D)], 4700, "T8", id="threshold-exactly-met"),
    pytest.param(
        {"apple": 2}, {"coupon": Coupon("P15", "percent", 1500), "flash": [APPLE_FLASH]},
        # coupons do apply to flash lines, at the flash price: 15 % of 1998 = 299.7 -> 300; 1998 - 300 + 500 = 2198
        [("flash", 1998), ("coupon", -300), ("delivery", D)], 2198, "P15", id="percent-on-flash-price"),
    pytest.param(
        {"apple": 2, "milk": 1}, {"coupon": Coupon("P10", "percent", 1000), "member": GOLD},
        # member 170 (5 % of 3399 = 169.95); coupon on 3399 - 170 = 3229: 322.9 -> 323
        # 3399 - 170 - 323 + 500 = 3406
        [("goods", 2500), ("goods", 899), ("member", -170), ("coupon", -323), ("delivery", D)], 3406, "P10",
        id="percent-after-member"),
    # -- category-restricted -------------------------------------------------------------------
    pytest.param(
        {"milk": 3, "coffee": 1}, {"coupon": DAIRY},
        # dairy lines 2697 >= 2000: -300; 3697 - 300 + 500 = 3897
        [("goods", 2697), ("goods", 1000), ("coupon", -300), ("delivery", D)], 3897, "DAIRY3", id="category-threshold-met"),
    pytest.param(
        {"apple": 2, "milk": 1}, {"coupon": Coupon("FRUIT20", "percent", 2000, categories=frozenset({"fruit"}))},
        # 20 % of the fruit only: 2500 -> 500; 3399 - 500 + 500 = 3399
        [("goods", 2500), ("goods", 899), ("coupon", -500), ("delivery", D)], 3399, "FRUIT20", id="category-percent"),
    pytest.param(
        {"apple": 2, "milk": 1},
        {"coupon": Coupon("FRUIT20", "percent", 2000, categories=frozenset({"fruit"})), "member": GOLD},
        # member 170 on 3399; fruit's share 170 × 2500 / 3399 = 125.04 -> 125; eligible 2375; 20 % = 475
        # 3399 - 170 - 475 + 500 = 3254
        [("goods", 2500), ("goods", 899), ("member", -170), ("coupon", -475), ("delivery", D)], 3254, "FRUIT20",
        id="category-percent-after-member-share"),
    pytest.param(
        {"apple": 1, "wine": 1},
        {"coupon": Coupon("FOOD10", "percent", 1000, categories=frozenset({"food"})), "category_matches": in_tree},
        # fruit is under food, alcohol is not: 10 % of 1250 = 125; 10050 - 125 + 500 = 10425
        [("goods", 1250), ("goods", 8800), ("coupon", -125), ("delivery", D)], 10425, "FOOD10", id="category-descendants"),
    pytest.param(
        {"apple": 1, "coffee": 1}, {"coupon": Coupon("FOOD10", "percent", 1000, categories=frozenset({"food"}))},
        # without category_matches the match is exact: "fruit" != "food" -> nothing eligible
        None, "coupon_not_applicable", None, id="category-exact-by-default"),
    # -- not usable: CommerceError codes -------------------------------------------------------
    pytest.param(
        {"milk": 2, "coffee": 3}, {"coupon": DAIRY},
        # cart 4798, but dairy only 1798 < 2000
        None, "coupon_min_spend", None, id="category-threshold-counts-only-its-lines"),
    pytest.param(
        {"coffee": 4, "tea": 3}, {"coupon": Coupon("T8", "threshold", 800, min_spend_cents=5000)},
        # 4999 < 5000
        None, "coupon_min_spend", None, id="threshold-just-below"),
    pytest.param(
        {"coffee": 3}, {"coupon": DAIRY},
        # no dairy at all
        None, "coupon_not_applicable", None, id="category-no-lines"),
    pytest.param({"apple": 1}, {"coupon": Coupon("W", "fixed", 100, valid_from=150)},
                 None, "coupon_not_yet_valid", None, id="before-valid-from"),
    pytest.param({"apple": 1}, {"coupon": Coupon("W", "fixed", 100, valid_from=0, valid_to=99.5)},
                 None, "coupon_expired", None, id="after-valid-to"),
    pytest.param({"apple": 1}, {"coupon": Coupon("W", "fixed", 100, valid_from=100, valid_to=200)},
                 # valid_from inclusive: 1250 - 100 + 500
                 [("goods", 1250), ("coupon", -100), ("delivery", D)], 1650, "W", id="at-valid-from"),
    pytest.param({"apple": 1}, {"coupon": Coupon("W", "fixed", 100, valid_from=0, valid_to=100)},
                 # valid_to inclusive: 1650
                 [("goods", 1250), ("coupon", -100), ("delivery", D)], 1650, "W", id="at-valid-to"),
    pytest.param({"apple": 1}, {"coupon": Coupon("S2", "fixed", 100, store_id="s2")},
                 None, "coupon_wrong_store", None, id="wrong-store"),
    pytest.param({"apple": 1}, {"coupon": Coupon("S1", "fixed", 100, store_id="s1")},
                 [("goods", 1250), ("coupon", -100), ("delivery", D)], 1650, "S1", id="right-store"),
    pytest.param({"apple": 1}, {"coupon": Coupon("ONCE", "fixed", 100), "coupon_uses": 1},
                 None, "coupon_used_up", None, id="limit-1-used"),
    pytest.param({"apple": 1}, {"coupon": Coupon("TWICE", "fixed", 100, per_customer_limit=2), "coupon_uses": 1},
                 # second of two: 1650
                 [("goods", 1250), ("coupon", -100), ("delivery", D)], 1650, "TWICE", id="limit-2-used-once"),
    pytest.param({"apple": 1}, {"coupon": Coupon("TWICE", "fixed", 100, per_customer_limit=2), "coupon_uses": 2},
                 None, "coupon_used_up", None, id="limit-2-used-twice"),
    # -- coupon vs reduction tier --------------------------------------------------------------
    pytest.param(
        {"coffee": 5}, {"tiers": TIERS, "coupon": Coupon("F5", "fixed", 500)},
        # tier 800 > coupon 500, no stacking: the tier applies, the coupon is not used; 5000 - 800 + 500 = 4700
        [("goods", 5000), ("reduction", -800), ("not_stacked", 0), ("delivery", D)], 4700, None, id="tier-beats-coupon"),
    pytest.param(
        {"coffee": 5}, {"tiers": TIERS, "coupon": Coupon("F10", "fixed", 1000)},
        # coupon 1000 > tier 800: the coupon applies instead; 5000 - 1000 + 500 = 4500
        [("goods", 5000), ("coupon", -1000), ("not_stacked", 0), ("delivery", D)], 4500, "F10", id="coupon-beats-tier"),
    pytest.param(
        {"coffee": 5}, {"tiers": TIERS, "coupon": Coupon("F8", "fixed", 800)},
        # a tie keeps the tier and leaves the coupon for another order: 4700
        [("goods", 5000), ("reduction", -800), ("not_stacked", 0), ("delivery", D)], 4700, None, id="tie-keeps-tier"),
    pytest.param(
        {"coffee": 5}, {"tiers": TIERS, "coupon": Coupon("T10", "threshold", 1000, min_spend_cents=4500)},
        # as alternatives the coupon's threshold sees 5000 (no tier taken): 1000 > 800; 4500
        [("goods", 5000), ("coupon", -1000), ("not_stacked", 0), ("delivery", D)], 4500, "T10",
        id="threshold-coupon-instead-of-tier"),
    pytest.param(
        {"coffee": 5}, {"tiers": TIERS, "coupon": Coupon("S5", "fixed", 500, stacks_with_reductions=True)},
        # stacking: both; 5000 - 800 - 500 + 500 = 4200
        [("goods", 5000), ("reduction", -800), ("coupon", -500), ("delivery", D)], 4200, "S5", id="stacks-fixed"),
    pytest.param(
        {"coffee": 5}, {"tiers": TIERS, "coupon": Coupon("SP10", "percent", 1000, stacks_with_reductions=True)},
        # stacking: coupon on 5000 - 800 = 4200 -> 420; 5000 - 800 - 420 + 500 = 4280
        [("goods", 5000), ("reduction", -800), ("coupon", -420), ("delivery", D)], 4280, "SP10", id="stacks-percent-after-tier"),
    pytest.param(
        {"coffee": 5},
        {"tiers": TIERS, "coupon": Coupon("ST5", "threshold", 500, min_spend_cents=4500, stacks_with_reductions=True)},
        # stacking: the threshold sees 5000 - 800 = 4200 < 4500
        None, "coupon_min_spend", None, id="stacks-threshold-after-tier"),
    pytest.param(
        {"coffee": 2}, {"tiers": TIERS, "coupon": Coupon("F5", "fixed", 500)},
        # no tier met (2000): nothing to compare, the coupon applies, no note; 2000 - 500 + 500 = 2000
        [("goods", 2000), ("coupon", -500), ("delivery", D)], 2000, "F5", id="no-tier-met-coupon-alone"),
]


@pytest.mark.parametrize(("items", "kw", "lines", "total", "applied"), CASES)
def test_coupon_table(items: dict[str, int], kw: dict[str, Any], lines: list[tuple[str, int]] | None,
                      total: int | str, applied: str | None) -> None:
    if lines is None:  # an error row: ``total`` holds the code
        with pytest.raises(CommerceError) as err:
            quote(items, **kw)
        assert err.value.code == total
        assert err.value.detail
        return
    q = quote(items, **kw)
    assert amounts(q) == lines
    assert q.total_cents == total == sum(a for _, a in lines)
    assert q.coupon == applied


def test_not_stacked_note_says_which_applied() -> None:
    tier_wins = quote({"coffee": 5}, tiers=TIERS, coupon=Coupon("F5", "fixed", 500))
    coupon_wins = quote({"coffee": 5}, tiers=TIERS, coupon=Coupon("F10", "fixed", 1000))
    (note1,) = [line for line in tier_wins.lines if line.code == "not_stacked"]
    (note2,) = [line for line in coupon_wins.lines if line.code == "not_stacked"]
    assert "reduction applies" in note1.label and "F5" in note1.label
    assert "coupon applies" in note2.label and "F10" in note2.label
    assert tier_wins.discount_cents == 800 and coupon_wins.discount_cents == 1000


def test_an_invalid_coupon_is_reported_even_when_a_tier_would_win() -> None:
    with pytest.raises(CommerceError) as err:
        quote({"coffee": 5}, tiers=TIERS, coupon=Coupon("OLD", "fixed", 100, valid_to=50))
    assert err.value.code == "coupon_expired"


@pytest.mark.parametrize(("kw", "code"), [
    ({"code": "", "kind": "fixed", "value": 100}, "bad_coupon"),
    ({"code": "X", "kind": "bogus", "value": 100}, "bad_coupon"),
    ({"code": "X", "kind": "fixed", "value": 0}, "bad_coupon"),
    ({"code": "X", "kind": "percent", "value": 10001}, "bad_coupon"),
    ({"code": "X", "kind": "threshold", "value": 100}, "bad_coupon"),  # a threshold coupon without a threshold
    ({"code": "X", "kind": "fixed", "value": 100, "min_spend_cents": -1}, "bad_coupon"),
    ({"code": "X", "kind": "fixed", "value": 100, "per_customer_limit": 0}, "bad_coupon"),
    ({"code": "X", "kind": "percent", "value": 100, "max_off_cents": -1}, "bad_coupon"),
    ({"code": "X", "kind": "fixed", "value": 100, "valid_from": 10, "valid_to": 5}, "bad_coupon"),
    ({"code": "X", "kind": "fixed", "value": 100, "categories": frozenset()}, "bad_coupon"),
])
def test_bad_coupon_definitions(kw: dict[str, Any], code: str) -> None:
    with pytest.raises(CommerceError) as err:
        Coupon(**kw)
    assert err.value.code == code


def test_negative_coupon_uses() -> None:
    with pytest.raises(CommerceError) as err:
        quote({"apple": 1}, coupon=Coupon("F5", "fixed", 500), coupon_uses=-1)
    assert err.value.code == "bad_input"
