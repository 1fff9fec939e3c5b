"""Commerce errors: one class with a machine ``code`` so the API can map it without parsing text."""
from __future__ import annotations

from dispatch.errors import DomainError


class CommerceError(DomainError):
    """A commerce rule was broken; ``code`` is short and stable ("coupon_expired"), ``detail`` is for a human."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}")
