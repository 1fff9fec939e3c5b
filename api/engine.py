"""Where the live region shards run: Ray actors (default) or threads of this process (``engine=local``).

Either way each region is a ``LiveHost`` ticking every ``cycle_s`` seconds over its Redis stream;
the local engine exists for tests and for a single-process demo without Ray.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from actors.live_host import LiveHost, LiveSpec
from api.settings import Settings
from dispatch.rules import ServiceRules

log = logging.getLogger(__name__)


class Engine(Protocol):
    def start(self, regions: list[int]) -> None: ...

    def close(self) -> None: ...


def live_spec(settings: Settings) -> LiveSpec:
    params: tuple[tuple[str, object], ...] = ()
    if settings.reposition:
        from api.city import city_forecast

        params = (("reposition", city_forecast(settings.scenario, settings.utc_offset_hours)),)
    return LiveSpec(policy=settings.policy, policy_params=params, rules=ServiceRules(), offer_timeout=settings.offer_timeout_s / 60,
                    auto_accept=settings.auto_accept)


class LocalEngine:
    """One thread ticks every region's ``LiveHost`` in turn."""

    def __init__(self, redis_url: str, spec: LiveSpec, cycle_s: float = 2.0, snapshot_every: int = 30) -> None:
        import redis

        self.r = redis.Redis.from_url(redis_url)
        self.spec, self.cycle_s, self.snapshot_every = spec, cycle_s, snapshot_every
        self.hosts: dict[int, LiveHost] = {}
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0

    def start(self, regions: list[int]) -> None:
        with self.lock:
            for region in regions:
                self.hosts.setdefault(region, LiveHost(region, self.spec, self.r, self.snapshot_every))
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="live-engine", daemon=True)
            self._thread.start()

    def tick(self) -> None:
        with self.lock:
            for host in self.hosts.values():
                try:
                    host.tick()
                except Exception:  # noqa: BLE001 - inputs stay in the stream; the next cycle retries
                    self.errors += 1
                    log.exception("live region %x: tick failed", host.region)

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.tick()
            self._stop.wait(max(0.0, self.cycle_s - (time.monotonic() - started)))

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.r.close()


class RayEngine:
    def __init__(self, redis_url: str, spec: LiveSpec, cycle_s: float, snapshot_every: int, ray_address: str | None) -> None:
        from actors.live_runtime import LiveRuntime

        self.ray_address = ray_address
        self.runtime = LiveRuntime(redis_url, spec, cycle_s, snapshot_every)

    def start(self, regions: list[int]) -> None:
        from actors.ray_setup import init_ray

        init_ray(self.ray_address)
        self.runtime.start(regions)

    def statuses(self) -> dict[str, Any]:
        return self.runtime.statuses()

    def close(self) -> None:
        self.runtime.close()


def make_engine(settings: Settings, redis_url: str) -> LocalEngine | RayEngine:
    spec = live_spec(settings)
    if settings.engine == "local":
        return LocalEngine(redis_url, spec, settings.cycle_s, settings.snapshot_every)
    return RayEngine(redis_url, spec, settings.cycle_s, settings.snapshot_every, settings.ray_address)
