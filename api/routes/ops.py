"""Planners: zone statistics by H3 cell. And the health check."""
from __future__ import annotations

import json

from fastapi import APIRouter

from actors import live_keys as K
from api.deps import Planner, Redis
from api.models import ZoneStats

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


@router.get("/health", operation_id="health")
async def health(r: Redis) -> dict[str, object]:
    """Redis answers, and when each region's dispatcher last cycled."""
    await r.ping()
    regions = sorted(t.decode() for t in await r.smembers(K.REGIONS))
    return {"ok": True, "redis": True, "regions": regions}
