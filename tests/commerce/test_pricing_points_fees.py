"""Pricing steps 5 and 6: points (half the goods, the balance, whole 100-point units) and the delivery fee.

Prices (pricing_fixtures): apple 1250, milk 899, coffee 1000, tea 333, cent 1. 100 points = ¥1 = 100 cents.
"""
from __future__ import annotations

from typing import Any

import pytest
from pricing_fixtures import amounts, quote

from commerce.errors import CommerceError
from commerce.pricing import Coupon, DeliveryFee
from dispatch.modes import DeliveryMode

D = 500

POINT_CASES = [
    pytest.param(
        {"apple": 2, "milk": 1}, {"points": 1000, "points_balance": 5000},
        # goods 3399; cap half = 1699 -> 16 yuan = 1600 points; min(1000, 5000, 1600) = 1000 -> -1000
        # 3399 - 1000 + 500 = 2899
        [("goods", 2500), ("goods", 899), ("points", -1000), ("delivery", D)], 2899, 1000, id="points-under-every-cap"),
    pytest.param(
        {"apple": 2, "milk": 1}, {"points": 5000, "points_balance": 5000},
        # capped at half the goods: 1600; 3399 - 1600 + 500 = 2299
        [("goods", 2500), ("goods", 899), ("points", -1600), ("delivery", D)], 2299, 1600, id="points-capped-at-half"),
    pytest.param(
        {"apple": 2, "milk": 1}, {"points": 1000, "points_balance": 700},
        # capped at the balance 700; 3399 - 700 + 500 = 3199
        [("goods", 2500), ("goods", 899), ("points", -700), ("delivery", D)], 3199, 700, id="points-capped-at-balance"),
    pytest.param(
        {"apple": 2, "milk": 1}, {"points": 1050, "points_balance": 5000},
        # whole 100-point units: 1050 -> 1000; 2899
        [("goods", 2500), ("goods", 899), ("points", -1000), ("delivery", D)], 2899, 1000, id="points-whole-units"),
    pytest.param(
        {"apple": 2, "milk": 1}, {"points": 5000, "points_balance": 1250},
        # balance 1250 -> 1200 (whole units); 3399 - 1200 + 500 = 2699
        [("goods", 2500), ("goods", 899), ("points", -1200), ("delivery", D)], 2699, 1200, id="points-balance-whole-units"),
    pytest.param(
        {"apple": 2, "milk": 1}, {"points": 99, "points_balance": 5000},
        # under one unit: nothing used, no line; 3899
        [("goods", 2500), ("goods", 899), ("delivery", D)], 3899, 0, id="points-under-one-unit"),
    pytest.param(
        {"apple": 2, "milk": 1}, {"points": 1000, "points_balance": 0},
        # no balance: nothing; 3899
        [("goods", 2500), ("goods", 899), ("delivery", D)], 3899, 0, id="points-no-balance"),
    pytest.param(
        {"cent": 200}, {"points": 5000, "points_balance": 5000},
        # goods 200: half = 100 cents = exactly 100 points; 200 - 100 + 500 = 600
        [("goods", 200), ("points", -100), ("delivery", D)], 600, 100, id="points-exactly-half"),
    pytest.param(
        {"cent": 199}, {"points": 5000, "points_balance": 5000},
        # goods 199: half = 99 cents, under one yuan: none; 199 + 500 = 699
        [("goods", 199), ("delivery", D)], 699, 0, id="points-half-under-one-yuan"),
    pytest.param(
        {"tea": 1}, {"points": 5000, "points_balance": 5000},
        # goods 333: half 166 -> 1 yuan = 100 points; 333 - 100 + 500 = 733
        [("goods", 333), ("points", -100), ("delivery", D)], 733, 100, id="points-small-cart"),
    pytest.param(
        {"tea": 1}, {"points": 5000, "points_balance": 5000, "coupon": Coupon("F50", "fixed", 5000)},
        # the coupon leaves 0 goods: no points can be used, total = delivery 500
        [("goods", 333), ("coupon", -333), ("delivery", D)], 500, 0, id="points-never-below-zero-goods"),
    pytest.param(
        {"coffee": 5}, {"points": 5000, "points_balance": 5000, "coupon": Coupon("F10", "fixed", 1000)},
        # half of goods after discounts: (5000 - 1000) / 2 = 2000 points; 5000 - 1000 - 2000 + 500 = 2500
        [("goods", 5000), ("coupon", -1000), ("points", -2000), ("delivery", D)], 2500, 2000, id="points-after-discounts"),
    pytest.param(
        {"coffee": 5}, {"points": 5000, "points_balance": 5000, "distance_m": 10_000, "mode": "timed"},
        # delivery does not raise the points cap: half of 5000 = 2500; fee 500 + 8 km × 100 + 300 = 1600
        # 5000 - 2500 + 1600 = 4100
        [("goods", 5000), ("points", -2500), ("delivery", 1600)], 4100, 2500, id="points-ignore-delivery"),
]


