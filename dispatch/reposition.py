"""Repositioning: move idle couriers toward forecast demand, on top of any dispatch policy.

``Repositioning(inner, forecast)`` wraps a policy. Every tick the inner policy decides first; then,
at most every ``every`` minutes, the wrapper looks at the couriers the inner policy left idle:

1. demand per zone (the forecast's H3 resolution, default 7): the orders the forecast expects in
   the next ``horizon`` minutes, plus the open orders already waiting (at their store's zone);
   supply per zone: idle couriers where they stand, busy ones where their route ends if it ends
   within the horizon, couriers just given work where their new trip ends;
2. both are summed over a catchment (the zone and its ``catchment`` rings), and a zone's
   *pressure* is catchment demand per catchment courier;
3. eligible: idle and empty for at least ``min_idle_minutes``, not just given work, with at least
   ``min_shift_left`` minutes of shift left. Up to ``ceil(max_share x eligible)`` of them move,
   one at a time: the (courier, zone) pair with the highest gain — the target's pressure with the
   courier added, minus its own zone's pressure with it, minus ``km_cost`` per km — provided the
   gain is at least ``min_gain`` expected orders per courier and the zone's centre is within
   ``max_km``; supply is updated after each move. Ties break by courier id, then zone id, so a run
   is deterministic.

A move is ``Assignment.reposition_to(courier, cell hex)``: the shard sends the courier to the
cell's centre, busy while it travels and idle there on arrival (``dispatch.region``). A live
shard suggests the move to the courier's app and leaves it free for work (``dispatch.live``). The wrapper holds no solver state of its own beyond the time of its last round,
so it pickles with the shard.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import h3.api.basic_int as h3

from dispatch.courier import CourierStatus
from dispatch.forecast import KIND, DemandForecast
from dispatch.geo import haversine_m
from dispatch.policy import Assignment, BasePolicy, DispatchPolicy, DispatchView
from dispatch.zones import cell_center, rings, zone_of

if TYPE_CHECKING:
    from dispatch.courier import Courier
    from dispatch.order import Order

OPTIONS = ("every", "max_share", "min_idle_minutes", "horizon", "max_km", "catchment", "min_gain", "km_cost", "min_shift_left")


class Repositioning(BasePolicy):
    """See the module docstring."""

    def __init__(
        self,
        inner: DispatchPolicy,
        forecast: DemandForecast | Mapping[str, Any],
        every: float = 5.0,
        max_share: float = 0.3,
        min_idle_minutes: float = 3.0,
        horizon: float = 45.0,
        max_km: float = 3.0,
        catchment: int = 1,
        min_gain: float = 0.5,
        km_cost: float = 0.05,
        min_shift_left: float = 20.0,
    ) -> None:
        if every <= 0 or horizon <= 0 or max_km <= 0:
            raise ValueError("every, horizon and max_km must be positive")
        if not 0 <= max_share <= 1 or min_idle_minutes < 0 or catchment < 0 or min_gain < 0 or km_cost < 0 or min_shift_left < 0:
            raise ValueError("max_share must be within [0, 1]; min_idle_minutes, catchment, min_gain, km_cost, min_shift_left non-negative")
        self.inner = inner
        self.forecast = forecast if isinstance(forecast, DemandForecast) else DemandForecast.from_dict(forecast)
        self.name = f"{inner.name}+reposition"
        self.every = every
        self.max_share = max_share
        self.min_idle_minutes = min_idle_minutes
        self.horizon = horizon
        self.max_km = max_km
        self.catchment = catchment
        self.min_gain = min_gain
        self.km_cost = km_cost
        self.min_shift_left = min_shift_left
        self._next: float | None = None
        self.rounds = 0
        self.moves = 0

    @classmethod
    def from_param(cls, inner: DispatchPolicy, value: Any) -> Repositioning:
        """Build from a policy parameter: a forecast dict, or ``{"forecast": <dict>, <option>: ...}``."""
        if isinstance(value, DemandForecast):
            return cls(inner, value)
        if isinstance(value, Mapping):
            if value.get("kind") == KIND:
                return cls(inner, value)
            forecast = value.get("forecast")
            if isinstance(forecast, (Mapping, DemandForecast)):
                unknown = sorted(set(value) - {"forecast", *OPTIONS})
                if unknown:
                    raise ValueError(f"unknown reposition option(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}")
                return cls(inner, forecast, **{k: v for k, v in value.items() if k != "forecast"})
        raise ValueError(
            "reposition needs a demand forecast: a DemandForecast.to_dict() or {'forecast': <that dict>, <options>}; "
            "reposition=True is resolved (learned from other days) by simulator.engine.run_simulation, not by a policy"
        )

    # -- hooks: the inner policy hears everything --------------------------------------------
    def on_order(self, order: Order, now: float) -> None:
        self.inner.on_order(order, now)

    def on_cancel(self, order: Order, now: float) -> None:
        self.inner.on_cancel(order, now)

    def on_courier(self, courier: Courier, now: float) -> None:
        self.inner.on_courier(courier, now)

    def on_tick(self, now: float, view: DispatchView) -> list[Assignment]:
        decisions = self.inner.on_tick(now, view)
        if self._next is not None and now < self._next - 1e-9:
            return decisions
        self._next = now + self.every
        moves = self.plan(now, view, decisions)
        self.rounds += 1
        self.moves += len(moves)
        return decisions + moves

    # -- the plan ----------------------------------------------------------------------------
    def plan(self, now: float, view: DispatchView, decisions: list[Assignment]) -> list[Assignment]:
        """The repositioning moves for this round (see the module docstring)."""
        taken = {d.courier_id for d in decisions}
        couriers = sorted(view.couriers(), key=lambda c: c.id)
        eligible = [
            c for c in couriers
            if c.id not in taken and c.status == CourierStatus.IDLE and not c.route and not c.onboard
            and now - max(c.free_at, c.on_time) >= self.min_idle_minutes - 1e-9
            and c.off_time - now >= self.min_shift_left
        ]
        if not eligible:
            return []
        res = self.forecast.res
        demand = {z: d for z, d in self.forecast.expected_all(now, now + self.horizon).items() if d > 0}
        for order in view.open_orders():
            z = zone_of(view.store(order.store_id).location, res)
            demand[z] = demand.get(z, 0.0) + 1.0
        if not demand:
            return []
        supply: dict[int, int] = {}

        def add(loc: Any, n: int = 1) -> None:
            z = zone_of(loc, res)
            supply[z] = supply.get(z, 0) + n

        ends = {d.courier_id: d for d in decisions}
        for c in couriers:
            if c.status == CourierStatus.OFF_SHIFT or now >= c.off_time:
                continue
            if c.id in ends:
                drops = [oid for kind, oid in ends[c.id].stops if kind == "dropoff"]
                add(view.order(drops[-1]).dropoff if drops else c.end_location)
            elif c.route:
                if c.free_at <= now + self.horizon:
                    add(c.end_location)
            else:
                add(c.location)

        disk: dict[int, tuple[int, ...]] = {}

        def near(z: int) -> tuple[int, ...]:
            if z not in disk:
                disk[z] = tuple(cell for _, ring in rings(z, self.catchment) for cell in ring)
            return disk[z]

        def catch_demand(z: int) -> float:
            return sum(demand.get(n, 0.0) for n in near(z))

        def catch_supply(z: int) -> int:
            return sum(supply.get(n, 0) for n in near(z))

        targets = sorted(demand)
        centre = {z: cell_center(z) for z in targets}
        demand_c = {z: catch_demand(z) for z in targets}
        limit = self.max_km * 1000.0
        reach: dict[str, list[tuple[int, float]]] = {}
        for c in eligible:
            reach[c.id] = [(z, km) for z in targets if (km := haversine_m(c.location, centre[z])) <= limit]
        budget = min(len(eligible), math.ceil(self.max_share * len(eligible) - 1e-9))
        left = {c.id: c for c in eligible}
        out: list[Assignment] = []
        while len(out) < budget and left:
            best: tuple[float, str, int, int] | None = None  # (-gain, courier id, target, source)
            for cid in sorted(left):
                c = left[cid]
                src = zone_of(c.location, res)
                here = catch_demand(src) / max(catch_supply(src), 1)
                for z, metres in reach[cid]:
                    if z == src:
                        continue
                    there = demand_c[z] / (catch_supply(z) + (0 if src in near(z) else 1))
                    gain = there - here - self.km_cost * metres / 1000.0
                    if gain >= self.min_gain and (best is None or (-gain, cid, z) < best[:3]):
                        best = (-gain, cid, z, src)
            if best is None:
                break
            _, cid, z, src = best
            del left[cid]
            supply[src] = supply.get(src, 0) - 1
            supply[z] = supply.get(z, 0) + 1
            out.append(Assignment.reposition_to(cid, h3.int_to_str(z)))
        return out
