"""Couriers over REST: start and end a shift, and read their own state. The rest is the courier WebSocket."""
from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException

from actors import live_keys as K
from actors.live_host import minutes_now
from api import orders as svc
from api.deps import Config, CourierUser, Redis
from api.models import Accepted, ShiftChange
from api.settings import Settings
from dispatch.geo import Location, haversine_m

router = APIRouter(prefix="/couriers", tags=["couriers"])


async def region_for(r: Any, cfg: Settings, where: Location) -> str:
    """The region of the store nearest to ``where``, if one is within reach of a delivery."""
    best: tuple[float, str] | None = None
    for raw in (await r.hgetall(K.STORES)).values():
        s = json.loads(raw)
        d = haversine_m(where, Location(s["lat"], s["lng"]))
        if best is None or d < best[0]:
            best = (d, s["region"])
    if best is None or best[0] > 2 * cfg.delivery_radius_m:
        raise HTTPException(422, "that position is outside the service area")
    return best[1]


@router.post("/me/shift", status_code=202, response_model=Accepted, operation_id="change_shift")
async def shift(body: ShiftChange, r: Redis, cfg: Config, who: CourierUser) -> Accepted:
    """Start a shift where you stand (``lat``, ``lng``), or end it (after the stops already on your route)."""
    me = who.entity or who.user
    state = {k.decode(): v.decode() for k, v in (await r.hgetall(K.courier_key(me))).items()}
    if body.on:
        if body.lat is None or body.lng is None:
            raise HTTPException(422, "starting a shift needs lat and lng")
        region = await region_for(r, cfg, Location(body.lat, body.lng))
        data = {"lat": body.lat, "lng": body.lng, "hours": body.hours, "capacity": body.capacity}
        await r.hset(K.courier_key(me), mapping={"region": region, "lat": body.lat, "lng": body.lng, "status": state.get("status", "starting")})
        kind = "shift_on"
    else:
        region = state.get("region")
        if not region:
            raise HTTPException(409, "you have no shift to end")
        data, kind = {}, "shift_off"
    payload = {"kind": kind, "entity": me, "time": minutes_now(), "data": data}
    await r.xadd(K.inputs_key(int(region, 16)), {"k": "report", "j": json.dumps(payload)})
    await svc.audit(r, who, kind, me)
    return Accepted(detail=f"{kind} for {me} queued; watch /ws/courier")


@router.get("/me", operation_id="get_my_courier_state")
async def me(r: Redis, who: CourierUser) -> dict[str, Any]:
    """Your state as the dispatcher last published it: status, region, orders on your route (``offered``:
    those of them in an offer you have not answered yet), last position."""
    me = who.entity or who.user
    state = {k.decode(): v.decode() for k, v in (await r.hgetall(K.courier_key(me))).items()}
    return {"courier": me, "status": state.get("status", "off_shift"), "region": state.get("region"),
            "orders": json.loads(state.get("orders", "[]")), "offered": json.loads(state.get("offered", "[]")),
            "lat": float(state["lat"]) if "lat" in state else None, "lng": float(state["lng"]) if "lng" in state else None}
