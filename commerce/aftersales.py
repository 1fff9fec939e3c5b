"""After-sales: cancellation before pickup, refunds and returns after delivery, complaints, ratings.

Cancellation is only possible while the store still has the goods (before the courier picks them
up); it says what to give back — stock, the coupon use, the points spent, the money paid — and the
caller applies it (points through reverse ledger entries). Once the goods are out, the order runs
to delivery, and what goes wrong afterwards is an after-sales request on the delivered order.

Refund and return requests, and complaint tickets, are small state machines in the house style of
``dispatch.order``: every change is an ``Event`` in ``history``; any other move raises
``IllegalMove`` (both a ``CommerceError`` with code "illegal_transition", so the API maps it, and an
``IllegalTransition`` naming the entity, its state and the attempt). ``OrderAfterSales`` holds
every request of one order, so the caps hold across requests: no more units than were ordered, no
more money than was paid.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from commerce.errors import CommerceError
from commerce.pricing import FLASH, GOODS, CartLine, PriceQuote, merge_lines
from dispatch.errors import IllegalTransition
from dispatch.events import Event

# dispatch.order statuses, as strings so callers may pass an OrderStatus or its value
BEFORE_PICKUP = frozenset({"placed", "paid", "accepted", "preparing", "ready", "assigned"})
AFTER_PICKUP = frozenset({"picked_up", "delivered"})
CLOSED = frozenset({"cancelled", "refunded", "failed"})
UNPAID = frozenset({"placed"})
DELIVERED = "delivered"
STARS = range(1, 6)


class IllegalMove(CommerceError, IllegalTransition):
    """An after-sales entity was asked for a move its state does not allow."""

    def __init__(self, kind: str, entity_id: str, state: str, attempted: str, reason: str = "") -> None:
        IllegalTransition.__init__(self, kind, entity_id, str(state), str(attempted), reason)
        self.code = "illegal_transition"
        self.detail = str(self)


def _goods_by_sku(quote: PriceQuote) -> dict[str, int]:
    """Gross cents per SKU (store and flash price lines) before cart-wide discounts."""
    gross: dict[str, int] = {}
    for line in quote.lines:
        if line.code in (GOODS, FLASH) and line.sku is not None:
            gross[line.sku] = gross.get(line.sku, 0) + line.amount_cents
    return gross


def _check_lines_match(quote: PriceQuote, ordered: dict[str, int]) -> None:
    priced = set(_goods_by_sku(quote))
    if priced != set(ordered):
        raise CommerceError("lines_mismatch", f"the order lines {sorted(ordered)} are not the quote's {sorted(priced)}")


# -- cancellation --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Restoration:
    """What a cancellation gives back: units per SKU, the coupon use, the points spent, the money paid."""

    stock: dict[str, int]
    coupon: str | None
    points: int
    refund_cents: int


def cancellation(quote: PriceQuote, lines: Sequence[CartLine], coupon_code: str | None, dispatch_status: str) -> Restoration:
    """What to restore when the order is cancelled in ``dispatch_status``; refused once picked up.

    The coupon comes back only if the quote applied it (a coupon that lost to a 满减 tier was
    never used); ``coupon_code``, the code the customer presented, must agree with the quote.
    Points spent come back even if unpaid (they were taken at checkout); money only if paid.
    """
    status = str(dispatch_status)
    if status in AFTER_PICKUP:
        raise CommerceError("too_late", f"the order is {status}: the courier has the goods, it can no longer be cancelled")
    if status in CLOSED:
        raise CommerceError("not_cancellable", f"the order is already {status}")
    if status not in BEFORE_PICKUP:
        raise CommerceError("unknown_status", f"unknown order status {status!r}")
    if quote.coupon is not None and coupon_code is not None and coupon_code != quote.coupon:
        raise CommerceError("coupon_mismatch", f"the order used coupon {quote.coupon}, not {coupon_code}")
    stock = merge_lines(lines)
    _check_lines_match(quote, stock)
    return Restoration(
        stock=stock,
        coupon=quote.coupon,
        points=quote.points_used,
        refund_cents=0 if status in UNPAID else quote.total_cents,
    )


# -- state machines ------------------------------------------------------------------------------
class _Machine:
    """Status + history + the only way to change status (``_go``), as in ``dispatch.order``."""

    kind: ClassVar[str]
    transitions: ClassVar[dict[Any, frozenset[Any]]]
    id: str
    status: Any
    history: list[Event]

    def _check_time(self, time: float, attempted: str) -> None:
        if self.history and time < self.history[-1].time:
            raise IllegalMove(self.kind, self.id, self.status, attempted, f"time {time} is before the last event at {self.history[-1].time}")

    def _go(self, to: Any, time: float, actor: str, **data: Any) -> Event:
        if to not in self.transitions[self.status]:
            raise IllegalMove(self.kind, self.id, self.status, to)
        self._check_time(time, str(to))
        self.status = to
        event = Event(str(to), time, self.id, actor, data)
        self.history.append(event)
        return event


class RequestStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    REFUNDED = "refunded"


R = RequestStatus
REQUEST_TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    R.REQUESTED: frozenset({R.APPROVED, R.REJECTED}),
    R.APPROVED: frozenset({R.REFUNDED}),
    R.REJECTED: frozenset(),
    R.REFUNDED: frozenset(),
}
# requests whose units and money are spoken for (a rejected one gives them back)
COMMITTED = frozenset({R.REQUESTED, R.APPROVED, R.REFUNDED})


@dataclass(slots=True, eq=False)
class RefundRequest(_Machine):
    """Money back for some lines of a delivered order, goods kept (missing, spoilt). Made by ``OrderAfterSales``."""

    kind: ClassVar[str] = "refund"
    transitions: ClassVar[dict[Any, frozenset[Any]]] = REQUEST_TRANSITIONS
    returns_goods: ClassVar[bool] = False

    id: str
    order_id: str
    lines: tuple[CartLine, ...]
    amount_cents: int
    created_at: float
    reason: str = ""
    status: RequestStatus = RequestStatus.REQUESTED
    history: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.history:
            self.history.append(Event(str(R.REQUESTED), self.created_at, self.id, "customer",
                                      {"order": self.order_id, "amount_cents": self.amount_cents, "reason": self.reason}))

    def approve(self, time: float, actor: str = "support") -> Event:
        return self._go(R.APPROVED, time, actor)

    def reject(self, time: float, actor: str = "support", reason: str = "") -> Event:
        return self._go(R.REJECTED, time, actor, reason=reason)

    def refund(self, time: float, actor: str = "payments", payment_ref: str = "") -> Event:
        """The money went back (the provider confirmed it)."""
        return self._go(R.REFUNDED, time, actor, amount_cents=self.amount_cents, payment_ref=payment_ref)

    @property
    def is_open(self) -> bool:
        return self.status in (R.REQUESTED, R.APPROVED)


@dataclass(slots=True, eq=False)
class ReturnRequest(RefundRequest):
    """Goods go back to the store, then the money back; ``restock`` says what the store gets back."""

    kind: ClassVar[str] = "return"
    returns_goods: ClassVar[bool] = True

    @property
    def restock(self) -> dict[str, int]:
        return merge_lines(self.lines) if self.status == R.REFUNDED else {}


class ComplaintStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


C = ComplaintStatus
COMPLAINT_TRANSITIONS: dict[ComplaintStatus, frozenset[ComplaintStatus]] = {
    C.OPEN: frozenset({C.IN_PROGRESS}),
    C.IN_PROGRESS: frozenset({C.RESOLVED, C.CLOSED}),
    C.RESOLVED: frozenset(),
    C.CLOSED: frozenset(),
}


@dataclass(frozen=True)
class Note:
    author: str
    text: str
    at: float


@dataclass(slots=True, eq=False)
class Complaint(_Machine):
    """A support ticket about an order; notes record the conversation until it is resolved or closed."""

    kind: ClassVar[str] = "complaint"
    transitions: ClassVar[dict[Any, frozenset[Any]]] = COMPLAINT_TRANSITIONS

    id: str
    order_id: str
    subject: str
    opened_at: float
    opened_by: str = "customer"
    status: ComplaintStatus = ComplaintStatus.OPEN
    notes: list[Note] = field(default_factory=list)
    history: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.subject.strip():
            raise CommerceError("bad_complaint", "a complaint needs a subject")
        if not self.history:
            self.history.append(Event(str(C.OPEN), self.opened_at, self.id, self.opened_by, {"order": self.order_id, "subject": self.subject}))

    def add_note(self, author: str, text: str, time: float) -> Note:
        """A note while the ticket is live; a resolved or closed ticket is a record and takes none."""
        if self.status in (C.RESOLVED, C.CLOSED):
            raise IllegalMove(self.kind, self.id, self.status, "note")
        if not text.strip():
            raise CommerceError("bad_note", "a note needs some text")
        self._check_time(time, "note")
        note = Note(author, text, time)
        self.notes.append(note)
        self.history.append(Event("note", time, self.id, author, {"text": text}))
        return note

    def start(self, time: float, actor: str = "support") -> Event:
        return self._go(C.IN_PROGRESS, time, actor)

    def resolve(self, time: float, actor: str = "support", note: str = "") -> Event:
        return self._finish(C.RESOLVED, time, actor, note)

    def close(self, time: float, actor: str = "support", note: str = "") -> Event:
        """Closed without a resolution (withdrawn, duplicate, no response)."""
        return self._finish(C.CLOSED, time, actor, note)

    def _finish(self, to: ComplaintStatus, time: float, actor: str, note: str) -> Event:
        if to not in COMPLAINT_TRANSITIONS[self.status]:
            raise IllegalMove(self.kind, self.id, self.status, to)
        if note:
            self.add_note(actor, note, time)
        return self._go(to, time, actor)


@dataclass(frozen=True)
class Rating:
    """The customer's stars for the store and the courier of one delivered order (1-5 each)."""

    order: str
    store_stars: int
    courier_stars: int
    comment: str = ""
    at: float = 0.0

    def __post_init__(self) -> None:
        for what, stars in (("store", self.store_stars), ("courier", self.courier_stars)):
            if isinstance(stars, bool) or not isinstance(stars, int) or stars not in STARS:
                raise CommerceError("bad_stars", f"{what} stars must be a whole number from 1 to 5, got {stars!r}")


