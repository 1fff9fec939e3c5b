"""Travel time behind one interface.

A ``TravelModel`` answers minutes from a to b at a time of day. Two rules ship now:
``HaversineTravel`` (great-circle x detour factor / speed, with an hour-of-day speed profile) for
synthetic cities and the live service, and ``MdrpTravel``, Grubhub's rule
``ceil(euclidean metres / metres per minute)``, which its evaluator uses to check solutions.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from dispatch.geo import EARTH_RADIUS_M, Location, euclidean_m, haversine_m


@runtime_checkable
class TravelModel(Protocol):
    def minutes(self, a: Location, b: Location, at: float = 0.0) -> float:
        """Travel minutes from ``a`` to ``b`` leaving at minute ``at`` of the day."""
        ...

    def matrix(self, points: Sequence[Location], at: float = 0.0) -> np.ndarray:
        """Minutes between every pair of ``points`` (row: from, column: to), vectorised for solvers."""
        ...


def _haversine_matrix_m(points: Sequence[Location]) -> np.ndarray:
    lat = np.radians(np.fromiter((p.lat for p in points), float, len(points)))
    lng = np.radians(np.fromiter((p.lng for p in points), float, len(points)))
    dlat = lat[None, :] - lat[:, None]
    dlng = lng[None, :] - lng[:, None]
    h = np.sin(dlat / 2) ** 2 + np.cos(lat)[:, None] * np.cos(lat)[None, :] * np.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))


@dataclass(frozen=True)
class HaversineTravel:
    """Great-circle metres x ``detour`` at ``speed_kmh`` x the profile factor of the hour.

    ``hourly_factor`` holds 24 multipliers of the speed (1.0 = free flow; 0.7 at rush hour means
    30 % slower). Times are minutes since midnight of the simulated day.
    """

    speed_kmh: float = 18.0
    detour: float = 1.3
    hourly_factor: Sequence[float] = field(default_factory=lambda: (1.0,) * 24)

    def __post_init__(self) -> None:
        if self.speed_kmh <= 0 or self.detour < 1.0:
            raise ValueError("speed must be positive and the detour factor at least 1")
        if len(self.hourly_factor) != 24 or min(self.hourly_factor) <= 0:
            raise ValueError("hourly_factor needs 24 positive multipliers")

    def minutes(self, a: Location, b: Location, at: float = 0.0) -> float:
        hour = int(at // 60) % 24
        metres_per_minute = self.speed_kmh * 1000.0 / 60.0 * self.hourly_factor[hour]
        return haversine_m(a, b) * self.detour / metres_per_minute

    def matrix(self, points: Sequence[Location], at: float = 0.0) -> np.ndarray:
        metres_per_minute = self.speed_kmh * 1000.0 / 60.0 * self.hourly_factor[int(at // 60) % 24]
        return _haversine_matrix_m(points) * self.detour / metres_per_minute


@dataclass(frozen=True)
class MdrpTravel:
    """The MDRP rule: ``ceil(euclid_m / metres_per_minute)``, whole minutes, no time of day."""

    metres_per_minute: float

    def __post_init__(self) -> None:
        if self.metres_per_minute <= 0:
            raise ValueError("metres_per_minute must be positive")

    def minutes(self, a: Location, b: Location, at: float = 0.0) -> float:
        return float(math.ceil(euclidean_m(a, b) / self.metres_per_minute))

    def matrix(self, points: Sequence[Location], at: float = 0.0) -> np.ndarray:
        """Same IEEE operations as ``minutes`` (sqrt of the sum of squares, divide, ceil), so the same values."""
        if any(p.x is None or p.y is None for p in points):
            raise ValueError("the MDRP rule needs locations with x/y metres")
        x = np.fromiter((p.x for p in points), float, len(points))  # type: ignore[misc]
        y = np.fromiter((p.y for p in points), float, len(points))  # type: ignore[misc]
        dist = np.sqrt((x[None, :] - x[:, None]) ** 2 + (y[None, :] - y[:, None]) ** 2)
        return np.ceil(dist / self.metres_per_minute)
