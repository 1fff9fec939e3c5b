"""What a dispatcher sets per delivery zone (the H3 resolution-7 cell of a door, the zone slots are counted in):
new orders to it paused, and its slot capacity. One Redis hash, ``ops:zones``, read with the store in one round trip
when an order is planned (``api.orders.plan_delivery``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import h3

ZONES_KEY = "ops:zones"  # fields paused:<zone hex> -> reason, capacity:<zone hex> -> scheduled orders per slot
ZONE_RES = 7  # = api.orders.SLOT_ZONE_RES


@dataclass(frozen=True, slots=True)
class ZoneControl:
    zone: str
    paused: str | None  # the dispatcher's reason, or None
    slot_capacity: int | None  # None: the service's SLOT_CAPACITY


def fields(zone: str) -> tuple[str, str]:
    return f"paused:{zone}", f"capacity:{zone}"


def control_of(zone: str, paused: bytes | str | None, capacity: bytes | str | None) -> ZoneControl:
    text = paused.decode() if isinstance(paused, bytes) else paused
    cap = capacity.decode() if isinstance(capacity, bytes) else capacity
    return ZoneControl(zone, text or None, int(cap) if cap else None)


def check_zone(cell: str) -> str:
    """The zone id as given, if it is an H3 cell of resolution 7; ValueError (with the reason) otherwise."""
    try:
        ok = h3.is_valid_cell(cell) and h3.get_resolution(cell) == ZONE_RES
    except (ValueError, TypeError, h3.H3BaseException):
        ok = False
    if not ok:
        raise ValueError(f"{cell!r} is not an H3 cell of resolution {ZONE_RES} (a delivery zone)")
    return cell


async def all_controls(r: Any) -> list[ZoneControl]:
    raw = {k.decode(): v for k, v in (await r.hgetall(ZONES_KEY)).items()}
    zones = sorted({k.split(":", 1)[1] for k in raw})
    return [control_of(z, raw.get(fields(z)[0]), raw.get(fields(z)[1])) for z in zones]
