"""Where the live region shards run: Ray actors (default) or threads of this process (``engine=local``).

Either way each region is a ``LiveHost`` ticking every ``cycle_s`` seconds over its Redis stream;
the local engine exists for tests and for a single-process demo without Ray. ``dispatch serve``
runs either in a child process of its own (``api.engine_process``, watched by
``api.engine_supervisor``), so that a Ray that dies takes that child down, never the API.
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


class EngineDown(RuntimeError):
    """The engine can no longer dispatch (its thread died, its Ray is gone): its process should exit and be restarted."""


class Engine(Protocol):
    def start(self, regions: list[int]) -> None: ...

    def check(self) -> None:
        """Raise ``EngineDown`` when the engine cannot dispatch any more."""

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

    def check(self) -> None:
        if self._thread is not None and not self._thread.is_alive() and not self._stop.is_set():
            raise EngineDown("the live-engine thread died")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.r.close()


class RayEngine:
    """The region actors on Ray: a local Ray started here (``ray.init()``) or the cluster at ``ray_address``."""

    PROBE_TIMEOUT_S = 15.0  # an actor in a long ortools tick answers its status late, not never
    PROBE_FAILURES = 3  # in a row before the engine gives up on this Ray

    def __init__(self, redis_url: str, spec: LiveSpec, cycle_s: float, snapshot_every: int, ray_address: str | None) -> None:
        from actors.live_runtime import LiveRuntime

        self.ray_address = ray_address
        self.runtime = LiveRuntime(redis_url, spec, cycle_s, snapshot_every)
        self.failures = 0
        self.head: list[tuple[str, Any]] = []  # (name, process) of the gcs_server and raylet of a Ray started here

    def start(self, regions: list[int]) -> None:
        from actors.ray_setup import init_ray

        init_ray(self.ray_address)
        self.head = local_ray_head()
        self.runtime.start(regions)

    def statuses(self) -> dict[str, Any]:
        return self.runtime.statuses()

    def check(self) -> None:
        """Ask every region actor for its status; a Ray whose actors stop answering is gone (killed, or its
        head lost), and waiting for Ray's own 60 s GCS timeout would keep dispatch away for nothing."""
        import psutil

        for name, proc in self.head:  # a local Ray killed from outside: known at once, not after timeouts
            try:
                alive = proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
            except psutil.Error:
                alive = False
            if not alive:
                raise EngineDown(f"the local Ray's {name} (pid {proc.pid}) is gone")
        try:
            self.runtime.statuses(timeout_s=self.PROBE_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - GetTimeoutError, ActorDiedError, RaySystemError...
            self.failures += 1
            log.warning("live regions did not answer (%d/%d): %s", self.failures, self.PROBE_FAILURES, exc)
            if self.failures >= self.PROBE_FAILURES:
                raise EngineDown(f"Ray's region actors did not answer {self.failures} times in a row: {exc}") from exc
        else:
            self.failures = 0

    def close(self) -> None:
        """Stop the actors, then disconnect from Ray (which stops a local Ray this process started)."""
        from actors.ray_setup import shutdown_ray

        try:
            self.runtime.close()
        finally:
            shutdown_ray()


def local_ray_head() -> list[tuple[str, Any]]:
    """(name, process) of the gcs_server and raylet of a Ray this process started (none when it joined a cluster)."""
    import psutil

    out = []
    try:
        for proc in psutil.Process().children():
            try:
                if proc.name() in ("gcs_server", "raylet"):
                    out.append((proc.name(), proc))
            except psutil.Error:
                continue
    except psutil.Error:
        pass
    return out


def make_engine(settings: Settings, redis_url: str) -> LocalEngine | RayEngine:
    spec = live_spec(settings)
    if settings.engine == "local":
        return LocalEngine(redis_url, spec, settings.cycle_s, settings.snapshot_every)
    return RayEngine(redis_url, spec, settings.cycle_s, settings.snapshot_every, settings.ray_address)
