"""The simulation loop: the live dispatch code on a simulated clock.

Orders are revealed at their placement time and couriers log in at their shift start, each routed
to the shard of its H3 region; every ``cycle`` minutes all shards step once, in one batched call
each (``ShardRuntime.step``). Shards realise food readiness, legs, pickups and drop-offs at their
exact times and run the dispatch policy; couriers left idle in another region move to that
region's shard on the next tick. The run ends when every order is closed, or at a horizon after
the last shift.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from dispatch.clock import SimClock
from dispatch.courier import Courier
from dispatch.borrowing import RegionLoad, plan_loans
from dispatch.records import AssignmentRecord, CourierRecord, OrderRecord
from dispatch.region import ShardSpec, StepInput, StepResult
from dispatch.zones import home_region, region_of
from simulator.forecasting import resolve_reposition
from simulator.instance import Instance
from simulator.runtime import LocalRuntime, ShardRuntime

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, int, int], None]  # (simulated minute, delivered, total orders)


@dataclass(frozen=True, slots=True)
class TickStat:
    time: float
    open_orders: int
    active_orders: int
    delivered: int
    idle_couriers: int
    busy_couriers: int


@dataclass
class SimulationResult:
    instance: str
    policy: str
    seed: int
    orders: list[OrderRecord]
    couriers: list[CourierRecord]
    assignments: list[AssignmentRecord]
    timeline: list[TickStat]
    regions: list[int]
    steps: int
    wall_seconds: float
    rejected: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


def run_simulation(
    instance: Instance,
    runtime: ShardRuntime | None = None,
    policy: str = "greedy",
    policy_params: dict[str, Any] | None = None,
    cycle: float = 1.0,
    seed: int = 0,
    horizon: float | None = None,
    progress: ProgressFn | None = None,
) -> SimulationResult:
    """Simulate ``instance`` under ``policy``; shards run in ``runtime`` (in-process by default)."""
    if cycle <= 0:
        raise ValueError("the dispatch cycle must be positive")
    started = time.perf_counter()
    runtime = runtime or LocalRuntime()
    policy_params, reposition = resolve_reposition(instance, policy_params)  # reposition=True: learn the forecast here
    res = instance.region_res
    store_region = {s.id: region_of(s.location, res) for s in instance.stores}
    regions = sorted(set(store_region.values()))
    served = frozenset(regions)
    spec = ShardSpec(policy, instance.travel, instance.rules, res, served, tuple(sorted((policy_params or {}).items())))
    runtime.start(regions, spec)
    last_shift = max((c.off_time for c in instance.couriers), default=0.0)
    end = horizon if horizon is not None else max(instance.last_input, last_shift) + 3 * instance.rules.max_click_to_door
    clock = SimClock(math.floor(instance.start / cycle) * cycle)
    pending: dict[int, StepInput] = {r: StepInput(clock.now()) for r in regions}
    for s in instance.stores:
        pending[store_region[s.id]].stores.append(s.build())

    # arrivals are scheduled before any tick, so at equal times they reach the tick (FIFO clock)
    arrivals_left = len(instance.orders) + len(instance.couriers)

    def arrive(region: int, entity: Any, kind: str) -> None:
        nonlocal arrivals_left
        arrivals_left -= 1
        getattr(pending[region], kind).append(entity.build())

    for c in sorted(instance.couriers, key=lambda c: (c.on_time, c.id)):
        clock.schedule(c.on_time, partial(arrive, home_region(c.location, served, res), c, "couriers"))
    for o in sorted(instance.orders, key=lambda o: (o.placed_at, o.id)):
        clock.schedule(o.placed_at, partial(arrive, store_region[o.store_id], o, "orders"))

    total = len(instance.orders)
    timeline: list[TickStat] = []
    rejected: list[str] = []
    steps = 0

    def tick() -> None:
        nonlocal pending, steps
        now = clock.now()
        for region in regions:
            pending[region].now = now
        results = runtime.step(pending)
        steps += 1
        pending = {r: StepInput(now) for r in regions}
        handoffs: list[Courier] = []
        for region in regions:
            handoffs.extend(results[region].handoffs)
            rejected.extend(results[region].rejected)
        for courier in sorted(handoffs, key=lambda c: c.id):
            target = courier.bound_for if courier.bound_for is not None else home_region(courier.location, served, res)
            pending[target].couriers.append(courier)
        _request_loans(results, pending)
        stat = TickStat(
            now, *(sum(getattr(r, f) for r in results.values())
                   for f in ("open_orders", "active_orders", "delivered", "idle_couriers", "busy_couriers")),
        )
        timeline.append(stat)
        if progress is not None:
            progress(now, stat.delivered, total)
        if arrivals_left == 0 and stat.active_orders == 0 and not handoffs:
            return
        if now >= end:
            log.warning("%s: stopped at the horizon (minute %g) with %d orders still open", instance.name, end, stat.active_orders)
            return
        clock.schedule(_next_tick(now, cycle, clock.peek(), results.values()), tick)

    clock.schedule(clock.now(), tick)
    clock.run()

    orders, couriers, assignments = runtime.collect()
    meta: dict[str, Any] = {}
    if policy_params.get("reposition"):
        meta["reposition"] = {**(reposition or {}), "moves": sum(m.reposition for c in couriers for m in c.moves)}
    return SimulationResult(
        instance.name, policy, seed, orders, couriers, assignments, timeline, regions, steps,
        time.perf_counter() - started, rejected, meta,
    )


def _request_loans(results: dict[int, StepResult], pending: dict[int, StepInput]) -> None:
    """Every region's loans for the next tick, planned at once (``dispatch.borrowing``)."""
    loads = {r: RegionLoad(res.waiting, res.idle_couriers) for r, res in results.items()}
    for donor, row in plan_loans(loads).items():
        for target, count in row.items():
            pending[donor].lend[target] = pending[donor].lend.get(target, 0) + count


def _next_tick(now: float, cycle: float, next_arrival: float | None, results: Any) -> float:
    """The next cycle boundary; when nothing at all is under way, jump to the cycle of the next arrival or action."""
    nxt = now + cycle
    if next_arrival is None or any(r.active_orders or r.busy_couriers for r in results):
        return nxt
    wake = min((r.next_action for r in results if r.next_action is not None), default=next_arrival)
    target = math.floor(min(next_arrival, wake) / cycle) * cycle
    return max(nxt, target)
