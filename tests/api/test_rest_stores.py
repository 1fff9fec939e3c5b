"""Stores that must accept (``auto_accept=False``): an order waits in ``paid`` until its store accepts."""
from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import Live, start_live


@pytest.fixture
def manual(redis_url: str) -> Iterator[Live]:
    service, stop = start_live(redis_url, auto_accept=False)
    try:
        yield service
    finally:
        stop()


def place(live: Live, who: dict[str, str]) -> dict:
    store = next(s for s in live.stores() if s["id"] == "g1")
    reply = httpx.post(f"{live.base}/orders", json={"store_id": "g1", "dropoff": {"lat": store["lat"] + 0.01, "lng": store["lng"]}}, headers=who)
    assert reply.status_code == 201, reply.text
    return reply.json()


def status(live: Live, oid: str) -> str:
    return live.redis.hget(f"order:{oid}", "status").decode()


def store_actions(live: Live) -> list[tuple[str, str, str, str]]:
    out = []
    for _, f in live.redis.xrange("audit"):
        e = {k.decode(): v.decode() for k, v in f.items()}
        if e["action"].startswith("store_"):
            out.append((e["who"], e["role"], e["action"], e["target"]))
    return out


def test_an_order_waits_for_its_store_then_is_prepared_and_ready(manual) -> None:
    live = manual
    assert live.settings.auto_accept is False
    alice, store = live.headers("alice"), live.headers("store-g1")
    oid = place(live, alice)["id"]
    live.wait(lambda: status(live, oid) == "paid", what="the order to be paid")
    time.sleep(4 * live.settings.cycle_s)  # a few dispatch cycles: nobody accepts it for the store
    seen = httpx.get(f"{live.base}/orders/{oid}", headers=alice).json()
    assert seen["status"] == "paid"
    assert [o["id"] for o in httpx.get(f"{live.base}/stores/g1/orders", headers=store).json()] == [oid]

    # not ready before it is accepted: the dispatcher would drop that report, so the API refuses it
    early = httpx.post(f"{live.base}/stores/g1/orders/{oid}/ready", headers=store)
    assert early.status_code == 409 and early.json()["detail"] == f"order {oid} is paid"
    too_long = httpx.post(f"{live.base}/stores/g1/orders/{oid}/accept", json={"ready_in": 300}, headers=store)
    assert too_long.status_code == 422 and too_long.json()["detail"] == ["body.ready_in: Input should be less than or equal to 240"]
    assert store_actions(live) == []

    accepted = httpx.post(f"{live.base}/stores/g1/orders/{oid}/accept", json={"ready_in": 5}, headers=store)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json() == {"accepted": True, "detail": f"{oid} accepted by g1"}
    live.wait(lambda: status(live, oid) == "preparing", what="preparing")
    # the ETA follows the store's word: about 5 minutes to prepare instead of the default 10
    eta_ms = int(live.redis.hget(f"order:{oid}", "eta"))
    assert 5 < (eta_ms / 1000 - time.time()) / 60 < live.settings.prep_minutes + 10

    twice = httpx.post(f"{live.base}/stores/g1/orders/{oid}/accept", headers=store)
    assert twice.status_code == 409 and twice.json()["detail"] == f"order {oid} is preparing"

    ready = httpx.post(f"{live.base}/stores/g1/orders/{oid}/ready", headers=store)
    assert ready.status_code == 202 and ready.json()["detail"] == f"{oid} ready"
    live.wait(lambda: status(live, oid) == "ready", what="ready")
    assert httpx.get(f"{live.base}/orders/{oid}", headers=alice).json()["status"] == "ready"
    again = httpx.post(f"{live.base}/stores/g1/orders/{oid}/ready", headers=store)
    assert again.status_code == 409 and again.json()["detail"] == f"order {oid} is ready"

    assert store_actions(live) == [("store-g1", "store", "store_accept", oid), ("store-g1", "store", "store_ready", oid)]


def test_accept_without_a_body_and_cancel_while_waiting(manual) -> None:
    live = manual
    alice, store = live.headers("alice"), live.headers("store-g1")
    courier = live.headers("courier-1")
    g1 = next(s for s in live.stores() if s["id"] == "g1")
    assert httpx.post(f"{live.base}/couriers/me/shift", json={"on": True, "lat": g1["lat"], "lng": g1["lng"]}, headers=courier).status_code == 202
    waiting, taken = place(live, alice), place(live, alice)
    live.wait(lambda: status(live, waiting["id"]) == "paid" and status(live, taken["id"]) == "paid", what="both paid")
    time.sleep(4 * live.settings.cycle_s)
    # a courier on shift is not offered an order its store has not accepted
    assert live.redis.hget(f"order:{waiting['id']}", "courier") == b"" and live.redis.hget(f"order:{taken['id']}", "courier") == b""

    cancel = httpx.post(f"{live.base}/orders/{waiting['id']}/cancel", headers=alice)
    assert cancel.status_code == 202
    live.wait(lambda: status(live, waiting["id"]) == "cancelled", what="the cancellation of a waiting order")
    late = httpx.post(f"{live.base}/stores/g1/orders/{waiting['id']}/accept", headers=store)
    assert late.status_code == 409 and late.json()["detail"] == f"order {waiting['id']} is cancelled"

    plain = httpx.post(f"{live.base}/stores/g1/orders/{taken['id']}/accept", headers=store)  # no body: the default prep time
    assert plain.status_code == 202
    # once accepted it is dispatched to the courier on shift
    live.wait(lambda: live.redis.hget(f"order:{taken['id']}", "courier") == b"courier-1", what="the offer once accepted")
    assert status(live, taken["id"]) == "assigned"
