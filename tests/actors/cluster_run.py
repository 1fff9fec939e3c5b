"""Run the tiny two-region world on a two-node ``ray.cluster_utils.Cluster``; print a JSON report.

Run by ``test_cluster.py`` in its own Python process (see there why). Usage:
``python cluster_run.py [spread|node|default]``. The last stdout line is the JSON report.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ["RAY_AUTH_MODE"] = "disabled"  # before ray is imported: no token auth for a local cluster
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.pop("RAY_ADDRESS", None)
sys.path.insert(0, str(Path(__file__).parent))

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from actors.ray_setup import init_ray  # noqa: E402
from actors.runtime import RayRuntime  # noqa: E402
from simulator.runtime import LocalRuntime  # noqa: E402
from tiny_world import drive, regions_of, tiny_instance  # noqa: E402

MB = 1024 * 1024


def main(placement: str) -> dict[str, object]:
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
        t_up = time.perf_counter() - t0

        instance = tiny_instance()
        local = LocalRuntime()
        local_history = drive(local, instance)
        local_records = local.collect()

        runtime = RayRuntime(snapshot_every=2, namespace="o2o-cluster-test", placement=placement)
        history = drive(runtime, instance)
        records = runtime.collect()
        placements = runtime.placements()
        runtime.close()
        orders = records[0]
        return {
            "placement": placement,
            "nodes": nodes,
            "regions": [f"{r:x}" for r in regions_of(instance)],
            "placements": {f"{r:x}": node for r, node in placements.items()},
            "orders": len(orders),
            "delivered": sum(1 for o in orders if o.status == "delivered"),
            "same_as_local": history == local_history and records == local_records,
            "startup_s": round(t_up, 2),
            "total_s": round(time.perf_counter() - t0, 2),
        }
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "spread")))
