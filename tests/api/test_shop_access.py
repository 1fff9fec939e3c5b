"""Who may do what in the shop (scope rules), and the catalog endpoints: nearby stores, listings, categories, search."""
from __future__ import annotations

import httpx

from commerce.demo_catalog import demo_products
from commerce.search import normalize
from tests.api.shop_testkit import (
    as_demo,
    cancel,
    cart,
    get_checkout,
    minted,
    place,
    placed,
    simulate,
    stock,
    store_of,
)

BEEF = "noodle-beef"


def test_scope_of_checkouts_payments_and_flash_sales(live) -> None:
    alice, bob = live.headers("alice"), as_demo(live, "bob")  # a real sign-in and a minted token act alike
    out = placed(live, alice, cart(live, "s1", [(BEEF, 1)]))
    oid = out["order_id"]
    held = stock(live, "s1", BEEF)

    # bob cannot read, cancel or pay alice's checkout
    for reply in (get_checkout(live, bob, oid), cancel(live, bob, oid), simulate(live, bob, oid)):
        assert reply.status_code == 403, reply.text
    assert get_checkout(live, alice, oid).json()["status"] == "awaiting_payment" and stock(live, "s1", BEEF) == held
    # staff may read it; only the customer's role may act on it
    for staff in ("planner", "admin"):
        assert get_checkout(live, as_demo(live, staff), oid).status_code == 200
    courier, store = as_demo(live, "courier-1"), as_demo(live, "store-s1")
    for who in (courier, store):
        assert get_checkout(live, who, oid).status_code == 403
        assert cancel(live, who, oid).status_code == 403
        assert simulate(live, who, oid).status_code == 403
        # couriers and stores cannot buy, quote, or see membership
        assert place(live, who, cart(live, "s1", [(BEEF, 1)])).status_code == 403
        assert httpx.post(f"{live.base}/checkout/quote", json=cart(live, "s1", [(BEEF, 1)]), headers=who).status_code == 403
        assert httpx.get(f"{live.base}/members/me", headers=who).status_code == 403
    assert place(live, minted(live, "planner", "planner"), cart(live, "s1", [(BEEF, 1)])).status_code == 403
    assert stock(live, "s1", BEEF) == held and len(live.redis.keys("checkout:o*")) == 1
    # not signed in, or a forged token
    assert place(live, {}, cart(live, "s1", [(BEEF, 1)])).status_code == 401
    assert httpx.get(f"{live.base}/checkout/orders/{oid}").status_code == 401
    forged = {"Authorization": "Bearer " + minted(live, "alice")["Authorization"].split()[1][:-3] + "AAA"}
    assert get_checkout(live, forged, oid).status_code == 401
    unknown = get_checkout(live, alice, "o999")
    assert unknown.status_code == 404 and unknown.json()["detail"]["code"] == "unknown_order"

    # flash sales are for admins only
    sale = {"store_id": "s1", "sku": BEEF, "price_cents": 990, "units": 3}
    for who in (alice, courier, store, as_demo(live, "planner")):
        assert httpx.post(f"{live.base}/shop/flash-sales", json=sale, headers=who).status_code == 403
    assert live.redis.hgetall("shop:flash:s1") == {} and stock(live, "s1", BEEF) == held
    admin = as_demo(live, "admin")
    for bad in ({**sale, "units": -1}, {**sale, "price_cents": 0}, {"store_id": "s1", "sku": BEEF}, {**sale, "per_customer_limit": 0}):
        assert httpx.post(f"{live.base}/shop/flash-sales", json=bad, headers=admin).status_code == 422
    for missing, code in (({**sale, "sku": "no-such-sku"}, "unknown_product"), ({**sale, "sku": "sushi-salmon"}, "not_sold_here"),
                          ({**sale, "store_id": "s99"}, "unknown_store")):
        reply = httpx.post(f"{live.base}/shop/flash-sales", json=missing, headers=admin)
        assert reply.status_code == 404 and reply.json()["detail"]["code"] == code
    assert live.redis.hgetall("shop:flash:s1") == {}
    assert httpx.post(f"{live.base}/shop/flash-sales", json=sale, headers=admin).status_code == 201
    assert stock(live, "s1", BEEF) == 3 - 1  # of the 3 units, alice's unpaid checkout holds one


