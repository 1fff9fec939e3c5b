"""The store: where orders are prepared. Open, paused (takes no new orders for a while) or closed."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from dispatch.errors import IllegalTransition
from dispatch.events import Event
from dispatch.geo import Location


class StoreStatus(StrEnum):
    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"


_STORE_MOVES: dict[StoreStatus, frozenset[StoreStatus]] = {
    StoreStatus.CLOSED: frozenset({StoreStatus.OPEN}),
    StoreStatus.OPEN: frozenset({StoreStatus.PAUSED, StoreStatus.CLOSED}),
    StoreStatus.PAUSED: frozenset({StoreStatus.OPEN, StoreStatus.CLOSED}),
}


@dataclass(slots=True)
class Store:
    id: str
    location: Location
    name: str = ""
    status: StoreStatus = StoreStatus.OPEN
    history: list[Event] = field(default_factory=list)

    def _go(self, to: StoreStatus, time: float, actor: str) -> Event:
        if to not in _STORE_MOVES[self.status]:
            raise IllegalTransition("store", self.id, self.status, to)
        self.status = to
        event = Event(str(to), time, self.id, actor)
        self.history.append(event)
        return event

    def open(self, time: float, actor: str = "store") -> Event:
        return self._go(StoreStatus.OPEN, time, actor)

    def pause(self, time: float, actor: str = "store") -> Event:
        return self._go(StoreStatus.PAUSED, time, actor)

    def close(self, time: float, actor: str = "store") -> Event:
        return self._go(StoreStatus.CLOSED, time, actor)

    @property
    def takes_orders(self) -> bool:
        return self.status == StoreStatus.OPEN
