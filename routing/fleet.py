"""Fleet-then-distance search on top of ``routing.solve``: the benchmark quality strategy.

The classic benchmarks rank plans hierarchically: fewest vehicles first, then distance. One
OR-Tools solve does that badly here (measured: on Li & Lim, GLS,
simulated annealing and tabu search explore ~1.7 M neighbours/s of the pair operators but accept
~20 moves/s, and improve nothing on a greedy-descent optimum in 3 s). What works is to call
``solve`` many times on small changes, a ruin-and-recreate loop driven from Python, each call a
greedy descent from a warm start (0.1-0.5 s on 100 stops):

1. **construct**: a few first-solution strategies, each closed by a greedy descent; keep the best
   plan serving every request (different strategies win on different instances).
2. **eliminate** (until ``eliminate_share`` of the budget): with the best plan on k routes, take
   k-1 vehicles, every request optional behind a large drop penalty, and start from the best plan
   minus its shortest route. Each step ruins the requests around a left-out one (its nearest
   ones, by stop distance) and lets the greedy descent put them back; a step is kept when it
   leaves out no more requests than before. A step that serves everything is the new best and
   the next round aims at k-2.
3. **distance**: the same ruin-and-recreate on a current plan with one spare vehicle (it unblocks
   the search, as measured for GLS), the current plan replaced when its travel is
   lower; the best changes only for a plan on at most as many vehicles (then less travel), and
   the current plan goes back to the best after ``distance_patience`` steps without a new best.

When the first construction is slow (a Solomon VRPTW as PDPTW has twice the nodes: one step
takes 1-2 s), a strategy with ``gls_share`` runs one guided local search with a fixed vehicle cost
instead of most of the steps: measured better there, worse on Li & Lim.

``minimise`` runs a portfolio: one ``Strategy`` per worker process (two cores: a ruin-and-recreate
strategy and one that switches to GLS when steps are slow, with different constructions and
seeds), and keeps the best result (fewer unassigned, then fewer vehicles, then less travel). The
variants it solves have *identical* vehicles, as the benchmarks do.
"""
from __future__ import annotations

import dataclasses
import importlib
import logging
import multiprocessing
import random
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from routing.problem import Budget, Plan, Problem, Route, SolverOptions, StopKind, Vehicle, Weights

log = logging.getLogger(__name__)

SolveFn = Callable[..., Plan]
DEFAULT_SOLVER = "routing.solve:solve"


@dataclass(frozen=True)
class Strategy:
    """One worker's recipe."""

    name: str = "default"
    seed: int = 0
    constructions: tuple[str, ...] = ("LOCAL_CHEAPEST_INSERTION", "PARALLEL_CHEAPEST_INSERTION")
    gls_when_slower: float = 0.12  # when the first construction took more than this share of the budget,
    gls_share: float = 0.0  # ... one guided local search for this share of the time left
    gls_vehicle_cost: int = 10  # ... with a fixed cost per used vehicle of this many longest arcs
    gls_first: str = "PARALLEL_CHEAPEST_INSERTION"
    construct_seconds: float = 2.0  # cap per construction (its greedy descent usually ends well before)
    eliminate_share: float = 0.6  # elimination stops at this share of the budget (or when it cannot go on)
    eliminate_patience: int = 10  # ... or after this many steps without leaving out fewer requests
    absences: bool = False  # elimination: accept by absences (SISR) rather than by the count left out
    ruin_min: int = 6  # requests removed per ruin-and-recreate step: uniform in [ruin_min, ruin_max]
    ruin_max: int = 14
    step_seconds: float = 1.0  # cap per step (a greedy descent from a warm start)
    step_metaheuristic: str = "GREEDY_DESCENT"
    spare_vehicles: int = 1  # distance phase: vehicles beyond the best plan's
    distance_patience: int = 12  # distance phase: back to the best after this many steps without a new best
    sub_routes: int = 2  # distance phase: routes per sub-problem step (0: whole-plan steps only)
    sub_share: float = 0.5  # ... share of the distance steps that are sub-problem steps
    eliminate_sub_share: float = 0.0  # ... and of the elimination steps (measured: no help on lr109, lrc101)
    extra: tuple[tuple[str, object], ...] = ()  # extra SolverOptions fields, when the solver has them


