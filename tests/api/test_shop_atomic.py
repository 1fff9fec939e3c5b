"""Money and stock that always add up: a worker killed between any two of its Redis round trips, and requests that race.

Each multi-step path of the shop that holds or gives back money or goods (placing a checkout, cancelling a paid order,
opening a flash sale) is run on a worker that dies before its 1st, 2nd, 3rd ... round trip to Redis
(``shop_testkit.at_every_crash_point``): after every such death the state is either what it was before or the whole
step done, never a part of it, and a retry (the client's, with the same ``Idempotency-Key``) finishes it exactly once.
The races run many requests at once (``asyncio.gather``) against the live service.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import redis.asyncio as aioredis

from actors import live_keys as K
from api.security import Principal
from api.shop.catalog_store import city_catalog
from api.shop.checkout import EXPIRING, Shop
from api.shop.models import CheckoutRequest
from api.shop.routes import place_once
from tests.api.conftest import Live
from commerce.errors import CommerceError
from tests.api.shop_testkit import (
    CourierApp,
    as_demo,
    assert_ledger,
    at_every_crash_point,
    balance,
    cancel,
    cart,
    checkout,
    coupon_uses,
    free_stale_claim,
    give_points,
    order_status,
    pay,
    placed,
    refunds,
    reservation,
    shift_on,
    sold,
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


# -- 1. cancelling a paid order ---------------------------------------------------------------------
def cancels_queued(live: Live, order_id: str) -> int:
    """Cancellations of ``order_id`` in its region's input stream (the ``quiet`` service trims none)."""
    region = int(live.redis.hget(f"order:{order_id}", "region"), 16)
    return sum(1 for _, f in live.redis.xrange(K.inputs_key(region)) if f[b"k"] == b"cancel" and json.loads(f[b"j"])["order"] == order_id)


def test_a_paid_cancel_killed_at_any_point_refunds_once_or_not_at_all_and_the_retry_completes_it(quiet) -> None:
    """The old path was four steps (mark the order, queue the cancellation and free the slot, then give back and refund):
    a worker killed after queueing left an order the dispatcher cancelled with its money kept, and its retry refused as
    "already queued". Now one script: before it, nothing; after it, all; the retry finishes it exactly once."""
    live = quiet
    alice = as_demo(live, "alice")
    give_points(live, "alice", 5000)
    body = full_cart(live, alice)
    paid: dict[str, int] = {}
    current: dict[str, Any] = {}

    def a_paid_order() -> None:
        out = placed(live, alice, body)
        oid = out["order_id"]
        current.update(oid=oid, total=out["payment"]["amount_cents"], slot=checkout(live, oid)["slot"])
        held = holdings(live, "alice", current["slot"])
        current["before"] = {k: 2 * v - held_by_one_order(held)[k] for k, v in held.items()}  # what placing took, undone
        pay(live, alice, oid)
        paid[oid] = current["total"]
        current["paid"] = holdings(live, "alice", current["slot"])
        current["sold"] = sold(live, "s1", BEEF)

    async def cancel_it(client: aioredis.Redis) -> int:
        return await Shop(client, live.settings, None).cancel(current["oid"], ALICE)

    async def healthy() -> int:
        client = aioredis.Redis.from_url(live.settings.redis_url)
        try:
            return await cancel_it(client)
        finally:
            await client.aclose()

    outcomes = []

    def after(n: int, killed: bool) -> None:
        oid, total = current["oid"], current["total"]
        c = checkout(live, oid)
        if c["status"] == "paid":  # died before the script: nothing queued, nothing given back, nothing refunded
            assert refunds(live, oid) == [] and cancels_queued(live, oid) == 0, n
            assert live.redis.hget(f"order:{oid}", "cancel_requested") is None, n
            assert holdings(live, "alice", current["slot"]) == current["paid"] and sold(live, "s1", BEEF) == current["sold"], n
        else:  # all of it: queued for dispatch, everything back, the refund booked once
            assert c["status"] == "cancelled", (n, c["status"])
            assert [int(r["cents"]) for r in refunds(live, oid)] == [total] and cancels_queued(live, oid) == 1, n
            assert holdings(live, "alice", current["slot"]) == current["before"] and sold(live, "s1", BEEF) == current["sold"] - 1, n
        outcomes.append((n, killed, c["status"]))
        # the customer taps cancel again
        try:
            assert asyncio.run(healthy()) == total and c["status"] == "paid", n
        except CommerceError as exc:
            assert exc.code == "too_late" and c["status"] == "cancelled", (n, exc)
        assert checkout(live, oid)["status"] == "cancelled" and int(checkout(live, oid)["refunded_cents"]) == total
        assert [int(r["cents"]) for r in refunds(live, oid)] == [total] and cancels_queued(live, oid) == 1, n
        assert holdings(live, "alice", current["slot"]) == current["before"], n
        live.wait(lambda: order_status(live, oid) == "cancelled", what=f"dispatch to cancel {oid}")
        if killed:
            a_paid_order()

    a_paid_order()
    trips = at_every_crash_point(live, cancel_it, after)
    assert trips >= 2 and outcomes[-1] == (trips, False, "cancelled")
    # the decision and the booking are the script, the last round trip: every worker killed before it left the order paid
    assert {status for _, killed, status in outcomes if killed} == {"paid"}, outcomes
    assert_ledger(live, paid)["kept"] == 0


