"""Where shard snapshots live, behind one small interface.

A shard actor that Ray restarts (``max_restarts``) comes back as a new process with an empty
memory; it rebuilds from the last snapshot it saved, and the runtime replays the inputs sent
since. The store must therefore outlive the shard's process:

- ``MemorySnapshotStore``: a dict in this process, for tests of the replay logic without Ray;
- ``SnapshotKeeper`` / ``ActorSnapshotStore``: a named Ray actor holding the snapshots in memory,
  and the client the shard actors use to reach it by name. It survives shard crashes, not a
  crash of its own or of the cluster;
- a Redis store comes later with the same three methods (keys already carry the region as a
  Redis Cluster hash tag, see ``snapshot_key``).
"""
from __future__ import annotations

import logging
from typing import Any, Protocol, runtime_checkable

import ray

from actors.ray_setup import NAMESPACE

log = logging.getLogger(__name__)

KEEPER_NAME = "snapshot-keeper"


def snapshot_key(region: int) -> str:
    """``{region}:shard``: the hash tag keeps a region's keys in one Redis Cluster slot."""
    return f"{{{region:x}}}:shard"


@runtime_checkable
class SnapshotStore(Protocol):
    def save(self, key: str, step: int, blob: bytes) -> None:
        """Keep ``blob`` as the state after ``step``; an older step than the one kept is ignored."""
        ...

    def load(self, key: str) -> tuple[int, bytes] | None:
        """The newest (step, blob) kept for ``key``, or None."""
        ...

    def delete(self, key: str) -> None: ...


class MemorySnapshotStore:
    """Snapshots in a dict of this process: for tests, and a single-process run."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[int, bytes]] = {}

    def save(self, key: str, step: int, blob: bytes) -> None:
        kept = self.data.get(key)
        if kept is not None and kept[0] > step:
            log.warning("snapshot %s at step %d ignored: step %d is already kept", key, step, kept[0])
            return
        self.data[key] = (step, blob)

    def load(self, key: str) -> tuple[int, bytes] | None:
        return self.data.get(key)

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


class RegionSnapshotKeeper:
    """The keeper's body; a plain class so its rule is the one of ``MemorySnapshotStore``."""

    def __init__(self) -> None:
        self._store = MemorySnapshotStore()

    def save(self, key: str, step: int, blob: bytes) -> None:
        self._store.save(key, step, blob)

    def load(self, key: str) -> tuple[int, bytes] | None:
        return self._store.load(key)

    def delete(self, key: str) -> None:
        self._store.delete(key)

    def keys(self) -> list[str]:
        return sorted(self._store.data)

    def ping(self) -> bool:
        return True


# num_cpus=0: it idles between saves; max_restarts=0: a restarted keeper would be empty and lie.
SnapshotKeeper = ray.remote(num_cpus=0, max_restarts=0)(RegionSnapshotKeeper)


def ensure_keeper(name: str = KEEPER_NAME, namespace: str = NAMESPACE, detached: bool = False) -> Any:
    """Get or create the named keeper; ``detached`` lets it outlive the driver that made it."""
    handle = SnapshotKeeper.options(  # type: ignore[attr-defined]
        name=name,
        namespace=namespace,
        get_if_exists=True,
        lifetime="detached" if detached else None,
    ).remote()
    ray.get(handle.ping.remote())
    return handle


class ActorSnapshotStore:
    """``SnapshotStore`` over the named keeper actor; looked up lazily, so it pickles by name."""

    def __init__(self, name: str = KEEPER_NAME, namespace: str = NAMESPACE, timeout_s: float | None = 60.0) -> None:
        self.name = name
        self.namespace = namespace
        self.timeout_s = timeout_s
        self._handle: Any = None

    def _keeper(self) -> Any:
        if self._handle is None:
            self._handle = ray.get_actor(self.name, namespace=self.namespace)
        return self._handle

    def save(self, key: str, step: int, blob: bytes) -> None:
        ray.get(self._keeper().save.remote(key, step, blob), timeout=self.timeout_s)

    def load(self, key: str) -> tuple[int, bytes] | None:
        found: tuple[int, bytes] | None = ray.get(self._keeper().load.remote(key), timeout=self.timeout_s)
        return found

    def delete(self, key: str) -> None:
        ray.get(self._keeper().delete.remote(key), timeout=self.timeout_s)

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "namespace": self.namespace, "timeout_s": self.timeout_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]
