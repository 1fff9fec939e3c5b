"""The ``dispatch`` command: simulate a Grubhub day or a synthetic city, run the demo, check a solution.

Bad input ends with one message naming the file, the line and the field, and exit code 2.
"""
from __future__ import annotations

import logging
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dispatch.policies import POLICIES
from simulator.errors import InputError
from simulator.instance import Instance

app = typer.Typer(
    help="O2O delivery dispatch: replay real Grubhub days or simulate a city on a simulated clock, "
    "through the same Ray shard actors and dispatch policies that run live.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)


class RuntimeKind(StrEnum):
    ray = "ray"
    local = "local"


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _load(mdrp: Path | None, scenario: Path | None, seed: int, region_res: int | None, overrides: dict[str, Any]) -> Instance:
    if (mdrp is None) == (scenario is None):
        _fail("give exactly one of --mdrp DIR or --scenario FILE")
    try:
        if mdrp is not None:
            from simulator.mdrp import read_mdrp

            return read_mdrp(mdrp) if region_res is None else read_mdrp(mdrp, region_res=region_res)
        from simulator.scenario import build_instance, load_scenario

        instance = build_instance(load_scenario(scenario), seed=seed, overrides=overrides or None)  # type: ignore[arg-type]
        if region_res is not None:
            from dataclasses import replace

            instance = replace(instance, region_res=region_res)
        return instance
    except InputError as exc:
        _fail(str(exc))


def _runtime(kind: RuntimeKind, ray_address: str | None):
    if kind == RuntimeKind.local:
        from simulator.runtime import LocalRuntime

        return LocalRuntime()
    from actors.ray_setup import init_ray
    from actors.runtime import RayRuntime, unique_namespace

    with console.status("starting Ray (local unless RAY_ADDRESS is set)..."):
        init_ray(address=ray_address or os.environ.get("RAY_ADDRESS"))
    return RayRuntime(namespace=unique_namespace("simulate"))


def _run(instance: Instance, runtime_kind: RuntimeKind, ray_address: str | None, policy: str, seed: int, cycle: float, quiet: bool):
    from simulator.engine import run_simulation

    runtime = _runtime(runtime_kind, ray_address)
    total = len(instance.orders)
    try:
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("delivered"),
            TimeElapsedColumn(), console=console, disable=quiet, transient=False,
        ) as bar:
            task = bar.add_task(f"{instance.name} [{policy}]", total=total)

            def progress(now: float, delivered: int, _total: int) -> None:
                bar.update(task, completed=delivered, description=f"{instance.name} [{policy}] day {_clock(now)}")

            return run_simulation(instance, runtime, policy=policy, cycle=cycle, seed=seed, progress=progress)
    finally:
        runtime.close()


def _clock(minutes: float) -> str:
    m = int(minutes)
    return f"{m // 60:02d}:{m % 60:02d}"


