"""A small but realistic ``results.json`` (schema 1) built without a simulation, for the report's tests.

Two policies (greedy, ortools), three seeds, a fleet knob with three values (0.8x, 1.0x, 1.2x), a
lunch period 10:00-14:00 in central Shanghai on H3 res-8 cells around People's Square. The numbers
are drawn from a seeded ``random.Random`` so the same call gives the same dict; the shape follows
what ``dispatch compare`` writes (``simulator.compare``, results.json schema 1): runs with
KPIs, click-to-door lists, timelines and per-cell figures; groups with 95 % t-intervals across the
seeds; fleet sizing against an on-time target; and the plain-language summary.
"""
from __future__ import annotations

import copy
import math
import random
import statistics
from typing import Any

import h3

CENTRE = (31.23, 121.47)
POLICIES = ["greedy", "ortools"]
SEEDS = [0, 1, 2]
FLEET = [0.8, 1.0, 1.2]
TARGET = 0.95
BASE_COURIERS = 40
START, END = 600, 840  # 10:00-14:00
# how much better ortools is than greedy, and how much a bigger fleet helps (on a 0..1 "stress" scale)
STRESS = {("greedy", 0.8): 1.0, ("greedy", 1.0): 0.6, ("greedy", 1.2): 0.2,
          ("ortools", 0.8): 0.62, ("ortools", 1.0): 0.22, ("ortools", 1.2): 0.06}
KPIS = ["orders", "delivered", "delivered_share", "ctd_mean", "ctd_p50", "ctd_p90", "ctd_p99", "on_time_share",
        "late_mean_min", "utilisation", "courier_hours", "orders_per_courier_hour", "cost_per_order", "ready_to_pickup_mean"]
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def service_area() -> list[str]:
    """The res-8 cells within 6 rings of People's Square (127 cells, ~9 km across)."""
    return sorted(h3.grid_disk(h3.latlng_to_cell(*CENTRE, 8), 6))


