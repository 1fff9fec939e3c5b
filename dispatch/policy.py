"""The dispatch policy interface (FleetPy's four hooks) and the decisions a policy returns.

A policy is told when an order arrives, when a courier changes, and when a dispatch cycle ticks;
on a tick it returns ``Assignment``s. It reads the region through a ``DispatchView`` and never
mutates entities: the region shard applies its decisions, so every policy is replayable.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from dispatch.courier import Courier
    from dispatch.order import Order
    from dispatch.rules import ServiceRules
    from dispatch.store import Store
    from dispatch.travel import TravelModel


@dataclass(frozen=True, slots=True)
class Assignment:
    """Give a courier these stops, in this order, after whatever it still has to do.

    ``stops`` are ("pickup" | "dropoff", order_id) pairs; consecutive pickups at one store are one
    stop. ``Assignment.bundle`` is the common case: pick up orders of one store, drop them in turn.
    ``Assignment.reposition_to`` sends an idle, empty courier to the centre of an H3 cell (one stop
    ("reposition", cell hex), no orders: ``dispatch.reposition``); it is idle there on arrival.
    """

    courier_id: str
    stops: tuple[tuple[str, str], ...]

    @classmethod
    def bundle(cls, courier_id: str, order_ids: Sequence[str]) -> "Assignment":
        return cls(courier_id, tuple(("pickup", o) for o in order_ids) + tuple(("dropoff", o) for o in order_ids))

    @classmethod
    def reposition_to(cls, courier_id: str, cell: str) -> "Assignment":
        """Move an idle, empty courier to the centre of H3 cell ``cell`` (hex id), to wait there."""
        return cls(courier_id, (("reposition", cell),))

    @property
    def order_ids(self) -> tuple[str, ...]:
        return tuple(o for kind, o in self.stops if kind == "pickup")

    @property
    def is_reposition(self) -> bool:
        return any(kind == "reposition" for kind, _ in self.stops)


class DispatchView(Protocol):
    """What a policy may read of its region."""

    travel: "TravelModel"
    rules: "ServiceRules"

    def open_orders(self) -> Sequence["Order"]: ...

    def couriers(self) -> Sequence["Courier"]: ...

    def store(self, store_id: str) -> "Store": ...

    def order(self, order_id: str) -> "Order": ...


class DispatchPolicy(Protocol):
    name: str

    def on_order(self, order: "Order", now: float) -> None:
        """An order entered the region's pool."""
        ...

    def on_cancel(self, order: "Order", now: float) -> None:
        """An order left the pool before it was delivered."""
        ...

    def on_courier(self, courier: "Courier", now: float) -> None:
        """A courier started or ended a shift, finished a route, or moved into the region."""
        ...

    def on_tick(self, now: float, view: DispatchView) -> list[Assignment]:
        """A dispatch cycle: return the decisions to apply now."""
        ...


class BasePolicy:
    """No-op hooks, so a policy implements only what it uses."""

    name = "base"

    def on_order(self, order: "Order", now: float) -> None:
        return None

    def on_cancel(self, order: "Order", now: float) -> None:
        return None

    def on_courier(self, courier: "Courier", now: float) -> None:
        return None

    def on_tick(self, now: float, view: DispatchView) -> list[Assignment]:
        return []
