"""Shared helpers for the routing tests: tiny instance builders, a seeded random generator, and an
independent plan checker (written apart from the solver, so it does not share its mistakes)."""
from __future__ import annotations

import numpy as np

from routing.problem import CommittedStop, Plan, Problem, Request, Stop, StopKind, Vehicle, Weights


def line_matrix(points: list[int]) -> tuple[tuple[int, ...], ...]:
    """Travel on a line: |a - b| between the points' coordinates (a metric, hand-checkable)."""
    return tuple(tuple(abs(a - b) for b in points) for a in points)


def random_problem(
    n_vehicles: int,
    n_requests: int,
    seed: int = 0,
    size: int = 100,
    capacity: int = 4,
    allowed: int | None = None,
    deadlines: bool = False,
    onboard: int = 0,
    committed: int = 0,
    weights: Weights = Weights(travel=1, lateness=2, unassigned=100_000),
) -> Problem:
    """Couriers and orders on a ``size`` x ``size`` square (Euclidean travel, rounded up).

    Orders are ready at a random time in the next hour (pickup window 60 long, service 2),
    promised 40 after ready, hard drop-off latest 120 after ready. ``allowed``: each order's
    ``allowed`` nearest couriers only. ``deadlines``: every courier has a pickup deadline in
    [30, 90). ``onboard``: that many extra orders already on board of random couriers.
    ``committed``: that many couriers committed to picking up one of the orders first.
    """
    rng = np.random.default_rng(seed)
    n_loc = n_vehicles + 2 * (n_requests + onboard)
    xy = rng.uniform(0, size, (n_loc, 2))
    m = np.ceil(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))).astype(np.int64)
    carried: list[list[str]] = [[] for _ in range(n_vehicles)]
    requests = []
    for j in range(n_requests):
        ready = int(rng.integers(0, 60))
        p, d = n_vehicles + 2 * j, n_vehicles + 2 * j + 1
        requests.append(
            Request(f"r{j}", Stop(p, ready, ready + 60, 2), Stop(d, 0, ready + 120, 2), promise=ready + 40, size=int(rng.integers(1, 3)))
        )
    for j in range(onboard):
        d = n_vehicles + 2 * (n_requests + j) + 1
        k = int(rng.integers(0, n_vehicles))
        requests.append(Request(f"b{j}", None, Stop(d, 0, 200, 2), promise=60, size=1))
        carried[k].append(f"b{j}")
    commit: dict[int, tuple[CommittedStop, ...]] = {}
    for k, j in zip(rng.permutation(n_vehicles)[:committed], rng.permutation(n_requests)[:committed]):
        commit[int(k)] = (CommittedStop(f"r{j}", StopKind.PICKUP),)
    vehicles = [
        Vehicle(
            f"v{k}", k, 0, capacity + len(carried[k]),
            pickup_deadline=int(rng.integers(30, 90)) if deadlines else None,
            onboard=tuple(carried[k]), committed=commit.get(k, ()),
        )
        for k in range(n_vehicles)
    ]
    allow: tuple = ()
    if allowed is not None:
        rows = []
        for r in requests[:n_requests]:
            assert r.pickup is not None
            near = np.argsort(m[:n_vehicles, r.pickup.location], kind="stable")[:allowed]
            rows.append((r.id, tuple(f"v{k}" for k in near)))
        allow = tuple(rows)
    return Problem(tuple(map(tuple, m.tolist())), tuple(vehicles), tuple(requests), weights, allow)


