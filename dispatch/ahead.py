"""Plan a day's booked orders ahead of time: a VRPTW over the courier shifts.

Scheduled and timed orders are known hours before their windows; solving them together, before
the day starts, shows whether the booked slots fit the shift plan and which courier would carry
what. Live dispatch still releases them into the real-time pool ahead of their windows; this plan
is the planner's view (and a warm start) of the same problem.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dispatch.courier import Courier
from dispatch.geo import Location
from dispatch.modes import DeliveryMode
from dispatch.order import Order
from dispatch.rules import ServiceRules
from dispatch.snapshot import UNITS_PER_MINUTE, CourierStart, SolverSnapshot
from dispatch.travel import TravelModel
from routing.problem import Budget, Plan, Weights
from routing.solve import solve


@dataclass(frozen=True)
class AheadPlan:
    plan: Plan
    orders: int
    couriers: int

    def to_dict(self) -> dict[str, Any]:
        """Minutes since midnight, as the rest of the platform reports times."""
        def minute(u: int) -> float:
            return round(u / UNITS_PER_MINUTE, 2)

        return {
            "orders": self.orders,
            "couriers": self.couriers,
            "planned": self.orders - len(self.plan.unassigned),
            "routes": [
                {"courier": r.vehicle_id, "stops": [
                    {"order": v.request_id, "kind": str(v.kind), "arrive": minute(v.arrival), "start": minute(v.start), "depart": minute(v.departure)}
                    for v in r.visits
                ]}
                for r in self.plan.routes
            ],
            "unassigned": [{"order": u.request_id, "reason": str(u.reason), "detail": u.detail} for u in self.plan.unassigned],
            "objective": {"travel_minutes": minute(self.plan.objective.travel), "late_minutes": minute(self.plan.objective.lateness),
                          "couriers_used": self.plan.objective.vehicles},
            "solver": {"status": self.plan.stats.status, "seconds": round(self.plan.stats.wall_seconds, 2)},
        }


def plan_booked(
    orders: Sequence[Order],
    couriers: Sequence[Courier],
    store_location: Callable[[str], Location],
    travel: TravelModel,
    rules: ServiceRules,
    budget: Budget,
    lateness_weight: int = 10,
) -> AheadPlan:
    """Solve the scheduled and timed ``orders`` over the couriers' shifts (starting at their on-locations)."""
    booked = [o for o in orders if o.mode != DeliveryMode.ASAP]
    starts = [CourierStart(c.id, c.location, c.on_time, c.capacity, c.off_time) for c in couriers]
    snapshot = SolverSnapshot(
        booked, starts, store_location, travel, rules, Weights(travel=1, lateness=lateness_weight),
        target=lambda order, direct: order.window.promise,
    )
    return AheadPlan(solve(snapshot.problem, budget), len(booked), len(couriers))
