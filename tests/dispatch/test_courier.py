"""The courier state machine, its shift rules and its interpolated position.

Expected moves are written out here, not read from ``dispatch.courier``, so a wrong table is caught.
"""
from __future__ import annotations

import itertools

import pytest

from dispatch.courier import Courier, CourierStatus, Stop
from dispatch.errors import IllegalTransition, InvalidInput
from dispatch.geo import PlanarFrame

FRAME = PlanarFrame()
ON, OFF = 0.0, 100.0

STATES = ("off_shift", "idle", "to_store", "at_store", "delivering")
LEGAL = {
    ("off_shift", "idle"),
    ("idle", "to_store"),
    ("idle", "off_shift"),
    ("to_store", "at_store"),
    ("at_store", "delivering"),
    ("at_store", "to_store"),
    ("delivering", "to_store"),
    ("delivering", "idle"),
    ("delivering", "off_shift"),
}
ILLEGAL = [(s, t) for s, t in itertools.product(STATES, STATES) if (s, t) not in LEGAL]


def new_courier(on: float = ON, off: float = OFF) -> Courier:
    return Courier("c1", FRAME.location(0, 0), on, off)


def courier_in(state: str) -> Courier:
    c = new_courier()
    path = ["idle", "to_store", "at_store", "delivering"]
    if state != "off_shift":
        for step in path[: path.index(state) + 1]:
            {
                "idle": lambda: c.start_shift(1),
                "to_store": lambda: c.head_to_store(2, "s1"),
                "at_store": lambda: c.arrive_at_store(5, "s1"),
                "delivering": lambda: c.start_delivering(7),
            }[step]()
    assert c.status == state
    return c


def move(c: Courier, target: str, t: float):
    if target == "idle":
        return c.start_shift(t) if c.status == "off_shift" else c.finish_route(t)
    if target == "off_shift":
        return c.finish_route(OFF + t) if c.status == "delivering" else c.end_shift(t)
    if target == "to_store":
        return c.head_to_store(t, "s2")
    if target == "at_store":
        return c.arrive_at_store(t, "s2")
    if target == "delivering":
        return c.start_delivering(t)
    raise AssertionError(target)


def test_tables_cover_the_whole_cross_product() -> None:
    assert {s.value for s in CourierStatus} == set(STATES)
    assert len(ILLEGAL) == 25 - len(LEGAL)


@pytest.mark.parametrize(("source", "target"), sorted(LEGAL), ids=lambda v: v)
def test_legal_move_succeeds_and_records_an_event(source: str, target: str) -> None:
    c = courier_in(source)
    before = len(c.history)
    event = move(c, target, 10.0)
    assert c.status == target
    assert len(c.history) == before + 1 and c.history[-1] is event
    expected_time = OFF + 10.0 if (source, target) == ("delivering", "off_shift") else 10.0
    assert (event.type, event.time, event.entity, event.actor) == (target, expected_time, "c1", "courier")


@pytest.mark.parametrize(("source", "target"), ILLEGAL, ids=lambda v: v)
def test_illegal_move_raises_and_changes_nothing(source: str, target: str) -> None:
    c = courier_in(source)
    before = list(c.history)
    with pytest.raises(IllegalTransition) as info:
        move(c, target, 10.0)
    assert "c1" in str(info.value) and source in str(info.value) and target in str(info.value)
    assert (info.value.state, info.value.attempted) == (source, target)
    assert c.status == source and c.history == before


def test_store_moves_carry_the_store_id() -> None:
    c = courier_in("idle")
    assert c.head_to_store(3, "s9").data == {"store": "s9"}
    assert c.arrive_at_store(4, "s9").data == {"store": "s9"}


def test_start_shift_before_on_time_raises() -> None:
    c = new_courier(on=30, off=90)
    with pytest.raises(IllegalTransition, match="shift starts at 30"):
        c.start_shift(29.9)
    assert c.status == "off_shift"
    assert c.start_shift(30).time == 30


@pytest.mark.parametrize(("t", "after"), [(99.0, "idle"), (100.0, "off_shift"), (130.0, "off_shift")])
def test_finish_route_goes_idle_during_the_shift_and_off_shift_after(t: float, after: str) -> None:
    c = courier_in("delivering")
    event = c.finish_route(t)
    assert c.status == after and event.type == after and event.time == t


def test_end_shift_with_orders_on_board_raises() -> None:
    c = courier_in("delivering")
    c.onboard.append("o1")
    with pytest.raises(IllegalTransition, match="orders still on the route"):
        c.end_shift(50)
    assert c.status == "delivering"


def test_end_shift_with_stops_left_raises() -> None:
    c = courier_in("idle")
    c.route.append(Stop("pickup", "s1", FRAME.location(100, 0), ("o1",), 5, 7, 9))
    with pytest.raises(IllegalTransition):
        c.end_shift(50)
    assert c.status == "idle"


@pytest.mark.parametrize(("on", "off", "capacity"), [(10.0, 10.0, 1), (10.0, 5.0, 1), (0.0, 10.0, 0)])
def test_invalid_construction_raises(on: float, off: float, capacity: int) -> None:
    with pytest.raises(InvalidInput):
        Courier("bad", FRAME.location(0, 0), on, off, capacity=capacity)


def test_construction_defaults() -> None:
    c = Courier("c7", FRAME.location(0, 0), 30, 90)
    assert (c.status, c.node, c.free_at, c.end_node) == ("off_shift", "c7", 30, "c7")
    assert c.can_pick_up_at(90) and not c.can_pick_up_at(90.5)


def test_record_move_counts_driving_and_logs_the_leg() -> None:
    c = courier_in("to_store")
    b = FRAME.location(3000, 4000)
    c.record_move(10, "c1", "s1", 26, b)
    assert c.driving == 16
    assert c.history[-1].type == "move" and c.history[-1].time == 10
    assert c.history[-1].data == {"origin": "c1", "destination": "s1", "arrive": 26}


def test_position_at_interpolates_along_the_leg() -> None:
    c = courier_in("to_store")
    a, b = c.location, FRAME.location(4000, -2000)
    assert c.position_at(123) == a  # no leg: where it stands
    c.record_move(10, "c1", "s1", 20, b)
    mid = c.position_at(15)
    assert mid.lat == pytest.approx((a.lat + b.lat) / 2, abs=1e-12)
    assert mid.lng == pytest.approx((a.lng + b.lng) / 2, abs=1e-12)
    quarter = c.position_at(12.5)
    assert quarter.lat == pytest.approx(a.lat + (b.lat - a.lat) / 4, abs=1e-12)
    assert c.position_at(5) == a and c.position_at(10) == a
    assert c.position_at(20) == b and c.position_at(40) == b


def test_end_location_is_the_last_stop() -> None:
    c = courier_in("idle")
    far = FRAME.location(900, 900)
    c.route.append(Stop("dropoff", "o1", far, ("o1",), 5, 7, 9))
    assert c.end_location == far and c.end_node == "o1"
