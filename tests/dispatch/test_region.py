"""A RegionShard driven step by step, with every event time computed by hand.

World: one resolution-4 region; MdrpTravel at 320 m/min on PlanarFrame metres; ServiceRules(4, 4)
(2 min of service before each pickup/drop-off instant, 2 after). Store s1 at (3000, 4000), the
door at (3000, 7200); a courier at (0, 0) is ceil(5000 / 320) = 16 min from the store, the store
10 min from the door.
"""
from __future__ import annotations

import pickle

import pytest

from dispatch.courier import Courier
from dispatch.errors import InvalidInput
from dispatch.events import Event
from dispatch.geo import PlanarFrame
from dispatch.greedy import GreedyPolicy
from dispatch.modes import asap_window
from dispatch.order import Order
from dispatch.records import AssignmentRecord
from dispatch.region import RegionShard, ShardSpec, StepInput, StepResult
from dispatch.rules import ServiceRules
from dispatch.store import Store
from dispatch.travel import MdrpTravel
from dispatch.zones import region_of

FRAME = PlanarFrame()
RES = 4
REGION = region_of(FRAME.location(0, 0), RES)
TRAVEL = MdrpTravel(320)
RULES = ServiceRules(pickup_service=4, dropoff_service=4)
STORE_XY, DOOR_XY = (3000, 4000), (3000, 7200)


def shard(**policy_params) -> RegionShard:
    return RegionShard(REGION, GreedyPolicy(**policy_params), TRAVEL, RULES, region_res=RES)


def store() -> Store:
    return Store("s1", FRAME.location(*STORE_XY))


def courier(cid: str = "c1", xy=(0, 0), on: float = 0.0, off: float = 480.0) -> Courier:
    return Courier(cid, FRAME.location(*xy), on, off)


def order(oid: str = "o1", placed: float = 5.0, ready: float = 15.0, store_id: str = "s1", door=DOOR_XY) -> Order:
    return Order(oid, store_id, FRAME.location(*door), placed, ready, asap_window(placed))


def drive(sh: RegionShard, inputs: dict[float, StepInput], until: float, every: float = 5.0) -> list[StepResult]:
    """Step at every tick up to ``until`` (and at each input's time), checking no event comes from the future."""
    ticks = sorted(set(inputs) | {float(t) for t in range(0, int(until) + 1, int(every))})
    results = []
    for t in ticks:
        result = sh.step(inputs.get(t, StepInput(t)))
        assert all(e.time <= t for e in result.events)
        results.append(result)
    return results


def timeline(results: list[StepResult], entity: str) -> list[tuple[str, float]]:
    return [(e.type, e.time) for r in results for e in r.events if e.entity == entity]


def test_timeline_of_an_order_assigned_before_its_food_is_ready() -> None:
    sh = shard()
    results = drive(sh, {0.0: StepInput(0, couriers=[courier()], stores=[store()]), 5.0: StepInput(5, orders=[order()])}, 60)
    # assigned at the tick of 5 (ready at 15 is within release_lead 20); the courier leaves at 5,
    # is at the store at 5 + 16 = 21, picks up at max(21 + 2, 15) = 23, leaves 25, is at the door
    # at 35, hands over at 37, leaves at 39
    assert timeline(results, "o1") == [
        ("placed", 5), ("paid", 5), ("accepted", 5), ("preparing", 5), ("assigned", 5),
        ("food_ready", 15), ("picked_up", 23), ("delivered", 37),
    ]
    assert [e.actor for e in sh.order("o1").history] == [
        "customer", "customer", "store", "store", "dispatcher", "store", "c1", "c1",
    ]
    assert timeline(results, "c1") == [
        ("idle", 0), ("to_store", 5), ("move", 5), ("at_store", 21), ("delivering", 23), ("move", 25), ("idle", 39),
    ]
    moves = [e.data for e in sh.couriers()[0].history if e.type == "move"]
    assert moves == [
        {"origin": "c1", "destination": "s1", "arrive": 21},
        {"origin": "s1", "destination": "o1", "arrive": 35},
    ]
    c = sh.couriers()[0]
    assert (c.driving, c.serving, c.location, c.node, c.onboard, list(c.route)) == (26, 8, FRAME.location(*DOOR_XY), "o1", [], [])
    assert sh.assignments == [AssignmentRecord(5, 23, "c1", "s1", ("o1",))]
    assert results[-1].delivered == 1 and results[-1].active_orders == 0 and results[-1].idle_couriers == 1


