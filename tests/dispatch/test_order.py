"""The order state machine: every legal move, every illegal one, and the rules around them.

The expected transitions are written out here (from the order's lifecycle and the module
docstring) rather than read from ``dispatch.order.TRANSITIONS``, so a wrong table is caught.
"""
from __future__ import annotations

import itertools

import pytest

from dispatch.errors import IllegalTransition, InvalidInput
from dispatch.geo import Location
from dispatch.modes import asap_window
from dispatch.order import Order, OrderStatus

PLACED_AT, READY_AT = 10.0, 20.0
COURIER = "c1"

STATES = (
    "placed", "paid", "accepted", "preparing", "ready", "assigned",
    "picked_up", "delivered", "cancelled", "refunded", "failed",
)

# (source, target) -> the actor the event must carry.
LEGAL: dict[tuple[str, str], str] = {
    ("placed", "paid"): "customer",
    ("placed", "cancelled"): "customer",
    ("placed", "failed"): "system",
    ("paid", "accepted"): "store",
    ("paid", "cancelled"): "customer",
    ("paid", "failed"): "system",
    ("accepted", "preparing"): "store",
    ("accepted", "cancelled"): "customer",
    ("accepted", "failed"): "system",
    ("preparing", "ready"): "store",
    ("preparing", "assigned"): "dispatcher",
    ("preparing", "cancelled"): "customer",
    ("preparing", "failed"): "system",
    ("ready", "assigned"): "dispatcher",
    ("ready", "cancelled"): "customer",
    ("ready", "failed"): "system",
    ("assigned", "preparing"): "dispatcher",  # unassigned before the food is ready
    ("assigned", "ready"): "dispatcher",  # unassigned after it
    ("assigned", "picked_up"): COURIER,
    ("assigned", "cancelled"): "customer",
    ("assigned", "failed"): "system",
    ("picked_up", "delivered"): COURIER,
    ("picked_up", "failed"): "system",
    ("delivered", "refunded"): "support",
    ("cancelled", "refunded"): "support",
    ("failed", "refunded"): "support",
}
ILLEGAL = [(s, t) for s, t in itertools.product(STATES, STATES) if (s, t) not in LEGAL]


def new_order(oid: str = "o1", placed_at: float = PLACED_AT, ready_at: float = READY_AT) -> Order:
    return Order(oid, "s1", Location(31.23, 121.47), placed_at, ready_at, asap_window(placed_at))


def order_in(state: str) -> Order:
    """A fresh order walked to ``state`` through the public methods, times increasing."""
    o = new_order()
    steps = {
        "placed": [],
        "paid": [lambda: o.pay(10)],
        "accepted": [lambda: o.pay(10), lambda: o.accept(11)],
        "preparing": [lambda: o.pay(10), lambda: o.accept(11), lambda: o.start_preparing(12)],
    }
    steps["ready"] = steps["preparing"] + [lambda: o.mark_ready(20)]
    steps["assigned"] = steps["preparing"] + [lambda: o.assign(COURIER, 13)]
    steps["picked_up"] = steps["assigned"] + [lambda: o.mark_ready(20), lambda: o.pick_up(COURIER, 21)]
    steps["delivered"] = steps["picked_up"] + [lambda: o.deliver(COURIER, 30)]
    steps["cancelled"] = [lambda: o.cancel(10)]
    steps["failed"] = [lambda: o.fail(10)]
    steps["refunded"] = [lambda: o.cancel(10), lambda: o.refund(11)]
    for step in steps[state]:
        step()
    assert o.status == state
    return o


def attempt_time(o: Order, target: str) -> float:
    if o.status == "assigned" and target == "preparing":
        return 15.0  # after the assignment at 13, before the food is ready at 20
    return max(o.history[-1].time, READY_AT) + 5.0


def move(o: Order, target: str, t: float):
    """Ask for ``target`` through the public method that leads there."""
    if target == "paid":
        return o.pay(t)
    if target == "accepted":
        return o.accept(t)
    if target == "preparing":
        return o.unassign(t) if o.status == "assigned" else o.start_preparing(t)
    if target == "ready":
        return o.unassign(t) if o.status == "assigned" else o.mark_ready(t)
    if target == "assigned":
        return o.assign(COURIER, t)
    if target == "picked_up":
        return o.pick_up(COURIER, t)
    if target == "delivered":
        return o.deliver(COURIER, t)
    if target == "cancelled":
        return o.cancel(t)
    if target == "failed":
        return o.fail(t)
    if target == "refunded":
        return o.refund(t)
    if target == "placed":  # no public way back to placed: the table must refuse it
        return o._go(OrderStatus.PLACED, t, "system")
    raise AssertionError(target)


def test_tables_cover_the_whole_cross_product() -> None:
    assert len(LEGAL) == 26
    assert len(ILLEGAL) == len(STATES) ** 2 - 26
    assert {s.value for s in OrderStatus} == set(STATES)


