"""The input of a simulation: stores, orders with their timings, courier shifts, rules, travel.

Both sources produce it: an MDRP day (``simulator.mdrp``) and a synthetic city scenario
(``simulator.scenario``); a scenario's orders may carry the customer's priced basket
(``commerce.shopper.Basket``), which the dispatch never sees but the run's KPIs report. Specs are immutable; each run builds fresh domain objects from them, so
runs are independent and repeatable.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dispatch.courier import Courier
from dispatch.geo import Location
from dispatch.modes import DeliveryMode, DeliveryWindow
from dispatch.order import Order
from dispatch.rules import ServiceRules
from dispatch.store import Store
from dispatch.travel import TravelModel
from dispatch.zones import REGION_RES

if TYPE_CHECKING:
    from commerce.shopper import Basket


@dataclass(frozen=True, slots=True)
class StoreSpec:
    id: str
    location: Location
    name: str = ""

    def build(self) -> Store:
        return Store(self.id, self.location, self.name)


@dataclass(frozen=True, slots=True)
class OrderSpec:
    id: str
    store_id: str
    dropoff: Location
    placed_at: float
    ready_at: float
    window: DeliveryWindow
    mode: DeliveryMode = DeliveryMode.ASAP
    size: int = 1
    basket: Basket | None = field(default=None, hash=False)  # what the customer bought (scenarios with [shop])

    def build(self) -> Order:
        return Order(self.id, self.store_id, self.dropoff, self.placed_at, self.ready_at, self.window, self.mode, self.size)


@dataclass(frozen=True, slots=True)
class CourierSpec:
    id: str
    location: Location
    on_time: float
    off_time: float
    capacity: int = 4

    def build(self) -> Courier:
        return Courier(self.id, self.location, self.on_time, self.off_time, self.capacity)


@dataclass(frozen=True)
class Instance:
    name: str
    stores: tuple[StoreSpec, ...]
    orders: tuple[OrderSpec, ...]
    couriers: tuple[CourierSpec, ...]
    rules: ServiceRules
    travel: TravelModel
    region_res: int = REGION_RES
    meta: dict[str, Any] = field(default_factory=dict)

    def store_by_id(self) -> dict[str, StoreSpec]:
        return {s.id: s for s in self.stores}

    @property
    def start(self) -> float:
        times = [o.placed_at for o in self.orders] + [c.on_time for c in self.couriers]
        return min(times) if times else 0.0

    @property
    def last_input(self) -> float:
        times = [o.placed_at for o in self.orders] + [c.on_time for c in self.couriers]
        return max(times) if times else 0.0

    @property
    def courier_hours(self) -> float:
        return sum(c.off_time - c.on_time for c in self.couriers) / 60.0
