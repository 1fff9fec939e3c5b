"""Flash sales (per-customer limit), coupons (uses, minimum spend) and points (redeem, cap, earn once on delivery)."""
from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from actors import live_keys as K
from api.shop.checkout import Shop
from tests.api.shop_testkit import (
    as_demo,
    balance,
    cancel,
    cart,
    checkout,
    coupon_uses,
    deliver,
    flash_bought,
    give_points,
    ledger,
    minted,
    pay,
    place,
    placed,
    reservation,
    shift_on,
    stock,
)

# s1 (Nanjing Road Noodle House) sells noodle-beef at ¥30.00, noodle-dandan at ¥20.00, snack-tea-egg at ¥2.50;
# the store's 满减 tiers are 满30减3 / 满60减8 / 满100减15; a door 550 m away pays ¥5.00 delivery.
BEEF, DANDAN, EGG = "noodle-beef", "noodle-dandan", "snack-tea-egg"


def open_flash_sale(live, units: int = 5, limit: int = 1, price: int = 990) -> None:
    reply = httpx.post(f"{live.base}/shop/flash-sales", headers=as_demo(live, "admin"), json={
        "store_id": "s1", "sku": BEEF, "price_cents": price, "units": units, "per_customer_limit": limit, "minutes": 30})
    assert reply.status_code == 201, reply.text
    assert reply.json()["units"] == units and stock(live, "s1", BEEF) == units


def codes(quote: dict) -> list[tuple[str, int]]:
    return [(line["code"], line["amount_cents"]) for line in quote["lines"]]


@pytest.fixture
def slow_pricing(monkeypatch):
    """Widen the window between pricing and reserving, so concurrent checkouts are all priced before any reserves."""
    original = Shop.price

    async def price_then_wait(self, who, body, distance_m):
        out = await original(self, who, body, distance_m)
        await asyncio.sleep(0.5)
        return out

    monkeypatch.setattr(Shop, "price", price_then_wait)


def concurrently(live, requests: list[tuple[dict, dict]]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live.base, timeout=30) as client:
            return await asyncio.gather(*(client.post("/checkout/orders", json=b, headers=h) for h, b in requests))

    return asyncio.run(run())


# -- flash sales -------------------------------------------------------------------------------
def test_flash_price_within_the_limit_store_price_beyond_it_and_cancel_gives_the_limit_back(live) -> None:
    open_flash_sale(live, units=5, limit=1)
    alice = as_demo(live, "alice")
    quote = httpx.post(f"{live.base}/checkout/quote", json=cart(live, "s1", [(BEEF, 1)]), headers=alice).json()
    assert codes(quote) == [("flash", 990), ("delivery", 500)] and quote["total_cents"] == 1490

    first = placed(live, alice, cart(live, "s1", [(BEEF, 1)]))
    assert codes(first["quote"])[0] == ("flash", 990)
    assert flash_bought(live, "s1", BEEF, "alice") == 1 and stock(live, "s1", BEEF) == 4
    # the limit is spent: the next unit is quoted and sold at the store price (docs/pricing.md step 1)
    second = placed(live, alice, cart(live, "s1", [(BEEF, 1)]))
    assert codes(second["quote"]) == [("goods", 3000), ("reduction", -300), ("delivery", 500)]
    assert flash_bought(live, "s1", BEEF, "alice") == 1 and stock(live, "s1", BEEF) == 3
    # bob's first unit is his own flash unit
    bob_first = placed(live, as_demo(live, "bob"), cart(live, "s1", [(BEEF, 1)]))
    assert codes(bob_first["quote"])[0] == ("flash", 990)

    # cancelling the flash order gives the unit and the limit back: alice's next unit is at the flash price again
    assert cancel(live, alice, first["order_id"]).status_code == 200
    assert flash_bought(live, "s1", BEEF, "alice") == 0 and stock(live, "s1", BEEF) == 3
    again = httpx.post(f"{live.base}/checkout/quote", json=cart(live, "s1", [(BEEF, 1)]), headers=alice).json()
    assert codes(again)[0] == ("flash", 990)


