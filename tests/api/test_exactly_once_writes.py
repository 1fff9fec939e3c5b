"""An acknowledged write is done exactly once, whatever dies: the idempotency lease, the fenced order write, the payment.

- A claim whose worker died frees itself within ``LEASE_S``, so the client's retry gets through in seconds (bench/chaos.py
  saw a 62 s outage behind a 60 s lease); a slow request that is alive keeps its claim however long it runs.
- A request that lost its claim (Redis paused past its lease, a retry took over) cannot also write its order.
- ``POST /orders`` and a payment killed before any of their round trips to Redis: nothing or the whole step, and the
  retry finishes it once (before: a payment killed after the checkout went ``paid`` left an order never dispatched, and
  the provider's retry was answered "duplicate").
"""
from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import redis.asyncio as aioredis

from actors import live_keys as K
from api import idempotency as idem
from api import orders as svc
from api.idempotency import IdempotencyError, run_once
from api.models import OrderCreate
from api.security import Principal
from api.shop.checkout import Shop, webhook_event_key
from tests.api.conftest import Live
from tests.api.shop_testkit import as_demo, at_every_crash_point, cart, checkout, free_stale_claim, placed, reservation, sold, stock

ALICE = Principal("alice", "customer", "alice")
BEEF = "noodle-beef"


def order_body(live: Live) -> dict:
    store = next(s for s in live.stores() if s["id"] == "g1")
    return {"store_id": "g1", "dropoff": {"lat": store["lat"] + 0.01, "lng": store["lng"] + 0.01}}


def alices_orders(live: Live) -> list[str]:
    return [m.decode() for m in live.redis.zrange("orders:customer:alice", 0, -1)]


def queued(live: Live, order_id: str) -> int:
    """Entries for ``order_id`` in its region's input stream (the ``quiet`` service trims none)."""
    region = int(live.redis.hget(K.order_key(order_id), "region"), 16)
    return sum(1 for _, f in live.redis.xrange(K.inputs_key(region)) if f[b"k"] == b"order" and json.loads(f[b"j"])["id"] == order_id)


def test_a_claim_whose_worker_died_frees_itself_within_the_lease_and_the_retry_places_the_order(quiet) -> None:
    live = quiet
    headers = {**live.headers("alice"), "Idempotency-Key": "died-holding-it"}
    body = order_body(live)
    # a worker claimed the key for this very request, then was killed: no answer, no renewal
    fingerprint = __import__("hashlib").sha256(json.dumps(OrderCreate(**body).model_dump(mode="json"), sort_keys=True).encode()).hexdigest()
    live.redis.eval(idem.CLAIM, 1, "idem:alice:died-holding-it", fingerprint, "dead-worker", int(idem.LEASE_S * 1000))
    started = time.monotonic()
    first = httpx.post(f"{live.base}/orders", json=body, headers=headers)
    assert first.status_code == 409
    while (reply := httpx.post(f"{live.base}/orders", json=body, headers=headers)).status_code == 409:
        assert time.monotonic() - started < idem.LEASE_S + 2, "the dead worker's claim outlived its lease"
        time.sleep(0.2)
    assert reply.status_code == 201 and alices_orders(live) == [reply.json()["id"]]
    assert time.monotonic() - started >= idem.LEASE_S - 0.5  # not before its lease ran out


def test_a_slow_request_keeps_its_claim_past_the_lease_and_a_retry_meanwhile_is_told_to_wait(quiet) -> None:
    live = quiet

    async def run() -> None:
        r = aioredis.Redis.from_url(live.settings.redis_url)
        try:
            async def slow() -> tuple[int, object]:
                await asyncio.sleep(idem.LEASE_S * 2.5)  # far beyond one lease: renewed while it runs
                return 201, {"id": "slow"}

            async def retry_meanwhile() -> list[int]:
                seen = []
                for _ in range(6):
                    await asyncio.sleep(idem.LEASE_S / 2)
                    try:
                        await run_once(r, "alice", "slow-1", {"a": 1}, slow)
                        seen.append(200)
                    except IdempotencyError as exc:
                        seen.append(exc.status)
                return seen

            first, seen = await asyncio.gather(run_once(r, "alice", "slow-1", {"a": 1}, slow), retry_meanwhile())
            assert first == (201, {"id": "slow"})
            assert seen[:4] == [409] * 4, seen  # never run twice while the first is alive
            assert await run_once(r, "alice", "slow-1", {"a": 1}, slow) == (201, {"id": "slow"})
        finally:
            await r.aclose()

    asyncio.run(run())