def check_plan(problem: Problem, plan: Plan) -> None:
    """Raise AssertionError on any broken rule: every request exactly once (served or unassigned),
    pickup before drop-off on one vehicle, windows, capacity, pickup deadlines, end times,
    committed stops first and in order, on-board requests on their vehicle, candidates respected,
    times consistent (arrival = previous departure + travel, start = max(arrival, earliest)),
    and the objective's parts."""
    m = problem.matrix
    reqs = {r.id: r for r in problem.requests}
    vehicles = {v.id: v for v in problem.vehicles}
    allowed = dict(problem.allowed)
    served: dict[str, str] = {}
    left_out = {u.request_id for u in plan.unassigned}
    for route in plan.routes:
        v = vehicles[route.vehicle_id]
        assert route.visits, f"{v.id}: an empty route is listed"
        committed = [(c.request_id, c.kind) for c in v.committed]
        head = [(x.request_id, x.kind) for x in route.visits[: len(committed)]]
        assert head == committed, f"{v.id}: committed stops not first and in order"
        loc, t = v.start, v.start_time
        load = sum(reqs[r].size for r in v.onboard)
        aboard = set(v.onboard)
        travel = 0
        for n, x in enumerate(route.visits):
            r = reqs[x.request_id]
            stop = r.pickup if x.kind == StopKind.PICKUP else r.dropoff
            assert stop is not None, f"{x.request_id}: a pickup visit for an on-board request"
            assert x.location == stop.location
            assert x.arrival == t + m[loc][stop.location], f"{v.id} {x}: arrival != previous departure + travel"
            assert x.start == max(x.arrival, stop.earliest), f"{v.id} {x}: not the earliest start"
            assert x.departure == x.start + stop.service
            is_committed = n < len(committed)
            if not is_committed:
                assert x.start <= stop.latest, f"{v.id} {x}: after its latest {stop.latest}"
            if x.kind == StopKind.PICKUP:
                assert x.request_id not in aboard and x.request_id not in served
                if not is_committed:
                    if v.pickup_deadline is not None:
                        assert x.start <= v.pickup_deadline, f"{v.id} {x}: pickup after the deadline {v.pickup_deadline}"
                    if x.request_id in allowed:
                        assert v.id in allowed[x.request_id], f"{x.request_id} on {v.id}, not a candidate"
                aboard.add(x.request_id)
                load += r.size
                if not is_committed:
                    assert load <= v.capacity, f"{v.id}: load {load} > capacity {v.capacity} at {x}"
            else:
                assert x.request_id in aboard, f"{v.id}: drop-off of {x.request_id} before its pickup / on another vehicle"
                aboard.discard(x.request_id)
                load -= r.size
                served[x.request_id] = v.id
                assert plan.eta[x.request_id] == x.start
            travel += m[loc][stop.location]
            loc, t = stop.location, x.departure
        carried = set(v.onboard) | {c.request_id for c in v.committed if c.kind == StopKind.PICKUP}
        assert aboard <= left_out & carried, f"{v.id}: ends with {aboard - left_out} still on board"
        if v.end is not None:
            travel += m[loc][v.end]
            t += m[loc][v.end]
        if v.end_time is not None:
            assert t <= v.end_time, f"{v.id}: finishes at {t} > end time {v.end_time}"
        assert route.travel == travel
    for v in problem.vehicles:
        for rid in v.onboard:
            if rid in served:
                assert served[rid] == v.id, f"on-board {rid} delivered by {served[rid]}, not {v.id}"
    unassigned = [u.request_id for u in plan.unassigned]
    assert len(unassigned) == len(set(unassigned))
    assert set(unassigned).isdisjoint(served), "a request is both served and unassigned"
    assert set(unassigned) | set(served) == set(reqs), "a request is neither served nor unassigned"
    assert set(plan.eta) == set(served)
    for rid, late in plan.lateness.items():
        assert late == max(0, plan.eta[rid] - reqs[rid].promise)  # type: ignore[operator]
    assert plan.objective.unassigned == len(unassigned)
    assert plan.objective.vehicles == len(plan.routes)
    assert plan.objective.travel == sum(r.travel for r in plan.routes)
    assert plan.objective.lateness == sum(plan.lateness.values())


def weighted_total(problem: Problem, plan: Plan, onboard_penalty: int = 0) -> int:
    """The plan's cost recomputed from its parts: what ``Objective.total`` must equal.
    On-board requests the solver left out (not those classified before solving) cost ``onboard_penalty``."""
    w = problem.weights
    vehicles = {v.id: v for v in problem.vehicles}
    fixed = sum(vehicles[r.vehicle_id].fixed_cost + w.vehicle for r in plan.routes)
    o = plan.objective
    onboard_ids = {rid for v in problem.vehicles for rid in v.onboard}
    onboard_ids |= {c.request_id for v in problem.vehicles for c in v.committed if c.kind == StopKind.PICKUP}
    dropped_onboard = sum(1 for u in plan.unassigned if u.request_id in onboard_ids and "together" in u.detail)
    return (
        w.travel * o.travel + w.lateness * o.lateness + w.unassigned * (o.unassigned - dropped_onboard)
        + onboard_penalty * dropped_onboard + fixed
    )
