"""``EngineSupervisor``: the dispatch engine in a child process of its own, started again when it dies.

The API workers only talk to Redis, so the API must not share the fate of the engine: a Ray that
dies ends its driver's process (Ray's core worker exits it once the GCS is gone). ``dispatch serve``
therefore runs the engine (``api.engine_process``) as a child and watches it from a thread. When
the child dies the supervisor stops whatever the child left behind (the processes of a local Ray it
had started), waits a backoff (0.5 s doubling to 30 s, back to 0.5 s after a minute of running) and
starts a new one, which starts or joins a Ray again; the region actors restore from their Redis
snapshots and replay their streams (``actors.live_host``), so orders taken meanwhile are dispatched.

Every change of state is written to Redis (``engine:status``), where ``GET /health`` reads why
dispatch is away. ``stop`` ends the child (its stdin closed, SIGKILL after a timeout) and anything
it left behind.
"""
from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import psutil
import redis
from redis.exceptions import RedisError

from actors import live_keys as K
from api.engine_process import EXIT_DOWN, EXIT_FAILED_START, config_line
from api.settings import Settings

log = logging.getLogger(__name__)


def now_ms() -> int:
    return int(time.time() * 1000)


def describe_exit(code: int, ran: bool = False) -> str:
    """An operator's words for a child's exit code (``ran``: it had said it was ready)."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    if code == EXIT_FAILED_START and not ran:
        return "failed to start (exit code 1; see the log)"
    return {0: "stopped", EXIT_DOWN: "went down (exit code 3)"}.get(code, f"exit code {code}")


class EngineSupervisor:
    """Runs ``python -m api.engine_process`` and keeps it running; see the module docstring."""

    def __init__(self, settings: Settings, redis_url: str, regions: list[int], *, first_delay_s: float = 0.5,
                 max_delay_s: float = 30.0, stable_s: float = 60.0, stop_timeout_s: float = 30.0) -> None:
        self.settings, self.redis_url, self.regions = settings, redis_url, list(regions)
        self.first_delay_s, self.max_delay_s, self.stable_s, self.stop_timeout_s = first_delay_s, max_delay_s, stable_s, stop_timeout_s
        self.restarts = 0
        # down_since: since when dispatch has been away (None while running): what /health tells
        self.state: dict[str, Any] = {"state": "starting", "since": now_ms(), "down_since": now_ms(), "pid": None,
                                      "restarts": 0, "last_exit": None, "retry_at": None, "engine": settings.engine}
        self._r = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._why = ""  # the reason the running child gave for going down
        self._unwritten = False  # the last state did not reach Redis

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="engine-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the child and whatever it left; returns once they are gone (or were killed)."""
        with self._lock:
            self._stopping.set()
            proc = self._proc
        self._wake.set()
        if proc is not None:
            self._end(proc)
        if self._thread is not None:
            self._thread.join(timeout=self.stop_timeout_s + 15)
        self._r.close()

    # -- the watch ---------------------------------------------------------------------------
    def _run(self) -> None:
        delay = self.first_delay_s
        while True:
            proc = self._spawn()
            if proc is None:
                break
            ran_s, code, ran = self._watch(proc)
            if self._stopping.is_set():
                break
            if ran_s >= self.stable_s:
                delay = self.first_delay_s
            self.restarts += 1
            how = describe_exit(code, ran) + (f": {self._why}" if self._why else "")
            log.warning("dispatch engine (pid %d) %s after %.0f s; starting it again in %.1f s (restart %d). "
                        "The API keeps taking orders; they wait in Redis.", proc.pid, how, ran_s, delay, self.restarts)
            self._publish("down", pid=None, last_exit=how, retry_at=now_ms() + int(delay * 1000))
            self._pause_before_restart(delay)
            delay = min(delay * 2, self.max_delay_s)
        self._publish("stopped", pid=None, retry_at=None)

    def _pause_before_restart(self, delay_s: float) -> None:
        self._stopping.wait(delay_s)

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        with self._lock:
            if self._stopping.is_set():
                return None
            # a session of its own: a Ctrl-C in the terminal reaches the service, which stops the engine in order
            proc = subprocess.Popen([sys.executable, "-m", "api.engine_process"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    start_new_session=True)
            self._proc = proc
        try:
            assert proc.stdin is not None
            proc.stdin.write(config_line(self.settings, self.redis_url, self.regions))
            proc.stdin.flush()  # and it stays open: the child's lifeline
        except (OSError, ValueError) as exc:  # it died at once, or stop() closed its stdin: _watch sees it end
            log.warning("dispatch engine (pid %d) did not take its settings: %s", proc.pid, exc)
        self._publish("starting", pid=proc.pid, retry_at=None)
        return proc

    def _watch(self, proc: subprocess.Popen[bytes]) -> tuple[float, int, bool]:
        """Wait for the child to exit, marking it running when it says ``ready``; (seconds it ran, exit code,
        whether it had been ready)."""
        started = time.monotonic()
        self._why = ""
        ready = threading.Event()
        reader = threading.Thread(target=self._read_control, args=(proc, ready), name="engine-control", daemon=True)
        reader.start()
        family: dict[int, psutil.Process] = {}
        running = False
        while proc.poll() is None:
            if ready.is_set() and not running:
                running = True
                self._publish("running", pid=proc.pid, retry_at=None)
            if self._unwritten:  # Redis came back: /health must not go on with the state from before it left
                self._write()
            self._remember(proc, family)
            self._wake.wait(1.0)
            self._wake.clear()
        reader.join(timeout=2)  # its last words (``down <reason>``) come before the end of file
        self._reap(family)
        for pipe in (proc.stdin, proc.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass
        return time.monotonic() - started, int(proc.returncode), ready.is_set()

    def _read_control(self, proc: subprocess.Popen[bytes], ready: threading.Event) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == b"ready":
                ready.set()
                self._wake.set()
            elif line.startswith(b"down "):
                self._why = line[5:].decode(errors="replace").strip()
        self._wake.set()  # end of file: the child is gone

    @staticmethod
    def _remember(proc: subprocess.Popen[bytes], family: dict[int, psutil.Process]) -> None:
        """Note the child's descendants (a local Ray's processes) while it lives: once it is dead they
        are orphans nobody else knows of."""
        try:
            for p in psutil.Process(proc.pid).children(recursive=True):
                family.setdefault(p.pid, p)
        except psutil.Error:
            pass

    @staticmethod
    def _reap(family: dict[int, psutil.Process]) -> None:
        """Stop what the dead child left behind: actors of an orphaned local Ray would go on dispatching
        next to the ones the new child starts."""
        left = []
        for p in family.values():
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    left.append(p)
            except psutil.Error:
                continue
        if not left:
            return
        log.warning("stopping %d processes the dispatch engine left behind: %s", len(left),
                    ", ".join(f"{p.pid}" for p in left))
        for p in left:
            try:
                p.terminate()
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(left, timeout=5)
        for p in alive:
            try:
                p.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=5)

    def _end(self, proc: subprocess.Popen[bytes]) -> None:
        """Close the child's lifeline (it stops its actors and its Ray in order), SIGKILL after the timeout;
        ``_watch`` then stops whatever it left. No SIGTERM: a Ray driver's handler for it exits at once."""
        if proc.poll() is not None:
            return
        try:
            assert proc.stdin is not None
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("dispatch engine (pid %d) did not stop within %.0f s; killing it", proc.pid, self.stop_timeout_s)
            proc.kill()
            proc.wait(10)

    def _publish(self, state: str, **fields: Any) -> None:
        at = now_ms()
        self.state.update(state=state, since=at, restarts=self.restarts, **fields)
        if state == "running":
            self.state["down_since"] = None
        elif self.state["down_since"] is None:
            self.state["down_since"] = at
        self._write()

    def _write(self) -> None:
        try:
            self._r.set(K.ENGINE, json.dumps(self.state))
            self._unwritten = False
        except RedisError as exc:  # Redis away too: /health says so on its own; written again once it is back
            self._unwritten = True
            log.debug("engine status not written: %s", exc)
