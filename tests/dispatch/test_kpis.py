"""compute_kpis on hand-made records with hand-computed figures.

ServiceRules() defaults: target 40, max 90 click-to-door, pay max(10 x orders, 15 x shift hours).

  order  mode       placed ready promise lower courier picked delivered  ctd  late  wait
  o1     asap         0     10    40     20    c1      15      30        30    0     5
  o2     asap         0     10    40     25    c1      20     100       100   60    10
  o3     scheduled    0     20    90     30    c2      30      95        95    5    10
  o4     asap        10     20    50     22    -        -       -  (not delivered)

  courier  shift     hours  driving  serving  orders  pay
  c1       0-120     2.0      40       16       2     max(20, 30) = 30
  c2       60-90     0.5      20        8       1     max(10, 7.5) = 10
"""
from __future__ import annotations

import pytest

from dispatch.kpis import compute_kpis
from dispatch.records import CourierRecord, OrderRecord
from dispatch.rules import ServiceRules

RULES = ServiceRules()


def rec(oid, mode, placed, ready, promise, lower, courier, picked, delivered, latest=None) -> OrderRecord:
    status = "delivered" if delivered is not None else "preparing"
    latest = latest if latest is not None else promise + 50
    return OrderRecord(oid, "s1", mode, placed, ready, promise, latest, lower, status, courier,
                       None if courier is None else placed, picked, delivered)


ORDERS = [
    rec("o1", "asap", 0, 10, 40, 20, "c1", 15, 30),
    rec("o2", "asap", 0, 10, 40, 25, "c1", 20, 100),
    rec("o3", "scheduled", 0, 20, 90, 30, "c2", 30, 95),
    rec("o4", "asap", 10, 20, 50, 22, None, None, None),
]
COURIERS = [
    CourierRecord("c1", 0, 120, (), 40, 16),
    CourierRecord("c2", 60, 90, (), 20, 8),
]


@pytest.fixture(scope="module")
def kpis() -> dict:
    return compute_kpis(ORDERS, COURIERS, RULES)


def test_counts_and_delivered_share(kpis) -> None:
    assert (kpis["orders"], kpis["delivered"]) == (4, 3)
    assert kpis["delivered_share"] == pytest.approx(0.75)


def test_click_to_door_is_asap_only(kpis) -> None:
    ctd = kpis["click_to_door"]  # o1 30, o2 100
    assert ctd["mean"] == pytest.approx(65) and ctd["p50"] == pytest.approx(65) and ctd["max"] == 100
    assert ctd["p90"] == pytest.approx(93)  # linear interpolation: 30 + 0.9 x 70
    assert kpis["click_to_door_all_modes"]["mean"] == pytest.approx((30 + 100 + 95) / 3)
    assert kpis["click_to_door_all_modes"]["p50"] == pytest.approx(95)


def test_lateness_against_the_promise(kpis) -> None:
    assert kpis["lateness_vs_promise"]["mean"] == pytest.approx((0 + 60 + 5) / 3)
    assert kpis["lateness_vs_promise"]["late_share"] == pytest.approx(2 / 3)
    assert kpis["target_overage_mean"] == pytest.approx((0 + 60) / 2)


def test_beyond_max_share(kpis) -> None:
    assert kpis["beyond_max_share"] == pytest.approx(1 / 2)  # o2 at 100 > 90; o3 (scheduled) not counted


def test_ready_to_pickup(kpis) -> None:
    wait = kpis["ready_to_pickup"]
    assert wait["mean"] == pytest.approx(25 / 3) and wait["max"] == 10 and wait["p50"] == pytest.approx(10)


def test_lower_bound_ratios(kpis) -> None:
    lb = kpis["lower_bound"]
    assert lb["mean"] == pytest.approx(22.5)
    assert lb["ratio_of_means"] == pytest.approx(65 / 22.5)
    assert lb["mean_ratio"] == pytest.approx((30 / 20 + 100 / 25) / 2)
    assert lb["below_bound"] == 0


def test_utilisation_and_productivity(kpis) -> None:
    assert kpis["courier_hours"] == pytest.approx(2.5)
    assert kpis["utilisation"] == pytest.approx((40 + 16 + 20 + 8) / 150)
    assert kpis["orders_per_courier_hour"] == pytest.approx(3 / 2.5)


def test_cost_per_order(kpis) -> None:
    assert kpis["total_pay"] == pytest.approx(30 + 10)
    assert kpis["cost_per_order"] == pytest.approx(40 / 3)


def test_by_mode(kpis) -> None:
    asap, scheduled = kpis["by_mode"]["asap"], kpis["by_mode"]["scheduled"]
    assert (asap["orders"], asap["delivered"]) == (3, 2)
    assert asap["on_time_share"] == pytest.approx(0.5) and asap["lateness_mean"] == pytest.approx(60)
    assert (scheduled["orders"], scheduled["delivered"]) == (1, 1)
    assert scheduled["on_time_share"] == 0 and scheduled["lateness_mean"] == pytest.approx(5)
    assert sorted(kpis["by_mode"]) == ["asap", "scheduled"]


def test_delivery_below_the_lower_bound_is_counted() -> None:
    orders = [rec("o1", "asap", 0, 10, 40, 20, "c1", 12, 18), rec("o2", "asap", 0, 10, 40, 20, "c1", 12, 20)]
    out = compute_kpis(orders, [CourierRecord("c1", 0, 60, (), 10, 8)], RULES)
    assert out["lower_bound"]["below_bound"] == 1  # 18 < 20; 20 is not below 20
    assert out["total_pay"] == pytest.approx(20)  # max(10 x 2, 15 x 1) = 20: per-order pay binds
    assert out["cost_per_order"] == pytest.approx(10)
    assert out["utilisation"] == pytest.approx(18 / 60)


def test_empty_run_gives_none_not_errors() -> None:
    out = compute_kpis([], [], RULES)
    assert (out["orders"], out["delivered"], out["delivered_share"]) == (0, 0, None)
    assert out["click_to_door"]["mean"] is None and out["ready_to_pickup"]["max"] is None
    assert out["utilisation"] is None and out["orders_per_courier_hour"] is None
    assert out["cost_per_order"] is None and out["beyond_max_share"] is None
    assert out["lower_bound"]["ratio_of_means"] is None and out["total_pay"] == 0


def test_couriers_without_deliveries_still_cost_their_hours() -> None:
    out = compute_kpis([rec("o1", "asap", 0, 10, 40, 20, None, None, None)], [CourierRecord("c1", 0, 120, (), 0, 0)], RULES)
    assert out["total_pay"] == pytest.approx(30) and out["cost_per_order"] is None
    assert out["utilisation"] == 0 and out["delivered_share"] == 0


def test_beyond_max_counts_only_strictly_past_the_maximum() -> None:
    orders = [rec(f"o{i}", "asap", 0, 10, 40, 20, "c1", 12, ctd) for i, ctd in enumerate((60, 90, 91))]
    out = compute_kpis(orders, [CourierRecord("c1", 0, 120, (), 0, 0)], RULES)
    assert out["beyond_max_share"] == pytest.approx(1 / 3)  # 60 is late but within 90; 90 is not beyond
    assert out["target_overage_mean"] == pytest.approx((20 + 50 + 51) / 3)
