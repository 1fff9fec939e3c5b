"""Flat records of a finished run: what KPIs and the MDRP solution files are computed from."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AssignmentRecord:
    """One bundle: orders picked up together at one store, dropped off in ``order_ids`` order."""

    assignment_time: float
    pickup_time: float
    courier_id: str
    store_id: str
    order_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OrderRecord:
    id: str
    store_id: str
    mode: str
    placed_at: float
    ready_at: float
    promise: float
    latest: float
    lower_bound: float  # click-to-door a courier already waiting at the store would reach
    status: str
    courier_id: str | None
    assigned_at: float | None
    picked_up_at: float | None
    delivered_at: float | None

    @property
    def click_to_door(self) -> float | None:
        return None if self.delivered_at is None else self.delivered_at - self.placed_at


@dataclass(frozen=True, slots=True)
class MoveRecord:
    departure: float
    origin: str  # the courier's own id stands for its on-location
    destination: str
    arrival: float
    reposition: bool = False  # a move without orders to an H3 cell centre (its destination is "h3:<hex>")


@dataclass(frozen=True, slots=True)
class CourierRecord:
    id: str
    on_time: float
    off_time: float
    moves: tuple[MoveRecord, ...]
    driving: float  # minutes travelling
    serving: float  # minutes of pickup and drop-off service
