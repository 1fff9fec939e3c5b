"""H3 zones, regions, rings, service areas and the home region of a point."""
from __future__ import annotations

import h3.api.basic_int as h3
import pytest

from dispatch.geo import Location
from dispatch.zones import (
    REGION_RES,
    ZONE_RES,
    ServiceArea,
    cell_center,
    grid_distance,
    home_region,
    parent,
    region_of,
    ring,
    rings,
    zone_of,
)

SHANGHAI = Location(31.23, 121.47)


def square(lat: float, lng: float, half_deg: float) -> dict:
    """A GeoJSON Polygon (lng, lat order, closed ring) centred on a point."""
    ring_ = [
        [lng - half_deg, lat - half_deg], [lng + half_deg, lat - half_deg],
        [lng + half_deg, lat + half_deg], [lng - half_deg, lat + half_deg],
        [lng - half_deg, lat - half_deg],
    ]
    return {"type": "Polygon", "coordinates": [ring_]}


def test_zone_and_region_resolutions() -> None:
    assert (ZONE_RES, REGION_RES) == (8, 5)
    assert h3.get_resolution(zone_of(SHANGHAI)) == 8
    assert h3.get_resolution(region_of(SHANGHAI)) == 5
    assert h3.get_resolution(zone_of(SHANGHAI, 7)) == 7
    assert h3.get_resolution(region_of(SHANGHAI, 4)) == 4


def test_zone_holds_the_point() -> None:
    zone = zone_of(SHANGHAI)
    centre = cell_center(zone)
    assert zone_of(centre) == zone
    assert abs(centre.lat - SHANGHAI.lat) < 0.01 and abs(centre.lng - SHANGHAI.lng) < 0.01


def test_region_is_the_parent_of_the_zone() -> None:
    zone = zone_of(SHANGHAI)
    assert parent(zone, REGION_RES) == region_of(SHANGHAI)
    assert h3.cell_to_parent(zone_of(SHANGHAI, 7), 4) == region_of(SHANGHAI, 4)


@pytest.mark.parametrize(("k", "size"), [(0, 1), (1, 6), (2, 12), (3, 18)])
def test_ring_sizes_and_distances(k: int, size: int) -> None:
    cell = zone_of(SHANGHAI)
    assert not h3.is_pentagon(cell)
    cells = ring(cell, k)
    assert len(cells) == size and len(set(cells)) == size
    assert all(grid_distance(cell, c) == k for c in cells)
    assert all(h3.get_resolution(c) == ZONE_RES for c in cells)


def test_ring_zero_is_the_cell_itself() -> None:
    cell = zone_of(SHANGHAI)
    assert ring(cell, 0) == (cell,)
    assert grid_distance(cell, cell) == 0


def test_rings_come_nearest_first_and_do_not_overlap() -> None:
    cell = zone_of(SHANGHAI)
    out = list(rings(cell, 3))
    assert [k for k, _ in out] == [0, 1, 2, 3]
    seen = [c for _, cells in out for c in cells]
    assert len(seen) == len(set(seen)) == 1 + 6 + 12 + 18
    assert set(seen) == set(h3.grid_disk(cell, 3))


def test_grid_distance_of_incomparable_cells_is_huge() -> None:
    far = zone_of(Location(-33.86, 151.21))  # Sydney: no grid path from Shanghai
    assert grid_distance(zone_of(SHANGHAI), far) >= 1 << 20


def test_service_area_from_a_polygon() -> None:
    area = ServiceArea.from_geojson(square(31.23, 121.47, 0.03))
    assert area.res == ZONE_RES
    assert 20 < len(area) < 100  # ~5.7 x 6.7 km at ~0.74 km2 a cell
    assert area.contains(SHANGHAI)
    assert area.contains(Location(31.25, 121.49))
    assert not area.contains(Location(31.30, 121.47))
    assert not area.contains(Location(31.23, 121.60))
    assert area.regions() == {parent(c, REGION_RES) for c in area.cells}
    assert region_of(SHANGHAI) in area.regions()


def test_service_area_from_a_feature_matches_the_polygon() -> None:
    polygon = square(31.23, 121.47, 0.03)
    feature = {"type": "Feature", "properties": {"name": "centre"}, "geometry": polygon}
    assert ServiceArea.from_geojson(feature) == ServiceArea.from_geojson(polygon)


def test_service_area_from_a_feature_collection_is_the_union() -> None:
    a, b = square(31.23, 121.47, 0.02), square(31.23, 121.70, 0.02)
    collection = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {}, "geometry": g} for g in (a, b)],
    }
    area = ServiceArea.from_geojson(collection)
    cells_a, cells_b = ServiceArea.from_geojson(a).cells, ServiceArea.from_geojson(b).cells
    assert not cells_a & cells_b
    assert area.cells == cells_a | cells_b
    assert area.contains(SHANGHAI) and area.contains(Location(31.23, 121.70))
    assert not area.contains(Location(31.23, 121.585))  # between the two squares


def test_service_area_at_another_resolution() -> None:
    area = ServiceArea.from_geojson(square(31.23, 121.47, 0.03), res=7)
    assert area.res == 7 and all(h3.get_resolution(c) == 7 for c in area.cells)
    assert area.contains(SHANGHAI)


@pytest.mark.parametrize(
    "geojson",
    [
        {"type": "Point", "coordinates": [121.47, 31.23]},
        {"type": "LineString", "coordinates": [[121.47, 31.23], [121.48, 31.24]]},
        {"coordinates": []},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [121.47, 31.23]}},
        {"type": "FeatureCollection", "features": []},
        square(31.23, 121.47, 0.0001),  # ~20 m: holds no cell centre at resolution 8
    ],
    ids=["point", "linestring", "no-type", "point-feature", "empty-collection", "too-small"],
)
def test_bad_geojson_raises(geojson: dict) -> None:
    with pytest.raises(ValueError):
        ServiceArea.from_geojson(geojson)


def test_home_region_is_its_own_region_when_served() -> None:
    own = region_of(SHANGHAI)
    other = region_of(Location(31.23, 122.0))
    assert own != other
    assert home_region(SHANGHAI, {own, other}) == own
    assert home_region(SHANGHAI, []) == own


def test_home_region_is_the_nearest_served_one_otherwise() -> None:
    here = Location(31.23, 121.00)
    near = region_of(Location(31.23, 121.50))  # ~48 km east
    far = region_of(Location(31.23, 122.50))  # ~143 km east
    assert region_of(here) not in {near, far}
    assert home_region(here, [far, near]) == near
    assert home_region(here, [near, far]) == near
    assert home_region(here, [far]) == far


def test_home_region_at_another_resolution() -> None:
    here = Location(31.23, 121.00)
    near4 = region_of(Location(31.23, 121.80), 4)
    assert region_of(here, 4) != near4
    assert home_region(here, [near4], res=4) == near4
    assert home_region(here, [region_of(here, 4)], res=4) == region_of(here, 4)
