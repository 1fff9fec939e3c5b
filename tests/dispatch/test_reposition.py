"""Repositioning: the ("reposition", cell) stop, its realisation by a shard, the ``Repositioning``
wrapper policy, its registration, the live shard ignoring it, and MDRP files that stay feasible.

World (as in test_region): one resolution-4 region; MdrpTravel at 320 m/min on PlanarFrame metres;
ServiceRules(4, 4). Store s1 at (4000, 0); courier c1 starts at (0, 0), ceil(4000 / 320) = 13 min
from the store; the door is at (4000, 3200), 10 min from the store. Forecast demand is all at the
store's resolution-7 zone.
"""
from __future__ import annotations

import math
import pickle
from pathlib import Path

import h3.api.basic_int as h3
import pytest

from dispatch.courier import Courier, CourierStatus
from dispatch.forecast import DemandForecast
from dispatch.geo import PlanarFrame, euclidean_m
from dispatch.greedy import GreedyPolicy
from dispatch.live import LiveRegionShard
from dispatch.modes import asap_window
from dispatch.order import Order
from dispatch.policies import make_policy
from dispatch.policy import Assignment, BasePolicy
from dispatch.records import MoveRecord
from dispatch.region import RegionShard, ShardSpec, StepInput, StepResult
from dispatch.reposition import Repositioning
from dispatch.routes import plan_stops, reposition_target
from dispatch.rules import ServiceRules
from dispatch.store import Store
from dispatch.travel import MdrpTravel
from dispatch.zones import cell_center, region_of, zone_of

FRAME = PlanarFrame()
RES = 4
REGION = region_of(FRAME.location(0, 0), RES)
TRAVEL = MdrpTravel(320)
RULES = ServiceRules(pickup_service=4, dropoff_service=4)
STORE = FRAME.location(4000, 0)
DOOR = FRAME.location(4000, 3200)
HOME = FRAME.location(0, 0)
STORE_ZONE = zone_of(STORE, 7)
STORE_CELL = h3.int_to_str(STORE_ZONE)
TARGET = reposition_target(STORE_CELL, HOME)  # the store zone's centre, with planar metres


def forecast(n: int = 20, where=STORE, hour: int = 0) -> DemandForecast:
    """``n`` orders an hour at ``where`` during ``hour``, nothing else (no smoothing)."""
    return DemandForecast(spatial=0, temporal=0).fit([(hour * 60 + i * 60 / n, where) for i in range(n)])


class Script(BasePolicy):
    """Returns the decisions scripted for each tick."""

    name = "script"

    def __init__(self, plan: dict[float, list[Assignment]]) -> None:
        self.plan = plan

    def on_tick(self, now, view):
        return self.plan.pop(now, [])


def shard(policy, cls=RegionShard) -> RegionShard:
    return cls(REGION, policy, TRAVEL, RULES, region_res=RES)


def courier(cid: str = "c1", loc=HOME, on: float = 0.0, off: float = 480.0) -> Courier:
    return Courier(cid, loc, on, off)


def order(oid: str = "o1", placed: float = 30.0, ready: float = 32.0) -> Order:
    return Order(oid, "s1", DOOR, placed, ready, asap_window(placed))


def drive(sh: RegionShard, inputs: dict[float, StepInput], until: float) -> list[StepResult]:
    results = []
    for t in sorted(set(inputs) | {float(t) for t in range(int(until) + 1)}):
        results.append(sh.step(inputs.get(t, StepInput(t))))
    return results


def events(results: list[StepResult], entity: str) -> list[tuple[str, float]]:
    return [(e.type, e.time) for r in results for e in r.events if e.entity == entity]


# -- the stop and its realisation ----------------------------------------------------------------

def test_plan_stops_moves_to_the_cell_centre_with_no_service() -> None:
    c = courier()
    stops = plan_stops(c, Assignment.reposition_to("c1", STORE_CELL), 5.0, None, None, TRAVEL, RULES)  # type: ignore[arg-type]
    assert len(stops) == 1
    stop = stops[0]
    centre = cell_center(STORE_ZONE)
    assert stop.kind == "reposition" and stop.node == "h3:" + STORE_CELL and stop.order_ids == ()
    assert (stop.location.lat, stop.location.lng) == (centre.lat, centre.lng)
    assert stop.location.x is not None  # planar metres in the courier's frame, so MDRP travel works
    assert zone_of(stop.location, 7) == STORE_ZONE
    assert stop.arrive == stop.at == stop.depart == 5.0 + TRAVEL.minutes(HOME, stop.location)