async def paid_and_offered(live: Live, client: httpx.AsyncClient, alice: dict[str, str], app: CourierApp, body: dict[str, Any]) -> tuple[str, int]:
    """A paid order whose offer the courier took: on its way to the store, not picked up."""
    out = (await client.post("/checkout/orders", json=body, headers=alice)).json()
    oid = out["order_id"]
    paid = await client.post(f"/payments/{oid}/simulate", json={"outcome": "succeeded"}, headers=alice)
    assert paid.json()["reply"]["result"] == "dispatched", paid.text
    await app.accept(oid)
    return oid, out["payment"]["amount_cents"]


def test_a_cancel_after_the_pickup_is_reported_but_not_yet_applied_is_too_late_and_before_it_wins(live) -> None:
    """The dispatcher is held still between the two, so the order hash still says ``assigned``: the old check
    (the hash's status) let the cancel through, refunded the order, and the dispatcher then applied the pickup and
    refused the cancel: money back and the food on its way. Now the pickup report marks the order as it enters the
    stream, and the cancellation is decided against that mark in the same script as it is queued."""
    alice = as_demo(live, "alice")
    shift_on(live, "courier-3", "s1")
    body = cart(live, "s1", [(BEEF, 1)], coupon="SAVE5")
    paid: dict[str, int] = {}

    async def run() -> tuple[str, str]:
        async with CourierApp(live, "courier-3") as app, httpx.AsyncClient(base_url=live.base, timeout=30) as client:
            # the pickup first (acknowledged: in the stream), then the cancel, the dispatcher still
            first, paid_first = await paid_and_offered(live, client, alice, app, body)
            paid[first] = paid_first
            with live.engine.lock:
                mark = len(app.frames)
                await app.send(type="pickup", orders=[first], id="pick-1")
                await app.until(lambda f: f["type"] == "ack" and f["data"]["ref"] == "pick-1", "the pickup's ack")
                late = await client.post(f"/checkout/orders/{first}/cancel", headers=alice)
                plain = await client.post(f"/orders/{first}/cancel", headers=alice)
            assert late.status_code == 409 and late.json()["detail"]["code"] == "too_late", late.text
            assert plain.status_code == 409, plain.text
            assert (await app.verdict("pick-1"))["ok"] is True
            await app.drop_off(first, (await client.get(f"/orders/{first}", headers=alice)).json()["pin"], "drop-1", mark)
            # the cancel first, then the pickup: the cancellation wins and the pickup is refused
            second, paid_second = await paid_and_offered(live, client, alice, app, body)
            paid[second] = paid_second
            with live.engine.lock:
                won = await client.post(f"/checkout/orders/{second}/cancel", headers=alice)
                await app.send(type="pickup", orders=[second], id="pick-2")
                await app.until(lambda f: f["type"] == "ack" and f["data"]["ref"] == "pick-2", "the pickup's ack")
            assert won.status_code == 200 and won.json()["refund_cents"] == paid_second, won.text
            assert (await app.verdict("pick-2"))["ok"] is False
            return first, second

    first, second = asyncio.run(run())
    live.wait(lambda: order_status(live, first) == "delivered" and order_status(live, second) == "cancelled", what="both settled")
    assert checkout(live, first)["status"] == "paid" and refunds(live, first) == []
    assert checkout(live, second)["status"] == "cancelled" and [int(r["cents"]) for r in refunds(live, second)] == [paid[second]]
    totals = assert_ledger(live, paid)
    assert totals == {"paid": sum(paid.values()), "kept": paid[first], "refunded": paid[second]}


