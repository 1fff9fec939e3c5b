"""Routing quality against the best-known solutions: Li & Lim PDPTW and Solomon VRPTW, 100 stops.

Runs every instance in ../shared/bench/routing/{lilim100,solomon100} at --time-limit seconds of
wall time each, with our solver (``routing.fleet``'s portfolio over ``routing.solve``, two worker
processes) and, in the same run at the same wall budget, PyVRP (one process: that is how it runs)
when it is installed (``pip install -e .[bench]``). Every solution is verified by the independent
checker (``routing.check``) and its distance recomputed in double precision. Prints one table and
summary lines; writes bench/results/routing_quality.json.

Goals (issue): BKS vehicle count on >= 95 % of Li & Lim instances and mean distance gap <= 1 %,
mean gap <= 1 % on Solomon, at 10 s per instance on 2 cores.

    python bench/routing_quality.py                        # 28 instances x 2 solvers x 10 s: ~10 min
    python bench/routing_quality.py --suite lilim --only lr2 --time-limit 5
"""
from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import write_json  # noqa: E402
from routing.benchmarks import LILIM, BenchInstance, read_bks, read_instance  # noqa: E402
from routing.check import check  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "routing"
SUITES = {"lilim": ("lilim100", "lilim100_bks.csv"), "solomon": ("solomon100", "solomon100_bks.csv")}
PYVRP_SCALE = 1000


# ----------------------------------------------------------------------------------- PyVRP
def pyvrp_available() -> bool:
    try:
        import pyvrp  # noqa: F401
    except ImportError:
        return False
    return True


def solve_pyvrp(instance: BenchInstance, seconds: float, seed: int = 0) -> list[list[int]]:
    """PyVRP's routes (node ids, depot excluded) for the instance, same scaling as ours: integer
    distance round(euclid * 1000), duration ceil(euclid * 1000) so that its time feasibility holds
    in doubles, windows scaled inward; a vehicle fixed cost above any total distance makes its
    objective hierarchical (fewest vehicles, then distance)."""
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    s = PYVRP_SCALE

    def up(v: float) -> int:
        return math.ceil(v * s - 1e-9)

    def down(v: float) -> int:
        return math.floor(v * s + 1e-9)

    m = Model()
    locs = [m.add_location(x=instance.x[i], y=instance.y[i]) for i in range(instance.size)]
    depot = m.add_depot(locs[0], tw_early=up(instance.ready[0]), tw_late=down(instance.due[0]))
    longest = max(instance.distance(a, b) for a in range(instance.size) for b in range(instance.size))
    fixed = up(longest) * 2 * instance.size  # more than any plan's whole distance
    m.add_vehicle_type(num_available=instance.vehicles, capacity=instance.capacity, start_depot=depot,
                       end_depot=depot, tw_early=up(instance.ready[0]), tw_late=down(instance.due[0]),
                       fixed_cost=fixed)
    if instance.kind == LILIM:
        for p, d in instance.pairs:
            m.add_shipment(locs[p], locs[d],
                           pickup_tw_early=up(instance.ready[p]), pickup_tw_late=down(instance.due[p]),
                           pickup_service_duration=up(instance.service[p]),
                           delivery_tw_early=up(instance.ready[d]), delivery_tw_late=down(instance.due[d]),
                           delivery_service_duration=up(instance.service[d]), amount=instance.demand[p])
    else:
        for i in instance.customers:
            m.add_client(locs[i], delivery=instance.demand[i], service_duration=up(instance.service[i]),
                         tw_early=up(instance.ready[i]), tw_late=down(instance.due[i]))
    for a in range(instance.size):
        for b in range(instance.size):
            if a != b:
                d = instance.distance(a, b)
                m.add_edge(locs[a], locs[b], distance=round(d * s), duration=up(d))
    result = m.solve(stop=MaxRuntime(seconds), seed=seed, display=False)
    data = m.data()
    routes: list[list[int]] = []
    for route in result.best.routes():
        nodes = []
        for act in route.schedule():
            if act.is_depot():
                continue
            if act.is_client():
                loc = data.client(act.idx).location
            else:
                ship = data.shipment(act.idx)
                loc = ship.pickup.location if act.is_pickup() else ship.delivery.location
            nodes.append(instance.ids[loc])  # locations were added in node order
        if nodes:
            routes.append(nodes)
    return routes


# ----------------------------------------------------------------------------------- run
def gap(distance: float | None, bks: float) -> float | None:
    return None if distance is None else 100.0 * (distance / bks - 1.0)


