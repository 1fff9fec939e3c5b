"""Snapshot stores: the in-process dict and the keeper actor obey the same rules."""
from __future__ import annotations

import pickle

import pytest

from actors.persistence import ActorSnapshotStore, MemorySnapshotStore, SnapshotStore, ensure_keeper, snapshot_key
from actors.runtime import unique_namespace


def check_store(store: SnapshotStore) -> None:
    key = snapshot_key(0x8530995BFFFFFFF)
    assert store.load(key) is None
    store.save(key, 3, b"three")
    store.save(key, 2, b"two")  # an older step never replaces a newer one
    assert store.load(key) == (3, b"three")
    store.save(key, 5, b"five")
    assert store.load(key) == (5, b"five")
    store.delete(key)
    store.delete(key)  # deleting twice is fine
    assert store.load(key) is None


def test_snapshot_key_carries_the_region_as_a_hash_tag() -> None:
    assert snapshot_key(0x8530995BFFFFFFF) == "{8530995bfffffff}:shard"


def test_memory_store() -> None:
    store = MemorySnapshotStore()
    assert isinstance(store, SnapshotStore)
    check_store(store)


@pytest.mark.ray
def test_actor_store_reaches_the_keeper_by_name(ray_session: None) -> None:
    import ray

    namespace = unique_namespace("test-keeper")
    keeper = ensure_keeper("keeper-under-test", namespace)
    try:
        store = ActorSnapshotStore("keeper-under-test", namespace)
        assert isinstance(store, SnapshotStore)
        check_store(store)
        store.save("k", 1, b"x")
        clone = pickle.loads(pickle.dumps(store))  # what a shard actor receives: the name, not a handle
        assert clone.load("k") == (1, b"x")
        assert ray.get(keeper.keys.remote()) == ["k"]
        assert ensure_keeper("keeper-under-test", namespace)._actor_id == keeper._actor_id  # get-or-create
    finally:
        ray.kill(keeper)


@pytest.mark.ray
def test_init_ray_is_idempotent(ray_session: None) -> None:
    import ray

    from actors.ray_setup import NAMESPACE, init_ray

    init_ray(num_cpus=1)  # no-op: the session's Ray is kept
    assert ray.is_initialized()
    assert ray.cluster_resources()["CPU"] == 2
    assert NAMESPACE == "o2o-dispatch"
