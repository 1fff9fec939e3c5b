"""After-sales in Redis: one ``OrderAfterSales`` per checkout order, as JSON under ``aftersales:{order_id}``.

Every change is one optimistic transaction: WATCH the after-sales key and the checkout hash (and,
for a refund, the customer's points balance and ledger refs), rebuild the order's after-sales from
them, apply the move with the ``commerce.aftersales`` rules, then MULTI/EXEC the new state together
with everything the move implies (the ``refunds`` stream and ``refunded_cents``, restocked units,
the points revoked, the rating aggregates, the audit entry). If any watched key changed meanwhile
the EXEC fails and the move is tried again on fresh state, so two concurrent requests cannot both
pass a cap, and a refund is recorded exactly once with its side effects or not at all.

The quote and lines come from the checkout hash (written once at placement); the state only holds
what after-sales added: requests, complaints (with what they are about), the rating, and what each
refund did to the points.
"""
from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import WatchError

from actors import live_keys as K
from actors.live_host import minutes_now
from api import orders as svc
from api.orders import dt
from api.security import Principal
from api.shop.checkout import checkout_key, spend_key
from api.shop.inventory import sold_key, stock_key
from api.shop.wallet import Wallet, points_keys
from commerce.aftersales import (
    Complaint,
    ComplaintStatus,
    Note,
    OrderAfterSales,
    Rating,
    RefundRequest,
    RequestStatus,
    ReturnRequest,
)
from commerce.errors import CommerceError
from commerce.membership import points_earned
from commerce.pricing import CartLine, PriceLine, PriceQuote
from dispatch.events import Event

INDEX = "aftersales:orders"  # zset order id -> live minute of its last after-sales change
RETRIES = 64
ABOUT = ("store", "courier", "app")


def aftersales_key(order_id: str) -> str:
    return f"aftersales:{order_id}"


def rating_key(kind: str, entity: str) -> str:
    """Hash ``count`` and ``stars`` (their sum) of a store's or a courier's ratings."""
    return f"ratings:{kind}:{entity}"


class Busy(Exception):
    """The order's after-sales kept changing under us; the caller may try again."""


@dataclass
class Record:
    """One order's ``OrderAfterSales`` plus what the API keeps beside it."""

    sales: OrderAfterSales
    customer: str
    store: str
    about: dict[str, str] = field(default_factory=dict)  # complaint id -> store | courier | app
    points: dict[str, dict[str, Any]] = field(default_factory=dict)  # request id -> what its refund did to the points
    exists: bool = False  # read from Redis (False: built fresh from the checkout)


# -- (de)serialisation ---------------------------------------------------------------------------
def quote_of(raw: dict[str, Any]) -> PriceQuote:
    """The ``PriceQuote`` back from the checkout hash's ``quote`` JSON (``checkout._quote_dict``)."""
    return PriceQuote(
        lines=tuple(PriceLine(**line) for line in raw["lines"]), goods_cents=int(raw["goods_cents"]),
        discount_cents=int(raw["discount_cents"]), points_used=int(raw["points_used"]), points_cents=int(raw["points_cents"]),
        delivery_cents=int(raw["delivery_cents"]), total_cents=int(raw["total_cents"]), coupon=raw.get("coupon"),
        flash_units={k: int(v) for k, v in (raw.get("flash_units") or {}).items()},
    )


def _event(d: dict[str, Any]) -> Event:
    return Event(d["type"], float(d["time"]), d["entity"], d.get("actor", "system"), dict(d.get("data") or {}))