def _percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _run(policy: str, fleet: float, seed: int, cells: list[str]) -> dict[str, Any]:
    rng = random.Random(f"{policy}/{fleet}/{seed}")
    demand_rng = random.Random(f"demand/{seed}")  # the same day for every policy and fleet size
    stress = STRESS[(policy, fleet)]
    centre = h3.latlng_to_cell(*CENTRE, 8)
    hotspot = h3.latlng_to_cell(31.215, 121.49, 8)  # Xintiandi-ish: a second lunch cluster

    weights = [3.0 * math.exp(-h3.grid_distance(centre, c) / 2.0) + 2.0 * math.exp(-h3.grid_distance(hotspot, c) / 1.5) + 0.15
               for c in cells]
    n_orders = 230 + demand_rng.randint(-15, 15)
    dropoffs = demand_rng.choices(cells, weights=weights, k=n_orders)
    demand: dict[str, int] = {}
    for c in dropoffs:
        demand[c] = demand.get(c, 0) + 1

    ctd: list[float] = []
    late_by_cell: dict[str, list[float]] = {}
    undelivered = int(n_orders * max(0.0, stress - 0.5) * 0.04)
    for i, cell in enumerate(dropoffs[: n_orders - undelivered]):
        ring = h3.grid_distance(centre, cell)  # the stores are near the centre: the edge of the area waits longest
        minutes = rng.gammavariate(9.0, 2.1 + 1.3 * stress) + (0.4 + 1.6 * stress) * ring
        ctd.append(round(minutes, 2))
        late_by_cell.setdefault(cell, []).append(max(0.0, minutes - 40.0))
    delivered = len(ctd)
    couriers = round(BASE_COURIERS * fleet)
    hours = couriers * (END - START) / 60 * rng.uniform(0.97, 1.0)
    busy = min(0.93, delivered * 22.0 / 60 / hours * (0.86 if policy == "ortools" else 1.0))
    on_time = sum(1 for c in ctd if c <= 40.0) / n_orders
    late = [max(0.0, c - 40.0) for c in ctd]
    pay = sum(max(7.0 * delivered / couriers, 20.0 * hours / couriers) for _ in range(couriers))

    supply: dict[str, float] = {}
    idle_total = hours * 60 * (1 - busy)
    for c, w in zip(cells, weights):
        # couriers idle where the stores are (near the centre); ortools repositions a little better towards the hotspot
        pull = w if policy == "ortools" else 3.0 * math.exp(-h3.grid_distance(centre, c) / 1.6) + 0.1
        supply[c] = pull
    total = sum(supply.values())
    supply = {c: round(idle_total * v / total * rng.uniform(0.85, 1.15), 1) for c, v in supply.items() if v / total > 0.002}

    timeline = []
    done = 0
    for minute in range(START, END + 1, 2):
        phase = (minute - START) / (END - START)
        lunch = math.exp(-((phase - 0.45) / 0.2) ** 2)
        open_orders = max(0, round((4 + 26 * lunch) * (0.6 + stress) + rng.uniform(-2, 2)))
        busy_c = min(couriers, round(couriers * (0.35 + 0.6 * lunch) * (0.95 if policy == "ortools" else 1.0)))
        done = min(delivered, round(delivered * phase ** 1.2))
        timeline.append([minute, open_orders, couriers - busy_c, busy_c, done])

    kpis = {
        "orders": n_orders, "delivered": delivered, "delivered_share": delivered / n_orders,
        "ctd_mean": statistics.fmean(ctd), "ctd_p50": _percentile(ctd, 0.5), "ctd_p90": _percentile(ctd, 0.9),
        "ctd_p99": _percentile(ctd, 0.99), "on_time_share": on_time, "late_mean_min": statistics.fmean(late),
        "utilisation": busy, "courier_hours": hours, "orders_per_courier_hour": delivered / hours,
        "cost_per_order": pay / delivered, "ready_to_pickup_mean": rng.uniform(2.0, 4.0) + 3.0 * stress,
    }
    return {
        "policy": policy, "knob_value": fleet, "seed": seed, "wall_s": round(rng.uniform(3, 9) * (3 if policy == "ortools" else 1), 2),
        "kpis": kpis, "ctd": ctd, "timeline": timeline,
        "cells": {"demand": demand, "supply": supply,
                  "lateness": {c: round(statistics.fmean(v), 2) for c, v in late_by_cell.items()}},
    }


def _interval(values: list[float]) -> dict[str, float]:
    mean = statistics.fmean(values)
    if len(values) < 2:
        return {"mean": mean, "lo": mean, "hi": mean}
    half = T95[len(values) - 1] * statistics.stdev(values) / math.sqrt(len(values))
    return {"mean": mean, "lo": mean - half, "hi": mean + half}