# Two workers that differ where single runs varied most (10 s on Li & Lim, 2 busy cores): the first
# keeps a spare vehicle in the distance phase, small ruins and a long elimination; the second no
# spare, ruins up to 20 requests (lrc201 3.45 % instead of 5.23 %) and a short elimination, which
# leaves time for distance after the fleet is down (lrc205 0.0-0.2 % in 3 runs with it, 21-25 % in
# 2 of 4 runs without); the second also switches to one GLS when steps are slow (Solomon as PDPTW:
# 6-7/14 BKS fleets instead of 3/14).
PORTFOLIO: tuple[Strategy, ...] = (
    Strategy(name="lci", seed=1, constructions=("LOCAL_CHEAPEST_INSERTION", "PARALLEL_CHEAPEST_INSERTION")),
    Strategy(name="gls", seed=2, constructions=("PARALLEL_CHEAPEST_INSERTION", "SAVINGS"), gls_share=0.9,
             spare_vehicles=0, ruin_max=20, eliminate_share=0.35, eliminate_patience=6),
)


@dataclass(frozen=True)
class Event:
    seconds: float
    phase: str
    vehicles: int
    travel: int
    unassigned: int


@dataclass(frozen=True)
class FleetResult:
    plan: Plan | None  # on the given problem's vehicle ids; None if no solve returned a plan
    vehicles: int
    travel: int
    unassigned: int
    strategy: str
    steps: int = 0  # solve calls
    history: tuple[Event, ...] = field(default=())  # every improvement of the best

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.unassigned, self.vehicles, self.travel)


# ----------------------------------------------------------------------------------- helpers
def load_solver(spec: str = DEFAULT_SOLVER) -> SolveFn:
    """``module:function`` -> the function."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name or "solve")


def _template(problem: Problem) -> Vehicle:
    if not problem.vehicles:
        raise ValueError("the problem has no vehicle")
    first = problem.vehicles[0]
    for v in problem.vehicles[1:]:
        if dataclasses.replace(v, id=first.id) != first:
            raise ValueError("fleet minimisation needs identical vehicles (same start, end, times, capacity)")
    if first.onboard or first.committed:
        raise ValueError("fleet minimisation does not handle on-board or committed stops")
    return first


def variant(problem: Problem, vehicles: int, unassigned_penalty: int) -> Problem:
    """The problem with ``vehicles`` copies of its (identical) vehicle, no fixed cost, and the
    given drop penalty per request."""
    t = _template(problem)
    fleet = tuple(dataclasses.replace(t, id=f"f{i}", fixed_cost=0) for i in range(vehicles))
    weights = Weights(travel=problem.weights.travel, lateness=problem.weights.lateness,
                      unassigned=unassigned_penalty, vehicle=0)
    return dataclasses.replace(problem, vehicles=fleet, weights=weights, allowed=())


def route_travel(problem: Problem, vehicle: Vehicle, route: Route) -> int:
    m = problem.matrix
    prev = vehicle.start
    total = 0
    for v in route.visits:
        total += m[prev][v.location]
        prev = v.location
    if vehicle.end is not None:
        total += m[prev][vehicle.end]
    return total


def score(problem: Problem, plan: Plan) -> tuple[int, int, int]:
    """(unassigned, vehicles used, travel) recomputed from the plan's routes."""
    t = _template(problem)
    routes = [r for r in plan.routes if r.visits]
    travel = sum(route_travel(problem, t, r) for r in routes)
    return (len(plan.unassigned), len(routes), travel)


def _initial(routes: list[Route], ids: list[str], removed: set[str] = frozenset()) -> dict[str, list[tuple[str, StopKind]]]:
    return {vid: [(v.request_id, v.kind) for v in r.visits if v.request_id not in removed]
            for vid, r in zip(ids, routes)}