def dump(rec: Record) -> str:
    s = rec.sales
    return json.dumps({
        "v": 1, "order": s.order_id, "customer": rec.customer, "store": rec.store,
        "requests": [{"kind": r.kind, "id": r.id, "lines": [[line.sku, line.qty] for line in r.lines], "amount_cents": r.amount_cents,
                      "created_at": r.created_at, "reason": r.reason, "status": str(r.status),
                      "history": [e.to_dict() for e in r.history]} for r in s.requests],
        "complaints": [{"id": c.id, "subject": c.subject, "opened_at": c.opened_at, "opened_by": c.opened_by, "status": str(c.status),
                        "notes": [[n.author, n.text, n.at] for n in c.notes], "history": [e.to_dict() for e in c.history]}
                       for c in s.complaints],
        "rating": None if s.rating is None else {"store_stars": s.rating.store_stars, "courier_stars": s.rating.courier_stars,
                                                 "comment": s.rating.comment, "at": s.rating.at},
        "about": rec.about, "points": rec.points,
    }, ensure_ascii=False)


def build(order_id: str, checkout: dict[str, str], state: bytes | str | None) -> Record:
    """The order's after-sales: fresh from the checkout, with the stored state (if any) laid over it."""
    lines = [CartLine(line["sku"], int(line["qty"])) for line in json.loads(checkout["lines"])]
    sales = OrderAfterSales(order_id, quote_of(json.loads(checkout["quote"])), lines)
    rec = Record(sales, checkout["customer"], checkout["store"])
    if state is None:
        return rec
    raw = json.loads(state)
    for r in raw["requests"]:
        cls = ReturnRequest if r["kind"] == "return" else RefundRequest
        sales.requests.append(cls(r["id"], order_id, tuple(CartLine(sku, int(qty)) for sku, qty in r["lines"]), int(r["amount_cents"]),
                                  float(r["created_at"]), r["reason"], RequestStatus(r["status"]), [_event(e) for e in r["history"]]))
    for c in raw["complaints"]:
        sales.complaints.append(Complaint(c["id"], order_id, c["subject"], float(c["opened_at"]), c["opened_by"], ComplaintStatus(c["status"]),
                                          [Note(a, t, float(at)) for a, t, at in c["notes"]], [_event(e) for e in c["history"]]))
    if raw.get("rating"):
        g = raw["rating"]
        sales.rating = Rating(order_id, int(g["store_stars"]), int(g["courier_stars"]), g["comment"], float(g["at"]))
    rec.about, rec.points, rec.exists = dict(raw.get("about") or {}), dict(raw.get("points") or {}), True
    return rec


def _history(events: Sequence[Event]) -> list[dict[str, Any]]:
    return [{"type": e.type, "at": dt(e.time), "actor": e.actor, "data": e.data} for e in events]


def request_out(rec: Record, request: RefundRequest) -> dict[str, Any]:
    return {"id": request.id, "n": rec.sales.requests.index(request) + 1, "order_id": request.order_id, "kind": request.kind,
            "status": str(request.status), "lines": [{"sku": line.sku, "qty": line.qty} for line in request.lines],
            "amount_cents": request.amount_cents, "reason": request.reason, "created_at": dt(request.created_at),
            "points": rec.points.get(request.id), "history": _history(request.history)}


def complaint_out(rec: Record, complaint: Complaint) -> dict[str, Any]:
    return {"id": complaint.id, "n": rec.sales.complaints.index(complaint) + 1, "order_id": complaint.order_id, "kind": "complaint",
            "about": rec.about.get(complaint.id, "app"), "text": complaint.subject, "status": str(complaint.status),
            "opened_by": complaint.opened_by, "opened_at": dt(complaint.opened_at),
            "notes": [{"author": n.author, "text": n.text, "at": dt(n.at)} for n in complaint.notes], "history": _history(complaint.history)}


def rating_out(rating: Rating | None) -> dict[str, Any] | None:
    if rating is None:
        return None
    return {"store_stars": rating.store_stars, "courier_stars": rating.courier_stars, "comment": rating.comment, "at": dt(rating.at)}


def record_out(rec: Record) -> dict[str, Any]:
    s = rec.sales
    return {"order_id": s.order_id, "customer": rec.customer, "store": rec.store, "paid_cents": s.paid_cents,
            "refunded_cents": s.refunded_cents, "claimed_cents": s.committed_cents, "refundable_cents": s.refundable_cents,
            "requests": [request_out(rec, r) for r in s.requests], "complaints": [complaint_out(rec, c) for c in s.complaints],
            "rating": rating_out(s.rating)}


