"""The ortools policy on tiny hand-checked cases (deterministic: a solution limit, not a time limit).

Same world as the greedy tests: one region, MdrpTravel at 320 m/min (1,600 m = 5 min), services of
4 minutes. The shard runs a no-op policy so ``OrtoolsPolicy.on_tick`` is called on it directly.
"""
from __future__ import annotations

from dispatch.courier import Courier
from dispatch.geo import PlanarFrame
from dispatch.modes import DeliveryMode, asap_window, scheduled_window
from dispatch.order import Order
from dispatch.ortools_policy import OrtoolsPolicy
from dispatch.policy import BasePolicy
from dispatch.region import RegionShard, StepInput
from dispatch.rules import ServiceRules
from dispatch.store import Store
from dispatch.travel import MdrpTravel
from dispatch.zones import region_of

FRAME = PlanarFrame()
RES = 4
REGION = region_of(FRAME.location(0, 0), RES)
RULES = ServiceRules(pickup_service=4, dropoff_service=4)


def policy(**params) -> OrtoolsPolicy:
    return OrtoolsPolicy(solutions=200, **params)


def world(couriers, orders, now: float = 0.0) -> RegionShard:
    shard = RegionShard(REGION, BasePolicy(), MdrpTravel(320), RULES, region_res=RES)
    stores = [Store("s1", FRAME.location(0, 0)), Store("s2", FRAME.location(6400, 0))]
    result = shard.step(StepInput(now, orders=list(orders), couriers=list(couriers), stores=stores))
    assert result.rejected == []
    return shard


def courier(cid: str, x: float, y: float, off: float = 480.0, capacity: int = 4) -> Courier:
    return Courier(cid, FRAME.location(x, y), 0.0, off, capacity)


def order(oid: str, ready: float, door=(0.0, 3200.0), store: str = "s1", placed: float = 0.0) -> Order:
    return Order(oid, store, FRAME.location(*door), placed, ready, asap_window(placed))


def test_two_orders_of_one_store_ride_together_when_one_courier_is_near() -> None:
    """c1 is at the store; c2 is 25 minutes away. Both orders are ready now, doors side by side."""
    shard = world([courier("c1", 0, 0), courier("c2", 8000, 0)], [order("o1", 0, (0, 3200)), order("o2", 0, (0, 3520))])
    decisions = policy().on_tick(0.0, shard)
    assert len(decisions) == 1
    (d,) = decisions
    assert d.courier_id == "c1"
    assert [k for k, _ in d.stops] == ["pickup", "pickup", "dropoff", "dropoff"]
    assert set(d.order_ids) == {"o1", "o2"}


def test_a_trip_is_committed_only_when_the_courier_must_leave() -> None:
    """The store is 5 minutes away and the food is ready at 20: leaving by 13 picks up at 20.

    With one-minute cycles the trip is committed at 12, the last cycle that is sure to be in time."""
    shard = world([courier("c1", 1600, 0)], [order("o1", ready=20)])
    p = policy()
    first = next(t for t in range(0, 21) if p.on_tick(float(t), shard))
    assert first == 12


def test_a_courier_whose_shift_ends_first_is_never_a_candidate() -> None:
    """c1 is closer but its shift ends before the food is ready; c2 takes the order."""
    shard = world([courier("c1", 0, 0, off=10), courier("c2", 3200, 0)], [order("o1", ready=15)])
    decisions = policy().on_tick(15.0, shard)
    assert [d.courier_id for d in decisions] == ["c2"]


def test_a_busy_courier_gets_its_next_trip_only_once_it_is_free() -> None:
    shard = world([courier("c1", 0, 0)], [order("o1", ready=0)])
    p = policy()
    first = p.on_tick(0.0, shard)
    for d in first:
        shard._apply(d, 0.0)
    assert [d.order_ids for d in first] == [("o1",)]
    shard.step(StepInput(1.0, orders=[order("o2", ready=1, placed=1)]))  # c1 is on its way until minute 16
    assert p.on_tick(1.0, shard) == []
    shard.step(StepInput(16.0))
    assert [d.courier_id for d in p.on_tick(16.0, shard)] == ["c1"]


def test_a_booked_order_waits_in_the_future_pool_until_its_lead_time() -> None:
    booked = Order("o1", "s1", FRAME.location(0, 3200), 0.0, 10.0, scheduled_window(0.0, 120.0, 150.0), DeliveryMode.SCHEDULED)
    shard = world([courier("c1", 0, 0)], [booked])
    p = policy(window_buffer=15.0)
    # lead = store-to-door 10 + services 8 + buffer 15 = 33: released at 87
    assert p.release_time(booked, shard) == 87.0
    assert p.on_tick(60.0, shard) == []
    decisions = []
    for t in range(87, 121):
        decisions = p.on_tick(float(t), shard)
        if decisions:
            break
    assert decisions and decisions[0].order_ids == ("o1",)


