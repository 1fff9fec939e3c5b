"""Stores: the public list; a store's own orders (accept, reject, ready) and stock (a store sees and touches only its own)."""
from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from actors import live_keys as K
from actors.live_host import minutes_now
from api import orders as svc
from api.deps import Redis, StoreUser
from api.models import Accepted, OrderPublic, StockCorrection, StockLevel, StoreAccept, StoreOut, StoreReject
from api.routes.orders import queue_cancellation
from api.security import Principal
from api.shop.inventory import StockChanged
from commerce.errors import CommerceError

router = APIRouter(prefix="/stores", tags=["stores"])


@router.get("", response_model=list[StoreOut], operation_id="list_stores")
async def list_stores(r: Redis) -> list[StoreOut]:
    """Every store of the city (public)."""
    raw = await r.hgetall(K.STORES)
    return sorted((StoreOut(**json.loads(v)) for v in raw.values()), key=lambda s: s.id)


def _own(who: Principal, store_id: str) -> None:
    if who.role != "admin" and who.entity != store_id:
        raise HTTPException(403, f"you act for store {who.entity!r}, not {store_id!r}")


@router.get("/{store_id}/orders", response_model=list[OrderPublic], operation_id="list_store_orders")
async def store_orders(store_id: str, r: Redis, who: StoreUser,
                       limit: Annotated[int, Query(json_schema_extra={"minimum": 1, "maximum": 1000})] = 100) -> list[OrderPublic]:
    """The store's own orders, newest first."""
    _own(who, store_id)
    if not 1 <= limit <= 1000:
        raise HTTPException(422, "limit must be 1 to 1000")
    ids = await r.zrevrange(f"orders:store:{store_id}", 0, limit - 1)
    return [svc.public(await svc.load_order(r, i.decode()), show_pin=False) for i in ids]


async def _report(r: Any, who: Principal, store_id: str, order_id: str, kind: str, data: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    _own(who, store_id)
    try:
        order = await svc.load_order(r, order_id)
    except svc.OrderError as exc:
        raise HTTPException(exc.status, exc.detail) from None
    if order["store"] != store_id:
        raise HTTPException(404, f"store {store_id} has no order {order_id}")
    if order["status"] not in allowed:
        raise HTTPException(409, f"order {order_id} is {order['status']}")
    payload = {"kind": kind, "entity": store_id, "time": minutes_now(), "data": {"order": order_id, **data}}
    await r.xadd(K.inputs_key(int(order["region"], 16)), {"k": "report", "j": json.dumps(payload)})
    await svc.audit(r, who, kind, order_id)
    return order


@router.post("/{store_id}/orders/{order_id}/accept", status_code=202, response_model=Accepted, operation_id="store_accept_order")
async def accept(store_id: str, order_id: str, r: Redis, who: StoreUser, body: StoreAccept | None = None) -> Accepted:
    """Accept an order (only needed when the service does not auto-accept), optionally saying when it will be ready."""
    data = {} if body is None or body.ready_in is None else {"ready_in": body.ready_in}
    await _report(r, who, store_id, order_id, "store_accept", data, {"placed", "paid"})
    return Accepted(detail=f"{order_id} accepted by {store_id}")


@router.post("/{store_id}/orders/{order_id}/ready", status_code=202, response_model=Accepted, operation_id="store_order_ready")
async def ready(store_id: str, order_id: str, r: Redis, who: StoreUser) -> Accepted:
    """The food is ready for pickup."""
    await _report(r, who, store_id, order_id, "store_ready", {}, {"placed", "accepted", "preparing", "assigned"})
    return Accepted(detail=f"{order_id} ready")


@router.post("/{store_id}/orders/{order_id}/reject", status_code=202, response_model=Accepted, operation_id="store_reject_order",
             responses={409: {"description": "already picked up, delivered or closed"}})
async def reject(store_id: str, order_id: str, body: StoreReject, request: Request, r: Redis, who: StoreUser) -> Accepted:
    """Refuse an order the store cannot make (until its pickup): it is cancelled as its customer would cancel it, a shop
    order refunded in full with its stock, coupon and points given back; its courier, if any, hears at once."""
    _own(who, store_id)
    try:
        order = await svc.load_order(r, order_id)
        if order["store"] != store_id:
            raise HTTPException(404, f"store {store_id} has no order {order_id}")
        refund = await queue_cancellation(request, r, order, who)
    except svc.OrderError as exc:
        raise HTTPException(exc.status, exc.detail) from None
    await svc.audit(r, who, "store_reject", order_id, reason=body.reason, **({} if refund is None else {"refund": refund}))
    return Accepted(detail=f"{order_id} rejected by {store_id}: {body.reason}" + ("" if refund is None else f"; {refund} cents refunded"))


def _item_name(request: Request, store_id: str, sku: str) -> str:
    catalog = request.app.state.shop.catalog
    try:
        catalog.item(store_id, sku)
    except CommerceError as exc:
        raise HTTPException(404, exc.detail) from None
    return str(catalog.product(sku).name_en)


@router.get("/{store_id}/stock", response_model=list[StockLevel], operation_id="list_store_stock")
async def stock(store_id: str, request: Request, r: Redis, who: StoreUser) -> list[StockLevel]:
    """What the store has to sell now, per item of its catalog (the live levels, net of checkouts holding units)."""
    _own(who, store_id)
    catalog = request.app.state.shop.catalog
    try:
        items = catalog.items(store_id)
    except CommerceError as exc:
        raise HTTPException(404, exc.detail) from None
    levels = await request.app.state.shop.inventory.stock(store_id, [i.sku for i in items])
    return [StockLevel(sku=i.sku, name=catalog.product(i.sku).name_en, units=levels.get(i.sku, 0)) for i in items]


@router.put("/{store_id}/stock/{sku}", response_model=StockLevel, operation_id="correct_store_stock",
            responses={409: {"description": "the level moved since the store read it (``expected``): read it again"}})
async def correct_stock(store_id: str, sku: str, body: StockCorrection, request: Request, r: Redis, who: StoreUser) -> StockLevel:
    """Correct an item's level to what the store counted. Give ``expected`` (the level you read) so a sale made
    meanwhile is not overwritten: the correction is refused, with the level now, and you count again."""
    _own(who, store_id)
    name = _item_name(request, store_id, sku)
    try:
        units = await request.app.state.shop.inventory.correct(store_id, sku, body.units, body.expected)
    except StockChanged as exc:
        raise HTTPException(409, f"{sku} is at {exc.units} now, not {body.expected}: read the level again") from None
    await svc.audit(r, who, "stock_correct", f"{store_id}/{sku}", units=units)
    return StockLevel(sku=sku, name=name, units=units)
