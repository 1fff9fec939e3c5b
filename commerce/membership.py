"""Membership: levels by lifetime spend, and an append-only points ledger.

Points are money-like, so the ledger is append-only: a balance is the sum of entries, and a
correction (a cancelled order's points coming back, an earn taken away after a refund) is a new
reverse entry, never an edit, so every balance can be explained line by line. Each entry names its
``reason`` and its ``ref`` (the order id); ``(customer, reason, ref)`` is unique, so a retried
delivery webhook cannot earn twice and a cancellation cannot restore twice. A reverse entry must
point at its original (same ref) and cannot undo more than it did. No entry may take the balance
below zero.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

from commerce.errors import CommerceError
from commerce.pricing import CENTS_PER_YUAN, MemberLevel

if TYPE_CHECKING:
    from commerce.pricing import PriceQuote

# Lifetime spend (cents) -> level; the discount applies to non-flash goods (pricing step 2).
LEVELS: tuple[MemberLevel, ...] = (
    MemberLevel("regular", 0, 0),
    MemberLevel("silver", 50_000, 200),
    MemberLevel("gold", 200_000, 500),
    MemberLevel("diamond", 500_000, 800),
)

POINTS_PER_YUAN_EARNED = 1

Reason = Literal["earn", "spend", "refund_spend", "revoke_earn", "adjust"]
REASONS: tuple[str, ...] = get_args(Reason)
# reason -> the sign its delta must have (0: either)
_SIGN: dict[str, int] = {"earn": 1, "spend": -1, "refund_spend": 1, "revoke_earn": -1, "adjust": 0}
# reverse reason -> the reason of the entry it undoes
_REVERSES: dict[str, str] = {"refund_spend": "spend", "revoke_earn": "earn"}


def level_for(spend_cents: int, levels: tuple[MemberLevel, ...] = LEVELS) -> MemberLevel:
    """The highest level whose threshold ``spend_cents`` (lifetime goods paid) has reached."""
    if isinstance(spend_cents, bool) or not isinstance(spend_cents, int) or spend_cents < 0:
        raise CommerceError("invalid_amount", f"lifetime spend must be whole non-negative cents, got {spend_cents!r}")
    reached = [level for level in levels if level.min_spend_cents <= spend_cents]
    if not reached:
        raise CommerceError("no_level", f"no membership level starts at or below {spend_cents} cents")
    return max(reached, key=lambda level: level.min_spend_cents)


def points_earned(paid_goods_cents: int) -> int:
    """1 point per whole yuan of goods actually paid (after discounts and points; delivery excluded)."""
    if isinstance(paid_goods_cents, bool) or not isinstance(paid_goods_cents, int) or paid_goods_cents < 0:
        raise CommerceError("invalid_amount", f"paid goods must be whole non-negative cents, got {paid_goods_cents!r}")
    return paid_goods_cents // CENTS_PER_YUAN * POINTS_PER_YUAN_EARNED


def paid_goods_cents(quote: PriceQuote) -> int:
    """What the customer paid for the goods of ``quote``: the total less the delivery fee (never discounted)."""
    return quote.total_cents - quote.delivery_cents


@dataclass(frozen=True)
class LedgerEntry:
    """One line of a customer's points history; ``seq`` orders the whole ledger."""

    seq: int
    customer: str
    delta: int
    reason: Reason
    ref: str
    at: float


class PointsLedger:
    """Append-only points ledger: balances are sums of entries; nothing is edited or removed."""

    def __init__(self) -> None:
        self._entries: list[LedgerEntry] = []
        self._by_customer: dict[str, list[LedgerEntry]] = {}
        self._by_key: dict[tuple[str, str, str], LedgerEntry] = {}
        self._balance: dict[str, int] = {}

    def balance(self, customer: str) -> int:
        return self._balance.get(customer, 0)

    def entries(self, customer: str) -> list[LedgerEntry]:
        """A copy of ``customer``'s entries, oldest first."""
        return list(self._by_customer.get(customer, ()))

    def find(self, customer: str, reason: str, ref: str) -> LedgerEntry | None:
        """The entry for ``(customer, reason, ref)``, if any (at most one exists)."""
        return self._by_key.get((customer, reason, ref))

    def append(self, customer: str, delta: int, reason: Reason, ref: str, at: float) -> LedgerEntry:
        """Record one change; refused (nothing recorded) if it breaks a ledger rule."""
        if not customer or not ref:
            raise CommerceError("bad_entry", "a ledger entry needs a customer and a ref (the order id)")
        if reason not in _SIGN:
            raise CommerceError("bad_reason", f"ledger reason must be one of {REASONS}, got {reason!r}")
        if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
            raise CommerceError("bad_delta", f"a ledger entry moves a non-zero whole number of points, got {delta!r}")
        sign = _SIGN[reason]
        if sign and (delta > 0) != (sign > 0):
            raise CommerceError("bad_delta", f"a {reason} entry must be {'positive' if sign > 0 else 'negative'}, got {delta}")
        key = (customer, reason, ref)
        if key in self._by_key:
            raise CommerceError("duplicate_entry", f"{customer} already has a {reason} entry for {ref} "
                                                   f"(seq {self._by_key[key].seq}); it is recorded once")
        if reason in _REVERSES:
            original = self._by_key.get((customer, _REVERSES[reason], ref))
            if original is None:
                raise CommerceError("no_original", f"{customer} has no {_REVERSES[reason]} entry for {ref} to reverse")
            if abs(delta) > abs(original.delta):
                raise CommerceError("reversal_exceeds_original", f"{reason} of {abs(delta)} points for {ref} exceeds the "
                                                                 f"original {_REVERSES[reason]} of {abs(original.delta)}")
        balance = self.balance(customer)
        if balance + delta < 0:
            raise CommerceError("insufficient_points", f"{customer} has {balance} points; {reason} of {delta} for {ref} "
                                                       "would go below zero")
        entry = LedgerEntry(len(self._entries) + 1, customer, delta, reason, ref, at)
        self._entries.append(entry)
        self._by_customer.setdefault(customer, []).append(entry)
        self._by_key[key] = entry
        self._balance[customer] = balance + delta
        return entry