def test_a_shard_moves_the_courier_and_it_is_idle_where_it_arrives() -> None:
    sh = shard(Script({2.0: [Assignment.reposition_to("c1", STORE_CELL)]}))
    results = drive(sh, {0.0: StepInput(0, couriers=[courier()], stores=[Store("s1", STORE)])}, 30)
    target = cell_center(STORE_ZONE)
    arrive = 2.0 + math.ceil(euclidean_m(HOME, TARGET) / 320)
    assert arrive < 30
    assert events(results, "c1") == [("idle", 0.0), ("move", 2.0), ("repositioned", arrive)]
    c = sh.couriers()[0]
    assert c.status == CourierStatus.IDLE and not c.route and c.leg is None
    assert (c.location.lat, c.location.lng) == (target.lat, target.lng) and c.node == "h3:" + STORE_CELL
    assert c.free_at == arrive and c.driving == arrive - 2.0 and c.serving == 0.0
    move = next(e for e in c.history if e.type == "move")
    assert move.data == {"origin": "c1", "destination": "h3:" + STORE_CELL, "arrive": arrive, "reposition": True}
    busy = [r.busy_couriers for r in results]
    assert busy[2] == 1 and busy[int(arrive)] == 0  # busy while it moves, idle from its arrival
    rec = sh.courier_records()[0]
    assert rec.moves == (MoveRecord(2.0, "c1", "h3:" + STORE_CELL, arrive, True),)


def test_the_courier_serves_an_order_from_where_it_was_repositioned() -> None:
    sh = shard(Script({2.0: [Assignment.reposition_to("c1", STORE_CELL)], 30.0: [Assignment.bundle("c1", ["o1"])]}))
    drive(sh, {0.0: StepInput(0, couriers=[courier()], stores=[Store("s1", STORE)]), 30.0: StepInput(30, orders=[order()])}, 80)
    c = sh.couriers()[0]
    there = c.history[2].time  # repositioned
    assert sh.order("o1").status == "delivered"
    moves = [e.data for e in c.history if e.type == "move"]
    assert moves[1]["origin"] == "h3:" + STORE_CELL and moves[1]["destination"] == "s1" and "reposition" not in moves[1]
    assert there < 30


@pytest.mark.parametrize("decision, why", [
    (Assignment("c1", (("reposition", "nonsense"),)), "not an H3 cell"),
    (Assignment("c1", (("reposition", STORE_CELL), ("reposition", STORE_CELL))), "one stop"),
])
def test_bad_repositions_are_refused(decision: Assignment, why: str) -> None:
    sh = shard(Script({1.0: [decision]}))
    results = drive(sh, {0.0: StepInput(0, couriers=[courier()], stores=[Store("s1", STORE)])}, 2)
    assert any(why in r for r in results[1].rejected)
    assert not sh.couriers()[0].route


def test_a_busy_courier_cannot_be_repositioned() -> None:
    sh = shard(Script({1.0: [Assignment.bundle("c1", ["o1"])], 2.0: [Assignment.reposition_to("c1", STORE_CELL)]}))
    results = drive(sh, {0.0: StepInput(0, couriers=[courier()], stores=[Store("s1", STORE)], orders=[order("o1", 0.0, 5.0)])}, 3)
    assert any("cannot be repositioned" in r for r in results[2].rejected)


def test_a_reposition_past_the_shift_end_takes_the_courier_off_shift_on_arrival() -> None:
    sh = shard(Script({2.0: [Assignment.reposition_to("c1", STORE_CELL)]}))
    results = drive(sh, {0.0: StepInput(0, couriers=[courier(off=6.0)], stores=[Store("s1", STORE)])}, 30)
    kinds = [k for k, _ in events(results, "c1")]
    assert kinds == ["idle", "move", "repositioned", "off_shift"]
    assert sh.couriers()[0].status == CourierStatus.OFF_SHIFT


def test_a_live_shard_suggests_a_reposition_and_leaves_the_courier_free() -> None:
    sh = shard(Script({1.0: [Assignment.reposition_to("c1", STORE_CELL)]}), LiveRegionShard)
    sh.step(StepInput(0, couriers=[courier()], stores=[Store("s1", STORE)]))
    result = sh.step(StepInput(1))
    c = sh.couriers()[0]
    assert result.rejected == [] and not sh.offers and not c.route and c.location == HOME
    assert [(e.type, e.data["cell"]) for e in result.events] == [("reposition", STORE_CELL)]


