"""Delivery modes and the time window each implies.

- ``asap``: deliver as soon as possible; the promise is the quoted ETA (placement + promise
  minutes), the hard limit placement + max minutes (MDRP: 40 and 90).
- ``scheduled``: a booked slot [start, end); arriving early is not allowed, the promise is the
  slot end, lateness counts after it.
- ``timed``: an exact time with a tolerance: [at - tol, at + tol], promise at + tol.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dispatch.errors import InvalidInput


class DeliveryMode(StrEnum):
    ASAP = "asap"
    SCHEDULED = "scheduled"
    TIMED = "timed"


@dataclass(frozen=True, slots=True)
class DeliveryWindow:
    """When the drop-off may happen: not before ``earliest``, promised by ``promise``, never after ``latest``."""

    earliest: float
    promise: float
    latest: float

    def __post_init__(self) -> None:
        if not (self.earliest <= self.promise <= self.latest):
            raise InvalidInput(f"window must satisfy earliest <= promise <= latest, got {self.earliest}, {self.promise}, {self.latest}")

    def lateness(self, dropoff: float) -> float:
        """Minutes past the promise (0 when on time)."""
        return max(0.0, dropoff - self.promise)

    def contains(self, dropoff: float) -> bool:
        return self.earliest <= dropoff <= self.latest


def asap_window(placed_at: float, promise_minutes: float = 40.0, max_minutes: float = 90.0) -> DeliveryWindow:
    if promise_minutes <= 0 or max_minutes < promise_minutes:
        raise InvalidInput("asap needs 0 < promise minutes <= max minutes")
    return DeliveryWindow(placed_at, placed_at + promise_minutes, placed_at + max_minutes)


def scheduled_window(placed_at: float, slot_start: float, slot_end: float, grace_minutes: float = 30.0) -> DeliveryWindow:
    if slot_end <= slot_start:
        raise InvalidInput(f"a slot must end after it starts, got [{slot_start}, {slot_end})")
    if slot_start < placed_at:
        raise InvalidInput(f"a slot starting at {slot_start} cannot be booked at {placed_at}")
    return DeliveryWindow(slot_start, slot_end, slot_end + grace_minutes)


def timed_window(placed_at: float, at: float, tolerance_minutes: float = 5.0, grace_minutes: float = 30.0) -> DeliveryWindow:
    if tolerance_minutes < 0:
        raise InvalidInput("tolerance must be non-negative")
    if at - tolerance_minutes < placed_at:
        raise InvalidInput(f"an exact time of {at} cannot be booked at {placed_at}")
    return DeliveryWindow(at - tolerance_minutes, at + tolerance_minutes, at + tolerance_minutes + grace_minutes)
