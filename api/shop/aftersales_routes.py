"""After-sales endpoints: refund and return requests, complaint tickets and ratings of delivered orders.

Customers act on their own checkout orders (403 otherwise): refunds, returns and the rating need a
delivered order (409 ``not_delivered``); a complaint may be opened at any time. An order placed with
``POST /orders`` (a delivery, not a shop sale) has no after-sales: 409 ``not_a_checkout_order``. Support (admins)
approves, rejects and pays back requests and moves complaint tickets; planners may read the queue.
Cancellation before pickup is ``POST /checkout/orders/{id}/cancel`` (``api.shop.routes``).

Requests are numbered per order in the order they were made, refunds and returns together
(``n`` in ``/after-sales/{order_id}/refund-requests/{n}/...`` addresses either); complaints have
their own numbers. Every change is one transaction of ``api.shop.aftersales_store`` with its audit
entry.
"""
from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import Field

from api import orders as svc
from api.deps import Admin, Caller, Customer, Planner
from api.security import Principal
from api.shop.aftersales_store import (
    AfterSalesStore,
    Busy,
    Tx,
    at_or_after,
    complaint_out,
    rating_key,
    rating_out,
    record_out,
    request_out,
)
from api.shop.checkout import Shop
from api.shop.models import Line, _In
from api.shop.routes import CONFLICTS, NOT_FOUND
from commerce.aftersales import Complaint, ComplaintStatus, RefundRequest
from commerce.errors import CommerceError
from commerce.pricing import CartLine

router = APIRouter(tags=["after-sales"])
AFTER_SALES_CONFLICTS = CONFLICTS | {"not_delivered", "already_rated", "illegal_transition", "refund_exceeds_paid", "too_many_units",
                                     "nothing_left", "not_a_checkout_order"}
AFTER_SALES_NOT_FOUND = NOT_FOUND | {"unknown_request", "unknown_complaint"}
STATUSES = ("requested", "approved", "rejected", "refunded", "open", "in_progress", "resolved", "closed")


# -- bodies ------------------------------------------------------------------------------------
class RefundIn(_In):
    """Money back, goods kept. Without ``lines``: every unit not yet claimed; without ``amount_cents``: the lines' paid share."""

    lines: list[Line] | None = Field(None, min_length=1, max_length=50)
    amount_cents: int | None = Field(None, ge=1, le=100_000_000)
    reason: str = Field(min_length=1, max_length=500)


class ReturnIn(_In):
    """Goods back to the store, then the money (their paid share)."""

    lines: list[Line] = Field(min_length=1, max_length=50)
    reason: str = Field(min_length=1, max_length=500)


class ComplaintIn(_In):
    text: str = Field(min_length=1, max_length=2000)
    about: Literal["store", "courier", "app"]


class RatingIn(_In):
    store_stars: int = Field(description="1 to 5")
    courier_stars: int = Field(description="1 to 5")
    comment: str = Field("", max_length=1000)


class DecisionIn(_In):
    reason: str = Field("", max_length=500, description="why (a rejection)")
    payment_ref: str = Field("", max_length=128, description="the provider's refund reference (a refund)")


class ComplaintMove(_In):
    status: Literal["in_progress", "resolved", "closed"]
    note: str = Field("", max_length=2000)


class NoteIn(_In):
    text: str = Field(min_length=1, max_length=2000)


# -- helpers -----------------------------------------------------------------------------------
def store_of(request: Request) -> AfterSalesStore:
    state = request.app.state
    if getattr(state, "aftersales", None) is None:
        shop: Shop = state.shop
        state.aftersales = AfterSalesStore(shop.r, shop.wallet)
    return state.aftersales


def refuse(exc: CommerceError | Busy | svc.OrderError) -> HTTPException:
    if isinstance(exc, CommerceError):
        status = 409 if exc.code in AFTER_SALES_CONFLICTS else 404 if exc.code in AFTER_SALES_NOT_FOUND else 422
        return HTTPException(status, {"code": exc.code, "detail": exc.detail})
    if isinstance(exc, Busy):
        return HTTPException(503, {"code": "busy", "detail": str(exc)}, headers={"Retry-After": "1"})
    assert isinstance(exc, svc.OrderError)
    return HTTPException(exc.status, exc.detail)


def own(who: Principal, customer: str, order_id: str, admin_may: bool = True) -> None:
    if (who.role != "admin" or not admin_may) and customer != who.user:
        raise HTTPException(403, f"order {order_id} is not yours")


def nth(items: list[Any], n: int, code: str, what: str) -> Any:
    if not 1 <= n <= len(items):
        raise CommerceError(code, f"there is no {what} {n} (the order has {len(items)})")
    return items[n - 1]


async def run(request: Request, order_id: str, move: Any) -> Any:
    try:
        return await store_of(request).update(order_id, move)
    except (CommerceError, Busy, svc.OrderError) as exc:
        raise refuse(exc) from None


# -- customers ---------------------------------------------------------------------------------
@router.post("/orders/{order_id}/refund-requests", status_code=201, operation_id="request_refund",
             responses={409: {"description": "not delivered, more than paid or more units than ordered"}})
