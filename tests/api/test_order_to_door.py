"""The whole live path once, through the real protocol: shift, order, offer, accept, pickup, PIN drop-off."""
from __future__ import annotations

import asyncio
import json

import httpx
import websockets


def test_an_order_comes_to_the_door(live) -> None:
    store = live.stores()[0]
    courier = live.headers("courier-1")
    alice = live.headers("alice")
    shift = httpx.post(f"{live.base}/couriers/me/shift", json={"on": True, "lat": store["lat"], "lng": store["lng"]}, headers=courier)
    assert shift.status_code == 202
    door = {"lat": store["lat"] + 0.01, "lng": store["lng"] + 0.01}
    created = httpx.post(f"{live.base}/orders", json={"store_id": store["id"], "dropoff": door}, headers=alice)
    assert created.status_code == 201, created.text
    order = created.json()

    async def run() -> list[dict]:
        seen: list[dict] = []
        async with websockets.connect(live.ws + order["tracking"]["ws"]) as track, \
                websockets.connect(f"{live.ws}/ws/courier", additional_headers=courier) as app:
            while True:
                frame = json.loads(await asyncio.wait_for(app.recv(), 10))
                if frame["type"] == "offer":
                    assert frame["data"]["orders"] == [order["id"]]
                    await app.send(json.dumps({"type": "accept", "offer": frame["data"]["offer"]}))
                elif frame["type"] == "offer_accepted":
                    await app.send(json.dumps({"type": "pickup", "orders": [order["id"]]}))
                elif frame["type"] == "status" and frame["data"]["status"] == "delivering":
                    await app.send(json.dumps({"type": "dropoff", "order": order["id"], "pin": order["pin"]}))
                elif frame["type"] == "status" and frame["data"]["status"] == "idle" and frame["seq"] > 1:
                    break
            while True:
                frame = json.loads(await asyncio.wait_for(track.recv(), 10))
                seen.append(frame)
                if frame["type"] == "status" and frame["data"]["status"] == "delivered":
                    return seen

    frames = asyncio.run(run())
    statuses = [f["data"]["status"] for f in frames if f["type"] == "status"]
    assert statuses[0] == "placed" and statuses[-1] == "delivered"
    assert statuses.index("assigned") < statuses.index("picked_up") < statuses.index("delivered")
    seqs = [f["seq"] for f in frames]
    assert seqs == sorted(seqs) and len(set(s for s, f in zip(seqs, frames) if f["type"] != "hello")) == len(seqs) - 1
    final = httpx.get(f"{live.base}/orders/{order['id']}", headers=alice).json()
    assert final["status"] == "delivered" and final["courier"] == "courier-1" and final["delivered_at"]
