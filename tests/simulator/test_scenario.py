"""Scenario files: the demo city loads, days are drawn deterministically, bad files say where they are bad."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from dispatch.modes import DeliveryMode
from simulator.errors import InputError
from simulator.scenario import Scenario, build_instance, demo_scenario_path, load_scenario

TINY = """\
name = "tiny"
seed = 3

[city]
lat = 31.23
lng = 121.47
service_area = { type = "Polygon", coordinates = [[[121.44, 31.21], [121.50, 31.21], [121.50, 31.25], [121.44, 31.25], [121.44, 31.21]]] }

[time]
start = "11:00"
end = "13:00"

[[stores]]
id = "a"
lat = 31.230
lng = 121.470
prep = { mean = 10, sd = 3 }

[demand]
rate = [
  { hour = 0, rate = 10 },
  { hour = 11, rate = 120 },
  { hour = 12, rate = 60 },
  { hour = 14, rate = 10 },
]

[mix]
asap = 0.5
scheduled = 0.3
timed = 0.2

[[shifts]]
start = "10:45"
end = "13:30"
count = 5
"""
"""A tiny city: one store, a 6 km box, 180 orders expected over 11:00-13:00 (line numbers matter below)."""


@pytest.fixture(scope="module")
def demo() -> Scenario:
    return load_scenario(demo_scenario_path())


def write(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def expected_orders(scenario: Scenario, multiplier: float = 1.0) -> float:
    start, end = scenario.time.start, scenario.time.end
    return sum(rate * max(0.0, min(b, end) - max(a, start)) / 60 for a, b, rate in scenario.demand.segments()) * multiplier


# --------------------------------------------------------------------------- the demo city


def test_demo_scenario_loads(demo: Scenario) -> None:
    assert demo.name == "demo_city"
    assert 12 <= len(demo.stores) <= 20
    assert {s.kind for s in demo.stores} >= {"restaurant", "grocery", "pharmacy"}
    assert (demo.time.start, demo.time.end) == (600, 840)
    assert (demo.mix.asap, demo.mix.scheduled, demo.mix.timed) == (0.80, 0.12, 0.08)
    assert demo.city.service_area_file == "demo_city.geojson" and demo.city.service_area is not None
    assert 500 <= expected_orders(demo) <= 900


def test_demo_instance_has_the_advertised_size(demo: Scenario) -> None:
    inst = build_instance(demo, 0)
    assert 500 <= len(inst.orders) <= 900
    assert 60 <= len(inst.couriers) <= 100
    assert len(inst.stores) == len(demo.stores)
    assert inst.region_res == 6
    assert inst.meta["scenario"] == "demo_city" and inst.meta["seed"] == 0
    assert inst.meta["service_area"]["type"] in ("Feature", "Polygon", "FeatureCollection", "MultiPolygon")
    assert [o.id for o in inst.orders[:3]] == ["o1", "o2", "o3"]
    assert [c.id for c in inst.couriers[:2]] == ["c1", "c2"]
    assert [s.id for s in inst.stores] == [s.id for s in demo.stores]


def test_build_is_deterministic_for_a_seed_and_differs_across_seeds(demo: Scenario) -> None:
    a, b, c = build_instance(demo, 7), build_instance(demo, 7), build_instance(demo, 8)
    assert a.orders == b.orders and a.couriers == b.couriers and a.stores == b.stores
    assert a.orders != c.orders
    assert a.couriers != c.couriers


def test_seed_defaults_to_the_file(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, TINY))
    assert build_instance(scenario).orders == build_instance(scenario, 3).orders


def test_every_point_is_inside_the_service_area(demo: Scenario) -> None:
    inst = build_instance(demo, 1)
    area = demo.area
    assert all(area.contains(o.dropoff) for o in inst.orders)
    assert all(area.contains(c.location) for c in inst.couriers)
    assert all(area.contains(s.location) for s in inst.stores)


def test_orders_are_placed_in_the_period_and_ready_after_prep(demo: Scenario) -> None:
    inst = build_instance(demo, 2)
    prep_min = {s.id: s.prep.min for s in demo.stores}
    placed = [o.placed_at for o in inst.orders]
    assert placed == sorted(placed)
    assert all(demo.time.start <= t <= demo.time.end for t in placed)
    assert all(o.ready_at - o.placed_at >= prep_min[o.store_id] - 0.01 for o in inst.orders)


# --------------------------------------------------------------------------- statistics and overrides


def test_order_count_follows_the_rate_and_the_demand_multiplier(demo: Scenario) -> None:
    for multiplier in (1.0, 2.0):
        expected = expected_orders(demo, multiplier)
        n = len(build_instance(demo, 11, {"demand_multiplier": multiplier}).orders)
        assert abs(n - expected) < 5 * math.sqrt(expected), (multiplier, n, expected)


def test_lunch_peak_is_busier_than_the_morning(demo: Scenario) -> None:
    inst = build_instance(demo, 4)
    morning = sum(600 <= o.placed_at < 630 for o in inst.orders)
    peak = sum(690 <= o.placed_at < 720 for o in inst.orders)
    assert peak > 1.5 * morning


def test_fleet_override_changes_only_the_couriers(demo: Scenario) -> None:
    base = build_instance(demo, 5)
    double = build_instance(demo, 5, {"fleet_multiplier": 2.0, "demand_multiplier": None})
    assert double.orders == base.orders
    assert len(double.couriers) == pytest.approx(2 * len(base.couriers), abs=len(demo.shifts))


def test_prep_override_lengthens_preparation(demo: Scenario) -> None:
    base = build_instance(demo, 5)
    slow = build_instance(demo, 5, {"prep_multiplier": 2.0})
    assert [o.placed_at for o in slow.orders] == [o.placed_at for o in base.orders]
    mean = lambda inst: sum(o.ready_at - o.placed_at for o in inst.orders) / len(inst.orders)  # noqa: E731
    assert mean(slow) == pytest.approx(2 * mean(base), rel=0.1)


@pytest.mark.parametrize("overrides", [{"demand_mult": 2.0}, {"fleet_multiplier": 0}, {"prep_multiplier": "fast"}])
def test_bad_overrides_are_input_errors(demo: Scenario, overrides: dict) -> None:
    with pytest.raises(InputError) as info:
        build_instance(demo, 0, overrides)
    assert info.value.field == next(iter(overrides))


# --------------------------------------------------------------------------- windows


def test_windows_match_the_modes(demo: Scenario) -> None:
    inst = build_instance(demo, 3)
    mix, rules, end = demo.mix, demo.rules, demo.time.end
    modes = {o.mode for o in inst.orders}
    assert modes == set(DeliveryMode)
    for o in inst.orders:
        w = o.window
        if o.mode is DeliveryMode.ASAP:
            assert (w.earliest, w.promise, w.latest) == pytest.approx((o.placed_at, o.placed_at + rules.target_click_to_door, o.placed_at + rules.max_click_to_door))
        elif o.mode is DeliveryMode.SCHEDULED:
            assert w.earliest >= o.placed_at + mix.booking_lead
            assert w.earliest <= o.placed_at + mix.booking_horizon
            assert w.earliest % mix.slot_minutes == 0
            assert w.promise - w.earliest == mix.slot_minutes
            assert w.promise <= end and w.latest - w.promise == mix.grace
        else:
            at = w.promise - mix.timed_tolerance
            assert at % mix.timed_step == 0
            assert at >= o.placed_at + mix.booking_lead
            assert w.earliest == at - mix.timed_tolerance and at <= end
            assert w.latest - w.promise == mix.grace


def test_mode_shares_follow_the_mix(tmp_path: Path) -> None:
    """Bookings are only possible while a slot is left in the period, so the share is checked early on."""
    scenario = load_scenario(write(tmp_path, TINY))
    orders = [o for seed in range(4) for o in build_instance(scenario, seed).orders if o.placed_at < 11.5 * 60]
    share = {m: sum(o.mode is m for o in orders) / len(orders) for m in DeliveryMode}
    assert share[DeliveryMode.ASAP] == pytest.approx(0.5, abs=0.1)
    assert share[DeliveryMode.SCHEDULED] == pytest.approx(0.3, abs=0.1)
    assert share[DeliveryMode.TIMED] == pytest.approx(0.2, abs=0.1)


# --------------------------------------------------------------------------- file formats


def test_hourly_list_and_steps_are_equivalent(tmp_path: Path) -> None:
    hourly = [10.0] * 24
    hourly[11], hourly[12], hourly[13] = 120.0, 60.0, 60.0
    text = TINY.replace(TINY[TINY.index("rate = ["): TINY.index("[mix]")], f"rate = {hourly}\n\n")
    steps = load_scenario(write(tmp_path, TINY, "steps.toml"))
    listed = load_scenario(write(tmp_path, text, "hourly.toml"))
    assert build_instance(steps, 0).orders == build_instance(listed, 0).orders


def test_relative_geojson_file_and_clock_times(tmp_path: Path) -> None:
    (tmp_path / "area.geojson").write_text(
        '{"type": "Polygon", "coordinates": [[[121.44, 31.21], [121.50, 31.21], [121.50, 31.25], [121.44, 31.25], [121.44, 31.21]]]}'
    )
    sub = tmp_path / "sub"
    sub.mkdir()
    text = TINY.replace(TINY[TINY.index("service_area = "): TINY.index("\n\n[time]")], 'service_area_file = "../area.geojson"')
    text = text.replace('start = "11:00"', "start = 660")
    scenario = load_scenario(write(sub, text))
    assert scenario.time.start == 660 and scenario.shifts[0].start == 645
    assert len(build_instance(scenario, 0).orders) > 0


# --------------------------------------------------------------------------- bad files


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found") as info:
        load_scenario(tmp_path / "nope.toml")
    assert info.value.line is None


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = TINY.replace("lat = 31.230", "lat = = 31.230")
    with pytest.raises(InputError) as info:
        load_scenario(write(tmp_path, text))
    assert info.value.line == line_of(text, "lat = = 31.230")
    assert f"line {info.value.line}" in str(info.value)


def test_unknown_key_names_field_and_line(tmp_path: Path) -> None:
    text = TINY.replace("[demand]\n", "[demand]\nrates_per_hour = 3\n")
    with pytest.raises(InputError, match="unknown key") as info:
        load_scenario(write(tmp_path, text))
    assert info.value.field == "demand.rates_per_hour"
    assert info.value.line == line_of(text, "rates_per_hour")


def test_negative_rate_names_the_step(tmp_path: Path) -> None:
    text = TINY.replace("{ hour = 12, rate = 60 }", "{ hour = 12, rate = -60 }")
    with pytest.raises(InputError) as info:
        load_scenario(write(tmp_path, text))
    assert info.value.field == "demand.rate[2].rate"
    assert info.value.line == line_of(text, "rate = -60")
    assert "demand.rate[2].rate" in str(info.value)


def test_mix_must_sum_to_one(tmp_path: Path) -> None:
    text = TINY.replace("timed = 0.2", "timed = 0.3")
    with pytest.raises(InputError, match="sum to 1") as info:
        load_scenario(write(tmp_path, text))
    assert info.value.field == "mix"
    assert info.value.line == line_of(text, "[mix]")


POLYGON_LINE = next(line for line in TINY.splitlines() if line.startswith("service_area = "))


@pytest.mark.parametrize(
    ("old", "new", "field", "has_line"),
    [
        ('end = "13:00"', 'end = "10:00"', "time", True),
        ("count = 5", "count = -1", "shifts[0].count", True),
        ("prep = { mean = 10, sd = 3 }", 'prep = { mean = 10, sd = 3, dist = "weibull" }', "stores[0].prep.dist", True),
        ("lat = 31.230\nlng = 121.470", "lat = 31.300\nlng = 121.470", "stores[0].lat", True),  # outside the area
        (POLYGON_LINE, "service_area_file = 'missing.geojson'", "city", True),
        ('name = "tiny"\n', "", "name", False),  # a missing top-level key has no line to point at
    ],
)
def test_other_bad_values_name_their_field(tmp_path: Path, old: str, new: str, field: str, has_line: bool) -> None:
    assert old in TINY
    with pytest.raises(InputError) as info:
        load_scenario(write(tmp_path, TINY.replace(old, new)))
    assert info.value.field == field
    assert (info.value.line is not None) == has_line
