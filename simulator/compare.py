"""Compare dispatch policies on one city: policies x knob values x seeds, each an independent run.

A planner asks "which dispatcher, and how many couriers?". ``dispatch compare`` answers it by
plan -> run -> collect:

- **plan** (``plan_runs``): every (policy, knob value, seed) is one run. The knob is at most one of
  ``KNOBS`` (a scenario multiplier, the dispatch cycle, the candidate rings, batching, travel
  speed or repositioning); its values are the levels compared.
- **run** (``run_all``): each run draws its own day (``build_run_instance``) and simulates it
  with the in-process ``LocalRuntime``: one Ray task (``num_cpus=1``) per run with
  ``runtime="ray"``, one after another in this process with ``runtime="local"``.
- **collect** (``build_results``): the per-run KPIs, click-to-door list, thinned timeline and H3
  res-8 cell maps; per (policy, knob value) a 95 % t-interval of every KPI across the seeds;
  fleet sizing when the knob is ``fleet_multiplier``; and plain-language summary sentences.
  ``results.json`` (schema 1) is that dict.

**Seeds.** For a scenario the seed draws the day (``build_instance(seed=s)``): orders, baskets,
preparation and couriers come from independent streams of it, so a fleet or preparation knob
changes only its own part and every policy sees exactly the same day for a seed (common random
numbers: the differences between policies are paired). For an MDRP day seed 0 is the recorded day
and a seed s > 0 perturbs it reproducibly: each order's preparation time x U(0.9, 1.1) and its
placement time +- U(0, 2) minutes (``perturb_mdrp``), drawn in file order from ``default_rng(s)``.

**Knobs on an MDRP day.** ``fleet_multiplier`` keeps round(n x m) couriers of a fixed random
permutation (m < 1, the same for every seed, so smaller fleets are subsets of larger ones) or adds
round(n x (m - 1)) copies of couriers taken in that permutation's order (m > 1: the same shift
from the same place); ``prep_multiplier`` scales every preparation time; ``travel_multiplier``
divides the metres per minute; ``demand_multiplier`` is refused (the orders are the recorded ones).

**Batching off** means one order per trip, for every policy: each courier carries one order at a
time (capacity 1, and every order counts as one unit, since any single order fits a courier).
The greedy policy never batches, so both values run it alike.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from dispatch.modes import DeliveryMode, asap_window
from dispatch.travel import HaversineTravel, MdrpTravel, TravelModel
from simulator.instance import Instance

SCHEMA = 1
CELL_RES = 8  # H3 resolution of the cell maps (531 m edge)
MAX_TIMELINE_ROWS = 400
MDRP_FLEET_SEED = 20_240_601  # the fixed permutation behind an MDRP fleet multiplier (not the run seed)
MDRP_PREP_RANGE = (0.9, 1.1)  # seed s > 0: preparation x U(0.9, 1.1)
MDRP_PLACEMENT_SHIFT = 2.0  # seed s > 0: placement +- U(0, 2) minutes

KPI_NAMES = (
    "orders", "delivered", "delivered_share", "ctd_mean", "ctd_p50", "ctd_p90", "ctd_p99", "on_time_share",
    "late_mean_min", "utilisation", "courier_hours", "orders_per_courier_hour", "cost_per_order", "ready_to_pickup_mean",
)


class CompareError(ValueError):
    """A comparison that cannot be planned (bad knob, value or policy option): one line for the user."""


# ------------------------------------------------------------------ knobs


@dataclass(frozen=True)
class Knob:
    name: str
    kind: str  # "multiplier" | "positive" | "count" | "switch"
    help: str
    default: Any  # the value the city runs at without the knob (the reference of the summary)


KNOBS: dict[str, Knob] = {k.name: k for k in (
    Knob("fleet_multiplier", "multiplier", "couriers on shift x m (a scenario's shift blocks; an MDRP day's couriers dropped or copied); "
         "turns on fleet sizing", 1.0),
    Knob("demand_multiplier", "multiplier", "orders x m (scenario only)", 1.0),
    Knob("prep_multiplier", "multiplier", "food preparation times x m", 1.0),
    Knob("travel_multiplier", "multiplier", "every trip takes m times as long (speed / m): 1.3 is a rainy day", 1.0),
    Knob("cycle", "positive", "dispatch cycle, simulated minutes between two dispatch rounds", 1.0),
    Knob("rings", "count", "candidate couriers: greedy's H3 ring limit (max_rings), ortools' candidates per order", None),
    Knob("batching", "switch", "on: policies may bundle orders; off: one order per trip (greedy never bundles)", "on"),
    Knob("reposition", "switch", "on: idle couriers are moved towards expected demand (policy option reposition=True)", "off"),
)}
SWITCH_VALUES = {"on": "on", "off": "off", "true": "on", "false": "off", "yes": "on", "no": "off", "1": "on", "0": "off"}


def parse_knob(text: str) -> tuple[str, list[Any]]:
    """``"fleet_multiplier=0.6,0.8,1"`` -> ``("fleet_multiplier", [0.6, 0.8, 1.0])``; a bad one raises CompareError."""
    name, sep, raw = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep:
        raise CompareError(f"--knob {text!r}: expected NAME=v1,v2,... (knobs: {', '.join(KNOBS)})")
    if name not in KNOBS:
        raise CompareError(f"unknown knob {name!r}; known: {', '.join(KNOBS)}")
    return name, parse_values(name, raw)


def parse_values(name: str, raw: str) -> list[Any]:
    knob = KNOBS[name]
    items = [v.strip() for v in raw.split(",") if v.strip()]
    if not items:
        raise CompareError(f"knob {name}: give at least one value, e.g. {name}={_example(knob)}")
    values: list[Any] = []
    for item in items:
        if knob.kind == "switch":
            value: Any = SWITCH_VALUES.get(item.lower())
            if value is None:
                raise CompareError(f"knob {name}: {item!r} is not on or off")
        elif knob.kind == "count":
            try:
                value = int(item)
            except ValueError:
                raise CompareError(f"knob {name}: {item!r} is not a whole number") from None
            if value < 1:
                raise CompareError(f"knob {name}: {item!r} must be at least 1")
        else:
            try:
                value = float(item)
            except ValueError:
                raise CompareError(f"knob {name}: {item!r} is not a number") from None
            if not math.isfinite(value) or value <= 0:
                raise CompareError(f"knob {name}: {item!r} must be a positive number")
        if value in values:
            raise CompareError(f"knob {name}: the value {item!r} is given twice")
        values.append(value)
    return values


def _example(knob: Knob) -> str:
    return {"switch": "on,off", "count": "4,8,16"}.get(knob.kind, "0.8,1.0,1.2")


# ------------------------------------------------------------------ sources and runs


@dataclass(frozen=True)
class Source:
    """What is compared: a scenario (drawn per seed) or a recorded MDRP day (perturbed per seed)."""

    kind: str  # "scenario" | "mdrp"
    name: str
    path: str
    scenario: Any = None  # simulator.scenario.Scenario
    day: Instance | None = None  # the MDRP day as recorded


def load_source(scenario: str | Path | None = None, mdrp: str | Path | None = None) -> Source:
    """Read the scenario file or the MDRP folder once (InputError on a bad one)."""
    if (scenario is None) == (mdrp is None):
        raise CompareError("give exactly one of --scenario FILE or --mdrp DIR")
    if scenario is not None:
        from simulator.scenario import load_scenario

        sc = load_scenario(scenario)
        return Source("scenario", sc.name, str(scenario), scenario=sc)
    from simulator.mdrp import read_mdrp

    day = read_mdrp(mdrp)  # type: ignore[arg-type]
    return Source("mdrp", day.name, str(mdrp), day=day)


@dataclass(frozen=True)
class RunSpec:
    policy: str
    knob: str | None
    value: Any
    seed: int
    cycle: float = 1.0

    @property
    def label(self) -> str:
        knob = f" {self.knob}={self.value}" if self.knob else ""
        return f"{self.policy}{knob} seed {self.seed}"


def plan_runs(policies: Sequence[str], seeds: Sequence[int], knob: str | None = None, values: Sequence[Any] | None = None,
              cycle: float = 1.0) -> list[RunSpec]:
    """Every (policy, knob value, seed), policy-major: the order runs are listed in results.json."""
    if not policies:
        raise CompareError("give at least one --policy")
    if len(set(policies)) != len(policies):
        raise CompareError("a policy is given twice")
    if not seeds:
        raise CompareError("give at least one seed")
    levels: list[Any] = list(values) if knob is not None else [None]
    if knob is not None and not levels:
        raise CompareError(f"knob {knob}: give at least one value")
    return [RunSpec(p, knob, v, int(s), v if knob == "cycle" else cycle) for p in policies for v in levels for s in seeds]


def policy_params(spec: RunSpec) -> dict[str, Any]:
    """The policy options a run's knob sets (the rest of its knobs act on the instance or the engine)."""
    if spec.knob == "rings":
        return {"max_rings": spec.value} if spec.policy == "greedy" else {"candidates": spec.value}
    if spec.knob == "reposition" and spec.value == "on":
        return {"reposition": True}
    return {}


