"""``solve(problem, budget) -> Plan``: the OR-Tools routing model behind dispatch.

A pure function: an immutable ``Problem`` in, a ``Plan`` out, nothing kept between calls.

The model (node arrays built with numpy; see ``_build`` for why the time transit is a Python
callback in 9.15.6755 while the arc cost is a registered matrix):

- nodes: per vehicle a start node (where it is free once its committed stops are done) and an
  end node (its ``end``, or a dummy at zero travel from everything for an open route); per routed
  request a pickup node and a drop-off node (only a drop-off when it is on board);
- cost: travel x ``weights.travel`` on arcs, ``fixed_cost + weights.vehicle`` per used vehicle,
  ``weights.lateness`` per unit of drop-off start after the promise (a soft upper bound on the
  time cumul), ``weights.unassigned`` per request left out;
- "time" dimension: transit(i, j) = service(i) + travel(i, j), waiting allowed (slack), windows on
  service start, start cumul fixed to the vehicle's free time, ``end_time`` on the end cumul;
- "load" dimension: +size at pickups, -size at drop-offs, per-vehicle capacity, start cumul = the
  load on board after the committed stops;
- pairs: ``AddPickupAndDelivery`` + same vehicle + pickup time <= drop-off time. Each pair is
  optional: one singleton disjunction per node, the penalty split in two halves (the pattern of
  OR-Tools' own PDPTW example; pair operators such as MakePairActive/PairRelocate work on it);
  candidates with ``VehicleVar(i).SetValues([-1, *allowed])`` on both nodes
  (``SetAllowedVehiclesForIndex`` raises a TypeError in 9.15.6755);
- on-board drop-offs: pinned with ``VehicleVar(d).SetValues([-1, v])`` and a disjunction whose
  penalty (``onboard_penalty``) exceeds leaving every other request out, so the solver drops one
  only when it cannot be served at all. Not mandatory nodes: the insertion heuristics fail on
  pinned mandatory nodes (measured here), and two on-board orders that cannot both meet their
  windows would make the whole region infeasible (seen on random instances);
- pickup deadlines, exactly and visible to the local-search filters: when some candidate's
  deadline can bind, every pickup's time cumul is shifted up by a constant OFFSET (added on arcs
  into a pickup, removed on arcs out of it) and the time dimension's per-vehicle capacity is
  ``OFFSET + pickup_deadline``. A pickup's cumul is then ``start + OFFSET <= OFFSET + deadline``;
  every other cumul is a plain time <= horizon < OFFSET, so only pickups feel the deadline. No
  extra CP constraint (which the filters would not see) is needed.

Committed stops are not in the model: ``_prepare`` runs them forward from the vehicle's start and
the vehicle starts its model route at the last committed stop, when it leaves it.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from routing._prepare import INF, Prepared, prepare
from routing.problem import (
    Budget,
    Objective,
    Plan,
    Problem,
    Reason,
    Route,
    SolverOptions,
    SolverStats,
    StopKind,
    Unassigned,
    Visit,
)

log = logging.getLogger(__name__)

FALLBACK_FIRST_SOLUTION = "LOCAL_CHEAPEST_INSERTION"  # when the chosen strategy finds nothing (it happens with pinned nodes)
SAFETY_SECONDS = 300.0  # a time limit even when the budget has only a solution limit: always set one
_RESERVE = 0.02  # share of the budget kept back from the search
ACCEPT_START_SECONDS = 1.0  # time limit to take a warm start as it is when the budget left none for the search
_TEARDOWN_SHARE = 0.5  # reading the plan and freeing the model take about half the build time (measured)


@dataclass
class _Model:
    """The node layout and the arrays the search and the read-back share."""

    V: int
    loc: np.ndarray  # (N,) matrix index per node, -1 for an open route's dummy end
    service: np.ndarray  # (N,)
    is_pickup: np.ndarray  # (N,) bool
    request: np.ndarray  # (N,) request index, -1 for starts and ends
    offset: int  # added to pickup cumuls (0 when no deadline can bind)
    key_to_node: dict[tuple[int, StopKind], int]  # (request, kind) -> node
    pair_of: dict[int, tuple[int, int]]  # optional request -> (pickup node, drop-off node)
    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    time_dim: pywrapcp.RoutingDimension
    horizon: int
    capacity: np.ndarray  # (V,) capacity used in the model
    keep: object  # the Python transit callback: must outlive the search


def solve(
    problem: Problem,
    budget: Budget = Budget(),
    initial: dict[str, list[tuple[str, StopKind]]] | None = None,
    options: SolverOptions = SolverOptions(),
) -> Plan:
    """Plan routes for ``problem`` within ``budget``; warm-start from ``initial`` routes when given.

    When building the model leaves the search no time, a feasible warm start is returned as it is
    (the call then overruns the budget by the few milliseconds that takes) rather than no plan.

    Raises ``ValueError`` for an inconsistent snapshot (unknown or duplicate ids, a committed
    drop-off whose pickup is neither on board nor committed before it, an unknown strategy name).
    """
    t0 = time.perf_counter()
    first_name = options.first_solution.upper()
    meta_name = options.metaheuristic.upper()
    if first_name not in routing_enums_pb2.FirstSolutionStrategy.Value.keys():
        raise ValueError(f"unknown first solution strategy {options.first_solution!r}")
    if meta_name not in routing_enums_pb2.LocalSearchMetaheuristic.Value.keys():
        raise ValueError(f"unknown metaheuristic {options.metaheuristic!r}")
    seconds = budget.seconds if budget.seconds is not None else SAFETY_SECONDS

    prep = prepare(problem)
    if not prep.optional and not prep.onboard:
        build = time.perf_counter() - t0
        stats = SolverStats("TRIVIAL", time.perf_counter() - t0, first_name, meta_name, 0, False, build, None)
        return _plan_without_model(problem, prep, stats, failed=False)

    if first_name == "AUTOMATIC":
        # OR-Tools would pick PARALLEL_CHEAPEST_INSERTION for pickup-and-delivery. Measured here:
        # with on-board drop-offs pinned to their vehicle it leaves many out of its first solution
        # (12 of 20 at 150 vehicles / 400 requests, only 2 of them truly infeasible; GLS had not
        # put them back after 1 s), and it is 2.5-3.5x slower to a first solution (0.45 s vs
        # 0.17 s at 150/400, 1.7 s vs 0.49 s at 300/700); after 1 s of GLS neither wins more
        # often (12 to 12 on 24 random instances).
        first_name = "LOCAL_CHEAPEST_INSERTION"
    model = _build(problem, prep)
    routing = model.routing
    found: list[float] = []
    routing.AddAtSolutionCallback(lambda: found.append(time.perf_counter()))
    # Closed with a generous time limit: ReadAssignmentFromRoutes runs under the model's limit and
    # would otherwise reject a good warm start when the budget is a few milliseconds (each search
    # below sets its own limit).
    routing.CloseModelWithParameters(_search_parameters(first_name, meta_name, budget, options, max(seconds, ACCEPT_START_SECONDS)))
    build = time.perf_counter() - t0
    # Keep back time for reading the plan and for freeing the model (both grow with its size, as
    # building does): the search stops at the deadline, the call returns within the budget.
    deadline = t0 + seconds * (1.0 - _RESERVE) - _TEARDOWN_SHARE * build

    solution = None
    warm = False
    if initial:
        start = routing.ReadAssignmentFromRoutes(_initial_routes(problem, prep, model, initial), True)
        if start is not None:
            params = _search_parameters(first_name, meta_name, budget, options, deadline - time.perf_counter())
            solution = routing.SolveFromAssignmentWithParameters(start, params)
            if solution is None:
                # The budget ran out before the search took the start as its first solution (a tight
                # budget, or a large model slow to build; measured: 2 of 3 solves at 1 ms left). The
                # start is feasible: keep it as it is rather than return no plan at all. Accepting it
                # takes a few milliseconds (p90 20-40 ms at 250-600 nodes), beyond the budget.
                params = _search_parameters(first_name, meta_name, budget, options, ACCEPT_START_SECONDS)
                params.solution_limit = 1
                solution = routing.SolveFromAssignmentWithParameters(start, params)
            warm = solution is not None
        else:
            log.info("warm start rejected (infeasible initial routes): solving from scratch")
    used_first = first_name
    if solution is None:
        params = _search_parameters(first_name, meta_name, budget, options, deadline - time.perf_counter())
        solution = _from_scratch(routing, params, found)
    if solution is None and first_name != FALLBACK_FIRST_SOLUTION and deadline - time.perf_counter() > 0.005:
        log.info("%s found no first solution (status %s); retrying with %s", first_name, _status(routing), FALLBACK_FIRST_SOLUTION)
        used_first = FALLBACK_FIRST_SOLUTION
        params = _search_parameters(used_first, meta_name, budget, options, deadline - time.perf_counter())
        solution = _from_scratch(routing, params, found)
    stats = SolverStats(
        status=_status(routing),
        wall_seconds=0.0,
        first_solution=used_first,
        metaheuristic=meta_name,
        solutions=len(found),
        warm_started=warm,
        build_seconds=build,
        first_solution_seconds=(found[0] - t0) if found else None,
    )
    if solution is None:
        plan = _plan_without_model(problem, prep, stats, failed=True)
    else:
        plan = _read_plan(problem, prep, model, solution, stats)
    del solution, routing, model  # free the model (its matrices) inside the measured time
    return replace(plan, stats=replace(plan.stats, wall_seconds=time.perf_counter() - t0))


def _from_scratch(
    routing: pywrapcp.RoutingModel, params: pywrapcp.RoutingSearchParameters, found: list[float]
) -> pywrapcp.Assignment | None:
    """Solve without a start; None when the search found nothing. When every node is optional,
    OR-Tools returns its precomputed all-unperformed assignment on a time-out: not a solution."""
    before = len(found)
    solution = routing.SolveWithParameters(params)
    return solution if len(found) > before else None


def onboard_penalty(problem: Problem) -> int:
    """Cost of leaving an on-board request out: more than leaving every other request out."""
    return max(1, problem.weights.unassigned) * (len(problem.requests) + 1) * 100


# ------------------------------------------------------------------------------------ model
def _python_rows(problem: Problem, prep: Prepared) -> tuple[tuple[int, ...], ...] | list[list[int]]:
    """The matrix as rows of Python ints for the time callback: the problem's own tuples when they
    are that already (no copy), else converted once."""
    mat = problem.matrix
    if isinstance(mat, tuple) and mat and type(mat[0]) is tuple and mat[0] and type(mat[0][0]) is int:
        return mat
    return prep.matrix.tolist()


def _build(problem: Problem, prep: Prepared) -> _Model:
    reqs = problem.requests
    V = len(problem.vehicles)
    # Node layout: starts [0, V), request nodes, ends [N - V, N). With the ends last, in vehicle
    # order, a node's routing index is the node itself (checked below): one matrix serves both.
    loc = prep.start_loc.tolist()
    service = [0] * V
    demand = [0] * V
    is_pickup = [False] * V
    request = [-1] * V
    key_to_node: dict[tuple[int, StopKind], int] = {}
    pair_of: dict[int, tuple[int, int]] = {}
    promise_nodes: list[tuple[int, int]] = []

    def add(i: int, kind: StopKind) -> int:
        r = reqs[i]
        stop = r.pickup if kind == StopKind.PICKUP else r.dropoff
        assert stop is not None
        node = len(loc)
        loc.append(stop.location)
        service.append(stop.service)
        demand.append(r.size if kind == StopKind.PICKUP else -r.size)
        is_pickup.append(kind == StopKind.PICKUP)
        request.append(i)
        key_to_node[(i, kind)] = node
        if kind == StopKind.DROPOFF and r.promise is not None:
            promise_nodes.append((node, r.promise))
        return node

    for i in prep.optional:
        pair_of[i] = (add(i, StopKind.PICKUP), add(i, StopKind.DROPOFF))
    onboard_nodes = [(add(i, StopKind.DROPOFF), k) for i, k in prep.onboard]
    loc += prep.end_loc.tolist()
    N = len(loc)
    service += [0] * V
    demand += [0] * V
    is_pickup += [False] * V
    request += [-1] * V

    loc_a = np.array(loc, dtype=np.int64)
    service_a = np.array(service, dtype=np.int64)
    pick_a = np.array(is_pickup, dtype=bool)
    m = prep.matrix
    open_end = loc_a < 0
    idx = np.where(open_end, 0, loc_a)
    travel = m[np.ix_(idx, idx)]
    if open_end.any():  # a dummy end: zero travel from everything
        travel[open_end, :] = 0
        travel[:, open_end] = 0

    # horizon: no earliest schedule can go past it (waits end by the largest earliest, then at
    # most N legs); later bounds never bind and are clamped to it
    earliest_max = max((max(0, s.earliest) for i in prep.optional for s in (reqs[i].pickup, reqs[i].dropoff) if s is not None), default=0)
    earliest_max = max(earliest_max, max((reqs[i].dropoff.earliest for i, _ in prep.onboard), default=0))
    max_leg = int(m.max()) if m.size else 0
    horizon = max(earliest_max, int(prep.start_time.max())) + N * (max_leg + int(service_a.max())) + 1
    deadline = np.clip(prep.deadline, -1, horizon)
    binding = any(
        int(prep.deadline[prep.candidates[i]].min()) < min(reqs[i].pickup.latest, horizon)  # type: ignore[union-attr]
        for i in prep.optional
    )
    offset = horizon + 1 if binding else 0

    ends = list(range(N - V, N))
    manager = pywrapcp.RoutingIndexManager(N, V, list(range(V)), ends)
    routing = pywrapcp.RoutingModel(manager)
    solver = routing.solver()
    if any(manager.NodeToIndex(n) != n for n in range(N - V)) or any(routing.End(k) != ends[k] for k in range(V)):
        raise AssertionError("OR-Tools index layout changed: routing index != node")  # pragma: no cover

    w = problem.weights
    cost_cb = routing.RegisterTransitMatrix((travel if w.travel == 1 else travel * w.travel).tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(cost_cb)
    for k in range(V):
        if prep.fixed_cost[k]:
            routing.SetFixedCostOfVehicle(int(prep.fixed_cost[k]), k)

    # Time transit(i, j) = service(i) + travel(i, j), plus the pickup shift: a Python callback, not
    # RegisterTransitMatrix. In 9.15.6755 the dimension filter copies the dimension's std::function
    # on every path it checks (FillDimensionValuesFromRoutingDimension takes an AnyInvocable by
    # value), and a matrix callback carries the whole N x N matrix: that copy was ~60 % of the first
    # solution's time at 1,100 nodes. A Python callback is cheap to copy; it reads the problem's
    # own rows (no N x N list to build) by routing index (= node here).
    shift = pick_a.astype(np.int64) * offset
    add = (service_a - shift).tolist()  # service(i) - shift(i): leaving a pickup undoes its shift
    sh = shift.tolist()
    rows_of = _python_rows(problem, prep)
    row = [rows_of[x] if x >= 0 else () for x in loc]
    col = loc  # -1: an open route's dummy end, reached at no travel

    def time_transit(i: int, j: int) -> int:
        c = col[j]
        if c < 0:
            return add[i]
        return row[i][c] + add[i] + sh[j]

    time_cb = routing.RegisterTransitCallback(time_transit)
    time_caps = (offset + deadline).tolist() if offset else [horizon] * V
    routing.AddDimensionWithVehicleCapacity(time_cb, horizon, time_caps, False, "time")
    time_dim = routing.GetDimensionOrDie("time")

    capacity = np.maximum(prep.capacity, prep.load)  # an overloaded vehicle (bad data) stays solvable
    if np.any(prep.capacity < prep.load):
        over = [problem.vehicles[k].id for k in np.flatnonzero(prep.capacity < prep.load)]
        log.warning("vehicles carry more than their capacity: %s", over)
    load_cb = routing.RegisterUnaryTransitVector(demand)
    routing.AddDimensionWithVehicleCapacity(load_cb, 0, capacity.tolist(), False, "load")
    load_dim = routing.GetDimensionOrDie("load")

    for k in range(V):
        s, e = routing.Start(k), routing.End(k)
        t = int(prep.start_time[k])
        time_dim.CumulVar(s).SetValue(t)
        load_dim.CumulVar(s).SetValue(int(prep.load[k]))
        if prep.end_time[k] < INF:
            back = 0 if prep.end_loc[k] < 0 else int(m[prep.start_loc[k], prep.end_loc[k]])
            # a vehicle that cannot even go home empty in time has no candidates: keep it solvable
            time_dim.CumulVar(e).SetMax(max(int(prep.end_time[k]), t + back))

    all_vehicles = V
    penalty = w.unassigned
    for i, (p, d) in pair_of.items():
        pi, di = p, d  # index == node
        pick, drop = reqs[i].pickup, reqs[i].dropoff
        assert pick is not None
        time_dim.CumulVar(pi).SetRange(offset + max(0, pick.earliest), offset + min(pick.latest, horizon))
        time_dim.CumulVar(di).SetRange(max(0, drop.earliest), min(drop.latest, horizon))
        routing.AddPickupAndDelivery(pi, di)
        solver.Add(routing.VehicleVar(pi) == routing.VehicleVar(di))
        solver.Add(time_dim.CumulVar(pi) <= time_dim.CumulVar(di) + offset)
        routing.AddDisjunction([pi], penalty - penalty // 2)
        routing.AddDisjunction([di], penalty // 2)
        cands = prep.candidates[i]
        if len(cands) < all_vehicles:
            allowed = [-1, *cands.tolist()]
            routing.VehicleVar(pi).SetValues(allowed)
            routing.VehicleVar(di).SetValues(allowed)
    # On-board drop-offs: pinned to their vehicle, left out only at a cost above everything else.
    # Not mandatory nodes: the first-solution heuristics fail on pinned mandatory nodes, and two
    # on-board orders that cannot both meet their windows would make the whole region infeasible.
    big = onboard_penalty(problem)
    for d, k in onboard_nodes:
        di = d
        drop = reqs[request[d]].dropoff
        time_dim.CumulVar(di).SetRange(max(0, drop.earliest), min(drop.latest, horizon))
        routing.VehicleVar(di).SetValues([-1, k])
        routing.AddDisjunction([di], big)
    for d, promise in promise_nodes:
        coefficient = reqs[request[d]].late_cost(w)
        if coefficient:
            time_dim.SetCumulVarSoftUpperBound(d, max(0, promise), coefficient)
    return _Model(
        V=V, loc=loc_a, service=service_a, is_pickup=pick_a, request=np.array(request, dtype=np.int64),
        offset=offset, key_to_node=key_to_node, pair_of=pair_of, manager=manager, routing=routing, time_dim=time_dim,
        horizon=horizon, capacity=capacity, keep=time_transit,
    )


def _search_parameters(
    first: str, meta: str, budget: Budget, options: SolverOptions, remaining: float
) -> pywrapcp.RoutingSearchParameters:
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.Value.Value(first)
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.Value.Value(meta)
    params.time_limit.FromMilliseconds(max(1, int(remaining * 1000)))
    if budget.solutions is not None:
        params.solution_limit = budget.solutions
    params.log_search = options.log_search
    return params


def _status(routing: pywrapcp.RoutingModel) -> str:
    return routing_enums_pb2.RoutingSearchStatus.Value.Name(routing.status())


# ------------------------------------------------------------------------------- warm start
def _initial_routes(problem: Problem, prep: Prepared, model: _Model, initial: dict[str, list[tuple[str, StopKind]]]) -> list[list[int]]:
    """Routing indices per vehicle from ``initial``, cleaned and repaired so OR-Tools accepts them.

    Skipped: unknown vehicles and requests, committed or no longer existing stops, stops on a
    vehicle that may not serve them, repeats, drop-offs whose pickup was skipped and pickups whose
    drop-off does not follow on the same route. On-board drop-offs missing from their vehicle's
    route are appended. Then a forward pass per route drops the pairs that break a window, the
    capacity, a pickup deadline or the end time (times moved on since the routes were made).
    """
    veh_index = {v.id: k for k, v in enumerate(problem.vehicles)}
    req_index = {r.id: i for i, r in enumerate(problem.requests)}
    onboard_of = {i: k for i, k in prep.onboard}
    used: set[int] = set()
    routes: list[list[int]] = [[] for _ in range(model.V)]
    for vid, stops in initial.items():
        k = veh_index.get(vid)
        if k is None:
            continue
        seq: list[int] = []
        picked: set[int] = set()
        for rid, kind in stops:
            i = req_index.get(rid)
            try:
                kind = StopKind(kind)
            except ValueError:
                continue
            node = model.key_to_node.get((i, kind)) if i is not None else None
            if node is None or node in used:
                continue
            assert i is not None
            if i in onboard_of:
                if onboard_of[i] != k:
                    continue
            elif k not in prep.candidates[i]:
                continue
            elif kind == StopKind.DROPOFF and i not in picked:
                continue
            if kind == StopKind.PICKUP:
                picked.add(i)
            seq.append(node)
            used.add(node)
        dropped = {model.pair_of[i][0] for i in picked if model.pair_of[i][1] not in seq}
        seq = [n for n in seq if n not in dropped]
        used -= dropped
        routes[k] = seq
    for i, k in prep.onboard:
        node = model.key_to_node[(i, StopKind.DROPOFF)]
        if node not in used:
            routes[k].append(node)
            used.add(node)
    return [_repair(problem, prep, model, k, seq) for k, seq in enumerate(routes)]  # index == node


def _repair(problem: Problem, prep: Prepared, model: _Model, k: int, seq: list[int]) -> list[int]:
    """Drop optional pairs from the route until the earliest schedule is feasible (at most len(seq) passes)."""
    reqs = problem.requests
    m = prep.matrix
    onboard = {i for i, kk in prep.onboard if kk == k}
    for _ in range(len(seq) + 1):
        bad = None
        loc, t, load = int(prep.start_loc[k]), int(prep.start_time[k]), int(prep.load[k])
        for n in seq:
            i = int(model.request[n])
            pick = bool(model.is_pickup[n])
            stop = reqs[i].pickup if pick else reqs[i].dropoff
            assert stop is not None
            t = max(t + int(m[loc, stop.location]), stop.earliest)
            load += reqs[i].size if pick else -reqs[i].size
            if t > stop.latest or (pick and t > prep.deadline[k]) or load > model.capacity[k]:
                bad = n
                break
            t += stop.service
            loc = stop.location
        else:
            if prep.end_time[k] < INF and seq:
                back = 0 if prep.end_loc[k] < 0 else int(m[loc, prep.end_loc[k]])
                if t + back > prep.end_time[k]:
                    bad = seq[-1]
        if bad is None:
            return seq
        i = int(model.request[bad])
        if i in onboard:  # rather drop the latest optional pair before it, if any
            optional = [n for n in seq[: seq.index(bad)] if int(model.request[n]) not in onboard]
            if optional:
                i = int(model.request[optional[-1]])
        seq = [n for n in seq if int(model.request[n]) != i]
    return seq


# ----------------------------------------------------------------------------------- output
def _read_plan(problem: Problem, prep: Prepared, model: _Model, solution: pywrapcp.Assignment, stats: SolverStats) -> Plan:
    routing, reqs, m = model.routing, problem.requests, prep.matrix
    routes: list[Route] = []
    eta = {reqs[i].id: t for i, t in prep.served_in_prefix.items()}
    served: set[int] = set(prep.served_in_prefix)
    total_travel = 0
    for k, v in enumerate(problem.vehicles):
        visits = list(prep.prefix[k])
        travel = prep.prefix_travel[k]
        loc, t = int(prep.start_loc[k]), int(prep.start_time[k])
        index = solution.Value(routing.NextVar(routing.Start(k)))
        while not routing.IsEnd(index):
            n = index  # index == node
            i = int(model.request[n])
            pick = bool(model.is_pickup[n])
            stop = reqs[i].pickup if pick else reqs[i].dropoff
            assert stop is not None
            leg = int(m[loc, stop.location])
            arrival = t + leg
            start = max(arrival, stop.earliest)  # the earliest schedule: what the finalizer reads back
            t = start + stop.service
            travel += leg
            loc = stop.location
            kind = StopKind.PICKUP if pick else StopKind.DROPOFF
            visits.append(Visit(reqs[i].id, kind, stop.location, arrival, start, t))
            if not pick:
                eta[reqs[i].id] = start
                served.add(i)
            index = solution.Value(routing.NextVar(index))
        if not visits:
            continue
        if prep.end_loc[k] >= 0:
            travel += int(m[loc, prep.end_loc[k]])
        total_travel += travel
        routes.append(Route(v.id, tuple(visits), travel))

    unassigned = dict(prep.unassigned)
    for i in model.pair_of:
        if i not in served:
            unassigned[i] = Unassigned(
                reqs[i].id, Reason.NOT_WORTH_IT,
                "left out by the solver: no insertion found cheaper than its penalty within the budget",
            )
    for i, k in prep.onboard:
        if i not in served:
            unassigned[i] = Unassigned(
                reqs[i].id, Reason.UNREACHABLE,
                f"on board of {problem.vehicles[k].id!r}: its drop-off window cannot be met together with the "
                "vehicle's other on-board orders; it stays on board, left out of the plan",
            )
    lateness = {
        reqs[i].id: max(0, eta[reqs[i].id] - reqs[i].promise)  # type: ignore[operator]
        for i in sorted(served)
        if reqs[i].promise is not None
    }
    objective = Objective(
        travel=total_travel,
        lateness=sum(lateness.values()),
        unassigned=len(unassigned),
        vehicles=len(routes),
        total=int(solution.ObjectiveValue()) + _constant_cost(problem, prep, model, solution),
    )
    return Plan(tuple(routes), tuple(unassigned[i] for i in sorted(unassigned)), eta, lateness, objective, stats)


def _plan_without_model(problem: Problem, prep: Prepared, stats: SolverStats, failed: bool) -> Plan:
    """Committed prefixes only: nothing to route, or no solution found (then every routed request is NO_SOLUTION)."""
    reqs = problem.requests
    routes = tuple(
        Route(v.id, tuple(prep.prefix[k]), prep.prefix_travel[k] + _home(prep, k)) for k, v in enumerate(problem.vehicles) if prep.prefix[k]
    )
    unassigned = dict(prep.unassigned)
    if failed:
        for i in prep.optional:
            unassigned[i] = Unassigned(reqs[i].id, Reason.NO_SOLUTION, f"no solution found (status {stats.status})")
        for i, k in prep.onboard:
            unassigned[i] = Unassigned(
                reqs[i].id, Reason.NO_SOLUTION, f"on board of {problem.vehicles[k].id!r}; no solution found (status {stats.status})"
            )
    eta = {reqs[i].id: t for i, t in prep.served_in_prefix.items()}
    lateness = {
        reqs[i].id: max(0, t - reqs[i].promise)  # type: ignore[operator]
        for i, t in prep.served_in_prefix.items()
        if reqs[i].promise is not None
    }
    w = problem.weights
    travel = sum(r.travel for r in routes)
    late = sum(lateness.values())
    late_cost = sum(reqs[i].late_cost(w) * lateness[reqs[i].id] for i in prep.served_in_prefix if reqs[i].id in lateness)
    fixed = sum(int(prep.fixed_cost[k]) for k in range(len(problem.vehicles)) if prep.prefix[k])
    total = w.travel * travel + late_cost + w.unassigned * len(unassigned) + fixed
    objective = Objective(travel=travel, lateness=late, unassigned=len(unassigned), vehicles=len(routes), total=total)
    return Plan(routes, tuple(unassigned[i] for i in sorted(unassigned)), eta, lateness, objective, stats)


def _constant_cost(problem: Problem, prep: Prepared, model: _Model, solution: pywrapcp.Assignment) -> int:
    """What the plan costs outside the model: committed prefixes (travel, lateness, the fixed cost
    of a vehicle used by them only, its way home) and the penalty of requests left out before solving."""
    w, reqs, routing = problem.weights, problem.requests, model.routing
    cost = w.unassigned * len(prep.unassigned)
    for k in range(len(problem.vehicles)):
        if not prep.prefix[k]:
            continue
        cost += w.travel * prep.prefix_travel[k]
        if routing.IsEnd(solution.Value(routing.NextVar(routing.Start(k)))):  # empty in the model
            cost += int(prep.fixed_cost[k]) + w.travel * _home(prep, k)
    for i, t in prep.served_in_prefix.items():
        if reqs[i].promise is not None:
            cost += reqs[i].late_cost(w) * max(0, t - reqs[i].promise)
    return cost


def _home(prep: Prepared, k: int) -> int:
    return int(prep.matrix[prep.start_loc[k], prep.end_loc[k]]) if prep.end_loc[k] >= 0 else 0

