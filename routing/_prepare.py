"""Everything ``solve`` does before OR-Tools: checks, committed prefixes, who could serve what.

Pure numpy and plain Python. The result, a ``Prepared``, tells the model builder which requests
it routes (optional pairs, and on-board drop-offs pinned to their vehicle), on which candidate
vehicles, from where and when each vehicle starts once its committed stops are done, and which
requests are left out up front with their ``Reason``.

Assumption shared by the pruning and by ``Reason.UNREACHABLE``: the matrix obeys the triangle
inequality (a detour through other stops never arrives earlier than going straight), so a
vehicle that cannot serve a request even alone, going straight from its start, never can.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from routing.problem import Problem, Reason, Request, StopKind, Unassigned, Visit

INF = np.iinfo(np.int64).max // 4  # "no bound"; sums of a few of these stay inside int64


@dataclass
class Prepared:
    """The snapshot after the committed prefixes, ready for the model (indices, not ids)."""

    matrix: np.ndarray  # (n, n) int64, the problem's matrix
    # per vehicle, after its committed stops
    start_loc: np.ndarray  # (V,) int64
    start_time: np.ndarray  # (V,) int64: departure from the last committed stop (or start_time)
    load: np.ndarray  # (V,) int64: on board after the committed stops
    capacity: np.ndarray  # (V,) int64
    deadline: np.ndarray  # (V,) int64: pickup deadline, INF when none
    end_loc: np.ndarray  # (V,) int64, -1 for an open route
    end_time: np.ndarray  # (V,) int64, INF when none
    fixed_cost: np.ndarray  # (V,) int64: fixed_cost + weights.vehicle
    prefix: list[list[Visit]]  # committed visits with their forward-pass times
    prefix_travel: list[int]
    # requests
    optional: list[int]  # request indices routed as optional pickup-and-delivery pairs
    candidates: dict[int, np.ndarray]  # optional request -> vehicle indices that may serve it
    onboard: list[tuple[int, int]]  # (request index, vehicle index): on board, drop-off only, pinned
    served_in_prefix: dict[int, int]  # request index -> drop-off start in a committed prefix
    unassigned: dict[int, Unassigned] = field(default_factory=dict)  # left out before solving


def _matrix(problem: Problem) -> np.ndarray:
    m = np.asarray(problem.matrix, dtype=np.int64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"the matrix must be square, got shape {m.shape}")
    if m.size and m.min() < 0:
        raise ValueError("the matrix has negative travel times")
    return m


def prepare(problem: Problem) -> Prepared:
    """Check the snapshot, run the committed prefixes, classify what no vehicle could serve."""
    m = _matrix(problem)
    n = m.shape[0]
    vehicles, requests = problem.vehicles, problem.requests
    V = len(vehicles)
    req_index: dict[str, int] = {}
    for i, r in enumerate(requests):
        if r.id in req_index:
            raise ValueError(f"duplicate request id {r.id!r}")
        req_index[r.id] = i
        if r.size < 0:
            raise ValueError(f"request {r.id!r} has a negative size")
        for stop in (r.pickup, r.dropoff):
            if stop is not None:
                if not 0 <= stop.location < n:
                    raise ValueError(f"request {r.id!r}: location {stop.location} is outside the {n}x{n} matrix")
                if stop.service < 0:
                    raise ValueError(f"request {r.id!r}: negative service time")
    veh_index: dict[str, int] = {}
    for k, v in enumerate(vehicles):
        if v.id in veh_index:
            raise ValueError(f"duplicate vehicle id {v.id!r}")
        veh_index[v.id] = k
        for loc in (v.start, v.end):
            if loc is not None and not 0 <= loc < n:
                raise ValueError(f"vehicle {v.id!r}: location {loc} is outside the {n}x{n} matrix")
        if v.capacity < 0:
            raise ValueError(f"vehicle {v.id!r} has a negative capacity")
        if v.start_time < 0:
            raise ValueError(f"vehicle {v.id!r} has a negative start time (times are non-negative units)")

    # who carries what before the committed stops
    carried_by: dict[int, int] = {}
    for k, v in enumerate(vehicles):
        for rid in v.onboard:
            i = req_index.get(rid)
            if i is None:
                raise ValueError(f"vehicle {v.id!r} carries unknown request {rid!r}")
            if i in carried_by:
                raise ValueError(f"request {rid!r} is on board of both {vehicles[carried_by[i]].id!r} and {v.id!r}")
            if requests[i].pickup is not None:
                raise ValueError(f"request {rid!r} is on board of {v.id!r} but still has a pickup stop")
            carried_by[i] = k
    for i, r in enumerate(requests):
        if r.pickup is None and i not in carried_by:
            raise ValueError(f"request {r.id!r} has no pickup (on board) but no vehicle carries it")

    # committed prefixes: a forward pass from start/start_time
    start_loc = np.array([v.start for v in vehicles], dtype=np.int64)
    start_time = np.array([v.start_time for v in vehicles], dtype=np.int64)
    load = np.zeros(V, dtype=np.int64)
    prefix: list[list[Visit]] = []
    prefix_travel: list[int] = []
    picked_in_prefix: set[int] = set()
    served_in_prefix: dict[int, int] = {}
    onboard_after: dict[int, int] = {}  # request -> vehicle, after the prefixes
    for k, v in enumerate(vehicles):
        aboard = {i for i, kk in carried_by.items() if kk == k}
        load[k] = sum(requests[i].size for i in aboard)
        loc, t, travel = v.start, v.start_time, 0
        visits: list[Visit] = []
        for cs in v.committed:
            i = req_index.get(cs.request_id)
            if i is None:
                raise ValueError(f"vehicle {v.id!r} has a committed stop for unknown request {cs.request_id!r}")
            r = requests[i]
            if cs.kind == StopKind.PICKUP:
                if r.pickup is None or i in picked_in_prefix:
                    raise ValueError(f"vehicle {v.id!r}: committed pickup of {r.id!r}, which is already picked up")
                picked_in_prefix.add(i)
                aboard.add(i)
                stop = r.pickup
                load[k] += r.size
            elif cs.kind == StopKind.DROPOFF:
                if i not in aboard:
                    raise ValueError(
                        f"vehicle {v.id!r}: committed drop-off of {r.id!r}, whose pickup is neither on board nor committed before it"
                    )
                aboard.discard(i)
                stop = r.dropoff
                load[k] -= r.size
            else:  # pragma: no cover - StopKind has two members
                raise ValueError(f"unknown stop kind {cs.kind!r}")
            leg = int(m[loc, stop.location])
            arrival = t + leg
            start = max(arrival, stop.earliest)
            t = start + stop.service
            travel += leg
            loc = stop.location
            visits.append(Visit(r.id, StopKind(cs.kind), stop.location, arrival, start, t))
            if cs.kind == StopKind.DROPOFF:
                served_in_prefix[i] = start
        prefix.append(visits)
        prefix_travel.append(travel)
        start_loc[k], start_time[k] = loc, t
        for i in aboard:
            onboard_after[i] = k

    capacity = np.array([v.capacity for v in vehicles], dtype=np.int64)
    deadline = np.array([INF if v.pickup_deadline is None else v.pickup_deadline for v in vehicles], dtype=np.int64)
    end_loc = np.array([-1 if v.end is None else v.end for v in vehicles], dtype=np.int64)
    end_time = np.array([INF if v.end_time is None else v.end_time for v in vehicles], dtype=np.int64)
    w = problem.weights
    fixed_cost = np.array([v.fixed_cost + w.vehicle for v in vehicles], dtype=np.int64)

    # candidate vehicles (``allowed``): unknown vehicle ids are ignored (that vehicle is gone)
    allowed: dict[int, np.ndarray] = {}
    for rid, vids in problem.allowed:
        i = req_index.get(rid)
        if i is None:
            continue
        if i in allowed:
            raise ValueError(f"request {rid!r} appears twice in allowed")
        allowed[i] = np.array(sorted({veh_index[x] for x in vids if x in veh_index}), dtype=np.int64)

    prepared = Prepared(
        matrix=m, start_loc=start_loc, start_time=start_time, load=load, capacity=capacity, deadline=deadline,
        end_loc=end_loc, end_time=end_time, fixed_cost=fixed_cost, prefix=prefix, prefix_travel=prefix_travel,
        optional=[], candidates={}, onboard=[], served_in_prefix=served_in_prefix,
    )
    _classify_onboard(problem, prepared, onboard_after)
    optional = [i for i, r in enumerate(requests) if i not in onboard_after and i not in served_in_prefix and i not in picked_in_prefix]
    _classify_optional(problem, prepared, optional, allowed)
    return prepared


def _finish_ok(p: Prepared, drop_loc: np.ndarray, finish: np.ndarray, vehicles: np.ndarray) -> np.ndarray:
    """Whether each vehicle, leaving the drop-off at ``finish``, meets its end time (and reaches its end)."""
    closed = p.end_loc[vehicles] >= 0
    back = np.where(closed, p.matrix[drop_loc, np.where(closed, p.end_loc[vehicles], 0)], 0)
    return finish + back <= p.end_time[vehicles]


def _classify_onboard(problem: Problem, p: Prepared, onboard_after: dict[int, int]) -> None:
    """On-board requests go to their vehicle only, unless even going straight there fails."""
    for i, k in sorted(onboard_after.items()):
        r = problem.requests[i]
        d = r.dropoff
        arrival = int(p.start_time[k] + p.matrix[p.start_loc[k], d.location])
        start = max(arrival, d.earliest)
        ok = start <= d.latest and bool(_finish_ok(p, np.array([d.location]), np.array([start + d.service]), np.array([k]))[0])
        if ok:
            p.onboard.append((i, k))
        else:
            vid = problem.vehicles[k].id
            why = (
                f"on board of {vid!r}: going straight there it starts the drop-off at {start}, after its latest {d.latest}"
                if start > d.latest
                else f"on board of {vid!r}: delivering it first already misses the vehicle's end time {problem.vehicles[k].end_time}"
            )
            p.unassigned[i] = Unassigned(r.id, Reason.UNREACHABLE, why + "; it stays on board, left out of the plan")


def _classify_optional(problem: Problem, p: Prepared, optional: list[int], allowed: dict[int, np.ndarray]) -> None:
    """Per request: candidates -> big enough -> able to do it alone going straight. Vectorised over (R, V)."""
    V = len(problem.vehicles)
    R = len(optional)
    if R == 0:
        return
    reqs = [problem.requests[i] for i in optional]
    size = np.array([r.size for r in reqs], dtype=np.int64)
    pl = np.array([r.pickup.location for r in reqs], dtype=np.int64)  # type: ignore[union-attr]
    pe = np.array([r.pickup.earliest for r in reqs], dtype=np.int64)  # type: ignore[union-attr]
    pL = np.array([r.pickup.latest for r in reqs], dtype=np.int64)  # type: ignore[union-attr]
    ps = np.array([r.pickup.service for r in reqs], dtype=np.int64)  # type: ignore[union-attr]
    dl = np.array([r.dropoff.location for r in reqs], dtype=np.int64)
    de = np.array([r.dropoff.earliest for r in reqs], dtype=np.int64)
    dL = np.array([r.dropoff.latest for r in reqs], dtype=np.int64)
    ds = np.array([r.dropoff.service for r in reqs], dtype=np.int64)

    cand = np.ones((R, V), dtype=bool)
    for row, i in enumerate(optional):
        if i in allowed:
            cand[row] = False
            cand[row, allowed[i]] = True
    big = cand & (size[:, None] <= p.capacity[None, :])
    m = p.matrix
    p_start = np.maximum(p.start_time[None, :] + m[p.start_loc[None, :], pl[:, None]], pe[:, None])  # (R, V)
    d_start = np.maximum(p_start + (ps + m[pl, dl])[:, None], de[:, None])
    finish = d_start + ds[:, None]
    closed = p.end_loc >= 0
    back = np.where(closed[None, :], m[dl[:, None], np.where(closed, p.end_loc, 0)[None, :]], 0)
    time_ok = (
        (p_start <= pL[:, None])
        & (p_start <= p.deadline[None, :])
        & (d_start <= dL[:, None])
        & (finish + back <= p.end_time[None, :])
    )
    ok = big & time_ok
    for row, i in enumerate(optional):
        r = reqs[row]
        if ok[row].any():
            p.optional.append(i)
            p.candidates[i] = np.flatnonzero(ok[row])
            continue
        if not cand[row].any():
            p.unassigned[i] = Unassigned(r.id, Reason.NO_VEHICLE, "no candidate vehicle")
        elif not big[row].any():
            top = int(p.capacity[cand[row]].max())
            p.unassigned[i] = Unassigned(r.id, Reason.TOO_LARGE, f"size {r.size} > largest candidate capacity {top}")
        else:
            detail = _unreachable_detail(problem, r, big[row], p_start[row], d_start[row], p, finish[row] + back[row])
            p.unassigned[i] = Unassigned(r.id, Reason.UNREACHABLE, detail)


def _unreachable_detail(
    problem: Problem, r: Request, big: np.ndarray, p_start: np.ndarray, d_start: np.ndarray, p: Prepared, done: np.ndarray
) -> str:
    """Name the first constraint that the candidate able to start the pickup soonest breaks."""
    ks = np.flatnonzero(big)
    k = int(ks[np.argmin(p_start[ks])])
    assert r.pickup is not None
    head = f"{len(ks)} candidate(s); the soonest, {problem.vehicles[k].id!r}: "
    if p_start[k] > r.pickup.latest:
        return head + f"pickup start {int(p_start[k])} > its latest {r.pickup.latest}"
    if p_start[k] > p.deadline[k]:
        return head + f"pickup start {int(p_start[k])} > the vehicle's pickup deadline {int(p.deadline[k])}"
    if d_start[k] > r.dropoff.latest:
        return head + f"drop-off start {int(d_start[k])} > its latest {r.dropoff.latest}"
    return head + f"it would finish at {int(done[k])} > its end time {int(p.end_time[k])}"