@pytest.mark.parametrize(("items", "kw", "lines", "total", "used"), POINT_CASES)
def test_points_table(items: dict[str, int], kw: dict[str, Any], lines: list[tuple[str, int]], total: int, used: int) -> None:
    q = quote(items, **kw)
    assert amounts(q) == lines
    assert q.total_cents == total == sum(a for _, a in lines)
    assert q.points_used == used and q.points_cents == used  # 100 points = 100 cents


@pytest.mark.parametrize(("points", "balance"), [(-100, 1000), (100, -1)])
def test_negative_points_are_refused(points: int, balance: int) -> None:
    with pytest.raises(CommerceError) as err:
        quote({"apple": 1}, points=points, points_balance=balance)
    assert err.value.code == "bad_points"


FEE_CASES = [
    # (distance m, mode, fee cents): base 500 up to 2000 m, 100 per started km beyond, +200 scheduled, +300 timed
    (0, "asap", 500),
    (2000, "asap", 500),  # free distance inclusive
    (2001, "asap", 600),  # 1 m beyond starts a km
    (3000, "asap", 600),
    (3001, "asap", 700),
    (2000, "scheduled", 700),
    (2000, "timed", 800),
    (5500, "timed", 1200),  # 500 + ceil(3.5) = 4 km × 100 + 300
    (3500, DeliveryMode.SCHEDULED, 900),  # 500 + 2 × 100 + 200
]


@pytest.mark.parametrize(("distance", "mode", "fee"), FEE_CASES)
def test_delivery_fee_table(distance: float, mode: str, fee: int) -> None:
    assert DeliveryFee().fee(distance, mode) == fee


def test_custom_fee_schedule() -> None:
    fees = DeliveryFee(base_cents=300, free_m=1000, per_km_cents=150, scheduled_cents=0, timed_cents=50)
    assert fees.fee(2500, "asap") == 600  # 300 + ceil(1.5) = 2 × 150
    assert fees.fee(500, "scheduled") == 300
    assert fees.fee(500, "timed") == 350
    q = quote({"apple": 1}, fees=fees, distance_m=2500, mode="timed")
    assert amounts(q) == [("goods", 1250), ("delivery", 650)]  # 300 + 300 + 50
    assert q.total_cents == 1900 and q.delivery_cents == 650


def test_delivery_is_never_discounted() -> None:
    # a 100 % coupon, gold-level discount and points all stop at the goods: the fee (500 + 2 km + 300 = 1000) stays
    q = quote({"tea": 1}, coupon=Coupon("FREE", "percent", 10000), points=10_000, points_balance=10_000,
              distance_m=4000, mode="timed")
    assert amounts(q) == [("goods", 333), ("coupon", -333), ("delivery", 1000)]
    assert q.total_cents == q.delivery_cents == 1000


@pytest.mark.parametrize(("distance", "mode", "code"), [
    (-1, "asap", "bad_distance"),
    (float("nan"), "asap", "bad_distance"),
    (100, "drone", "bad_mode"),
])
def test_bad_delivery_input(distance: float, mode: str, code: str) -> None:
    with pytest.raises(CommerceError) as err:
        quote({"apple": 1}, distance_m=distance, mode=mode)
    assert err.value.code == code


def test_bad_fee_schedule() -> None:
    with pytest.raises(CommerceError) as err:
        DeliveryFee(base_cents=-1)
    assert err.value.code == "bad_fee"
