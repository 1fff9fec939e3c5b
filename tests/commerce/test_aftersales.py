"""Cancellation restorations, refund/return requests, complaints and ratings.

Quotes come from the real ``price_cart``; expected amounts are worked out by hand in comments.
The expected transitions are written out here rather than read from the module, so a wrong table
is caught.
"""
from __future__ import annotations

import itertools

import pytest

from commerce.aftersales import (
    Complaint,
    IllegalMove,
    OrderAfterSales,
    Rating,
    RefundRequest,
    Restoration,
    ReturnRequest,
    cancellation,
)
from commerce.errors import CommerceError
from commerce.pricing import CartLine, Coupon, ReductionTier, price_cart
from dispatch.errors import IllegalTransition
from dispatch.order import OrderStatus

PRICES = {"tea": 1_500, "cake": 3_000}
LINES = [CartLine("tea", 2), CartLine("cake", 1)]  # goods 6 000
COUPON = Coupon("SAVE10", "fixed", 1_000)
BEFORE = ["placed", "paid", "accepted", "preparing", "ready", "assigned"]


def quote_for(lines=LINES, **kw):
    return price_cart(lines, store_id="s1", unit_price=PRICES.__getitem__, category_of=lambda sku: "food", now=0.0, **kw)


def code_of(call) -> str:
    with pytest.raises(CommerceError) as info:
        call()
    return info.value.code


# -- cancellation --------------------------------------------------------------------------------

def test_plain_paid_order_restores_stock_and_refunds_everything() -> None:
    q = quote_for()  # 6 000 goods + 500 delivery
    assert q.total_cents == 6_500
    r = cancellation(q, LINES, None, "paid")
    assert r == Restoration(stock={"tea": 2, "cake": 1}, coupon=None, points=0, refund_cents=6_500)


def test_unpaid_order_refunds_nothing_but_returns_coupon_and_points() -> None:
    q = quote_for(coupon=COUPON, points=1_000, points_balance=5_000)
    # 6 000 - 1 000 coupon = 5 000; points at most half -> 2 500 -> 2 000 whole-yuan points cap; asked 1 000
    assert (q.coupon, q.points_used, q.points_cents) == ("SAVE10", 1_000, 1_000)
    r = cancellation(q, LINES, "SAVE10", "placed")
    assert r == Restoration(stock={"tea": 2, "cake": 1}, coupon="SAVE10", points=1_000, refund_cents=0)


def test_paid_order_with_coupon_and_points_refunds_the_cash_paid() -> None:
    q = quote_for(coupon=COUPON, points=1_000, points_balance=5_000)
    assert q.total_cents == 6_000 - 1_000 - 1_000 + 500
    r = cancellation(q, LINES, "SAVE10", "preparing")
    assert r == Restoration(stock={"tea": 2, "cake": 1}, coupon="SAVE10", points=1_000, refund_cents=4_500)


def test_points_only_paid_order() -> None:
    q = quote_for(points=300, points_balance=300)
    r = cancellation(q, LINES, None, OrderStatus.ASSIGNED)  # an OrderStatus works as well as its value
    assert (r.coupon, r.points, r.refund_cents) == (None, 300, 6_000 - 300 + 500)


def test_coupon_that_lost_to_a_tier_is_not_restored() -> None:
    """The quote did not apply it, so no use was spent; giving it back would mint a use."""
    q = quote_for(coupon=COUPON, tiers=[ReductionTier(5_000, 1_500)])
    assert q.coupon is None
    r = cancellation(q, LINES, "SAVE10", "paid")
    assert r.coupon is None and r.refund_cents == 6_000 - 1_500 + 500


def test_coupon_code_must_agree_with_the_quote() -> None:
    q = quote_for(coupon=COUPON)
    assert code_of(lambda: cancellation(q, LINES, "OTHER", "paid")) == "coupon_mismatch"
    assert cancellation(q, LINES, None, "paid").coupon == "SAVE10"  # the quote is the record


