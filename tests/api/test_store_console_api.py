"""What a store's console stands on: reject an order, read and correct its stock (only its own), the courier's time at the store."""
from __future__ import annotations

import httpx

from tests.api.conftest import Live
from tests.api.shop_testkit import as_demo, cart, pay, placed, stock

BEEF = "noodle-beef"


def order_at(live: Live, store_id: str, who: dict[str, str]) -> dict:
    store = next(s for s in live.stores() if s["id"] == store_id)
    reply = httpx.post(f"{live.base}/orders", json={"store_id": store_id, "dropoff": {"lat": store["lat"] + 0.01, "lng": store["lng"]}}, headers=who)
    assert reply.status_code == 201, reply.text
    return reply.json()


def status(live: Live, oid: str) -> str:
    return live.redis.hget(f"order:{oid}", "status").decode()


def test_a_store_rejects_its_own_order_and_no_other(live: Live) -> None:
    alice, g1, s1 = as_demo(live, "alice"), as_demo(live, "store-g1"), as_demo(live, "store-s1")
    oid = order_at(live, "g1", alice)["id"]
    other = httpx.post(f"{live.base}/stores/s1/orders/{oid}/reject", json={"reason": "no"}, headers=s1)
    assert other.status_code == 404 and other.json()["detail"] == f"store s1 has no order {oid}"
    posing = httpx.post(f"{live.base}/stores/g1/orders/{oid}/reject", json={"reason": "no"}, headers=s1)
    assert posing.status_code == 403
    silent = httpx.post(f"{live.base}/stores/g1/orders/{oid}/reject", json={}, headers=g1)
    assert silent.status_code == 422 and silent.json()["detail"] == ["body.reason: Field required"]

    done = httpx.post(f"{live.base}/stores/g1/orders/{oid}/reject", json={"reason": "out of beef"}, headers=g1)
    assert done.status_code == 202, done.text
    assert done.json()["detail"] == f"{oid} rejected by g1: out of beef"
    live.wait(lambda: status(live, oid) == "cancelled", what="the rejected order cancelled")
    again = httpx.post(f"{live.base}/stores/g1/orders/{oid}/reject", json={"reason": "out of beef"}, headers=g1)
    assert again.status_code == 409
    audit = [{k.decode(): v.decode() for k, v in f.items()} for _, f in live.redis.xrange("audit")]
    assert [(e["who"], e["target"], e["reason"]) for e in audit if e["action"] == "store_reject"] == [("store-g1", oid, "out of beef")]


def test_a_shop_order_its_store_rejects_is_refunded_and_its_stock_comes_back(live: Live) -> None:
    alice, s1 = as_demo(live, "alice"), as_demo(live, "store-s1")
    before = stock(live, "s1", BEEF)
    out = placed(live, alice, cart(live, "s1", [(BEEF, 2)]))
    oid, paid = out["order_id"], out["payment"]["amount_cents"]
    pay(live, alice, oid)
    assert stock(live, "s1", BEEF) == before - 2
    reply = httpx.post(f"{live.base}/stores/s1/orders/{oid}/reject", json={"reason": "the wok broke"}, headers=s1)
    assert reply.status_code == 202, reply.text
    assert reply.json()["detail"] == f"{oid} rejected by s1: the wok broke; {paid} cents refunded"
    assert stock(live, "s1", BEEF) == before
    live.wait(lambda: status(live, oid) == "cancelled", what="the rejected shop order cancelled")


def test_a_store_reads_and_corrects_its_stock_without_overwriting_a_sale(live: Live) -> None:
    alice, s1, g1 = as_demo(live, "alice"), as_demo(live, "store-s1"), as_demo(live, "store-g1")
    levels = httpx.get(f"{live.base}/stores/s1/stock", headers=s1)
    assert levels.status_code == 200
    beef = next(i for i in levels.json() if i["sku"] == BEEF)
    assert beef["units"] == stock(live, "s1", BEEF) and beef["name"]
    assert httpx.get(f"{live.base}/stores/s1/stock", headers=g1).status_code == 403
    assert httpx.put(f"{live.base}/stores/s1/stock/{BEEF}", json={"units": 1}, headers=g1).status_code == 403
    unknown = httpx.put(f"{live.base}/stores/s1/stock/no-such-sku", json={"units": 1}, headers=s1)
    assert unknown.status_code == 404
    negative = httpx.put(f"{live.base}/stores/s1/stock/{BEEF}", json={"units": -1}, headers=s1)
    assert negative.status_code == 422

    seen = beef["units"]
    placed(live, alice, cart(live, "s1", [(BEEF, 1)]))  # a checkout holds a unit after the store read the level
    stale = httpx.put(f"{live.base}/stores/s1/stock/{BEEF}", json={"units": 40, "expected": seen}, headers=s1)
    assert stale.status_code == 409 and stale.json()["detail"] == f"{BEEF} is at {seen - 1} now, not {seen}: read the level again"
    assert stock(live, "s1", BEEF) == seen - 1, "the sale is not overwritten"
    fixed = httpx.put(f"{live.base}/stores/s1/stock/{BEEF}", json={"units": 40, "expected": seen - 1}, headers=s1)
    assert fixed.status_code == 200 and fixed.json() == {"sku": BEEF, "name": beef["name"], "units": 40}
    assert stock(live, "s1", BEEF) == 40