# -- the wrapper ----------------------------------------------------------------------------------

def world(policy) -> tuple[RegionShard, list[StepResult]]:
    sh = shard(policy)
    results = drive(sh, {0.0: StepInput(0, couriers=[courier()], stores=[Store("s1", STORE)]), 30.0: StepInput(30, orders=[order()])}, 90)
    return sh, results


def test_an_idle_courier_far_from_forecast_demand_moves_there_and_serves_sooner() -> None:
    plain, _ = world(GreedyPolicy())
    moved, results = world(Repositioning(GreedyPolicy(), forecast(), max_km=5.0))
    c = moved.couriers()[0]
    kinds = [k for k, _ in events(results, "c1")]
    assert kinds[:3] == ["idle", "move", "repositioned"]
    first = next(e for e in c.history if e.type == "move")
    assert first.time == 5.0 and first.data["destination"] == "h3:" + STORE_CELL  # idle 3+ min at the round of minute 5
    # without: leaves (0, 0) at 30, at the store at 43, picks up at 45, at the door at 57, hands over at 59
    assert plain.order("o1").picked_up_at == 45.0 and plain.order("o1").delivered_at == 59.0
    there = next(e for e in c.history if e.type == "repositioned")
    assert there.time == 5.0 + TRAVEL.minutes(HOME, TARGET) < 30.0
    # with: leaves the zone centre at 30, picks up as soon as it is there (the food is ready at 32)
    pickup = max(30.0 + TRAVEL.minutes(TARGET, STORE) + 2, 32.0)
    assert moved.order("o1").picked_up_at == pickup < 45.0
    assert moved.order("o1").delivered_at == pickup + 2 + 10 + 2 < plain.order("o1").delivered_at


def test_no_reposition_without_idle_couriers_or_gain() -> None:
    policy = Repositioning(GreedyPolicy(), forecast(), max_km=5.0)
    sh = shard(Script({}))
    sh.step(StepInput(0, couriers=[courier()], stores=[Store("s1", STORE)], orders=[order("o1", 0.0, 5.0)]))
    # idle for less than min_idle_minutes
    assert policy.plan(1.0, sh, []) == []
    # just given work by the inner policy
    assert policy.plan(10.0, sh, [Assignment.bundle("c1", ["o1"])]) == []
    # busy with a route
    sh._apply(Assignment.bundle("c1", ["o1"]), 1.0)
    assert policy.plan(10.0, sh, []) == []
    # idle, but the demand is beyond max_km, or already where it stands
    far = Repositioning(GreedyPolicy(), forecast(where=FRAME.location(20_000, 0)), max_km=5.0)
    here = Repositioning(GreedyPolicy(), forecast(where=HOME), max_km=5.0)
    idle = shard(Script({}))
    idle.step(StepInput(0, couriers=[courier()], stores=[Store("s1", STORE)]))
    assert far.plan(10.0, idle, []) == [] and here.plan(10.0, idle, []) == []
    # ... and it would move with demand in reach
    assert policy.plan(10.0, idle, []) == [Assignment.reposition_to("c1", STORE_CELL)]


def test_only_a_share_of_idle_couriers_moves_and_the_plan_is_deterministic() -> None:
    couriers = [courier(f"c{i}", FRAME.location(-200 * i, 0)) for i in range(1, 8)]
    sh = shard(Script({}))
    sh.step(StepInput(0, couriers=couriers, stores=[Store("s1", STORE)]))
    policy = Repositioning(GreedyPolicy(), forecast(n=200), max_km=6.0, max_share=0.3, min_gain=0.0)
    moves = policy.plan(10.0, sh, [])
    assert len(moves) == math.ceil(0.3 * 7) == 3
    assert moves == Repositioning(GreedyPolicy(), forecast(n=200), max_km=6.0, max_share=0.3, min_gain=0.0).plan(10.0, sh, [])
    assert all(m.stops == (("reposition", STORE_CELL),) for m in moves)
    assert [m.courier_id for m in moves] == ["c1", "c2", "c3"]  # the nearest: the same gain less the km cost


def test_rounds_come_every_few_minutes() -> None:
    policy = Repositioning(GreedyPolicy(), forecast(), every=5.0, max_km=5.0)
    world(policy)
    assert policy.rounds == len(range(0, 91, 5)) and policy.moves >= 1