# -- one order's after-sales ---------------------------------------------------------------------
class OrderAfterSales:
    """Every refund, return, complaint and the rating of one order, so caps hold across them.

    ``quote``/``lines`` are the order as priced; what was paid is ``quote.total_cents``.
    """

    def __init__(self, order_id: str, quote: PriceQuote, lines: Sequence[CartLine]) -> None:
        self.order_id = order_id
        self.quote = quote
        self.ordered = merge_lines(lines)
        _check_lines_match(quote, self.ordered)
        self.paid_cents = quote.total_cents
        self.requests: list[RefundRequest] = []
        self.complaints: list[Complaint] = []
        self.rating: Rating | None = None

    # -- money and units ---------------------------------------------------------------------------
    @property
    def refunded_cents(self) -> int:
        return sum(r.amount_cents for r in self.requests if r.status == R.REFUNDED)

    @property
    def committed_cents(self) -> int:
        """Refunded plus asked for and not yet rejected: what a new request cannot take again."""
        return sum(r.amount_cents for r in self.requests if r.status in COMMITTED)

    @property
    def refundable_cents(self) -> int:
        return self.paid_cents - self.committed_cents

    def units_left(self, sku: str) -> int:
        taken = sum(line.qty for r in self.requests if r.status in COMMITTED for line in r.lines if line.sku == sku)
        return self.ordered.get(sku, 0) - taken

    def line_value(self, sku: str, qty: int) -> int:
        """Pro-rata share of the cash paid for goods (after discounts and points) of ``qty`` units of ``sku``.

        Rounded down, so the shares of all lines never add up to more than was paid.
        """
        gross = _goods_by_sku(self.quote)
        paid_goods = self.quote.total_cents - self.quote.delivery_cents
        if self.quote.goods_cents <= 0 or sku not in self.ordered:
            return 0
        return paid_goods * gross[sku] * qty // (self.ordered[sku] * self.quote.goods_cents)

    # -- requests ----------------------------------------------------------------------------------
    def request_refund(self, lines: Sequence[CartLine], dispatch_status: str, now: float,
                       amount_cents: int | None = None, reason: str = "") -> RefundRequest:
        return self._request(RefundRequest, "rf", lines, dispatch_status, now, amount_cents, reason)

    def request_return(self, lines: Sequence[CartLine], dispatch_status: str, now: float,
                       amount_cents: int | None = None, reason: str = "") -> ReturnRequest:
        request = self._request(ReturnRequest, "rt", lines, dispatch_status, now, amount_cents, reason)
        assert isinstance(request, ReturnRequest)
        return request

    def _request(self, cls: type[RefundRequest], prefix: str, lines: Sequence[CartLine], dispatch_status: str, now: float,
                 amount_cents: int | None, reason: str) -> RefundRequest:
        self._require_delivered(dispatch_status, f"a {cls.kind}")
        wanted = merge_lines(lines)
        if not wanted:
            raise CommerceError("no_lines", f"a {cls.kind} names the lines it is for")
        for sku, qty in wanted.items():
            if sku not in self.ordered:
                raise CommerceError("not_in_order", f"order {self.order_id} has no {sku}")
            if qty > self.units_left(sku):
                raise CommerceError("too_many_units", f"order {self.order_id}: {qty} × {sku} asked, "
                                                      f"{self.units_left(sku)} of {self.ordered[sku]} left to claim")
        if amount_cents is None:
            amount_cents = sum(self.line_value(sku, qty) for sku, qty in wanted.items())
        if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
            raise CommerceError("invalid_amount", f"a {cls.kind} is a positive whole number of cents, got {amount_cents!r}")
        if amount_cents > self.refundable_cents:
            raise CommerceError("refund_exceeds_paid", f"order {self.order_id}: {amount_cents} cents asked, paid {self.paid_cents}, "
                                                       f"already refunded or claimed {self.committed_cents}")
        request = cls(f"{prefix}-{self.order_id}-{len(self.requests) + 1}", self.order_id,
                      tuple(CartLine(sku, qty) for sku, qty in wanted.items()), amount_cents, now, reason)
        self.requests.append(request)
        return request

    # -- complaints and rating -----------------------------------------------------------------------
    def complain(self, subject: str, now: float, by: str = "customer") -> Complaint:
        complaint = Complaint(f"cp-{self.order_id}-{len(self.complaints) + 1}", self.order_id, subject, now, by)
        self.complaints.append(complaint)
        return complaint

    def rate(self, dispatch_status: str, store_stars: int, courier_stars: int, comment: str = "", now: float = 0.0) -> Rating:
        """Once per order, only once it is delivered."""
        self._require_delivered(dispatch_status, "a rating")
        if self.rating is not None:
            raise CommerceError("already_rated", f"order {self.order_id} was rated at {self.rating.at}")
        self.rating = Rating(self.order_id, store_stars, courier_stars, comment, now)
        return self.rating

    def _require_delivered(self, dispatch_status: str, what: str) -> None:
        if str(dispatch_status) != DELIVERED:
            raise CommerceError("not_delivered", f"order {self.order_id} is {dispatch_status}; {what} needs a delivered order")
