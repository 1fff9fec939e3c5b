"""Orders over REST: refusals of bad input, quotes and slot capacity, cancellation."""
from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta

import httpx

from actors.live_host import epoch_s
from dispatch.geo import Location, haversine_m
from tests.api.conftest import start_live


def near(store: dict, dlat: float = 0.01, dlng: float = 0.01) -> dict[str, float]:
    return {"lat": store["lat"] + dlat, "lng": store["lng"] + dlng}


def far_reason(store: dict, door: dict) -> str:
    km = haversine_m(Location(store["lat"], store["lng"]), Location(door["lat"], door["lng"])) / 1000
    assert km > 6
    return f"the door is {km:.1f} km from store {store['id']}; it delivers within 6.0 km"


def g1(live) -> dict:
    return next(s for s in live.stores() if s["id"] == "g1")


def status_of(live, order_id: str, who: dict[str, str]) -> str:
    return str(httpx.get(f"{live.base}/orders/{order_id}", headers=who).json()["status"])


def actions(live) -> list[str]:
    return [f[b"action"].decode() for _, f in live.redis.xrange("audit")]


def slots(live, who: dict[str, str], store: dict, door: dict) -> dict[str, int]:
    reply = httpx.post(f"{live.base}/quote", json={"store_id": store["id"], "dropoff": door, "mode": "scheduled"}, headers=who)
    assert reply.status_code == 200, reply.text
    return {s["start"]: s["remaining"] for s in reply.json()["slots"]}


def test_bad_orders_are_422_with_reasons_and_create_nothing(live) -> None:
    store = g1(live)
    alice = live.headers("alice")
    door = near(store)
    first_slot = next(iter(slots(live, alice, store, door)))
    start = datetime.fromisoformat(first_slot)
    soon = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    base = {"store_id": "g1", "dropoff": door}
    validation = {  # pydantic's reasons: a list of "where: why"
        "latitude beyond 90": ({**base, "dropoff": {"lat": 91.0, "lng": door["lng"]}}, "body.dropoff.lat: Input should be less than or equal to 90"),
        "longitude not a number": ({**base, "dropoff": {"lat": door["lat"], "lng": "east"}}, "body.dropoff.lng: Input should be a valid number, unable to parse string as a number"),
        "missing dropoff": ({"store_id": "g1"}, "body.dropoff: Field required"),
        "unknown field": ({**base, "tip": 5}, "body.tip: Extra inputs are not permitted"),
        "unknown field in the point": ({**base, "dropoff": {**door, "alt": 3}}, "body.dropoff.alt: Extra inputs are not permitted"),
        "unknown mode": ({**base, "mode": "drone"}, "body.mode: Input should be 'asap', 'scheduled' or 'timed'"),
        "too big": ({**base, "size": 5}, "body.size: Input should be less than or equal to 4"),
        "empty store id": ({**base, "store_id": ""}, "body.store_id: String should have at least 1 character"),
    }
    for what, (body, reason) in validation.items():
        reply = httpx.post(f"{live.base}/orders", json=body, headers=alice)
        assert reply.status_code == 422, (what, reply.text)
        assert reason in reply.json()["detail"], (what, reply.json())
    not_json = httpx.post(f"{live.base}/orders", content=b"{not json", headers={**alice, "Content-Type": "application/json"})
    assert not_json.status_code == 422 and any("JSON decode error" in d for d in not_json.json()["detail"])

    rules = {  # the service's own reasons: one sentence
        "scheduled without a slot": ({**base, "mode": "scheduled"}, "a scheduled order needs slot_start (see POST /quote for free slots)"),
        "asap with a slot": ({**base, "slot_start": first_slot}, "an asap order takes neither slot_start nor deliver_at"),
        "timed without a time": ({**base, "mode": "timed"}, "a timed order needs deliver_at"),
        "timed too soon": ({**base, "mode": "timed", "deliver_at": soon}, "deliver_at is too soon: it must leave time to prepare and ride (see POST /quote)"),
        "timed too far ahead": ({**base, "mode": "timed", "deliver_at": (datetime.now(UTC) + timedelta(days=8)).isoformat()},
                                "deliver_at is more than 7 days ahead"),
        "slot off the grid": ({**base, "mode": "scheduled", "slot_start": (start + timedelta(minutes=10)).isoformat()},
                              "slot_start must be on the 30-minute grid and at least 45 minutes ahead"),
        "slot off the grid by seconds": ({**base, "mode": "scheduled", "slot_start": (start + timedelta(seconds=30)).isoformat()},
                                         "slot_start must be on the 30-minute grid and at least 45 minutes ahead"),
        "slot too soon": ({**base, "mode": "scheduled", "slot_start": (start - timedelta(minutes=60)).isoformat()},
                          "slot_start must be on the 30-minute grid and at least 45 minutes ahead"),
        "door beyond the radius": ({**base, "dropoff": near(store, dlat=0.1)}, far_reason(store, near(store, dlat=0.1))),
    }
    for what, (body, reason) in rules.items():
        reply = httpx.post(f"{live.base}/orders", json=body, headers=alice)
        assert reply.status_code == 422, (what, reply.text)
        assert reply.json()["detail"] == reason, what

    unknown = httpx.post(f"{live.base}/orders", json={**base, "store_id": "zz"}, headers=alice)
    assert unknown.status_code == 404 and unknown.json()["detail"] == "store 'zz' not found"
    for method, path in (("GET", "/orders/o999"), ("POST", "/orders/o999/cancel")):
        reply = httpx.request(method, f"{live.base}{path}", headers=alice)
        assert reply.status_code == 404 and reply.json()["detail"] == "order 'o999' not found", path

    # nothing was created, booked or audited
    assert live.redis.get("counter:orders") is None
    assert not live.redis.exists("orders:customer:alice")
    assert not list(live.redis.scan_iter("slots:*")) and not list(live.redis.scan_iter("order:*"))
    assert actions(live) == []
    assert httpx.get(f"{live.base}/orders", headers=alice).json() == []


