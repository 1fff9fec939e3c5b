"""Cancellation and expiry give back everything a checkout held: stock, coupon use, points, delivery slot; paid ones are refunded."""
from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
import redis.asyncio as aioredis

from actors.live_host import epoch_s
from api.shop.checkout import EXPIRING, Shop
from tests.api.conftest import Live, start_live
from tests.api.shop_testkit import (
    as_demo,
    balance,
    cancel,
    cart,
    checkout,
    coupon_uses,
    deliver,
    get_checkout,
    give_points,
    ledger,
    order_status,
    pay,
    placed,
    refunds,
    reservation,
    shift_on,
    simulate,
    sold,
    stock,
)

BEEF, DANDAN = "noodle-beef", "noodle-dandan"


def full_cart(live: Live, headers: dict[str, str], **extra) -> dict:
    """A scheduled cart that holds everything a checkout can hold: 2 SKUs, a coupon (WELCOME10: ¥10 off ¥70, once per
    customer, beats the 满60减8 tier), 500 points and a delivery slot."""
    quote = httpx.post(f"{live.base}/checkout/quote", json=cart(live, "s1", [(BEEF, 1)], mode="scheduled"), headers=headers).json()
    return cart(live, "s1", [(BEEF, 1), (DANDAN, 2)], coupon="WELCOME10", points=500, mode="scheduled",
                slot_start=quote["slots"][0]["start"], **extra)


def holdings(live: Live, customer: str) -> dict:
    return {"beef": stock(live, "s1", BEEF), "dandan": stock(live, "s1", DANDAN), "coupon": coupon_uses(live, "WELCOME10", customer),
            "points": balance(live, customer)}


def test_cancel_unpaid_releases_everything(live) -> None:
    alice = as_demo(live, "alice")
    give_points(live, "alice", 2000)
    before = holdings(live, "alice")
    out = placed(live, alice, full_cart(live, alice))
    oid = out["order_id"]
    c = checkout(live, oid)
    assert c["coupon"] == "WELCOME10" and c["points"] == "500" and live.redis.get(c["slot"]) == b"1"
    assert holdings(live, "alice") == {"beef": before["beef"] - 1, "dandan": before["dandan"] - 2, "coupon": 1, "points": 1500}
    assert live.redis.zscore(EXPIRING, oid) is not None

    reply = cancel(live, alice, oid)
    assert reply.status_code == 200 and reply.json() == {"order_id": oid, "status": "cancelled", "refund_cents": 0}
    assert holdings(live, "alice") == before and live.redis.get(c["slot"]) == b"0"
    assert reservation(live, "s1", oid)["_state"] == "released" and live.redis.zscore(EXPIRING, oid) is None
    assert [e["reason"] for e in ledger(live, "alice")] == ["adjust", "spend", "refund_spend"]
    assert get_checkout(live, alice, oid).json()["status"] == "cancelled" and refunds(live) == []
    # once is enough: a second cancel is too late, and a payment arriving now is refunded
    again = cancel(live, alice, oid)
    assert again.status_code == 409 and again.json()["detail"]["code"] == "too_late"
    late = simulate(live, alice, oid)
    assert late.json()["reply"]["result"] == "refunded_cancelled" and order_status(live, oid) is None
    assert holdings(live, "alice") == before and live.redis.get(c["slot"]) == b"0"


def test_cancel_paid_before_pickup_refunds_and_gives_everything_back(live) -> None:
    alice = as_demo(live, "alice")
    give_points(live, "alice", 2000)
    before = holdings(live, "alice")
    body = full_cart(live, alice)
    out = placed(live, alice, body)
    oid, paid = out["order_id"], out["payment"]["amount_cents"]
    slot = checkout(live, oid)["slot"]
    pay(live, alice, oid)
    assert sold(live, "s1", BEEF) == 1 and sold(live, "s1", DANDAN) == 2
    goods_paid = paid - out["quote"]["delivery_cents"]
    assert int(live.redis.get("spend:alice")) == goods_paid

    reply = cancel(live, alice, oid)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"order_id": oid, "status": "cancelled", "refund_cents": paid}
    # stock back on the shelf and no longer counted as sold
    assert holdings(live, "alice") == before
    assert sold(live, "s1", BEEF) == 0 and sold(live, "s1", DANDAN) == 0
    assert reservation(live, "s1", oid)["_state"] == "released"
    # the points: a refund_spend entry for this order, the balance whole again
    assert [(e["reason"], e["delta"], e["ref"]) for e in ledger(live, "alice")][1:] == [("spend", "-500", oid), ("refund_spend", "500", oid)]
    # the refund: recorded for what was paid, and shown on the checkout
    assert [(r["order"], int(r["cents"])) for r in refunds(live)] == [(oid, paid)]
    assert "alice" in refunds(live)[0]["reason"]
    shown = get_checkout(live, alice, oid).json()
    assert shown["status"] == "cancelled" and shown["refunded_cents"] == paid
    assert int(live.redis.get("spend:alice")) == 0  # the level counts only what was kept
    # dispatch cancels the order and gives the slot back (once)
    live.wait(lambda: order_status(live, oid) == "cancelled", what="dispatch to cancel the order")
    assert live.redis.get(slot) == b"0"
    # the coupon use came back: the same coupon buys again; a second cancel is too late
    assert placed(live, alice, body)["quote"]["coupon"] == "WELCOME10" and coupon_uses(live, "WELCOME10", "alice") == 1
    again = cancel(live, alice, oid)
    assert again.status_code == 409 and again.json()["detail"]["code"] == "too_late"
    assert len(refunds(live)) == 1


