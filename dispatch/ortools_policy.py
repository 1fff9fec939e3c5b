"""The ``ortools`` policy: batch and route a region's orders with the OR-Tools solver every cycle.

Each tick, per region:
1. snapshot: the open orders released for planning (asap orders whose food is ready within
   ``lookahead`` minutes; scheduled and timed orders from their window start minus a lead time
   taken from the ETA model: store-to-door travel + the services + ``window_buffer``) and every
   courier who may still pick up, starting where and when its current route ends (what it has
   already been given is never torn up);
2. candidates: each order may go to its ``candidates`` couriers who reach its store first; a
   large snapshot is split into clusters of stores, each with its own couriers;
3. ``routing.solve`` within ``budget_seconds`` (scaled down for small snapshots, shared among the
   clusters), warm-started from the previous cycle's routes plus a greedy insertion of new orders;
4. commit: a courier's first trip (the stops until its bag is empty again) is given to it only
   when it is free (or will be within the cycle) and must leave within the next cycle to reach
   the first store when the food is ready. Everything else
   stays open and is planned again next cycle, with more orders known: that is where batching
   and look-ahead come from.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from dispatch.courier import CourierStatus
from dispatch.modes import DeliveryMode
from dispatch.policy import Assignment, BasePolicy, DispatchView
from dispatch.snapshot import CourierStart, SolverSnapshot
from routing.problem import Budget, Plan, SolverOptions, StopKind, Weights
from routing.solve import solve

if TYPE_CHECKING:
    from dispatch.courier import Courier
    from dispatch.order import Order

log = logging.getLogger(__name__)


class OrtoolsPolicy(BasePolicy):
    name = "ortools"

    def __init__(
        self,
        budget_seconds: float = 0.2,
        budget_per_order: float = 0.004,
        budget_base: float = 0.01,
        lookahead: float = 30.0,
        candidates: int = 16,  # 8 left hot spots of the mid city waiting on busy couriers (bench/sim_scale.py)
        window_buffer: float = 15.0,
        delay_weight: int = 3,
        urgency_minutes: float | None = 10.0,
        travel_weight: int = 0,  # travel counts through the delay it causes; > 0 trades delay for kilometres
        solutions: int | None = None,
        cross_store_trips: bool = True,
        max_orders_per_solve: int = 120,
        planned_share: float = 0.15,
        first_solution: str = "AUTOMATIC",  # local cheapest insertion: copes with pinned orders (routing.solve)
        metaheuristic: str = "GUIDED_LOCAL_SEARCH",
    ) -> None:
        if budget_seconds <= 0 or lookahead < 0 or candidates < 1 or (urgency_minutes is not None and urgency_minutes <= 0):
            raise ValueError("budget_seconds and urgency_minutes must be positive, lookahead non-negative, candidates at least 1")
        self.budget_seconds = budget_seconds
        self.budget_per_order = budget_per_order
        self.budget_base = budget_base
        self.lookahead = lookahead
        self.candidates = candidates
        self.window_buffer = window_buffer
        self.delay_weight = delay_weight
        self.urgency_minutes = urgency_minutes
        self.travel_weight = travel_weight
        self.solutions = solutions
        self.cross_store_trips = cross_store_trips
        self.max_orders_per_solve = max_orders_per_solve
        self.planned_share = planned_share
        self.options = SolverOptions(first_solution=first_solution, metaheuristic=metaheuristic)
        self._last_routes: dict[str, list[tuple[str, StopKind]]] = {}
        self._last_tick: float | None = None
        self.cycle = 1.0

    # -- the tick ----------------------------------------------------------------------------
    def on_tick(self, now: float, view: DispatchView) -> list[Assignment]:
        if self._last_tick is not None and now > self._last_tick:
            self.cycle = now - self._last_tick
        self._last_tick = now
        orders = [o for o in view.open_orders() if self.release_time(o, view) - now <= self.lookahead]
        couriers = [c for c in view.couriers() if _can_take_more(c, now)]
        if not orders or not couriers:
            return []
        self._half_pickup, self._half_dropoff = view.rules.pickup_service / 2, view.rules.dropoff_service / 2
        planned = {rid for stops in self._last_routes.values() for rid, _ in stops}
        fresh = sum(1 for o in orders if o.id not in planned)
        work = fresh + self.planned_share * (len(orders) - fresh)
        total = min(self.budget_seconds, self.budget_base + self.budget_per_order * work)
        decisions: list[Assignment] = []
        routes: dict[str, list[tuple[str, StopKind]]] = {}
        for group_orders, group_couriers in _clusters(orders, couriers, view, self.max_orders_per_solve):
            starts = [CourierStart(c.id, c.end_location, max(now, c.free_at), c.capacity, c.off_time) for c in group_couriers]
            snapshot = SolverSnapshot(
                group_orders, starts, lambda s: view.store(s).location, view.travel, view.rules,
                Weights(travel=self.travel_weight, lateness=self.delay_weight, unassigned=10**9),
                self.target, self.candidates, now, self.urgency,
            )
            if self.solutions is not None:  # deterministic (tests)
                budget = Budget(seconds=None, solutions=self.solutions)
            else:
                budget = Budget(seconds=max(0.01, total * len(group_orders) / len(orders)))
            plan = solve(snapshot.problem, budget, initial=_seed(snapshot, self._last_routes), options=self.options)
            routes.update(plan.as_initial())
            decisions += _commitments(snapshot, plan, now, self.cycle, {c.id: c.free_at for c in group_couriers}, self.cross_store_trips)
        self._last_routes = routes
        return decisions

    def urgency(self, order: "Order") -> int | None:
        """Orders whose food has waited weigh more: the delay weight grows by its base value for
        every ``urgency_minutes`` since the food was ready, so nobody starves behind newer orders."""
        if self.urgency_minutes is None or self._last_tick is None or order.ready_at >= self._last_tick:
            return None
        waited = self._last_tick - order.ready_at
        return int(round(self.delay_weight * (1 + waited / self.urgency_minutes)))

    def target(self, order: "Order", direct: float) -> float:
        """Asap: as soon as a courier already waiting at the store would make it. Booked: the promise."""
        if order.mode != DeliveryMode.ASAP:
            return order.window.promise
        now = self._last_tick if self._last_tick is not None else order.ready_at
        return max(order.ready_at, now) + self._half_pickup + direct + self._half_dropoff

    def release_time(self, order: "Order", view: DispatchView) -> float:
        """Asap: when its food is ready (it joins the plan ``lookahead`` minutes before). Booked: a lead
        time before its window opens, taken from the ETA model."""
        if order.mode == DeliveryMode.ASAP:
            return order.ready_at
        store = view.store(order.store_id).location
        eta = view.travel.minutes(store, order.dropoff, order.window.earliest)
        lead = eta + view.rules.pickup_service + view.rules.dropoff_service + self.window_buffer
        return max(order.ready_at, order.window.earliest - lead)


def _can_take_more(courier: "Courier", now: float) -> bool:
    return courier.status != CourierStatus.OFF_SHIFT and max(now, courier.free_at) < courier.off_time


def _clusters(orders: list["Order"], couriers: list["Courier"], view: DispatchView,
              max_orders: int) -> list[tuple[list["Order"], list["Courier"]]]:
    """Split a large snapshot into solves of at most about ``max_orders`` orders.

    k-means on the stores' positions (deterministic start: the farthest-point rule), then each
    courier joins the cluster whose centre is nearest to where it will be free. A courier is in one
    cluster only, so the plans never conflict.
    """
    if len(orders) <= max_orders:
        return [(orders, couriers)]
    k = -(-len(orders) // max_orders)
    pts = np.array([[view.store(o.store_id).location.lat, view.store(o.store_id).location.lng] for o in orders])
    pts[:, 1] *= np.cos(np.radians(pts[:, 0].mean()))
    centres = [pts[0]]
    for _ in range(1, k):
        dist = np.min([((pts - c) ** 2).sum(axis=1) for c in centres], axis=0)
        centres.append(pts[int(np.argmax(dist))])
    centre = np.array(centres)
    for _ in range(10):
        label = np.argmin(((pts[:, None, :] - centre[None, :, :]) ** 2).sum(axis=2), axis=1)
        centre = np.array([pts[label == j].mean(axis=0) if (label == j).any() else centre[j] for j in range(k)])
    where = np.array([[c.end_location.lat, c.end_location.lng] for c in couriers])
    where[:, 1] *= np.cos(np.radians(pts[:, 0].mean()))
    home = np.argmin(((where[:, None, :] - centre[None, :, :]) ** 2).sum(axis=2), axis=1)
    groups = []
    for j in range(k):
        mine = [o for o, lab in zip(orders, label) if lab == j]
        theirs = [c for c, h in zip(couriers, home) if h == j]
        if mine and theirs:
            groups.append((mine, theirs))
    return groups


def _seed(snapshot: SolverSnapshot, previous: dict[str, list[tuple[str, StopKind]]]) -> dict[str, list[tuple[str, StopKind]]]:
    """Warm start: last cycle's routes, plus every order they lack put where it adds the least
    lateness among its candidates' routes (cheapest insertion: at the same store as a planned
    pickup it rides along). A complete start matters: on a large snapshot OR-Tools' own
    first-solution heuristics run out of a sub-second budget before inserting everything, and a
    good one lets a short search spend its time improving rather than repairing.
    """
    problem = snapshot.problem
    vehicles = {v.id: v for v in problem.vehicles}
    requests = {r.id: r for r in problem.requests}
    allowed = {rid: set(vids) for rid, vids in problem.allowed}
    routes: dict[str, list[tuple[str, StopKind]]] = {}
    for vid, stops in previous.items():
        # an order stays with last cycle's courier only while that courier is still one of its
        # candidates (the solver would drop it from the start otherwise: it is re-inserted below)
        kept = [(rid, kind) for rid, kind in stops if rid in requests and vid in vehicles and vid in allowed.get(rid, (vid,))]
        if kept:
            routes[vid] = kept
    planned = {rid for stops in routes.values() for rid, _ in stops}
    matrix = problem.matrix
    weights = problem.weights

    def cost(vehicle, stops: list[tuple[str, StopKind]]) -> tuple[int, int] | None:
        """(weighted lateness, finish) of a route on its earliest schedule; None when infeasible.
        Approximate (committed stops and the load on board are left out): routing.solve repairs
        whatever of the start breaks a constraint."""
        t, here, load, late = vehicle.start_time, vehicle.start, 0, 0
        for rid, kind in stops:
            r = requests[rid]
            stop = r.pickup if kind == StopKind.PICKUP else r.dropoff
            assert stop is not None
            t = max(t + matrix[here][stop.location], stop.earliest)
            if t > stop.latest:
                return None
            if kind == StopKind.PICKUP:
                if vehicle.pickup_deadline is not None and t > vehicle.pickup_deadline:
                    return None
                load += r.size
                if load > vehicle.capacity:
                    return None
            else:
                load -= r.size
                if r.promise is not None and t > r.promise:
                    late += r.late_cost(weights) * (t - r.promise)
            t += stop.service
            here = stop.location
        return late, t

    current = {vid: cost(vehicles[vid], stops) for vid, stops in routes.items()}
    for request in sorted((r for r in problem.requests if r.id not in planned), key=lambda r: r.pickup.earliest if r.pickup else 0):
        pickup = request.pickup
        if pickup is None:
            continue
        best: tuple[tuple[int, int, str], list[tuple[str, StopKind]], tuple[int, int]] | None = None
        p_stop, d_stop = (request.id, StopKind.PICKUP), (request.id, StopKind.DROPOFF)
        for vid in allowed.get(request.id, vehicles):
            stops = routes.get(vid, [])
            base_late, base_end = current.get(vid) or (0, vehicles[vid].start_time)
            for trial in _insertions(stops, p_stop, d_stop, pickup.location, requests):
                c = cost(vehicles[vid], trial)
                if c is None:
                    continue
                key = (c[0] - base_late, c[1] - base_end, vid)
                if best is None or key < best[0]:
                    best = (key, trial, c)
        if best is None:
            continue
        (_, _, vid), trial, c = best
        routes[vid] = trial
        current[vid] = c
    return routes


def _insertions(stops: list[tuple[str, StopKind]], p_stop: tuple[str, StopKind], d_stop: tuple[str, StopKind], store: int,
                requests: dict) -> list[list[tuple[str, StopKind]]]:
    """Where a new order may go in a route: as a trip of its own between two trips (or first, or
    last), or riding along with a pickup at its store, dropped off anywhere before that trip ends.
    Linear in the route's trips and quadratic in one trip only, so large snapshots stay cheap."""
    bounds, load = [0], 0  # positions where the bag is empty: trip boundaries
    for k, (rid, kind) in enumerate(stops):
        load += 1 if kind == StopKind.PICKUP else -1
        if load == 0:
            bounds.append(k + 1)
    if bounds[-1] != len(stops):
        bounds.append(len(stops))
    out = [stops[:b] + [p_stop, d_stop] + stops[b:] for b in bounds]
    for k, (rid, kind) in enumerate(stops):
        if kind == StopKind.PICKUP and requests[rid].pickup.location == store:
            i = k + 1
            end = next(b for b in bounds if b >= i)
            for j in range(i, end + 1):
                out.append(stops[:i] + [p_stop] + stops[i:j] + [d_stop] + stops[j:])
    return out


