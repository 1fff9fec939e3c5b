"""A dispatcher pauses a delivery zone and changes its slot capacity; new orders and quotes follow at once."""
from __future__ import annotations

import httpx

from dispatch.geo import Location
from dispatch.zones import cell_str, zone_of
from tests.api.conftest import Live
from tests.api.shop_testkit import as_demo, cart, place


def test_a_paused_zone_refuses_new_orders_with_the_reason_until_resumed(live: Live) -> None:
    planner, alice = as_demo(live, "planner"), as_demo(live, "alice")
    store = next(s for s in live.stores() if s["id"] == "s1")
    door = {"lat": store["lat"] + 0.005, "lng": store["lng"]}
    zone = cell_str(zone_of(Location(door["lat"], door["lng"]), 7))
    assert httpx.put(f"{live.base}/ops/delivery-zones/{zone}/pause", json={"reason": "storm"}, headers=alice).status_code == 403
    bad = httpx.put(f"{live.base}/ops/delivery-zones/nonsense/pause", json={"reason": "storm"}, headers=planner)
    assert bad.status_code == 422 and "resolution 7" in bad.json()["detail"]
    paused = httpx.put(f"{live.base}/ops/delivery-zones/{zone}/pause", json={"reason": "storm: no riders out"}, headers=planner)
    assert paused.status_code == 200 and paused.json() == {"zone": zone, "paused": "storm: no riders out", "slot_capacity": None}

    why = f"deliveries to zone {zone} are paused by the dispatcher: storm: no riders out"
    order = httpx.post(f"{live.base}/orders", json={"store_id": "s1", "dropoff": door}, headers=alice)
    assert order.status_code == 409 and order.json()["detail"] == why
    quote = httpx.post(f"{live.base}/quote", json={"store_id": "s1", "dropoff": door}, headers=alice)
    assert quote.status_code == 409 and quote.json()["detail"] == why
    shop = place(live, alice, cart(live, "s1", [("noodle-beef", 1)]))  # the shop's checkout ~550 m north: the same zone
    assert shop.status_code == 409 and why in str(shop.json()["detail"])
    elsewhere = httpx.post(f"{live.base}/orders", json={"store_id": "s1", "dropoff": {"lat": store["lat"] - 0.03, "lng": store["lng"]}},
                           headers=alice)
    assert elsewhere.status_code == 201, "other zones go on"
    listed = httpx.get(f"{live.base}/ops/delivery-zones", headers=planner).json()
    assert listed == [{"zone": zone, "paused": "storm: no riders out", "slot_capacity": None}]

    resumed = httpx.delete(f"{live.base}/ops/delivery-zones/{zone}/pause", headers=planner)
    assert resumed.status_code == 200 and resumed.json()["paused"] is None
    assert httpx.post(f"{live.base}/orders", json={"store_id": "s1", "dropoff": door}, headers=alice).status_code == 201


def test_a_zone_given_its_own_slot_capacity_books_that_many_per_slot(live: Live) -> None:
    planner, alice = as_demo(live, "planner"), as_demo(live, "alice")
    store = next(s for s in live.stores() if s["id"] == "s1")
    door = {"lat": store["lat"] + 0.005, "lng": store["lng"]}
    zone = cell_str(zone_of(Location(door["lat"], door["lng"]), 7))
    set_ = httpx.put(f"{live.base}/ops/delivery-zones/{zone}/slot-capacity", json={"capacity": 1}, headers=planner)
    assert set_.status_code == 200 and set_.json()["slot_capacity"] == 1
    slots = httpx.post(f"{live.base}/quote", json={"store_id": "s1", "dropoff": door, "mode": "scheduled"}, headers=alice).json()["slots"]
    assert slots and all(s["remaining"] == 1 for s in slots)
    first = slots[0]["start"]
    body = {"store_id": "s1", "dropoff": door, "mode": "scheduled", "slot_start": first}
    assert httpx.post(f"{live.base}/orders", json=body, headers=alice).status_code == 201
    full = httpx.post(f"{live.base}/orders", json=body, headers=alice)
    assert full.status_code == 409
    after = httpx.post(f"{live.base}/quote", json={"store_id": "s1", "dropoff": door, "mode": "scheduled"}, headers=alice).json()["slots"]
    assert first not in [s["start"] for s in after]
    reset = httpx.delete(f"{live.base}/ops/delivery-zones/{zone}/slot-capacity", headers=planner)
    assert reset.json()["slot_capacity"] is None
    again = httpx.post(f"{live.base}/quote", json={"store_id": "s1", "dropoff": door, "mode": "scheduled"}, headers=alice).json()["slots"]
    assert next(s for s in again if s["start"] == first)["remaining"] == live.settings.slot_capacity - 1
