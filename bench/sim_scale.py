"""Scale: a mid-size city at peak and the largest Grubhub day, both under the ortools policy.

(a) ``mid``: simulator/scenarios/mid_city.toml, ~20,000 orders between 07:00 and 24:00 and 1,000
    couriers over ~700 km2 (five H3 resolution-5 region shards). Goal (issue 6): at most 5 minutes
    on 2 cores.
(b) ``mdrp``: the largest MDRP day in ../shared/bench/delivery/mdrp by order count
    (7o100t100s1p100: 3,213 orders, 404 couriers). Goal: at most 60 s. Skipped with a message when
    the data is absent.

For each: wall time of the simulation (building the instance and starting Ray are reported apart),
orders delivered, click-to-door mean (asap orders), the share delivered by its promise (all modes),
peak memory (this process and its children, i.e. Ray's raylet and shard workers, sampled every
0.2 s) and the goal. Writes bench/results/sim_scale.json. Wall times depend on the machine's load:
the ortools policy searches within a wall-clock budget per cycle, so on a busy machine a run takes
about as long but the search gets less CPU (quality, not time, degrades).

    python bench/sim_scale.py                          # both, ortools, through Ray shards
    python bench/sim_scale.py --only mid --demand 0.1 --fleet 0.1     # a quick 2,000-order city
    python bench/sim_scale.py --only mdrp --runtime local
    python bench/sim_scale.py --param budget_seconds=0.1             # a policy parameter
"""
from __future__ import annotations

import argparse
import ast
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import REPO, SHARED_BENCH, PeakMemory, write_json  # noqa: E402

MID_CITY = REPO / "simulator" / "scenarios" / "mid_city.toml"
GOALS = {"mid": 300.0, "mdrp": 60.0}


def largest_mdrp_day(root: Path) -> Path | None:
    """The MDRP instance folder with the most orders (lines of orders.txt less the header), or None."""
    if not root.is_dir():
        return None
    days = []
    for folder in sorted(p for p in root.iterdir() if (p / "orders.txt").is_file()):
        with open(folder / "orders.txt", encoding="utf-8-sig") as f:
            days.append((sum(1 for line in f if line.strip()) - 1, folder.name, folder))
    return max(days)[2] if days else None


def _param(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), ast.literal_eval(value.strip())
    except (ValueError, SyntaxError):
        return key.strip(), value.strip()


def _hhmm(minute: float) -> str:
    return f"{int(minute // 60):02d}:{int(minute % 60):02d}"