def test_a_timed_order_in_good_time_is_taken(live) -> None:
    alice = live.headers("alice")
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    reply = httpx.post(f"{live.base}/orders", json={"store_id": "g1", "dropoff": near(g1(live)), "mode": "timed", "deliver_at": at.isoformat()},
                       headers=alice)
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["mode"] == "timed" and body["fee_cents"] == 500 + 300
    # an exact time is kept within 5 minutes either side
    assert datetime.fromisoformat(body["window"]["earliest"]) == at - timedelta(minutes=5)
    assert datetime.fromisoformat(body["window"]["promise"]) == at + timedelta(minutes=5)
    assert live.redis.hget(f"order:{body['id']}", "mode") == b"timed"


def test_quote_bad_input(live) -> None:
    alice = live.headers("alice")
    store = g1(live)
    far = httpx.post(f"{live.base}/quote", json={"store_id": "g1", "dropoff": near(store, dlat=0.1)}, headers=alice)
    assert far.status_code == 422 and far.json()["detail"] == far_reason(store, near(store, dlat=0.1))
    unknown = httpx.post(f"{live.base}/quote", json={"store_id": "zz", "dropoff": near(store)}, headers=alice)
    assert unknown.status_code == 404 and unknown.json()["detail"] == "store 'zz' not found"
    bad = httpx.post(f"{live.base}/quote", json={"store_id": "g1", "dropoff": {"lat": -91, "lng": 0}, "slot_start": "x"}, headers=alice)
    assert bad.status_code == 422
    assert set(bad.json()["detail"]) == {"body.dropoff.lat: Input should be greater than or equal to -90",
                                         "body.slot_start: Extra inputs are not permitted"}
    assert httpx.post(f"{live.base}/quote", json={"store_id": "g1", "dropoff": near(store)}).status_code == 401