def test_whole_trip_respects_the_bag() -> None:
    """Capacity 1: the two orders cannot ride together, so the first trip carries one."""
    shard = world([courier("c1", 0, 0, capacity=1)], [order("o1", 0, (0, 3200)), order("o2", 0, (0, 3520))])
    (d,) = policy().on_tick(0.0, shard)
    assert len(d.order_ids) == 1 and [k for k, _ in d.stops] == ["pickup", "dropoff"]


def test_a_large_snapshot_is_split_into_clusters_with_their_own_couriers() -> None:
    """Stores at two ends of town: two clusters, each courier in exactly one, near its own orders."""
    from dispatch.ortools_policy import _clusters

    west = [order(f"w{i}", 0, store="s1") for i in range(30)]
    east = [order(f"e{i}", 0, (6400, 3200), store="s2") for i in range(30)]
    couriers = [courier("cw", 0, 100), courier("ce", 6400, 100)]
    shard = world(couriers, west + east)
    groups = _clusters(west + east, couriers, shard, max_orders=40)
    assert len(groups) == 2
    by_courier = {c.id: {o.store_id for o in orders} for orders, cs in groups for c in cs}
    assert by_courier == {"cw": {"s1"}, "ce": {"s2"}}
    assert sorted(o.id for orders, _ in groups for o in orders) == sorted(o.id for o in west + east)
    assert _clusters(west, couriers, shard, max_orders=40) == [(west, couriers)]


def test_couriers_who_are_no_orders_candidate_stay_out_of_the_problem() -> None:
    """Each order may go to its 2 nearest able couriers; the third courier could serve nothing, so
    the solver never sees it. The nearest-first order of the candidates is kept."""
    from dispatch.snapshot import CourierStart, SolverSnapshot
    from routing.problem import Weights

    orders = [order("o1", 0), order("o2", 0, store="s2")]
    couriers = [courier("far", 20000, 0), courier("c1", 0, 0), courier("c2", 6400, 320), courier("c3", 1600, 0)]
    shard = world(couriers, orders)
    starts = [CourierStart(c.id, c.location, 0.0, c.capacity, c.off_time) for c in couriers]
    snap = SolverSnapshot(orders, starts, lambda s: shard.store(s).location, shard.travel, RULES, Weights(), lambda o, d: 40.0,
                          candidates=2)
    assert [v.id for v in snap.problem.vehicles] == ["c1", "c2", "c3"]
    assert dict(snap.problem.allowed) == {"o1": ("c1", "c3"), "o2": ("c2", "c3")}
    assert snap.problem.size == 3 + 2 + 2  # couriers, stores, doors
    assert snap.reach("c3", "s1") == 5.0


def test_the_warm_start_rides_a_new_order_along_with_a_planned_pickup_at_its_store() -> None:
    """Last cycle planned o1 (store s1) for c1; o2 at the same store, next door to o1, is inserted
    into c1's trip rather than given its own trip: a complete, cheap start for a short search.
    o3 at the far store s2 goes to c2, who stands there."""
    from dispatch.ortools_policy import _insertions, _seed
    from dispatch.snapshot import CourierStart, SolverSnapshot
    from routing.problem import StopKind, Weights

    P, D = StopKind.PICKUP, StopKind.DROPOFF
    orders = [order("o1", 0, (0, 3200)), order("o2", 0, (0, 3520)), order("o3", 0, (6400, 3200), store="s2")]
    couriers = [courier("c1", 0, 0), courier("c2", 6400, 0)]
    shard = world(couriers, orders)
    starts = [CourierStart(c.id, c.location, 0.0, c.capacity, c.off_time) for c in couriers]
    snap = SolverSnapshot(orders, starts, lambda s: shard.store(s).location, shard.travel, RULES, Weights(lateness=3),
                          lambda o, d: d + 4.0, candidates=2)
    routes = _seed(snap, {"c1": [("o1", P), ("o1", D)]})
    assert routes["c1"][0] == ("o1", P) and sorted(routes["c1"]) == sorted([("o1", P), ("o1", D), ("o2", P), ("o2", D)])
    assert routes["c1"].index(("o2", P)) == 1  # picked up with o1, before either drop-off
    assert routes["c2"] == [("o3", P), ("o3", D)]
    # the places a new order may take in a two-trip route: before, between, after the trips, or
    # riding along with a pickup at its own store (drop-off anywhere before that trip ends)
    requests = {r.id: r for r in snap.problem.requests}
    trial = _insertions([("o1", P), ("o1", D), ("o3", P), ("o3", D)], ("o2", P), ("o2", D), requests["o1"].pickup.location, requests)
    assert [("o2", P), ("o2", D), ("o1", P), ("o1", D), ("o3", P), ("o3", D)] in trial
    assert [("o1", P), ("o1", D), ("o3", P), ("o3", D), ("o2", P), ("o2", D)] in trial
    assert [("o1", P), ("o2", P), ("o1", D), ("o2", D), ("o3", P), ("o3", D)] in trial
    assert [("o1", P), ("o2", P), ("o2", D), ("o1", D), ("o3", P), ("o3", D)] in trial
    assert len(trial) == 3 + 2