def summarise(rows: list[dict[str, Any]], solver: str) -> dict[str, Any]:
    done = [r for r in rows if r.get(solver)]
    if not done:
        return {}
    at = [r for r in done if r[solver]["feasible"] and r[solver]["vehicles"] <= r["bks_vehicles"]]
    feasible = [r for r in done if r[solver]["feasible"]]
    return {
        "instances": len(done),
        "feasible": len(feasible),
        "at_bks_vehicles": len(at),
        "share_at_bks_vehicles": len(at) / len(done),
        "mean_gap_at_bks_vehicles": statistics.fmean(r[solver]["gap"] for r in at) if at else None,
        "mean_gap_overall": statistics.fmean(r[solver]["gap"] for r in feasible) if feasible else None,
        "max_gap_at_bks_vehicles": max((r[solver]["gap"] for r in at), default=None),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per instance and solver (default 10)")
    parser.add_argument("--suite", choices=("lilim", "solomon", "all"), default="all")
    parser.add_argument("--only", default="", help="only instances whose name contains this (case-insensitive)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-pyvrp", action="store_true", help="skip PyVRP even when installed")
    parser.add_argument("--data", type=Path, default=DATA, help="folder with lilim100/, solomon100/ and the *_bks.csv tables")
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "results" / "routing_quality.json")
    args = parser.parse_args()
    if not args.time_limit > 0:
        print("error: --time-limit must be positive", file=sys.stderr)
        return 2
    if not args.data.is_dir():
        print(f"benchmark data not found: {args.data}\n(the instances live in ../shared/bench/routing beside the "
              "repository; pass another location with --data)", file=sys.stderr)
        return 2

    from rich.console import Console
    from rich.table import Table

    from routing.bench import solve_instance

    console = Console(width=None if sys.stdout.isatty() else 150)
    err = Console(stderr=True)
    use_pyvrp = not args.no_pyvrp and pyvrp_available()
    if not use_pyvrp:
        err.print("PyVRP " + ("skipped (--no-pyvrp)" if args.no_pyvrp else "is not installed (pip install -e .[bench]): "
                  "its columns are left empty"))

    jobs: list[tuple[str, Path, Any]] = []
    for suite in (("lilim", "solomon") if args.suite == "all" else (args.suite,)):
        folder, table = SUITES[suite]
        if not (args.data / folder).is_dir() or not (args.data / table).is_file():
            print(f"benchmark data not found: {args.data / folder} or {args.data / table}", file=sys.stderr)
            return 2
        try:
            bks = read_bks(args.data / table)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for path in sorted((args.data / folder).glob("*.txt")):
            if args.only.lower() in path.stem.lower():
                jobs.append((suite, path, bks))
    if not jobs:
        print(f"no instance matches --only {args.only!r}", file=sys.stderr)
        return 2

    rows: list[dict[str, Any]] = []
    per_instance = args.time_limit * (2 if use_pyvrp else 1)
    t_all = time.perf_counter()
    for n, (suite, path, bks) in enumerate(jobs, start=1):
        try:
            instance = read_instance(path)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        best = bks.get(instance.name)
        if best is None:
            err.print(f"[yellow]{instance.name}: not in the BKS table, skipped[/]")
            continue
        left = (len(jobs) - n + 1) * per_instance
        err.print(f"[{n}/{len(jobs)}] {instance.name}: ours ... (about {left / 60:.1f} min left)")
        ours = solve_instance(instance, args.time_limit, seed=args.seed)
        row: dict[str, Any] = {
            "suite": suite, "instance": instance.name, "bks_vehicles": best.vehicles, "bks_distance": best.distance,
            "ours": {k: ours[k] for k in ("vehicles", "distance", "feasible", "violations", "wall_seconds", "strategy",
                                         "solver_calls", "routes")},
        }
        row["ours"]["gap"] = gap(ours["distance"], best.distance)
        if use_pyvrp:
            err.print(f"[{n}/{len(jobs)}] {instance.name}: PyVRP ...")
            t0 = time.perf_counter()
            routes = solve_pyvrp(instance, args.time_limit, seed=args.seed)
            wall = time.perf_counter() - t0
            verdict = check(instance, routes)
            row["pyvrp"] = {"vehicles": verdict.vehicles, "distance": round(verdict.distance, 4),
                            "feasible": verdict.feasible, "violations": [str(v) for v in verdict.violations[:20]],
                            "wall_seconds": round(wall, 3), "gap": gap(verdict.distance, best.distance), "routes": routes}
        rows.append(row)

    table = Table(title=f"Routing quality vs BKS, {args.time_limit:g} s per instance and solver")
    for col in ("instance", "BKS veh", "BKS dist", "ours veh", "ours dist", "gap %", "ok"):
        table.add_column(col, justify="left" if col == "instance" else "right")
    if use_pyvrp:
        for col in ("PyVRP veh", "PyVRP dist", "gap %", "ok"):
            table.add_column(col, justify="right")

    def cells(r: dict[str, Any], key: str) -> list[str]:
        s = r[key]
        veh = f"{s['vehicles']}" + ("" if s["vehicles"] <= r["bks_vehicles"] else " +")
        return [veh, f"{s['distance']:.2f}", f"{s['gap']:.2f}", "yes" if s["feasible"] else "NO"]

    for r in rows:
        line = [r["instance"], str(r["bks_vehicles"]), f"{r['bks_distance']:.2f}", *cells(r, "ours")]
        if use_pyvrp:
            line += cells(r, "pyvrp")
        table.add_row(*line)
    console.print(table)

    summary: dict[str, Any] = {}
    for suite in ("lilim", "solomon"):
        suite_rows = [r for r in rows if r["suite"] == suite]
        if not suite_rows:
            continue
        summary[suite] = {}
        for solver in ("ours", "pyvrp") if use_pyvrp else ("ours",):
            s = summarise(suite_rows, solver)
            summary[suite][solver] = s
            at_gap = "n/a" if s["mean_gap_at_bks_vehicles"] is None else f"{s['mean_gap_at_bks_vehicles']:.2f} %"
            all_gap = "n/a" if s["mean_gap_overall"] is None else f"{s['mean_gap_overall']:.2f} %"
            console.print(f"{suite:8s} {solver:6s}: BKS vehicles on {s['at_bks_vehicles']}/{s['instances']} "
                          f"({100 * s['share_at_bks_vehicles']:.0f} %), mean gap {at_gap} on those, {all_gap} overall, "
                          f"feasible {s['feasible']}/{s['instances']}")
    console.print(f"wall time {time.perf_counter() - t_all:.0f} s")

    write_json(args.json, {
        "benchmark": "routing_quality",
        "time_limit": args.time_limit,
        "seed": args.seed,
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        "ours": "routing.fleet portfolio over routing.solve (OR-Tools), 2 worker processes",
        "pyvrp": "PyVRP, 1 process, vehicle fixed cost for the hierarchical objective" if use_pyvrp else None,
        "summary": summary,
        "rows": rows,
    })
    err.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
