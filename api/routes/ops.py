"""Planners: zone statistics by H3 cell, the board of active orders, a dispatcher's hand (reassign, move a
courier's stops, take a courier off shift). And the health check."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import JSONResponse

from actors import live_keys as K
from actors.live_host import minutes_now
from api import orders as svc
from api.deps import Config, Planner, Redis
from api.dispatch_health import dispatch_health
from api.idempotency import IDEMPOTENCY_KEY
from api import zone_controls as zc
from api.models import ActionQueued, BoardOrder, ErrorDetail, Health, Reassign, ZoneCapacity, ZoneControlOut, ZonePause, ZoneStats
from api.security import Principal
from dispatch.geo import Location
from dispatch.zones import cell_center, cell_str, zone_of

router = APIRouter(tags=["ops"])


@router.get("/ops/zones", response_model=list[ZoneStats], operation_id="zone_statistics")
async def zones(r: Redis, who: Planner) -> list[ZoneStats]:
    """Per H3 cell (resolution 8): open orders, idle couriers and the mean ETA, as of each region's last cycle."""
    out: list[ZoneStats] = []
    for tag in sorted(await r.smembers(K.REGIONS)):
        raw = await r.get(K.zones_key(int(tag, 16)))
        if raw is None:
            continue
        body = json.loads(raw)
        for cell, v in body["zones"].items():
            centre = cell_center(int(cell, 16))
            out.append(ZoneStats(cell=cell, region=body["region"], lat=round(centre.lat, 6), lng=round(centre.lng, 6), **v))
    return out


@router.get("/health", operation_id="health", response_model=Health,
            responses={503: {"model": Health | ErrorDetail, "description": "dispatch is degraded (the reason is in `detail`; orders are "
                                                             "still taken), or Redis is unavailable"}})
async def health(r: Redis, settings: Config) -> Health | JSONResponse:
    """Redis answers, and every region's dispatcher cycles. 503 when not, with the reason: for a load balancer
    or an operator. Redis down is the usual storage 503."""
    await r.ping()
    dispatch = await dispatch_health(r, max(settings.health_stale_s, 3 * settings.cycle_s))
    body = Health(ok=dispatch.status == "ok", redis=True, regions=sorted(dispatch.last_cycle), dispatch=dispatch,
                  detail=dispatch.reason)
    if not body.ok:
        return JSONResponse(body.model_dump(mode="json"), status_code=503, headers={"Retry-After": "5"})
    return body


ACTIVE = frozenset({"placed", "paid", "accepted", "preparing", "ready", "assigned", "picked_up"})
AT_RISK = timedelta(minutes=5)


@router.get("/ops/orders", response_model=list[BoardOrder], operation_id="ops_board")
async def board(r: Redis, who: Planner,
                limit: Annotated[int, Query(json_schema_extra={"minimum": 1, "maximum": 2000})] = 500) -> list[BoardOrder]:
    """Every active order (placed to picked up), most urgent first: late, then at risk, then on time, by promise."""
    if not 1 <= limit <= 2000:
        raise HTTPException(422, "limit must be 1 to 2000")
    now = datetime.now(UTC)
    stores = {k.decode(): json.loads(v) for k, v in (await r.hgetall(K.STORES)).items()}
    pipe = r.pipeline(transaction=False)  # two round trips in all: every store's latest ids, then their orders
    for store_id in sorted(stores):
        pipe.zrevrange(f"orders:store:{store_id}", 0, 199)
    ids = [raw.decode() for recent in await pipe.execute() for raw in recent]
    for order_id in ids:
        pipe.hgetall(K.order_key(order_id))
    out: list[BoardOrder] = []
    for raw_record in await pipe.execute():
        record = {k.decode(): v.decode() for k, v in raw_record.items()}
        if record.get("status") not in ACTIVE:
            continue
        public = svc.public(record, show_pin=False)
        due = public.eta or public.window.promise
        late = now > public.window.promise or due > public.window.promise
        state = "late" if late else "at_risk" if due > public.window.promise - AT_RISK else "on_time"
        store = stores[public.store_id]
        door_zone = cell_str(zone_of(Location(public.dropoff.lat, public.dropoff.lng), zc.ZONE_RES))
        out.append(BoardOrder(**public.model_dump(), region=record["region"], board=state, door_zone=door_zone,
                              zone=cell_str(zone_of(Location(float(store["lat"]), float(store["lng"]))))))
    rank = {"late": 0, "at_risk": 1, "on_time": 2}
    out.sort(key=lambda o: (rank[o.board], o.window.promise, o.id))
    return out[:limit]


