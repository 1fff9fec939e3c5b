"""Money and stock that always add up: a worker killed between any two of its Redis round trips, and requests that race.

Each multi-step path of the shop that holds or gives back money or goods (placing a checkout, cancelling a paid order,
opening a flash sale) is run on a worker that dies before its 1st, 2nd, 3rd ... round trip to Redis
(``shop_testkit.at_every_crash_point``): after every such death the state is either what it was before or the whole
step done, never a part of it, and a retry (the client's, with the same ``Idempotency-Key``) finishes it exactly once.
The races run many requests at once (``asyncio.gather``) against the live service.
"""
from __future__ import annotations

import asyncio
from typing import Any

import httpx
import redis.asyncio as aioredis

from api.security import Principal
from api.shop.catalog_store import city_catalog
from api.shop.checkout import EXPIRING, Shop
from api.shop.models import CheckoutRequest
from api.shop.routes import place_once
from tests.api.conftest import Live
from tests.api.shop_testkit import (
    as_demo,
    at_every_crash_point,
    balance,
    cancel,
    cart,
    checkout,
    coupon_uses,
    free_stale_claim,
    give_points,
    placed,
    reservation,
    stock,
)

BEEF, DANDAN = "noodle-beef", "noodle-dandan"
ALICE = Principal("alice", "customer", "alice")


def full_cart(live: Live, headers: dict[str, str]) -> dict[str, Any]:
    """A scheduled cart that holds everything a checkout can hold: 2 SKUs, a coupon (WELCOME10, once per customer),
    500 points and a delivery slot."""
    quote = httpx.post(f"{live.base}/checkout/quote", json=cart(live, "s1", [(BEEF, 1)], mode="scheduled"), headers=headers).json()
    return cart(live, "s1", [(BEEF, 1), (DANDAN, 2)], coupon="WELCOME10", points=500, mode="scheduled",
                slot_start=quote["slots"][0]["start"])


def holdings(live: Live, customer: str, slot: str) -> dict[str, int]:
    return {"beef": stock(live, "s1", BEEF), "dandan": stock(live, "s1", DANDAN), "coupon": coupon_uses(live, "WELCOME10", customer),
            "points": balance(live, customer), "slot": int(live.redis.get(slot) or 0)}


def held_by_one_order(before: dict[str, int]) -> dict[str, int]:
    return {"beef": before["beef"] - 1, "dandan": before["dandan"] - 2, "coupon": before["coupon"] + 1,
            "points": before["points"] - 500, "slot": before["slot"] + 1}


def awaiting_payment(live: Live, customer: str) -> list[str]:
    out = []
    for key in live.redis.scan_iter("checkout:o*"):
        c = checkout(live, key.decode().removeprefix("checkout:"))
        if c.get("customer") == customer and c.get("status") == "awaiting_payment":
            out.append(c["id"])
    return sorted(out)


def catalog_of(live: Live) -> Any:
    async def load() -> Any:
        client = aioredis.Redis.from_url(live.settings.redis_url)
        try:
            return await city_catalog(client)
        finally:
            await client.aclose()

    return asyncio.run(load())


# -- 3. placing a checkout ------------------------------------------------------------------------
def test_placing_killed_at_any_point_holds_all_or_nothing_and_the_retry_places_exactly_one_order(live) -> None:
    alice = as_demo(live, "alice")
    give_points(live, "alice", 2000)
    body = full_cart(live, alice)
    first = placed(live, alice, body)  # names the slot; given back at once
    slot = checkout(live, first["order_id"])["slot"]
    assert cancel(live, alice, first["order_id"]).status_code == 200
    before = holdings(live, "alice", slot)
    request, catalog = CheckoutRequest(**body), catalog_of(live)

    async def place(client: aioredis.Redis, key: str) -> tuple[int, Any]:
        return await place_once(Shop(client, live.settings, catalog), client, live.settings, ALICE, request, key)

    async def healthy(key: str) -> tuple[int, Any]:
        client = aioredis.Redis.from_url(live.settings.redis_url)
        try:
            return await place(client, key)
        finally:
            await client.aclose()

    outcomes = []

    def after(n: int, killed: bool) -> None:
        key = f"crash-{n}"
        mine = awaiting_payment(live, "alice")
        if not mine:  # died before placing: nothing is held
            assert holdings(live, "alice", slot) == before, n
        else:  # placed whole: all of it held, the checkout waiting for its payment
            assert len(mine) == 1, (n, mine)
            assert holdings(live, "alice", slot) == held_by_one_order(before), n
            assert reservation(live, "s1", mine[0])["_state"] == "reserved" and live.redis.zscore(EXPIRING, mine[0]) is not None
        outcomes.append((n, killed, bool(mine)))
        # the client sends the request again with its key (after the lease of a claim never answered ran out)
        free_stale_claim(live, "alice", key)
        status, out = asyncio.run(healthy(key))
        assert status == 201, (n, out)
        again = awaiting_payment(live, "alice")
        assert again == [out["order_id"]] and (not mine or mine == again), (n, mine, again)
        assert holdings(live, "alice", slot) == held_by_one_order(before), n
        assert asyncio.run(healthy(key)) == (status, out)  # and once more: the same answer, no other order
        assert awaiting_payment(live, "alice") == again
        assert cancel(live, alice, out["order_id"]).status_code == 200  # ready for the next crash point
        assert holdings(live, "alice", slot) == before

    trips = at_every_crash_point(live, lambda client: place(client, f"crash-{len(outcomes)}"), after)
    assert trips >= 5 and outcomes[-1] == (trips, False, True)
    assert any(not placed for _, killed, placed in outcomes if killed) and any(placed for _, killed, placed in outcomes if killed)