def test_checkout_input_is_checked(live) -> None:
    alice = as_demo(live, "alice")
    good = cart(live, "s1", [(BEEF, 1)])
    bad_bodies = [
        {**good, "lines": []}, {**good, "lines": [{"sku": BEEF, "qty": 0}]}, {**good, "lines": [{"sku": BEEF, "qty": 100}]},
        {**good, "points": -1}, {**good, "unknown_field": 1}, {**good, "mode": "teleport"},
        {**good, "dropoff": {"lat": 91, "lng": 0}}, {**good, "mode": "scheduled"},  # scheduled without a slot
        {**good, "dropoff": {"lat": good["dropoff"]["lat"] + 0.5, "lng": good["dropoff"]["lng"]}},  # 55 km away
    ]
    for body in bad_bodies:
        reply = place(live, alice, body)
        assert reply.status_code == 422, (body, reply.text)
    for body, code in ((cart(live, "s1", [("no-such-sku", 1)]), "unknown_product"), (cart(live, "s1", [("sushi-salmon", 1)]), "not_sold_here")):
        reply = place(live, alice, body)
        assert reply.status_code == 404 and reply.json()["detail"]["code"] == code
    reply = place(live, alice, {**good, "store_id": "s99"})
    assert reply.status_code == 404
    # a cart that cannot be filled takes nothing: the in-stock line goes back on the shelf
    live.redis.hset("stock:{s1}", "noodle-dandan", 1)
    beef = stock(live, "s1", BEEF)
    short = place(live, alice, cart(live, "s1", [(BEEF, 2), ("noodle-dandan", 2)]))
    assert short.status_code == 409 and short.json()["detail"] == {"code": "out_of_stock", "detail": "noodle-dandan: out of stock"}
    assert stock(live, "s1", BEEF) == beef and stock(live, "s1", "noodle-dandan") == 1
    assert live.redis.keys("checkout:o*") == [] and live.redis.keys("resv:*") == []


