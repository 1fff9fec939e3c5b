"""plan_stops under MDRP timing, with every time computed by hand.

ServiceRules(4, 4): half a pickup service (2 min) before the pickup instant and half after, same at
the door. MdrpTravel(320 m/min) on planar metres:
  courier (0, 0)     -> store (3000, 4000):  5000 m -> ceil(15.625) = 16 min
  store (3000, 4000) -> door A (3000, 7200): 3200 m -> 10 min
  door A (3000, 7200) -> door B (3960, 8480): 1600 m -> 5 min
"""
from __future__ import annotations

import pytest

from dispatch.courier import Courier, Stop
from dispatch.errors import InvalidInput
from dispatch.geo import PlanarFrame
from dispatch.modes import DeliveryMode, asap_window, scheduled_window, timed_window
from dispatch.order import Order
from dispatch.policy import Assignment
from dispatch.routes import plan_stops
from dispatch.rules import ServiceRules
from dispatch.travel import MdrpTravel

FRAME = PlanarFrame()
RULES = ServiceRules(pickup_service=4, dropoff_service=4)
TRAVEL = MdrpTravel(320)
STORES = {"s1": FRAME.location(3000, 4000), "s2": FRAME.location(3000, 4000 - 3200)}
DOOR_A, DOOR_B = FRAME.location(3000, 7200), FRAME.location(3960, 8480)


def order(oid: str, ready: float, door=DOOR_A, window=None, store: str = "s1") -> Order:
    return Order(oid, store, door, 0.0, ready, window or asap_window(0.0))


def plan(courier: Courier, assignment: Assignment, orders: list[Order], now: float = 0.0) -> list[Stop]:
    by_id = {o.id: o for o in orders}
    return plan_stops(courier, assignment, now, by_id.__getitem__, STORES.__getitem__, TRAVEL, RULES)


def courier(on: float = 0.0) -> Courier:
    return Courier("c1", FRAME.location(0, 0), on, 480.0)


def times(stops: list[Stop]) -> list[tuple[str, str, float, float, float]]:
    return [(s.kind, s.node, s.arrive, s.at, s.depart) for s in stops]


def test_one_order_food_ready_before_arrival() -> None:
    o = order("o1", ready=10)
    stops = plan(courier(), Assignment.bundle("c1", ["o1"]), [o])
    # arrive 16; pickup max(16 + 2, 10) = 18; leave 20; door at 30; drop 32; leave 34
    assert times(stops) == [("pickup", "s1", 16, 18, 20), ("dropoff", "o1", 30, 32, 34)]
    assert stops[0].location == STORES["s1"] and stops[1].location == DOOR_A
    assert stops[0].order_ids == stops[1].order_ids == ("o1",)


def test_one_order_courier_waits_for_the_food() -> None:
    o = order("o1", ready=25)
    stops = plan(courier(), Assignment.bundle("c1", ["o1"]), [o])
    # arrive 16; pickup max(18, 25) = 25; leave 27; door at 37; drop 39; leave 41
    assert times(stops) == [("pickup", "s1", 16, 25, 27), ("dropoff", "o1", 37, 39, 41)]


def test_two_order_bundle_one_pickup_then_two_drops() -> None:
    o1, o2 = order("o1", ready=10), order("o2", ready=22, door=DOOR_B)
    stops = plan(courier(), Assignment.bundle("c1", ["o1", "o2"]), [o1, o2])
    # one stop at the store, pickup at the latest ready time: max(16 + 2, 10, 22) = 22; leave 24
    # door A: 24 + 10 = 34, drop 36, leave 38; door B: 38 + 5 = 43, drop 45, leave 47
    assert times(stops) == [
        ("pickup", "s1", 16, 22, 24),
        ("dropoff", "o1", 34, 36, 38),
        ("dropoff", "o2", 43, 45, 47),
    ]
    assert stops[0].order_ids == ("o1", "o2")