def relabel(plan: Plan, problem: Problem) -> Plan:
    """The plan's non-empty routes put on the problem's own vehicle ids, in order."""
    routes = [r for r in plan.routes if r.visits]
    ids = [v.id for v in problem.vehicles]
    if len(routes) > len(ids):
        raise ValueError(f"the plan uses {len(routes)} vehicles, the problem has {len(ids)}")
    new = tuple(dataclasses.replace(r, vehicle_id=vid) for r, vid in zip(routes, ids))
    return dataclasses.replace(plan, routes=new)


def relatedness(problem: Problem) -> np.ndarray:
    """(R, R) distance between requests: the shortest way between any stop of one and any stop of
    the other (both directions summed), ignoring stops at the vehicles' start (a Solomon customer
    is a request picked up at the depot: its drop-off is where it is)."""
    m = np.asarray(problem.matrix, dtype=np.int64)
    home = {v.start for v in problem.vehicles}
    locs = []
    for r in problem.requests:
        own = [s.location for s in (r.pickup, r.dropoff) if s is not None and s.location not in home]
        locs.append(own or [s.location for s in (r.pickup, r.dropoff) if s is not None])
    width = max(len(x) for x in locs) if locs else 1
    padded = np.array([x + [x[0]] * (width - len(x)) for x in locs], dtype=np.int64)  # (R, w)
    sym = m + m.T
    rel = np.full((len(locs), len(locs)), np.iinfo(np.int64).max, dtype=np.int64)
    for a in range(width):
        for b in range(width):
            rel = np.minimum(rel, sym[np.ix_(padded[:, a], padded[:, b])])
    return rel