def check_plan(source: Source, specs: Sequence[RunSpec]) -> None:
    """Refuse what cannot run before anything does: unknown policies, options a policy lacks, MDRP-less knobs."""
    from dispatch.policies import POLICIES, make_policy

    for spec in specs:
        if spec.policy not in POLICIES:
            raise CompareError(f"unknown policy {spec.policy!r}; known: {', '.join(sorted(POLICIES))}")
    if source.kind == "mdrp" and any(s.knob == "demand_multiplier" for s in specs):
        raise CompareError("knob demand_multiplier applies to scenarios: an MDRP day's orders are the recorded ones")
    tried: set[tuple[str, tuple[tuple[str, Any], ...]]] = set()
    for spec in specs:
        params = policy_params(spec)
        key = (spec.policy, tuple(sorted(params.items())))
        if not params or key in tried:
            continue
        tried.add(key)
        if spec.knob == "reposition":
            params = resolve_params(source, spec, build_run_instance(source, spec))
        try:
            make_policy(spec.policy, **params)
        except TypeError:
            what = ", ".join(f"{k}={v!r}" for k, v in policy_params(spec).items())
            if spec.knob == "reposition":
                raise CompareError(f"knob reposition: the {spec.policy} policy has no reposition option "
                                   f"(make_policy refuses {what})") from None
            raise CompareError(f"knob {spec.knob}: the {spec.policy} policy does not take {what}") from None
        except ValueError as exc:
            raise CompareError(f"knob {spec.knob}={spec.value}: the {spec.policy} policy refuses it: {exc}") from None


def resolve_params(source: Source, spec: RunSpec, instance: Instance) -> dict[str, Any]:
    """The run's policy options, with ``reposition=True`` replaced by a demand forecast learned for its day.

    A scenario day learns from the next three seeds of its scenario (out of sample: never the day
    being measured); an MDRP day has no other days, so it learns from itself (in sample: optimistic).
    """
    params = policy_params(spec)
    if params.get("reposition") is True:
        try:
            from simulator.forecasting import forecast_from_instance
        except ImportError:
            raise CompareError("knob reposition: this checkout has no demand forecast to reposition by "
                               "(simulator/forecasting.py)") from None
        if source.kind == "scenario":
            fc = forecast_from_instance(instance, list(range(spec.seed + 1, spec.seed + 4)), scenario=source.scenario)
        else:
            fc = forecast_from_instance(instance, None)
        params["reposition"] = {"forecast": fc.to_dict()}
    return params


