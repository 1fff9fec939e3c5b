"""Orders and quotes (customers); reading an order follows the scope rule of ``api.orders.may_see``."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from api import orders as svc
from api import pin
from api.deps import Caller, Config, Customer, Redis, role
from api.idempotency import IDEMPOTENCY_KEY, IdempotencyError, run_once
from api.models import Accepted, OrderCreate, OrderCreated, OrderPublic, PinUnlocked, Quote, QuoteRequest, Tracking
from api.security import Principal
from api.security import tracking_token
from commerce.errors import CommerceError

router = APIRouter(tags=["orders"])


def _fail(exc: svc.OrderError | IdempotencyError) -> HTTPException:
    return HTTPException(exc.status, exc.detail)


@router.post("/quote", response_model=Quote, operation_id="quote_delivery")
async def quote(body: QuoteRequest, r: Redis, cfg: Config, who: Customer) -> Quote:
    """Fee and ETA for asap; the bookable slots (with free capacity in the door's zone) for scheduled."""
    try:
        return await svc.quote(r, cfg, body.store_id, body.dropoff, body.mode)
    except svc.OrderError as exc:
        raise _fail(exc) from None


@router.post("/orders", status_code=201, response_model=OrderCreated, operation_id="create_order",
             responses={409: {"description": "slot full, or the same Idempotency-Key still in progress"}})
async def create_order(
    body: OrderCreate, request: Request, r: Redis, cfg: Config, who: Customer,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", json_schema_extra=IDEMPOTENCY_KEY)] = None,
) -> Any:
    """Place an order. With an ``Idempotency-Key`` header, a retry returns the first response and creates nothing."""

    answered: list[tuple[int, Any]] = []

    def answer(record: dict[str, Any]) -> tuple[int, Any]:
        """The 201 for ``record``, made once: the order's script stores it with the order, and it is what this returns."""
        if not answered:
            token = tracking_token(record["id"], cfg.tracking_secret, cfg.tracking_token_hours)
            tracking = Tracking(token=token, url=f"/track/{record['id']}?token={token}", ws=f"/ws/track/{record['id']}?token={token}")
            answered.append((201, OrderCreated(**svc.public(record, show_pin=True).model_dump(), tracking=tracking).model_dump(mode="json")))
        return answered[0]

    async def work() -> tuple[int, Any]:
        record = await svc.create_order(r, cfg, who, body, answer=answer)
        await svc.audit(r, who, "create_order", record["id"], store=body.store_id, mode=body.mode)
        return answer(record)

    try:
        status, out = await run_once(r, who.user, idempotency_key, body.model_dump(mode="json"), work)
    except (svc.OrderError, IdempotencyError) as exc:
        raise _fail(exc) from None
    return JSONResponse(out, status_code=status)


@router.get("/orders/{order_id}", response_model=OrderPublic, operation_id="get_order")
async def get_order(order_id: str, r: Redis, who: Caller) -> OrderPublic:
    try:
        order = await svc.load_order(r, order_id)
    except svc.OrderError as exc:
        raise _fail(exc) from None
    if not svc.may_see(who, order):
        raise HTTPException(403, f"order {order_id} is not yours")
    return svc.public(order, show_pin=who.role in ("customer", "admin"))


@router.get("/orders", response_model=list[OrderPublic], operation_id="list_my_orders")
async def my_orders(r: Redis, who: Customer,
                    limit: Annotated[int, Query(json_schema_extra={"minimum": 1, "maximum": 500})] = 50) -> list[OrderPublic]:
    """The caller's own orders, newest first."""
    if not 1 <= limit <= 500:
        raise HTTPException(422, "limit must be 1 to 500")
    ids = await r.zrevrange(f"orders:customer:{who.user}", 0, limit - 1)
    out = []
    for oid in ids:
        try:
            out.append(svc.public(await svc.load_order(r, oid.decode()), show_pin=True))
        except svc.OrderError:
            continue
    return out


@router.post("/orders/{order_id}/cancel", status_code=202, response_model=Accepted, operation_id="cancel_order",
             responses={409: {"description": "already picked up, delivered or closed"}})
async def cancel(order_id: str, request: Request, r: Redis, who: Customer) -> Accepted:
    """Cancel before pickup. The dispatcher confirms with a ``cancelled`` status frame. An order of the shop's checkout
    is cancelled as ``POST /checkout/orders/{id}/cancel`` does it: with its refund and everything it held given back."""
    try:
        order = await svc.load_order(r, order_id)
        if who.role != "admin" and order["customer"] != who.user:
            raise HTTPException(403, f"order {order_id} is not yours")
        refund = await queue_cancellation(request, r, order, who)
    except svc.OrderError as exc:
        raise _fail(exc) from None
    await svc.audit(r, who, "cancel_order", order_id, **({} if refund is None else {"refund": refund}))
    return Accepted(detail=f"cancellation of {order_id} queued" + ("" if refund is None else f"; {refund} cents refunded"))


async def queue_cancellation(request: Request, r: Any, order: dict[str, Any], who: Principal) -> int | None:
    """Cancel an order before its pickup, for whoever may (its customer, its store, an admin): a shop order with
    its refund and everything it held given back (``Shop.cancel_paid``), any other with its slot. The refund, or
    None for an order not paid through the shop. ``svc.OrderError`` (409) once it is picked up or closed."""
    if order.get("checkout") == "1":  # paid through the shop: the cancellation is also its refund
        try:
            return int(await request.app.state.shop.cancel_paid(order["id"], who))
        except CommerceError as exc:
            raise svc.OrderError(409, exc.detail) from None
    await svc.request_cancel(r, order, who)
    return None


@router.post("/orders/{order_id}/pin/unlock", response_model=PinUnlocked, operation_id="unlock_dropoff_pin")
async def unlock_pin(order_id: str, r: Redis, who: Annotated[Principal, Depends(role("planner", "store"))]) -> PinUnlocked:
    """Clear the wrong drop-off PINs of an order (after too many the courier's drop-off is refused with
    ``pin_locked``). For planners, admins and the order's store, once the customer is reached another way."""
    try:
        order = await svc.load_order(r, order_id)
    except svc.OrderError as exc:
        raise _fail(exc) from None
    if who.role == "store" and order["store"] != who.entity:
        raise HTTPException(403, f"order {order_id} is not your store's")
    wrong = await pin.unlock(r, order_id)
    await svc.audit(r, who, "unlock_pin", order_id, wrong_tries=str(wrong))
    return PinUnlocked(order=order_id, wrong_tries=wrong)
