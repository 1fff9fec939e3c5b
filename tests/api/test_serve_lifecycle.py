"""``dispatch serve`` as an operator runs it (a subprocess with its own embedded Redis): however it ends
(SIGTERM, Ctrl-C, a port it cannot bind) it takes its engine process and its embedded Redis with it,
and with Ray, a Ray killed from outside leaves the API up and degraded until the engine is back."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.api.conftest import free_port

REPO = Path(__file__).resolve().parents[2]


def serve_command(data_dir: Path, port: int, engine: str, couriers: int) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RAY_ADDRESS", "O2O_CONFIG")}
    env.update(DATA_DIR=str(data_dir), ENGINE=engine, POLICY="greedy", CYCLE_S="0.5", DEMO_ACCOUNTS="true" if couriers else "false",
               DEMO_COURIERS=str(couriers))
    return [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port), "--log-level", "warning"], env


class Serve:
    def __init__(self, data_dir: Path, port: int, engine: str = "local", couriers: int = 0) -> None:
        self.data_dir, self.port = data_dir, port
        self.url = f"http://127.0.0.1:{port}"
        command, env = serve_command(data_dir, port, engine, couriers)
        self.log = data_dir / f"serve-{port}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)

    def until(self, predicate: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            assert self.proc.poll() is None, f"dispatch serve exited ({self.proc.returncode}) waiting for {what}:\n{self.tail()}"
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}:\n{self.tail()}")

    def health(self) -> httpx.Response | None:
        try:
            return httpx.get(self.url + "/health", timeout=5)
        except httpx.HTTPError:
            return None

    def healthy(self, timeout: float = 60) -> dict[str, Any]:
        return self.until(lambda: (r := self.health()) is not None and r.status_code == 200 and r.json(), timeout, "/health 200")

    def family(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children(recursive=True)

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-25:])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def valkey_on(data_dir: Path) -> int | None:
    """The pid of a valkey-server running on the serve's data directory, as ``EmbeddedRedis.holder`` finds it."""
    try:
        proc = psutil.Process(int((data_dir / "redis" / "valkey.pid").read_text().strip()))
        return proc.pid if proc.status() != psutil.STATUS_ZOMBIE and "valkey" in proc.name() else None
    except (OSError, ValueError, psutil.Error):
        return None


def started_here(data_dir: Path) -> list[psutil.Process]:
    """Every live process started by the serve of ``data_dir`` (they inherit its DATA_DIR), whoever adopted them."""
    out = []
    for p in psutil.process_iter():
        try:
            if p.status() != psutil.STATUS_ZOMBIE and p.environ().get("DATA_DIR") == str(data_dir):
                out.append(p)
        except psutil.Error:
            continue
    return out


def assert_nothing_left(serve: Serve) -> None:
    assert valkey_on(serve.data_dir) is None, serve.tail()
    assert started_here(serve.data_dir) == [], serve.tail()


@pytest.fixture
def serve_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    for p in started_here(tmp_path):  # a failed test must not leave a service behind either
        p.kill()