def test_a_new_flash_sale_of_the_sku_counts_afresh(live) -> None:
    alice = as_demo(live, "alice")
    open_flash_sale(live, units=5, limit=1)
    old = placed(live, alice, cart(live, "s1", [(BEEF, 1)]))
    pay(live, alice, old["order_id"])
    assert codes(httpx.post(f"{live.base}/checkout/quote", json=cart(live, "s1", [(BEEF, 1)]), headers=alice).json())[0] == ("goods", 3000)
    # the next sale of the same SKU (at another price: the same terms while it is open are the same sale, opened again):
    # alice's unit of the last one does not use up her limit in this one
    open_flash_sale(live, units=5, limit=1, price=890)
    assert flash_bought(live, "s1", BEEF, "alice") == 0
    new = placed(live, alice, cart(live, "s1", [(BEEF, 1)]))
    assert codes(new["quote"])[0] == ("flash", 890) and flash_bought(live, "s1", BEEF, "alice") == 1
    # cancelling the old sale's order gives back its own count, not the new sale's
    assert cancel(live, alice, old["order_id"]).status_code == 200
    assert flash_bought(live, "s1", BEEF, "alice") == 1
    assert codes(httpx.post(f"{live.base}/checkout/quote", json=cart(live, "s1", [(BEEF, 1)]), headers=alice).json())[0] == ("goods", 3000)


def test_opening_the_same_flash_sale_again_never_sells_its_sold_units_twice(live) -> None:
    """A retried or repeated open of the live sale (same SKU, price, limit) is the same sale: the shelf moves by the
    difference of its units only. Before, it set the shelf to ``units`` again, so the units already sold went on sale twice."""
    admin = as_demo(live, "admin")
    body = {"store_id": "s1", "sku": BEEF, "price_cents": 990, "units": 5, "per_customer_limit": 1, "minutes": 30}
    open_flash_sale(live, units=5, limit=1)
    alice, bob = as_demo(live, "alice"), as_demo(live, "bob")
    pay(live, alice, placed(live, alice, cart(live, "s1", [(BEEF, 1)]))["order_id"])  # sold
    placed(live, bob, cart(live, "s1", [(BEEF, 1)]))  # held by a checkout awaiting payment
    assert stock(live, "s1", BEEF) == 3

    again = httpx.post(f"{live.base}/shop/flash-sales", json=body, headers=admin)  # the admin's retry
    assert again.status_code == 200 and again.json()["new"] is False and again.json()["stock"] == 3
    assert stock(live, "s1", BEEF) == 3 and flash_bought(live, "s1", BEEF, "alice") == 1
    more = httpx.post(f"{live.base}/shop/flash-sales", json={**body, "units": 8}, headers=admin)
    assert more.status_code == 200 and more.json()["stock"] == 6 and stock(live, "s1", BEEF) == 6
    # fewer units than are sold or held is refused, changing nothing
    fewer = httpx.post(f"{live.base}/shop/flash-sales", json={**body, "units": 1}, headers=admin)
    assert fewer.status_code == 409 and fewer.json()["detail"]["code"] == "flash_units_taken"
    assert stock(live, "s1", BEEF) == 6


def test_a_cart_over_the_limit_is_reserved_as_quoted(live) -> None:
    """Quote and reservation agree: 3 units with a limit of 2 are 2 at the flash price and 1 at the store price."""
    open_flash_sale(live, units=10, limit=2)
    alice = as_demo(live, "alice")
    body = cart(live, "s1", [(BEEF, 2), (BEEF, 1)])  # one SKU on two lines counts as one line of 3
    quote = httpx.post(f"{live.base}/checkout/quote", json=body, headers=alice).json()
    assert codes(quote)[:2] == [("goods", 3000), ("flash", 1980)]
    out = placed(live, alice, body)
    assert out["quote"]["lines"] == quote["lines"] and out["quote"]["total_cents"] == quote["total_cents"]
    assert stock(live, "s1", BEEF) == 7 and reservation(live, "s1", out["order_id"])[BEEF] == "3"
    assert checkout(live, out["order_id"])["lines"] == f'[{{"sku": "{BEEF}", "qty": 3}}]'
    # nothing left at the flash price for alice: her next unit is at the store price
    assert codes(httpx.post(f"{live.base}/checkout/quote", json=cart(live, "s1", [(BEEF, 1)]), headers=alice).json())[0] == ("goods", 3000)
    assert cancel(live, alice, out["order_id"]).status_code == 200
    assert flash_bought(live, "s1", BEEF, "alice") == 0 and stock(live, "s1", BEEF) == 10


def test_two_flash_checkouts_priced_at_once_the_second_unit_is_refused(live, slow_pricing) -> None:
    open_flash_sale(live, units=5, limit=1)
    alice = as_demo(live, "alice")
    replies = concurrently(live, [(alice, cart(live, "s1", [(BEEF, 1)]))] * 2)
    assert sorted(r.status_code for r in replies) == [201, 409]
    refused = next(r for r in replies if r.status_code == 409)
    assert refused.json()["detail"]["code"] == "limit_reached"
    won = next(r for r in replies if r.status_code == 201).json()
    assert codes(won["quote"])[0] == ("flash", 990)
    # exactly one unit left the shelf, one checkout exists, the limit counts one
    assert stock(live, "s1", BEEF) == 4 and flash_bought(live, "s1", BEEF, "alice") == 1
    assert [k.decode() for k in live.redis.keys("checkout:o*")] == [f"checkout:{won['order_id']}"]