def perturb_mdrp(day: Instance, seed: int) -> Instance:
    """Seed 0: the day as recorded. Seed s > 0: preparation x U(0.9, 1.1), placement +- U(0, 2) min, per order in file order."""
    if seed == 0:
        return day
    rng = np.random.default_rng(seed)
    n = len(day.orders)
    factor = rng.uniform(*MDRP_PREP_RANGE, size=n)
    shift = rng.uniform(-MDRP_PLACEMENT_SHIFT, MDRP_PLACEMENT_SHIFT, size=n)
    rules = day.rules
    orders = []
    for order, f, s in zip(day.orders, factor, shift):
        placed = round(max(0.0, order.placed_at + float(s)), 2)
        ready = round(placed + (order.ready_at - order.placed_at) * float(f), 2)
        window = asap_window(placed, rules.target_click_to_door, rules.max_click_to_door)
        orders.append(replace(order, placed_at=placed, ready_at=ready, window=window))
    orders.sort(key=lambda o: (o.placed_at, o.id))
    return replace(day, orders=tuple(orders), meta={**day.meta, "perturbed_seed": seed})


def scale_mdrp_fleet(day: Instance, multiplier: float) -> Instance:
    """Drop couriers (m < 1) or add copies of them (m > 1), by a permutation fixed for the day (not the run seed)."""
    n = len(day.couriers)
    if multiplier == 1.0 or n == 0:
        return day
    order = np.random.default_rng(MDRP_FLEET_SEED).permutation(n)
    if multiplier < 1.0:
        keep = {int(i) for i in order[: max(1, math.floor(n * multiplier + 0.5))]}
        couriers = tuple(c for i, c in enumerate(day.couriers) if i in keep)
    else:
        extra = math.floor(n * (multiplier - 1.0) + 0.5)
        copies = []
        for j in range(extra):
            c = day.couriers[int(order[j % n])]
            copies.append(replace(c, id=f"{c.id}x{j // n + 2}"))
        couriers = day.couriers + tuple(copies)
    return replace(day, couriers=couriers)


def scale_prep(instance: Instance, multiplier: float) -> Instance:
    """Every preparation time x m (an MDRP day; a scenario scales its own draws)."""
    if multiplier == 1.0:
        return instance
    orders = tuple(replace(o, ready_at=round(o.placed_at + (o.ready_at - o.placed_at) * multiplier, 2)) for o in instance.orders)
    return replace(instance, orders=orders)


@dataclass(frozen=True)
class SlowedTravel:
    """Any travel model with every trip ``factor`` times as long (for models without a speed field)."""

    base: TravelModel
    factor: float

    def minutes(self, a: Any, b: Any, at: float = 0.0) -> float:
        return self.base.minutes(a, b, at) * self.factor

    def matrix(self, points: Any, at: float = 0.0) -> np.ndarray:
        return self.base.matrix(points, at) * self.factor


def scale_travel(instance: Instance, multiplier: float) -> Instance:
    """Trips take ``multiplier`` times as long: the speed (or metres per minute) divided by it."""
    if multiplier == 1.0:
        return instance
    travel = instance.travel
    if isinstance(travel, HaversineTravel):
        slowed: Any = replace(travel, speed_kmh=travel.speed_kmh / multiplier)
    elif isinstance(travel, MdrpTravel):
        slowed = replace(travel, metres_per_minute=travel.metres_per_minute / multiplier)
    else:
        slowed = SlowedTravel(travel, multiplier)
    return replace(instance, travel=slowed)


def one_order_per_trip(instance: Instance) -> Instance:
    """Batching off: capacity 1 for every courier, and every order one unit (any single order fits a courier)."""
    orders = tuple(replace(o, size=1) for o in instance.orders)
    couriers = tuple(replace(c, capacity=1) for c in instance.couriers)
    return replace(instance, orders=orders, couriers=couriers)


def build_run_instance(source: Source, spec: RunSpec) -> Instance:
    """The day of one run: the seed's draw (or perturbation), then the knob."""
    knob, value = spec.knob, spec.value
    if source.kind == "scenario":
        from simulator.scenario import OVERRIDE_KEYS, build_instance

        overrides = {knob: value} if knob in OVERRIDE_KEYS else None
        instance = build_instance(source.scenario, seed=spec.seed, overrides=overrides)
    else:
        assert source.day is not None
        instance = perturb_mdrp(source.day, spec.seed)
        if knob == "fleet_multiplier":
            instance = scale_mdrp_fleet(instance, value)
        elif knob == "prep_multiplier":
            instance = scale_prep(instance, value)
        elif knob == "demand_multiplier":
            raise CompareError("knob demand_multiplier applies to scenarios: an MDRP day's orders are the recorded ones")
    if knob == "travel_multiplier":
        instance = scale_travel(instance, value)
    elif knob == "batching" and value == "off":
        instance = one_order_per_trip(instance)
    return instance


