"""Stores: the public list; a store's own orders; accept and ready (a store sees and touches only its own)."""
from __future__ import annotations

import json
from typing import Any

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from actors import live_keys as K
from actors.live_host import minutes_now
from api import orders as svc
from api.deps import Redis, StoreUser
from api.models import Accepted, OrderPublic, StoreAccept, StoreOut
from api.security import Principal

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