def _fmt(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def kpi_table(summary: dict[str, Any]) -> Table:
    k = summary["kpis"]
    ctd, lb, wait = k["click_to_door"], k["lower_bound"], k["ready_to_pickup"]
    table = Table(title=f"{summary['instance']}: {summary['policy']} policy, seed {summary['seed']}", show_header=True)
    table.add_column("KPI")
    table.add_column("value", justify="right")
    share = k["delivered_share"]
    rows = [
        ("orders delivered", f"{k['delivered']} / {k['orders']} ({_fmt(share * 100 if share is not None else None, ' %')})"),
        ("click-to-door mean / p50 / p90 / p99 (asap)", " / ".join(_fmt(ctd[q], " min") for q in ("mean", "p50", "p90", "p99"))),
        ("late vs promise (share, mean lateness)", f"{_fmt((k['lateness_vs_promise']['late_share'] or 0) * 100, ' %')}, {_fmt(k['lateness_vs_promise']['mean'], ' min')}"),
        ("overage beyond the 40-min target (mean)", _fmt(k["target_overage_mean"], " min")),
        ("beyond the 90-min maximum", _fmt((k["beyond_max_share"] or 0.0) * 100, " %", 2)),
        ("ready-to-pickup wait mean / p90", f"{_fmt(wait['mean'], ' min')} / {_fmt(wait['p90'], ' min')}"),
        ("lower bound mean; click-to-door / bound", f"{_fmt(lb['mean'], ' min')}; {_fmt(lb['ratio_of_means'], 'x', 3)}"),
        ("courier utilisation", _fmt((k["utilisation"] or 0) * 100, " %")),
        ("orders per courier-hour", _fmt(k["orders_per_courier_hour"], "", 2)),
        ("cost per order (MDRP pay rule)", _fmt(k["cost_per_order"], " $", 2)),
    ]
    for mode, m in k["by_mode"].items():
        if mode != "asap" or len(k["by_mode"]) > 1:
            rows.append((f"{mode}: delivered, on time", f"{m['delivered']} / {m['orders']}, {_fmt((m['on_time_share'] or 0) * 100, ' %')}"))
    share = k.get("mode_share") or {}
    if set(share) - {"asap"}:
        rows.append(("scheduled / timed share of orders", " / ".join(_fmt(share.get(m, 0.0) * 100, " %") for m in ("scheduled", "timed"))))
    shop = k.get("commerce")
    if shop:
        rows += [
            ("GMV, delivered (goods after discounts)", f"¥{shop['gmv_yuan']:,.2f}"),
            ("mean basket; items per basket", f"¥{shop['mean_basket_yuan']:.2f}; {shop['mean_items']:.1f}"),
            ("coupon use rate", _fmt(shop["coupon_use_rate"] * 100, " %")),
        ]
    rows.append(("regions (shards) / steps / wall time", f"{summary['regions']} / {summary['steps']} / {summary['wall_seconds']:.1f} s"))
    for name, value in rows:
        table.add_row(name, value)
    return table


MdrpOpt = Annotated[Path | None, typer.Option("--mdrp", help="A Grubhub MDRP instance folder (orders.txt, couriers.txt, ...).", show_default=False)]
ScenarioOpt = Annotated[Path | None, typer.Option("--scenario", help="A synthetic-city scenario TOML file.", show_default=False)]
PolicyOpt = Annotated[str, typer.Option("--policy", help=f"Dispatch policy: {', '.join(sorted(POLICIES))}.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same run.")]
CycleOpt = Annotated[float, typer.Option("--cycle", min=0.05, help="Dispatch cycle in simulated minutes.")]
RuntimeOpt = Annotated[RuntimeKind, typer.Option("--runtime", help="ray: shard actors on Ray (RAY_ADDRESS joins a cluster); local: in this process.")]
ResOpt = Annotated[int | None, typer.Option("--region-res", min=0, max=10, help="H3 resolution of the regions that shard the city (default: 4 for MDRP, the scenario's own otherwise).", show_default=False)]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


@app.command()
def simulate(
    mdrp: MdrpOpt = None,
    scenario: ScenarioOpt = None,
    policy: PolicyOpt = "greedy",
    out: Annotated[Path | None, typer.Option("--out", help="Write kpis.json, timeline.csv, orders.csv (and for MDRP the evaluator's solution_info_*.txt) here.", show_default=False)] = None,
    seed: SeedOpt = 0,
    cycle: CycleOpt = 1.0,
    region_res: ResOpt = None,
    runtime: RuntimeOpt = RuntimeKind.ray,
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="Join this Ray cluster (overrides RAY_ADDRESS).", show_default=False)] = None,
    demand: Annotated[float, typer.Option("--demand", min=0.01, help="Scenario only: demand multiplier.")] = 1.0,
    fleet: Annotated[float, typer.Option("--fleet", min=0.01, help="Scenario only: fleet-size multiplier.")] = 1.0,
    quiet: QuietOpt = False,
) -> None:
    """Simulate a day: every order placed, prepared, dispatched, picked up and delivered on a simulated clock.

    Examples:

      dispatch simulate --mdrp ../shared/bench/delivery/mdrp/0r50t100s1p100 --out out/0r50

      dispatch simulate --scenario simulator/scenarios/demo_city.toml --seed 3 --runtime local
    """
    if policy not in POLICIES:
        _fail(f"unknown policy {policy!r}; known: {', '.join(sorted(POLICIES))}")
    overrides = {k: v for k, v in (("demand_multiplier", demand), ("fleet_multiplier", fleet)) if v != 1.0}
    if mdrp is not None and overrides:
        _fail("--demand and --fleet apply to scenarios; an MDRP day is replayed as it was")
    instance = _load(mdrp, scenario, seed, region_res, overrides)
    _simulate_and_report(instance, runtime, ray_address, policy, seed, cycle, quiet, out)