async def request_refund(order_id: str, body: RefundIn, request: Request, who: Customer) -> dict[str, Any]:
    """Ask for money back for some lines of a delivered order (the goods are kept: missing, spoilt)."""

    async def move(tx: Tx) -> dict[str, Any]:
        own(who, tx.rec.customer, order_id)
        sales = tx.rec.sales
        if body.lines is not None:
            lines = [CartLine(line.sku, line.qty) for line in body.lines]
        else:
            lines = [CartLine(sku, sales.units_left(sku)) for sku in sales.ordered if sales.units_left(sku) > 0]
            if not lines and str(tx.dispatch_status) == "delivered":
                raise CommerceError("nothing_left", f"every unit of order {order_id} is already claimed")
        req = sales.request_refund(lines, tx.dispatch_status, at_or_after(()), body.amount_cents, body.reason)
        tx.audit(who, "request_refund", req.id, order=order_id, cents=req.amount_cents)
        return request_out(tx.rec, req)

    return await run(request, order_id, move)


@router.post("/orders/{order_id}/return-requests", status_code=201, operation_id="request_return",
             responses={409: {"description": "not delivered, more than paid or more units than ordered"}})
async def request_return(order_id: str, body: ReturnIn, request: Request, who: Customer) -> dict[str, Any]:
    """Send goods of a delivered order back for their paid share; once refunded they go back in stock."""

    async def move(tx: Tx) -> dict[str, Any]:
        own(who, tx.rec.customer, order_id)
        req = tx.rec.sales.request_return([CartLine(line.sku, line.qty) for line in body.lines], tx.dispatch_status, at_or_after(()),
                                          None, body.reason)
        tx.audit(who, "request_return", req.id, order=order_id, cents=req.amount_cents)
        return request_out(tx.rec, req)

    return await run(request, order_id, move)


@router.post("/orders/{order_id}/complaints", status_code=201, operation_id="open_complaint")
async def open_complaint(order_id: str, body: ComplaintIn, request: Request, who: Customer) -> dict[str, Any]:
    """A support ticket about the store, the courier or the app (any time after the order was placed)."""

    async def move(tx: Tx) -> dict[str, Any]:
        own(who, tx.rec.customer, order_id)
        complaint = tx.rec.sales.complain(body.text, at_or_after(()), by=who.user)
        tx.rec.about[complaint.id] = body.about
        tx.audit(who, "open_complaint", complaint.id, order=order_id, about=body.about)
        return complaint_out(tx.rec, complaint)

    return await run(request, order_id, move)


@router.post("/orders/{order_id}/rating", status_code=201, operation_id="rate_order",
             responses={409: {"description": "not delivered, or already rated"}})
async def rate(order_id: str, body: RatingIn, request: Request, who: Customer) -> dict[str, Any]:
    """Stars (1-5) for the store and the courier of a delivered order, once."""

    async def move(tx: Tx) -> dict[str, Any]:
        own(who, tx.rec.customer, order_id, admin_may=False)
        rating = tx.rec.sales.rate(tx.dispatch_status, body.store_stars, body.courier_stars, body.comment, at_or_after(()))
        store, courier = tx.rec.store, (tx.order or {}).get("courier") or ""

        async def aggregate(p: Any) -> None:
            p.hincrby(rating_key("store", store), "count", 1)
            p.hincrby(rating_key("store", store), "stars", rating.store_stars)
            if courier:
                p.hincrby(rating_key("courier", courier), "count", 1)
                p.hincrby(rating_key("courier", courier), "stars", rating.courier_stars)

        tx.later(aggregate)
        tx.audit(who, "rate_order", order_id, store=store, store_stars=rating.store_stars, courier=courier, courier_stars=rating.courier_stars)
        return {"order_id": order_id, "store": store, "courier": courier or None, **(rating_out(rating) or {})}

    return await run(request, order_id, move)


@router.get("/orders/{order_id}/after-sales", operation_id="order_after_sales")
async def order_after_sales(order_id: str, request: Request, who: Caller) -> dict[str, Any]:
    """Every refund and return request, complaint (with notes) and the rating of an order, with their histories."""
    try:
        rec, _, order = await store_of(request).read(order_id)
    except CommerceError as exc:
        raise refuse(exc) from None
    if who.role not in ("admin", "planner") and rec.customer != who.user:
        raise HTTPException(403, f"order {order_id} is not yours")
    return {**record_out(rec), "order_status": order["status"] if order else None}


# -- support -----------------------------------------------------------------------------------
@router.get("/after-sales", operation_id="after_sales_queue")
async def queue(request: Request, who: Planner,
                status: str | None = Query(None, json_schema_extra={"anyOf": [{"enum": list(STATUSES)}, {"type": "null"}]}),
                kind: Literal["refund", "return", "complaint"] | None = None,
                limit: int = Query(100, ge=1, le=1000, description="how many orders (most recently changed first) to look through")) -> list[dict[str, Any]]:
    """Requests and complaints of the most recently active orders, filtered by ``status`` and ``kind`` (planners and admins)."""
    if status is not None and status not in STATUSES:
        raise HTTPException(422, f"status must be one of {', '.join(STATUSES)}")
    out: list[dict[str, Any]] = []
    for rec in await store_of(request).orders(limit):
        items = [request_out(rec, r) for r in rec.sales.requests] + [complaint_out(rec, c) for c in rec.sales.complaints]
        out += [i for i in items if (status is None or i["status"] == status) and (kind is None or i["kind"] == kind)]
    return out


