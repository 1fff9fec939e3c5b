"""The simulation loop, in process: whole days on hand-made and generated instances."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dispatch.kpis import compute_kpis
from simulator.engine import run_simulation
from simulator.mdrp import read_mdrp
from simulator.runtime import LocalRuntime
from simulator.scenario import build_instance, demo_scenario_path, load_scenario

from mdrp_fixtures import write_instance
from run_checks import assert_day_is_sound, assert_solution_files_pass, delivered
from synthetic_mdrp import write_synthetic_mdrp

SHARED_MDRP = Path(__file__).resolve().parents[2].parent / "shared" / "bench" / "delivery" / "mdrp"


def test_tiny_day_delivers_every_order_a_courier_can_reach(tmp_path: Path) -> None:
    """o5 is placed at minute 100, after every shift has ended: it is the one order left."""
    directory = write_instance(tmp_path / "tiny")
    instance = read_mdrp(directory)
    result = run_simulation(instance, LocalRuntime())
    left = [o.id for o in result.orders if o.delivered_at is None]
    assert left == ["o5"]
    assert_day_is_sound(result, instance)
    assert_solution_files_pass(result, directory, tmp_path / "out")


def test_generated_day_is_sound_and_passes_the_eight_checks(tmp_path: Path) -> None:
    directory = write_synthetic_mdrp(tmp_path / "gen")
    instance = read_mdrp(directory, region_res=6)  # several regions: handoffs and loans happen
    result = run_simulation(instance, LocalRuntime())
    assert len(result.regions) > 1
    assert delivered(result.orders) == len(instance.orders)
    assert_day_is_sound(result, instance)
    assert_solution_files_pass(result, directory, tmp_path / "out")


@pytest.mark.parametrize(
    "variant",
    [
        {"metres_per_minute": 427},  # t75: travel x 0.75
        {"metres_per_minute": 419, "shift_lengths": (90, 120, 180, 240), "couriers": 40},  # s2-like short shifts
        {"prep_scale": 1.25},  # p125
    ],
    ids=["t75", "s2", "p125"],
)
def test_mdrp_variants_are_sound(variant: dict, tmp_path: Path) -> None:
    directory = write_synthetic_mdrp(tmp_path / "gen", seed=11, **variant)
    instance = read_mdrp(directory)
    result = run_simulation(instance, LocalRuntime())
    assert delivered(result.orders) >= 0.9 * len(instance.orders)
    assert_day_is_sound(result, instance)
    assert_solution_files_pass(result, directory, tmp_path / "out")


def test_same_seed_same_run(tmp_path: Path) -> None:
    instance = read_mdrp(write_synthetic_mdrp(tmp_path / "gen"), region_res=6)
    a = run_simulation(instance, LocalRuntime())
    b = run_simulation(instance, LocalRuntime())
    assert a.orders == b.orders and a.assignments == b.assignments and a.timeline == b.timeline


def test_a_short_cycle_never_delivers_later_on_average(tmp_path: Path) -> None:
    """Exact event times make the cycle matter only for decisions: half-minute cycles decide sooner."""
    instance = read_mdrp(write_synthetic_mdrp(tmp_path / "gen", seed=3), region_res=5)
    coarse = compute_kpis(*(lambda r: (r.orders, r.couriers))(run_simulation(instance, LocalRuntime(), cycle=5.0)), instance.rules)
    fine = compute_kpis(*(lambda r: (r.orders, r.couriers))(run_simulation(instance, LocalRuntime(), cycle=1.0)), instance.rules)
    assert fine["delivered"] == coarse["delivered"] == len(instance.orders)
    assert fine["click_to_door"]["mean"] <= coarse["click_to_door"]["mean"]


def test_demo_city_keeps_booked_windows(tmp_path: Path) -> None:
    instance = build_instance(load_scenario(demo_scenario_path()), seed=0)
    result = run_simulation(instance, LocalRuntime())
    by_id = {o.id: o for o in instance.orders}
    assert delivered(result.orders) >= 0.95 * len(instance.orders)
    booked = [o for o in result.orders if o.mode != "asap" and o.delivered_at is not None]
    assert booked, "the demo city has scheduled and timed orders"
    for o in booked:
        assert o.delivered_at >= by_id[o.id].window.earliest, o
    assert_day_is_sound(result, instance)


def test_fewer_couriers_deliver_slower(tmp_path: Path) -> None:
    scenario = load_scenario(demo_scenario_path())
    full = build_instance(scenario, seed=1)
    thin = build_instance(scenario, seed=1, overrides={"fleet_multiplier": 0.6})
    k_full = compute_kpis(*(lambda r: (r.orders, r.couriers))(run_simulation(full, LocalRuntime())), full.rules)
    k_thin = compute_kpis(*(lambda r: (r.orders, r.couriers))(run_simulation(thin, LocalRuntime())), thin.rules)
    assert k_thin["click_to_door"]["mean"] > k_full["click_to_door"]["mean"]


def test_horizon_stops_a_day_that_cannot_finish(tmp_path: Path) -> None:
    instance = read_mdrp(write_instance(tmp_path / "tiny"))
    short = run_simulation(replace(instance, couriers=instance.couriers[:1]), LocalRuntime(), horizon=30)
    assert short.timeline[-1].time <= 31
    assert delivered(short.orders) < len(instance.orders)


@pytest.mark.parametrize("name", ["0r50t100s1p100", "4o100t100s1p100", "7o100t100s1p100"])
def test_real_grubhub_days_in_process(name: str, tmp_path: Path) -> None:
    directory = SHARED_MDRP / name
    if not directory.exists():
        pytest.skip("../shared/bench not present: real MDRP data is outside a user's clone")
    instance = read_mdrp(directory, region_res=4)
    result = run_simulation(instance, LocalRuntime())
    assert_day_is_sound(result, instance)
    assert_solution_files_pass(result, directory, tmp_path / "out")
    assert delivered(result.orders) >= 0.99 * len(instance.orders)


def test_ortools_policy_delivers_a_generated_day_soundly(tmp_path: Path) -> None:
    """The issue's policy test on a project-made day (the real 0r50 runs in bench/mdrp_quality.py)."""
    directory = write_synthetic_mdrp(tmp_path / "gen", orders=80)
    instance = read_mdrp(directory)
    result = run_simulation(instance, LocalRuntime(), policy="ortools", policy_params={"solutions": 30})
    assert delivered(result.orders) == len(instance.orders)
    assert_day_is_sound(result, instance)
    assert_solution_files_pass(result, directory, tmp_path / "out")


def test_ortools_policy_on_the_small_grubhub_day(tmp_path: Path) -> None:
    directory = SHARED_MDRP / "0r50t100s1p100"
    if not directory.exists():
        pytest.skip("../shared/bench not present: real MDRP data is outside a user's clone "
                    "(test_ortools_policy_delivers_a_generated_day_soundly covers the same path)")
    instance = read_mdrp(directory)
    result = run_simulation(instance, LocalRuntime(), policy="ortools", policy_params={"solutions": 30})
    assert delivered(result.orders) == len(instance.orders)
    assert_day_is_sound(result, instance)
    assert_solution_files_pass(result, directory, tmp_path / "out")