def test_duplicate_sku_lines_merge_in_stock() -> None:
    lines = [CartLine("tea", 1), CartLine("cake", 1), CartLine("tea", 2)]
    r = cancellation(quote_for(lines), lines, None, "ready")
    assert r.stock == {"tea": 3, "cake": 1}


@pytest.mark.parametrize("status", BEFORE)
def test_every_status_before_pickup_can_cancel(status: str) -> None:
    q = quote_for()
    assert cancellation(q, LINES, None, status).refund_cents == (0 if status == "placed" else 6_500)


@pytest.mark.parametrize("status", ["picked_up", "delivered"])
def test_after_pickup_is_too_late(status: str) -> None:
    assert code_of(lambda: cancellation(quote_for(), LINES, None, status)) == "too_late"


@pytest.mark.parametrize("status", ["cancelled", "refunded", "failed"])
def test_closed_orders_cannot_be_cancelled_again(status: str) -> None:
    assert code_of(lambda: cancellation(quote_for(), LINES, None, status)) == "not_cancellable"


def test_unknown_status_and_mismatched_lines_are_refused() -> None:
    assert code_of(lambda: cancellation(quote_for(), LINES, None, "lost")) == "unknown_status"
    assert code_of(lambda: cancellation(quote_for(), [CartLine("tea", 2)], None, "paid")) == "lines_mismatch"


def test_every_order_status_is_classified() -> None:
    for status in OrderStatus:
        try:
            cancellation(quote_for(), LINES, None, status)
        except CommerceError as exc:
            assert exc.code in {"too_late", "not_cancellable"}, (status, exc.code)


# -- refund and return requests --------------------------------------------------------------------

def sales(**kw) -> OrderAfterSales:
    return OrderAfterSales("o1", quote_for(**kw), LINES)


@pytest.mark.parametrize("status", [*BEFORE, "picked_up", "cancelled", "refunded", "failed"])
def test_requests_and_ratings_need_a_delivered_order(status: str) -> None:
    s = sales()
    assert code_of(lambda: s.request_refund([CartLine("tea", 1)], status, now=1.0)) == "not_delivered"
    assert code_of(lambda: s.request_return([CartLine("tea", 1)], status, now=1.0)) == "not_delivered"
    assert code_of(lambda: s.rate(status, 5, 5)) == "not_delivered"
    assert s.requests == [] and s.rating is None


def test_default_amount_is_the_pro_rata_cash_paid_for_those_lines() -> None:
    s = sales(coupon=COUPON, points=1_000, points_balance=5_000)
    # paid for goods: 6 000 - 1 000 - 1 000 = 4 000 over 6 000 gross; one tea is 1 500 gross -> 1 000
    r = s.request_refund([CartLine("tea", 1)], "delivered", now=10.0, reason="spilt")
    assert isinstance(r, RefundRequest) and not r.returns_goods
    assert r.amount_cents == 1_000 and r.status == "requested" and r.lines == (CartLine("tea", 1),)
    assert [e.type for e in r.history] == ["requested"] and r.history[0].data["reason"] == "spilt"


def test_partial_refunds_are_capped_by_paid_minus_already_refunded() -> None:
    s = sales()  # paid 6 500
    first = s.request_refund([CartLine("cake", 1)], "delivered", now=1.0, amount_cents=3_500)  # cake + the delivery fee
    first.approve(2.0)
    first.refund(3.0, payment_ref="re_1")
    assert s.refunded_cents == 3_500 and s.refundable_cents == 3_000
    assert code_of(lambda: s.request_refund([CartLine("tea", 2)], "delivered", now=4.0, amount_cents=3_001)) == "refund_exceeds_paid"
    last = s.request_refund([CartLine("tea", 2)], "delivered", now=4.0, amount_cents=3_000)
    assert s.refundable_cents == 0
    last.approve(5.0)
    last.refund(6.0)
    assert s.refunded_cents == s.paid_cents == 6_500


