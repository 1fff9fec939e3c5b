"""Never oversold: hundreds of concurrent reservations against a real Redis for a small stock sell exactly the stock."""
from __future__ import annotations

import asyncio
import random

import httpx
import redis.asyncio as aioredis

from api.shop.inventory import Inventory, Line, reservation_key, sold_key, stock_key
from tests.api.shop_testkit import (
    as_demo,
    cart,
    checkout,
    flash_bought,
    minted,
    order_status,
    pay,
    reservation,
    sold,
    stock,
)


def test_concurrent_checkouts_sell_exactly_the_stock_then_payment_commits_it(live) -> None:
    admin = as_demo(live, "admin")
    flash_units, plain_units = 7, 5
    sale = httpx.post(f"{live.base}/shop/flash-sales", headers=admin, json={
        "store_id": "s1", "sku": "noodle-beef", "price_cents": 990, "units": flash_units, "per_customer_limit": 1, "minutes": 30})
    assert sale.status_code == 201, sale.text
    live.redis.hset(stock_key("s1"), "noodle-dandan", plain_units)  # the shelf of a plain SKU, set directly
    other_before = stock(live, "s1", "noodle-lanzhou")

    n = 300  # each customer tries once: half for the flash SKU, half for the plain one
    customers = [f"buyer-{i:03d}" for i in range(n)]
    wants = {c: ("noodle-beef" if i % 2 == 0 else "noodle-dandan") for i, c in enumerate(customers)}

    async def burst() -> list[tuple[str, httpx.Response]]:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        async with httpx.AsyncClient(base_url=live.base, limits=limits, timeout=60) as client:
            async def one(c: str) -> tuple[str, httpx.Response]:
                return c, await client.post("/checkout/orders", json=body_for[c], headers=minted(live, c))
            return await asyncio.gather(*(one(c) for c in customers))

    body_for = {c: cart(live, "s1", [(wants[c], 1)]) for c in customers}
    replies = asyncio.run(burst())

    won = {c: r.json() for c, r in replies if r.status_code == 201}
    lost = [r for _, r in replies if r.status_code != 201]
    assert all(r.status_code == 409 and r.json()["detail"]["code"] == "out_of_stock" for r in lost), {r.status_code for r in lost}
    per_sku = {sku: [c for c in won if wants[c] == sku] for sku in ("noodle-beef", "noodle-dandan")}
    assert sum(line["qty"] for c in won for line in body_for[c]["lines"]) == flash_units + plain_units
    assert len(per_sku["noodle-beef"]) == flash_units and len(per_sku["noodle-dandan"]) == plain_units
    assert stock(live, "s1", "noodle-beef") == 0 and stock(live, "s1", "noodle-dandan") == 0
    assert stock(live, "s1", "noodle-lanzhou") == other_before  # nothing else moved
    # the flash winners were charged the flash price; the plain ones the store price
    for c in per_sku["noodle-beef"]:
        assert [line["code"] for line in won[c]["quote"]["lines"] if line["code"] in ("goods", "flash")] == ["flash"]
        assert won[c]["quote"]["goods_cents"] == 990
    # only winners hold a reservation; the losers left nothing behind (no checkout, no flash count)
    assert len(live.redis.keys("checkout:o*")) == len(won)
    assert len(live.redis.keys("resv:{s1}:*")) == len(won)
    assert all(flash_bought(live, "s1", "noodle-beef", c) == 0 for c, r in replies if r.status_code != 201)
    assert all(flash_bought(live, "s1", "noodle-beef", c) == 1 for c in per_sku["noodle-beef"])

    # pay every winner: the reserved units become sold, each order goes to dispatch once
    for c, out in won.items():
        pay(live, minted(live, c), out["order_id"])
    assert sold(live, "s1", "noodle-beef") == flash_units and sold(live, "s1", "noodle-dandan") == plain_units
    assert stock(live, "s1", "noodle-beef") == 0 and stock(live, "s1", "noodle-dandan") == 0
    for out in won.values():
        assert checkout(live, out["order_id"])["status"] == "paid"
        assert reservation(live, "s1", out["order_id"])["_state"] == "committed"
        assert order_status(live, out["order_id"]) is not None
    listed = {i["sku"]: i["stock"] for i in httpx.get(f"{live.base}/shop/stores/s1/items?listing=hot&limit=100").json()}
    assert listed["noodle-beef"] == 0 and listed["noodle-dandan"] == 0


