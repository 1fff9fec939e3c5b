"""The live regions as Ray actors: one ``LiveShardActor`` per region, each ticking by itself.

Named per region (``live-{region}``) in the caller's namespace and created with ``get_if_exists``,
so a second ``dispatch serve`` joins the running shards instead of starting rivals. Restarts are
unlimited: a killed shard comes back, restores its snapshot and replays its Redis stream
(``actors.live_host``). Like the simulator's shards they ask for no CPU and a little logical
memory, so that SPREAD spreads them over a cluster's nodes.
"""
from __future__ import annotations

import logging
from typing import Any

import ray

from actors.live_host import LiveRegionDispatcher, LiveSpec
from actors.ray_setup import NAMESPACE, init_ray

log = logging.getLogger(__name__)

LiveShardActor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(LiveRegionDispatcher)


def live_name(region: int) -> str:
    return f"live-{region:x}"


class LiveRuntime:
    """Start, inspect and stop the live region actors."""

    def __init__(self, redis_url: str, spec: LiveSpec, cycle_s: float = 2.0, snapshot_every: int = 30,
                 namespace: str = NAMESPACE, shard_memory_mb: int = 64) -> None:
        if cycle_s <= 0:
            raise ValueError("cycle_s must be positive")
        self.redis_url = redis_url
        self.spec = spec
        self.cycle_s = cycle_s
        self.snapshot_every = snapshot_every
        self.namespace = namespace
        self.shard_memory_mb = shard_memory_mb
        self.actors: dict[int, Any] = {}

    def start(self, regions: list[int]) -> None:
        init_ray(namespace=self.namespace)
        for region in sorted(set(regions) - set(self.actors)):
            self.actors[region] = LiveShardActor.options(  # type: ignore[attr-defined]
                name=live_name(region), namespace=self.namespace, get_if_exists=True,
                memory=self.shard_memory_mb * 1024 * 1024, scheduling_strategy="SPREAD",
            ).remote(region, self.spec, self.redis_url, self.cycle_s, self.snapshot_every)
        statuses = self.statuses()
        log.info("live runtime: %d regions up: %s", len(statuses), ", ".join(sorted(statuses)))

    def statuses(self, timeout_s: float = 60.0) -> dict[str, dict[str, Any]]:
        regions = sorted(self.actors)
        replies = ray.get([self.actors[r].status.remote() for r in regions], timeout=timeout_s)
        return {s["region"]: s for s in replies}

    def kill(self, region: int, restart: bool = True) -> None:
        """Kill one region's actor (Ray restarts it unless ``restart`` is False): the crash test's lever."""
        ray.kill(self.actors[region], no_restart=not restart)

    def close(self) -> None:
        for region, handle in sorted(self.actors.items()):
            try:
                ray.get(handle.stop.remote(), timeout=15)
            except Exception as exc:  # noqa: BLE001 - it is going away anyway
                log.debug("live region %x: stop failed: %s", region, exc)
            try:
                ray.kill(handle, no_restart=True)
            except Exception as exc:  # noqa: BLE001
                log.debug("live region %x: kill failed: %s", region, exc)
        self.actors.clear()