def run_one(label: str, instance: Any, args: argparse.Namespace, build_seconds: float) -> dict[str, Any]:
    from dispatch.kpis import compute_kpis
    from simulator.engine import run_simulation
    from simulator.runtime import LocalRuntime

    params = dict(args.param)
    last = {"hour": None}
    wall_at: dict[int, float] = {}  # simulated hour -> wall seconds when its last tick finished

    def progress(now: float, delivered: int, total: int) -> None:
        hour = int(now // 60)
        wall_at[hour] = time.perf_counter() - t0  # t0: set just before the simulation starts
        if args.quiet or hour == last["hour"]:
            return
        last["hour"] = hour
        print(f"  [{label}] sim {_hhmm(now)}  delivered {delivered:6d}/{total}  wall {wall_at[hour]:7.1f} s", flush=True)

    with PeakMemory() as memory:
        if args.runtime == "ray":
            from actors.runtime import RayRuntime, unique_namespace

            runtime: Any = RayRuntime(namespace=unique_namespace(f"scale-{label}"))
        else:
            runtime = LocalRuntime()
        t0 = time.perf_counter()
        try:
            result = run_simulation(instance, runtime, policy=args.policy, policy_params=params or None, progress=progress)
            wall = time.perf_counter() - t0
        finally:
            runtime.close()
    k = compute_kpis(result.orders, result.couriers, instance.rules)
    delivered = [o for o in result.orders if o.delivered_at is not None]
    on_time = sum(1 for o in delivered if o.promise is not None and o.delivered_at <= o.promise)
    ctd = k["click_to_door"]
    hourly = by_hour(result, wall_at)
    return {
        "instance": instance.name,
        "policy": args.policy,
        "policy_params": params,
        "runtime": args.runtime,
        "orders": len(instance.orders),
        "couriers": len(instance.couriers),
        "stores": len(instance.stores),
        "regions": len(result.regions),
        "steps": result.steps,
        "build_seconds": round(build_seconds, 2),
        "wall_seconds": round(wall, 2),
        "goal_wall_seconds": GOALS[label],
        "meets_goal": wall <= GOALS[label],
        "peak_memory_mb": round(memory.peak_mb, 1),
        "delivered": k["delivered"],
        "delivered_share": k["delivered_share"],
        "click_to_door_mean": ctd["mean"],
        "click_to_door_p90": ctd["p90"],
        "on_time_share": on_time / len(delivered) if delivered else None,
        "beyond_max_share": k["beyond_max_share"],
        "ratio_to_bound": k["lower_bound"]["ratio_of_means"],
        "orders_per_courier_hour": k["orders_per_courier_hour"],
        "by_hour": hourly,  # per simulated hour: where the run falls behind and where the wall time goes
    }


def by_hour(result: Any, wall_at: dict[int, float]) -> dict[str, dict[str, Any]]:
    """Per simulated hour: orders placed and delivered in it, orders still open and couriers idle
    at its end, the share of its deliveries after their promise and their mean lateness, the mean
    click-to-door of the asap orders placed in it, and the wall seconds the simulator spent on it."""
    rows: dict[int, dict[str, Any]] = {}

    def row(hour: int) -> dict[str, Any]:
        return rows.setdefault(hour, {"placed": 0, "delivered": 0, "late": 0, "late_minutes": 0.0, "ctd": []})

    for o in result.orders:
        placed = row(int(o.placed_at // 60))
        placed["placed"] += 1
        if o.delivered_at is None:
            continue
        if o.mode == "asap":
            placed["ctd"].append(o.delivered_at - o.placed_at)
        done = row(int(o.delivered_at // 60))
        done["delivered"] += 1
        if o.promise is not None and o.delivered_at > o.promise:
            done["late"] += 1
            done["late_minutes"] += o.delivered_at - o.promise
    last_tick: dict[int, Any] = {}
    for stat in result.timeline:
        last_tick[int(stat.time // 60)] = stat
    out: dict[str, dict[str, Any]] = {}
    previous_wall = 0.0
    for hour in sorted(set(rows) | set(last_tick)):
        r = row(hour)
        tick = last_tick.get(hour)
        wall = wall_at.get(hour)
        out[f"{hour:02d}"] = {
            "placed": r["placed"],
            "delivered": r["delivered"],
            "open_at_end": tick.active_orders if tick else None,
            "idle_couriers_at_end": tick.idle_couriers if tick else None,
            "late_share": round(r["late"] / r["delivered"], 3) if r["delivered"] else None,
            "mean_lateness_min": round(r["late_minutes"] / r["late"], 1) if r["late"] else None,
            "ctd_mean_placed": round(sum(r["ctd"]) / len(r["ctd"]), 1) if r["ctd"] else None,
            "wall_seconds": round(wall - previous_wall, 2) if wall is not None else None,
        }
        if wall is not None:
            previous_wall = wall
    return out


def report(label: str, row: dict[str, Any], verbose: bool = False) -> None:
    mark = "ok" if row["meets_goal"] else "OVER"
    ctd = row["click_to_door_mean"]
    print(f"{label}: {row['instance']}: {row['orders']} orders, {row['couriers']} couriers, {row['regions']} regions, "
          f"{row['steps']} steps, policy {row['policy']} {row['policy_params'] or ''}, runtime {row['runtime']}")
    print(f"  wall time        {row['wall_seconds']:8.1f} s   goal <= {row['goal_wall_seconds']:.0f} s: {mark}"
          f"   (instance built in {row['build_seconds']:.1f} s, not included)")
    print(f"  delivered        {row['delivered']:8d} / {row['orders']}")
    print(f"  click-to-door    {ctd:8.1f} min mean (asap), p90 {row['click_to_door_p90']:.1f}" if ctd is not None else "  click-to-door         n/a")
    print(f"  on time          {row['on_time_share'] * 100:8.1f} % of delivered (by the promise)")
    print(f"  peak memory      {row['peak_memory_mb']:8.1f} MB (driver + Ray processes)", flush=True)
    if verbose:
        print("  hour  placed  delivered  open  idle  late %  wall s")
        for h, r in row["by_hour"].items():
            late = "-" if r["late_share"] is None else f"{r['late_share'] * 100:.0f}"
            wall = "-" if r["wall_seconds"] is None else f"{r['wall_seconds']:.1f}"
            print(f"  {h:>4}  {r['placed']:6d}  {r['delivered']:9d}  {r['open_at_end'] if r['open_at_end'] is not None else '-':>4}"
                  f"  {r['idle_couriers_at_end'] if r['idle_couriers_at_end'] is not None else '-':>4}  {late:>6}  {wall:>6}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("mid", "mdrp"), default=None, help="run one part only")
    parser.add_argument("--runtime", choices=("ray", "local"), default="ray")
    parser.add_argument("--policy", default="ortools")
    parser.add_argument("--param", type=_param, action="append", default=[], metavar="KEY=VALUE",
                        help="a policy parameter (repeatable), e.g. budget_seconds=0.1")
    parser.add_argument("--scenario", type=Path, default=MID_CITY, help="the mid-city scenario file")
    parser.add_argument("--demand", type=float, default=None, help="mid city: demand multiplier (e.g. 0.1 for a quick run)")
    parser.add_argument("--fleet", type=float, default=None, help="mid city: fleet multiplier")
    parser.add_argument("--seed", type=int, default=None, help="mid city: seed (default: the scenario's)")
    parser.add_argument("--data", type=Path, default=None, help="MDRP instance folder (default: the largest in ../shared/bench)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "results" / "sim_scale.json")
    args = parser.parse_args()

    parts = [args.only] if args.only else ["mid", "mdrp"]
    instances: dict[str, tuple[Any, float]] = {}
    skipped: dict[str, str] = {}
    if "mid" in parts:
        from simulator.scenario import build_instance, load_scenario

        t0 = time.perf_counter()
        overrides = {"demand_multiplier": args.demand, "fleet_multiplier": args.fleet}
        instances["mid"] = (build_instance(load_scenario(args.scenario), seed=args.seed, overrides=overrides), time.perf_counter() - t0)
    if "mdrp" in parts:
        from simulator.mdrp import read_mdrp

        folder = args.data or largest_mdrp_day(SHARED_BENCH / "delivery" / "mdrp")
        if folder is None or not folder.is_dir():
            skipped["mdrp"] = f"no MDRP data at {args.data or SHARED_BENCH / 'delivery' / 'mdrp'}"
            print(f"mdrp: skipped ({skipped['mdrp']}; pass --data)")
        else:
            t0 = time.perf_counter()
            instances["mdrp"] = (read_mdrp(folder), time.perf_counter() - t0)

    ray_start = 0.0
    if args.runtime == "ray" and instances:
        from actors.ray_setup import init_ray

        t0 = time.perf_counter()
        init_ray(address=os.environ.get("RAY_ADDRESS"))
        ray_start = time.perf_counter() - t0
        print(f"ray started in {ray_start:.1f} s (not included below)", flush=True)

    rows: dict[str, dict[str, Any]] = {}
    for label, (instance, build) in instances.items():
        rows[label] = run_one(label, instance, args, build)
        report(label, rows[label], verbose=not args.quiet)
    write_json(args.json, {
        "parts": rows,
        "skipped": skipped,
        "ray_start_seconds": round(ray_start, 2),
        "demand_multiplier": args.demand,
        "fleet_multiplier": args.fleet,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average_1m": os.getloadavg()[0]},
    })
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