def test_many_cancels_racing_the_pickup_refund_at_most_once_and_only_an_order_the_dispatcher_cancels(live) -> None:
    """Rounds of one paid, accepted order: the courier's pickup and eight cancellations (both endpoints) all at once,
    the pickup a little later each round. Whichever wins, the money and the dispatcher agree."""
    alice = as_demo(live, "alice")
    shift_on(live, "courier-4", "s1")
    body = cart(live, "s1", [(BEEF, 1)])
    paid: dict[str, int] = {}
    won_by: dict[str, str] = {}

    async def run() -> None:
        async with CourierApp(live, "courier-4") as app, httpx.AsyncClient(base_url=live.base, timeout=30) as client:
            for n, delay in enumerate((0.0, 0.0, 0.01, 0.03, 0.1)):
                oid, cents = await paid_and_offered(live, client, alice, app, body)
                paid[oid] = cents

                mark = len(app.frames)

                async def pickup() -> None:
                    await asyncio.sleep(delay)
                    await app.send(type="pickup", orders=[oid], id=f"pick-{n}")

                cancels = [client.post(f"/checkout/orders/{oid}/cancel" if i % 2 else f"/orders/{oid}/cancel", headers=alice) for i in range(8)]
                _, *replies = await asyncio.gather(pickup(), *cancels)
                ok = [r for r in replies if r.status_code in (200, 202)]
                assert len(ok) <= 1 and all(r.status_code == 409 for r in replies if r not in ok), [r.text for r in replies]
                verdict = await app.verdict(f"pick-{n}")
                assert verdict["ok"] is not bool(ok), (n, verdict, [r.text for r in ok])  # one of the two, never both
                if verdict["ok"]:
                    won_by[oid] = "pickup"
                    await app.drop_off(oid, (await client.get(f"/orders/{oid}", headers=alice)).json()["pin"], f"drop-{n}", mark)
                else:
                    won_by[oid] = "cancel"

    asyncio.run(run())
    for oid, winner in won_by.items():
        live.wait(lambda: order_status(live, oid) in ("delivered", "cancelled"), what=f"{oid} settled")
        refunded = [int(r["cents"]) for r in refunds(live, oid)]
        if winner == "pickup":
            assert order_status(live, oid) == "delivered" and refunded == [] and checkout(live, oid)["status"] == "paid"
        else:
            assert order_status(live, oid) == "cancelled" and refunded == [paid[oid]] and checkout(live, oid)["status"] == "cancelled"
    assert_ledger(live, paid)


def test_after_sales_refunds_killed_at_any_point_or_sent_many_at_once_pay_once(live) -> None:
    """After-sales refunds were already one WATCH/MULTI transaction (``aftersales_store.update``): shown here, not changed.
    A worker killed before any of its round trips has refunded nothing or all (the EXEC is the last one), and ten
    payouts of one request at once, or of two requests that together pass what was paid, book only what fits."""
    from api.shop.aftersales_store import AfterSalesStore
    from api.shop.wallet import Wallet

    alice, admin = as_demo(live, "alice"), as_demo(live, "admin")
    shift_on(live, "courier-5", "s1")
    out = placed(live, alice, cart(live, "s1", [(BEEF, 3)]))
    oid, total = out["order_id"], out["payment"]["amount_cents"]
    pay(live, alice, oid)

    async def deliver() -> None:
        async with CourierApp(live, "courier-5") as app:
            await app.accept(oid)
            mark = len(app.frames)
            await app.send(type="pickup", orders=[oid], id="p")
            await app.drop_off(oid, httpx.get(f"{live.base}/orders/{oid}", headers=alice).json()["pin"], "d", mark)

    asyncio.run(deliver())
    live.wait(lambda: order_status(live, oid) == "delivered", what="delivered")
    share = total // 3 + 1  # two requests of a third (and a cent), the third for the rest: together what was paid
    for i in range(3):
        made = httpx.post(f"{live.base}/orders/{oid}/refund-requests", headers=alice,
                          json={"lines": [{"sku": BEEF, "qty": 1}], "amount_cents": share if i < 2 else total - 2 * share, "reason": f"r{i}"})
        assert made.status_code == 201, made.text
        assert httpx.post(f"{live.base}/after-sales/{oid}/refund-requests/{i + 1}/approve", headers=admin).status_code == 200
    support = Principal("admin", "admin", "")

    async def refund_first(client: aioredis.Redis) -> Any:
        store = AfterSalesStore(client, Wallet(client))

        async def move(tx: Any) -> Any:
            return await store.refund(tx, tx.rec.sales.requests[0], support, "provider-ref")

        return await store.update(oid, move)

    runs = []

    def after(n: int, killed: bool) -> None:  # each run is the retry of the one killed before it
        runs.append(killed)
        refunded = int(checkout(live, oid).get("refunded_cents") or 0)
        assert refunded == (0 if killed else share) and sum(int(r["cents"]) for r in refunds(live, oid)) == refunded, (n, refunded)

    trips = at_every_crash_point(live, refund_first, after)
    assert trips >= 4 and runs == [True] * trips + [False]
    again = httpx.post(f"{live.base}/after-sales/{oid}/refund-requests/1/refund", headers=admin)
    assert again.status_code == 409 and [int(r["cents"]) for r in refunds(live, oid)] == [share], again.text

    # the other two requests at once, ten payouts each: each paid once

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live.base, timeout=30) as client:
            return list(await asyncio.gather(*(client.post(f"/after-sales/{oid}/refund-requests/{n}/refund", headers=admin)
                                               for n in (2, 3) for _ in range(10))))

    replies = asyncio.run(burst())
    assert sorted(r.status_code for r in replies) == [200, 200] + [409] * 18, [r.text for r in replies if r.status_code != 409]
    assert sorted(int(r["cents"]) for r in refunds(live, oid)) == sorted([share, share, total - 2 * share])
    assert assert_ledger(live, {oid: total}) == {"paid": total, "kept": 0, "refunded": total}
