"""Travel models on hand-computed cases, and the planar frame's accuracy."""
from __future__ import annotations

import math

import pytest

from dispatch.geo import Location, PlanarFrame, euclidean_m, haversine_m
from dispatch.travel import HaversineTravel, MdrpTravel, TravelModel

FRAME = PlanarFrame()
ONE_DEGREE_M = 111_195.08  # 6,371,008.8 m x pi / 180


@pytest.mark.parametrize(
    ("b", "mpm", "minutes"),
    [
        ((3000, 4000), 320, 16.0),  # 5000 m / 320 = 15.625 -> 16
        ((-3000, -4000), 320, 16.0),
        ((3840, 5120), 320, 20.0),  # 6400 m / 320 = 20 exactly: no extra minute
        ((0, 6400), 320, 20.0),
        ((0, 6401), 320, 21.0),  # one metre more: one more minute
        ((300, 400), 100, 5.0),  # 500 m / 100
        ((300, 400), 99, 6.0),  # 500 / 99 = 5.05 -> 6
        ((1, 0), 320, 1.0),  # any movement costs a minute
        ((0, 0), 320, 0.0),
    ],
)
def test_mdrp_travel_is_ceil_of_euclid_over_speed(b: tuple[float, float], mpm: float, minutes: float) -> None:
    travel = MdrpTravel(mpm)
    got = travel.minutes(FRAME.location(0, 0), FRAME.location(*b))
    assert got == minutes and isinstance(got, float)


def test_mdrp_travel_ignores_time_of_day_and_is_symmetric() -> None:
    travel = MdrpTravel(320)
    a, b = FRAME.location(1000, 2000), FRAME.location(4000, 6000)
    assert travel.minutes(a, b, 0) == travel.minutes(a, b, 8 * 60) == travel.minutes(b, a, 17 * 60) == 16.0


def test_mdrp_travel_needs_planar_coordinates() -> None:
    with pytest.raises(ValueError, match="x/y"):
        MdrpTravel(320).minutes(Location(40, -86), FRAME.location(100, 0))


@pytest.mark.parametrize("mpm", [0, -1])
def test_mdrp_travel_rejects_non_positive_speed(mpm: float) -> None:
    with pytest.raises(ValueError):
        MdrpTravel(mpm)


def test_both_models_satisfy_the_protocol() -> None:
    assert isinstance(MdrpTravel(320), TravelModel) and isinstance(HaversineTravel(), TravelModel)


def test_haversine_of_one_degree_of_latitude() -> None:
    assert haversine_m(Location(0, 0), Location(1, 0)) == pytest.approx(ONE_DEGREE_M, abs=1.0)
    assert haversine_m(Location(40, -86), Location(41, -86)) == pytest.approx(ONE_DEGREE_M, abs=1.0)
    # along a parallel a degree shrinks with cos(latitude)
    assert haversine_m(Location(60, 10), Location(60, 11)) == pytest.approx(ONE_DEGREE_M / 2, rel=1e-4)


def test_haversine_travel_on_one_degree_with_detour_and_speed() -> None:
    a, b = Location(0, 0), Location(1, 0)
    default = HaversineTravel()  # 18 km/h = 300 m/min, detour 1.3
    assert default.minutes(a, b) == pytest.approx(ONE_DEGREE_M * 1.3 / 300, rel=1e-6)  # ~481.8 min
    fast = HaversineTravel(speed_kmh=36, detour=1.0)  # 600 m/min
    assert fast.minutes(a, b) == pytest.approx(ONE_DEGREE_M / 600, rel=1e-6)  # ~185.3 min
    assert HaversineTravel(speed_kmh=36, detour=1.3).minutes(a, b) == pytest.approx(default.minutes(a, b) / 2, rel=1e-9)
    assert default.minutes(a, a) == 0.0


def test_hourly_profile_slows_the_rush_hour() -> None:
    profile = [1.0] * 24
    profile[8] = 0.5  # 08:00-08:59 at half speed
    travel = HaversineTravel(speed_kmh=18, detour=1.0, hourly_factor=tuple(profile))
    a, b = FRAME.location(0, 0), FRAME.location(3000, 0)  # 3 km at 300 m/min = 10 min
    assert travel.minutes(a, b, at=7 * 60 + 59) == pytest.approx(10.0, rel=1e-4)
    assert travel.minutes(a, b, at=8 * 60) == pytest.approx(20.0, rel=1e-4)
    assert travel.minutes(a, b, at=8 * 60 + 59.9) == pytest.approx(20.0, rel=1e-4)
    assert travel.minutes(a, b, at=9 * 60) == pytest.approx(10.0, rel=1e-4)
    assert travel.minutes(a, b, at=24 * 60 + 8 * 60 + 30) == pytest.approx(20.0, rel=1e-4)  # next day


@pytest.mark.parametrize(
    "kwargs",
    [
        {"speed_kmh": 0},
        {"speed_kmh": -5},
        {"detour": 0.9},
        {"hourly_factor": (1.0,) * 23},
        {"hourly_factor": (1.0,) * 23 + (0.0,)},
    ],
)
def test_haversine_travel_rejects_bad_parameters(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        HaversineTravel(**kwargs)


def test_planar_frame_places_the_origin_and_keeps_coordinates() -> None:
    origin = FRAME.location(0, 0)
    assert (origin.lat, origin.lng, origin.x, origin.y) == (40.0, -86.0, 0.0, 0.0)
    p = FRAME.location(1000, -2000)
    assert (p.x, p.y) == (1000.0, -2000.0)
    assert p.lat < 40.0 and p.lng > -86.0  # south and east of the origin


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((0, 0), (20_000, 0)),
        ((0, 0), (0, 20_000)),
        ((0, 0), (12_000, 16_000)),
        ((-10_000, -10_000), (4_142, 4_142)),
        ((15_000, -5_000), (-5_000, 0)),
        ((0, 0), (500, 0)),
    ],
)
def test_planar_frame_keeps_distances_within_a_tenth_of_a_percent(a, b) -> None:
    for frame in (FRAME, PlanarFrame(lat0=31.23, lng0=121.47), PlanarFrame(lat0=-33.9, lng0=151.2)):
        pa, pb = frame.location(*a), frame.location(*b)
        planar = euclidean_m(pa, pb)
        assert planar == pytest.approx(math.dist(a, b))
        assert abs(haversine_m(pa, pb) - planar) / planar < 1e-3


def test_location_rejects_out_of_range_coordinates() -> None:
    with pytest.raises(ValueError):
        Location(91, 0)
    with pytest.raises(ValueError):
        Location(0, 181)
