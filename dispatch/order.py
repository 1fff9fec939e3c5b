"""The order state machine.

placed -> paid -> accepted -> preparing -> ready -> assigned -> picked_up -> delivered, with the
exits cancelled / refunded / failed. Dispatch may assign a courier while the food is still being
prepared (``preparing -> assigned``); the food becoming ready then is recorded as a ``food_ready``
event without a state change. A courier that gives an order back (``unassign``) returns it to
``preparing`` or ``ready``. Every change is an ``Event`` in ``history``; any other move raises
``IllegalTransition`` naming the order, its state and the attempt.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dispatch.errors import IllegalTransition, InvalidInput
from dispatch.events import Event
from dispatch.geo import Location
from dispatch.modes import DeliveryMode, DeliveryWindow


class OrderStatus(StrEnum):
    PLACED = "placed"
    PAID = "paid"
    ACCEPTED = "accepted"
    PREPARING = "preparing"
    READY = "ready"
    ASSIGNED = "assigned"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    FAILED = "failed"


S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PLACED: frozenset({S.PAID, S.CANCELLED, S.FAILED}),
    S.PAID: frozenset({S.ACCEPTED, S.CANCELLED, S.FAILED}),
    S.ACCEPTED: frozenset({S.PREPARING, S.CANCELLED, S.FAILED}),
    S.PREPARING: frozenset({S.READY, S.ASSIGNED, S.CANCELLED, S.FAILED}),
    S.READY: frozenset({S.ASSIGNED, S.CANCELLED, S.FAILED}),
    S.ASSIGNED: frozenset({S.PREPARING, S.READY, S.PICKED_UP, S.CANCELLED, S.FAILED}),
    S.PICKED_UP: frozenset({S.DELIVERED, S.FAILED}),
    S.DELIVERED: frozenset({S.REFUNDED}),
    S.CANCELLED: frozenset({S.REFUNDED}),
    S.FAILED: frozenset({S.REFUNDED}),
    S.REFUNDED: frozenset(),
}
TERMINAL = frozenset({S.DELIVERED, S.CANCELLED, S.REFUNDED, S.FAILED})
OPEN_FOR_DISPATCH = frozenset({S.PREPARING, S.READY})


@dataclass(slots=True)
class Order:
    """One customer order from one store, with its delivery window and full history."""

    id: str
    store_id: str
    dropoff: Location
    placed_at: float
    ready_at: float
    window: DeliveryWindow
    mode: DeliveryMode = DeliveryMode.ASAP
    size: int = 1
    status: OrderStatus = OrderStatus.PLACED
    courier_id: str | None = None
    assigned_at: float | None = None
    picked_up_at: float | None = None
    delivered_at: float | None = None
    history: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.placed_at < 0:
            raise InvalidInput(f"order {self.id}: placement time {self.placed_at} is negative")
        if self.ready_at < self.placed_at:
            raise InvalidInput(f"order {self.id}: ready time {self.ready_at} is before placement {self.placed_at}")
        if self.size < 1:
            raise InvalidInput(f"order {self.id}: size must be at least 1")
        if not self.history:
            self.history.append(Event("placed", self.placed_at, self.id, "customer", {"store": self.store_id, "mode": str(self.mode)}))

    # -- transitions -------------------------------------------------------------------------
    def _go(self, to: OrderStatus, time: float, actor: str, **data: Any) -> Event:
        if to not in TRANSITIONS[self.status]:
            raise IllegalTransition("order", self.id, self.status, to)
        if self.history and time < self.history[-1].time:
            raise IllegalTransition("order", self.id, self.status, to, f"time {time} is before the last event at {self.history[-1].time}")
        self.status = to
        event = Event(str(to), time, self.id, actor, data)
        self.history.append(event)
        return event

    def pay(self, time: float, actor: str = "customer") -> Event:
        return self._go(S.PAID, time, actor)

    def accept(self, time: float, actor: str = "store") -> Event:
        return self._go(S.ACCEPTED, time, actor)

    def start_preparing(self, time: float, actor: str = "store") -> Event:
        return self._go(S.PREPARING, time, actor)

    def mark_ready(self, time: float, actor: str = "store") -> Event:
        """Food is ready. While a courier is already assigned this is an event, not a state change."""
        if self.status == S.ASSIGNED:
            event = Event("food_ready", time, self.id, actor)
            self.history.append(event)
            return event
        return self._go(S.READY, time, actor)

    def assign(self, courier_id: str, time: float, actor: str = "dispatcher") -> Event:
        if time < self.placed_at:
            raise IllegalTransition("order", self.id, self.status, S.ASSIGNED, f"time {time} is before placement {self.placed_at}")
        event = self._go(S.ASSIGNED, time, actor, courier=courier_id)
        self.courier_id = courier_id
        self.assigned_at = time
        return event

    def unassign(self, time: float, actor: str = "dispatcher", reason: str = "") -> Event:
        if self.status != S.ASSIGNED:
            raise IllegalTransition("order", self.id, self.status, "unassigned")
        back = S.READY if time >= self.ready_at else S.PREPARING
        event = self._go(back, time, actor, courier=self.courier_id, reason=reason)
        self.courier_id = None
        self.assigned_at = None
        return event

    def pick_up(self, courier_id: str, time: float) -> Event:
        if courier_id != self.courier_id:
            raise IllegalTransition("order", self.id, self.status, S.PICKED_UP, f"courier {courier_id} is not the assigned courier {self.courier_id}")
        if time < self.ready_at:
            raise IllegalTransition("order", self.id, self.status, S.PICKED_UP, f"food is ready at {self.ready_at}, not at {time}")
        event = self._go(S.PICKED_UP, time, courier_id)
        self.picked_up_at = time
        return event

    def deliver(self, courier_id: str, time: float) -> Event:
        if courier_id != self.courier_id:
            raise IllegalTransition("order", self.id, self.status, S.DELIVERED, f"courier {courier_id} does not carry it")
        event = self._go(S.DELIVERED, time, courier_id)
        self.delivered_at = time
        return event

    def cancel(self, time: float, actor: str = "customer", reason: str = "") -> Event:
        return self._go(S.CANCELLED, time, actor, reason=reason)

    def fail(self, time: float, actor: str = "system", reason: str = "") -> Event:
        return self._go(S.FAILED, time, actor, reason=reason)

    def refund(self, time: float, actor: str = "support") -> Event:
        return self._go(S.REFUNDED, time, actor)

    # -- queries -----------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        """Waiting for a courier."""
        return self.status in OPEN_FOR_DISPATCH

    @property
    def food_is_ready(self) -> bool:
        """The store has said (or the prediction has passed) that the food is ready."""
        return any(e.type in ("ready", "food_ready") for e in self.history)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def click_to_door(self) -> float | None:
        return None if self.delivered_at is None else self.delivered_at - self.placed_at