def test_pending_requests_count_against_the_cap_and_rejection_frees_it() -> None:
    s = sales()
    pending = s.request_refund([CartLine("tea", 2)], "delivered", now=1.0, amount_cents=6_000)
    assert code_of(lambda: s.request_refund([CartLine("cake", 1)], "delivered", now=1.0, amount_cents=1_000)) == "refund_exceeds_paid"
    assert code_of(lambda: s.request_refund([CartLine("tea", 1)], "delivered", now=1.0, amount_cents=100)) == "too_many_units"
    pending.reject(2.0, reason="photo shows the tea intact")
    assert s.refundable_cents == 6_500 and s.units_left("tea") == 2
    again = s.request_refund([CartLine("tea", 1)], "delivered", now=3.0)
    assert again.id != pending.id


def test_request_lines_and_amounts_are_validated() -> None:
    s = sales()
    assert code_of(lambda: s.request_refund([], "delivered", now=1.0)) == "no_lines"
    assert code_of(lambda: s.request_refund([CartLine("soup", 1)], "delivered", now=1.0)) == "not_in_order"
    assert code_of(lambda: s.request_refund([CartLine("cake", 2)], "delivered", now=1.0)) == "too_many_units"
    for bad in (0, -5, 10.5, True):
        assert code_of(lambda bad=bad: s.request_refund([CartLine("cake", 1)], "delivered", now=1.0, amount_cents=bad)) == "invalid_amount"
    assert s.requests == []


def test_return_request_restocks_only_once_refunded() -> None:
    s = sales()
    r = s.request_return([CartLine("cake", 1)], "delivered", now=1.0, reason="wrong flavour")
    assert isinstance(r, ReturnRequest) and r.returns_goods and r.amount_cents == 3_000
    assert r.restock == {}
    r.approve(2.0, actor="store")
    assert r.restock == {}
    r.refund(3.0)
    assert r.restock == {"cake": 1}
    assert [(e.type, e.actor) for e in r.history] == [("requested", "customer"), ("approved", "store"), ("refunded", "payments")]


REQUEST_STATES = ("requested", "approved", "rejected", "refunded")
REQUEST_LEGAL = {("requested", "approved"), ("requested", "rejected"), ("approved", "refunded")}
REQUEST_PATHS = {"requested": [], "approved": ["approved"], "rejected": ["rejected"], "refunded": ["approved", "refunded"]}
REQUEST_MOVES = {"approved": "approve", "rejected": "reject", "refunded": "refund"}


def request_in(state: str, kind: str) -> RefundRequest:
    s = sales()
    make = s.request_refund if kind == "refund" else s.request_return
    r = make([CartLine("tea", 1)], "delivered", now=0.0)
    for i, step in enumerate(REQUEST_PATHS[state], start=1):
        getattr(r, REQUEST_MOVES[step])(float(i))
    assert r.status == state
    return r


@pytest.mark.parametrize("kind", ["refund", "return"])
@pytest.mark.parametrize(("source", "target"), list(itertools.product(REQUEST_STATES, ("approved", "rejected", "refunded"))))
def test_request_transitions(kind: str, source: str, target: str) -> None:
    r = request_in(source, kind)
    move = getattr(r, REQUEST_MOVES[target])
    if (source, target) in REQUEST_LEGAL:
        event = move(10.0)
        assert r.status == target and r.history[-1] is event and event.type == target and event.entity == r.id
    else:
        before = list(r.history)
        with pytest.raises(IllegalMove) as info:
            move(10.0)
        err = info.value
        assert isinstance(err, IllegalTransition) and isinstance(err, CommerceError)
        assert err.code == "illegal_transition"
        assert (err.kind, err.entity_id, err.state, err.attempted) == (kind, r.id, source, target)
        assert r.status == source and r.history == before


