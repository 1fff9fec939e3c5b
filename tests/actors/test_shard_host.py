"""The shard actor's step numbering, cache, replay marker and snapshots, without Ray.

``ShardHost`` is the body of ``RegionShardActor``; with a ``MemorySnapshotStore`` standing in
for the keeper, a "restart" is simply a second host built on the same store.
"""
from __future__ import annotations

import pytest

from actors.persistence import MemorySnapshotStore, snapshot_key
from actors.shard_actor import ReplayFrom, ShardHost, StaleStep, snapshot_due
from dispatch.errors import InvalidInput
from dispatch.region import StepInput
from tiny_world import InputFeed, regions_of, spec_of, tiny_instance


def region_inputs(n: int) -> tuple[int, list[StepInput]]:
    """Fresh inputs of the first region for ticks 0..n-1 (every call builds new objects)."""
    instance = tiny_instance()
    region = regions_of(instance)[0]
    feed = InputFeed(instance)
    return region, [feed.next(float(t))[region] for t in range(n)]


def host(store: MemorySnapshotStore, every: int) -> ShardHost:
    instance = tiny_instance()
    return ShardHost(regions_of(instance)[0], spec_of(instance), store, every)


def test_snapshot_rule() -> None:
    assert [s for s in range(1, 10) if snapshot_due(s, 3)] == [3, 6, 9]
    assert not any(snapshot_due(s, 0) for s in range(1, 10))


def test_steps_apply_in_order_and_repeat_from_cache() -> None:
    _, inputs = region_inputs(3)
    h = host(MemorySnapshotStore(), 1)
    first = h.step(1, inputs[0])
    second = h.step(2, inputs[1])
    assert h.step(2, inputs[1]) is second  # a retried call does not apply its inputs twice
    with pytest.raises(StaleStep, match="step 1 was already applied"):
        h.step(1, inputs[0])
    assert h.step(5, inputs[2]) == ReplayFrom(h.region, 3)
    assert h.ping() == 2 and first.step == 1


def test_restart_restores_the_last_snapshot_and_asks_for_a_replay() -> None:
    store = MemorySnapshotStore()
    original = host(store, 2)
    _, inputs = region_inputs(6)
    expected = [original.step(i + 1, x) for i, x in enumerate(inputs)]
    assert store.load(snapshot_key(original.region))[0] == 6  # type: ignore[index]

    store = MemorySnapshotStore()
    crashed = host(store, 2)
    _, inputs = region_inputs(6)
    for i in range(5):  # dies after step 5: the snapshot of step 4 survives
        crashed.step(i + 1, inputs[i])
    restarted = host(store, 2)
    assert restarted.restored and restarted.ping() == 4
    _, inputs = region_inputs(6)
    assert restarted.step(6, inputs[5]) == ReplayFrom(restarted.region, 5)
    assert restarted.records(upto=5) == ReplayFrom(restarted.region, 5)
    assert restarted.step(4, inputs[3]) == expected[3]  # its result survives in the snapshot
    assert [restarted.step(5, inputs[4]), restarted.step(6, inputs[5])] == expected[4:]
    assert restarted.records(upto=6) == original.records()


def test_no_snapshots_when_disabled_and_foreign_blobs_are_refused() -> None:
    store = MemorySnapshotStore()
    h = host(store, 0)
    _, inputs = region_inputs(3)
    for i, x in enumerate(inputs):
        h.step(i + 1, x)
    assert store.load(h.key) is None
    other = ShardHost(regions_of(tiny_instance())[1], spec_of(tiny_instance()), MemorySnapshotStore(), 1)
    other.save()
    store.save(h.key, 1, other.store.load(other.key)[1])  # type: ignore[index]
    with pytest.raises(InvalidInput, match="not a version-1 snapshot of region"):
        host(store, 1)