# ----------------------------------------------------------------------------------- one worker
class _Search:
    def __init__(self, problem: Problem, seconds: float, strategy: Strategy, solve: SolveFn) -> None:
        self.problem = problem
        self.strategy = strategy
        self.solve = solve
        self.rng = random.Random(strategy.seed)
        self.t0 = time.perf_counter()
        self.deadline = self.t0 + seconds
        self.seconds = seconds
        self.max_vehicles = len(problem.vehicles)
        self.biggest = max((max(row) for row in problem.matrix), default=1) or 1
        self.penalty = max(problem.weights.unassigned, 100 * self.biggest)
        self.request_ids = [r.id for r in problem.requests]
        self.index = {rid: i for i, rid in enumerate(self.request_ids)}
        self.composed = False  # the best plan was spliced from sub-steps (its times are stale)
        self.rel = relatedness(problem)
        self.best: Plan | None = None  # on a variant's vehicle ids
        self.best_key: tuple[int, int, int] | None = None
        self.history: list[Event] = []
        self.steps = 0

    # -- bookkeeping
    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def offer(self, plan: Plan, phase: str) -> bool:
        key = score(self.problem, plan)
        if key[1] > self.max_vehicles:
            return False
        if self.best_key is None or key < self.best_key:
            self.best, self.best_key = plan, key
            self.history.append(Event(round(self.elapsed(), 3), phase, key[1], key[2], key[0]))
            return True
        return False

    def run_solve(self, problem: Problem, seconds: float, options: SolverOptions,
                  initial: dict | None = None) -> Plan | None:
        seconds = min(seconds, self.left())
        if seconds < 0.05:
            return None
        self.steps += 1
        try:
            return self.solve(problem, Budget(seconds=seconds), initial=initial, options=options)
        except Exception:  # noqa: BLE001 - one failed step must not lose the best plan found so far
            log.exception("solve failed in strategy %s", self.strategy.name)
            return None

    def options(self, metaheuristic: str, first: str = "LOCAL_CHEAPEST_INSERTION") -> SolverOptions:
        opts = SolverOptions(first_solution=first, metaheuristic=metaheuristic)
        names = {f.name for f in dataclasses.fields(SolverOptions)}
        extra = {k: v for k, v in self.strategy.extra if k in names}
        return dataclasses.replace(opts, **extra) if extra else opts

    def ruin(self, routes: list[Route], seeds: list[str] | None = None) -> set[str]:
        """The requests to take out: a seed (a left-out one when given) and its nearest requests."""
        s = self.strategy
        size = self.rng.randint(s.ruin_min, s.ruin_max)
        seed = self.rng.choice(seeds) if seeds else self.rng.choice(self.request_ids)
        i = self.request_ids.index(seed)
        near = np.argsort(self.rel[i], kind="stable")[: size + 1]
        return {self.request_ids[j] for j in near} | {seed}

    # -- phases
    def guided(self) -> None:
        """One long guided local search with a fixed vehicle cost, warm-started from the best plan,
        when the first construction was slow (``gls_when_slower``): then ruin-and-recreate steps
        are too (Solomon as PDPTW has twice the nodes: a step takes 1-2 s, a GLS does better)."""
        s = self.strategy
        if s.gls_share <= 0 or self.best is None or self.history[0].seconds < s.gls_when_slower * self.seconds:
            return
        full = variant(self.problem, self.max_vehicles, self.penalty)
        cost = s.gls_vehicle_cost * self.biggest
        full = dataclasses.replace(full, vehicles=tuple(dataclasses.replace(v, fixed_cost=cost) for v in full.vehicles))
        # from scratch: measured better than from the construction's plan (r101 19 vs 20, rc105 15 vs 16)
        plan = self.run_solve(full, s.gls_share * self.left(), self.options("GUIDED_LOCAL_SEARCH", s.gls_first))
        if plan is not None:
            self.offer(plan, "gls")

    def construct(self) -> None:
        s = self.strategy
        full = variant(self.problem, self.max_vehicles, self.penalty)
        for n, first in enumerate(s.constructions):
            if self.best is not None and (self.elapsed() > 0.3 * self.seconds
                                          or (s.gls_share > 0 and n and self.elapsed() > s.gls_when_slower * self.seconds)):
                break
            plan = self.run_solve(full, s.construct_seconds, self.options("GREEDY_DESCENT", first))
            if plan is not None:
                self.offer(plan, f"construct:{first}")

    def eliminate(self) -> None:
        stop_at = self.t0 + self.strategy.eliminate_share * self.seconds
        while (self.best is not None and self.best_key[0] == 0 and self.best_key[1] > 1
               and time.perf_counter() < stop_at):
            if not self._eliminate_one(self.best_key[1] - 1, stop_at):
                return

    def _eliminate_one(self, target: int, stop_at: float) -> bool:
        """Ruin-and-recreate on ``target`` vehicles until everything is served (True) or time is up."""
        s = self.strategy
        reduced = variant(self.problem, target, self.penalty)
        ids = [v.id for v in reduced.vehicles]
        base = [r for r in self.best.routes if r.visits]
        shortest = min(range(len(base)), key=lambda i: (len(base[i].visits), i))
        current = [r for i, r in enumerate(base) if i != shortest]
        served = {v.request_id for r in current for v in r.visits}
        out = [rid for rid in self.request_ids if rid not in served]
        opts = self.options(s.step_metaheuristic)
        fewest, stale = len(out), 0
        absences: dict[str, int] = {}
        while time.perf_counter() < stop_at and stale < s.eliminate_patience:
            if s.sub_routes and self.rng.random() < s.eliminate_sub_share:
                u = self.rng.choice(out)
                got = self._sub_solve(current, self.index[u], [self.index[u]], opts)
                if got is None:
                    stale += 1
                    continue
                chosen, new, left_out = got
                dropped = [rid for rid in out if rid != u] + left_out
                if len(dropped) <= len(out):
                    keep = set(chosen)
                    current = [r for n, r in enumerate(current) if n not in keep] + new
                    out = dropped
                if not out:
                    plan = dataclasses.replace(self.best, routes=tuple(current), unassigned=())
                    if self.offer(plan, f"eliminate:{target}:sub"):
                        self.composed = True
                    return True
                if len(out) < fewest:
                    fewest, stale = len(out), 0
                else:
                    stale += 1
                continue
            removed = self.ruin(current, out)
            plan = self.run_solve(reduced, min(s.step_seconds, stop_at - time.perf_counter()), opts,
                                  initial=_initial(current, ids, removed))
            if plan is None:
                return False
            dropped = [u.request_id for u in plan.unassigned]
            if not dropped:
                if self.offer(plan, f"eliminate:{target}"):
                    self.composed = False
                return True
            for rid in out:
                absences[rid] = absences.get(rid, 0) + 1
            if s.absences:  # SISR's fleet minimisation: fewer absences summed over the left-out requests
                accept = sum(absences.get(r, 0) for r in dropped) < sum(absences.get(r, 0) for r in out)
            else:
                accept = len(dropped) <= len(out)
            if accept:
                current = [r for r in plan.routes if r.visits]
                out = dropped
            if len(dropped) < fewest:
                fewest, stale = len(dropped), 0
            else:
                stale += 1
        return False

    def distance(self) -> None:
        """Ruin-and-recreate on a current plan with ``spare_vehicles`` more vehicles than the best
        (a spare one unblocks the search, as measured), kept when its travel is lower; the
        best plan only changes for one on at most as many vehicles. With ``sub_routes``, a share
        ``sub_share`` of the steps solve only the routes nearest the ruin (a few routes: a step
        takes milliseconds instead of 0.2-1 s) and splice the result back."""
        s = self.strategy
        if self.best is None:
            return
        opts = self.options(s.step_metaheuristic)
        k = None
        current: list[Route] = []
        travel = 0
        stale = 0
        while self.left() > 0.05:
            if k != self.best_key[1] or stale >= s.distance_patience:  # (re)start from the best
                k, stale = self.best_key[1], 0
                spare = variant(self.problem, k + s.spare_vehicles, self.penalty)
                ids = [v.id for v in spare.vehicles]
                current = [r for r in self.best.routes if r.visits]
                travel = self.best_key[2]
            if s.sub_routes and self.rng.random() < s.sub_share:
                better = self._sub_step(current, opts)
                if better is None:
                    stale += 1 if s.sub_share < 1 else 0
                    continue
                current = better
                plan = dataclasses.replace(self.best, routes=tuple(current), unassigned=())
                travel = score(self.problem, plan)[2]
                if self.offer(plan, "distance:sub"):
                    stale, self.composed = 0, True
                continue
            removed = self.ruin(current)
            plan = self.run_solve(spare, s.step_seconds, opts, initial=_initial(current, ids, removed))
            if plan is None:
                return
            if plan.unassigned:
                continue
            key = score(self.problem, plan)
            if key[2] < travel:
                current, travel = [r for r in plan.routes if r.visits], key[2]
            if self.offer(plan, "distance"):
                stale, self.composed = 0, False
            else:
                stale += 1

    def _sub_step(self, current: list[Route], opts: SolverOptions) -> list[Route] | None:
        """Ruin-and-recreate on the ``sub_routes`` routes nearest a random request, alone; the
        current routes with those replaced when their travel went down, else None."""
        t = _template(self.problem)
        got = self._sub_solve(current, self.rng.randrange(len(self.request_ids)), [], opts)
        if got is None:
            return None
        chosen, new, left_out = got
        if left_out:
            return None
        before = sum(route_travel(self.problem, t, current[n]) for n in chosen)
        if sum(route_travel(self.problem, t, r) for r in new) >= before:
            return None
        keep = set(chosen)
        return [r for n, r in enumerate(current) if n not in keep] + new

    def _sub_solve(self, current: list[Route], seed: int, extra: list[int],
                   opts: SolverOptions) -> tuple[list[int], list[Route], list[str]] | None:
        """Solve the ``sub_routes`` routes nearest request ``seed`` (an index), with the ``extra``
        requests (left out so far) added, after ruining the requests nearest the seed: returns
        (the chosen routes' indices, their new routes, the requests the sub-problem left out)."""
        s = self.strategy
        t = _template(self.problem)
        rel = self.rel[seed]
        members = [[self.index[v.request_id] for v in r.visits if v.kind == StopKind.DROPOFF] for r in current]
        near = sorted(range(len(current)), key=lambda n: min((rel[j] for j in members[n]), default=0))
        chosen = near[: s.sub_routes]
        inside = [j for n in chosen for j in members[n]]
        requests = inside + [j for j in extra if j not in inside]
        if len(requests) < 2:
            return None
        size = min(self.rng.randint(s.ruin_min, s.ruin_max), max(1, len(inside) // 2))
        removed = {self.request_ids[j] for j in sorted(inside, key=lambda j: rel[j])[:size]}
        sub = dataclasses.replace(
            self.problem,
            requests=tuple(self.problem.requests[j] for j in requests),
            vehicles=tuple(dataclasses.replace(t, id=f"s{n}", fixed_cost=0) for n in range(len(chosen))),
            weights=Weights(travel=self.problem.weights.travel, unassigned=self.penalty),
            allowed=(),
        )
        ids = [v.id for v in sub.vehicles]
        plan = self.run_solve(sub, s.step_seconds, opts, initial=_initial([current[n] for n in chosen], ids, removed))
        if plan is None:
            return None
        return chosen, [r for r in plan.routes if r.visits], [u.request_id for u in plan.unassigned]

    def finalize(self) -> None:
        """A best plan spliced from sub-steps has stale times: solve it once more, warm-started,
        for one solution, so that its visits, ETAs and objective are the solver's own."""
        if not self.composed or self.best is None:
            return
        k = self.best_key[1]
        full = variant(self.problem, k, self.penalty)
        routes = [r for r in self.best.routes if r.visits]
        budget = Budget(seconds=max(0.2, min(1.0, self.left() + 0.2)), solutions=1)
        try:
            plan = self.solve(full, budget, initial=_initial(routes, [v.id for v in full.vehicles]),
                              options=self.options("GREEDY_DESCENT"))
        except Exception:  # noqa: BLE001 - keep the spliced plan (its routes are right, its times stale)
            log.exception("finalize failed in strategy %s", self.strategy.name)
            return
        if plan is not None and score(self.problem, plan) <= self.best_key:
            self.best, self.best_key = plan, score(self.problem, plan)

    def run(self) -> FleetResult:
        self.construct()
        self.guided()
        self.eliminate()
        self.distance()
        self.finalize()
        return self.result()

    def result(self) -> FleetResult:
        if self.best is None:
            return FleetResult(None, 0, 0, len(self.problem.requests), self.strategy.name, self.steps,
                               tuple(self.history))
        u, k, travel = self.best_key
        return FleetResult(relabel(self.best, self.problem), k, travel, u, self.strategy.name, self.steps,
                           tuple(self.history))


def run_strategy(problem: Problem, seconds: float, strategy: Strategy = Strategy(),
                 solver: str | SolveFn = DEFAULT_SOLVER) -> FleetResult:
    """One strategy in this process, for ``seconds`` of wall time."""
    solve = load_solver(solver) if isinstance(solver, str) else solver
    return _Search(problem, seconds, strategy, solve).run()


def _worker(args: tuple) -> FleetResult:
    problem, deadline, strategy, solver = args
    # the budget ends at the caller's deadline (monotonic clocks agree across processes on Linux)
    return run_strategy(problem, max(deadline - time.monotonic(), 0.05), strategy, solver)


def minimise(problem: Problem, seconds: float, strategies: tuple[Strategy, ...] = PORTFOLIO,
             workers: int | None = None, solver: str | SolveFn = DEFAULT_SOLVER) -> FleetResult:
    """Fewest vehicles, then least travel, within ``seconds`` of wall time.

    ``workers`` processes (default: as many as strategies, at most the CPU count) each run one
    strategy on the whole budget; the best result wins. With one worker (or a solver given as a
    function, which cannot cross processes) the strategies share the budget in turn.
    """
    if seconds <= 0:
        raise ValueError("the time limit must be positive")
    strategies = tuple(strategies) or (Strategy(),)
    n = workers if workers is not None else min(len(strategies), multiprocessing.cpu_count())
    t0 = time.perf_counter()
    if n <= 1 or len(strategies) == 1 or not isinstance(solver, str):
        results = []
        for i, s in enumerate(strategies):
            share = (seconds - (time.perf_counter() - t0)) / (len(strategies) - i)
            results.append(run_strategy(problem, max(share, 0.05), s, solver))
    else:
        deadline = time.monotonic() + seconds - 0.15  # the results' way back
        # fork: fast (no re-import, no __main__ guard needed); the workers only call ``solve``
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
            results = list(pool.map(_worker, [(problem, deadline, s, solver) for s in strategies[:n]]))
    return min(results, key=lambda r: (r.plan is None, r.key))
