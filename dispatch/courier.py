"""The courier state machine and the route it executes.

States: off_shift -> idle -> to_store -> at_store -> delivering -> (to_store | idle | off_shift).
A courier takes no new pickup after its shift ends, but what is on board is delivered. A route is
a list of timed ``Stop``s computed when it is assigned (``dispatch.routes``); the region shard
realises its steps as time passes, so every event carries its exact time whatever the tick.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dispatch.errors import IllegalTransition, InvalidInput
from dispatch.events import Event
from dispatch.geo import Location


class CourierStatus(StrEnum):
    OFF_SHIFT = "off_shift"
    IDLE = "idle"
    TO_STORE = "to_store"
    AT_STORE = "at_store"
    DELIVERING = "delivering"


C = CourierStatus
_COURIER_MOVES: dict[CourierStatus, frozenset[CourierStatus]] = {
    C.OFF_SHIFT: frozenset({C.IDLE}),
    C.IDLE: frozenset({C.TO_STORE, C.OFF_SHIFT}),
    C.TO_STORE: frozenset({C.AT_STORE}),
    C.AT_STORE: frozenset({C.DELIVERING, C.TO_STORE}),
    C.DELIVERING: frozenset({C.TO_STORE, C.IDLE, C.OFF_SHIFT}),
}


@dataclass(frozen=True, slots=True)
class Stop:
    """A timed stop: arrive, serve at ``at`` (the pickup/drop-off instant), depart."""

    kind: str  # "pickup" | "dropoff" | "reposition"
    node: str  # store id for a pickup, order id for a drop-off (MDRP's location ids), "h3:<cell hex>" for a reposition
    location: Location
    order_ids: tuple[str, ...]
    arrive: float
    at: float
    depart: float


@dataclass(slots=True)
class Courier:
    id: str
    location: Location
    on_time: float
    off_time: float
    capacity: int = 4
    status: CourierStatus = CourierStatus.OFF_SHIFT
    node: str = ""  # id of the place it stands at: itself at its on-location, else its last stop
    route: deque[Stop] = field(default_factory=deque)
    onboard: list[str] = field(default_factory=list)
    free_at: float = 0.0  # when its current route ends (its last departure)
    history: list[Event] = field(default_factory=list)
    driving: float = 0.0  # minutes spent travelling, for utilisation
    serving: float = 0.0  # minutes of pickup and drop-off service
    leg: tuple[Location, float, Location, float] | None = None  # (from, depart, to, arrive)
    position: Location | None = None  # where it is now (moves along a leg each step); None: at ``location``
    bound_for: int | None = None  # region it is being handed to (set while in transit between shards)
    lent_until: float = float("-inf")  # lent to a short-handed region: stays there until then

    def __post_init__(self) -> None:
        if self.off_time <= self.on_time:
            raise InvalidInput(f"courier {self.id}: shift ends at {self.off_time}, not after its start {self.on_time}")
        if self.capacity < 1:
            raise InvalidInput(f"courier {self.id}: capacity must be at least 1")
        if not self.node:
            self.node = self.id
        if self.position is None:
            self.position = self.location
        self.free_at = max(self.free_at, self.on_time)

    def _go(self, to: CourierStatus, time: float, actor: str = "courier", **data: Any) -> Event:
        if to not in _COURIER_MOVES[self.status]:
            raise IllegalTransition("courier", self.id, self.status, to)
        self.status = to
        event = Event(str(to), time, self.id, actor, data)
        self.history.append(event)
        return event

    def start_shift(self, time: float) -> Event:
        if time < self.on_time:
            raise IllegalTransition("courier", self.id, self.status, C.IDLE, f"shift starts at {self.on_time}")
        return self._go(C.IDLE, time)

    def end_shift(self, time: float) -> Event:
        if self.route or self.onboard:
            raise IllegalTransition("courier", self.id, self.status, C.OFF_SHIFT, "orders still on the route")
        return self._go(C.OFF_SHIFT, time)

    def head_to_store(self, time: float, store_id: str) -> Event:
        return self._go(C.TO_STORE, time, store=store_id)

    def arrive_at_store(self, time: float, store_id: str) -> Event:
        return self._go(C.AT_STORE, time, store=store_id)

    def start_delivering(self, time: float) -> Event:
        return self._go(C.DELIVERING, time)

    def finish_route(self, time: float) -> Event:
        """All stops done: idle while on shift, off shift after it."""
        return self._go(C.OFF_SHIFT if time >= self.off_time else C.IDLE, time)

    def record_move(self, depart: float, origin: str, destination: str, arrive: float, dest_loc: Location,
                    reposition: bool = False) -> None:
        data: dict[str, Any] = {"origin": origin, "destination": destination, "arrive": arrive}
        if reposition:  # a move without orders, toward forecast demand (``dispatch.reposition``)
            data["reposition"] = True
        self.history.append(Event("move", depart, self.id, "courier", data))
        self.driving += arrive - depart
        self.leg = (self.location, depart, dest_loc, arrive)

    # -- queries -----------------------------------------------------------------------------
    def can_pick_up_at(self, time: float) -> bool:
        """No new pickup after the shift ends."""
        return time <= self.off_time

    @property
    def end_location(self) -> Location:
        """Where it will stand when its current route is done."""
        return self.route[-1].location if self.route else self.location

    @property
    def end_node(self) -> str:
        return self.route[-1].node if self.route else self.node

    def position_at(self, t: float) -> Location:
        """Its position at ``t``: interpolated along the current leg while moving."""
        if self.leg is None:
            return self.location
        a, depart, b, arrive = self.leg
        if t <= depart or arrive <= depart:
            return a if t <= depart else b
        if t >= arrive:
            return b
        f = (t - depart) / (arrive - depart)
        planar = a.x is not None and a.y is not None and b.x is not None and b.y is not None
        return Location(
            a.lat + (b.lat - a.lat) * f, a.lng + (b.lng - a.lng) * f,
            a.x + (b.x - a.x) * f if planar else None, a.y + (b.y - a.y) * f if planar else None,  # type: ignore[operator]
        )
