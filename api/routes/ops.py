"""Planners: zone statistics by H3 cell. And the health check."""
from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from actors import live_keys as K
from api.deps import Config, Planner, Redis
from api.dispatch_health import dispatch_health
from api.models import ErrorDetail, Health, ZoneStats

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
            out.append(ZoneStats(cell=cell, region=body["region"], **v))
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