def _commitments(snapshot: SolverSnapshot, plan: Plan, now: float, cycle: float, free_at: dict[str, float],
                 cross_store: bool = False) -> list[Assignment]:
    """First trips whose courier is free (or will be within the cycle) and must leave now to reach the store in time.

    Without ``cross_store`` a trip that would collect at several stores is cut to the orders of its
    first store (the rest is planned again next cycle): detours between stores delay every order
    already on board, and MDRP's model bundles orders of one restaurant only.
    """
    out: list[Assignment] = []
    for route in plan.routes:
        if not route.visits or route.visits[0].kind != StopKind.PICKUP:
            continue
        trip: list[tuple[str, str]] = []
        load = 0
        for visit in route.visits:  # the stops until the bag is empty again
            trip.append((str(visit.kind), visit.request_id))
            load += 1 if visit.kind == StopKind.PICKUP else -1
            if load == 0:
                break
        first = snapshot.orders[route.visits[0].request_id]
        if not cross_store:
            mine = {oid for _, oid in trip if snapshot.orders[oid].store_id == first.store_id}
            trip = [(kind, oid) for kind, oid in trip if oid in mine]
        ready = snapshot.pickup_ready(first.id)
        for visit in route.visits[1:]:  # the pickups made at the first store
            nxt = snapshot.orders[visit.request_id]
            if visit.kind != StopKind.PICKUP or nxt.store_id != first.store_id:
                break
            ready = max(ready, snapshot.pickup_ready(nxt.id))
        leave_by = ready - snapshot.half_pickup - snapshot.reach(route.vehicle_id, first.store_id)  # arrive as the food is ready
        free = free_at[route.vehicle_id]
        if free <= now + cycle and max(now, free) + cycle >= leave_by - 1e-9:  # a busy courier is planned again next cycle
            out.append(Assignment(route.vehicle_id, tuple(trip)))
    return out
