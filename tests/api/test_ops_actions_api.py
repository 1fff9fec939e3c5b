"""A dispatcher's hand over REST on the live service: the board, reassigning an order, moving a courier's
stops, taking a courier off shift; each outcome comes back on the ops stream as an ``action`` frame."""
from __future__ import annotations

import json
from typing import Any

import httpx

from actors import live_keys as K
from tests.api.conftest import Live
from tests.api.shop_testkit import as_demo


def frames(live: Live, kind: str, ident: str) -> list[dict[str, Any]]:
    _, key, _ = K.stream(kind, ident)
    return [json.loads(f[b"f"]) for _, f in live.redis.xrange(key)]


def actions(live: Live, ref: str) -> list[dict[str, Any]]:
    return [f["data"] for f in frames(live, "ops", "all") if f["type"] == "action" and f["data"]["ref"] == ref]


def on_shift(live: Live, courier: str, lat: float, lng: float) -> None:
    reply = httpx.post(f"{live.base}/couriers/me/shift", json={"on": True, "lat": lat, "lng": lng}, headers=as_demo(live, courier))
    assert reply.status_code == 202, reply.text
    live.wait(lambda: live.redis.hget(K.courier_key(courier), "status") == b"idle", what=f"{courier} on shift")


def test_a_planner_reassigns_an_order_and_both_couriers_and_the_board_show_it(live: Live) -> None:
    stores = {s["id"]: s for s in live.stores()}
    g1 = stores["g1"]
    far = next(s for s in stores.values() if s["region"] != g1["region"])
    planner, alice = as_demo(live, "planner"), as_demo(live, "alice")
    on_shift(live, "courier-1", g1["lat"] + 0.001, g1["lng"])  # nearest: greedy offers it the order
    on_shift(live, "courier-2", g1["lat"] - 0.01, g1["lng"])
    on_shift(live, "courier-3", far["lat"], far["lng"])

    created = httpx.post(f"{live.base}/orders", json={"store_id": "g1", "dropoff": {"lat": g1["lat"] + 0.01, "lng": g1["lng"]}}, headers=alice)
    oid = created.json()["id"]
    live.wait(lambda: live.redis.hget(K.order_key(oid), "courier") == b"courier-1", what="the order offered to courier-1")

    board = httpx.get(f"{live.base}/ops/orders", headers=planner)
    assert board.status_code == 200
    row = next(o for o in board.json() if o["id"] == oid)
    assert row["board"] == "on_time" and row["region"] == g1["region"] and row["courier"] == "courier-1" and row["pin"] is None
    assert httpx.get(f"{live.base}/ops/orders", headers=alice).status_code == 403

    assert httpx.post(f"{live.base}/ops/orders/{oid}/reassign", json={"to": "courier-2"}, headers=alice).status_code == 403
    other = httpx.post(f"{live.base}/ops/orders/{oid}/reassign", json={"to": "courier-3"}, headers=planner)
    assert other.status_code == 409 and "works in region" in other.json()["detail"]
    nobody = httpx.post(f"{live.base}/ops/orders/{oid}/reassign", json={"to": "courier-29"}, headers=planner)
    assert nobody.status_code == 404 and nobody.json()["detail"] == "courier courier-29 has no shift"
    missing = httpx.post(f"{live.base}/ops/orders/o999/reassign", json={"to": "courier-2"}, headers=planner)
    assert missing.status_code == 404

    key = {"Idempotency-Key": "move-o1-to-2"}
    queued = httpx.post(f"{live.base}/ops/orders/{oid}/reassign", json={"to": "courier-2"}, headers={**planner, **key})
    assert queued.status_code == 202, queued.text
    ref = queued.json()["ref"]
    again = httpx.post(f"{live.base}/ops/orders/{oid}/reassign", json={"to": "courier-2"}, headers={**planner, **key})
    assert again.json()["ref"] == ref, "a retried request is the same action"
    live.wait(lambda: len(actions(live, ref)) == 2, what="both copies answered")
    first, copy = actions(live, ref)
    assert (first["ok"], first["kind"], first["by"], first.get("repeated")) == (True, "ops_reassign", "planner", None)
    assert copy["repeated"] is True
    assert live.redis.hget(K.order_key(oid), "courier") == b"courier-2"
    withdrawn = [f["data"] for f in frames(live, "courier", "courier-1") if f["type"] == "offer_withdrawn"]
    assert withdrawn and withdrawn[-1]["reason"] == "reassigned by the dispatcher"
    assert [f["data"]["orders"] for f in frames(live, "courier", "courier-2") if f["type"] == "offer"] == [[oid]]
    audit = [{k.decode(): v.decode() for k, v in f.items()} for _, f in live.redis.xrange("audit")]
    assert [(e["who"], e["target"], e["to"]) for e in audit if e["action"] == "ops_reassign"] == [("planner", oid, "courier-2")] * 2


def test_a_planner_takes_a_courier_off_shift(live: Live) -> None:
    g1 = next(s for s in live.stores() if s["id"] == "g1")
    planner = as_demo(live, "planner")
    on_shift(live, "courier-4", g1["lat"], g1["lng"])
    queued = httpx.post(f"{live.base}/ops/couriers/courier-4/off-shift", headers=planner)
    assert queued.status_code == 202, queued.text
    live.wait(lambda: actions(live, queued.json()["ref"]), what="the action answered")
    assert actions(live, queued.json()["ref"])[0]["ok"] is True
    live.wait(lambda: live.redis.hget(K.courier_key("courier-4"), "status") == b"off_shift", what="courier-4 off shift")
    idle = httpx.post(f"{live.base}/ops/couriers/courier-4/reassign", json={"to": "courier-4"}, headers=planner)
    assert idle.status_code == 202
    live.wait(lambda: actions(live, idle.json()["ref"]), what="the refusal")
    assert actions(live, idle.json()["ref"])[0]["ok"] is False
