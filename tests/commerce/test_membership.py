"""Membership levels and the append-only points ledger.

Thresholds and point values are written out here rather than read from ``commerce.membership``,
so a wrong table is caught.
"""
from __future__ import annotations

import pytest

from commerce.errors import CommerceError
from commerce.membership import (
    LEVELS,
    LedgerEntry,
    PointsLedger,
    level_for,
    paid_goods_cents,
    points_earned,
)
from commerce.pricing import CartLine, PriceQuote, price_cart


def code_of(call) -> str:
    with pytest.raises(CommerceError) as info:
        call()
    return info.value.code


# -- levels ------------------------------------------------------------------------------------

def test_levels_table() -> None:
    assert [(lv.name, lv.min_spend_cents, lv.discount_bp) for lv in LEVELS] == [
        ("regular", 0, 0), ("silver", 50_000, 200), ("gold", 200_000, 500), ("diamond", 500_000, 800)]


@pytest.mark.parametrize(("spend", "name"), [
    (0, "regular"), (49_999, "regular"), (50_000, "silver"), (199_999, "silver"),
    (200_000, "gold"), (499_999, "gold"), (500_000, "diamond"), (10**9, "diamond"),
])
def test_level_for_cumulative_spend(spend: int, name: str) -> None:
    assert level_for(spend).name == name


@pytest.mark.parametrize("spend", [-1, 1.5, True, None])
def test_level_for_refuses_bad_spend(spend) -> None:
    assert code_of(lambda: level_for(spend)) == "invalid_amount"


def test_level_feeds_pricing_member_discount() -> None:
    quote = price_cart([CartLine("tea", 2)], store_id="s1", unit_price=lambda sku: 5_000, category_of=lambda sku: "drinks",
                       now=0.0, member=level_for(200_000))
    assert quote.discount_cents == 500  # gold: 5 % of 10 000


# -- points earned -----------------------------------------------------------------------------

@pytest.mark.parametrize(("cents", "points"), [(0, 0), (99, 0), (100, 1), (199, 1), (12_345, 123)])
def test_one_point_per_whole_yuan_paid(cents: int, points: int) -> None:
    assert points_earned(cents) == points


@pytest.mark.parametrize("cents", [-100, 10.0, False])
def test_points_earned_refuses_bad_amounts(cents) -> None:
    assert code_of(lambda: points_earned(cents)) == "invalid_amount"


def test_paid_goods_excludes_delivery_and_what_points_paid() -> None:
    quote = PriceQuote(lines=(), goods_cents=10_000, discount_cents=1_000, points_used=200, points_cents=200,
                       delivery_cents=600, total_cents=10_000 - 1_000 - 200 + 600, coupon=None, flash_units={})
    assert paid_goods_cents(quote) == 8_800
    assert points_earned(paid_goods_cents(quote)) == 88


# -- the ledger --------------------------------------------------------------------------------

def test_earn_spend_and_balance_with_history() -> None:
    ledger = PointsLedger()
    assert ledger.balance("alice") == 0 and ledger.entries("alice") == []
    first = ledger.append("alice", 120, "earn", "o1", at=10.0)
    second = ledger.append("alice", -100, "spend", "o2", at=11.0)
    ledger.append("bob", 5, "earn", "o3", at=12.0)
    assert first == LedgerEntry(1, "alice", 120, "earn", "o1", 10.0)
    assert second == LedgerEntry(2, "alice", -100, "spend", "o2", 11.0)
    assert ledger.balance("alice") == 20 and ledger.balance("bob") == 5
    assert [e.seq for e in ledger.entries("alice")] == [1, 2]
    assert [e.seq for e in ledger.entries("bob")] == [3]
    assert ledger.find("alice", "spend", "o2") == second and ledger.find("alice", "spend", "o1") is None


def test_entries_are_a_copy_and_frozen() -> None:
    ledger = PointsLedger()
    ledger.append("alice", 10, "earn", "o1", at=0.0)
    got = ledger.entries("alice")
    got.clear()
    assert len(ledger.entries("alice")) == 1
    with pytest.raises(AttributeError):
        ledger.entries("alice")[0].delta = 1_000  # type: ignore[misc]


def test_balance_never_negative() -> None:
    ledger = PointsLedger()
    ledger.append("alice", 100, "earn", "o1", at=0.0)
    assert code_of(lambda: ledger.append("alice", -101, "spend", "o2", at=1.0)) == "insufficient_points"
    assert code_of(lambda: ledger.append("alice", -150, "adjust", "ticket-1", at=1.0)) == "insufficient_points"
    assert code_of(lambda: ledger.append("nobody", -1, "spend", "o9", at=1.0)) == "insufficient_points"
    assert ledger.balance("alice") == 100 and len(ledger.entries("alice")) == 1  # refused: nothing recorded
    ledger.append("alice", -100, "spend", "o2", at=2.0)  # to exactly zero is fine
    assert ledger.balance("alice") == 0


