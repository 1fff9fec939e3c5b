"""The dispatch engine in its own process (issue 12, "the service dies with its Ray"): killed, it comes
back; meanwhile the API answers, ``/health`` says dispatch is away and why, and an order placed then is
dispatched once the engine returns. The engine here is the local one (threads), in the child process
that ``dispatch serve`` runs it in; with Ray the child is the Ray driver (``test_serve_lifecycle``)."""
from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest

from api.engine_supervisor import EngineSupervisor, describe_exit
from api.settings import Settings
from tests.api.conftest import Live, start_live


class HeldSupervisor(EngineSupervisor):
    """Restarts only once the test lets it: the window in which dispatch is away is the test's, not a race."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.let_restart = threading.Event()

    def _pause_before_restart(self, delay_s: float) -> None:
        while not self.let_restart.wait(0.05) and not self._stopping.is_set():
            pass


def held(settings: Settings, url: str, regions: list[int]) -> HeldSupervisor:
    return HeldSupervisor(settings, url, regions, first_delay_s=0.1, stop_timeout_s=10)


@pytest.fixture
def supervised(redis_url: str) -> Iterator[Live]:
    service, stop = start_live(redis_url, supervise=held)
    try:
        yield service
    finally:
        stop()


def health(live: Live) -> httpx.Response:
    return httpx.get(f"{live.base}/health", timeout=5)


def test_a_killed_engine_comes_back_and_dispatches_the_orders_taken_meanwhile(supervised: Live) -> None:
    live, engine = supervised, supervised.engine
    up = live.wait(lambda: (r := health(live)).status_code == 200 and r.json(), 30, "the engine process to run")
    assert up["dispatch"]["status"] == "ok" and up["dispatch"]["engine"]["state"] == "running"
    first = engine.pid
    assert up["dispatch"]["engine"]["pid"] == first and first != os.getpid()  # dispatch is not in the API's process

    store = next(s for s in live.stores() if s["id"] == "g1")
    courier = live.headers("courier-1")
    shift = httpx.post(f"{live.base}/couriers/me/shift", json={"on": True, "lat": store["lat"], "lng": store["lng"]}, headers=courier)
    assert shift.status_code == 202
    live.wait(lambda: live.redis.hget("courier:courier-1", "status") == b"idle", 10, "courier-1 on shift")

    os.kill(first, signal.SIGKILL)
    down = live.wait(lambda: (r := health(live)).status_code == 503 and r.json(), 10, "/health to say dispatch is away")
    assert down["ok"] is False and down["redis"] is True and down["dispatch"]["status"] == "degraded"
    assert down["dispatch"]["engine"]["state"] == "down" and down["dispatch"]["engine"]["last_exit"] == "killed by SIGKILL"
    assert "dispatch engine not running since" in down["detail"] and "orders are still taken" in down["detail"]
    assert down["detail"] == down["dispatch"]["reason"]
    assert not psutil.pid_exists(first) or psutil.Process(first).status() == psutil.STATUS_ZOMBIE

    # the API takes the order all the same: it waits in its region's stream
    placed = httpx.post(f"{live.base}/orders", json={"store_id": "g1", "dropoff": {"lat": store["lat"] + 0.01, "lng": store["lng"]}},
                        headers=live.headers("alice"))
    assert placed.status_code == 201, placed.text
    oid = placed.json()["id"]
    assert engine.pid is None and live.redis.hget(f"order:{oid}", "courier") == b""  # nobody dispatches it yet

    engine.let_restart.set()
    back = live.wait(lambda: (r := health(live)).status_code == 200 and r.json(), 30, "the engine to come back")
    assert back["dispatch"]["engine"]["restarts"] == 1 and back["dispatch"]["engine"]["pid"] not in (None, first)
    live.wait(lambda: live.redis.hget(f"order:{oid}", "courier") == b"courier-1", 15, "the order placed meanwhile to be offered")
    assert live.redis.hget(f"order:{oid}", "status") == b"assigned"


def test_stopping_the_supervisor_ends_the_engine_and_says_so(supervised: Live) -> None:
    live, engine = supervised, supervised.engine
    live.wait(lambda: health(live).status_code == 200, 30, "the engine process to run")
    child = psutil.Process(engine.pid)
    engine.stop()
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    stopped = health(live)
    assert stopped.status_code == 503 and stopped.json()["dispatch"]["engine"]["state"] == "stopped"
    assert stopped.json()["detail"].startswith("dispatch engine stopped at")


def test_an_engine_that_cannot_start_is_tried_again_and_health_says_so(redis_url: str) -> None:
    """Its shards cannot be built (an unknown policy stands in for a Ray or Redis not reachable yet): it
    exits 1, the supervisor tries again after its backoff, and /health tells an operator both."""
    live, stop = start_live(redis_url, supervise=held, policy="no-such-policy")
    try:
        engine: HeldSupervisor = live.engine
        down = live.wait(lambda: (r := health(live)).status_code == 503 and r.json()["dispatch"]["engine"]["state"] == "down"
                         and r.json(), 30, "the engine to fail its start")
        assert down["dispatch"]["engine"]["last_exit"] == "failed to start (exit code 1; see the log)"
        assert "(failed to start (exit code 1; see the log); restart 1, next try at " in down["detail"]
        engine.let_restart.set()
        again = live.wait(lambda: (r := health(live)).json()["dispatch"]["engine"]["restarts"] >= 2 and r, 30, "a second try")
        assert again.status_code == 503 and again.json()["dispatch"]["engine"]["state"] in ("starting", "down")
        assert httpx.get(f"{live.base}/stores", timeout=5).status_code == 200  # the API is not the engine
    finally:
        stop()


def test_exit_codes_in_an_operators_words() -> None:
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(1) == "failed to start (exit code 1; see the log)"
    assert describe_exit(1, ran=True) == "exit code 1"  # a Ray driver ended by Ray's core worker, say
    assert describe_exit(3, ran=True) == "went down (exit code 3)"
