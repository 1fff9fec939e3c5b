"""An independent feasibility check of a Plan against its Problem (written apart from the solver)."""
from __future__ import annotations

from routing.problem import Plan, Problem, StopKind


def check_plan(problem: Problem, plan: Plan) -> None:
    """Raise AssertionError on any broken rule: every request exactly once (served or unassigned),
    pickup before drop-off on one vehicle, windows, capacity, pickup deadlines, end times,
    committed stops first and in order, on-board requests on their vehicle, times consistent."""
    m = problem.matrix
    reqs = {r.id: r for r in problem.requests}
    vehicles = {v.id: v for v in problem.vehicles}
    allowed = dict(problem.allowed)
    served: dict[str, str] = {}
    for route in plan.routes:
        v = vehicles[route.vehicle_id]
        assert route.visits, f"{v.id}: an empty route is listed"
        committed = [(c.request_id, c.kind) for c in v.committed]
        assert [(x.request_id, x.kind) for x in route.visits[: len(committed)]] == committed, f"{v.id}: committed stops not first and in order"
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
        assert not aboard, f"{v.id}: ends with {aboard} still on board"
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
        assert late == max(0, plan.eta[rid] - reqs[rid].promise)
    assert plan.objective.unassigned == len(unassigned)
    assert plan.objective.vehicles == len(plan.routes)
    assert plan.objective.travel == sum(r.travel for r in plan.routes)
    assert plan.objective.lateness == sum(plan.lateness.values())


def weighted_total(problem: Problem, plan: Plan) -> int:
    """The plan's cost recomputed from its parts: what ``Objective.total`` must equal."""
    w = problem.weights
    vehicles = {v.id: v for v in problem.vehicles}
    fixed = sum(vehicles[r.vehicle_id].fixed_cost + w.vehicle for r in plan.routes)
    o = plan.objective
    return w.travel * o.travel + w.lateness * o.lateness + w.unassigned * o.unassigned + fixed