async def _courier_region(r: Any, courier_id: str) -> str:
    region = await r.hget(K.courier_key(courier_id), "region")
    if not region:
        raise HTTPException(404, f"courier {courier_id} has no shift")
    return region.decode()


async def _queue(r: Any, who: Principal, region: str, kind: str, data: dict[str, Any], key: str | None, target: str) -> ActionQueued:
    """The action as a report of ``ops:<user>`` in the region's stream; its ``ref`` (the Idempotency-Key, if any)
    makes a retried request one action, and names the ``action`` frame that answers it on ``/ws/ops``."""
    ref = f"{who.user}.{key}" if key else f"{who.user}.{uuid.uuid4().hex[:16]}"
    payload = {"kind": kind, "entity": K.OPS_ENTITY + who.user, "time": minutes_now(), "data": data, "ref": ref}
    await r.xadd(K.inputs_key(int(region, 16)), {"k": "report", "j": json.dumps(payload)})
    await svc.audit(r, who, kind, target, **{k: v for k, v in data.items() if isinstance(v, str)})
    return ActionQueued(detail=f"{kind} of {target} queued; its outcome comes on /ws/ops as action {ref}", ref=ref)


_KEY = Annotated[str | None, Header(alias="Idempotency-Key", json_schema_extra=IDEMPOTENCY_KEY)]
_CONFLICT = {409: {"description": "the courier works in another region than the order"}, 404: {"description": "no such order, or no such courier on shift"}}


@router.post("/ops/orders/{order_id}/reassign", status_code=202, response_model=ActionQueued, operation_id="ops_reassign_order", responses=_CONFLICT)
async def reassign_order(order_id: str, body: Reassign, r: Redis, who: Planner, idempotency_key: _KEY = None) -> ActionQueued:
    """Give an order not yet picked up to another courier (of the same region): its courier hears ``route_changed``
    (or its offer is withdrawn), the new one gets an ``offer``."""
    try:
        order = await svc.load_order(r, order_id)
    except svc.OrderError as exc:
        raise HTTPException(exc.status, exc.detail) from None
    region = await _courier_region(r, body.to)
    if region != order["region"]:
        raise HTTPException(409, f"courier {body.to} works in region {region}; order {order_id} is in region {order['region']}")
    return await _queue(r, who, region, "ops_reassign", {"orders": [order_id], "to": body.to}, idempotency_key, order_id)


@router.post("/ops/couriers/{courier_id}/reassign", status_code=202, response_model=ActionQueued, operation_id="ops_move_stops", responses=_CONFLICT)
async def move_stops(courier_id: str, body: Reassign, r: Redis, who: Planner, idempotency_key: _KEY = None) -> ActionQueued:
    """Give all of a courier's stops not yet picked up to another courier, keeping their order (a courier taken ill);
    what it carries it still delivers."""
    region = await _courier_region(r, courier_id)
    if await _courier_region(r, body.to) != region:
        raise HTTPException(409, f"couriers {courier_id} and {body.to} work in different regions")
    return await _queue(r, who, region, "ops_move_stops", {"from": courier_id, "to": body.to}, idempotency_key, courier_id)