def test_quote_asap_gives_eta_and_fee(live) -> None:
    store = g1(live)
    alice = live.headers("alice")
    before = datetime.now(UTC)
    close = httpx.post(f"{live.base}/quote", json={"store_id": "g1", "dropoff": near(store)}, headers=alice)
    assert close.status_code == 200, close.text
    q = close.json()
    assert q["store_id"] == "g1" and q["mode"] == "asap" and q["slots"] == []
    assert 1000 < q["distance_m"] < 2000 and q["fee_cents"] == 500  # within 2 km: the flat fee
    # preparation (10 min), pickup and handover (2 + 2), and the ride
    assert live.settings.prep_minutes + 4 < q["eta_minutes"] < 40
    eta = datetime.fromisoformat(q["eta"])
    assert abs((eta - before).total_seconds() / 60 - q["eta_minutes"]) < 0.2
    further = httpx.post(f"{live.base}/quote", json={"store_id": "g1", "dropoff": near(store, 0.03, 0.02)}, headers=alice).json()
    assert 3000 < further["distance_m"] < 4000 and further["fee_cents"] == 500 + 200  # 1 to 2 km beyond 2 km
    assert further["eta_minutes"] > q["eta_minutes"]
    timed = httpx.post(f"{live.base}/quote", json={"store_id": "g1", "dropoff": near(store), "mode": "timed"}, headers=alice).json()
    assert timed["fee_cents"] == 800 and timed["eta"] is None and timed["slots"] == []


def test_quote_scheduled_slots_count_down_as_they_are_booked(live) -> None:
    store = g1(live)
    alice = live.headers("alice")
    door = near(store)
    free = slots(live, alice, store, door)
    step, capacity = live.settings.slot_minutes, live.settings.slot_capacity
    assert len(free) == live.settings.slot_hours_ahead * 60 // step and set(free.values()) == {capacity}
    starts = [datetime.fromisoformat(s) for s in free]
    assert all(s.minute % step == 0 and s.second == 0 for s in starts)
    assert starts[0] >= datetime.now(UTC) + timedelta(minutes=45)
    assert all((b - a) == timedelta(minutes=step) for a, b in itertools.pairwise(starts))

    chosen = list(free)[1]
    booked = httpx.post(f"{live.base}/orders", json={"store_id": "g1", "dropoff": door, "mode": "scheduled", "slot_start": chosen}, headers=alice)
    assert booked.status_code == 201, booked.text
    body = booked.json()
    assert body["mode"] == "scheduled" and body["fee_cents"] == 700
    assert datetime.fromisoformat(body["window"]["earliest"]) == starts[1]
    assert datetime.fromisoformat(body["window"]["promise"]) == starts[1] + timedelta(minutes=step)
    after = slots(live, alice, store, door)
    assert after[chosen] == capacity - 1
    assert all(v == capacity for k, v in after.items() if k != chosen)
    slot_key = live.redis.hget(f"order:{body['id']}", "slot").decode()
    assert slot_key.startswith("slots:") and live.redis.get(slot_key) == b"1"
    # a door in another zone far from this one does not share the count
    elsewhere = slots(live, alice, store, near(store, -0.03, -0.03))
    assert elsewhere[chosen] == capacity


def test_a_full_slot_is_409_until_a_cancellation_frees_it(redis_url) -> None:
    live, stop = start_live(redis_url, slot_capacity=1)
    try:
        store = g1(live)
        alice, bob = live.headers("alice"), live.headers("bob")
        door = near(store)
        chosen = next(iter(slots(live, alice, store, door)))
        body = {"store_id": "g1", "dropoff": door, "mode": "scheduled", "slot_start": chosen}
        first = httpx.post(f"{live.base}/orders", json=body, headers=alice)
        assert first.status_code == 201, first.text
        assert chosen not in slots(live, bob, store, door)  # nothing left in it: not offered
        full = httpx.post(f"{live.base}/orders", json=body, headers=bob)
        assert full.status_code == 409 and full.json()["detail"] == "that slot is full; choose another from POST /quote"
        # refused in the same step that would have written it: no order, no index (its id is burned, as the shop's are)
        assert not live.redis.exists("orders:customer:bob") and not live.redis.exists("order:o2")

        oid = first.json()["id"]
        cancelled = httpx.post(f"{live.base}/orders/{oid}/cancel", headers=alice)
        assert cancelled.status_code == 202
        # asking twice (before the dispatcher confirms) must not free the slot twice
        twice = httpx.post(f"{live.base}/orders/{oid}/cancel", headers=alice)
        assert twice.status_code == 409, twice.text
        # queued still, or already confirmed by a fast dispatcher cycle: either way refused, slot freed once
        assert twice.json()["detail"] in (f"the cancellation of order {oid} is already queued",
                                          f"order {oid} is cancelled; after pickup ask for a refund instead")
        assert slots(live, bob, store, door)[chosen] == 1
        slot_key = live.redis.hget(f"order:{oid}", "slot").decode()
        assert live.redis.get(slot_key) == b"0"
        live.wait(lambda: status_of(live, oid, alice) == "cancelled", what="the cancellation")

        second = httpx.post(f"{live.base}/orders", json=body, headers=bob)
        assert second.status_code == 201, second.text
        assert live.redis.get(slot_key) == b"1"
        again = httpx.post(f"{live.base}/orders", json=body, headers=alice)
        assert again.status_code == 409
    finally:
        stop()


