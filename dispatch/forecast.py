"""A demand forecast per H3 zone and hour of day, learned from past days' orders.

``DemandForecast.fit`` counts orders by (zone, hour of placement) — the zone of the store (where a
courier must go to serve the order, the default) or of the drop-off — and turns counts into an
hourly rate (orders per hour per day) smoothed two ways, both mass-preserving:

- across space: a zone keeps ``1 - spatial`` of its count and gets ``spatial / 6`` of each of its
  six ring-1 neighbours' (so a zone next to a busy one is not forecast empty);
- across time: an hour keeps ``1 - temporal`` and gets ``temporal / 2`` of each adjacent hour's
  (hours wrap around midnight).

The rates are per day observed (``days`` given to ``fit``). ``expected(zone, start, end)`` is the
number of orders to expect over a span of minutes (piecewise-constant hourly rates, integrated
exactly). ``to_dict``/``from_dict`` give a JSON-ready form, so a forecast travels in a policy's
picklable parameters (``dispatch.reposition``). Plain Python and numpy; no solver, no I/O.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import h3.api.basic_int as h3
import numpy as np

from dispatch.geo import Location
from dispatch.zones import ring, zone_of

HOURS = 24
KIND = "demand_forecast"
VERSION = 1


def _zone_int(zone: int | str) -> int:
    return h3.str_to_int(zone) if isinstance(zone, str) else int(zone)


class DemandForecast:
    """See the module docstring."""

    def __init__(self, res: int = 7, spatial: float = 0.3, temporal: float = 0.3, by: str = "store") -> None:
        if not 0 <= res <= 15:
            raise ValueError(f"H3 resolution must be 0-15, not {res}")
        if not (0 <= spatial <= 1 and 0 <= temporal <= 1):
            raise ValueError("spatial and temporal smoothing shares must be within [0, 1]")
        if by not in ("store", "dropoff"):
            raise ValueError(f"by must be 'store' or 'dropoff', not {by!r}")
        self.res = res
        self.spatial = spatial
        self.temporal = temporal
        self.by = by
        self.days = 0.0
        self.orders = 0
        self._rates: dict[int, np.ndarray] = {}

    # -- learning ----------------------------------------------------------------------------
    def fit(self, orders: Iterable[Any], days: float = 1.0, store_locations: Mapping[str, Location] | None = None) -> DemandForecast:
        """Learn from ``orders`` observed over ``days`` days (replaces what was learned before).

        Each item is a ``(minute, Location)`` pair, a ``(minute, lat, lng)`` triple, or an order
        (``OrderSpec``/``Order``: ``placed_at`` with ``store_id`` — looked up in ``store_locations`` —
        when ``by="store"``, ``dropoff`` when ``by="dropoff"``).
        """
        if days <= 0:
            raise ValueError("days must be positive")
        counts: dict[int, np.ndarray] = {}
        n = 0
        for minute, loc in self._points(orders, store_locations):
            zone = zone_of(loc, self.res)
            row = counts.get(zone)
            if row is None:
                row = counts[zone] = np.zeros(HOURS)
            row[int(minute // 60) % HOURS] += 1.0
            n += 1
        self._rates = self._smooth(counts, days)
        self.days = float(days)
        self.orders = n
        return self

    def _points(self, orders: Iterable[Any], store_locations: Mapping[str, Location] | None) -> Iterable[tuple[float, Location]]:
        for item in orders:
            if isinstance(item, tuple):
                if len(item) == 2:
                    minute, loc = item
                elif len(item) == 3:
                    minute, loc = item[0], Location(float(item[1]), float(item[2]))
                else:
                    raise ValueError(f"an order point is (minute, Location) or (minute, lat, lng), not {item!r}")
                yield float(minute), loc
            elif self.by == "store":
                if store_locations is None:
                    raise ValueError("a forecast by store needs store_locations to place orders")
                yield float(item.placed_at), store_locations[item.store_id]
            else:
                yield float(item.placed_at), item.dropoff

    def _smooth(self, counts: dict[int, np.ndarray], days: float) -> dict[int, np.ndarray]:
        spread: dict[int, np.ndarray] = {}
        for zone in sorted(counts):
            row = counts[zone]
            spread[zone] = spread.get(zone, np.zeros(HOURS)) + (1.0 - self.spatial) * row
            if self.spatial > 0:
                near = [n for n in ring(zone, 1) if n != zone]
                for n in near:
                    spread[n] = spread.get(n, np.zeros(HOURS)) + (self.spatial / len(near)) * row
        out: dict[int, np.ndarray] = {}
        t = self.temporal
        for zone in sorted(spread):
            row = spread[zone]
            smooth = (1.0 - t) * row + (t / 2) * (np.roll(row, 1) + np.roll(row, -1))
            out[zone] = smooth / days
        return out

    # -- queries -----------------------------------------------------------------------------
    @property
    def zones(self) -> list[int]:
        return sorted(self._rates)

    def rate(self, zone: int | str, minute: float) -> float:
        """Forecast orders per hour in ``zone`` during the hour of day holding ``minute``."""
        row = self._rates.get(_zone_int(zone))
        return 0.0 if row is None else float(row[int(minute // 60) % HOURS])

    def rate_at(self, loc: Location, minute: float) -> float:
        return self.rate(zone_of(loc, self.res), minute)

    def total_rate(self, minute: float) -> float:
        """Forecast orders per hour over every zone."""
        h = int(minute // 60) % HOURS
        return float(sum(row[h] for row in self._rates.values()))

    @staticmethod
    def _weights(start: float, end: float) -> np.ndarray:
        """Minutes of [start, end) falling in each hour of day (spans over a day wrap around)."""
        w = np.zeros(HOURS)
        if end <= start:
            return w
        t = start
        while t < end:
            nxt = min(end, (math.floor(t / 60) + 1) * 60.0)
            w[int(t // 60) % HOURS] += nxt - t
            t = nxt
        return w

    def expected(self, zone: int | str, start: float, end: float) -> float:
        """Orders to expect in ``zone`` from minute ``start`` to ``end``."""
        row = self._rates.get(_zone_int(zone))
        return 0.0 if row is None else float(row @ self._weights(start, end) / 60.0)

    def expected_all(self, start: float, end: float) -> dict[int, float]:
        """Orders to expect in every zone with a forecast, from ``start`` to ``end``."""
        w = self._weights(start, end) / 60.0
        return {zone: float(self._rates[zone] @ w) for zone in sorted(self._rates)}

    def top_zones(self, minute: float, k: int = 10) -> list[tuple[int, float]]:
        """The ``k`` zones with the highest rate in the hour holding ``minute`` (ties: lower zone id first)."""
        h = int(minute // 60) % HOURS
        ranked = sorted(((zone, float(row[h])) for zone, row in self._rates.items() if row[h] > 0), key=lambda zr: (-zr[1], zr[0]))
        return ranked[:k]

    # -- persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: rates per zone (hex id) as 24 hourly values."""
        return {
            "kind": KIND, "version": VERSION, "res": self.res, "spatial": self.spatial, "temporal": self.temporal,
            "by": self.by, "days": self.days, "orders": self.orders,
            "rates": {h3.int_to_str(z): [round(float(v), 6) for v in self._rates[z]] for z in sorted(self._rates)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DemandForecast:
        if data.get("kind") != KIND:
            raise ValueError(f"not a demand forecast (kind {data.get('kind')!r})")
        if data.get("version") != VERSION:
            raise ValueError(f"demand forecast version {data.get('version')!r} is not {VERSION}")
        fc = cls(int(data["res"]), float(data["spatial"]), float(data["temporal"]), str(data["by"]))
        fc.days = float(data["days"])
        fc.orders = int(data["orders"])
        rates: dict[int, np.ndarray] = {}
        for zone, values in data["rates"].items():
            row = np.asarray(values, dtype=float)
            if row.shape != (HOURS,) or not np.all(np.isfinite(row)) or (row < 0).any():
                raise ValueError(f"zone {zone}: expected {HOURS} non-negative hourly rates")
            z = _zone_int(zone)
            if h3.get_resolution(z) != fc.res:
                raise ValueError(f"zone {zone} is not at resolution {fc.res}")
            rates[z] = row
        fc._rates = rates
        return fc

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DemandForecast):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"DemandForecast(res={self.res}, zones={len(self._rates)}, orders={self.orders}, days={self.days:g}, by={self.by!r})"