def execute(source: Source, spec: RunSpec) -> dict[str, Any]:
    """One run, start to end, in this process (a Ray task calls exactly this)."""
    from simulator.engine import run_simulation
    from simulator.runtime import LocalRuntime

    started = time.perf_counter()
    instance = build_run_instance(source, spec)
    runtime = LocalRuntime()
    engine_log = logging.getLogger("simulator.engine")
    level = engine_log.level
    engine_log.setLevel(logging.ERROR)  # "stopped at the horizon": the run's delivered share says it, and the summary
    try:
        result = run_simulation(instance, runtime, policy=spec.policy, policy_params=resolve_params(source, spec, instance) or None,
                                cycle=spec.cycle, seed=spec.seed)
    finally:
        engine_log.setLevel(level)
        runtime.close()
    return run_record(spec, instance, result, time.perf_counter() - started)


# ------------------------------------------------------------------ what a run leaves


def run_record(spec: RunSpec, instance: Instance, result: Any, wall_s: float) -> dict[str, Any]:
    """The run's entry of results.json: KPIs, click-to-door list, thinned timeline, cell maps."""
    from dispatch.kpis import compute_kpis

    k = compute_kpis(result.orders, result.couriers, instance.rules)
    delivered = [o for o in result.orders if o.delivered_at is not None]
    on_time = sum(1 for o in delivered if o.delivered_at <= o.promise + 1e-9)
    ctd = k["click_to_door"]
    kpis = {
        "orders": k["orders"],
        "delivered": k["delivered"],
        "delivered_share": k["delivered_share"],
        "ctd_mean": ctd["mean"],
        "ctd_p50": ctd["p50"],
        "ctd_p90": ctd["p90"],
        "ctd_p99": ctd["p99"],
        "on_time_share": on_time / k["orders"] if k["orders"] else None,
        "late_mean_min": k["lateness_vs_promise"]["mean"],
        "utilisation": k["utilisation"],
        "courier_hours": k["courier_hours"],
        "orders_per_courier_hour": k["orders_per_courier_hour"],
        "cost_per_order": k["cost_per_order"],
        "ready_to_pickup_mean": k["ready_to_pickup"]["mean"],
    }
    asap_ctd = sorted(round(o.delivered_at - o.placed_at, 2) for o in delivered if o.mode == str(DeliveryMode.ASAP))
    timeline = [[t.time, t.open_orders, t.idle_couriers, t.busy_couriers, t.delivered] for t in result.timeline]
    return {
        "policy": spec.policy,
        "knob_value": spec.value,
        "seed": spec.seed,
        "wall_s": round(wall_s, 3),
        "kpis": kpis,
        "ctd": asap_ctd,
        "timeline": thin(timeline, MAX_TIMELINE_ROWS),
        "cells": cell_maps(instance, result),
    }


def thin(rows: list[list[Any]], limit: int) -> list[list[Any]]:
    """Every k-th row so at most ``limit`` remain, always keeping the last (the day's end)."""
    if len(rows) <= limit:
        return rows
    step = math.ceil(len(rows) / (limit - 1))
    out = rows[::step]
    if out[-1] is not rows[-1]:
        out.append(rows[-1])
    return out


def cell_maps(instance: Instance, result: Any, res: int = CELL_RES) -> dict[str, dict[str, float]]:
    """Per H3 cell (res 8, hex string): orders placed (by drop-off), courier idle-minutes, mean lateness of deliveries.

    Idle-minutes: a courier is idle where it stands from its log-in until its first departure, after a
    drop-off (less the drop-off service) or a reposition until the next departure, and after its last
    stop until its shift ends; time at a store (waiting for food, pickup service) is work.
    """
    import h3.api.basic_int as h3

    from dispatch.zones import cell_center, cell_str, zone_of

    dropoff = {o.id: o.dropoff for o in instance.orders}
    stores = {s.id: s.location for s in instance.stores}
    homes = {c.id: c.location for c in instance.couriers}
    demand: dict[str, float] = {}
    for loc in dropoff.values():
        key = cell_str(zone_of(loc, res))
        demand[key] = demand.get(key, 0) + 1
    late: dict[str, list[float]] = {}
    for o in result.orders:
        if o.delivered_at is not None and o.id in dropoff:
            late.setdefault(cell_str(zone_of(dropoff[o.id], res)), []).append(max(0.0, o.delivered_at - o.promise))

    service = instance.rules.dropoff_service
    supply: dict[str, float] = {}

    def idle(node: str, minutes: float) -> None:
        if minutes <= 1e-9:
            return
        if node.startswith("h3:"):
            try:
                loc = cell_center(h3.str_to_int(node[3:]))
            except (ValueError, TypeError):  # not a cell id after all (h3 errors are ValueErrors)
                return
        else:
            loc = dropoff.get(node) or homes.get(node)
        if loc is None:
            return
        key = cell_str(zone_of(loc, res))
        supply[key] = supply.get(key, 0.0) + minutes

    for c in result.couriers:
        here, since, work = c.id, c.on_time, 0.0  # where it stands, since when, the service it owes there first
        for move in sorted(c.moves, key=lambda m: m.departure):
            if here not in stores:
                idle(here, min(move.departure, c.off_time) - since - work)
            here, since = move.destination, move.arrival
            work = service if move.destination in dropoff else 0.0
        if here not in stores:
            idle(here, c.off_time - since - work)
    return {
        "demand": dict(sorted(demand.items())),
        "supply": {k: round(v, 1) for k, v in sorted(supply.items())},
        "lateness": {k: round(float(np.mean(v)), 2) for k, v in sorted(late.items())},
    }


# ------------------------------------------------------------------ running


ProgressFn = Callable[[int, int, dict[str, Any]], None]  # (done, total, the run just finished)