def test_timeline_of_an_order_ready_before_its_courier_is_assigned() -> None:
    sh = shard(release_lead=0)  # dispatch only once the food is ready
    inputs = {0.0: StepInput(0, couriers=[courier()], stores=[store()]), 5.0: StepInput(5, orders=[order(ready=12)])}
    results = drive(sh, inputs, 60)
    # ready at 12; assigned at the tick of 15; at the store 31, pickup max(33, 12) = 33, door 45, drop 47
    assert timeline(results, "o1") == [
        ("placed", 5), ("paid", 5), ("accepted", 5), ("preparing", 5), ("ready", 12),
        ("assigned", 15), ("picked_up", 33), ("delivered", 47),
    ]
    assert timeline(results, "c1") == [
        ("idle", 0), ("to_store", 15), ("move", 15), ("at_store", 31), ("delivering", 33), ("move", 35), ("idle", 49),
    ]


def test_courier_at_the_store_waits_for_the_food() -> None:
    sh = shard()
    inputs = {0.0: StepInput(0, couriers=[courier(xy=STORE_XY)], stores=[store()]), 5.0: StepInput(5, orders=[order(ready=20)])}
    results = drive(sh, inputs, 60)
    # no travel to the store: at_store 5; pickup max(5 + 2, 20) = 20; door 32, drop 34, idle 36
    assert timeline(results, "o1")[-3:] == [("food_ready", 20), ("picked_up", 20), ("delivered", 34)]
    assert timeline(results, "c1") == [
        ("idle", 0), ("to_store", 5), ("move", 5), ("at_store", 5), ("delivering", 20), ("move", 22), ("idle", 36),
    ]


def test_step_results_count_open_busy_and_delivered() -> None:
    sh = shard()
    r0 = sh.step(StepInput(0, couriers=[courier()], stores=[store()]))
    assert (r0.region, r0.step, r0.idle_couriers, r0.open_orders, r0.next_action) == (REGION, 1, 1, 0, 480)
    r5 = sh.step(StepInput(5, orders=[order()]))
    assert (r5.open_orders, r5.active_orders, r5.busy_couriers, r5.delivered) == (0, 1, 1, 0)
    assert r5.next_action == 5  # the courier's first move, realised at the next step
    r30 = sh.step(StepInput(30))
    assert r30.next_action == 35 and r30.delivered == 0  # arrival at the door
    r40 = sh.step(StepInput(40))
    assert (r40.delivered, r40.active_orders, r40.busy_couriers, r40.idle_couriers, r40.step) == (1, 0, 0, 1, 4)


def test_event_times_are_exact_whatever_the_ticks() -> None:
    coarse, fine = shard(), shard()
    make = lambda: {0.0: StepInput(0, couriers=[courier()], stores=[store()]), 5.0: StepInput(5, orders=[order()])}
    a = drive(coarse, make(), 60, every=20)
    b = drive(fine, make(), 60, every=1)
    assert sorted(timeline(a, "o1"), key=lambda e: e[1]) == sorted(timeline(b, "o1"), key=lambda e: e[1])
    assert timeline(a, "c1") == timeline(b, "c1")


def test_idle_couriers_end_their_shift_at_off_time() -> None:
    sh = shard()
    inputs = {0.0: StepInput(0, couriers=[courier("c1", off=30), courier("c2", on=10, off=20)], stores=[store()])}
    results = [sh.step(inputs[0.0])] + [sh.step(StepInput(t)) for t in (7, 33)]
    assert timeline(results, "c1") == [("idle", 0), ("off_shift", 30)]
    assert timeline(results, "c2") == [("idle", 10), ("off_shift", 20)]
    assert results[-1].idle_couriers == 0
    assert sh.positions() == {}