@app.command()
def demo(
    seed: SeedOpt = 0,
    policy: PolicyOpt = "greedy",
    runtime: RuntimeOpt = RuntimeKind.ray,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the run's files here.", show_default=False)] = None,
    quiet: QuietOpt = False,
) -> None:
    """Simulate the demo city (lunch peak, a few hours) and print its KPI table."""
    from simulator.scenario import demo_scenario_path

    instance = _load(None, demo_scenario_path(), seed, None, {})
    _simulate_and_report(instance, runtime, None, policy, seed, 1.0, quiet, out)


@app.command()
def plan(
    scenario: Annotated[Path, typer.Option("--scenario", help="A synthetic-city scenario TOML file.")],
    seed: SeedOpt = 0,
    seconds: Annotated[float, typer.Option("--seconds", min=0.1, help="Solver time budget.")] = 10.0,
    out: Annotated[Path | None, typer.Option("--out", help="Write the plan as JSON here.", show_default=False)] = None,
) -> None:
    """Plan the day's scheduled and timed orders ahead of time, as a VRPTW over the courier shifts."""
    import json

    from dispatch.ahead import plan_booked
    from routing.problem import Budget

    instance = _load(None, scenario, seed, None, {})
    stores = instance.store_by_id()
    with console.status(f"solving {instance.name}'s booked orders for {seconds:g} s..."):
        ahead = plan_booked(
            [o.build() for o in instance.orders], [c.build() for c in instance.couriers],
            lambda s: stores[s].location, instance.travel, instance.rules, Budget(seconds=seconds),
        )
    result = ahead.to_dict()
    table = Table(title=f"{instance.name}: booked orders planned ahead (seed {seed})")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("scheduled and timed orders", str(result["orders"]))
    table.add_row("planned / left out", f"{result['planned']} / {len(result['unassigned'])}")
    table.add_row("couriers used / on the shift plan", f"{result['objective']['couriers_used']} / {result['couriers']}")
    table.add_row("travel, minutes", f"{result['objective']['travel_minutes']:.0f}")
    table.add_row("late after the promise, minutes", f"{result['objective']['late_minutes']:.0f}")
    table.add_row("solver", f"{result['solver']['status']} in {result['solver']['seconds']} s")
    console.print(table)
    for u in result["unassigned"][:10]:
        console.print(f"left out {u['order']}: {u['reason']} {u['detail']}", highlight=False)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        console.print(f"wrote {out}", highlight=False)


@app.command()
def check(
    instance_dir: Annotated[Path, typer.Argument(help="The MDRP instance folder.")],
    solution_dir: Annotated[Path, typer.Argument(help="The folder holding solution_info_*.txt.")],
) -> None:
    """Check solution files with the eight checks of the MDRP evaluator (exit 1 when infeasible)."""
    from simulator.mdrp_check import check_solution

    try:
        report = check_solution(instance_dir, solution_dir)
    except InputError as exc:
        _fail(str(exc))
    for result in report.checks:
        mark = "[green]OK[/]" if result.ok else "[red]FAIL[/]"
        console.print(f"{mark}  {result.name}")
        for violation in result.violations[:5]:
            console.print(f"      {violation}", highlight=False)
    console.print("[bold green]FEASIBLE[/]" if report.feasible else "[bold red]INFEASIBLE[/]")
    raise typer.Exit(0 if report.feasible else 1)