def run_all(source: Source, specs: Sequence[RunSpec], runtime: str = "local", ray_address: str | None = None,
            progress: ProgressFn | None = None) -> list[dict[str, Any]]:
    """Every run, results in plan order; ``progress`` hears of each as it finishes."""
    if runtime == "local":
        runs = []
        for i, spec in enumerate(specs):
            runs.append(execute(source, spec))
            if progress is not None:
                progress(i + 1, len(specs), runs[-1])
        return runs
    if runtime != "ray":
        raise CompareError(f"unknown runtime {runtime!r}: ray or local")
    import ray

    from actors.ray_setup import init_ray

    init_ray(address=ray_address)
    task = ray.remote(num_cpus=1)(execute)
    shared = ray.put(source)
    pending = {task.remote(shared, spec): i for i, spec in enumerate(specs)}
    out: list[dict[str, Any] | None] = [None] * len(specs)
    done = 0
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i = pending.pop(ref)
                out[i] = ray.get(ref)
                done += 1
                if progress is not None:
                    progress(done, len(specs), out[i])  # type: ignore[arg-type]
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
    return out  # type: ignore[return-value]


# ------------------------------------------------------------------ statistics


def t_interval(values: Iterable[float | None], confidence: float = 0.95,
               bounds: tuple[float, float] | None = None) -> dict[str, float | None]:
    """Mean and the two-sided t-interval of the mean: mean +- t(n-1) x s / sqrt(n).

    n = 1 gives lo = hi = mean; values that are None are left out. ``bounds`` clips the interval
    to the KPI's possible range (a share cannot leave [0, 1], a duration cannot go below 0).
    """
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return {"mean": None, "lo": None, "hi": None}
    mean = float(np.mean(xs))
    if len(xs) < 2:
        return {"mean": mean, "lo": mean, "hi": mean}
    from scipy import stats

    half = float(stats.t.ppf((1 + confidence) / 2, len(xs) - 1) * np.std(xs, ddof=1) / math.sqrt(len(xs)))
    lo, hi = mean - half, mean + half
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return {"mean": mean, "lo": lo, "hi": hi}


SHARES = ("delivered_share", "on_time_share", "utilisation")


def kpi_bounds(kpi: str) -> tuple[float, float]:
    """The range a KPI can take: shares in [0, 1], everything else (counts, minutes, hours, money) at least 0."""
    return (0.0, 1.0) if kpi in SHARES else (0.0, math.inf)


def group_runs(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One group per (policy, knob value), in plan order: n seeds and a 95 % t-interval of every KPI, clipped to its range."""
    keys: list[tuple[str, Any]] = []
    for r in runs:
        key = (r["policy"], r["knob_value"])
        if key not in keys:
            keys.append(key)
    groups = []
    for policy, value in keys:
        mine = [r for r in runs if r["policy"] == policy and r["knob_value"] == value]
        groups.append({
            "policy": policy, "knob_value": value, "n": len(mine),
            "metrics": {kpi: t_interval((r["kpis"].get(kpi) for r in mine), bounds=kpi_bounds(kpi)) for kpi in KPI_NAMES},
        })
    return groups


def fleet_sizing(groups: Sequence[Mapping[str, Any]], policies: Sequence[str], target: float,
                 metric: str = "on_time_share") -> dict[str, Any]:
    """Per policy, the fleet curve and the smallest multiplier whose mean ``metric`` reaches ``target``; the saving in courier-hours."""
    per_policy: dict[str, Any] = {}
    for policy in policies:
        points = []
        for g in sorted((g for g in groups if g["policy"] == policy), key=lambda g: g["knob_value"]):
            m = g["metrics"][metric]
            points.append({"knob_value": g["knob_value"], "courier_hours": _round(g["metrics"]["courier_hours"]["mean"], 2),
                           "mean": m["mean"], "lo": m["lo"], "hi": m["hi"]})
        meeting = [p for p in points if p["mean"] is not None and p["mean"] >= target - 1e-12]
        smallest = {"knob_value": meeting[0]["knob_value"], "courier_hours": meeting[0]["courier_hours"]} if meeting else None
        per_policy[policy] = {"points": points, "smallest": smallest}
    return {"target": target, "metric": metric, "per_policy": per_policy, "saving": _saving(per_policy, policies)}


def _saving(per_policy: Mapping[str, Any], policies: Sequence[str]) -> dict[str, Any] | None:
    """The best other policy's courier-hours against the baseline (greedy if compared, else the first policy)."""
    if len(policies) < 2:
        return None
    base = "greedy" if "greedy" in policies else policies[0]
    base_small = per_policy[base]["smallest"]
    others = [(per_policy[p]["smallest"]["courier_hours"], p) for p in policies if p != base and per_policy[p]["smallest"]]
    if base_small is None or not others or not base_small["courier_hours"]:
        return None
    hours, best = min(others)
    return {"policy": best, "vs": base, "courier_hours_pct": round(100.0 * (base_small["courier_hours"] - hours) / base_small["courier_hours"], 1)}


def paired_difference(runs: Sequence[Mapping[str, Any]], a: str, b: str, value: Any, kpi: str) -> dict[str, float | None]:
    """t-interval of (a - b) over the seeds both ran at this knob value: every policy saw the same day per seed."""
    by_seed = {(r["policy"], r["seed"]): r["kpis"].get(kpi) for r in runs if r["knob_value"] == value}
    diffs = [by_seed[(a, s)] - by_seed[(b, s)] for (p, s) in list(by_seed) if p == a
             and by_seed.get((a, s)) is not None and by_seed.get((b, s)) is not None]
    return t_interval(diffs)


# ------------------------------------------------------------------ summary


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)


def _pct(m: Mapping[str, float | None]) -> str:
    if m["mean"] is None:
        return "n/a"
    if m["lo"] == m["hi"]:
        return f"{100 * m['mean']:.1f} %"
    return f"{100 * m['mean']:.1f} % [{100 * m['lo']:.1f}, {100 * m['hi']:.1f}]"  # type: ignore[operator]


