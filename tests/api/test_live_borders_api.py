"""No order starves at a region border, live: every courier starts its shift in one region, and the
orders of the other region's stores are still delivered, by a courier lent across the border.

The demo city has two regions: 16 stores in one and two (g2, s13) in its neighbour, the case
where orders once stayed ``ready`` for half an hour beside idle couriers.
"""
from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import httpx
import websockets

from actors import live_keys as K
from api.fleet import Fleet
from dispatch.geo import Location, haversine_m
from tests.api.test_demo_fleet import FAST, place, until


def test_orders_of_a_region_without_couriers_are_delivered_by_couriers_lent_from_next_door(quiet) -> None:
    live = quiet  # no snapshot: the region streams keep every input, to be read below
    stores = live.stores()
    per_region = Counter(s["region"] for s in stores)
    assert len(per_region) == 2, per_region
    crowded, lonely = (tag for tag, _ in per_region.most_common())
    targets = sorted((s for s in stores if s["region"] == lonely), key=lambda s: s["id"])
    # the couriers' home: the crowded region's store farthest from the lonely one's (no courier starts near the border)
    home = max((s for s in stores if s["region"] == crowded),
               key=lambda s: haversine_m(Location(s["lat"], s["lng"]), Location(targets[0]["lat"], targets[0]["lng"])))
    alice = live.headers("alice")
    ops_frames: list[dict[str, Any]] = []

    async def scenario() -> list[dict[str, Any]]:
        async with websockets.connect(f"{live.ws}/ws/ops?token={live.token('planner')}") as ops, \
                httpx.AsyncClient(base_url=live.base) as http, \
                Fleet(live.base, couriers=3, stores=[home["id"]], seed=11, **FAST) as fleet:

            async def listen() -> None:
                async for raw in ops:
                    frame = json.loads(raw)
                    if frame["type"] == "handover":
                        ops_frames.append(frame["data"])

            listener = asyncio.create_task(listen())
            await fleet.ready(timeout=10)
            for courier in fleet.couriers:  # every shift starts in the crowded region
                state = (await http.get("/couriers/me", headers=live.headers(courier.name))).json()
                assert state["region"] == crowded, state
            orders = [await place(http, alice, targets[i % len(targets)], 500 + 200 * i, 120 * i) for i in range(3)]

            async def all_delivered() -> list[dict[str, Any]] | None:
                got = [(await http.get(f"/orders/{o['id']}", headers=alice)).json() for o in orders]
                return got if all(g["status"] == "delivered" for g in got) else None

            final = await until(all_delivered, 30, "every order of the courier-less region delivered")
            await until(lambda: fleet.counters.delivered == len(orders), 5, "the last drop-off acknowledged")
            assert fleet.counters.errors == 0, fleet.recent_errors
            listener.cancel()
            return final

    final = asyncio.run(scenario())
    assert all(o["courier"] and o["picked_up_at"] and o["delivered_at"] for o in final)
    carriers = {o["courier"] for o in final}
    loans = [f for f in ops_frames if f["reason"] == "loan"]
    assert loans and all(f["from"] == crowded and f["to"] == lonely for f in loans), ops_frames
    assert carriers <= {f["courier"] for f in loans}  # each order went with a courier the planners saw lent
    for courier in carriers:  # and the courier now works in the region it was lent to (its reports go there)
        assert live.redis.hget(K.courier_key(courier), "region").decode() == lonely
    # the lender's stream got the loan as an input (a replay lends the same couriers), the borrower the handovers
    lend = [e for _, e in live.redis.xrange(K.inputs_key(int(crowded, 16))) if e[b"k"] == b"lend"]
    assert lend and all(json.loads(e[b"j"])["to"].keys() == {lonely} for e in lend)
    handovers = [e for _, e in live.redis.xrange(K.inputs_key(int(lonely, 16))) if e[b"k"] == b"handover"]
    assert len(handovers) == len(loans)
