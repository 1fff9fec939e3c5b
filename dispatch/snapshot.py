"""Turn orders and couriers into the solver's immutable ``routing.Problem`` (and read plans back).

Shared by the live ``ortools`` policy (couriers start where their current route ends) and the
day-ahead planner (couriers start their shift). Solver time is whole seconds from midnight, so
minute-based rules (MDRP) stay exact. Service-time conventions follow ``dispatch.routes``: the
pickup instant is half the pickup service after the service start, so a pickup may start half a
service before the food is ready; likewise at the door.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dispatch.geo import Location
from dispatch.modes import DeliveryMode
from dispatch.order import Order
from dispatch.rules import ServiceRules
from dispatch.travel import TravelModel
from routing.problem import Problem, Request, Stop, Vehicle, Weights

UNITS_PER_MINUTE = 60
FAR = 10**9


def units(minutes: float) -> int:
    return int(round(minutes * UNITS_PER_MINUTE))


@dataclass(frozen=True, slots=True)
class CourierStart:
    """Where and when a courier can begin new work, and its limits."""

    id: str
    location: Location
    time: float  # minutes
    capacity: int
    off_time: float  # no pickup after it


# target(order, direct store-to-door minutes) -> minute by which the drop-off should happen (soft)
Target = Callable[[Order, float], float]


class SolverSnapshot:
    """The problem for ``orders`` served by ``couriers``, with the index maps to read a plan back.

    With ``candidates``, each order may go to that many couriers who reach its store first (among
    those who can still pick it up), and a courier who is no order's candidate is not in the problem.
    """

    def __init__(
        self,
        orders: Sequence[Order],
        couriers: Sequence[CourierStart],
        store_location: Callable[[str], Location],
        travel: TravelModel,
        rules: ServiceRules,
        weights: Weights,
        target: Target,
        candidates: int | None = None,
        at: float = 0.0,
        urgency: Callable[[Order], int | None] | None = None,
    ) -> None:
        self.orders = {o.id: o for o in orders}
        self.couriers = {c.id: c for c in couriers}
        self.half_pickup, self.half_dropoff = rules.pickup_service / 2, rules.dropoff_service / 2
        half_p, half_d = self.half_pickup, self.half_dropoff
        stores = sorted({o.store_id for o in orders})
        store_points = [store_location(s) for s in stores]
        allowed_idx: np.ndarray | None = None
        if candidates is not None and couriers:
            # The couriers who reach each order's store first, among those who can still pick up
            # it; a courier who is nobody's candidate could serve nothing, so it is left out of the
            # problem (fewer vehicles: a smaller model, the same plans).
            reach = np.array([c.time for c in couriers])[:, None] + travel.matrix([c.location for c in couriers] + store_points, at)[
                : len(couriers), len(couriers):]
            column = {s: i for i, s in enumerate(stores)}
            reach = reach[:, np.array([column[o.store_id] for o in orders], dtype=np.int64)]  # (couriers, orders)
            ready = np.array([o.ready_at for o in orders])
            able = np.maximum(reach + half_p, ready[None, :]) <= np.array([c.off_time for c in couriers])[:, None]
            nearest = np.argsort(np.where(able, reach, np.inf), axis=0, kind="stable")[:candidates]  # (k, orders)
            ok = np.take_along_axis(able, nearest, axis=0)
            keep = np.unique(nearest[ok])
            couriers = [couriers[k] for k in keep]
            position = np.full(len(able), -1, dtype=np.int64)
            position[keep] = np.arange(len(keep))
            allowed_idx = np.where(ok, position[nearest], -1)
        points = [c.location for c in couriers] + store_points + [o.dropoff for o in orders]
        self.minutes = travel.matrix(points, at)
        matrix = np.ceil(self.minutes * UNITS_PER_MINUTE - 1e-6).astype(np.int64)
        n_c, n_s = len(couriers), len(stores)
        self.courier_index = {c.id: i for i, c in enumerate(couriers)}
        self.door_index = {o.id: n_c + len(stores) + j for j, o in enumerate(orders)}
        self.store_index = {s: n_c + i for i, s in enumerate(stores)}

        vehicles = tuple(
            Vehicle(c.id, i, units(c.time), c.capacity, pickup_deadline=units(c.off_time - half_p))
            for i, c in enumerate(couriers)
        )
        requests, allowed = [], []
        for j, o in enumerate(orders):
            s_idx, d_idx = self.store_index[o.store_id], n_c + n_s + j
            hard = o.mode != DeliveryMode.ASAP
            pickup = Stop(s_idx, units(o.ready_at - half_p), FAR, units(rules.pickup_service))
            dropoff = Stop(d_idx, units(o.window.earliest - half_d), units(o.window.latest - half_d) if hard else FAR,
                           units(rules.dropoff_service))
            requests.append(Request(
                o.id, pickup, dropoff, promise=units(target(o, self.minutes[s_idx, d_idx]) - half_d), size=o.size,
                lateness_weight=urgency(o) if urgency is not None else None,
            ))
            if candidates is not None:
                chosen = allowed_idx[:, j] if allowed_idx is not None else ()
                allowed.append((o.id, tuple(couriers[k].id for k in chosen if k >= 0)))
        self.problem = Problem(
            matrix=tuple(map(tuple, matrix.tolist())), vehicles=vehicles, requests=tuple(requests),
            weights=weights, allowed=tuple(allowed),
        )

    def direct(self, order_id: str) -> float:
        """Minutes from the order's store to its door."""
        order = self.orders[order_id]
        return float(self.minutes[self.store_index[order.store_id], self.door_index[order_id]])

    def pickup_ready(self, order_id: str) -> float:
        """When the pickup should happen: the food is ready, and a booked window is not reached too early."""
        order = self.orders[order_id]
        return max(order.ready_at, order.window.earliest - self.half_dropoff - self.direct(order_id) - self.half_pickup)

    def reach(self, courier_id: str, store_id: str) -> float:
        """Minutes from the courier's start to the store."""
        return float(self.minutes[self.courier_index[courier_id], self.store_index[store_id]])