def test_duplicate_earn_is_refused_so_a_retried_webhook_cannot_earn_twice() -> None:
    ledger = PointsLedger()
    ledger.append("alice", 88, "earn", "o1", at=0.0)
    with pytest.raises(CommerceError) as info:
        ledger.append("alice", 88, "earn", "o1", at=5.0)
    assert info.value.code == "duplicate_entry"
    assert code_of(lambda: ledger.append("alice", 1, "earn", "o1", at=5.0)) == "duplicate_entry"  # any amount
    assert ledger.balance("alice") == 88 and len(ledger.entries("alice")) == 1
    ledger.append("bob", 88, "earn", "o1", at=5.0)  # the key is per customer
    ledger.append("alice", -50, "spend", "o1", at=6.0)  # and per reason
    assert code_of(lambda: ledger.append("alice", -10, "spend", "o1", at=7.0)) == "duplicate_entry"


def test_cancellation_restores_spent_points_by_a_reverse_entry_once() -> None:
    ledger = PointsLedger()
    ledger.append("alice", 500, "earn", "o1", at=0.0)
    ledger.append("alice", -300, "spend", "o2", at=1.0)
    restore = ledger.append("alice", 300, "refund_spend", "o2", at=2.0)
    assert restore.reason == "refund_spend" and ledger.balance("alice") == 500
    # the spend entry is still there, unchanged: history explains the balance
    assert [(e.delta, e.reason) for e in ledger.entries("alice")] == [(500, "earn"), (-300, "spend"), (300, "refund_spend")]
    assert code_of(lambda: ledger.append("alice", 300, "refund_spend", "o2", at=3.0)) == "duplicate_entry"
    assert ledger.balance("alice") == 500


def test_reverse_entries_need_their_original_and_cannot_exceed_it() -> None:
    ledger = PointsLedger()
    ledger.append("alice", 200, "earn", "o1", at=0.0)
    ledger.append("alice", -100, "spend", "o2", at=1.0)
    assert code_of(lambda: ledger.append("alice", 100, "refund_spend", "o-never", at=2.0)) == "no_original"
    assert code_of(lambda: ledger.append("alice", -50, "revoke_earn", "o2", at=2.0)) == "no_original"
    assert code_of(lambda: ledger.append("alice", 101, "refund_spend", "o2", at=2.0)) == "reversal_exceeds_original"
    assert code_of(lambda: ledger.append("alice", -201, "revoke_earn", "o1", at=2.0)) == "reversal_exceeds_original"
    ledger.append("alice", -40, "revoke_earn", "o1", at=3.0)  # partial revoke after a partial refund
    assert ledger.balance("alice") == 60


def test_revoking_points_already_spent_is_refused_not_negative() -> None:
    ledger = PointsLedger()
    ledger.append("alice", 100, "earn", "o1", at=0.0)
    ledger.append("alice", -100, "spend", "o2", at=1.0)
    assert code_of(lambda: ledger.append("alice", -100, "revoke_earn", "o1", at=2.0)) == "insufficient_points"
    assert ledger.balance("alice") == 0


@pytest.mark.parametrize(("delta", "reason"), [
    (-5, "earn"), (5, "spend"), (-5, "refund_spend"), (5, "revoke_earn"), (0, "adjust"), (1.5, "earn"), (True, "earn"),
])
def test_delta_sign_must_match_reason(delta, reason: str) -> None:
    ledger = PointsLedger()
    ledger.append("alice", 10, "earn", "o0", at=0.0)
    assert code_of(lambda: ledger.append("alice", delta, reason, "o1", at=1.0)) == "bad_delta"


def test_unknown_reason_and_missing_ref_are_refused() -> None:
    ledger = PointsLedger()
    assert code_of(lambda: ledger.append("alice", 10, "gift", "o1", at=0.0)) == "bad_reason"
    assert code_of(lambda: ledger.append("alice", 10, "earn", "", at=0.0)) == "bad_entry"
    assert code_of(lambda: ledger.append("", 10, "earn", "o1", at=0.0)) == "bad_entry"
    assert ledger.entries("alice") == []


def test_adjust_goes_either_way() -> None:
    ledger = PointsLedger()
    ledger.append("alice", 30, "adjust", "ticket-7", at=0.0)
    ledger.append("alice", -10, "adjust", "ticket-8", at=1.0)
    assert ledger.balance("alice") == 20


def test_ledger_has_no_edit_or_delete() -> None:
    public = {name for name in dir(PointsLedger) if not name.startswith("_")}
    assert public == {"append", "balance", "entries", "find"}
