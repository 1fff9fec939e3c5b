"""Service rules of a market: service times, promises and pay (MDRP's instance parameters)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServiceRules:
    """Half of each service time is spent before the pickup/drop-off instant and half after (MDRP)."""

    pickup_service: float = 4.0
    dropoff_service: float = 4.0
    target_click_to_door: float = 40.0
    max_click_to_door: float = 90.0
    pay_per_order: float = 10.0
    pay_per_hour: float = 15.0

    def __post_init__(self) -> None:
        if min(self.pickup_service, self.dropoff_service) < 0:
            raise ValueError("service times must be non-negative")
        if not 0 < self.target_click_to_door <= self.max_click_to_door:
            raise ValueError("need 0 < target click-to-door <= maximum click-to-door")
