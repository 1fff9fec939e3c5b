"""Events: every state change of an entity is one, kept in its history."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """One fact: what happened (``type``), when (simulated or wall minutes), to whom, by whom."""

    type: str
    time: float
    entity: str
    actor: str = "system"
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "time": self.time, "entity": self.entity, "actor": self.actor, "data": dict(self.data)}