def groups_of(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One group per (policy, knob value), in the order first met, with a 95 % t-interval of each KPI across the seeds."""
    keys: list[tuple[str, Any]] = []
    for r in runs:
        if (r["policy"], r["knob_value"]) not in keys:
            keys.append((r["policy"], r["knob_value"]))
    out = []
    for policy, value in keys:
        mine = [r for r in runs if r["policy"] == policy and r["knob_value"] == value]
        out.append({"policy": policy, "knob_value": value, "n": len(mine),
                    "metrics": {k: _interval([r["kpis"][k] for r in mine]) for k in KPIS}})
    return out


def build_results() -> dict[str, Any]:
    """The fixture: 2 policies x 3 fleet sizes x 3 seeds, everything schema 1 asks for."""
    cells = service_area()
    runs = [_run(p, f, s, cells) for p in POLICIES for f in FLEET for s in SEEDS]
    groups = groups_of(runs)
    per_policy: dict[str, Any] = {}
    for p in POLICIES:
        points = []
        for g in groups:
            if g["policy"] == p:
                m = g["metrics"]["on_time_share"]
                points.append({"knob_value": g["knob_value"], "courier_hours": round(g["metrics"]["courier_hours"]["mean"], 1),
                               "mean": m["mean"], "lo": m["lo"], "hi": m["hi"]})
        meeting = [pt for pt in points if pt["mean"] >= TARGET]
        smallest = min(meeting, key=lambda pt: pt["courier_hours"]) if meeting else None
        per_policy[p] = {"points": points,
                         "smallest": {"knob_value": smallest["knob_value"], "courier_hours": smallest["courier_hours"]} if smallest else None}
    g_small, o_small = per_policy["greedy"]["smallest"], per_policy["ortools"]["smallest"]
    saving = None
    if g_small and o_small:
        saving = {"policy": "ortools", "vs": "greedy",
                  "courier_hours_pct": round(100 * (g_small["courier_hours"] - o_small["courier_hours"]) / g_small["courier_hours"], 1)}

    def at(policy: str, kpi: str, value: float = 1.0) -> dict[str, float]:
        return next(g for g in groups if g["policy"] == policy and g["knob_value"] == value)["metrics"][kpi]

    og, oo = at("greedy", "on_time_share"), at("ortools", "on_time_share")
    cg, co = at("greedy", "ctd_mean"), at("ortools", "ctd_mean")
    summary = [
        (f"At today's fleet (1.0x), ortools delivers {100 * oo['mean']:.1f} % of orders on time "
         f"[{100 * oo['lo']:.1f}, {min(100.0, 100 * oo['hi']):.1f}] "
         f"against greedy's {100 * og['mean']:.1f} % [{100 * og['lo']:.1f}, {min(100.0, 100 * og['hi']):.1f}]: "
         f"{100 * (oo['mean'] - og['mean']):+.1f} points."),
        (f"Mean click-to-door is {co['mean']:.1f} min with ortools [{co['lo']:.1f}, {co['hi']:.1f}] and {cg['mean']:.1f} min with greedy "
         f"[{cg['lo']:.1f}, {cg['hi']:.1f}], {cg['mean'] - co['mean']:.1f} min faster."),
    ]
    if o_small:
        summary.append(f"To reach {100 * TARGET:.0f} % on time, ortools needs {o_small['courier_hours']:.0f} courier-hours "
                       f"({o_small['knob_value']}x the fleet)"
                       + (f"; greedy needs {g_small['courier_hours']:.0f} ({g_small['knob_value']}x), "
                          f"so ortools saves {saving['courier_hours_pct']:.0f} % of the courier-hours." if g_small and saving
                          else "; greedy does not reach it at any fleet size tried."))
    return {
        "schema": 1, "created": "2025-06-02T09:30:00+08:00",
        "command": "dispatch compare --scenario simulator/scenarios/demo_city.toml --policy greedy --policy ortools "
                   "--seeds 3 --fleet 0.8,1.0,1.2 --target 0.95 --out out/compare",
        "source": {"kind": "scenario", "name": "demo_city", "path": "simulator/scenarios/demo_city.toml",
                   "orders": runs[0]["kpis"]["orders"], "couriers": BASE_COURIERS, "area": {"cells": cells}},
        "policies": list(POLICIES), "seeds": list(SEEDS), "knob": {"name": "fleet_multiplier", "values": list(FLEET)},
        "target": TARGET, "runs": runs, "groups": groups,
        "fleet_sizing": {"target": TARGET, "metric": "on_time_share", "per_policy": per_policy, "saving": saving},
        "summary": summary,
    }


def single(results: dict[str, Any] | None = None) -> dict[str, Any]:
    """The smallest case: one policy, one seed, no knob, no fleet sizing, no cells."""
    base = copy.deepcopy(results or build_results())
    runs = [r for r in base["runs"] if r["policy"] == "greedy" and r["knob_value"] == 1.0 and r["seed"] == 0]
    for r in runs:
        r["knob_value"] = None
        r["cells"] = {}
    base.update(policies=["greedy"], seeds=[0], knob={"name": None, "values": None}, runs=runs, groups=groups_of(runs),
                fleet_sizing=None, summary=[])
    base["source"]["area"] = {"cells": []}
    return base