def _num(m: Mapping[str, float | None], unit: str, digits: int = 1) -> str:
    if m["mean"] is None:
        return "n/a"
    if m["lo"] == m["hi"]:
        return f"{m['mean']:.{digits}f}{unit}"
    return f"{m['mean']:.{digits}f}{unit} [{m['lo']:.{digits}f}, {m['hi']:.{digits}f}]"


def knob_label(name: str | None, value: Any) -> str:
    if name is None:
        return ""
    if name in ("fleet_multiplier", "demand_multiplier", "prep_multiplier", "travel_multiplier"):
        return f"{name.removesuffix('_multiplier')} x{value:g}"
    if name == "cycle":
        return f"a {value:g}-min cycle"
    return f"{name} {value}"


def reference_value(knob: str | None, values: Sequence[Any] | None) -> Any:
    """The knob value the headline sentences describe: the city as it is when compared, else the last value."""
    if knob is None or not values:
        return None
    default = KNOBS[knob].default
    return default if default in values else values[-1]


# (kpi, higher is better, formatter, word)
_HEADLINE = (
    ("on_time_share", True, "pct", "on time (within the promise)"),
    ("ctd_mean", False, "min", "mean click-to-door (ASAP orders)"),
    ("ctd_p90", False, "min", "p90 click-to-door"),
    ("orders_per_courier_hour", True, "num", "orders per courier-hour"),
    ("cost_per_order", False, "cost", "cost per order"),
)


def summarise(results: Mapping[str, Any], ceiling: float | None = None) -> list[str]:
    """Plain-language sentences: who wins on what, by how much (95 % intervals across seeds), and the fleet answer.

    ``ceiling`` (``on_time_ceiling``, the mean over the seeds) adds how much of the promise no fleet can keep.
    """
    groups, runs, policies = results["groups"], results["runs"], results["policies"]
    knob = results["knob"]["name"]
    values = results["knob"]["values"]
    seeds = results["seeds"]
    out: list[str] = []
    ref = reference_value(knob, values)
    at = f" at {knob_label(knob, ref)}" if knob else ""
    n_seeds = len(seeds)
    intervals = "95 % intervals across the seeds in brackets" if n_seeds > 1 else "one seed, so no intervals"
    levels = f" x {len(values)} value{'s' if len(values) != 1 else ''} of {knob}" if knob else ""
    out.append(f"{len(runs)} runs on {results['source']['name']}: {' and '.join(policies)}{levels} x {n_seeds} "
               f"seed{'s' if n_seeds != 1 else ''} ({intervals}).")

    def g(policy: str, value: Any) -> Mapping[str, Any] | None:
        return next((x for x in groups if x["policy"] == policy and x["knob_value"] == value), None)

    ref_groups = {p: g(p, ref) for p in policies}
    if len(policies) >= 2 and all(ref_groups.values()):
        on_time = {p: ref_groups[p]["metrics"]["on_time_share"]["mean"] for p in policies}  # type: ignore[index]
        ranked = sorted(policies, key=lambda p: (-(on_time[p] if on_time[p] is not None else -1), policies.index(p)))
        best, runner = ranked[0], ranked[1]
        bm, rm = ref_groups[best]["metrics"], ref_groups[runner]["metrics"]  # type: ignore[index]
        diff = paired_difference(runs, best, runner, ref, "on_time_share")
        if on_time[best] is not None and on_time[runner] is not None and on_time[best] > on_time[runner]:
            gap = 100 * (on_time[best] - on_time[runner])
            sure, clear = _sureness(diff, scale=100, unit=" points", n=n_seeds)
            verb = "wins on the promise" if clear else "is ahead on the promise"
            out.append(f"{best} {verb}{at}: {_pct(bm['on_time_share'])} of orders on time against "
                       f"{runner}'s {_pct(rm['on_time_share'])}, {gap:+.1f} points{sure}.")
        else:
            shares = ", ".join(f"{p} {_pct(ref_groups[p]['metrics']['on_time_share'])}" for p in policies)  # type: ignore[index]
            out.append(f"No policy is ahead on the promise{at}: {shares} on time.")
        for kpi, higher, fmt, word in _HEADLINE[1:]:
            means = {p: ref_groups[p]["metrics"][kpi]["mean"] for p in policies}  # type: ignore[index]
            if any(v is None for v in means.values()):
                continue
            winner = (max if higher else min)(policies, key=lambda p: means[p])
            other = min(policies, key=lambda p: means[p]) if higher else max(policies, key=lambda p: means[p])
            if winner == other or means[winner] == means[other]:
                continue
            wm, om = ref_groups[winner]["metrics"][kpi], ref_groups[other]["metrics"][kpi]  # type: ignore[index]
            unit = {"min": " min", "cost": "", "num": "", "pct": ""}[fmt]
            digits = 2 if fmt in ("num", "cost") else 1
            gap = abs(means[winner] - means[other])
            pct = 100 * gap / abs(means[other]) if means[other] else None
            rel = f" ({pct:.{0 if pct >= 1 else 1}f} % {'more' if higher else 'less'})" if pct is not None and pct >= 0.1 else ""
            sure, _ = _sureness(paired_difference(runs, winner, other, ref, kpi), scale=1, unit=unit, digits=digits, n=n_seeds)
            out.append(f"{word[0].upper() + word[1:]}: {winner} {_num(wm, unit, digits)} against {other} "
                       f"{_num(om, unit, digits)}{rel}{sure}.")
        if knob and len(values) > 1:
            ahead = []
            for v in values:
                gs = {p: g(p, v) for p in policies}
                ms = {p: gs[p]["metrics"]["on_time_share"]["mean"] for p in policies if gs[p]}  # type: ignore[index]
                if len(ms) == len(policies) and None not in ms.values():
                    top = max(ms.values())
                    ahead.append(next(p for p in policies if ms[p] == top))
            counts = {p: ahead.count(p) for p in policies}
            leader = max(policies, key=lambda p: counts[p])
            out.append(f"Across the {len(values)} values of {knob} ({', '.join(str(v) for v in values)}), {leader} has the best "
                       f"on-time share at {counts[leader]} of {len(ahead)}.")
    elif len(policies) == 1 and ref_groups[policies[0]]:
        m = ref_groups[policies[0]]["metrics"]  # type: ignore[index]
        out.append(f"{policies[0]}{at}: {_pct(m['on_time_share'])} on time, mean click-to-door {_num(m['ctd_mean'], ' min')}, "
                   f"{_num(m['orders_per_courier_hour'], '', 2)} orders per courier-hour.")
    if knob and len(values) > 1 and knob != "fleet_multiplier":
        for p in policies:
            first, last = g(p, values[0]), g(p, values[-1])
            if first and last and first["metrics"]["on_time_share"]["mean"] is not None and last["metrics"]["on_time_share"]["mean"] is not None:
                out.append(f"{p}: from {knob_label(knob, values[0])} to {knob_label(knob, values[-1])} the on-time share goes "
                           f"{_pct(first['metrics']['on_time_share'])} -> {_pct(last['metrics']['on_time_share'])}.")
    short = [r for r in runs if r["kpis"]["delivered_share"] is not None and r["kpis"]["delivered_share"] < 1.0]
    if short:
        worst = min(short, key=lambda r: r["kpis"]["delivered_share"])
        out.append(f"{len(short)} of {len(runs)} runs left orders undelivered when the last shifts ended (worst: {worst['policy']}"
                   f"{' ' + knob_label(knob, worst['knob_value']) if knob else ''} seed {worst['seed']}, "
                   f"{100 * worst['kpis']['delivered_share']:.1f} % delivered); undelivered orders count as late.")
    if ceiling is not None and (results.get("fleet_sizing") or ceiling < 0.999):
        target = results["target"]
        out.append(f"{100 * (1 - ceiling):.1f} % of the orders cannot be on time whatever the fleet: their preparation plus the "
                   f"direct trip already run past the promise, so no dispatcher can exceed {100 * ceiling:.1f} % on time"
                   + (f" and the {100 * target:.0f} % target is out of reach on this city." if ceiling < target else "."))
    out += _fleet_sentences(results, ceiling)
    return out