@router.post("/ops/couriers/{courier_id}/off-shift", status_code=202, response_model=ActionQueued, operation_id="ops_off_shift",
             responses={404: {"description": "no such courier on shift"}})
async def off_shift(courier_id: str, r: Redis, who: Planner, idempotency_key: _KEY = None) -> ActionQueued:
    """Take a courier off shift: its orders not yet picked up go back to the pool, what it carries it delivers."""
    region = await _courier_region(r, courier_id)
    return await _queue(r, who, region, "ops_off_shift", {"courier": courier_id}, idempotency_key, courier_id)


# -- delivery zones: pause new orders, change the slot capacity ---------------------------------------
def _zone(cell: str) -> str:
    try:
        return zc.check_zone(cell)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


async def _control(r: Any, zone: str) -> ZoneControlOut:
    paused, capacity = await r.hmget(zc.ZONES_KEY, *zc.fields(zone))
    c = zc.control_of(zone, paused, capacity)
    return ZoneControlOut(zone=c.zone, paused=c.paused, slot_capacity=c.slot_capacity)


@router.get("/ops/delivery-zones", response_model=list[ZoneControlOut], operation_id="list_zone_controls")
async def zone_controls(r: Redis, who: Planner) -> list[ZoneControlOut]:
    """Every delivery zone a dispatcher has paused or given its own slot capacity."""
    return [ZoneControlOut(zone=c.zone, paused=c.paused, slot_capacity=c.slot_capacity) for c in await zc.all_controls(r)]


_ZONE_ERR = {422: {"description": "not an H3 cell of resolution 7"}}


@router.put("/ops/delivery-zones/{zone}/pause", response_model=ZoneControlOut, operation_id="pause_zone", responses=_ZONE_ERR)
async def pause_zone(zone: str, body: ZonePause, r: Redis, who: Planner) -> ZoneControlOut:
    """Refuse new orders to doors in this zone (409 with the reason) until resumed; orders taken go on."""
    cell = _zone(zone)
    await r.hset(zc.ZONES_KEY, zc.fields(cell)[0], body.reason)
    await svc.audit(r, who, "zone_pause", cell, reason=body.reason)
    return await _control(r, cell)


@router.delete("/ops/delivery-zones/{zone}/pause", response_model=ZoneControlOut, operation_id="resume_zone", responses=_ZONE_ERR)
async def resume_zone(zone: str, r: Redis, who: Planner) -> ZoneControlOut:
    """Take orders to this zone again."""
    cell = _zone(zone)
    await r.hdel(zc.ZONES_KEY, zc.fields(cell)[0])
    await svc.audit(r, who, "zone_resume", cell)
    return await _control(r, cell)


@router.put("/ops/delivery-zones/{zone}/slot-capacity", response_model=ZoneControlOut, operation_id="set_zone_slot_capacity",
            responses=_ZONE_ERR)
async def set_zone_capacity(zone: str, body: ZoneCapacity, r: Redis, who: Planner) -> ZoneControlOut:
    """Scheduled orders per slot for this zone from now on (slots already fuller keep what they took)."""
    cell = _zone(zone)
    await r.hset(zc.ZONES_KEY, zc.fields(cell)[1], body.capacity)
    await svc.audit(r, who, "zone_slot_capacity", cell, capacity=body.capacity)
    return await _control(r, cell)


@router.delete("/ops/delivery-zones/{zone}/slot-capacity", response_model=ZoneControlOut, operation_id="reset_zone_slot_capacity",
               responses=_ZONE_ERR)
async def reset_zone_capacity(zone: str, r: Redis, who: Planner) -> ZoneControlOut:
    """Back to the service's SLOT_CAPACITY."""
    cell = _zone(zone)
    await r.hdel(zc.ZONES_KEY, zc.fields(cell)[1])
    await svc.audit(r, who, "zone_slot_capacity", cell, capacity="default")
    return await _control(r, cell)
