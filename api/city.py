"""The city the service serves: its stores and regions, loaded into Redis once at start.

Stores come from a scenario file (the demo city by default); each store's region (its H3 parent
cell) names the live shard that dispatches its orders. Demo accounts, in development mode only:
``admin``, ``planner``, the customer ``alice``, one login per store (``store-<id>``) and per demo
courier (``courier-<n>``), all with the password ``demo``.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actors import live_keys as K
from api.security import hash_password
from dispatch.geo import Location
from dispatch.zones import REGION_RES, region_of

log = logging.getLogger(__name__)
DEMO_PASSWORD = "demo"  # noqa: S105 - development mode only (Settings refuses demo accounts in production)


@dataclass(frozen=True, slots=True)
class CityStore:
    id: str
    name: str
    location: Location
    region: int


def load_city(scenario: Path | None, region_res: int = REGION_RES) -> list[CityStore]:
    """The scenario's stores (seed 0), each with its region."""
    from simulator.scenario import build_instance, demo_scenario_path, load_scenario

    instance = build_instance(load_scenario(scenario or demo_scenario_path()), seed=0)
    return [CityStore(s.id, s.name or s.id, s.location, region_of(s.location, region_res)) for s in instance.stores]


def user_key(name: str) -> str:
    return f"user:{name}"


def seed_city(r: Any, stores: list[CityStore], demo_accounts: bool, demo_couriers: int) -> None:
    """Write the stores (and demo users) to Redis; existing users keep their passwords."""
    pipe = r.pipeline()
    for s in stores:
        pipe.hset(K.STORES, s.id, json.dumps({"id": s.id, "name": s.name, "lat": s.location.lat, "lng": s.location.lng, "region": K.region_tag(s.region)}))
        pipe.sadd(K.REGIONS, K.region_tag(s.region))
    pipe.execute()
    if not demo_accounts:
        return
    hashed = hash_password(DEMO_PASSWORD)  # one hash for every demo login: argon2 is slow on purpose
    users = [("admin", "admin", ""), ("planner", "planner", ""), ("alice", "customer", "alice"), ("bob", "customer", "bob")]
    users += [(f"store-{s.id}", "store", s.id) for s in stores]
    users += [(f"courier-{i}", "courier", f"courier-{i}") for i in range(1, demo_couriers + 1)]
    pipe = r.pipeline()
    for name, role, entity in users:
        pipe.hsetnx(user_key(name), "hash", hashed)
        pipe.hsetnx(user_key(name), "role", role)
        pipe.hsetnx(user_key(name), "entity", entity)
    pipe.execute()
    log.info("city: %d stores in %d regions; %d demo accounts (password %r)", len(stores), len({s.region for s in stores}), len(users), DEMO_PASSWORD)


def city_forecast(scenario: Path | None, utc_offset_hours: float, seeds: tuple[int, ...] = (1, 2, 3)) -> dict[str, Any]:
    """Demand per zone and UTC hour for live repositioning, learned from simulated days of the city's
    scenario (seeds other than the day the service seeds its stores from). Scenario minutes are the
    city's local time; the live clock is UTC, so they are shifted by the city's offset."""
    from dispatch.forecast import DemandForecast
    from simulator.scenario import build_instance, demo_scenario_path, load_scenario

    sc = load_scenario(scenario or demo_scenario_path())
    points = []
    for seed in seeds:
        day = build_instance(sc, seed=seed)
        where = {s.id: s.location for s in day.stores}
        points += [(o.placed_at - utc_offset_hours * 60, where[o.store_id]) for o in day.orders]
    forecast = DemandForecast(7, 0.3, 0.3, "store").fit(points, days=len(seeds))
    log.info("city: repositioning forecast learned from %d simulated days (%d orders)", len(seeds), len(points))
    return forecast.to_dict()
