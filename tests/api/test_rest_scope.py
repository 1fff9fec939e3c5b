"""Who may see and touch what, over REST: customers, stores, couriers, planners and admins."""
from __future__ import annotations

import asyncio
import json

import httpx
import websockets


def signed_in(live, user: str) -> dict[str, str]:
    """Sign in once per user and test (argon2 is slow on purpose)."""
    cache = live.__dict__.setdefault("_signed_in", {})
    if user not in cache:
        cache[user] = live.headers(user)
    return cache[user]


def order(live, who: dict[str, str], store: dict, **extra) -> dict:
    door = {"lat": store["lat"] + 0.01, "lng": store["lng"] + 0.01}
    reply = httpx.post(f"{live.base}/orders", json={"store_id": store["id"], "dropoff": door, **extra}, headers=who)
    assert reply.status_code == 201, reply.text
    return reply.json()


def get(live, order_id: str, who: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{live.base}/orders/{order_id}", headers=who)


def test_a_customer_sees_only_their_own_orders(live) -> None:
    g1, g2 = (s for s in live.stores() if s["id"] in ("g1", "g2"))
    alice, bob = signed_in(live, "alice"), signed_in(live, "bob")
    a1, a2 = order(live, alice, g1), order(live, alice, g2, note="second")
    b1 = order(live, bob, g1)

    mine = get(live, a1["id"], alice)
    assert mine.status_code == 200 and mine.json()["customer"] == "alice" and mine.json()["pin"] == a1["pin"]
    for oid in (a1["id"], a2["id"]):
        reply = get(live, oid, bob)
        assert reply.status_code == 403 and reply.json()["detail"] == f"order {oid} is not yours"
        assert a1["pin"] not in reply.text
    assert get(live, b1["id"], alice).status_code == 403

    listed = httpx.get(f"{live.base}/orders", headers=alice)
    assert listed.status_code == 200
    assert [o["id"] for o in listed.json()] == [a2["id"], a1["id"]]  # newest first, bob's not among them
    assert all(o["customer"] == "alice" and o["pin"] for o in listed.json())
    assert [o["id"] for o in httpx.get(f"{live.base}/orders", headers=bob).json()] == [b1["id"]]
    assert [o["id"] for o in httpx.get(f"{live.base}/orders", params={"limit": 1}, headers=alice).json()] == [a2["id"]]
    bad = httpx.get(f"{live.base}/orders", params={"limit": 0}, headers=alice)
    assert bad.status_code == 422 and bad.json()["detail"] == "limit must be 1 to 500"
    # the customer index in Redis agrees
    assert {m.decode() for m in live.redis.zrange("orders:customer:alice", 0, -1)} == {a1["id"], a2["id"]}
    # listing is for customers: a store or courier is refused rather than shown an empty list
    for user, role in (("store-g1", "store"), ("courier-1", "courier"), ("planner", "planner")):
        reply = httpx.get(f"{live.base}/orders", headers=signed_in(live, user))
        assert reply.status_code == 403 and reply.json()["detail"] == f"this needs the role customer; you are {role}"


def test_a_store_sees_and_touches_only_its_own_orders(live) -> None:
    g1, g2 = (s for s in live.stores() if s["id"] in ("g1", "g2"))
    alice = signed_in(live, "alice")
    at_g1, at_g2 = order(live, alice, g1), order(live, alice, g2)
    store = signed_in(live, "store-g1")

    own = get(live, at_g1["id"], store)
    assert own.status_code == 200 and own.json()["store_id"] == "g1" and own.json()["pin"] is None
    other = get(live, at_g2["id"], store)
    assert other.status_code == 403 and other.json()["detail"] == f"order {at_g2['id']} is not yours"

    listed = httpx.get(f"{live.base}/stores/g1/orders", headers=store)
    assert listed.status_code == 200 and [o["id"] for o in listed.json()] == [at_g1["id"]]
    assert listed.json()[0]["pin"] is None
    refused = httpx.get(f"{live.base}/stores/g2/orders", headers=store)
    assert refused.status_code == 403 and refused.json()["detail"] == "you act for store 'g1', not 'g2'"

    before = live.redis.xlen("audit")
    for action in ("accept", "ready"):
        # another store's path: 403 before anything is looked at
        reply = httpx.post(f"{live.base}/stores/g2/orders/{at_g2['id']}/{action}", headers=store)
        assert reply.status_code == 403 and reply.json()["detail"] == "you act for store 'g1', not 'g2'"
        # its own path, another store's order: not found there
        reply = httpx.post(f"{live.base}/stores/g1/orders/{at_g2['id']}/{action}", headers=store)
        assert reply.status_code == 404 and reply.json()["detail"] == f"store g1 has no order {at_g2['id']}"
        reply = httpx.post(f"{live.base}/stores/g1/orders/o999/{action}", headers=store)
        assert reply.status_code == 404 and reply.json()["detail"] == "order 'o999' not found"
    assert live.redis.xlen("audit") == before  # refusals leave no trace of an action
    # customers and couriers are not stores
    for user, role in (("alice", "customer"), ("courier-1", "courier")):
        reply = httpx.post(f"{live.base}/stores/g1/orders/{at_g1['id']}/accept", headers=signed_in(live, user))
        assert reply.status_code == 403 and reply.json()["detail"] == f"this needs the role store; you are {role}"
    # an admin may act for any store
    assert httpx.get(f"{live.base}/stores/g2/orders", headers=signed_in(live, "admin")).status_code == 200


def test_a_courier_sees_an_order_only_once_it_is_assigned_to_it(live) -> None:
    store = next(s for s in live.stores() if s["id"] == "g1")
    alice = signed_in(live, "alice")
    placed = order(live, alice, store)
    courier, other = signed_in(live, "courier-1"), signed_in(live, "courier-2")
    before = get(live, placed["id"], courier)  # nobody is on shift: it cannot be assigned yet
    assert before.status_code == 403 and before.json()["detail"] == f"order {placed['id']} is not yours"

    shift = httpx.post(f"{live.base}/couriers/me/shift", json={"on": True, "lat": store["lat"], "lng": store["lng"]}, headers=courier)
    assert shift.status_code == 202
    live.wait(lambda: live.redis.hget(f"order:{placed['id']}", "courier") == b"courier-1", what="the offer to courier-1")
    seen = get(live, placed["id"], courier)
    assert seen.status_code == 200, seen.text
    assert seen.json()["courier"] == "courier-1" and seen.json()["status"] == "assigned"
    assert seen.json()["pin"] is None  # the courier gets the PIN from the customer at the door
    assert get(live, placed["id"], other).status_code == 403

    async def deliver() -> None:
        async with websockets.connect(f"{live.ws}/ws/courier", additional_headers=courier) as app:
            while True:
                frame = json.loads(await asyncio.wait_for(app.recv(), 10))
                if frame["type"] == "offer":
                    await app.send(json.dumps({"type": "accept", "offer": frame["data"]["offer"]}))
                elif frame["type"] == "offer_accepted":
                    await app.send(json.dumps({"type": "pickup", "orders": [placed["id"]]}))
                elif frame["type"] == "status" and frame["data"]["status"] == "delivering":
                    await app.send(json.dumps({"type": "dropoff", "order": placed["id"], "pin": placed["pin"]}))
                elif frame["type"] == "status" and frame["data"]["status"] == "idle" and frame["seq"] > 1:
                    return

    asyncio.run(deliver())
    done = live.wait(lambda: get(live, placed["id"], alice).json()["status"] == "delivered" and get(live, placed["id"], alice).json(),
                     what="delivery")
    assert done["courier"] == "courier-1" and done["delivered_at"] and done["picked_up_at"]
    assert get(live, placed["id"], courier).json()["status"] == "delivered"
    # a delivered order cannot be cancelled
    late = httpx.post(f"{live.base}/orders/{placed['id']}/cancel", headers=alice)
    assert late.status_code == 409
    assert late.json()["detail"] == f"order {placed['id']} is delivered; after pickup ask for a refund instead"
    assert live.redis.hget(f"order:{placed['id']}", "status") == b"delivered"


def test_planner_and_admin_see_all_and_only_customer_and_admin_see_the_pin(live) -> None:
    g1, g2 = (s for s in live.stores() if s["id"] in ("g1", "g2"))
    a = order(live, signed_in(live, "alice"), g1)
    b = order(live, signed_in(live, "bob"), g2)
    pins = {}
    for user in ("planner", "admin", "store-g1", "alice"):
        reply = get(live, a["id"], signed_in(live, user))
        assert reply.status_code == 200, (user, reply.text)
        pins[user] = reply.json()["pin"]
    assert pins == {"planner": None, "admin": a["pin"], "store-g1": None, "alice": a["pin"]}
    assert get(live, b["id"], signed_in(live, "planner")).json()["pin"] is None
    assert get(live, b["id"], signed_in(live, "admin")).json()["pin"] == b["pin"]

    planner = signed_in(live, "planner")
    zones = httpx.get(f"{live.base}/ops/zones", headers=planner)
    assert zones.status_code == 200 and isinstance(zones.json(), list)
    live.wait(lambda: any(z["open_orders"] for z in httpx.get(f"{live.base}/ops/zones", headers=planner).json()),
              what="open orders in the zone statistics")
    for user, role in (("alice", "customer"), ("courier-1", "courier"), ("store-g1", "store")):
        reply = httpx.get(f"{live.base}/ops/zones", headers=signed_in(live, user))
        assert reply.status_code == 403 and reply.json()["detail"] == f"this needs the role planner; you are {role}"
    assert httpx.get(f"{live.base}/ops/zones", headers=signed_in(live, "admin")).status_code == 200


def test_only_customers_place_quote_and_cancel(live) -> None:
    store = live.stores()[0]
    body = {"store_id": store["id"], "dropoff": {"lat": store["lat"], "lng": store["lng"] + 0.01}}
    placed = order(live, signed_in(live, "alice"), store)
    for user, role in (("courier-1", "courier"), ("store-g1", "store"), ("planner", "planner")):
        who = signed_in(live, user)
        for path, payload in (("/orders", body), ("/quote", body), (f"/orders/{placed['id']}/cancel", None)):
            reply = httpx.post(f"{live.base}{path}", json=payload, headers=who)
            assert reply.status_code == 403, (user, path)
            assert reply.json()["detail"] == f"this needs the role customer; you are {role}"
    assert live.redis.get("counter:orders") == b"1"  # only alice's order exists
    assert live.redis.zcard(f"orders:store:{store['id']}") == 1
    assert not [e for e in live.redis.xrange("audit") if e[1][b"action"] == b"cancel_order"]
    # and a customer cannot cancel someone else's order
    reply = httpx.post(f"{live.base}/orders/{placed['id']}/cancel", headers=signed_in(live, "bob"))
    assert reply.status_code == 403 and reply.json()["detail"] == f"order {placed['id']} is not yours"
    assert live.redis.hget(f"order:{placed['id']}", "status") != b"cancelled"