def test_cancel_before_dispatch(live) -> None:
    alice = live.headers("alice")
    placed = httpx.post(f"{live.base}/orders", json={"store_id": "g1", "dropoff": near(g1(live))}, headers=alice).json()
    oid = placed["id"]
    live.wait(lambda: status_of(live, oid, alice) == "preparing", what="the dispatcher taking the order")
    reply = httpx.post(f"{live.base}/orders/{oid}/cancel", headers=alice)
    assert reply.status_code == 202 and reply.json() == {"accepted": True, "detail": f"cancellation of {oid} queued"}
    live.wait(lambda: status_of(live, oid, alice) == "cancelled", what="the cancellation")
    assert live.redis.hget(f"order:{oid}", "status") == b"cancelled"

    again = httpx.post(f"{live.base}/orders/{oid}/cancel", headers=alice)
    assert again.status_code == 409
    assert again.json()["detail"] == f"order {oid} is cancelled; after pickup ask for a refund instead"
    assert actions(live).count("cancel_order") == 1
    # an admin may cancel anyone's order
    other = httpx.post(f"{live.base}/orders", json={"store_id": "g1", "dropoff": near(g1(live))}, headers=live.headers("bob")).json()
    assert httpx.post(f"{live.base}/orders/{other['id']}/cancel", headers=live.headers("admin")).status_code == 202
    live.wait(lambda: live.redis.hget(f"order:{other['id']}", "status") == b"cancelled", what="the admin's cancellation")


def test_the_order_counter_and_indexes(live) -> None:
    """A created order is in Redis at once: hash, customer and store indexes, and its region's input stream."""
    store = g1(live)
    alice = live.headers("alice")
    t0 = time.time()
    created = httpx.post(f"{live.base}/orders", json={"store_id": "g1", "dropoff": near(store), "note": "ring twice"}, headers=alice)
    assert created.status_code == 201
    body = created.json()
    oid = body["id"]
    assert body["status"] == "placed" and body["customer"] == "alice" and len(body["pin"]) == 4 and body["pin"].isdigit()
    assert body["tracking"]["url"] == f"/track/{oid}?token={body['tracking']['token']}"
    record = live.redis.hgetall(f"order:{oid}")
    assert record[b"customer"] == b"alice" and record[b"note"] == b"ring twice" and record[b"region"] == store["region"].encode()
    assert live.redis.zscore("orders:customer:alice", oid) is not None
    assert live.redis.zscore("orders:store:g1", oid) is not None
    assert abs(epoch_s(live.redis.zscore("orders:customer:alice", oid)) - t0) < 5
    state = httpx.get(f"{live.base}/track/{oid}/state", params={"token": body["tracking"]["token"]})
    assert state.status_code == 200 and state.json()["order"]["id"] == oid
    assert state.json()["order"]["pin"] is None  # a shared tracking link does not give the PIN away
    assert httpx.get(f"{live.base}/track/{oid}/state", params={"token": "garbage"}).status_code == 401
