"""Dispatch-cycle latency at a Meituan lunch-peak checkpoint: 700 open orders, 300 couriers, one city.

Each cycle is timed end to end, from the snapshot to the committed plan: the region shard's
``step`` (realise due events, snapshot, solve, commit assignments). After each cycle the committed
orders are replaced by new ones so that the open pool stays at ``--orders``. Prints p50/p99 cycle
time and what each cycle committed; writes bench/results/dispatch_cycle.json. Goal (issue 3): p99
<= 1 s on 2 cores.

    python bench/dispatch_cycle.py
    python bench/dispatch_cycle.py --orders 300 --couriers 120 --cycles 30 --policy greedy
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import write_json  # noqa: E402

CENTRE = (31.2304, 121.4737)  # Shanghai, as the demo city
HALF_SPAN_DEG = 0.05  # ~10 km square


def _point(rng: random.Random):
    from dispatch.geo import Location

    return Location(CENTRE[0] + rng.uniform(-HALF_SPAN_DEG, HALF_SPAN_DEG), CENTRE[1] + rng.uniform(-HALF_SPAN_DEG, HALF_SPAN_DEG))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=700)
    parser.add_argument("--couriers", type=int, default=300)
    parser.add_argument("--stores", type=int, default=120)
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--policy", default="ortools")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "results" / "dispatch_cycle.json")
    args = parser.parse_args()

    import numpy as np

    from dispatch.courier import Courier
    from dispatch.modes import asap_window
    from dispatch.order import Order
    from dispatch.region import RegionShard, StepInput
    from dispatch.policies import make_policy
    from dispatch.rules import ServiceRules
    from dispatch.store import Store
    from dispatch.travel import HaversineTravel
    from dispatch.zones import region_of

    rng = random.Random(args.seed)
    now = 12 * 60.0
    stores = [Store(f"s{i}", _point(rng)) for i in range(args.stores)]
    region = region_of(stores[0].location, 3)
    shard = RegionShard(region, make_policy(args.policy), HaversineTravel(), ServiceRules(), region_res=3)
    couriers = []
    for i in range(args.couriers):
        c = Courier(f"c{i}", _point(rng), on_time=now - 120, off_time=now + 240, capacity=4)
        couriers.append(c)
    serial = 0

    def new_order():
        nonlocal serial
        serial += 1
        placed = now - rng.uniform(0, 15)
        return Order(f"o{serial}", rng.choice(stores).id, _point(rng), placed, max(placed, now + rng.uniform(-5, 25)), asap_window(placed))

    shard.step(StepInput(now - 1, couriers=couriers, stores=stores))
    shard.step(StepInput(now - 0.5, orders=[new_order() for _ in range(args.orders)]))  # both before the first timed cycle
    times, committed = [], []
    for cycle in range(args.cycles):
        open_before = len(shard.open_orders())
        t0 = time.perf_counter()
        result = shard.step(StepInput(now))
        times.append(time.perf_counter() - t0)
        done = open_before - result.open_orders
        committed.append(done)
        now += 1.0
        shard.step(StepInput(now - 0.5, orders=[new_order() for _ in range(args.orders - result.open_orders)]))
        print(f"cycle {cycle + 1:3d}: {times[-1] * 1000:7.0f} ms, {open_before} open, {done} committed", flush=True)
    arr = np.array(times)
    figures = {
        "policy": args.policy, "orders": args.orders, "couriers": args.couriers, "stores": args.stores, "cycles": args.cycles,
        "p50_ms": round(float(np.percentile(arr, 50)) * 1000, 1), "p99_ms": round(float(np.percentile(arr, 99)) * 1000, 1),
        "mean_ms": round(float(arr.mean()) * 1000, 1), "max_ms": round(float(arr.max()) * 1000, 1),
        "committed_per_cycle": round(sum(committed) / len(committed), 1), "goal_p99_ms": 1000,
    }
    print(f"\n{args.policy}: {args.orders} open orders, {args.couriers} couriers, {args.cycles} cycles")
    print(f"cycle time p50 {figures['p50_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms (goal <= 1000 ms), max {figures['max_ms']:.0f} ms; "
          f"{figures['committed_per_cycle']} orders committed per cycle")
    write_json(args.json, figures)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
