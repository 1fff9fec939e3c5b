"""Points for a delivered, paid checkout are credited exactly once, whatever happens to the worker that reads them.

``api.shop.workers.credit_points`` reads the delivered-orders stream through one consumer group. These tests run it
against the session's real Redis with no service around it: entries a dead worker read and never acknowledged, and a
Redis that goes away in the middle of a batch. Before, both were lost for good (a worker reads only new entries, and a
connection error while loading the checkout counted as "no basket" and was acknowledged).
"""
from __future__ import annotations

import asyncio
import contextlib

import redis
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from actors import live_keys as K
from api.settings import Settings
from api.shop import workers
from api.shop.checkout import Shop, checkout_key
from api.shop.wallet import points_keys
from commerce.membership import points_earned

GOODS = 4200  # each checkout paid ¥42.00 for its goods


def paid_checkouts(client: redis.Redis, n: int, customer: str = "alice") -> list[str]:
    ids = [f"o{i}" for i in range(1, n + 1)]
    for oid in ids:
        client.hset(checkout_key(oid), mapping={"id": oid, "customer": customer, "status": "paid", "goods_paid_cents": GOODS})
    return ids


def delivered(client: redis.Redis, ids: list[str]) -> None:
    for oid in ids:
        client.xadd(K.DELIVERED, {"order": oid})


def earned_refs(client: redis.Redis, customer: str = "alice") -> list[str]:
    rows = client.xrange(points_keys(customer)[1])
    return sorted(f[b"ref"].decode() for _, f in rows if f[b"reason"] == b"earn")


async def run_credit(url: str, until, client_wrapper=None, **kwargs) -> None:
    """Run one worker's ``credit_points`` until ``until()`` holds (at most 10 s)."""
    client = aioredis.Redis.from_url(url)
    if client_wrapper:
        client_wrapper(client)
    task = asyncio.create_task(workers.credit_points(Shop(client, Settings(redis_url=url), None), block_ms=100, **kwargs))
    try:
        for _ in range(200):
            if until():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("credit_points did not get there in 10 s")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.aclose()


def test_what_a_dead_worker_read_and_never_acknowledged_is_claimed_and_credited_once(redis_url) -> None:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    ids = paid_checkouts(client, 3)
    client.xgroup_create(K.DELIVERED, workers.GROUP, id="0", mkstream=True)
    delivered(client, ids)
    # a worker read all three, credited the first, and was killed before it acknowledged anything
    client.xreadgroup(workers.GROUP, "worker-dead", {K.DELIVERED: ">"}, count=10)
    asyncio.run(Shop(aioredis.Redis.from_url(redis_url), Settings(redis_url=redis_url), None).wallet.points(
        "alice", points_earned(GOODS), "earn", "o1", 0.0))

    asyncio.run(run_credit(redis_url, lambda: client.xpending(K.DELIVERED, workers.GROUP)["pending"] == 0, claim_idle_ms=0))
    assert earned_refs(client) == ["o1", "o2", "o3"]  # o1 once: the ledger refused the second credit
    assert int(client.get(points_keys("alice")[0])) == 3 * points_earned(GOODS)


def test_a_redis_that_goes_away_mid_batch_loses_no_credit(redis_url) -> None:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    ids = paid_checkouts(client, 4)
    delivered(client, ids)
    failed: list[str] = []

    def flaky(c: aioredis.Redis) -> None:
        real = c.hgetall

        async def hgetall(key, *args, **kwargs):
            if key == checkout_key("o2") and not failed:  # the connection drops as the 2nd checkout is loaded
                failed.append(key)
                raise RedisConnectionError("Connection closed by server.")
            return await real(key, *args, **kwargs)

        c.hgetall = hgetall

    asyncio.run(run_credit(redis_url, lambda: len(earned_refs(client)) == 4
                           and client.xpending(K.DELIVERED, workers.GROUP)["pending"] == 0, client_wrapper=flaky))
    assert failed and earned_refs(client) == ids