# -- coupons -----------------------------------------------------------------------------------
def test_coupon_uses_minimum_spend_and_unknown_codes(live) -> None:
    alice = as_demo(live, "alice")
    two_beef = cart(live, "s1", [(BEEF, 2)], coupon="welcome10")  # codes are case-insensitive
    quote = httpx.post(f"{live.base}/checkout/quote", json=two_beef, headers=alice).json()
    # ¥10 off beats the 满60减8 tier it does not stack with: the coupon applies and a note says so
    assert ("coupon", -1000) in codes(quote) and quote["coupon"] == "WELCOME10" and quote["total_cents"] == 6000 - 1000 + 500
    assert [c for c, _ in codes(quote)] == ["goods", "coupon", "not_stacked", "delivery"]
    first = placed(live, alice, two_beef)
    assert first["quote"]["coupon"] == "WELCOME10" and coupon_uses(live, "WELCOME10", "alice") == 1

    beef_before = stock(live, "s1", BEEF)
    for attempt in (lambda: place(live, alice, two_beef),
                    lambda: httpx.post(f"{live.base}/checkout/quote", json=two_beef, headers=alice)):
        used_up = attempt()
        assert used_up.status_code == 409 and used_up.json()["detail"]["code"] == "coupon_used_up", used_up.text
    assert stock(live, "s1", BEEF) == beef_before and coupon_uses(live, "WELCOME10", "alice") == 1
    # bob has his own use
    assert placed(live, as_demo(live, "bob"), two_beef)["quote"]["coupon"] == "WELCOME10"

    # minimum spend: SAVE5 needs ¥20 of goods, WELCOME10 ¥50
    carol = minted(live, "carol")
    for body in (cart(live, "s1", [(EGG, 2)], coupon="SAVE5"), cart(live, "s1", [(BEEF, 1)], coupon="WELCOME10")):
        for url in ("/checkout/quote", "/checkout/orders"):
            short = httpx.post(live.base + url, json=body, headers=carol)
            assert short.status_code == 422 and short.json()["detail"]["code"] == "coupon_min_spend", short.text
    assert coupon_uses(live, "SAVE5", "carol") == 0 and coupon_uses(live, "WELCOME10", "carol") == 0
    # a category coupon on goods of another category
    off_topic = httpx.post(f"{live.base}/checkout/quote", json=cart(live, "s1", [(EGG, 10)], coupon="NOODLE15"), headers=alice)
    assert off_topic.status_code == 422 and off_topic.json()["detail"]["code"] == "coupon_not_applicable"
    unknown = place(live, alice, cart(live, "s1", [(BEEF, 1)], coupon="FREE100"))
    assert unknown.status_code == 404 and unknown.json()["detail"]["code"] == "unknown_coupon"
    assert stock(live, "s1", BEEF) == beef_before - 2  # only bob's order took stock since


def test_per_customer_limit_of_a_coupon_used_several_times(live) -> None:
    alice = as_demo(live, "alice")
    body = cart(live, "s1", [(BEEF, 1)], coupon="NOODLE15")  # 15 % of ¥30 beats 满30减3; two uses per customer
    orders = [placed(live, alice, body) for _ in range(2)]
    assert all(("coupon", -450) in codes(o["quote"]) for o in orders) and coupon_uses(live, "NOODLE15", "alice") == 2
    third = place(live, alice, body)
    assert third.status_code == 409 and third.json()["detail"]["code"] == "coupon_used_up"
    # an unpaid cancellation gives a use back
    assert cancel(live, alice, orders[0]["order_id"]).status_code == 200
    assert coupon_uses(live, "NOODLE15", "alice") == 1
    assert placed(live, alice, body)["quote"]["coupon"] == "NOODLE15"


