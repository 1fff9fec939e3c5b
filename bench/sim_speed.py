"""Simulation speed: one Grubhub day (7o100t100s1p100: 3,213 orders, 404 couriers) under greedy.

Prints wall seconds, simulated orders per wall second and peak memory (this process plus its
children: Ray's raylet and the shard workers), and writes them as JSON. Goal (issue 2): at most
60 s on 2 cores through the Ray runtime. Ray's start-up is measured and reported apart.

    python bench/sim_speed.py                      # Ray runtime (the product path)
    python bench/sim_speed.py --runtime local      # the same shards in this process
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import SHARED_BENCH, PeakMemory, require, write_json  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED_BENCH / "delivery" / "mdrp" / "7o100t100s1p100", help="MDRP instance folder")
    parser.add_argument("--runtime", choices=("ray", "local"), default="ray")
    parser.add_argument("--policy", default="greedy")
    parser.add_argument("--region-res", type=int, default=None, help="H3 resolution of the regions (default: the MDRP reader's, 4)")
    parser.add_argument("--snapshot-every", type=int, default=None, help="Ray runtime: steps between shard snapshots (default: the runtime's)")
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "results" / "sim_speed.json")
    args = parser.parse_args()

    from dispatch.kpis import compute_kpis
    from simulator.engine import run_simulation
    from simulator.mdrp import read_mdrp
    from simulator.runtime import LocalRuntime

    data = require(args.data)
    instance = read_mdrp(data) if args.region_res is None else read_mdrp(data, region_res=args.region_res)
    with PeakMemory() as memory:
        ray_start = 0.0
        if args.runtime == "ray":
            from actors.ray_setup import init_ray
            from actors.runtime import RayRuntime, unique_namespace

            t0 = time.perf_counter()
            init_ray(address=os.environ.get("RAY_ADDRESS"))
            ray_start = time.perf_counter() - t0
            options = {} if args.snapshot_every is None else {"snapshot_every": args.snapshot_every}
            runtime = RayRuntime(namespace=unique_namespace("bench"), **options)
        else:
            runtime = LocalRuntime()
        t0 = time.perf_counter()
        result = run_simulation(instance, runtime, policy=args.policy)
        wall = time.perf_counter() - t0
        runtime.close()
    kpis = compute_kpis(result.orders, result.couriers, instance.rules)
    figures = {
        "instance": instance.name,
        "policy": args.policy,
        "runtime": args.runtime,
        "orders": len(instance.orders),
        "couriers": len(instance.couriers),
        "regions": len(result.regions),
        "steps": result.steps,
        "wall_seconds": round(wall, 2),
        "ray_start_seconds": round(ray_start, 2),
        "orders_per_wall_second": round(len(instance.orders) / wall, 1),
        "peak_memory_mb": round(memory.peak_mb, 1),
        "delivered": kpis["delivered"],
        "goal_wall_seconds": 60,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    print(f"{instance.name}: {figures['orders']} orders, {figures['couriers']} couriers, {figures['regions']} regions, runtime {args.runtime}")
    print(f"wall time        {figures['wall_seconds']:8.2f} s   (goal <= 60 s; Ray start {figures['ray_start_seconds']:.1f} s not included)")
    print(f"orders / wall s  {figures['orders_per_wall_second']:8.1f}")
    print(f"peak memory      {figures['peak_memory_mb']:8.1f} MB (driver + Ray processes)")
    print(f"delivered        {figures['delivered']:8d} / {figures['orders']}")
    write_json(args.json, figures)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