def test_make_policy_wraps_greedy_and_ortools() -> None:
    fc = forecast().to_dict()
    greedy = make_policy("greedy", reposition=fc, release_lead=10)
    assert isinstance(greedy, Repositioning) and greedy.name == "greedy+reposition" and greedy.inner.release_lead == 10
    ortools = make_policy("ortools", reposition={"forecast": fc, "max_km": 2.0, "every": 10}, solutions=50)
    assert isinstance(ortools, Repositioning) and ortools.name == "ortools+reposition" and ortools.max_km == 2.0 and ortools.every == 10
    assert isinstance(make_policy("greedy", reposition=None), GreedyPolicy)
    assert isinstance(make_policy("greedy", reposition=False), GreedyPolicy)
    with pytest.raises(ValueError, match="resolved"):
        make_policy("greedy", reposition=True)
    with pytest.raises(ValueError, match="unknown reposition option"):
        make_policy("greedy", reposition={"forecast": fc, "radius": 3})
    spec = ShardSpec("greedy", TRAVEL, RULES, RES, policy_params=(("reposition", {"forecast": fc, "max_km": 5.0}),))
    built = pickle.loads(pickle.dumps(spec)).build(REGION)
    assert isinstance(built.policy, Repositioning) and built.policy.max_km == 5.0


def test_ortools_with_repositioning_serves_the_order_sooner() -> None:
    plain, _ = world(make_policy("ortools", solutions=100))
    moved, _ = world(make_policy("ortools", solutions=100, reposition={"forecast": forecast().to_dict(), "max_km": 5.0}))
    assert moved.order("o1").status == plain.order("o1").status == "delivered"
    assert moved.order("o1").delivered_at < plain.order("o1").delivered_at


def test_a_shard_with_repositioning_snapshots_and_restores() -> None:
    sh = shard(Repositioning(GreedyPolicy(), forecast(), max_km=5.0))
    drive(sh, {0.0: StepInput(0, couriers=[courier()], stores=[Store("s1", STORE)])}, 7)
    copy = RegionShard.restore(sh.snapshot())
    a = [sh.step(StepInput(t)).events for t in range(8, 30)]
    b = [copy.step(StepInput(t)).events for t in range(8, 30)]
    assert a == b


# -- MDRP files ---------------------------------------------------------------------------------

def test_mdrp_files_fold_repositions_into_the_next_real_move() -> None:
    from simulator.mdrp import _real_moves

    moves = [
        MoveRecord(0.0, "c1", "r1", 10.0),
        MoveRecord(20.0, "o1", "h3:87aaa", 25.0, True),
        MoveRecord(30.0, "h3:87aaa", "h3:87bbb", 33.0, True),
        MoveRecord(40.0, "h3:87bbb", "r2", 44.0),
        MoveRecord(50.0, "r2", "o2", 60.0),
        MoveRecord(70.0, "o2", "h3:87ccc", 75.0, True),
    ]
    assert _real_moves(moves) == [
        MoveRecord(0.0, "c1", "r1", 10.0),
        MoveRecord(20.0, "o1", "r2", 44.0),
        MoveRecord(50.0, "r2", "o2", 60.0),
    ]


def test_an_mdrp_day_with_repositioning_stays_feasible(tmp_path: Path) -> None:
    from simulator.engine import run_simulation
    from simulator.mdrp import read_mdrp, write_solution
    from simulator.mdrp_check import check_solution
    from tests.simulator.synthetic_mdrp import write_synthetic_mdrp

    day_dir = write_synthetic_mdrp(tmp_path / "day", orders=80, couriers=15)
    day = read_mdrp(day_dir)
    out = {}
    for name, params in (("plain", None), ("moved", {"reposition": {"forecast": True, "min_gain": 0.1, "max_share": 1.0, "max_km": 8.0}})):
        result = run_simulation(day, policy="greedy", policy_params=params)
        write_solution(tmp_path / name, result.assignments, result.orders, result.couriers)
        report = check_solution(day_dir, tmp_path / name)
        assert report.feasible, report.lines()
        out[name] = (result, report, (tmp_path / name / "solution_info_couriers.txt").read_text())
    result, report, couriers_file = out["moved"]
    assert result.meta["reposition"]["moves"] > 0 and result.meta["reposition"]["in_sample"] is True
    assert "h3:" not in couriers_file
    from dispatch.kpis import compute_kpis

    kpis = compute_kpis(result.orders, result.couriers, day.rules)["repositioning"]
    assert kpis["moves"] == result.meta["reposition"]["moves"] and kpis["minutes"] > 0
    assert report.orders_delivered == len(day.orders)
    assert "reposition" not in out["plain"][0].meta
