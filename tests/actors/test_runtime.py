"""RayRuntime against LocalRuntime: same inputs, same results, also across shard crashes.

Each test uses its own namespace, so named shards never leak from one test into another while
they all share the session's single Ray.
"""
from __future__ import annotations

from typing import Any

import pytest

from actors.persistence import snapshot_key
from actors.runtime import RayRuntime, ReplayError, ShardStepError, unique_namespace
from dispatch.region import StepInput, StepResult
from simulator.runtime import LocalRuntime
from tiny_world import crash, drive, regions_of, spec_of, tiny_instance

pytestmark = pytest.mark.ray

Records = tuple[list[Any], list[Any], list[Any]]


@pytest.fixture(scope="module")
def local_run() -> tuple[list[dict[int, StepResult]], Records]:
    """The reference: the tiny world run in-process."""
    runtime = LocalRuntime()
    history = drive(runtime, tiny_instance())
    records = runtime.collect()
    orders = records[0]
    assert len(orders) == 12 and all(o.status == "delivered" for o in orders)  # the world is a fair test
    return history, records


def test_same_results_as_local(ray_session: None, local_run: tuple[list[dict[int, StepResult]], Records]) -> None:
    runtime = RayRuntime(snapshot_every=1, namespace=unique_namespace("test-same"))
    try:
        history = drive(runtime, tiny_instance())
        assert history == local_run[0]
        assert runtime.collect() == local_run[1]
        placements = runtime.placements()
        assert sorted(placements) == regions_of(tiny_instance())
        assert all(isinstance(node, str) and len(node) == 56 for node in placements.values())
        assert all(s.last_step == len(history) and not s.restored for s in runtime.statuses().values())
        assert runtime.replayed_steps == 0
        with pytest.raises(KeyError, match="no shard started"):
            runtime.step({123: StepInput(1000.0)})
    finally:
        runtime.close()


def test_start_twice_joins_the_running_shards(ray_session: None) -> None:
    namespace = unique_namespace("test-join")
    instance = tiny_instance()
    first = RayRuntime(snapshot_every=1, namespace=namespace)
    try:
        drive(first, instance, until=4.0)
        before = first.statuses()
        first.start(regions_of(instance), spec_of(instance))  # same runtime again: nothing new
        second = RayRuntime(snapshot_every=1, namespace=namespace)
        second.start(regions_of(instance), spec_of(instance))
        after = second.statuses()
        assert {r: s.pid for r, s in after.items()} == {r: s.pid for r, s in before.items()}
        assert all(s.last_step == 5 for s in after.values())
        results = second.step({r: StepInput(5.0) for r in after})  # continues the numbering
        assert all(res.step == 6 for res in results.values())
        with pytest.raises(ValueError, match="snapshot_every=1"):
            RayRuntime(snapshot_every=2, namespace=namespace).start(regions_of(instance), spec_of(instance))
    finally:
        first.close()


@pytest.mark.parametrize(
    ("snapshot_every", "max_pending_calls"),
    [(1, 64), (3, 64), (40, 4)],  # 40/4: a long replay sent in bounded chunks
)
def test_crashed_shards_recover_to_identical_records(
    ray_session: None, local_run: tuple[list[dict[int, StepResult]], Records], snapshot_every: int, max_pending_calls: int
) -> None:
    instance = tiny_instance()
    low, high = regions_of(instance)
    runtime = RayRuntime(snapshot_every=snapshot_every, namespace=unique_namespace("test-crash"), max_pending_calls=max_pending_calls)
    restarts: list[Any] = []

    def chaos(i: int, now: float, rt: RayRuntime) -> None:
        if i == 10:
            restarts.append(crash(rt, low))  # after step 11: mid-interval for every=3 and every=40
        elif i == 40:
            restarts.append(crash(rt, high))
        elif i == 41:
            restarts.append(crash(rt, high))  # twice in a row
        elif i == 90:
            restarts.append(crash(rt, low))  # after the last step: collect must catch up

    try:
        history = drive(runtime, instance, on_tick=chaos)
        assert history == local_run[0]
        assert runtime.collect() == local_run[1]
        expected_starts = [11 // snapshot_every * snapshot_every, 41 // snapshot_every * snapshot_every,
                           42 // snapshot_every * snapshot_every, 91 // snapshot_every * snapshot_every]
        assert [s.last_step for s in restarts] == expected_starts
        assert [s.restored for s in restarts] == [start > 0 for start in expected_starts]  # no snapshot yet: fresh
        if snapshot_every == 1:
            assert runtime.replayed_steps == 0
        else:
            assert runtime.replayed_steps > 0
        assert max(runtime.buffered(r) for r in (low, high)) < max(snapshot_every, 2)
    finally:
        runtime.close()


def test_a_lost_snapshot_is_a_clear_error(ray_session: None) -> None:
    import ray

    instance = tiny_instance()
    region = regions_of(instance)[0]
    namespace = unique_namespace("test-lost")
    runtime = RayRuntime(snapshot_every=2, namespace=namespace)
    try:
        drive(runtime, instance, until=5.0)  # 6 steps, snapshot at 6
        keeper = ray.get_actor(runtime.keeper_name, namespace=namespace)
        ray.get(keeper.delete.remote(snapshot_key(region)))
        assert crash(runtime, region).last_step == 0  # came back empty
        with pytest.raises(ShardStepError) as caught:
            runtime.step({r: StepInput(6.0) for r in regions_of(instance)})
        assert list(caught.value.errors) == [region]
        assert isinstance(caught.value.errors[region], ReplayError)
        assert "needs steps 1..7" in str(caught.value.errors[region])
    finally:
        runtime.close()


def test_a_failed_step_reports_every_region_and_can_be_sent_again(ray_session: None) -> None:
    from dispatch.errors import InvalidInput

    instance = tiny_instance()
    low, high = regions_of(instance)
    runtime = RayRuntime(namespace=unique_namespace("test-fail"))
    try:
        drive(runtime, instance, until=3.0)  # 4 steps, shards at minute 3
        with pytest.raises(ShardStepError) as caught:
            runtime.step({low: StepInput(1.0), high: StepInput(4.0)})  # low goes back in time
        assert set(caught.value.errors) == {low} and isinstance(caught.value.errors[low], InvalidInput)
        assert caught.value.results[high].step == 5
        assert runtime.step({low: StepInput(4.0)})[low].step == 5  # the failed step number was not used up
        assert {s.last_step for s in runtime.statuses().values()} == {5}
    finally:
        runtime.close()


def test_ray_runtime_has_the_shard_runtime_shape() -> None:
    """``RayRuntime`` satisfies ``ShardRuntime`` structurally (actors/ does not import simulator/)."""
    import inspect

    from simulator.runtime import ShardRuntime

    for name in ("start", "step", "collect", "close"):
        assert list(inspect.signature(getattr(RayRuntime, name)).parameters) == list(
            inspect.signature(getattr(ShardRuntime, name)).parameters
        ), name
