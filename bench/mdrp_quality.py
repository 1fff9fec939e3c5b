"""Dispatch quality on real Grubhub days: greedy and ortools side by side.

For each MDRP instance in ../shared/bench/delivery/mdrp (or --data DIR ...): delivered share,
click-to-door mean and p90, the ratio of mean click-to-door to the mean per-order lower bound,
the overage beyond the 40-minute target, orders per courier-hour and cost per order. Writes
bench/results/mdrp_quality.json. Goals (issue 3): every order delivered, none beyond 90 min,
mean click-to-door <= 1.10 x the lower bound, overage at most half of greedy's.

    python bench/mdrp_quality.py                         # all three days, in process
    python bench/mdrp_quality.py --only 0r50 --runtime ray
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import SHARED_BENCH, require, write_json  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="*", default=None, help="MDRP instance folders (default: all in ../shared/bench)")
    parser.add_argument("--only", default="", help="only instances whose name contains this")
    parser.add_argument("--policy", action="append", default=None, help="policies to compare (default: greedy and ortools)")
    parser.add_argument("--runtime", choices=("local", "ray"), default="local")
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "results" / "mdrp_quality.json")
    args = parser.parse_args()
    policies = args.policy or ["greedy", "ortools"]

    from dispatch.kpis import compute_kpis
    from simulator.engine import run_simulation
    from simulator.mdrp import read_mdrp
    from simulator.runtime import LocalRuntime

    folders = args.data or sorted(p for p in require(SHARED_BENCH / "delivery" / "mdrp").iterdir() if p.is_dir())
    folders = [f for f in folders if args.only in f.name]
    if args.runtime == "ray":
        from actors.ray_setup import init_ray

        init_ray()
    rows = []
    header = f"{'instance':17} {'policy':8} {'delivered':>11} {'ctd mean':>8} {'p90':>6} {'x bound':>7} {'overage':>7} {'>90':>5} {'o/ch':>5} {'$/order':>7} {'wall s':>7}"
    print(header)
    print("-" * len(header))
    for folder in folders:
        instance = read_mdrp(require(folder))
        for policy in policies:
            if args.runtime == "ray":
                from actors.runtime import RayRuntime, unique_namespace

                runtime = RayRuntime(namespace=unique_namespace("quality"))
            else:
                runtime = LocalRuntime()
            t0 = time.perf_counter()
            result = run_simulation(instance, runtime, policy=policy)
            wall = time.perf_counter() - t0
            runtime.close()
            k = compute_kpis(result.orders, result.couriers, instance.rules)
            row = {
                "instance": instance.name, "policy": policy, "orders": k["orders"], "delivered": k["delivered"],
                "delivered_share": k["delivered_share"], "ctd_mean": k["click_to_door"]["mean"], "ctd_p90": k["click_to_door"]["p90"],
                "ratio_to_bound": k["lower_bound"]["ratio_of_means"], "overage_mean": k["target_overage_mean"],
                "beyond_max_share": k["beyond_max_share"], "orders_per_courier_hour": k["orders_per_courier_hour"],
                "cost_per_order": k["cost_per_order"], "wall_seconds": round(wall, 2),
            }
            rows.append(row)
            print(f"{instance.name:17} {policy:8} {k['delivered']:>5}/{k['orders']:<5} {row['ctd_mean']:8.1f} {row['ctd_p90']:6.1f} "
                  f"{row['ratio_to_bound']:7.3f} {row['overage_mean']:7.2f} {row['beyond_max_share'] * 100:4.1f}% "
                  f"{row['orders_per_courier_hour']:5.2f} {row['cost_per_order']:7.2f} {wall:7.1f}", flush=True)
    by = {(r["instance"], r["policy"]): r for r in rows}
    print()
    for folder in folders:
        name = folder.name
        if (name, "greedy") in by and (name, "ortools") in by:
            g, o = by[(name, "greedy")], by[(name, "ortools")]
            share = o["overage_mean"] / g["overage_mean"] if g["overage_mean"] else float("nan")
            print(f"{name}: ortools overage = {share:.2f} x greedy's (goal <= 0.5); ratio to bound {o['ratio_to_bound']:.3f} (goal <= 1.10); "
                  f"delivered {o['delivered']}/{o['orders']}; beyond 90 min {o['beyond_max_share'] * 100:.2f} %")
    write_json(args.json, {"rows": rows})
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
