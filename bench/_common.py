"""Shared helpers of the benchmark scripts: where the data lives, peak memory, JSON output."""
from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
SHARED_BENCH = REPO.parent / "shared" / "bench"


def require(path: Path) -> Path:
    """The data folder, or a clear message and exit 2 (a user's clone has no ../shared)."""
    if not path.exists():
        print(f"benchmark data not found: {path}\n(the real data lives in ../shared/bench beside the repository; "
              "pass its location with --data)", file=sys.stderr)
        raise SystemExit(2)
    return path


class PeakMemory:
    """Samples the resident memory of this process and all its children (Ray's raylet and workers)."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        me = psutil.Process()
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._sample())
            time.sleep(self.interval)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._sample())

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")


# -- live-service benches (ws_tracking, api_orders): processes, resources, percentiles ---------------
def free_port() -> int:
    """A free TCP port on 127.0.0.1 (the benches never listen or connect anywhere else)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_nofile(want: int) -> int:
    """Raise this process's open-file limit towards ``want`` (children inherit it); returns the new soft limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def summarize_ms(seconds: list[float]) -> dict[str, float | int]:
    """count, mean, p50, p95, p99 and max of latencies given in seconds, in milliseconds (nearest-rank)."""
    if not seconds:
        return {"count": 0, "mean": float("nan"), "p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "max": float("nan")}
    import math

    xs = sorted(seconds)

    def rank(q: float) -> float:
        return xs[min(len(xs) - 1, max(0, math.ceil(q * len(xs) - 1e-9) - 1))] * 1000

    return {"count": len(xs), "mean": round(sum(xs) / len(xs) * 1000, 2), "p50": round(rank(0.50), 2), "p95": round(rank(0.95), 2),
            "p99": round(rank(0.99), 2), "max": round(xs[-1] * 1000, 2)}


class ProcessTree:
    """CPU time and resident memory of a process and its descendants (uvicorn's supervisor and workers).

    ``cpu_seconds()`` is user+system time of the live members; CPU % over a window is its change
    divided by the wall time (100 % = one core). A background thread samples every ``interval`` s
    for the peak resident memory and the busiest sample.
    """

    def __init__(self, pids: list[int], interval: float = 0.5) -> None:
        self.roots = [psutil.Process(p) for p in pids]
        self.interval = interval
        self._known: dict[int, psutil.Process] = {}
        self.peak_rss = 0
        self.last_rss = 0
        self.peak_cpu_pct = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def members(self) -> list[psutil.Process]:
        out = []
        for root in self.roots:
            try:
                out += [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
        for p in out:  # keep one Process object per pid: cpu_percent() needs its previous call
            self._known.setdefault(p.pid, p)
        return [self._known[p.pid] for p in out]

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self.members():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def rss(self) -> int:
        total = 0
        for p in self.members():
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        last_t, last_cpu = time.monotonic(), self.cpu_seconds()
        while not self._stop.wait(self.interval):
            now, cpu = time.monotonic(), self.cpu_seconds()
            if now > last_t:
                self.peak_cpu_pct = max(self.peak_cpu_pct, (cpu - last_cpu) / (now - last_t) * 100)
            last_t, last_cpu = now, cpu
            self.last_rss = self.rss()
            self.peak_rss = max(self.peak_rss, self.last_rss)

    def start(self) -> ProcessTree:
        self.last_rss = self.peak_rss = self.rss()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def _machine_busy() -> float:
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


class Window:
    """CPU % of several process trees over one measured window: ``Window(trees)`` ... ``.close()``.

    Besides one entry per tree, ``others`` is what the rest of the machine used meanwhile (other
    people's jobs on a shared machine): the machine's busy time less the trees' own.
    """

    def __init__(self, trees: dict[str, ProcessTree]) -> None:
        self.trees = trees
        self.t0 = time.monotonic()
        self.cpu0 = {name: t.cpu_seconds() for name, t in trees.items()}
        self.busy0 = _machine_busy()
        self.pct: dict[str, float] = {}
        self.wall = 0.0

    def close(self) -> dict[str, float]:
        self.wall = time.monotonic() - self.t0
        self.pct = {name: round((t.cpu_seconds() - self.cpu0[name]) / self.wall * 100, 1) for name, t in self.trees.items()}
        machine = (_machine_busy() - self.busy0) / self.wall * 100
        self.pct["others"] = round(max(0.0, machine - sum(self.pct.values())), 1)
        return self.pct


def exceptions_in(log: Path | None) -> dict[str, int]:
    """Exception lines (``SomeError: ...`` at the start of a line) in a server log, counted by type."""
    import re

    if log is None or not log.exists():
        return {}
    out: dict[str, int] = {}
    for line in log.read_text(errors="replace").splitlines():
        m = re.match(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Closed|Disconnect)):", line)
        if m:
            out[m.group(1)] = out.get(m.group(1), 0) + 1
    return out


class Uvicorn:
    """uvicorn in a subprocess (``python -m uvicorn``) on 127.0.0.1; ``stop()`` ends it and its workers by pid."""

    def __init__(self, target: str, port: int, workers: int = 1, env: dict[str, str] | None = None, factory: bool = True,
                 ws_max_size: int | None = None, log_level: str = "warning", extra: tuple[str, ...] = (), log: Path | None = None) -> None:
        import os
        import subprocess

        cmd = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
               "--log-level", log_level, "--lifespan", "on", *extra]
        if factory:
            cmd.append("--factory")
        if ws_max_size is not None:
            cmd += ["--ws-max-size", str(ws_max_size)]
        self.cmd = cmd
        self.port = port
        self.workers = workers
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        out = open(log, "w") if log is not None else None  # noqa: SIM115 - the child keeps the file open
        self.proc = subprocess.Popen(cmd, cwd=str(REPO), env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT if out else None)
        if out is not None:
            out.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float = 60.0, path: str = "/openapi.json") -> None:
        """Until ``path`` answers (and, with workers, until each worker has started), or RuntimeError."""
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.proc.returncode}: {' '.join(self.cmd)}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=2) as reply:
                    reply.read()
                if self.workers <= 1 or len(psutil.Process(self.pid).children()) >= self.workers:
                    time.sleep(0.5 if self.workers > 1 else 0)  # the other workers finish their lifespan start-up
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"uvicorn did not answer {path} within {timeout:.0f} s")

    def stop(self, timeout: float = 15.0) -> None:
        import signal

        if self.proc.poll() is not None:
            return
        try:
            children = psutil.Process(self.pid).children(recursive=True)
        except psutil.Error:
            children = []
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except Exception:  # noqa: BLE001 - did not stop in time: kill it and the workers it started
            self.proc.kill()
            self.proc.wait(5)
        for child in children:
            try:
                child.kill()
            except psutil.Error:
                pass


def stop_clients(trees: Any, pipes: list[Any], procs: list[Any], graceful: bool, stop_message: Any = None) -> None:
    """End a bench's load: stop the CPU samplers, tell the client processes to stop (when they read
    ``stop_message``), close their pipes, and join them; whoever outlives a short wait is
    terminated, then killed. ``graceful`` (the run finished) gives them 5 s to wind down."""
    for tree in trees:
        tree.stop()
    for pipe in pipes:
        try:
            if stop_message is not None:
                pipe.send(stop_message)
            pipe.close()
        except (OSError, BrokenPipeError):
            pass
    for proc in procs:
        proc.join(timeout=5 if graceful else 0.2)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=3)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=3)


def on_sigterm_exit() -> None:
    """SIGTERM behaves like Ctrl-C (KeyboardInterrupt), so the benches' ``finally`` blocks clean up either way."""
    import signal

    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)


def redis_pid(url: str) -> int:
    """The pid of the Redis server at ``url`` (INFO server), to sample its CPU apart from the service's."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        return int(client.info("server")["process_id"])
    finally:
        client.close()