@app.command()
def compare(
    mdrp: MdrpOpt = None,
    scenario: ScenarioOpt = None,
    policy: Annotated[list[str] | None, typer.Option("--policy", help=f"A policy to compare; repeat the option for each ({', '.join(sorted(POLICIES))}). Default: greedy and ortools.", show_default=False)] = None,
    seeds: Annotated[int, typer.Option("--seeds", min=1, max=1000, help="Seeds per (policy, knob value): 0, 1, ..., N-1. A scenario draws a new day per seed; an MDRP day is replayed as recorded for seed 0 and perturbed for the others.")] = 3,
    knob: Annotated[str | None, typer.Option("--knob", help="The one thing to vary, NAME=v1,v2,...: fleet_multiplier, demand_multiplier, prep_multiplier, travel_multiplier, cycle, rings, batching (on,off), reposition (on,off).", show_default=False)] = None,
    fleet: Annotated[str | None, typer.Option("--fleet", help="Fleet sizes to try, e.g. 0.6,0.8,1.0: shorthand for --knob fleet_multiplier=... and turns on fleet sizing.", show_default=False)] = None,
    target: Annotated[float, typer.Option("--target", min=0.01, max=1.0, help="Fleet sizing target: the share of orders delivered within their promise.")] = 0.95,
    cycle: CycleOpt = 1.0,
    runtime: Annotated[RuntimeKind, typer.Option("--runtime", help="ray: one Ray task (1 CPU) per run, in parallel (RAY_ADDRESS joins a cluster); local: the runs one after another in this process.")] = RuntimeKind.ray,
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="Join this Ray cluster (overrides RAY_ADDRESS).", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write results.json (every run, the intervals, the fleet answer) and report.html here.", show_default=False)] = None,
    quiet: QuietOpt = False,
) -> None:
    """Compare dispatch policies on one city: which dispatcher, and how many couriers.

    Every (policy, knob value, seed) is one independent simulated day. For each policy and knob value the KPIs are averaged over the seeds with a 95 % t-interval; on a scenario every policy sees exactly the same day for a seed, so the gaps between policies are also given paired by seed.

    With --fleet (or --knob fleet_multiplier=...) it finds, per policy, the smallest fleet that keeps --target of the orders within their promise, and the courier-hours one policy saves over greedy.

    Knobs (one at a time; multipliers scale the city as it is, 1.0 = unchanged):

      fleet_multiplier   couriers x m (MDRP: couriers dropped or copied, the same for every seed)

      demand_multiplier  orders x m (scenarios only)

      prep_multiplier    preparation times x m

      travel_multiplier  every trip m times as long (1.3: rain)

      cycle              minutes between dispatch rounds

      rings              greedy's ring limit / ortools' candidate couriers per order

      batching           on, off (off: one order per trip)

      reposition         on, off (idle couriers moved towards demand)

    Examples:

      dispatch compare --mdrp ../shared/bench/delivery/mdrp/4o100t100s1p100 --policy greedy --policy ortools --seeds 3 --out out/4o

      dispatch compare --scenario simulator/scenarios/lunch_peak.toml --fleet 0.6,0.8,1.0,1.2 --out out/fleet

      dispatch compare --scenario simulator/scenarios/rainy_day.toml --knob travel_multiplier=1,1.2,1.4 --runtime local
    """
    import json

    from simulator import compare as cmp

    policies = list(policy) if policy else ["greedy", "ortools"]
    try:
        if knob is not None and fleet is not None:
            raise cmp.CompareError("give --fleet or --knob, not both (--fleet is --knob fleet_multiplier=...)")
        knob_name, values = (None, None)
        if fleet is not None:
            knob_name, values = "fleet_multiplier", cmp.parse_values("fleet_multiplier", fleet)
        elif knob is not None:
            knob_name, values = cmp.parse_knob(knob)
        seed_list = list(range(seeds))
        specs = cmp.plan_runs(policies, seed_list, knob_name, values, cycle)
        source = cmp.load_source(scenario=scenario, mdrp=mdrp)
        cmp.check_plan(source, specs)
        block = cmp.source_facts(source, seed_list[0])
    except (cmp.CompareError, InputError) as exc:
        _fail(str(exc))
    if out is not None and out.exists() and not out.is_dir():
        _fail(f"--out {out} exists and is not a folder")
    command = _compare_command(mdrp, scenario, policies, seeds, knob, fleet, target, cycle, runtime, out)
    levels = f" x {len(values)} values of {knob_name}" if knob_name else ""  # type: ignore[arg-type]
    console.print(f"{source.name}: {block['orders']} orders, {block['couriers']} couriers (seed 0); "
                  f"{len(specs)} runs = {len(policies)} policies{levels} x {seeds} seeds on {runtime.value}", highlight=False)

    means: dict[tuple[str, Any], list[float]] = {}
    with Progress(
        TextColumn("[bold]runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[best]}"),
        console=console, disable=quiet, transient=False,
    ) as bar:
        task = bar.add_task("runs", total=len(specs), best="starting Ray..." if runtime == RuntimeKind.ray else "")

        def progress(done: int, total: int, run: dict[str, Any]) -> None:
            share = run["kpis"]["on_time_share"]
            if share is not None:
                means.setdefault((run["policy"], run["knob_value"]), []).append(share)
            best = max(means.items(), key=lambda kv: sum(kv[1]) / len(kv[1]), default=None)
            text = ""
            if best is not None:
                (p, v), xs = best
                text = f"best so far: {p}{' ' + cmp.knob_label(knob_name, v) if knob_name else ''} {100 * sum(xs) / len(xs):.1f} % on time"
            bar.update(task, completed=done, best=text)

        try:
            runs = cmp.run_all(source, specs, runtime.value, ray_address, progress)
        except cmp.CompareError as exc:
            _fail(str(exc))
    ceiling = cmp.mean_ceiling(source, specs, knob_name, values)
    results = cmp.build_results(source, policies, seed_list, knob_name, values, target, runs, command, block, ceiling)
    console.print(_compare_table(results))
    if results["fleet_sizing"]:
        console.print(_fleet_table(results))
    for sentence in results["summary"]:
        console.print(f"- {sentence}", highlight=False)
    if out is None:
        return
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    except OSError as exc:
        _fail(f"cannot write to {out}: {exc.strerror or exc}")
    written = ["results.json"]
    try:
        from simulator.report import render
    except ModuleNotFoundError as exc:
        if exc.name != "simulator.report":
            raise
        console.print(f"wrote results.json to {out} (note: simulator/report.py is not there yet, so no report.html)", highlight=False)
        return
    try:
        (out / "report.html").write_text(render(results), encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write to {out}: {exc.strerror or exc}")
    written.append("report.html")
    console.print(f"wrote {', '.join(written)} to {out}", highlight=False)


def _compare_command(mdrp: Path | None, scenario: Path | None, policies: list[str], seeds: int, knob: str | None, fleet: str | None,
                     target: float, cycle: float, runtime: RuntimeKind, out: Path | None) -> str:
    """The command line that reproduces this comparison (canonical form, recorded in results.json)."""
    import shlex

    parts = ["dispatch", "compare", *(["--mdrp", str(mdrp)] if mdrp is not None else ["--scenario", str(scenario)])]
    for p in policies:
        parts += ["--policy", p]
    parts += ["--seeds", str(seeds)]
    if fleet is not None:
        parts += ["--fleet", fleet]
    if knob is not None:
        parts += ["--knob", knob]
    parts += ["--target", f"{target:g}"]
    if cycle != 1.0:
        parts += ["--cycle", f"{cycle:g}"]
    parts += ["--runtime", runtime.value]
    if out is not None:
        parts += ["--out", str(out)]
    return shlex.join(parts)


def _compare_table(results: dict[str, Any]) -> Table:
    knob = results["knob"]["name"]
    n = len(results["seeds"])
    table = Table(title=f"{results['source']['name']}: mean over {n} seed{'s' if n != 1 else ''}" + (", [95 % interval]" if n > 1 else ""))
    table.add_column("policy")
    if knob:
        table.add_column(knob.removesuffix("_multiplier"))
    for name in ("on time %", "click-to-door min", "p90 min", "delivered %", "courier-hours", "orders / courier-hour"):
        table.add_column(name, justify="right")

    def ci(m: dict[str, Any], scale: float = 1.0, digits: int = 1) -> str:
        if m["mean"] is None:
            return "-"
        text = f"{m['mean'] * scale:.{digits}f}"
        if m["lo"] != m["hi"]:
            text += f"\n[{m['lo'] * scale:.{digits}f}, {m['hi'] * scale:.{digits}f}]"
        return text

    for g in results["groups"]:
        m = g["metrics"]
        row = [g["policy"]] + ([str(g["knob_value"])] if knob else [])
        row += [ci(m["on_time_share"], 100), ci(m["ctd_mean"]), ci(m["ctd_p90"]), ci(m["delivered_share"], 100),
                ci(m["courier_hours"], digits=0), ci(m["orders_per_courier_hour"], digits=2)]
        table.add_row(*row)
    return table


def _fleet_table(results: dict[str, Any]) -> Table:
    fs = results["fleet_sizing"]
    table = Table(title=f"fleet sizing: share of orders within the promise (target {100 * fs['target']:.0f} %)")
    table.add_column("fleet x")
    table.add_column("courier-hours", justify="right")
    policies = list(fs["per_policy"])
    for p in policies:
        table.add_column(p, justify="right")
    values = sorted({pt["knob_value"] for e in fs["per_policy"].values() for pt in e["points"]})
    for v in values:
        cells = []
        hours = "-"
        for p in policies:
            pt = next((x for x in fs["per_policy"][p]["points"] if x["knob_value"] == v), None)
            if pt is None or pt["mean"] is None:
                cells.append("-")
                continue
            hours = f"{pt['courier_hours']:.0f}"
            mark = " *" if (fs["per_policy"][p]["smallest"] or {}).get("knob_value") == v else ""
            text = f"{100 * pt['mean']:.1f} %"
            if pt["lo"] != pt["hi"]:
                text += f" [{100 * pt['lo']:.1f}, {100 * pt['hi']:.1f}]"
            cells.append(text + mark)
        table.add_row(f"{v:g}", hours, *cells)
    if any(e["smallest"] for e in fs["per_policy"].values()):
        table.caption = "* the smallest fleet that meets the target"
    return table


def _simulate_and_report(instance: Instance, runtime: RuntimeKind, ray_address: str | None, policy: str, seed: int,
                         cycle: float, quiet: bool, out: Path | None) -> None:
    from simulator.output import summarise, write_outputs

    console.print(f"{instance.name}: {len(instance.orders)} orders, {len(instance.stores)} stores, "
                  f"{len(instance.couriers)} couriers ({instance.courier_hours:.0f} courier-hours)", highlight=False)
    result = _run(instance, runtime, ray_address, policy, seed, cycle, quiet)
    summary = summarise(result, instance)
    console.print(kpi_table(summary))
    if out is not None:
        try:
            paths = write_outputs(out, result, instance, summary)
        except OSError as exc:
            _fail(f"cannot write to {out}: {exc.strerror or exc}")
        console.print(f"wrote {', '.join(p.name for p in paths)} to {out}", highlight=False)


def main() -> None:  # pragma: no cover - console entry
    """Console entry: one line for an unexpected failure too (DISPATCH_DEBUG=1 shows the traceback)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        raise SystemExit(130) from None
    except Exception as exc:
        if os.environ.get("DISPATCH_DEBUG"):
            raise
        err.print(f"[bold red]error:[/] {type(exc).__name__}: {exc} (set DISPATCH_DEBUG=1 for the traceback)", highlight=False)
        raise SystemExit(1) from None


if __name__ == "__main__":  # pragma: no cover
    main()