def test_nearby_stores_and_listings(live) -> None:
    p1 = store_of(live, "p1")  # the pharmacy is open day and night and delivers 8 km
    near = httpx.get(f"{live.base}/shop/stores", params={"lat": p1["lat"], "lng": p1["lng"]})
    assert near.status_code == 200
    found = near.json()
    assert found[0]["id"] == "p1" and {"id", "name", "lat", "lng", "cell"} <= set(found[0])
    dist = [(s["lat"] - p1["lat"]) ** 2 + ((s["lng"] - p1["lng"]) * 0.855) ** 2 for s in found]
    assert dist == sorted(dist)
    far = httpx.get(f"{live.base}/shop/stores", params={"lat": 39.9, "lng": 116.4}).json()  # Beijing
    assert far == []
    for params in ({"lat": 95, "lng": 0}, {"lat": 0, "lng": 200}, {"lat": "x", "lng": 0}, {"lat": 31.2}):
        assert httpx.get(f"{live.base}/shop/stores", params=params).status_code == 422

    base = f"{live.base}/shop/stores/s1/items"
    hot = httpx.get(base, params={"listing": "hot", "limit": 5}).json()
    assert len(hot) == 5 and all(i["store_id"] == "s1" for i in hot)
    assert [i["sales"] for i in hot] == sorted((i["sales"] for i in hot), reverse=True)
    every = httpx.get(base, params={"listing": "hot", "limit": 100}).json()
    assert len(every) == 13 and [i["sku"] for i in every[:5]] == [i["sku"] for i in hot]
    new = httpx.get(base, params={"listing": "new"}).json()
    assert new[0]["sku"] == "noodle-tomato-egg"  # the one recently listed product of the noodle house
    promoted = httpx.get(base, params={"listing": "promoted"}).json()
    assert len(promoted) == 2 and all(i["promoted"] for i in promoted)
    noodles = httpx.get(base, params={"category": "noodles", "limit": 100}).json()
    assert noodles and {i["category"] for i in noodles} == {"noodles"}
    food = httpx.get(base, params={"category": "food", "limit": 100}).json()  # a parent category lists its children's items
    assert {i["sku"] for i in noodles} < {i["sku"] for i in food} and {"noodles", "snacks", "soft_drinks"} <= {i["category"] for i in food}
    drinks = {i["category"] for i in httpx.get(base, params={"category": "drinks"}).json()}
    assert drinks == {"soft_drinks"}
    # the listed stock is the live level
    live.redis.hset("stock:{s1}", BEEF, 0)
    assert next(i for i in httpx.get(base, params={"limit": 100}).json() if i["sku"] == BEEF)["stock"] == 0

    for params, status in (({"listing": "cheapest"}, 422), ({"limit": 0}, 422), ({"limit": 101}, 422), ({"category": "toys"}, 404)):
        reply = httpx.get(base, params=params)
        assert reply.status_code == status, (params, reply.text)
    assert httpx.get(f"{live.base}/shop/stores/s99/items").status_code == 404
    assert httpx.get(f"{live.base}/shop/stores/s99/items", params={"category": "food"}).status_code == 404


def test_search_in_chinese_and_english(live) -> None:
    products = {p.sku: p for p in demo_products()}
    beef = httpx.get(f"{live.base}/shop/search", params={"q": "牛肉", "limit": 100})
    assert beef.status_code == 200
    found = beef.json()
    skus = {i["sku"] for i in found}
    assert {"noodle-beef", "noodle-braised-beef", "bistro-steak", "noodle-lanzhou"} <= skus  # 牛肉 in the name or a tag
    assert all("牛肉" in products[s].name_zh or "牛肉" in products[s].tags for s in skus)
    assert "noodle-dandan" not in skus and "fruit-apple" not in skus
    assert all(i["name_zh"] == products[i["sku"]].name_zh for i in found)

    noodl = httpx.get(f"{live.base}/shop/search", params={"q": "noodl", "store_id": "s1", "limit": 100}).json()
    assert noodl and {i["store_id"] for i in noodl} == {"s1"}
    assert "noodle-beef" in {i["sku"] for i in noodl} and "snack-tea-egg" not in {i["sku"] for i in noodl}
    assert all(any(w.startswith("noodl") for w in normalize(i["name_en"]).split()) for i in noodl)
    everywhere = httpx.get(f"{live.base}/shop/search", params={"q": "Noodles", "limit": 100}).json()
    assert {i["store_id"] for i in everywhere} > {"s1", "s11"}
    assert httpx.get(f"{live.base}/shop/search", params={"q": "noodl", "limit": 3}).json().__len__() == 3
    assert httpx.get(f"{live.base}/shop/search", params={"q": "zzzzqqq"}).json() == []

    # search shows the live stock, as the listings do
    live.redis.hset("stock:{s1}", BEEF, 0)
    s1_beef = next(i for i in httpx.get(f"{live.base}/shop/search", params={"q": "牛肉面", "limit": 100}).json()
                   if i["store_id"] == "s1" and i["sku"] == BEEF)
    assert s1_beef["stock"] == 0

    for params, status in (({"q": ""}, 422), ({"q": "   "}, 422), ({"q": "x" * 101}, 422), ({}, 422),
                           ({"q": "beef", "store_id": "s99"}, 404)):
        reply = httpx.get(f"{live.base}/shop/search", params=params)
        assert reply.status_code == status, (params, reply.text)
