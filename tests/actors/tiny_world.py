"""A tiny two-region city and a hand-written tick loop, shared by the actor tests and the cluster script.

Two store clusters ~20 km apart in Shanghai fall in two H3 resolution-5 regions; each has two
stores, three couriers and a handful of ASAP orders placed in the first half hour, so that a run
of ~90 simulated minutes delivers every order. The loop (``drive``) sends every region one
``StepInput`` per tick, routes couriers handed off by a shard to their home region on the next
tick, and is the same for ``LocalRuntime`` and ``RayRuntime``: it is what makes their results
comparable. It is a stand-in for ``simulator.engine`` that keeps these tests independent of it.
"""
from __future__ import annotations

import random
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


Tick = Callable[[int, float, Any], None]


def drive(runtime: Any, instance: Instance, *, until: float = 90.0, dt: float = 1.0, on_tick: Tick | None = None) -> list[dict[int, StepResult]]:
    """Start the runtime and run ticks 0, dt, ... until; ``on_tick(i, now, runtime)`` runs after tick i.

    Fresh domain objects are built from the instance's specs for every run (a ``LocalRuntime``
    mutates the objects it is given).
    """
    regions = regions_of(instance)
    served = frozenset(regions)
    res = instance.region_res
    runtime.start(regions, spec_of(instance))
    store_region = {s.id: region_of(s.location, res) for s in instance.stores}
    pending_orders = sorted(instance.orders, key=lambda o: (o.placed_at, o.id))
    handoffs: dict[int, list[Any]] = {r: [] for r in regions}
    history: list[dict[int, StepResult]] = []
    n_ticks = int(round(until / dt)) + 1
    for i in range(n_ticks):
        now = i * dt
        inputs = {r: StepInput(now) for r in regions}
        if i == 0:
            for s in instance.stores:
                inputs[store_region[s.id]].stores.append(s.build())
            for c in instance.couriers:
                inputs[home_region(c.location, served, res)].couriers.append(c.build())
        while pending_orders and pending_orders[0].placed_at <= now:
            o = pending_orders.pop(0)
            inputs[store_region[o.store_id]].orders.append(o.build())
        for r in regions:
            inputs[r].couriers += handoffs[r]
            handoffs[r] = []
        results = runtime.step(inputs)
        for result in results.values():
            for courier in result.handoffs:
                handoffs[home_region(courier.location, served, res)].append(courier)
        history.append(results)
        if on_tick is not None:
            on_tick(i, now, runtime)
    return history