def test_inventory_script_under_500_concurrent_reservations(redis_url: str) -> None:
    """The Lua scripts alone, on the session Redis: no interleaving can sell a unit twice or go below zero."""
    store = "oversell-lab"

    async def run() -> None:
        r = aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(redis_url, max_connections=64, timeout=20))
        try:
            for key in (stock_key(store), sold_key(store)):
                await r.delete(key)
            await r.delete(*(await r.keys(f"resv*{{{store}}}*") or ["none"]))
            inv = Inventory(r)
            await inv.set_stock(store, {"scarce": 50, "plenty": 10_000, "pair-a": 10, "pair-b": 1_000})
            await inv.set_stock(store, {"scarce": 999})  # only_new: an existing level is kept
            assert await inv.stock(store, ["scarce"]) == {"scarce": 50}

            rng = random.Random(7)
            qty = [rng.choice((1, 1, 2, 3)) for _ in range(500)]
            results = await asyncio.gather(*(
                inv.reserve(store, f"c{i}", f"u{i}", [Line("scarce", q), Line("plenty", 1)], 2e9) for i, q in enumerate(qty)))
            won = [i for i, refusal in enumerate(results) if refusal is None]
            refused = [i for i, refusal in enumerate(results) if refusal is not None]
            left = (await inv.stock(store, ["scarce"]))["scarce"]
            assert left >= 0 and sum(qty[i] for i in won) == 50 - left
            # every refusal was for the scarce SKU, and was right: what remained never covered it
            assert {(results[i].sku, results[i].reason) for i in refused} == {("scarce", "out_of_stock")}
            assert all(qty[i] > left for i in refused)
            # all or nothing: the plentiful line went only with the carts that got the scarce one
            assert (await inv.stock(store, ["plenty"]))["plenty"] == 10_000 - len(won)
            assert await r.exists(reservation_key(store, f"c{refused[0]}")) == 0

            # two-line carts racing for a pair: each reserved cart took one of each, never a half
            pairs = await asyncio.gather(*(
                inv.reserve(store, f"p{i}", f"u{i}", [Line("pair-b", 1), Line("pair-a", 1)], 2e9) for i in range(200)))
            assert sum(p is None for p in pairs) == 10
            assert await inv.stock(store, ["pair-a", "pair-b"]) == {"pair-a": 0, "pair-b": 990}

            # release and commit are idempotent per checkout and race safely
            first = won[0]
            outcomes = await asyncio.gather(*([inv.release(store, f"c{first}") for _ in range(20)]
                                              + [inv.commit(store, f"c{first}") for _ in range(20)]))
            assert sum(outcomes) == 1 or (sum(outcomes) == 2 and outcomes[:20].count(True) == 1)
            state = (await r.hget(reservation_key(store, f"c{first}"), "_state")).decode()
            after = (await inv.stock(store, ["scarce"]))["scarce"]
            sold_now = int(await r.hget(sold_key(store), "scarce") or 0)
            assert state == "released" and after == left + qty[first] and sold_now == 0
            # a committed reservation stays sold; releasing it (a paid cancellation) puts it back and un-sells it
            second = won[1]
            assert await inv.commit(store, f"c{second}") and not await inv.commit(store, f"c{second}")
            assert int(await r.hget(sold_key(store), "scarce")) == qty[second]
            assert await inv.release(store, f"c{second}") and not await inv.release(store, f"c{second}")
            assert int(await r.hget(sold_key(store), "scarce")) == 0
            assert (await inv.stock(store, ["scarce"]))["scarce"] == left + qty[first] + qty[second]
            # the same checkout id reserved twice takes the stock once
            before = (await inv.stock(store, ["plenty"]))["plenty"]
            again = await asyncio.gather(*(inv.reserve(store, "dup", "u", [Line("plenty", 5)], 2e9) for _ in range(10)))
            assert again == [None] * 10 and (await inv.stock(store, ["plenty"]))["plenty"] == before - 5
        finally:
            await r.aclose()

    asyncio.run(run())
