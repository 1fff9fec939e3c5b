"""Solve one Li & Lim or Solomon benchmark file: ``python -m routing.bench FILE --time-limit S``.

Prints one JSON object (``--json``) or a short human line. The distance is recomputed in double
precision from the routes and ``feasible`` comes from the independent checker
(``routing.check``), never from the solver. Bad input: one message on stderr, exit status 2.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from routing.benchmarks import BenchInstance, read_instance, routes_from_plan, to_problem
from routing.check import check
from routing.fleet import PORTFOLIO, minimise


def solve_instance(instance: BenchInstance, time_limit: float, seed: int = 0, workers: int | None = None) -> dict[str, Any]:
    """Run the fleet-then-distance portfolio on ``instance`` and report it, checked."""
    t0 = time.perf_counter()
    strategies = tuple(dataclasses.replace(s, seed=s.seed + 1000 * seed) for s in PORTFOLIO)
    result = minimise(to_problem(instance), time_limit, strategies=strategies, workers=workers)
    wall = time.perf_counter() - t0
    routes = routes_from_plan(instance, result.plan) if result.plan is not None else []
    routes_ids = [[instance.ids[i] for i in r] for r in routes]
    verdict = check(instance, routes_ids)
    return {
        "instance": instance.name,
        "kind": instance.kind,
        "vehicles": verdict.vehicles,
        "distance": round(verdict.distance, 4),
        "feasible": verdict.feasible,
        "violations": [str(v) for v in verdict.violations[:20]],
        "routes": routes_ids,
        "time_limit": time_limit,
        "wall_seconds": round(wall, 3),
        "seed": seed,
        "strategy": result.strategy,
        "solver_calls": result.steps,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m routing.bench", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="a Li & Lim (PDPTW) or Solomon (VRPTW) instance file")
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds of wall time (default 10)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the ruin steps (default 0)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: one per strategy, at most the CPUs)")
    args = parser.parse_args(argv)
    if not args.time_limit > 0:
        print("error: --time-limit must be positive", file=sys.stderr)
        return 2
    if args.workers is not None and args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        instance = read_instance(args.file)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = solve_instance(instance, args.time_limit, seed=args.seed, workers=args.workers)
    if args.json:
        print(json.dumps(report))
    else:
        status = "feasible" if report["feasible"] else "INFEASIBLE: " + "; ".join(report["violations"][:3])
        print(f"{report['instance']}: {report['vehicles']} vehicles, distance {report['distance']:.2f}, {status} "
              f"({report['wall_seconds']:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
