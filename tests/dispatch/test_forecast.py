"""DemandForecast: hourly rates per H3 zone from made-up orders, smoothing, persistence; and the
simulator's helpers that learn one from other days of a scenario or from the day itself."""
from __future__ import annotations

import json
import pickle

import h3.api.basic_int as h3
import pytest

from dispatch.forecast import DemandForecast
from dispatch.geo import Location
from dispatch.modes import asap_window
from dispatch.zones import zone_of
from simulator.instance import OrderSpec

A = Location(31.2300, 121.4700)
B = Location(31.2600, 121.5200)  # several res-7 cells away from A
ZA, ZB = zone_of(A, 7), zone_of(B, 7)


def points(loc: Location, hour: int, n: int) -> list[tuple[float, Location]]:
    return [(hour * 60 + 5.0 + i, loc) for i in range(n)]


def test_raw_rate_is_orders_per_hour_per_day() -> None:
    fc = DemandForecast(spatial=0, temporal=0).fit(points(A, 12, 6) + points(B, 9, 2), days=2)
    assert fc.rate(ZA, 12 * 60) == pytest.approx(3.0)
    assert fc.rate(ZA, 12 * 60 + 59.9) == pytest.approx(3.0)
    assert fc.rate(ZA, 13 * 60) == 0.0
    assert fc.rate(ZB, 9 * 60 + 30) == pytest.approx(1.0)
    assert fc.rate(h3.int_to_str(ZA), 12 * 60) == pytest.approx(3.0)  # a hex id works too
    assert fc.rate_at(A, 12 * 60) == pytest.approx(3.0)
    assert fc.rate(ZA, (24 + 12) * 60) == pytest.approx(3.0)  # the next day: same hour of day
    assert fc.zones == sorted([ZA, ZB]) and fc.orders == 8 and fc.days == 2


def test_smoothing_spreads_to_neighbours_and_adjacent_hours_and_keeps_the_total() -> None:
    fc = DemandForecast(spatial=0.3, temporal=0.2).fit(points(A, 12, 6), days=2)
    assert fc.rate(ZA, 12 * 60) == pytest.approx(3 * 0.7 * 0.8)
    assert fc.rate(ZA, 11 * 60) == pytest.approx(3 * 0.7 * 0.1)
    assert fc.rate(ZA, 13 * 60) == pytest.approx(3 * 0.7 * 0.1)
    neighbours = [z for z in h3.grid_disk(ZA, 1) if z != ZA]
    assert len(neighbours) == 6
    for z in neighbours:
        assert fc.rate(z, 12 * 60) == pytest.approx(3 * 0.3 / 6 * 0.8)
    assert fc.rate(h3.grid_ring(ZA, 2)[0], 12 * 60) == 0.0
    total = sum(fc.rate(z, h * 60) for z in fc.zones for h in range(24))
    assert total == pytest.approx(3.0)  # 6 orders over 2 days, wherever they are spread


def test_hours_wrap_around_midnight() -> None:
    fc = DemandForecast(spatial=0, temporal=0.5).fit(points(A, 0, 4), days=1)
    assert fc.rate(ZA, 0) == pytest.approx(2.0)
    assert fc.rate(ZA, 23 * 60) == pytest.approx(1.0)
    assert fc.rate(ZA, 60) == pytest.approx(1.0)


def test_expected_orders_integrate_the_hourly_rates() -> None:
    fc = DemandForecast(spatial=0, temporal=0).fit(points(A, 12, 6) + points(A, 13, 12), days=1)
    assert fc.expected(ZA, 11 * 60 + 30, 12 * 60 + 30) == pytest.approx(3.0)  # 30 min at 0/h + 30 min at 6/h
    assert fc.expected(ZA, 12 * 60 + 30, 13 * 60 + 15) == pytest.approx(3.0 + 3.0)  # 30 min at 6/h + 15 min at 12/h
    assert fc.expected(ZA, 700, 700) == 0.0
    assert fc.expected(ZB, 0, 24 * 60) == 0.0
    assert fc.expected_all(12 * 60, 14 * 60) == {ZA: pytest.approx(18.0)}


