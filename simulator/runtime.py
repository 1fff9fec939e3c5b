"""Where region shards run. The simulator talks to a ``ShardRuntime``: one batched ``step`` per tick.

``LocalRuntime`` keeps the shards in this process (tests, profiling); ``actors.runtime.RayRuntime``
hosts each region's shard in a Ray actor. Both run the same ``RegionShard`` code.
"""
from __future__ import annotations

from typing import Protocol

from dispatch.records import AssignmentRecord, CourierRecord, OrderRecord
from dispatch.region import RegionShard, ShardSpec, StepInput, StepResult


class ShardRuntime(Protocol):
    def start(self, regions: list[int], spec: ShardSpec) -> None:
        """Create (or join) one shard per region."""
        ...

    def step(self, inputs: dict[int, StepInput]) -> dict[int, StepResult]:
        """One batched call per shard, all shards in parallel where the runtime can."""
        ...

    def collect(self) -> tuple[list[OrderRecord], list[CourierRecord], list[AssignmentRecord]]:
        """Records of every shard, in region order."""
        ...

    def close(self) -> None: ...


class LocalRuntime:
    """Shards as plain objects in this process."""

    def __init__(self) -> None:
        self.shards: dict[int, RegionShard] = {}

    def start(self, regions: list[int], spec: ShardSpec) -> None:
        for region in regions:
            self.shards.setdefault(region, spec.build(region))

    def step(self, inputs: dict[int, StepInput]) -> dict[int, StepResult]:
        return {region: self.shards[region].step(inputs[region]) for region in sorted(inputs)}

    def collect(self) -> tuple[list[OrderRecord], list[CourierRecord], list[AssignmentRecord]]:
        orders: list[OrderRecord] = []
        couriers: list[CourierRecord] = []
        assignments: list[AssignmentRecord] = []
        for region in sorted(self.shards):
            shard = self.shards[region]
            orders += shard.order_records()
            couriers += shard.courier_records()
            assignments += shard.assignments
        return orders, couriers, assignments

    def close(self) -> None:
        self.shards.clear()
