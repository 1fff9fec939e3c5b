"""Run the tiny two-region world through the simulator engine on a two-node ``ray.cluster_utils.Cluster``.

Run by ``test_cluster.py`` in its own Python process (see there why). Usage:
``python cluster_run.py [placement ...]`` (default: ``spread node``). One cluster serves every
placement, each in its own namespace; for each, the worker node's shard is killed once mid-run.
The last stdout line is a JSON report: the nodes, where each region's shard ran, and whether
the run matched the in-process run.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ["RAY_AUTH_MODE"] = "disabled"  # before ray is imported: no token auth for a local cluster
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.pop("RAY_ADDRESS", None)
sys.path.insert(0, str(Path(__file__).parent))

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from actors.ray_setup import init_ray  # noqa: E402
from actors.runtime import RayRuntime  # noqa: E402
from simulator.engine import SimulationResult, run_simulation  # noqa: E402
from simulator.instance import Instance  # noqa: E402
from simulator.runtime import LocalRuntime  # noqa: E402
from tiny_world import crash, regions_of, tiny_instance  # noqa: E402

MB = 1024 * 1024


def run_on_cluster(instance: Instance, reference: SimulationResult, placement: str, head: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    runtime = RayRuntime(snapshot_every=2, namespace=f"o2o-cluster-{placement}", placement=placement)
    placements: dict[int, str] = {}
    crashed: list[str] = []

    def progress(now: float, delivered: int, total: int) -> None:
        if not placements:
            placements.update(runtime.placements())
        if now >= 20.0 and not crashed:  # once, mid-run: kill the shard on the worker node
            remote = [r for r, node in sorted(placements.items()) if node != head] or sorted(placements)
            status = crash(runtime, remote[0])
            crashed.append(f"{remote[0]:x} restarted at step {status.last_step}")

    try:
        result = run_simulation(instance, runtime, progress=progress)
        replayed = runtime.replayed_steps
    finally:
        runtime.close()
    same = (result.orders, result.couriers, result.assignments, result.timeline) == (
        reference.orders, reference.couriers, reference.assignments, reference.timeline)
    return {
        "placements": {f"{r:x}": node for r, node in placements.items()},
        "crashed": crashed,
        "replayed_steps": replayed,
        "steps": result.steps,
        "orders": len(result.orders),
        "delivered": sum(1 for o in result.orders if o.status == "delivered"),
        "same_as_local": same,
        "run_s": round(time.perf_counter() - t0, 2),
    }


def main(placements: list[str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "object_store_memory": 100 * MB, "include_dashboard": False},
    )
    try:
        cluster.add_node(num_cpus=1, object_store_memory=100 * MB)
        cluster.wait_for_nodes()
        init_ray(address=cluster.address)
        nodes = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
        head = ray.get_runtime_context().get_node_id()
        startup = time.perf_counter() - t0
        instance = tiny_instance()
        reference = run_simulation(instance, LocalRuntime())
        runs = {p: run_on_cluster(instance, reference, p, head) for p in placements}
        return {
            "nodes": nodes,
            "head": head,
            "regions": [f"{r:x}" for r in regions_of(instance)],
            "runs": runs,
            "startup_s": round(startup, 2),
            "total_s": round(time.perf_counter() - t0, 2),
        }
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(main(sys.argv[1:] or ["spread", "node"])))
