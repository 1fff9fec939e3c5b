"""``RayRuntime``: the simulator's ``ShardRuntime`` with each region's shard in a Ray actor.

Same contract as ``simulator.runtime.LocalRuntime`` (start / step / collect / close), same
``RegionShard`` code, so a run gives the same results in or out of Ray. What it adds:

- one named actor per region (``shard-{region:x}`` in the runtime's namespace), created with
  ``get_if_exists``: starting twice, or from a second driver, joins the running shard;
- one call per shard per tick, all shards at once: a tick costs the
  slowest shard, not the sum;
- recovery. Ray restarts a dead shard (``max_restarts``) and retries the call that was in flight
  (``max_task_retries``); the shard restores its last snapshot and answers ``ReplayFrom`` when it
  is behind. The runtime keeps, per region, the inputs sent since that region's last durable
  snapshot, and re-sends them in order. With ``snapshot_every=1`` the buffer holds one tick;
  larger values trade snapshot cost against buffer size and replay time.

One runtime drives a namespace's shards at a time: two drivers stepping the same shards would
interleave steps. A runtime that joins running shards continues their step numbering (the
running shard keeps its own ``ShardSpec``) but cannot replay steps sent by the runtime that
created them.
"""
from __future__ import annotations

import logging
import pickle
import time
import uuid
from collections import deque
from collections.abc import Sequence
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.persistence import KEEPER_NAME, ensure_keeper
from actors.ray_setup import NAMESPACE, init_ray
from actors.shard_actor import RegionShardActor, ReplayFrom, ShardStatus, snapshot_due
from dispatch.records import AssignmentRecord, CourierRecord, OrderRecord
from dispatch.region import ShardSpec, StepInput, StepResult

log = logging.getLogger(__name__)

PLACEMENTS = ("spread", "node", "default")


def shard_name(region: int) -> str:
    return f"shard-{region:x}"


class ShardStepError(RuntimeError):
    """Some shards failed a step. The others applied theirs: ``results`` holds what they returned.

    A failed region's step number is not used up: sending it the same inputs again is safe even if
    the failure came after the shard applied them (it then answers from its cache).
    """

    def __init__(self, errors: dict[int, BaseException], results: dict[int, StepResult]) -> None:
        self.errors = errors
        self.results = results
        detail = "; ".join(f"{r:x}: {type(e).__name__}: {e}" for r, e in sorted(errors.items()))
        super().__init__(f"{len(errors)} shard(s) failed the step: {detail}")


class ReplayError(RuntimeError):
    """A shard is behind and the inputs it needs are no longer buffered (e.g. its snapshot was lost)."""