def test_cancel_after_pickup_is_too_late(live) -> None:
    alice = as_demo(live, "alice")
    out = placed(live, alice, cart(live, "s1", [(BEEF, 1)], coupon="SAVE5"))
    oid = out["order_id"]
    shift_on(live, "courier-2", "s1")
    pay(live, alice, oid)
    pin = httpx.get(f"{live.base}/orders/{oid}", headers=alice).json()["pin"]
    deliver(live, "courier-2", oid, pin, stop_at="picked_up")
    beef = stock(live, "s1", BEEF)
    reply = cancel(live, alice, oid)
    assert reply.status_code == 409 and reply.json()["detail"]["code"] == "too_late", reply.text
    # nothing given back, nothing refunded, the order still on its way
    assert checkout(live, oid)["status"] == "paid" and stock(live, "s1", BEEF) == beef and sold(live, "s1", BEEF) == 1
    assert coupon_uses(live, "SAVE5", "alice") == 1 and refunds(live) == []
    assert order_status(live, oid) == "picked_up" and live.redis.hget(f"order:{oid}", "cancel_requested") is None


@pytest.fixture
def short_window(redis_url: str) -> Iterator[Live]:
    """Checkouts must be paid within 1.8 s; the sweeper looks every 0.2 s."""
    service, stop = start_live(redis_url, payment_minutes=0.03, sweep_s=0.2)
    try:
        yield service
    finally:
        stop()


def a_full_checkout(live: Live) -> tuple[dict[str, str], object, dict, str]:
    """alice with 2,000 points places a cart that uses stock, a coupon, points and a slot: (her headers,
    her holdings before, the placed checkout, its slot key)."""
    alice = as_demo(live, "alice")
    give_points(live, "alice", 2000)
    before = holdings(live, "alice")
    out = placed(live, alice, full_cart(live, alice))
    slot = checkout(live, out["order_id"])["slot"]
    assert holdings(live, "alice") != before and live.redis.get(slot) == b"1"
    return alice, before, out, slot


def test_an_unpaid_checkout_expires_and_a_late_payment_is_refunded(short_window) -> None:
    live = short_window
    alice, before, out, slot = a_full_checkout(live)
    oid = out["order_id"]
    c = checkout(live, oid)
    assert abs(float(c["expires_s"]) - epoch_s(float(c["created"])) - 1.8) < 0.01

    live.wait(lambda: checkout(live, oid)["status"] == "expired", timeout=8, what="the sweeper to expire the checkout")
    assert holdings(live, "alice") == before and live.redis.get(slot) == b"0"
    assert reservation(live, "s1", oid)["_state"] == "released" and live.redis.zscore(EXPIRING, oid) is None
    assert [e["reason"] for e in ledger(live, "alice")] == ["adjust", "spend", "refund_spend"]
    assert get_checkout(live, alice, oid).json()["status"] == "expired"

    late = simulate(live, alice, oid)
    assert late.status_code == 200 and late.json()["reply"]["result"] == "refunded_expired"
    assert [(r["order"], int(r["cents"])) for r in refunds(live)] == [(oid, out["payment"]["amount_cents"])]
    assert order_status(live, oid) is None and sold(live, "s1", BEEF) == 0 and holdings(live, "alice") == before
    cancelled = cancel(live, alice, oid)
    assert cancelled.status_code == 409 and cancelled.json()["detail"]["code"] == "too_late"
    # a checkout paid in time is not touched by the sweeper
    paid = placed(live, alice, cart(live, "s1", [(BEEF, 1)]))
    pay(live, alice, paid["order_id"])
    live.wait(lambda: live.redis.zcard(EXPIRING) == 0, what="nothing left to sweep")
    assert checkout(live, paid["order_id"])["status"] == "paid" and sold(live, "s1", BEEF) == 1
    assert json.loads(checkout(live, paid["order_id"])["quote"])["total_cents"] == paid["payment"]["amount_cents"]


class WorkerKilled(Exception):
    """The worker process died: nothing after this point of its work ran."""


def test_a_worker_killed_after_the_state_change_leaves_nothing_half_given_back(live) -> None:
    """The give-back of an expired checkout is one step: a sweeper that dies right after the checkout left
    awaiting_payment has given back all of it (stock, flash limit, coupon, points, slot), and the next sweep, or a
    cancellation, gives back nothing a second time."""
    alice, before, out, slot = a_full_checkout(live)
    oid = out["order_id"]
    far = epoch_s(float(checkout(live, oid)["created"])) + 3600  # past its payment window

    async def sweep(dies: bool) -> int:
        client = aioredis.Redis.from_url(live.settings.redis_url)
        if dies:  # every command after the one that moved the checkout out of awaiting_payment never runs
            real = client.execute_command

            async def until_killed(*args, **kwargs):
                if checkout(live, oid)["status"] != "awaiting_payment":
                    raise WorkerKilled(args[0])
                return await real(*args, **kwargs)

            client.execute_command = until_killed
        try:
            return await Shop(client, live.settings, None).expire(far)
        finally:
            await client.aclose()

    try:
        asyncio.run(sweep(dies=True))
    except WorkerKilled:
        pass
    assert checkout(live, oid)["status"] == "expired"
    # what the dying worker did, it did whole: everything is back already
    assert holdings(live, "alice") == before and live.redis.get(slot) == b"0"
    assert reservation(live, "s1", oid)["_state"] == "released" and live.redis.zscore(EXPIRING, oid) is None
    # another worker sweeps again, and the customer cancels: nothing is given back twice
    assert asyncio.run(sweep(dies=False)) == 0
    assert cancel(live, alice, oid).status_code == 409
    assert holdings(live, "alice") == before and live.redis.get(slot) == b"0"
    assert [e["reason"] for e in ledger(live, "alice")] == ["adjust", "spend", "refund_spend"]
    assert get_checkout(live, alice, oid).json()["status"] == "expired" and refunds(live) == []
