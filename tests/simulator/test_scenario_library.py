"""The scenario library (simulator/scenarios/*.toml): every file loads and runs, and each says what its name says."""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from simulator.engine import run_simulation
from simulator.scenario import build_instance, load_scenario

LIBRARY = Path(__file__).resolve().parents[2] / "simulator" / "scenarios"
FILES = sorted(LIBRARY.glob("*.toml"))


def test_the_library_holds_the_planners_days() -> None:
    names = {p.stem for p in FILES}
    assert {"demo_city", "lunch_peak", "rainy_day", "courier_shortage", "booked_day"} <= names


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_scenario_loads_and_a_slice_of_it_runs(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    day = build_instance(scenario, seed=0, overrides={"demand_multiplier": 0.1})
    assert day.orders and day.couriers
    first = day.orders[:25]  # a slice: the first orders of the day, every courier
    result = run_simulation(replace(day, orders=first), policy="greedy")
    assert len(result.orders) == len(first)
    assert sum(o.delivered_at is not None for o in result.orders) >= len(first) * 0.8


def _day(name: str, seed: int = 0):
    return build_instance(load_scenario(LIBRARY / f"{name}.toml"), seed=seed)


def test_each_day_differs_from_the_lunch_peak_in_what_its_name_says() -> None:
    lunch = _day("lunch_peak")
    demo = _day("demo_city")
    assert lunch.orders == demo.orders and lunch.couriers == demo.couriers  # the lunch peak is the demo city

    rain = _day("rainy_day")
    a, b = lunch.stores[0].location, lunch.stores[5].location
    assert rain.travel.minutes(a, b, 12 * 60) > 1.25 * lunch.travel.minutes(a, b, 12 * 60)  # slower
    assert len(rain.orders) > 1.15 * len(lunch.orders)  # more demand
    assert rain.courier_hours == lunch.courier_hours

    short = _day("courier_shortage")
    assert short.orders == lunch.orders  # the same day, fewer hands
    assert len(short.couriers) == round(len(lunch.couriers) * 2 / 3)

    booked = _day("booked_day")
    modes = Counter(str(o.mode) for o in booked.orders)
    assert (modes["scheduled"] + modes["timed"]) / len(booked.orders) >= 0.45
    lunch_modes = Counter(str(o.mode) for o in lunch.orders)
    assert modes["scheduled"] > 2 * lunch_modes["scheduled"] and modes["timed"] > 2 * lunch_modes["timed"]