def _sureness(diff: Mapping[str, float | None], scale: float, unit: str, digits: int = 1, n: int = 1) -> tuple[str, bool]:
    """How sure a gap is: the 95 % interval of the paired difference, and whether it excludes zero."""
    if diff["mean"] is None or diff["lo"] is None or diff["hi"] is None:
        return "", False
    lo, hi = diff["lo"] * scale, diff["hi"] * scale
    if lo == hi:
        return ("", False) if n < 2 else (" (the same gap at every seed)", lo != 0)
    clear = lo > 0 or hi < 0
    verdict = "a clear difference" if clear else f"not clear with {n} seeds"
    return f" (paired by seed: {lo:+.{digits}f} to {hi:+.{digits}f}{unit}, {verdict})", clear


def _fleet_sentences(results: Mapping[str, Any], ceiling: float | None = None) -> list[str]:
    fs = results.get("fleet_sizing")
    if not fs:
        return []
    target = 100 * fs["target"]
    out = []
    for policy, entry in fs["per_policy"].items():
        small, points = entry["smallest"], entry["points"]
        if small is not None:
            point = next(p for p in points if p["knob_value"] == small["knob_value"])
            out.append(f"Fleet: {policy} keeps {target:.0f} % of orders within the promise from x{small['knob_value']:g} of the fleet "
                       f"({small['courier_hours']:.0f} courier-hours, {_pct(point)} on time).")
        elif points:
            best = max((p for p in points if p["mean"] is not None), key=lambda p: p["mean"], default=None)
            tried = f"x{points[0]['knob_value']:g}-x{points[-1]['knob_value']:g}" if len(points) > 1 else f"x{points[0]['knob_value']:g}"
            if best is not None:
                out.append(f"Fleet: {policy} never reaches {target:.0f} % on time at the fleet sizes tried ({tried}); its best is "
                           f"{_pct(best)} at x{best['knob_value']:g} ({best['courier_hours']:.0f} courier-hours).")
    saving = fs.get("saving")
    if saving:
        base = fs["per_policy"][saving["vs"]]["smallest"]
        mine = fs["per_policy"][saving["policy"]]["smallest"]
        out.append(f"To hold {target:.0f} % on time, {saving['policy']} needs {mine['courier_hours']:.0f} courier-hours against "
                   f"{saving['vs']}'s {base['courier_hours']:.0f}: {saving['courier_hours_pct']:.1f} % fewer courier-hours.")
    elif len(fs["per_policy"]) > 1:
        advice = ("no fleet can reach it here" if ceiling is not None and ceiling < fs["target"]
                  else "try larger --fleet values")
        out.append(f"No courier-hour saving at {target:.0f} % can be stated: not every compared policy reaches it at the fleet "
                   f"sizes tried ({advice}).")
        matched = matched_service(fs)
        if matched:
            out.append(matched)
    return out