def test_top_zones_rank_by_rate_then_zone_id() -> None:
    C = Location(31.2000, 121.4300)
    ZC = zone_of(C, 7)
    fc = DemandForecast(spatial=0, temporal=0).fit(points(A, 12, 5) + points(B, 12, 5) + points(C, 12, 9), days=1)
    top = fc.top_zones(12 * 60 + 10, 3)
    assert [z for z, _ in top] == [ZC, *sorted([ZA, ZB])]
    assert [r for _, r in top] == [9.0, 5.0, 5.0]
    assert fc.top_zones(12 * 60, 1) == [(ZC, 9.0)]
    assert fc.top_zones(3 * 60, 5) == []  # nothing at 03:00


def test_to_dict_round_trips_through_json_and_pickle() -> None:
    fc = DemandForecast(res=8, spatial=0.2, temporal=0.4).fit(points(A, 12, 6) + points(B, 18, 3), days=3)
    data = json.loads(json.dumps(fc.to_dict()))
    back = DemandForecast.from_dict(data)
    assert back == fc
    assert back.rate(zone_of(A, 8), 12 * 60) == pytest.approx(fc.rate(zone_of(A, 8), 12 * 60))
    assert pickle.loads(pickle.dumps(fc)) == fc
    assert data["res"] == 8 and data["by"] == "store" and data["days"] == 3 and data["orders"] == 9


@pytest.mark.parametrize("change", [
    {"kind": "something else"},
    {"version": 99},
    {"rates": {"872830828ffffff": [1.0] * 23}},
    {"rates": {"872830828ffffff": [-1.0] * 24}},
])
def test_from_dict_refuses_what_is_not_a_forecast(change: dict) -> None:
    data = DemandForecast().fit(points(A, 12, 2)).to_dict() | change
    with pytest.raises(ValueError):
        DemandForecast.from_dict(data)


def test_fit_on_orders_by_store_or_by_dropoff() -> None:
    orders = [OrderSpec(f"o{i}", "s1", B, 12 * 60 + i, 12 * 60 + i + 10, asap_window(12 * 60 + i)) for i in range(4)]
    by_store = DemandForecast(spatial=0, temporal=0).fit(orders, store_locations={"s1": A})
    assert by_store.rate(ZA, 12 * 60) == 4.0 and by_store.rate(ZB, 12 * 60) == 0.0
    by_door = DemandForecast(spatial=0, temporal=0, by="dropoff").fit(orders)
    assert by_door.rate(ZB, 12 * 60) == 4.0
    with pytest.raises(ValueError):
        DemandForecast().fit(orders)  # by store, but no store locations
    with pytest.raises(ValueError):
        DemandForecast(by="customer")


def test_learning_from_other_seeds_of_a_scenario_and_from_the_day_itself() -> None:
    from simulator.forecasting import (
        forecast_from_days,
        forecast_from_instance,
        resolve_reposition,
    )
    from simulator.scenario import build_instance, demo_scenario_path, load_scenario

    scenario = load_scenario(demo_scenario_path())
    day0 = build_instance(scenario, 0)
    others = forecast_from_instance(day0, [1, 2])
    assert others == forecast_from_days([build_instance(scenario, 1), build_instance(scenario, 2)])
    assert others.days == 2 and others.orders == sum(len(build_instance(scenario, s).orders) for s in (1, 2))
    itself = forecast_from_instance(day0)
    assert itself.days == 1 and itself.orders == len(day0.orders)
    # busiest zone at lunch: a zone with stores
    store_zones = {zone_of(s.location, 7) for s in day0.stores}
    assert others.top_zones(12 * 60, 1)[0][0] in store_zones

    params, note = resolve_reposition(day0, {"reposition": {"forecast": True, "seeds": [1, 2], "max_km": 2.0}, "release_lead": 15})
    assert params["release_lead"] == 15 and params["reposition"]["max_km"] == 2.0
    assert DemandForecast.from_dict(params["reposition"]["forecast"]) == others
    assert note is not None and note["in_sample"] is False and note["learned_from"] == "seeds [1, 2]"
    untouched, none = resolve_reposition(day0, {"release_lead": 15})
    assert untouched == {"release_lead": 15} and none is None