# -- points ------------------------------------------------------------------------------------
def test_redeem_points_capped_by_balance_and_half_the_goods(live) -> None:
    alice, bob = as_demo(live, "alice"), as_demo(live, "bob")
    give_points(live, "alice", 5000)
    me = httpx.get(f"{live.base}/members/me", headers=alice).json()
    assert me["points"] == 5000 and me["ledger"][0]["reason"] == "adjust"

    out = placed(live, alice, cart(live, "s1", [(BEEF, 1)], points=1000))
    q = out["quote"]
    assert ("points", -1000) in codes(q) and q["points_used"] == 1000 and q["total_cents"] == 3000 - 300 - 1000 + 500
    assert balance(live, "alice") == 4000
    spend = ledger(live, "alice")[-1]
    assert (spend["reason"], spend["delta"], spend["ref"], spend["balance"]) == ("spend", "-1000", out["order_id"], "4000")
    assert checkout(live, out["order_id"])["points"] == "1000"

    # more than half the goods after discounts: ¥27.00 / 2 = ¥13.50, so 1300 points at most
    capped = httpx.post(f"{live.base}/checkout/quote", json=cart(live, "s1", [(BEEF, 1)], points=4000), headers=alice).json()
    assert capped["points_used"] == 1300 and capped["points_cents"] == 1300
    # more than the balance: bob has 500, asks for 10000 on a ¥60 cart
    give_points(live, "bob", 550)
    bob_out = placed(live, bob, cart(live, "s1", [(BEEF, 2)], points=10_000))
    assert bob_out["quote"]["points_used"] == 500 and balance(live, "bob") == 50  # whole 100-point units only
    # no balance, no points line (not an error)
    carol = minted(live, "carol")
    none = placed(live, carol, cart(live, "s1", [(BEEF, 1)], points=500))
    assert none["quote"]["points_used"] == 0 and "points" not in [c for c, _ in codes(none["quote"])]
    assert ledger(live, "carol") == []


def test_points_race_the_second_checkout_releases_everything_it_took(live, slow_pricing) -> None:
    """All or nothing: both checkouts are priced against the same 1000 points; the one that finds them gone
    gives back its stock, its coupon use and its delivery slot."""
    alice = as_demo(live, "alice")
    give_points(live, "alice", 1000)
    quote = httpx.post(f"{live.base}/checkout/quote", json=cart(live, "s1", [(BEEF, 1)], mode="scheduled"), headers=alice).json()
    slot_start = quote["slots"][0]["start"]
    body = cart(live, "s1", [(BEEF, 1)], points=1000, coupon="SAVE5", mode="scheduled", slot_start=slot_start)
    beef = stock(live, "s1", BEEF)
    replies = concurrently(live, [(alice, body)] * 2)
    assert sorted(r.status_code for r in replies) == [201, 409]
    assert next(r for r in replies if r.status_code == 409).json()["detail"]["code"] == "insufficient_points"
    won = next(r for r in replies if r.status_code == 201).json()
    slot = checkout(live, won["order_id"])["slot"]
    assert slot and live.redis.get(slot) == b"1"  # the loser's booking was given back
    assert stock(live, "s1", BEEF) == beef - 1 and coupon_uses(live, "SAVE5", "alice") == 1 and balance(live, "alice") == 0
    assert [e["reason"] for e in ledger(live, "alice")] == ["adjust", "spend"]


def test_points_are_earned_once_on_delivery(live) -> None:
    alice = as_demo(live, "alice")
    give_points(live, "alice", 1000)
    out = placed(live, alice, cart(live, "s1", [(BEEF, 1)], points=1000))
    oid = out["order_id"]
    goods_paid = out["quote"]["total_cents"] - out["quote"]["delivery_cents"]
    assert goods_paid == 3000 - 300 - 1000
    shift_on(live, "courier-3", "s1")
    pay(live, alice, oid)
    assert balance(live, "alice") == 0  # nothing earned before delivery
    pin = httpx.get(f"{live.base}/orders/{oid}", headers=alice).json()["pin"]
    deliver(live, "courier-3", oid, pin)

    earned = goods_paid // 100
    live.wait(lambda: balance(live, "alice") == earned, what="points credited on delivery")
    entries = [e for e in ledger(live, "alice") if e["reason"] == "earn"]
    assert [(e["delta"], e["ref"]) for e in entries] == [(str(earned), oid)]
    assert httpx.get(f"{live.base}/members/me", headers=alice).json()["spend_cents"] == goods_paid

    # the delivered event again (a replay, a second worker's retry): read and acknowledged, credited nothing
    live.redis.xadd(K.DELIVERED, {"order": oid, "at": "0"})
    last = live.redis.xadd(K.DELIVERED, {"order": "o-unknown", "at": "0"})  # an order without a checkout earns nothing

    def consumed() -> bool:
        group = next(g for g in live.redis.xinfo_groups(K.DELIVERED) if g["name"] == b"points")
        return group["last-delivered-id"] == last and group["pending"] == 0

    live.wait(consumed, what="the points worker to read the replay")
    time.sleep(0.1)
    assert balance(live, "alice") == earned and len([e for e in ledger(live, "alice") if e["reason"] == "earn"]) == 1
