"""Domain errors: raised, never swallowed, so an illegal change is visible."""
from __future__ import annotations


class DomainError(Exception):
    """Base class of every error the domain core raises on purpose."""


class IllegalTransition(DomainError):
    """An entity was asked to move to a state its current state does not allow."""

    def __init__(self, kind: str, entity_id: str, state: str, attempted: str, reason: str = "") -> None:
        self.kind = kind
        self.entity_id = entity_id
        self.state = state
        self.attempted = attempted
        detail = f": {reason}" if reason else ""
        super().__init__(f"{kind} {entity_id} is {state}; cannot go to {attempted}{detail}")


class InvalidInput(DomainError):
    """Input that breaks a domain rule (negative times, an unknown id, ...)."""