def test_a_request_that_lost_its_claim_writes_no_order(quiet) -> None:
    """Its lease ran out (Redis paused longer than it) and a retry holds the key now: the first cannot also write."""
    live = quiet
    body = OrderCreate(**order_body(live))

    async def run() -> None:
        r = aioredis.Redis.from_url(live.settings.redis_url)
        try:
            async def overtaken() -> tuple[int, object]:
                await r.delete("idem:alice:overtaken")  # the lease ran out ...
                await r.eval(idem.CLAIM, 1, "idem:alice:overtaken", "x", "the-retry", 60_000)  # ... and the retry claimed it
                record = await svc.create_order(r, live.settings, ALICE, body, answer=lambda rec: (201, {"id": rec["id"]}))
                return 201, {"id": record["id"]}

            with pytest.raises(IdempotencyError) as lost:
                await run_once(r, "alice", "overtaken", body.model_dump(mode="json"), overtaken)
            assert lost.value.status == 409
            assert await r.hget("idem:alice:overtaken", "owner") == b"the-retry"  # the retry's claim was not freed
        finally:
            await r.aclose()

    asyncio.run(run())
    assert alices_orders(live) == [] and not live.redis.exists(K.order_key("o1"))


async def place_as_alice(live: Live, body: OrderCreate, client: aioredis.Redis, key: str) -> tuple[int, object]:
    """``POST /orders``'s work on ``client``: the idempotent run and the order written with its answer."""
    async def work() -> tuple[int, object]:
        record = await svc.create_order(client, live.settings, ALICE, body, answer=lambda rec: (201, {"id": rec["id"]}))
        return 201, {"id": record["id"]}

    return await run_once(client, "alice", key, body.model_dump(mode="json"), work)


def place_healthy(live: Live, body: OrderCreate, key: str) -> tuple[int, object]:
    """The client's retry, on a worker that lives."""
    async def run() -> tuple[int, object]:
        client = aioredis.Redis.from_url(live.settings.redis_url)
        try:
            return await place_as_alice(live, body, client, key)
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_an_order_killed_at_any_point_is_placed_once_by_the_retry(quiet) -> None:
    live = quiet
    body = OrderCreate(**order_body(live))
    outcomes: list[tuple[int, bool, bool]] = []

    def after(n: int, killed: bool) -> None:
        mine = [o for o in alices_orders(live) if o not in done]
        assert len(mine) <= 1, (n, mine)
        if mine:  # the order was written whole: hash, both indexes, its stream entry, and the answer with it
            assert queued(live, mine[0]) == 1 and live.redis.zscore("orders:store:g1", mine[0]) is not None
            assert json.loads(live.redis.hget(f"idem:alice:crash-{n}", "body"))["id"] == mine[0], n
        free_stale_claim(live, "alice", f"crash-{n}")  # what the lease does a few seconds after the death
        status, out = place_healthy(live, body, f"crash-{n}")
        new = [o for o in alices_orders(live) if o not in done]
        assert status == 201 and new == [out["id"]] and (not mine or mine == new), (n, mine, new)
        assert queued(live, out["id"]) == 1
        done.add(out["id"])
        outcomes.append((n, killed, bool(mine)))

    done: set[str] = set()
    trips = at_every_crash_point(live, lambda client: place_as_alice(live, body, client, f"crash-{len(outcomes)}"), after)
    assert trips >= 3 and outcomes[-1] == (trips, False, True)
    # killed before the write: nothing, placed by the retry; killed after it (before the answer's round trip): the
    # order with its answer, which the retry got instead of placing another
    assert any(not m for _, k, m in outcomes if k) and any(m for _, k, m in outcomes if k)


def test_a_scheduled_order_killed_at_any_point_holds_its_slot_once_or_not_at_all(quiet) -> None:
    # before: the slot was taken in a round trip of its own, so a worker killed after it held a unit for no order,
    # and the client's retry took a second one
    live = quiet
    start = httpx.post(f"{live.base}/quote", json={**order_body(live), "mode": "scheduled"}, headers=live.headers("alice")).json()["slots"][2]["start"]
    body = OrderCreate(**order_body(live), mode="scheduled", slot_start=start)
    before = set(alices_orders(live))
    runs: list[int] = []

    def orders_and_units() -> tuple[list[str], int]:
        mine = [o for o in alices_orders(live) if o not in before]
        slots = {live.redis.hget(K.order_key(o), "slot").decode() for o in mine}
        assert len(slots) <= 1, slots
        return mine, sum(int(live.redis.get(k) or 0) for k in slots)

    def after(n: int, killed: bool) -> None:
        mine, units = orders_and_units()
        # a unit of the slot for each order written, none for none; the run not killed writes its order
        assert units == len(mine) and len(mine) - len(runs) in ((0, 1) if killed else (1,)), (n, units, mine)
        free_stale_claim(live, "alice", f"slot-{n}")
        status, out = place_healthy(live, body, f"slot-{n}")
        mine, units = orders_and_units()
        assert status == 201 and out["id"] in mine and units == len(mine) == len(runs) + 1, (n, units, mine)
        runs.append(n)

    trips = at_every_crash_point(live, lambda client: place_as_alice(live, body, client, f"slot-{len(runs)}"), after)
    assert trips >= 3 and len(runs) == trips + 1