def at_or_after(history: Sequence[Event]) -> float:
    """Now, but never before the entity's last event (workers' clocks may differ by a little)."""
    now = minutes_now()
    return max(now, history[-1].time) if history else now


# -- the store -----------------------------------------------------------------------------------
Op = Callable[[Any], Awaitable[Any]]  # a write queued inside MULTI (it gets the pipeline)


@dataclass
class Tx:
    """What a move sees (read under WATCH) and what it adds to the transaction."""

    pipe: Any
    rec: Record
    checkout: dict[str, str]
    order: dict[str, str] | None  # the dispatch order hash; None before payment
    ops: list[Op] = field(default_factory=list)

    @property
    def dispatch_status(self) -> str:
        return self.order["status"] if self.order else self.checkout["status"]

    async def watch(self, *keys: str) -> None:
        await self.pipe.watch(*keys)

    def later(self, op: Op) -> None:
        self.ops.append(op)

    def audit(self, who: Principal, action: str, target: str, **extra: Any) -> None:
        self.later(lambda p: svc.audit(p, who, action, target, **extra))


class AfterSalesStore:
    def __init__(self, redis: Any, wallet: Wallet) -> None:
        self.r, self.wallet = redis, wallet

    async def read(self, order_id: str) -> tuple[Record, dict[str, str], dict[str, str] | None]:
        checkout = await self._checkout(self.r, order_id)
        return build(order_id, checkout, await self.r.get(aftersales_key(order_id))), checkout, await self._order(self.r, order_id)

    async def update(self, order_id: str, move: Callable[[Tx], Awaitable[Any]]) -> Any:
        """Run ``move`` on fresh state until its transaction commits; its result. A ``CommerceError`` aborts it."""
        key = aftersales_key(order_id)
        async with self.r.pipeline(transaction=True) as pipe:
            for attempt in range(RETRIES):
                try:
                    await pipe.watch(key, checkout_key(order_id))
                    checkout = await self._checkout(pipe, order_id)
                    tx = Tx(pipe, build(order_id, checkout, await pipe.get(key)), checkout, await self._order(pipe, order_id))
                    result = await move(tx)
                    pipe.multi()
                    pipe.set(key, dump(tx.rec))
                    pipe.zadd(INDEX, {order_id: minutes_now()})
                    for op in tx.ops:
                        await op(pipe)
                    await pipe.execute()
                    return result
                except WatchError:
                    await asyncio.sleep(random.uniform(0, 0.002 * min(attempt + 1, 20)))
                finally:
                    await pipe.reset()
        raise Busy(f"the after-sales of order {order_id} kept changing; try again")

    async def orders(self, limit: int) -> list[Record]:
        """The latest ``limit`` orders with after-sales, most recently changed first."""
        ids = [m.decode() for m in await self.r.zrevrange(INDEX, 0, limit - 1)]
        out = []
        for order_id in ids:
            state = await self.r.get(aftersales_key(order_id))
            raw = await self.r.hgetall(checkout_key(order_id))
            if state is not None and raw:
                out.append(build(order_id, {k.decode(): v.decode() for k, v in raw.items()}, state))
        return out

    async def rating(self, kind: str, entity: str) -> dict[str, Any]:
        raw = await self.r.hgetall(rating_key(kind, entity))
        count, stars = int(raw.get(b"count", 0)), int(raw.get(b"stars", 0))
        return {kind: entity, "count": count, "mean": round(stars / count, 2) if count else None}

    @staticmethod
    async def _checkout(client: Any, order_id: str) -> dict[str, str]:
        raw = await client.hgetall(checkout_key(order_id))
        if not raw:
            if await client.exists(K.order_key(order_id)):  # placed with POST /orders: a delivery, not a shop sale
                raise CommerceError("not_a_checkout_order", f"order {order_id} was placed with POST /orders, not through the shop "
                                                            "checkout; refunds, returns, complaints and ratings cover checkout orders only")
            raise CommerceError("unknown_order", f"no checkout order {order_id}")
        return {k.decode(): v.decode() for k, v in raw.items()}

    @staticmethod
    async def _order(client: Any, order_id: str) -> dict[str, str] | None:
        raw = await client.hgetall(K.order_key(order_id))
        return {k.decode(): v.decode() for k, v in raw.items()} if raw else None

    # -- the refund itself ---------------------------------------------------------------------
    async def refund(self, tx: Tx, request: RefundRequest, who: Principal, payment_ref: str) -> dict[str, Any]:
        """Within ``tx``: the approved ``request`` is paid back, with everything that follows from it.

        The money: never more than was paid less what was already refunded (the checkout's
        ``refunded_cents`` also counts a cancellation's refund). The goods of a return go back on
        the shelf. The lifetime spend drops by the goods share. The points earned on the refunded
        share are revoked (``revoke_earn``, ref = the request id, so each refund revokes once), unless
        the customer already spent them (recorded as skipped) or they were never earned (the
        delivery credit then earns on what is left, ``workers.credit_one``).
        """
        c, order_id = tx.checkout, tx.rec.sales.order_id
        paid, refunded = int(c["total_cents"]), int(c.get("refunded_cents") or 0)
        if refunded + request.amount_cents > paid:
            raise CommerceError("refund_exceeds_paid", f"order {order_id}: refunding {request.amount_cents} cents would exceed "
                                                       f"the {paid} paid ({refunded} already refunded)")
        request.refund(at_or_after(request.history), who.user, payment_ref)
        goods_paid = int(c["goods_paid_cents"])
        goods_before, goods_after = min(refunded, goods_paid), min(refunded + request.amount_cents, goods_paid)
        points = await self._revoke(tx, goods_paid, goods_after, request.id)
        tx.rec.points[request.id] = points
        restock = request.restock if isinstance(request, ReturnRequest) else {}
        store, customer, cents = c["store"], c["customer"], request.amount_cents

        async def write(p: Any) -> None:
            p.xadd("refunds", {"order": order_id, "cents": cents, "reason": f"{request.kind} {request.id}", "request": request.id,
                               "at": minutes_now()})
            p.hincrby(checkout_key(order_id), "refunded_cents", cents)
            for sku, qty in restock.items():
                p.hincrby(stock_key(store), sku, qty)
                p.hincrby(sold_key(store), sku, -qty)
            if goods_after > goods_before:
                p.decrby(spend_key(customer), goods_after - goods_before)
            if points.get("revoked"):
                await self.wallet._points(keys=points_keys(customer), args=[-points["revoked"], "revoke_earn", request.id, minutes_now()],
                                          client=p)

        tx.later(write)
        tx.audit(who, "refund_after_sales", request.id, order=order_id, cents=cents, restock=json.dumps(restock),
                 points_revoked=points.get("revoked", 0), points_skipped=points.get("skipped", ""))
        return {"restocked": restock, "points": points}

    async def _revoke(self, tx: Tx, goods_paid: int, goods_refunded_after: int, ref: str) -> dict[str, Any]:
        """How many earned points this refund takes back (watching the balance so the check holds at EXEC)."""
        customer, order_id = tx.checkout["customer"], tx.rec.sales.order_id
        accounted = sum(int(p.get("due", 0)) for p in tx.rec.points.values())  # earlier refunds revoked or skipped these
        due = points_earned(goods_paid) - points_earned(goods_paid - goods_refunded_after) - accounted
        if due <= 0:
            return {"due": 0, "revoked": 0}
        balance_key, _, refs_key = points_keys(customer)
        await tx.watch(balance_key, refs_key)
        if not await tx.pipe.sismember(refs_key, f"earn:{order_id}"):
            return {"due": due, "revoked": 0, "skipped": "not_earned"}
        balance = int(await tx.pipe.get(balance_key) or 0)
        if balance < due:
            return {"due": due, "revoked": 0, "skipped": "points_spent", "balance": balance}
        return {"due": due, "revoked": due}