def test_request_moves_cannot_go_back_in_time() -> None:
    r = request_in("requested", "refund")  # requested at 0.0
    r.approve(5.0)
    with pytest.raises(IllegalMove) as info:
        r.refund(4.0)
    assert "before the last event" in str(info.value) and r.status == "approved"


# -- complaints ----------------------------------------------------------------------------------

COMPLAINT_STATES = ("open", "in_progress", "resolved", "closed")
COMPLAINT_LEGAL = {("open", "in_progress"), ("in_progress", "resolved"), ("in_progress", "closed")}
COMPLAINT_PATHS = {"open": [], "in_progress": ["start"], "resolved": ["start", "resolve"], "closed": ["start", "close"]}
COMPLAINT_MOVES = {"in_progress": "start", "resolved": "resolve", "closed": "close"}


def complaint_in(state: str) -> Complaint:
    c = sales().complain("courier was rude", now=0.0)
    for i, step in enumerate(COMPLAINT_PATHS[state], start=1):
        getattr(c, step)(float(i))
    assert c.status == state
    return c


@pytest.mark.parametrize(("source", "target"), list(itertools.product(COMPLAINT_STATES, ("in_progress", "resolved", "closed"))))
def test_complaint_transitions(source: str, target: str) -> None:
    c = complaint_in(source)
    move = getattr(c, COMPLAINT_MOVES[target])
    if (source, target) in COMPLAINT_LEGAL:
        move(10.0)
        assert c.status == target and c.history[-1].type == target
    else:
        before = (list(c.history), list(c.notes))
        with pytest.raises(IllegalMove) as info:
            move(10.0, note="should not be kept") if target != "in_progress" else move(10.0)
        assert (info.value.kind, info.value.entity_id, info.value.state, info.value.attempted) == ("complaint", c.id, source, target)
        assert c.status == source and (c.history, c.notes) == before


def test_complaint_notes_are_kept_in_order_and_refused_once_finished() -> None:
    c = sales().complain("cold food", now=1.0)
    c.add_note("customer", "the soup arrived cold", 1.5)
    c.start(2.0, actor="agent-7")
    c.add_note("agent-7", "asked the store", 3.0)
    c.resolve(4.0, actor="agent-7", note="voucher issued")
    assert [(n.author, n.text) for n in c.notes] == [
        ("customer", "the soup arrived cold"), ("agent-7", "asked the store"), ("agent-7", "voucher issued")]
    assert [e.type for e in c.history] == ["open", "note", "in_progress", "note", "note", "resolved"]
    with pytest.raises(IllegalMove) as info:
        c.add_note("customer", "thanks", 5.0)
    assert info.value.state == "resolved" and info.value.attempted == "note"
    fresh = sales().complain("x", 0.0)
    assert code_of(lambda: fresh.add_note("a", "  ", 1.0)) == "bad_note"
    assert code_of(lambda: sales().complain("  ", 0.0)) == "bad_complaint"


def test_complaint_ids_are_distinct_per_order() -> None:
    s = sales()
    assert s.complain("a", 0.0).id != s.complain("b", 0.0).id
    assert len(s.complaints) == 2


# -- ratings ------------------------------------------------------------------------------------

def test_rating_once_per_delivered_order() -> None:
    s = sales()
    rating = s.rate("delivered", 5, 4, "quick", now=30.0)
    assert rating == Rating("o1", 5, 4, "quick", 30.0) and s.rating is rating
    assert code_of(lambda: s.rate("delivered", 1, 1)) == "already_rated"
    assert s.rating is rating


@pytest.mark.parametrize(("store", "courier"), [(0, 3), (6, 3), (3, 0), (3, 6), (4.5, 3), (True, 3), (3, None)])
def test_stars_are_whole_one_to_five(store, courier) -> None:
    s = sales()
    assert code_of(lambda: s.rate("delivered", store, courier)) == "bad_stars"
    assert s.rating is None  # a bad attempt does not use up the one rating
    s.rate("delivered", 1, 5)