async def _decide(request: Request, order_id: str, n: int, who: Principal, action: str, body: DecisionIn | None) -> dict[str, Any]:
    body = body or DecisionIn()
    store = store_of(request)

    async def move(tx: Tx) -> dict[str, Any]:
        req: RefundRequest = nth(tx.rec.sales.requests, n, "unknown_request", "request")
        done: dict[str, Any] = {}
        if action == "approve":
            req.approve(at_or_after(req.history), who.user)
        elif action == "reject":
            req.reject(at_or_after(req.history), who.user, body.reason)
        else:
            done = await store.refund(tx, req, who, body.payment_ref)
        if action != "refund":
            tx.audit(who, f"{action}_after_sales", req.id, order=order_id, reason=body.reason)
        return {**request_out(tx.rec, req), **done}

    return await run(request, order_id, move)


@router.post("/after-sales/{order_id}/refund-requests/{n}/approve", operation_id="approve_after_sales_request")
async def approve(order_id: str, n: int, request: Request, who: Admin, body: DecisionIn | None = None) -> dict[str, Any]:
    """Accept refund or return request ``n`` (a return: the customer may send the goods back)."""
    return await _decide(request, order_id, n, who, "approve", body)


@router.post("/after-sales/{order_id}/refund-requests/{n}/reject", operation_id="reject_after_sales_request")
async def reject(order_id: str, n: int, request: Request, who: Admin, body: DecisionIn | None = None) -> dict[str, Any]:
    """Turn request ``n`` down (its units and money may be claimed again)."""
    return await _decide(request, order_id, n, who, "reject", body)


@router.post("/after-sales/{order_id}/refund-requests/{n}/refund", operation_id="refund_after_sales_request",
             responses={409: {"description": "not approved, or more than was paid less what was refunded"}})
async def refund(order_id: str, n: int, request: Request, who: Admin, body: DecisionIn | None = None) -> dict[str, Any]:
    """Pay approved request ``n`` back: the ``refunds`` stream, ``refunded_cents``, a return's units back in stock, points revoked."""
    return await _decide(request, order_id, n, who, "refund", body)


@router.post("/after-sales/{order_id}/complaints/{n}/status", operation_id="move_complaint")
async def move_complaint(order_id: str, n: int, body: ComplaintMove, request: Request, who: Admin) -> dict[str, Any]:
    """open -> in_progress -> resolved or closed (each with an optional note); any other move is 409 ``illegal_transition``."""

    async def move(tx: Tx) -> dict[str, Any]:
        complaint: Complaint = nth(tx.rec.sales.complaints, n, "unknown_complaint", "complaint")
        now = at_or_after(complaint.history)
        if body.status == ComplaintStatus.IN_PROGRESS:
            complaint.start(now, who.user)
            if body.note:
                complaint.add_note(who.user, body.note, now)
        elif body.status == ComplaintStatus.RESOLVED:
            complaint.resolve(now, who.user, body.note)
        else:
            complaint.close(now, who.user, body.note)
        tx.audit(who, f"complaint_{body.status}", complaint.id, order=order_id, note=body.note)
        return complaint_out(tx.rec, complaint)

    return await run(request, order_id, move)


@router.post("/after-sales/{order_id}/complaints/{n}/notes", status_code=201, operation_id="note_complaint")
async def note_complaint(order_id: str, n: int, body: NoteIn, request: Request, who: Admin) -> dict[str, Any]:
    """A note on a live ticket (a resolved or closed one takes none: 409)."""

    async def move(tx: Tx) -> dict[str, Any]:
        complaint: Complaint = nth(tx.rec.sales.complaints, n, "unknown_complaint", "complaint")
        complaint.add_note(who.user, body.text, at_or_after(complaint.history))
        tx.audit(who, "complaint_note", complaint.id, order=order_id)
        return complaint_out(tx.rec, complaint)

    return await run(request, order_id, move)


# -- ratings -----------------------------------------------------------------------------------
@router.get("/stores/{store_id}/rating", operation_id="store_rating")
async def store_rating(store_id: str, request: Request) -> dict[str, Any]:
    """How customers rated the store: ``count`` and ``mean`` stars (null before the first rating). Public."""
    return await store_of(request).rating("store", store_id)


@router.get("/couriers/{courier_id}/rating", operation_id="courier_rating")
async def courier_rating(courier_id: str, request: Request, who: Caller) -> dict[str, Any]:
    """How customers rated the courier: ``count`` and ``mean`` stars (any signed-in caller)."""
    return await store_of(request).rating("courier", courier_id)