class RayRuntime:
    """Region shards as Ray actors; see the module docstring.

    ``placement``:

    - ``"spread"`` (default): Ray's SPREAD strategy, so a cluster's regions spread over its nodes;
    - ``"node"``: round-robin soft node affinity over the alive nodes that offer CPUs, in node-id
      order (deterministic; a restarted shard may move if its node is gone);
    - ``"default"``: Ray's default strategy (packs onto the driver's node first).

    ``snapshot_every`` (default 30) is the number of steps between shard snapshots: at a 1-minute
    cycle a snapshot every 30 simulated minutes, with the inputs since buffered here and replayed
    after a restart. Snapshotting every step made a Grubhub day (7o100t100s1p100) take 86 s instead
    of 6 s on 2 cores: the snapshot pickles the whole shard.

    ``shard_memory_mb`` is declared to Ray as the shard's logical ``memory`` (an actor process
    is ~50 MB). It also makes placement work at all: Ray ignored both
    SPREAD and soft node affinity for actors that request no resource (``num_cpus=0`` and
    nothing else): on a two-node cluster two such shards landed on one node in most trials,
    while with a memory request they spread 1/1, 2/2, 3/3 every time. CPUs stay at 0: shards
    idle between ticks, and a fractional CPU would take whole-CPU slots from other Ray tasks.
    """

    def __init__(
        self,
        snapshot_every: int = 30,
        namespace: str = NAMESPACE,
        placement: str = "spread",
        *,
        max_restarts: int = -1,
        max_task_retries: int = 3,
        max_pending_calls: int = 64,
        shard_memory_mb: int = 64,
        keeper_name: str = KEEPER_NAME,
        timeout_s: float | None = 300.0,
        max_replays: int = 5,
    ) -> None:
        if placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
        if snapshot_every < 1:
            raise ValueError("snapshot_every must be at least 1: without snapshots a restarted shard cannot recover")
        if max_pending_calls < 2:
            raise ValueError("max_pending_calls must be at least 2")
        self.snapshot_every = snapshot_every
        self.namespace = namespace
        self.placement = placement
        self.max_restarts = max_restarts
        self.max_task_retries = max_task_retries
        self.max_pending_calls = max_pending_calls
        self.shard_memory_mb = shard_memory_mb
        self.keeper_name = keeper_name
        self.timeout_s = timeout_s
        self.max_replays = max_replays
        self.actors: dict[int, Any] = {}
        self._keeper: Any = None
        self._step: dict[int, int] = {}  # last step acknowledged per region
        self._buffer: dict[int, deque[tuple[int, bytes]]] = {}  # (step, pickled StepInput) since then
        self._placed = 0  # shards placed so far, for the round-robin
        self.replayed_steps = 0  # steps re-sent to restarted shards: recovery shows in the metrics

    # -- ShardRuntime ------------------------------------------------------------------------
    def start(self, regions: list[int], spec: ShardSpec) -> None:
        init_ray()
        if self._keeper is None:
            self._keeper = ensure_keeper(self.keeper_name, self.namespace)
        new = [r for r in sorted(set(regions)) if r not in self.actors]
        strategies = self._strategies(len(new))
        for region, strategy in zip(new, strategies):
            self.actors[region] = RegionShardActor.options(  # type: ignore[attr-defined]
                name=shard_name(region),
                namespace=self.namespace,
                get_if_exists=True,
                lifetime=None,
                max_restarts=self.max_restarts,
                max_task_retries=self.max_task_retries,
                max_pending_calls=self.max_pending_calls,
                num_cpus=0,  # shards idle between ticks: many regions share 2 cores
                memory=self.shard_memory_mb * 1024 * 1024 or None,  # see the class docstring
                scheduling_strategy=strategy,
            ).remote(region, spec, self.keeper_name, self.snapshot_every, self.namespace)
        statuses: list[ShardStatus] = self._get([self.actors[r].status.remote() for r in new])
        for region, status in zip(new, statuses):
            if status.snapshot_every != self.snapshot_every:
                raise ValueError(
                    f"shard {shard_name(region)} already runs with snapshot_every={status.snapshot_every}, "
                    f"not {self.snapshot_every}; close it or use another namespace"
                )
            if status.last_step:
                log.info("region %x: joined a running shard at step %d", region, status.last_step)
            self._step[region] = status.last_step
            self._buffer[region] = deque()
        log.info("ray runtime: %d shards started in namespace %s", len(new), self.namespace)

    def step(self, inputs: dict[int, StepInput]) -> dict[int, StepResult]:
        regions = sorted(inputs)
        unknown = [r for r in regions if r not in self.actors]
        if unknown:
            raise KeyError(f"no shard started for regions {[f'{r:x}' for r in unknown]}")
        refs = []
        for region in regions:
            step_no = self._step[region] + 1
            # Pickled now: the caller may reuse or mutate its objects, a replay must not see that.
            self._buffer[region].append((step_no, pickle.dumps(inputs[region], protocol=pickle.HIGHEST_PROTOCOL)))
            refs.append(self.actors[region].step.remote(step_no, inputs[region]))
        results: dict[int, StepResult] = {}
        errors: dict[int, BaseException] = {}
        deadline = None if self.timeout_s is None else time.monotonic() + self.timeout_s
        for region, ref in zip(regions, refs):  # all calls are in flight: waiting in turn costs nothing
            step_no = self._step[region] + 1
            try:
                reply = ray.get(ref, timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
                if isinstance(reply, ReplayFrom):
                    reply = self._replay(region, reply, step_no)
            except Exception as exc:  # noqa: BLE001 - reported below with every other region's outcome
                errors[region] = exc
                self._buffer[region].pop()  # the step stays to be sent again (same number, so idempotent)
                continue
            results[region] = reply
            self._acknowledge(region, step_no)
        if errors:
            first = min(errors)
            raise ShardStepError(errors, results) from errors[first]
        return results

    def collect(self) -> tuple[list[OrderRecord], list[CourierRecord], list[AssignmentRecord]]:
        orders: list[OrderRecord] = []
        couriers: list[CourierRecord] = []
        assignments: list[AssignmentRecord] = []
        regions = sorted(self.actors)
        replies = self._get([self.actors[r].records.remote(self._step[r]) for r in regions])
        for region, reply in zip(regions, replies):
            if isinstance(reply, ReplayFrom):
                self._replay(region, reply, self._step[region])
                reply = self._get([self.actors[region].records.remote(self._step[region])])[0]
                if isinstance(reply, ReplayFrom):
                    raise ReplayError(f"region {region:x} fell behind again while its records were read")
            o, c, a = reply
            orders += o
            couriers += c
            assignments += a
        return orders, couriers, assignments

    def close(self) -> None:
        """Kill the shards and the keeper (their snapshots go with it)."""
        for region, handle in sorted(self.actors.items()):
            try:
                ray.kill(handle, no_restart=True)
            except Exception as exc:  # already gone: nothing to clean up
                log.debug("region %x: kill failed: %s", region, exc)
        if self._keeper is not None:
            try:
                ray.kill(self._keeper, no_restart=True)
            except Exception as exc:
                log.debug("keeper kill failed: %s", exc)
        self.actors.clear()
        self._keeper = None
        self._step.clear()
        self._buffer.clear()

    # -- beyond the protocol -----------------------------------------------------------------
    def placements(self) -> dict[int, str]:
        """Region -> Ray node id (hex) its shard runs on now."""
        regions = sorted(self.actors)
        return dict(zip(regions, self._get([self.actors[r].where.remote() for r in regions])))

    def statuses(self) -> dict[int, ShardStatus]:
        regions = sorted(self.actors)
        return dict(zip(regions, self._get([self.actors[r].status.remote() for r in regions])))

    def buffered(self, region: int) -> int:
        """How many steps of inputs are kept for a replay of this region."""
        return len(self._buffer[region])

    # -- internals ---------------------------------------------------------------------------
    def _get(self, refs: Sequence[Any]) -> list[Any]:
        return ray.get(list(refs), timeout=self.timeout_s)

    def _strategies(self, n: int) -> list[Any]:
        if self.placement == "spread":
            return ["SPREAD"] * n
        if self.placement == "default":
            return ["DEFAULT"] * n
        nodes = spread_nodes()
        if not nodes:
            raise RuntimeError("no alive ray node to place shards on")
        first = self._placed
        self._placed += n
        # soft: a restarted shard may land elsewhere if its node is gone
        return [NodeAffinitySchedulingStrategy(nodes[(first + i) % len(nodes)], soft=True) for i in range(n)]

    def _acknowledge(self, region: int, step_no: int) -> None:
        self._step[region] = step_no
        if snapshot_due(step_no, self.snapshot_every):
            buffer = self._buffer[region]
            while buffer and buffer[0][0] <= step_no:
                buffer.popleft()

    def _replay(self, region: int, marker: ReplayFrom, target: int) -> StepResult:
        """Re-send steps ``marker.step .. target`` in order, until the shard is at ``target``."""
        handle = self.actors[region]
        chunk = max(1, self.max_pending_calls // 2)
        for attempt in range(1, self.max_replays + 1):
            entries = [(s, blob) for s, blob in self._buffer[region] if marker.step <= s <= target]
            if not entries or entries[0][0] != marker.step or entries[-1][0] != target:
                have = f"{self._buffer[region][0][0]}..{self._buffer[region][-1][0]}" if self._buffer[region] else "none"
                raise ReplayError(
                    f"region {region:x} restarted at step {marker.step - 1} and needs steps {marker.step}..{target}, "
                    f"but only steps {have} are buffered (was its snapshot lost?)"
                )
            log.warning("region %x: replaying steps %d..%d (attempt %d)", region, marker.step, target, attempt)
            self.replayed_steps += len(entries)
            reply: StepResult | ReplayFrom | None = None
            for i in range(0, len(entries), chunk):  # bounded: never more than max_pending_calls queued
                part = entries[i : i + chunk]
                replies = self._get([handle.step.remote(s, pickle.loads(blob)) for s, blob in part])
                reply = replies[-1]
                if isinstance(reply, ReplayFrom):  # died again during the replay: start over from there
                    break
            if isinstance(reply, StepResult):
                return reply
            assert isinstance(reply, ReplayFrom)
            marker = reply
        raise ReplayError(f"region {region:x}: replay did not converge after {self.max_replays} attempts")


def spread_nodes() -> list[str]:
    """Alive nodes that offer CPUs (a head kept free of work with ``num_cpus=0`` is skipped), by id."""
    alive = [n for n in ray.nodes() if n.get("Alive")]
    with_cpus = [n for n in alive if n.get("Resources", {}).get("CPU", 0) > 0]
    return sorted(n["NodeID"] for n in (with_cpus or alive))


def unique_namespace(prefix: str = "o2o-run") -> str:
    """A fresh namespace, so independent runs (tests, parallel comparisons) never share shards."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