def test_consecutive_drops_are_at_least_the_service_time_apart() -> None:
    o1, o2 = order("o1", ready=10), order("o2", ready=10)  # same door: no travel between the drops
    stops = plan(courier(), Assignment.bundle("c1", ["o1", "o2"]), [o1, o2])
    assert times(stops) == [
        ("pickup", "s1", 16, 18, 20),
        ("dropoff", "o1", 30, 32, 34),
        ("dropoff", "o2", 34, 36, 38),
    ]
    assert stops[2].at - stops[1].at == RULES.dropoff_service


def test_scheduled_drop_waits_for_the_slot_to_open() -> None:
    o = Order("o1", "s1", DOOR_A, 0.0, 10.0, scheduled_window(0.0, 60, 90), DeliveryMode.SCHEDULED)
    stops = plan(courier(), Assignment.bundle("c1", ["o1"]), [o])
    # at the door at 30 as before, but hands over only when the slot opens at 60
    assert times(stops) == [("pickup", "s1", 16, 18, 20), ("dropoff", "o1", 30, 60, 62)]


def test_timed_drop_waits_for_the_tolerance_window() -> None:
    o = Order("o1", "s1", DOOR_A, 0.0, 10.0, timed_window(0.0, 45, 5), DeliveryMode.TIMED)
    stops = plan(courier(), Assignment.bundle("c1", ["o1"]), [o])
    assert times(stops)[1] == ("dropoff", "o1", 30, 40, 42)


def test_scheduled_window_already_open_does_not_delay() -> None:
    o = Order("o1", "s1", DOOR_A, 0.0, 10.0, scheduled_window(0.0, 20, 50), DeliveryMode.SCHEDULED)
    stops = plan(courier(), Assignment.bundle("c1", ["o1"]), [o])
    assert times(stops)[1] == ("dropoff", "o1", 30, 32, 34)


def test_route_starts_at_now_when_later() -> None:
    stops = plan(courier(), Assignment.bundle("c1", ["o1"]), [order("o1", ready=10)], now=5)
    assert times(stops) == [("pickup", "s1", 21, 23, 25), ("dropoff", "o1", 35, 37, 39)]


def test_route_starts_at_shift_start_when_later() -> None:
    stops = plan(courier(on=30), Assignment.bundle("c1", ["o1"]), [order("o1", ready=10)], now=0)
    assert times(stops)[0] == ("pickup", "s1", 46, 48, 50)


def test_route_continues_from_the_end_of_the_current_one() -> None:
    c = courier()
    c.route.append(Stop("dropoff", "o0", DOOR_A, ("o0",), 30, 32, 34))
    c.free_at = 34
    stops = plan(c, Assignment.bundle("c1", ["o1"]), [order("o1", ready=10)], now=5)
    # from door A at 34: 10 min back to the store
    assert times(stops) == [("pickup", "s1", 44, 46, 48), ("dropoff", "o1", 58, 60, 62)]


def test_pickups_at_two_stores_are_two_stops() -> None:
    o1, o2 = order("o1", ready=0), order("o2", ready=0, store="s2")
    a = Assignment("c1", (("pickup", "o1"), ("pickup", "o2"), ("dropoff", "o1"), ("dropoff", "o2")))
    stops = plan(courier(), a, [o1, o2])
    # s1 at 16, pickup 18, leave 20; s2 is 3200 m on: 30, 32, 34; door A is 6400 m from s2: 54, 56, 58;
    # o2 goes to the same door: 58, 60, 62
    assert times(stops) == [
        ("pickup", "s1", 16, 18, 20),
        ("pickup", "s2", 30, 32, 34),
        ("dropoff", "o1", 54, 56, 58),
        ("dropoff", "o2", 58, 60, 62),
    ]


def test_unknown_stop_kind_raises() -> None:
    a = Assignment("c1", (("pickup", "o1"), ("teleport", "o1")))
    with pytest.raises(InvalidInput, match="teleport"):
        plan(courier(), a, [order("o1", ready=10)])
