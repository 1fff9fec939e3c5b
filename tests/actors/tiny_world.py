"""A tiny two-region city and a hand-written tick loop, shared by the actor tests and the cluster script.

Two store clusters ~20 km apart in Shanghai fall in two H3 resolution-5 regions; each has two
stores, three couriers and a handful of ASAP orders placed in the first half hour, so that a run
of ~90 simulated minutes delivers every order. The loop (``drive``) sends every region one
``StepInput`` per tick, routes couriers handed off by a shard to their home region on the next
tick, and is the same for ``LocalRuntime`` and ``RayRuntime``: it is what makes their results
comparable. It is a fixed-cadence stand-in for ``simulator.engine`` that keeps the runtime tests
independent of the engine (the cluster test runs the engine itself).
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from dispatch.geo import Location
from dispatch.modes import asap_window
from dispatch.region import ShardSpec, StepInput, StepResult
from dispatch.rules import ServiceRules
from dispatch.travel import HaversineTravel
from dispatch.zones import home_region, region_of
from simulator.instance import CourierSpec, Instance, OrderSpec, StoreSpec

CENTRES = (Location(31.23, 121.47), Location(31.23, 121.68))  # ~20 km apart, two res-5 regions


def _near(rng: random.Random, centre: Location, km: float) -> Location:
    return Location(centre.lat + rng.uniform(-km, km) / 111.0, centre.lng + rng.uniform(-km, km) / 95.0)


def tiny_instance(seed: int = 7, orders_per_region: int = 6, couriers_per_region: int = 3) -> Instance:
    """Stores, orders and couriers around both centres; orders placed in minutes 0-30."""
    rng = random.Random(seed)
    stores: list[StoreSpec] = []
    orders: list[OrderSpec] = []
    couriers: list[CourierSpec] = []
    for r, centre in enumerate(CENTRES):
        region_stores = [StoreSpec(f"s{r}{k}", _near(rng, centre, 0.8), f"store {r}{k}") for k in range(2)]
        stores += region_stores
        for k in range(couriers_per_region):
            couriers.append(CourierSpec(f"c{r}{k}", _near(rng, centre, 1.5), on_time=0.0, off_time=240.0, capacity=2))
        for k in range(orders_per_region):
            store = region_stores[k % 2]
            placed = round(rng.uniform(0.0, 30.0), 1)
            ready = placed + rng.choice((5.0, 8.0, 12.0))
            orders.append(OrderSpec(f"o{r}{k:02d}", store.id, _near(rng, store.location, 1.5), placed, ready, asap_window(placed)))
    return Instance("tiny-two-regions", tuple(stores), tuple(orders), tuple(couriers), ServiceRules(), HaversineTravel())


def regions_of(instance: Instance) -> list[int]:
    return sorted({region_of(s.location, instance.region_res) for s in instance.stores})


def spec_of(instance: Instance) -> ShardSpec:
    return ShardSpec("greedy", instance.travel, instance.rules, instance.region_res, frozenset(regions_of(instance)))


class InputFeed:
    """Builds each tick's ``StepInput``s: stores and couriers at the first tick, orders once placed.

    Fresh domain objects are built from the instance's specs (a ``LocalRuntime`` mutates what it
    is given, so two runs must never share them). Couriers handed off by a shard go to their home
    region on the next tick.
    """

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.regions = regions_of(instance)
        self.served = frozenset(self.regions)
        self.store_region = {s.id: region_of(s.location, instance.region_res) for s in instance.stores}
        self.pending_orders = sorted(instance.orders, key=lambda o: (o.placed_at, o.id))
        self.handoffs: dict[int, list[Any]] = {r: [] for r in self.regions}
        self.started = False

    def next(self, now: float) -> dict[int, StepInput]:
        inputs = {r: StepInput(now) for r in self.regions}
        if not self.started:
            self.started = True
            for s in self.instance.stores:
                inputs[self.store_region[s.id]].stores.append(s.build())
            for c in self.instance.couriers:
                inputs[home_region(c.location, self.served, self.instance.region_res)].couriers.append(c.build())
        while self.pending_orders and self.pending_orders[0].placed_at <= now:
            o = self.pending_orders.pop(0)
            inputs[self.store_region[o.store_id]].orders.append(o.build())
        for r in self.regions:
            inputs[r].couriers += self.handoffs[r]
            self.handoffs[r] = []
        return inputs

    def returned(self, results: dict[int, StepResult]) -> None:
        for region in sorted(results):
            for courier in results[region].handoffs:
                self.handoffs[home_region(courier.location, self.served, self.instance.region_res)].append(courier)


Tick = Callable[[int, float, Any], None]


def drive(runtime: Any, instance: Instance, *, until: float = 90.0, dt: float = 1.0, on_tick: Tick | None = None) -> list[dict[int, StepResult]]:
    """Start the runtime and run ticks 0, dt, ... until; ``on_tick(i, now, runtime)`` runs after tick i."""
    feed = InputFeed(instance)
    runtime.start(feed.regions, spec_of(instance))
    history: list[dict[int, StepResult]] = []
    for i in range(int(round(until / dt)) + 1):
        now = i * dt
        results = runtime.step(feed.next(now))
        feed.returned(results)
        history.append(results)
        if on_tick is not None:
            on_tick(i, now, runtime)
    return history


def crash(runtime: Any, region: int, timeout_s: float = 60.0) -> Any:
    """Kill a shard's process, let Ray restart it, and return its status once the new process answers.

    ``ray.kill`` is asynchronous: calls right after it may still reach the old process, so this
    waits for a new pid, which makes the recovery path the test wants certain to run.
    """
    import ray

    handle = runtime.actors[region]
    old_pid = ray.get(handle.status.remote(), timeout=timeout_s).pid
    ray.kill(handle, no_restart=False)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            status = ray.get(handle.status.remote(), timeout=timeout_s)
        except ray.exceptions.RayActorError:
            time.sleep(0.05)
            continue
        if status.pid != old_pid:
            return status
        time.sleep(0.05)
    raise TimeoutError(f"shard {region:x} did not come back within {timeout_s} s")
