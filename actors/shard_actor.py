"""The Ray actor that hosts one region's ``RegionShard``.

A thin shell: the domain code is ``dispatch.region.RegionShard``, identical to what
``LocalRuntime`` runs in-process. What the shell adds is what a process that may die needs:

- numbered steps. ``step(step_no, inputs)`` applies step ``last + 1`` only. A repeat of the last
  step (Ray retrying a call whose reply was lost) returns the cached result instead of applying
  the inputs twice; an older step is an error; a step beyond ``last + 1`` (the actor restarted
  from an older snapshot) returns ``ReplayFrom(last + 1)`` so the caller re-sends what is missing.
- snapshots. After every step whose number is a multiple of ``snapshot_every`` the shard (and
  the result of that step, for the retry case above) is saved to the ``SnapshotStore`` before
  the step returns: when the caller holds a result for such a step, that state is durable.
  ``snapshot_due`` is that rule, shared with the runtime, which drops its buffered inputs then.
- on start (Ray runs ``__init__`` again on each restart) it restores the last snapshot if one
  exists, else builds a fresh shard from its ``ShardSpec``.

``ShardHost`` is the plain-Python body (tested without Ray); ``RegionShardActor`` is it as an actor.
"""
from __future__ import annotations

import logging
import os
import pickle
from dataclasses import dataclass
from typing import Any

import ray

from actors.persistence import ActorSnapshotStore, SnapshotStore, snapshot_key
from actors.ray_setup import NAMESPACE
from dispatch.errors import InvalidInput
from dispatch.records import AssignmentRecord, CourierRecord, OrderRecord
from dispatch.region import RegionShard, ShardSpec, StepInput, StepResult

log = logging.getLogger(__name__)

Records = tuple[list[OrderRecord], list[CourierRecord], list[AssignmentRecord]]
_BLOB_VERSION = 1


def snapshot_due(step_no: int, snapshot_every: int) -> bool:
    """Whether the state after ``step_no`` is saved: the one rule both the actor and runtime use."""
    return snapshot_every > 0 and step_no % snapshot_every == 0


@dataclass(frozen=True, slots=True)
class ReplayFrom:
    """Reply of a shard that is behind the caller: re-send the inputs of steps ``step`` onwards."""

    region: int
    step: int


@dataclass(frozen=True, slots=True)
class ShardStatus:
    region: int
    last_step: int
    snapshot_step: int
    snapshot_every: int
    restored: bool  # this process started from a snapshot (a restart, or a shard joined again)
    pid: int


class StaleStep(InvalidInput):
    """A step older than the shard's last one: its inputs were applied and its result is gone."""


class ShardHost:
    """Step numbering, caching and snapshots around one ``RegionShard``; see the module docstring."""

    def __init__(self, region: int, spec: ShardSpec, store: SnapshotStore, snapshot_every: int = 1) -> None:
        if snapshot_every < 0:
            raise ValueError("snapshot_every must be >= 0 (0: never snapshot)")
        self.region = region
        self.spec = spec
        self.store = store
        self.snapshot_every = snapshot_every
        self.key = snapshot_key(region)
        self.last_step = 0
        self.snapshot_step = 0
        self.last_result: StepResult | None = None
        self.restored = False
        found = store.load(self.key)
        if found is None:
            self.shard = spec.build(region)
            log.debug("region %x: fresh shard", region)
        else:
            self._restore(*found)

    def _restore(self, step: int, blob: bytes) -> None:
        state: dict[str, Any] = pickle.loads(blob)
        if state.get("version") != _BLOB_VERSION or state.get("region") != self.region:
            raise InvalidInput(f"snapshot {self.key} is not a version-{_BLOB_VERSION} snapshot of region {self.region:x}")
        self.shard = RegionShard.restore(state["shard"])
        self.last_step = self.snapshot_step = step
        self.last_result = state["result"]
        self.restored = True
        log.info("region %x: restored from the snapshot of step %d", self.region, step)

    def step(self, step_no: int, inputs: StepInput) -> StepResult | ReplayFrom:
        if step_no <= self.last_step:
            if step_no == self.last_step and self.last_result is not None:
                log.info("region %x: step %d repeated; returning its cached result", self.region, step_no)
                return self.last_result
            raise StaleStep(f"region {self.region:x}: step {step_no} was already applied (last step {self.last_step})")
        if step_no > self.last_step + 1:
            log.info("region %x: asked for step %d at step %d; asking for a replay", self.region, step_no, self.last_step)
            return ReplayFrom(self.region, self.last_step + 1)
        result = self.shard.step(inputs)
        self.last_step = step_no
        self.last_result = result
        if snapshot_due(step_no, self.snapshot_every):
            self.save()
        return result

    def save(self) -> int:
        """Snapshot now (after ``last_step``); returns that step."""
        state = {
            "version": _BLOB_VERSION,
            "region": self.region,
            "shard": self.shard.snapshot(),
            "result": self.last_result,
        }
        self.store.save(self.key, self.last_step, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
        self.snapshot_step = self.last_step
        return self.last_step

    def drop_snapshot(self) -> None:
        self.store.delete(self.key)

    def records(self, upto: int | None = None) -> Records | ReplayFrom:
        """The shard's records, once it has applied step ``upto`` (else a ``ReplayFrom``)."""
        if upto is not None and upto > self.last_step:
            return ReplayFrom(self.region, self.last_step + 1)
        shard = self.shard
        return shard.order_records(), shard.courier_records(), list(shard.assignments)

    def ping(self) -> int:
        """The last applied step: cheap liveness check that also tells where the shard stands."""
        return self.last_step

    def status(self) -> ShardStatus:
        return ShardStatus(self.region, self.last_step, self.snapshot_step, self.snapshot_every, self.restored, os.getpid())


class SimulatedRegionShard(ShardHost):
    """``ShardHost`` reaching its snapshots through the keeper actor named ``store_name``."""

    def __init__(
        self,
        region: int,
        spec: ShardSpec,
        store_name: str,
        snapshot_every: int = 1,
        namespace: str = NAMESPACE,
    ) -> None:
        super().__init__(region, spec, ActorSnapshotStore(store_name, namespace), snapshot_every)

    def where(self) -> str:
        """The Ray node id (hex) this shard runs on."""
        return ray.get_runtime_context().get_node_id()


# Defaults only: RayRuntime sets every one of these per actor with .options(...).
RegionShardActor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=3, max_pending_calls=64)(SimulatedRegionShard)