@pytest.mark.parametrize(("source", "target"), sorted(LEGAL), ids=lambda v: v)
def test_legal_transition_succeeds_and_records_an_event(source: str, target: str) -> None:
    o = order_in(source)
    before = len(o.history)
    t = attempt_time(o, target)
    event = move(o, target, t)
    assert o.status == target
    assert len(o.history) == before + 1
    assert o.history[-1] is event
    assert (event.type, event.time, event.entity, event.actor) == (target, t, "o1", LEGAL[(source, target)])


@pytest.mark.parametrize(("source", "target"), ILLEGAL, ids=lambda v: v)
def test_illegal_transition_raises_and_changes_nothing(source: str, target: str) -> None:
    o = order_in(source)
    if target in ("picked_up", "delivered") and o.courier_id is None:
        o.courier_id = COURIER  # the right courier and a late enough time: only the table may refuse
    before = list(o.history)
    with pytest.raises(IllegalTransition) as info:
        move(o, target, attempt_time(o, target))
    message = str(info.value)
    assert "o1" in message and source in message and target in message
    assert (info.value.entity_id, info.value.state, info.value.attempted) == ("o1", source, target)
    assert o.status == source
    assert o.history == before


def test_construction_records_the_placed_event() -> None:
    o = new_order()
    assert o.status == "placed"
    assert [(e.type, e.time, e.actor) for e in o.history] == [("placed", PLACED_AT, "customer")]
    assert o.history[0].data == {"store": "s1", "mode": "asap"}


def test_full_lifecycle_sets_times_and_click_to_door() -> None:
    o = order_in("delivered")
    assert [e.type for e in o.history] == [
        "placed", "paid", "accepted", "preparing", "assigned", "food_ready", "picked_up", "delivered",
    ]
    assert (o.courier_id, o.assigned_at, o.picked_up_at, o.delivered_at) == (COURIER, 13, 21, 30)
    assert o.click_to_door == 30 - PLACED_AT
    assert o.is_terminal and not o.is_open


def test_pickup_before_ready_raises() -> None:
    o = order_in("assigned")
    with pytest.raises(IllegalTransition, match="ready at 20"):
        o.pick_up(COURIER, READY_AT - 1)
    assert o.status == "assigned" and o.picked_up_at is None


def test_pickup_by_another_courier_raises() -> None:
    o = order_in("assigned")
    o.mark_ready(READY_AT)
    with pytest.raises(IllegalTransition, match="c2 is not the assigned courier c1"):
        o.pick_up("c2", READY_AT + 1)
    assert o.status == "assigned"


def test_delivery_by_another_courier_raises() -> None:
    o = order_in("picked_up")
    with pytest.raises(IllegalTransition):
        o.deliver("c2", 40)
    assert o.status == "picked_up" and o.delivered_at is None


def test_assignment_before_placement_raises() -> None:
    o = new_order()
    o.pay(PLACED_AT)
    o.accept(PLACED_AT)
    o.start_preparing(PLACED_AT)
    with pytest.raises(IllegalTransition, match="before placement"):
        o.assign(COURIER, PLACED_AT - 1)
    assert o.status == "preparing" and o.courier_id is None


def test_event_back_in_time_raises() -> None:
    o = new_order()
    o.pay(12)
    with pytest.raises(IllegalTransition, match="before the last event"):
        o.accept(11)
    assert o.status == "paid" and len(o.history) == 2
    o.accept(12)  # equal times are fine
    assert o.status == "accepted"


def test_mark_ready_while_assigned_records_food_ready_only() -> None:
    o = order_in("assigned")
    event = o.mark_ready(READY_AT, actor="kitchen")
    assert o.status == "assigned"
    assert (event.type, event.time, event.actor) == ("food_ready", READY_AT, "kitchen")
    assert o.history[-1] is event


@pytest.mark.parametrize(("t", "back"), [(15.0, "preparing"), (19.9, "preparing"), (20.0, "ready"), (25.0, "ready")])
def test_unassign_returns_to_preparing_or_ready_by_time(t: float, back: str) -> None:
    o = order_in("assigned")
    event = o.unassign(t, reason="courier gave it back")
    assert o.status == back and o.is_open
    assert (o.courier_id, o.assigned_at) == (None, None)
    assert event.data == {"courier": COURIER, "reason": "courier gave it back"}


def test_unassign_of_an_unassigned_order_raises() -> None:
    o = order_in("ready")
    with pytest.raises(IllegalTransition, match="o1 is ready; cannot go to unassigned"):
        o.unassign(25)


@pytest.mark.parametrize(
    ("placed_at", "ready_at", "size", "match"),
    [(-1.0, 5.0, 1, "negative"), (10.0, 9.0, 1, "before placement"), (10.0, 12.0, 0, "size")],
)
def test_invalid_construction_raises(placed_at: float, ready_at: float, size: int, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        Order("bad", "s1", Location(0, 0), placed_at, ready_at, asap_window(max(placed_at, 0)), size=size)