def test_serve_that_cannot_bind_its_port_exits_and_a_ctrl_c_ends_the_next_one_cleanly(serve_dir: Path) -> None:
    """However serve ends, it takes its engine process and its embedded Redis with it: after a port it
    cannot bind (its background loops once hung it there), and on Ctrl-C; and the data directory is free
    again for the next serve."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        failed = Serve(serve_dir, taken.getsockname()[1])
        try:
            code = failed.proc.wait(60)
        finally:
            failed.kill()
    assert code != 0 and "address already in use" in failed.tail()
    assert_nothing_left(failed)

    serve = Serve(serve_dir, free_port())
    try:
        up = serve.healthy()
        engine = up["dispatch"]["engine"]
        assert engine["state"] == "running" and engine["pid"] in {p.pid for p in serve.family()}
        assert valkey_on(serve_dir) is not None
        serve.proc.send_signal(signal.SIGINT)
        serve.proc.wait(30)
    finally:
        serve.kill()
    assert_nothing_left(serve)


TOKENS: dict[tuple[str, str], str] = {}


def api(serve: Serve, method: str, path: str, user: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = {}
    if user is not None:
        if (serve.url, user) not in TOKENS:  # one sign-in each: a password hash is slow on purpose
            token = httpx.post(serve.url + "/auth/token", data={"username": user, "password": "demo"}, timeout=10)
            TOKENS[serve.url, user] = token.raise_for_status().json()["access_token"]
        headers["Authorization"] = f"Bearer {TOKENS[serve.url, user]}"
    return httpx.request(method, serve.url + path, headers=headers, timeout=10, **kwargs)


def courier_of(serve: Serve, order_id: str) -> str:
    reply = api(serve, "GET", f"/orders/{order_id}", "admin")
    return str(reply.json().get("courier") or "") if reply.status_code == 200 else ""


@pytest.mark.ray
def test_a_ray_killed_from_outside_leaves_the_api_up_until_the_engine_is_back(serve_dir: Path) -> None:
    """The issue's scenario: every process of the service's Ray killed. The API answers throughout
    (503 degraded with the reason, then 200), the engine starts a fresh Ray, the orders taken during
    the outage and after it are dispatched, and SIGTERM then leaves nothing running. A second serve
    on the same data directory is refused meanwhile and leaves the first alone."""
    serve = Serve(serve_dir, free_port(), engine="ray", couriers=2)
    try:
        first = serve.healthy(120)["dispatch"]["engine"]["pid"]

        command, env = serve_command(serve_dir, free_port(), "local", 0)
        second = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        said = " ".join((second.stdout + second.stderr).split())  # rich wraps the error to the terminal's width
        assert second.returncode != 0 and f"{serve_dir / 'redis'} is in use by another `dispatch serve` (pid {serve.proc.pid})" in said, said
        assert (r := serve.health()) is not None and r.status_code == 200

        store = next(s for s in api(serve, "GET", "/stores").json() if s["id"] == "g1")
        for courier in ("courier-1", "courier-2"):
            shift = api(serve, "POST", "/couriers/me/shift", courier, json={"on": True, "lat": store["lat"], "lng": store["lng"]})
            assert shift.status_code == 202, shift.text
        order = {"store_id": "g1", "dropoff": {"lat": store["lat"] + 0.01, "lng": store["lng"]}}

        ray_processes = psutil.Process(first).children(recursive=True)
        assert any(p.name() == "gcs_server" for p in ray_processes)
        for p in ray_processes:
            p.kill()
        down = serve.until(lambda: (r := serve.health()) is not None and r.status_code == 503 and r.json(), 60, "/health 503")
        # e.g. "dispatch engine not running since 13:20:09Z (went down (exit code 3): the local Ray's gcs_server
        # (pid 27372) is gone; restart 1, next try at ...); orders are still taken: they wait in Redis and ..."
        assert down["dispatch"]["status"] == "degraded" and down["dispatch"]["engine"]["last_exit"]
        assert down["detail"].startswith("dispatch engine not running since ") and "orders are still taken" in down["detail"]
        during = api(serve, "POST", "/orders", "alice", json=order)  # the API takes it: it waits in Redis
        assert during.status_code == 201, during.text

        back = serve.until(lambda: (r := serve.health()) is not None and r.status_code == 200 and r.json(), 120, "the engine back")
        assert back["dispatch"]["engine"]["restarts"] >= 1 and back["dispatch"]["engine"]["pid"] not in (None, first)
        after = api(serve, "POST", "/orders", "bob", json=order)
        assert after.status_code == 201, after.text
        for placed in (during, after):
            serve.until(lambda: courier_of(serve, placed.json()["id"]), 30, f"order {placed.json()['id']} dispatched")
        serve.proc.send_signal(signal.SIGTERM)
        serve.proc.wait(60)
    finally:
        serve.kill()
    assert_nothing_left(serve)
