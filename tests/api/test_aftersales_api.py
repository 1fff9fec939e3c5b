"""After-sales over the live service: checkout, pay, deliver through the courier socket, then refunds,
returns, complaints and ratings, with the caps, the scopes and concurrency."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets

from api.shop.inventory import stock_key
from api.shop.wallet import POINTS, points_keys


# -- helpers -----------------------------------------------------------------------------------
def hot_items(live: Any, n: int) -> list[dict[str, Any]]:
    items = httpx.get(f"{live.base}/shop/stores/s1/items?listing=hot&limit=10").json()
    items = [i for i in items if i["stock"] >= 5]
    assert len(items) >= n
    return items[:n]


def place(live: Any, who: dict[str, str], lines: list[dict[str, Any]], key: str) -> dict[str, Any]:
    store = next(s for s in live.stores() if s["id"] == "s1")
    body = {"store_id": "s1", "lines": lines, "dropoff": {"lat": store["lat"] + 0.005, "lng": store["lng"]}}
    placed = httpx.post(f"{live.base}/checkout/orders", json=body, headers={**who, "Idempotency-Key": key})
    assert placed.status_code == 201, placed.text
    return placed.json()


def pay(live: Any, who: dict[str, str], order_id: str) -> None:
    paid = httpx.post(f"{live.base}/payments/{order_id}/simulate", json={"outcome": "succeeded"}, headers=who)
    assert paid.status_code == 200 and paid.json()["reply"]["result"] == "dispatched", paid.text


def deliver(live: Any, order_id: str, customer: dict[str, str], courier: str = "courier-1") -> None:
    """The courier (on shift at s1) takes the offer, picks up and hands over with the PIN, over its WebSocket."""
    store = next(s for s in live.stores() if s["id"] == "s1")
    cheaders = live.headers(courier)
    shift = httpx.post(f"{live.base}/couriers/me/shift", json={"on": True, "lat": store["lat"], "lng": store["lng"]}, headers=cheaders)
    assert shift.status_code == 202, shift.text
    pin = httpx.get(f"{live.base}/orders/{order_id}", headers=customer).json()["pin"]

    async def run() -> None:
        # a reconnecting courier gets its earlier frames replayed first: act only on this order's
        offer, picking, dropped = None, False, False
        async with websockets.connect(f"{live.ws}/ws/courier", additional_headers=cheaders) as app:
            while True:
                frame = json.loads(await asyncio.wait_for(app.recv(), 15))
                kind, data = frame["type"], frame["data"]
                if kind == "offer" and order_id in data["orders"] and offer is None:
                    offer = data["offer"]
                    await app.send(json.dumps({"type": "accept", "offer": offer}))
                elif kind == "offer_accepted" and offer is not None and data["offer"] == offer and not picking:
                    picking = True
                    await app.send(json.dumps({"type": "pickup", "orders": [order_id]}))
                elif kind == "status" and data["status"] == "delivering" and picking and not dropped:
                    dropped = True
                    await app.send(json.dumps({"type": "dropoff", "order": order_id, "pin": pin}))
                elif kind == "status" and data["status"] == "idle" and dropped:
                    return

    asyncio.run(run())
    live.wait(lambda: httpx.get(f"{live.base}/orders/{order_id}", headers=customer).json()["status"] == "delivered", what="delivered")


def delivered_order(live: Any, who: dict[str, str], lines: list[dict[str, Any]], key: str, courier: str = "courier-1") -> dict[str, Any]:
    placed = place(live, who, lines, key)
    pay(live, who, placed["order_id"])
    deliver(live, placed["order_id"], who, courier)
    return placed


def earned(live: Any, who: dict[str, str], order_id: str) -> int:
    """Wait for the delivery credit of ``order_id``; the points it earned."""
    entry = live.wait(lambda: next((e for e in httpx.get(f"{live.base}/members/me", headers=who).json()["ledger"]
                                    if e["reason"] == "earn" and e["ref"] == order_id), None), what="points earned")
    return int(entry["delta"])


def refunds_stream(live: Any, order_id: str) -> list[dict[str, str]]:
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in live.redis.xrange("refunds")
            if fields[b"order"].decode() == order_id]


def audit_actions(live: Any, target_prefix: str) -> list[str]:
    return [f[b"action"].decode() for _, f in live.redis.xrange("audit") if f[b"target"].decode().startswith(target_prefix)]


def stock(live: Any, sku: str) -> int:
    return int(live.redis.hget(stock_key("s1"), sku))


def post(live: Any, path: str, who: dict[str, str], body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.post(f"{live.base}{path}", json=body, headers=who)


# -- tests -------------------------------------------------------------------------------------
def test_refund_and_return_after_delivery(live) -> None:
    alice, bob, admin, planner, courier = (live.headers(u) for u in ("alice", "bob", "admin", "planner", "courier-1"))
    a, b = hot_items(live, 2)
    placed = place(live, alice, [{"sku": a["sku"], "qty": 2}, {"sku": b["sku"], "qty": 1}], "as-1")
    order_id, total = placed["order_id"], placed["quote"]["total_cents"]

    # before delivery: unpaid, then paid but not delivered, refused with the code
    for path, body in ((f"/orders/{order_id}/refund-requests", {"reason": "x"}), (f"/orders/{order_id}/rating", {"store_stars": 5, "courier_stars": 5})):
        refused = post(live, path, alice, body)
        assert refused.status_code == 409 and refused.json()["detail"]["code"] == "not_delivered", refused.text
    pay(live, alice, order_id)
    refused = post(live, f"/orders/{order_id}/return-requests", alice, {"lines": [{"sku": b["sku"], "qty": 1}], "reason": "x"})
    assert refused.status_code == 409 and refused.json()["detail"]["code"] == "not_delivered"

    deliver(live, order_id, alice)
    points = earned(live, alice, order_id)
    assert points > 0

    # a refund for one unit of a (goods kept)
    made = post(live, f"/orders/{order_id}/refund-requests", alice, {"lines": [{"sku": a["sku"], "qty": 1}], "reason": "spilt"})
    assert made.status_code == 201, made.text
    rf = made.json()
    assert rf["kind"] == "refund" and rf["status"] == "requested" and rf["n"] == 1 and 0 < rf["amount_cents"] < total
    assert post(live, f"/orders/{order_id}/refund-requests", bob, {"reason": "mine?"}).status_code == 403
    assert httpx.get(f"{live.base}/orders/{order_id}/after-sales", headers=bob).status_code == 403

    # staff scope: couriers and customers nowhere, planners read only
    assert httpx.get(f"{live.base}/after-sales", headers=courier).status_code == 403
    assert httpx.get(f"{live.base}/after-sales", headers=alice).status_code == 403
    assert post(live, f"/after-sales/{order_id}/refund-requests/1/approve", courier).status_code == 403
    assert post(live, f"/after-sales/{order_id}/refund-requests/1/approve", planner).status_code == 403
    assert post(live, f"/after-sales/{order_id}/refund-requests/1/refund", alice).status_code == 403
    queue = httpx.get(f"{live.base}/after-sales?status=requested", headers=planner)
    assert queue.status_code == 200 and [i["id"] for i in queue.json()] == [rf["id"]]

    # refund before approval is an illegal move; approve, then refund
    early = post(live, f"/after-sales/{order_id}/refund-requests/1/refund", admin)
    assert early.status_code == 409 and early.json()["detail"]["code"] == "illegal_transition"
    assert post(live, f"/after-sales/{order_id}/refund-requests/9/approve", admin).status_code == 404
    assert post(live, f"/after-sales/{order_id}/refund-requests/1/approve", admin).json()["status"] == "approved"
    done = post(live, f"/after-sales/{order_id}/refund-requests/1/refund", admin, {"payment_ref": "sim-r1"})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "refunded" and done.json()["restocked"] == {}
    again = post(live, f"/after-sales/{order_id}/refund-requests/1/refund", admin)
    assert again.status_code == 409 and again.json()["detail"]["code"] == "illegal_transition"
    assert [int(e["cents"]) for e in refunds_stream(live, order_id)] == [rf["amount_cents"]]
    checkout = httpx.get(f"{live.base}/checkout/orders/{order_id}", headers=alice).json()
    assert checkout["refunded_cents"] == rf["amount_cents"]

    # over the cap: more than paid less refunded (and claimed) is refused with the code
    left = total - rf["amount_cents"]
    over = post(live, f"/orders/{order_id}/refund-requests", alice, {"lines": [{"sku": a["sku"], "qty": 1}], "amount_cents": left + 1, "reason": "all"})
    assert over.status_code == 409 and over.json()["detail"]["code"] == "refund_exceeds_paid"
    too_many = post(live, f"/orders/{order_id}/return-requests", alice, {"lines": [{"sku": a["sku"], "qty": 2}], "reason": "x"})
    assert too_many.status_code == 409 and too_many.json()["detail"]["code"] == "too_many_units"

    # a return of b: approved, refunded, back in stock, points for that share revoked
    before = stock(live, b["sku"])
    rt = post(live, f"/orders/{order_id}/return-requests", alice, {"lines": [{"sku": b["sku"], "qty": 1}], "reason": "wrong item"}).json()
    assert rt["kind"] == "return" and rt["n"] == 2
    assert post(live, f"/after-sales/{order_id}/refund-requests/2/approve", admin).status_code == 200
    assert stock(live, b["sku"]) == before  # approved, goods not back yet
    back = post(live, f"/after-sales/{order_id}/refund-requests/2/refund", admin)
    assert back.status_code == 200, back.text
    assert back.json()["restocked"] == {b["sku"]: 1} and stock(live, b["sku"]) == before + 1
    assert [int(e["cents"]) for e in refunds_stream(live, order_id)] == [rf["amount_cents"], rt["amount_cents"]]
    me = httpx.get(f"{live.base}/members/me", headers=alice).json()
    revoked = [e for e in me["ledger"] if e["reason"] == "revoke_earn"]
    total_revoked = sum(-int(e["delta"]) for e in revoked)
    goods_paid = total - placed["quote"]["delivery_cents"]
    assert total_revoked == points - (goods_paid - rf["amount_cents"] - rt["amount_cents"]) // 100
    assert me["points"] == points - total_revoked >= 0
    assert me["spend_cents"] == goods_paid - rf["amount_cents"] - rt["amount_cents"]

    # the customer sees all of it, with histories; staff acts are audited
    view = httpx.get(f"{live.base}/orders/{order_id}/after-sales", headers=alice).json()
    assert view["refunded_cents"] == rf["amount_cents"] + rt["amount_cents"] == checkout["refunded_cents"] + rt["amount_cents"]
    assert [[h["type"] for h in r["history"]] for r in view["requests"]] == [["requested", "approved", "refunded"]] * 2
    assert view["requests"][1]["history"][1]["actor"] == "admin"
    actions = audit_actions(live, "r")
    assert actions.count("refund_after_sales") == 2 and actions.count("approve_after_sales") == 2
    assert "request_refund" in actions and "request_return" in actions

    # a rejected request gives its units back to claim
    last = post(live, f"/orders/{order_id}/refund-requests", alice, {"reason": "rest"}).json()
    assert last["lines"] == [{"sku": a["sku"], "qty": 1}]
    assert post(live, f"/after-sales/{order_id}/refund-requests/3/reject", admin, {"reason": "no"}).json()["status"] == "rejected"
    assert post(live, f"/after-sales/{order_id}/refund-requests/3/approve", admin).status_code == 409
    assert httpx.get(f"{live.base}/after-sales?status=rejected&kind=refund", headers=admin).json()[0]["id"] == last["id"]


def test_complaints_and_ratings(live) -> None:
    alice, bob, admin, planner = (live.headers(u) for u in ("alice", "bob", "admin", "planner"))
    (a,) = hot_items(live, 1)
    placed = place(live, alice, [{"sku": a["sku"], "qty": 1}], "as-2")
    order_id = placed["order_id"]

    # a complaint may come before delivery; illegal moves are refused
    cp = post(live, f"/orders/{order_id}/complaints", alice, {"text": "the app charged me twice", "about": "app"})
    assert cp.status_code == 201 and cp.json()["status"] == "open" and cp.json()["about"] == "app"
    assert post(live, f"/orders/{order_id}/complaints", alice, {"text": "x", "about": "weather"}).status_code == 422
    assert post(live, f"/orders/{order_id}/complaints", bob, {"text": "x", "about": "app"}).status_code == 403
    skip = post(live, f"/after-sales/{order_id}/complaints/1/status", admin, {"status": "resolved"})
    assert skip.status_code == 409 and skip.json()["detail"]["code"] == "illegal_transition"
    assert post(live, f"/after-sales/{order_id}/complaints/1/status", planner, {"status": "in_progress"}).status_code == 403
    started = post(live, f"/after-sales/{order_id}/complaints/1/status", admin, {"status": "in_progress", "note": "looking"})
    assert started.status_code == 200 and started.json()["status"] == "in_progress"
    assert post(live, f"/after-sales/{order_id}/complaints/1/notes", admin, {"text": "refunded the double charge"}).status_code == 201
    resolved = post(live, f"/after-sales/{order_id}/complaints/1/status", admin, {"status": "resolved", "note": "done"}).json()
    assert resolved["status"] == "resolved" and [n["text"] for n in resolved["notes"]] == ["looking", "refunded the double charge", "done"]
    for move in ({"status": "in_progress"}, {"status": "closed"}):
        late = post(live, f"/after-sales/{order_id}/complaints/1/status", admin, move)
        assert late.status_code == 409 and late.json()["detail"]["code"] == "illegal_transition"
    assert post(live, f"/after-sales/{order_id}/complaints/1/notes", admin, {"text": "more"}).status_code == 409
    assert post(live, f"/after-sales/{order_id}/complaints/7/status", admin, {"status": "in_progress"}).status_code == 404

    pay(live, alice, order_id)
    deliver(live, order_id, alice, "courier-2")
    cp2 = post(live, f"/orders/{order_id}/complaints", alice, {"text": "the courier was rude", "about": "courier"}).json()
    assert cp2["n"] == 2
    post(live, f"/after-sales/{order_id}/complaints/2/status", admin, {"status": "in_progress"})
    closed = post(live, f"/after-sales/{order_id}/complaints/2/status", admin, {"status": "closed", "note": "no answer"}).json()
    assert closed["status"] == "closed"
    view = httpx.get(f"{live.base}/orders/{order_id}/after-sales", headers=planner).json()
    assert [c["status"] for c in view["complaints"]] == ["resolved", "closed"]
    assert [h["type"] for h in view["complaints"][0]["history"]] == ["open", "in_progress", "note", "note", "note", "resolved"]
    assert "complaint_resolved" in audit_actions(live, "cp-") and "open_complaint" in audit_actions(live, "cp-")

    # rating: once, stars 1-5, the customer's own
    assert post(live, f"/orders/{order_id}/rating", alice, {"store_stars": 6, "courier_stars": 5}).status_code == 422
    assert post(live, f"/orders/{order_id}/rating", bob, {"store_stars": 1, "courier_stars": 1}).status_code == 403
    assert post(live, f"/orders/{order_id}/rating", admin, {"store_stars": 1, "courier_stars": 1}).status_code == 403
    rated = post(live, f"/orders/{order_id}/rating", alice, {"store_stars": 4, "courier_stars": 2, "comment": "ok"})
    assert rated.status_code == 201 and rated.json()["courier"] == "courier-2", rated.text
    twice = post(live, f"/orders/{order_id}/rating", alice, {"store_stars": 5, "courier_stars": 5})
    assert twice.status_code == 409 and twice.json()["detail"]["code"] == "already_rated"

    # a second delivered order (bob's, same store and courier) for the aggregates
    (b,) = hot_items(live, 1)
    other = delivered_order(live, bob, [{"sku": b["sku"], "qty": 1}], "as-3", "courier-2")
    assert post(live, f"/orders/{other['order_id']}/rating", bob, {"store_stars": 5, "courier_stars": 5}).status_code == 201
    assert httpx.get(f"{live.base}/stores/s1/rating").json() == {"store": "s1", "count": 2, "mean": 4.5}
    assert httpx.get(f"{live.base}/couriers/courier-2/rating").status_code == 401
    assert httpx.get(f"{live.base}/couriers/courier-2/rating", headers=bob).json() == {"courier": "courier-2", "count": 2, "mean": 3.5}
    assert httpx.get(f"{live.base}/couriers/courier-9/rating", headers=bob).json()["count"] == 0
    assert httpx.get(f"{live.base}/orders/{order_id}/after-sales", headers=alice).json()["rating"]["store_stars"] == 4


def test_concurrent_requests_and_refunds_hold_the_cap(live) -> None:
    alice, admin = live.headers("alice"), live.headers("admin")
    (a,) = hot_items(live, 1)
    placed = delivered_order(live, alice, [{"sku": a["sku"], "qty": 3}], "as-4")
    order_id, total = placed["order_id"], placed["quote"]["total_cents"]
    points = earned(live, alice, order_id)
    share = total // 3 + 1  # two fit, a third would pass the cap

    async def burst(path: str, bodies: list[dict[str, Any] | None]) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live.base, timeout=30) as client:
            return list(await asyncio.gather(*(client.post(path, json=body, headers=alice if "orders/" in path else admin) for body in bodies)))

    replies = asyncio.run(burst(f"/orders/{order_id}/refund-requests",
                                [{"lines": [{"sku": a["sku"], "qty": 1}], "amount_cents": share, "reason": f"r{i}"} for i in range(8)]))
    made = [r for r in replies if r.status_code == 201]
    assert len(made) == 2, [r.text for r in replies]
    assert all(r.status_code == 409 and r.json()["detail"]["code"] in ("refund_exceeds_paid", "too_many_units") for r in replies if r.status_code != 201)
    view = httpx.get(f"{live.base}/orders/{order_id}/after-sales", headers=alice).json()
    assert len(view["requests"]) == 2 and view["claimed_cents"] == 2 * share <= total

    # the customer spent the points meanwhile: the revoke is recorded as skipped, never below zero
    balance = int(live.redis.get(points_keys("alice")[0]))
    live.redis.eval(POINTS, 3, *points_keys("alice"), -balance, "adjust", "spent-elsewhere", 0)
    for n in (1, 2):
        assert post(live, f"/after-sales/{order_id}/refund-requests/{n}/approve", admin).status_code == 200
    # both refunds at once, each many times: each is paid exactly once
    replies = asyncio.run(burst(f"/after-sales/{order_id}/refund-requests/1/refund", [None] * 4)) + \
        asyncio.run(burst(f"/after-sales/{order_id}/refund-requests/2/refund", [None] * 4))
    assert sorted(r.status_code for r in replies) == [200, 200] + [409] * 6
    assert sum(int(e["cents"]) for e in refunds_stream(live, order_id)) == 2 * share
    assert httpx.get(f"{live.base}/checkout/orders/{order_id}", headers=alice).json()["refunded_cents"] == 2 * share
    view = httpx.get(f"{live.base}/orders/{order_id}/after-sales", headers=alice).json()
    assert all(r["points"]["skipped"] == "points_spent" and r["points"]["revoked"] == 0 for r in view["requests"] if r["points"]["due"])
    assert sum(r["points"]["due"] for r in view["requests"]) <= points
    assert httpx.get(f"{live.base}/members/me", headers=alice).json()["points"] == 0
    # the rest of the money is still a cap: what is left, not a cent more
    left = total - 2 * share
    over = post(live, f"/orders/{order_id}/refund-requests", alice, {"amount_cents": left + 1, "reason": "more"})
    assert over.status_code == 409 and over.json()["detail"]["code"] == "refund_exceeds_paid"
    assert post(live, f"/orders/{order_id}/refund-requests", alice, {"amount_cents": left, "reason": "the rest"}).status_code == 201


def test_unknown_order(live) -> None:
    alice = live.headers("alice")
    for reply in (httpx.get(f"{live.base}/orders/o999/after-sales", headers=alice),
                  post(live, "/orders/o999/refund-requests", alice, {"reason": "x"}),
                  post(live, "/after-sales/o999/refund-requests/1/approve", live.headers("admin"))):
        assert reply.status_code == 404 and reply.json()["detail"]["code"] == "unknown_order", reply.text


def test_an_order_placed_with_post_orders_has_no_after_sales_and_says_so(live) -> None:
    alice = live.headers("alice")
    g1 = next(s for s in live.stores() if s["id"] == "g1")
    placed = httpx.post(f"{live.base}/orders", json={"store_id": "g1", "dropoff": {"lat": g1["lat"], "lng": g1["lng"] + 0.01}}, headers=alice)
    assert placed.status_code == 201, placed.text
    oid = placed.json()["id"]
    for reply in (post(live, f"/orders/{oid}/complaints", alice, {"about": "courier", "text": "late"}),
                  post(live, f"/orders/{oid}/refund-requests", alice, {"reason": "x"}),
                  httpx.get(f"{live.base}/orders/{oid}/after-sales", headers=alice)):
        assert reply.status_code == 409, reply.text
        assert reply.json()["detail"]["code"] == "not_a_checkout_order" and "POST /orders" in reply.json()["detail"]["detail"]