def matched_service(fs: Mapping[str, Any]) -> str | None:
    """When the target is out of reach: the courier-hours another policy needs to match the baseline's best on-time share.

    The other policy's curve is interpolated linearly in courier-hours between the two fleet sizes
    around that share, so the figure is an estimate between tried points, not a run.
    """
    per = fs["per_policy"]
    base = "greedy" if "greedy" in per else next(iter(per))
    points = [p for p in per[base]["points"] if p["mean"] is not None]
    if not points:
        return None
    best = max(points, key=lambda p: p["mean"])
    found: list[tuple[float, str]] = []
    for policy, entry in per.items():
        if policy == base:
            continue
        curve = [p for p in entry["points"] if p["mean"] is not None]
        for a, b in pairwise(curve):
            if a["mean"] < best["mean"] <= b["mean"] and b["mean"] > a["mean"]:
                share = (best["mean"] - a["mean"]) / (b["mean"] - a["mean"])
                found.append((a["courier_hours"] + share * (b["courier_hours"] - a["courier_hours"]), policy))
                break
        else:
            if curve and curve[0]["mean"] >= best["mean"]:
                found.append((curve[0]["courier_hours"], policy))  # at most this many: already there at the smallest fleet
    if not found:
        return None
    hours, policy = min(found)
    if hours >= best["courier_hours"]:
        return None
    pct = 100 * (best["courier_hours"] - hours) / best["courier_hours"]
    return (f"At {base}'s best on-time share ({100 * best['mean']:.1f} % with {best['courier_hours']:.0f} courier-hours, "
            f"x{best['knob_value']:g}), {policy} needs about {hours:.0f} courier-hours (interpolated between the fleet sizes tried): "
            f"{pct:.0f} % fewer for the same service.")


# ------------------------------------------------------------------ results.json


def source_facts(source: Source, first_seed: int = 0) -> dict[str, Any]:
    """The source block: its name and path, orders and couriers of its first seed's day, and a scenario's service area cells."""
    if source.kind == "scenario":
        from dispatch.zones import ServiceArea, cell_str
        from simulator.scenario import build_instance

        day = build_instance(source.scenario, seed=first_seed)
        area = source.scenario.area
        if area.res != CELL_RES:
            area = ServiceArea.from_geojson(source.scenario.city.service_area, CELL_RES)
        cells = sorted(cell_str(c) for c in area.cells)
    else:
        assert source.day is not None
        day, cells = perturb_mdrp(source.day, first_seed), []
    return {"kind": source.kind, "name": source.name, "path": source.path, "orders": len(day.orders),
            "couriers": len(day.couriers), "area": {"cells": cells}}


def build_results(source: Source, policies: Sequence[str], seeds: Sequence[int], knob: str | None, values: Sequence[Any] | None,
                  target: float, runs: Sequence[dict[str, Any]], command: str, source_block: dict[str, Any] | None = None,
                  ceiling: float | None = None) -> dict[str, Any]:
    """results.json, schema 1: the runs, their groups, fleet sizing (fleet knob only) and the summary (``summarise``)."""
    groups = group_runs(runs)
    results: dict[str, Any] = {
        "schema": SCHEMA,
        "created": dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds"),
        "command": command,
        "source": source_block if source_block is not None else source_facts(source, seeds[0] if seeds else 0),
        "policies": list(policies),
        "seeds": list(seeds),
        "knob": {"name": knob, "values": list(values) if knob else None},
        "target": target,
        "runs": list(runs),
        "groups": groups,
        "fleet_sizing": fleet_sizing(groups, policies, target) if knob == "fleet_multiplier" else None,
        "summary": [],
    }
    results["summary"] = summarise(results, ceiling)
    return results


def on_time_ceiling(instance: Instance) -> float | None:
    """The most orders any dispatcher could deliver within their promise: those whose earliest possible delivery
    (food ready, a courier already waiting: half the pickup service, the direct trip, half the drop-off service,
    the lower bound of ``dispatch.kpis``) is not past the promise, as a share of all orders."""
    if not instance.orders:
        return None
    stores = instance.store_by_id()
    rules = instance.rules
    ok = 0
    for o in instance.orders:
        trip = instance.travel.minutes(stores[o.store_id].location, o.dropoff, o.ready_at)
        ok += o.ready_at + rules.pickup_service / 2 + trip + rules.dropoff_service / 2 <= o.window.promise + 1e-9
    return ok / len(instance.orders)


def mean_ceiling(source: Source, specs: Sequence[RunSpec], knob: str | None, values: Sequence[Any] | None) -> float | None:
    """``on_time_ceiling`` of each seed's day at the reference knob value, averaged (the fleet never changes it)."""
    ref = reference_value(knob, values)
    seeds = sorted({s.seed for s in specs})
    policy = specs[0].policy if specs else "greedy"
    found = [on_time_ceiling(build_run_instance(source, RunSpec(policy, knob, ref, seed))) for seed in seeds]
    found = [c for c in found if c is not None]
    return float(np.mean(found)) if found else None


def compare(source: Source, policies: Sequence[str], seeds: Sequence[int], knob: str | None = None, values: Sequence[Any] | None = None,
            target: float = 0.95, cycle: float = 1.0, runtime: str = "local", ray_address: str | None = None,
            command: str = "", progress: ProgressFn | None = None) -> dict[str, Any]:
    """Plan, check, run and collect: the whole comparison as a results dict."""
    specs = plan_runs(policies, seeds, knob, values, cycle)
    check_plan(source, specs)
    block = source_facts(source, seeds[0])
    runs = run_all(source, specs, runtime, ray_address, progress)
    return build_results(source, policies, seeds, knob, values, target, runs, command, block, mean_ceiling(source, specs, knob, values))
