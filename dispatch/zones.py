"""H3 zones: service areas, the zone of a point, the region that shards actors, candidate rings.

Cells are H3 int ids (``h3.api.basic_int``, ~2 M lookups/s). Zones are fine cells (default
resolution 8, 531 m edge) used for candidate search and statistics; regions are coarse parents
(default resolution 5, 8.5 km edge) and are the unit of sharding: one region, one shard.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import h3.api.basic_int as h3

from dispatch.geo import Location

ZONE_RES = 8
REGION_RES = 5


def zone_of(loc: Location, res: int = ZONE_RES) -> int:
    """The H3 cell (at ``res``) that holds the point."""
    return h3.latlng_to_cell(loc.lat, loc.lng, res)


def region_of(loc: Location, res: int = REGION_RES) -> int:
    """The region cell that shards the point's entities."""
    return h3.latlng_to_cell(loc.lat, loc.lng, res)


def parent(cell: int, res: int) -> int:
    return h3.cell_to_parent(cell, res)


@lru_cache(maxsize=65536)
def ring(cell: int, k: int) -> tuple[int, ...]:
    """Cells exactly ``k`` steps away (the hollow ring); ``k=0`` is the cell itself.

    Cached: dispatch asks for the same rings around the same stores every cycle.
    """
    if k == 0:
        return (cell,)
    try:
        return tuple(h3.grid_ring(cell, k))
    except Exception:  # pentagon distortion: fall back to the disk difference
        inner = set(h3.grid_disk(cell, k - 1))
        return tuple(c for c in h3.grid_disk(cell, k) if c not in inner)


def rings(cell: int, max_k: int) -> Iterator[tuple[int, tuple[int, ...]]]:
    """Rings 0..max_k around a cell, nearest first: the candidate search order."""
    for k in range(max_k + 1):
        yield k, ring(cell, k)


def cell_str(cell: int) -> str:
    return h3.int_to_str(cell)


def cell_center(cell: int) -> Location:
    lat, lng = h3.cell_to_latlng(cell)
    return Location(lat, lng)


def cell_boundary(cell: int) -> list[tuple[float, float]]:
    return list(h3.cell_to_boundary(cell))


@dataclass(frozen=True)
class ServiceArea:
    """The cells a service covers, built from a GeoJSON polygon (or multipolygon)."""

    cells: frozenset[int]
    res: int

    @classmethod
    def from_geojson(cls, geojson: dict[str, Any], res: int = ZONE_RES) -> "ServiceArea":
        """Accepts a Feature, a FeatureCollection, or a bare (Multi)Polygon geometry."""
        cells: set[int] = set()
        for geometry in _geometries(geojson):
            shape = h3.geo_to_h3shape(geometry)
            cells.update(h3.h3shape_to_cells(shape, res))
        if not cells:
            raise ValueError(f"the service area polygon covers no H3 cell at resolution {res}")
        return cls(frozenset(cells), res)

    def contains(self, loc: Location) -> bool:
        return h3.latlng_to_cell(loc.lat, loc.lng, self.res) in self.cells

    def regions(self, res: int = REGION_RES) -> set[int]:
        return {h3.cell_to_parent(c, res) for c in self.cells}

    def __len__(self) -> int:
        return len(self.cells)


def _geometries(obj: dict[str, Any]) -> Iterable[dict[str, Any]]:
    kind = obj.get("type")
    if kind == "FeatureCollection":
        for feature in obj.get("features", []):
            yield from _geometries(feature)
    elif kind == "Feature":
        yield from _geometries(obj["geometry"])
    elif kind in ("Polygon", "MultiPolygon"):
        yield obj
    else:
        raise ValueError(f"expected a GeoJSON Polygon, MultiPolygon, Feature or FeatureCollection, got {kind!r}")


def home_region(loc: Location, regions: Iterable[int], res: int = REGION_RES) -> int:
    """The region that should host an entity at ``loc``: its own if served, else the nearest served one.

    A courier standing where no store is must still belong to a shard that can dispatch it.
    """
    own = h3.latlng_to_cell(loc.lat, loc.lng, res)
    served = list(regions)
    if not served or own in served:
        return own
    from dispatch.geo import haversine_m

    return min(served, key=lambda r: (haversine_m(loc, cell_center(r)), r))


@lru_cache(maxsize=1 << 20)
def grid_distance(a: int, b: int) -> int:
    """Ring distance between two cells of one resolution (cached; very far apart: a large number)."""
    try:
        return h3.grid_distance(a, b)
    except Exception:  # cells too far apart or across a pentagon: never a candidate
        return 1 << 30