def test_busy_courier_past_off_time_finishes_then_goes_off_shift() -> None:
    sh = shard()
    inputs = {
        0.0: StepInput(0, couriers=[courier(off=30)], stores=[store()]),
        5.0: StepInput(5, orders=[order()]),
        45.0: StepInput(45, orders=[order("o2", placed=45, ready=50)]),
    }
    results = drive(sh, inputs, 80)
    # the pickup at 23 is within the shift (ends 30); the drop at 37 and the end at 39 are after it
    assert timeline(results, "o1")[-2:] == [("picked_up", 23), ("delivered", 37)]
    assert timeline(results, "c1") == [
        ("idle", 0), ("to_store", 5), ("move", 5), ("at_store", 21), ("delivering", 23), ("move", 25), ("off_shift", 39),
    ]
    assert sh.order("o2").status == "ready" and sh.order("o2").courier_id is None
    assert results[-1].open_orders == 1


def test_courier_who_would_pick_up_after_its_shift_gets_nothing() -> None:
    sh = shard()
    results = drive(sh, {0.0: StepInput(0, couriers=[courier(off=20)], stores=[store()]), 5.0: StepInput(5, orders=[order()])}, 40)
    assert sh.order("o1").courier_id is None  # its pickup would be at 23 > 20
    assert timeline(results, "c1") == [("idle", 0), ("off_shift", 20)]


def test_positions_interpolate_along_the_current_leg() -> None:
    sh = shard()
    sh.step(StepInput(0, couriers=[courier()], stores=[store()]))
    sh.step(StepInput(5, orders=[order()]))
    sh.step(StepInput(10))  # the move 5 -> 21 is realised
    sh.step(StepInput(13))
    pos = sh.positions()["c1"]  # halfway to the store
    start, end = FRAME.location(0, 0), FRAME.location(*STORE_XY)
    assert pos.lat == pytest.approx((start.lat + end.lat) / 2, abs=1e-9)
    assert pos.lng == pytest.approx((start.lng + end.lng) / 2, abs=1e-9)


def test_a_route_beyond_the_bag_capacity_is_refused() -> None:
    from dispatch.policy import Assignment

    sh = shard(release_lead=0)  # the policy stays out of the way until minute 15
    small = courier()
    small.capacity = 1
    sh.step(StepInput(0, couriers=[small], stores=[store()]))
    sh.step(StepInput(5, orders=[order("o1"), order("o2")]))
    with pytest.raises(InvalidInput, match="at most 1"):
        sh._apply(Assignment.bundle("c1", ["o1", "o2"]), 6)
    assert sh.order("o1").courier_id is None  # a refused decision changes nothing
    sh._apply(Assignment.bundle("c1", ["o1"]), 6)
    sh._apply(Assignment.bundle("c1", ["o2"]), 6)  # after o1's drop-off: the bag holds one at a time
    assert [s.kind for s in sh._couriers["c1"].route] == ["pickup", "dropoff", "pickup", "dropoff"]


def _inputs() -> dict[float, StepInput]:
    """Fresh entities every call: a run mutates them."""
    return {
        0.0: StepInput(0, couriers=[courier("c1"), courier("c2", xy=(4000, 6000), off=60)], stores=[store()]),
        5.0: StepInput(5, orders=[order("o1")]),
        10.0: StepInput(10, orders=[order("o2", placed=10, ready=18, door=(1000, 7000))]),
        25.0: StepInput(25, orders=[order("o3", placed=25, ready=40, door=(5000, 2000))]),
        40.0: StepInput(40, orders=[order("o4", placed=40, ready=45)]),
    }


def _run_from(sh: RegionShard, inputs: dict[float, StepInput], ticks: list[float]) -> list[StepResult]:
    return [sh.step(inputs.get(t, StepInput(t))) for t in ticks]


def test_snapshot_restore_then_same_steps_equal_an_unbroken_run() -> None:
    early = [float(t) for t in range(0, 25, 5)]
    late = [float(t) for t in range(25, 121, 5)]
    unbroken = shard()
    _run_from(unbroken, _inputs(), early)
    expected = _run_from(unbroken, _inputs(), late)

    broken = shard()
    _run_from(broken, _inputs(), early)
    blob = broken.snapshot()
    assert isinstance(blob, bytes)
    restored = RegionShard.restore(blob)
    assert restored is not broken
    del broken  # the restored shard must not need the original
    got = _run_from(restored, _inputs(), late)

    assert got == expected
    assert sum(r.delivered for r in got[-1:]) == 4
    assert restored.assignments == unbroken.assignments
    assert restored.order_records() == unbroken.order_records()
    assert restored.courier_records() == unbroken.courier_records()