def test_a_failed_payment_killed_at_any_point_gives_back_once_and_never_answers_duplicate_for_nothing(quiet) -> None:
    # before: the event was marked before the give-back, so a worker killed in between answered the provider's retry
    # "duplicate" and left the stock held until the checkout's window ran out
    live = quiet
    alice = as_demo(live, "alice")
    runs: list[tuple[int, bool, str]] = []
    pending: dict[int, str] = {}
    shelf = stock(live, "s1", BEEF)

    async def fail(client: aioredis.Redis) -> None:
        await Shop(client, live.settings, None).payment_failed(pending[len(runs)], f"fail-{len(runs)}")

    def after(n: int, killed: bool) -> None:
        oid = pending[n]
        state = checkout(live, oid)["status"]
        marked = bool(live.redis.exists(webhook_event_key(f"fail-{n}")))
        assert state in ("awaiting_payment", "payment_failed") and (not marked or state == "payment_failed"), (n, state, marked)

        async def retry() -> str:
            client = aioredis.Redis.from_url(live.settings.redis_url)
            try:
                return await Shop(client, live.settings, None).payment_failed(oid, f"fail-{n}")
            finally:
                await client.aclose()

        answer = asyncio.run(retry())
        assert answer == ("duplicate" if marked else "released" if state == "awaiting_payment" else "ignored"), (n, answer)
        assert checkout(live, oid)["status"] == "payment_failed" and reservation(live, "s1", oid).get("_state") != "reserved", n
        assert stock(live, "s1", BEEF) == shelf, n  # nothing sold, nothing lost
        runs.append((n, killed, state))
        pending[n + 1] = placed(live, alice, cart(live, "s1", [(BEEF, 1)]))["order_id"]

    pending[0] = placed(live, alice, cart(live, "s1", [(BEEF, 1)]))["order_id"]
    trips = at_every_crash_point(live, fail, after)
    assert trips >= 2 and runs[-1] == (trips, False, "payment_failed")
    assert any(k and s == "payment_failed" for _, k, s in runs)  # killed after the give-back, before the mark


def test_a_payment_killed_at_any_point_is_applied_whole_or_not_and_the_retry_dispatches_once(quiet) -> None:
    live = quiet
    alice = as_demo(live, "alice")
    outcomes: list[tuple[int, bool, str]] = []

    def after(n: int, killed: bool, oid: str, total: int) -> None:
        c = checkout(live, oid)
        if c["status"] == "paid":  # applied whole: sold, dispatched, the event marked
            assert live.redis.exists(webhook_event_key(f"evt-{n}")) and queued(live, oid) == 1, n
            assert reservation(live, "s1", oid)["_state"] == "committed" and live.redis.hget(K.order_key(oid), "status") is not None
        else:  # not at all: the provider's retry of the same event applies it
            assert c["status"] == "awaiting_payment" and not live.redis.exists(webhook_event_key(f"evt-{n}")), n
            assert not live.redis.exists(K.order_key(oid)) and reservation(live, "s1", oid)["_state"] == "reserved", n
        state = c["status"]

        async def retry() -> str:
            client = aioredis.Redis.from_url(live.settings.redis_url)
            try:
                return await Shop(client, live.settings, None).paid(oid, total, f"evt-{n}")
            finally:
                await client.aclose()

        assert asyncio.run(retry()) == ("duplicate" if state == "paid" else "dispatched"), n
        assert checkout(live, oid)["status"] == "paid" and queued(live, oid) == 1 and int(checkout(live, oid).get("returned_cents", 0)) == 0
        outcomes.append((n, killed, state))

    sold_before = sold(live, "s1", BEEF)
    pending: dict[str, tuple[str, int]] = {}

    def next_checkout() -> tuple[str, int]:
        out = placed(live, alice, cart(live, "s1", [(BEEF, 1)]))
        return out["order_id"], out["payment"]["amount_cents"]

    async def pay(client: aioredis.Redis) -> None:
        n = len(outcomes)
        oid, total = pending[str(n)]
        await Shop(client, live.settings, None).paid(oid, total, f"evt-{n}")

    def run_after(n: int, killed: bool) -> None:
        oid, total = pending[str(n)]
        after(n, killed, oid, total)
        pending[str(n + 1)] = next_checkout()

    pending["0"] = next_checkout()
    trips = at_every_crash_point(live, pay, run_after)
    assert trips >= 3 and {s for _, k, s in outcomes if k} == {"awaiting_payment"}  # the payment is its last round trip
    assert outcomes[-1] == (trips, False, "paid")
    assert sold(live, "s1", BEEF) - sold_before == len(outcomes)  # each payment sold its unit once