def test_snapshot_is_independent_of_the_live_shard() -> None:
    sh = shard()
    _run_from(sh, _inputs(), [0.0, 5.0, 10.0])
    blob = sh.snapshot()
    _run_from(sh, _inputs(), [15.0, 60.0])
    restored = RegionShard.restore(blob)
    assert restored.now == 10 and restored.delivered == 0 and sh.delivered > 0


def test_restore_of_something_else_raises() -> None:
    with pytest.raises(InvalidInput):
        RegionShard.restore(pickle.dumps({"not": "a shard"}))


def test_order_for_an_unknown_store_is_rejected() -> None:
    sh = shard()
    sh.step(StepInput(0, couriers=[courier()], stores=[store()]))
    result = sh.step(StepInput(5, orders=[order("o9", store_id="nope"), order("o1")]))
    assert len(result.rejected) == 1
    assert result.rejected[0].startswith("o9:") and "unknown store nope" in result.rejected[0]
    assert "o9" not in sh.orders and "o1" in sh.orders
    assert all(e.entity != "o9" for e in result.events)


def test_duplicate_order_is_rejected() -> None:
    sh = shard()
    sh.step(StepInput(0, stores=[store()], orders=[order("o1", placed=0, ready=5)]))
    result = sh.step(StepInput(1, orders=[order("o1", placed=1, ready=5)]))
    assert len(result.rejected) == 1 and "already" in result.rejected[0]
    assert sh.order("o1").placed_at == 0


def test_order_for_a_paused_store_fails() -> None:
    sh = shard()
    paused = store()
    paused.pause(0)
    result = sh.step(StepInput(0, stores=[paused], orders=[order("o1", placed=0, ready=5)]))
    assert sh.order("o1").status == "failed" and result.open_orders == 0


def test_cancel_an_open_order_and_refuse_an_assigned_one() -> None:
    sh = shard(release_lead=0)
    sh.step(StepInput(0, couriers=[courier()], stores=[store()]))
    sh.step(StepInput(5, orders=[order("o1", ready=30), order("o2", ready=8)]))
    result = sh.step(StepInput(10, cancellations=["o1", "nobody"]))
    assert sh.order("o1").status == "cancelled"
    assert ("cancelled", 10) in [(e.type, e.time) for e in result.events if e.entity == "o1"]
    assert sh.order("o2").status == "assigned"  # ready at 8, assigned at the tick of 10
    assert [r.split(":")[0] for r in result.rejected] == ["nobody"]
    result = sh.step(StepInput(11, cancellations=["o2"]))
    assert [r.split(":")[0] for r in result.rejected] == ["o2"] and sh.order("o2").status == "assigned"


def test_stepping_back_in_time_raises() -> None:
    sh = shard()
    sh.step(StepInput(10))
    sh.step(StepInput(10))  # the same time again is fine
    with pytest.raises(InvalidInput, match="back in time"):
        sh.step(StepInput(9.5))
    assert sh.now == 10


def test_shard_spec_builds_a_working_shard() -> None:
    spec = ShardSpec("greedy", TRAVEL, RULES, RES, frozenset({REGION}), (("release_lead", 0.0),))
    sh = pickle.loads(pickle.dumps(spec)).build(REGION)
    assert isinstance(sh.policy, GreedyPolicy) and sh.policy.release_lead == 0.0
    assert (sh.region, sh.region_res, sh.served_regions) == (REGION, RES, frozenset({REGION}))


def test_events_are_plain_data() -> None:
    e = Event("assigned", 5.0, "o1", "dispatcher", {"courier": "c1"})
    assert e.to_dict() == {"type": "assigned", "time": 5.0, "entity": "o1", "actor": "dispatcher", "data": {"courier": "c1"}}
