"""``Idempotency-Key`` on POST /orders: a retry returns the first response and creates nothing more."""
from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from actors import live_keys as K
from tests.api.conftest import Live


def body_for(live: Live, note: str = "") -> dict:
    store = next(s for s in live.stores() if s["id"] == "g1")
    return {"store_id": "g1", "dropoff": {"lat": store["lat"] + 0.01, "lng": store["lng"] + 0.01}, "note": note}


def orders_in_stream(live: Live) -> list[str]:
    region = int(next(s for s in live.stores() if s["id"] == "g1")["region"], 16)
    return [json.loads(f[b"j"])["id"] for _, f in live.redis.xrange(K.inputs_key(region)) if f[b"k"] == b"order"]


def created_by(live: Live, user: str) -> list[str]:
    return [m.decode() for m in live.redis.zrange(f"orders:customer:{user}", 0, -1)]


def test_same_key_same_body_returns_the_same_response_and_creates_one_order(quiet) -> None:
    live = quiet
    alice = {**live.headers("alice"), "Idempotency-Key": "checkout-42"}
    body = body_for(live)
    first = httpx.post(f"{live.base}/orders", json=body, headers=alice)
    assert first.status_code == 201, first.text
    # the dispatcher moves the order on meanwhile: the retry still answers what the first request answered
    live.wait(lambda: live.redis.hget(f"order:{first.json()['id']}", "status") == b"preparing", what="the dispatcher")
    again = httpx.post(f"{live.base}/orders", json=body, headers=alice)
    assert again.status_code == 201
    assert again.content == first.content and again.json() == first.json()
    # the same body spelled differently (a default written out) is the same request
    spelled = httpx.post(f"{live.base}/orders", json={**body, "mode": "asap", "size": 1}, headers=alice)
    assert spelled.status_code == 201 and spelled.json() == first.json()

    oid = first.json()["id"]
    assert created_by(live, "alice") == [oid]
    assert orders_in_stream(live) == [oid]
    assert live.redis.get(K.ORDER_COUNTER) == b"1"
    assert [f[b"action"] for _, f in live.redis.xrange(K.AUDIT)] == [b"create_order"]
    assert live.redis.ttl("idem:alice:checkout-42") > 23 * 3600
    # without a key every request is a new order
    plain = httpx.post(f"{live.base}/orders", json=body, headers=live.headers("alice"))
    assert plain.status_code == 201 and plain.json()["id"] != oid
    assert len(created_by(live, "alice")) == 2


def test_same_key_different_body_is_422(quiet) -> None:
    live = quiet
    alice = {**live.headers("alice"), "Idempotency-Key": "k1"}
    first = httpx.post(f"{live.base}/orders", json=body_for(live, "first"), headers=alice)
    assert first.status_code == 201
    other = httpx.post(f"{live.base}/orders", json=body_for(live, "second"), headers=alice)
    assert other.status_code == 422
    assert other.json()["detail"] == "this Idempotency-Key was used for a different request body"
    assert created_by(live, "alice") == [first.json()["id"]] and orders_in_stream(live) == [first.json()["id"]]

    too_long = httpx.post(f"{live.base}/orders", json=body_for(live), headers={**alice, "Idempotency-Key": "x" * 201})
    assert too_long.status_code == 422 and too_long.json()["detail"] == "Idempotency-Key must be 1 to 200 characters"
    assert len(created_by(live, "alice")) == 1


def test_a_refused_request_frees_its_key(quiet) -> None:
    live = quiet
    alice = {**live.headers("alice"), "Idempotency-Key": "retry-me"}
    far = body_for(live)
    far["dropoff"]["lat"] += 0.2
    refused = httpx.post(f"{live.base}/orders", json=far, headers=alice)
    assert refused.status_code == 422 and refused.json()["detail"].startswith("the door is")
    assert not live.redis.exists("idem:alice:retry-me")
    fixed = httpx.post(f"{live.base}/orders", json=body_for(live), headers=alice)  # corrected body, same key
    assert fixed.status_code == 201, fixed.text
    assert created_by(live, "alice") == [fixed.json()["id"]]


def test_different_users_use_the_same_key_independently(quiet) -> None:
    live = quiet
    body = body_for(live)
    a = httpx.post(f"{live.base}/orders", json=body, headers={**live.headers("alice"), "Idempotency-Key": "shared"})
    b = httpx.post(f"{live.base}/orders", json=body, headers={**live.headers("bob"), "Idempotency-Key": "shared"})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"] and (a.json()["customer"], b.json()["customer"]) == ("alice", "bob")
    assert created_by(live, "alice") == [a.json()["id"]] and created_by(live, "bob") == [b.json()["id"]]
    assert sorted(orders_in_stream(live)) == sorted([a.json()["id"], b.json()["id"]])
    # and bob's retry gets bob's order, not alice's
    again = httpx.post(f"{live.base}/orders", json=body, headers={**live.headers("bob"), "Idempotency-Key": "shared"})
    assert again.json() == b.json()


def test_concurrent_requests_with_one_key_create_one_order(quiet) -> None:
    live = quiet
    headers = {**live.headers("alice"), "Idempotency-Key": "double-click"}
    body = body_for(live)

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live.base, timeout=10, limits=httpx.Limits(max_connections=20)) as client:
            return await asyncio.gather(*(client.post("/orders", json=body, headers=headers) for _ in range(10)))

    replies = asyncio.run(burst())
    created = [r for r in replies if r.status_code == 201]
    busy = [r for r in replies if r.status_code == 409]
    assert len(created) + len(busy) == 10, [(r.status_code, r.text) for r in replies]
    assert created, "at least the request that claimed the key succeeds"
    assert len({r.json()["id"] for r in created}) == 1
    assert len({r.content for r in created}) == 1  # the repeats are the stored response, byte for byte
    assert all(r.json()["detail"] == "a request with this Idempotency-Key is still in progress; retry shortly" for r in busy)
    oid = created[0].json()["id"]
    assert created_by(live, "alice") == [oid]
    assert orders_in_stream(live) == [oid]
    assert live.redis.get(K.ORDER_COUNTER) == b"1"
    # once it is done, a retry gets the stored answer
    retry = httpx.post(f"{live.base}/orders", json=body, headers=headers)
    assert retry.status_code == 201 and retry.json()["id"] == oid


class _KilledOnce:
    """A Redis client whose connection dies for the first ``failures`` frees of a claim (a ``CLIENT KILL`` mid-request)."""

    def __init__(self, r: object, failures: int) -> None:
        self.r, self.failures = r, failures

    def __getattr__(self, name: str) -> object:
        return getattr(self.r, name)

    async def eval(self, script: str, *args: object) -> object:
        from api.idempotency import FREE

        if script == FREE and self.failures > 0:  # freeing the claim: the connection dies
            self.failures -= 1
            raise RedisConnectionError("Connection closed by server.")
        return await self.r.eval(script, *args)


def test_a_failed_request_frees_its_key_even_when_its_connection_was_killed(quiet) -> None:
    """bench/chaos.py found keys left "in progress" for 24 h after CLIENT KILL: every retry was a 409."""
    from api.idempotency import LEASE_S, IdempotencyError, run_once

    async def boom() -> tuple[int, object]:
        raise RuntimeError("the work failed")

    async def ok() -> tuple[int, object]:
        return 201, {"id": "o-1"}

    async def run() -> None:
        r = aioredis.Redis.from_url(quiet.settings.redis_url)
        try:
            with pytest.raises(RuntimeError):
                await run_once(_KilledOnce(r, 1), "alice", "killed-1", {"a": 1}, boom)
            assert await r.exists("idem:alice:killed-1") == 0  # freed on a second try
            assert await run_once(r, "alice", "killed-1", {"a": 1}, ok) == (201, {"id": "o-1"})
            assert await r.ttl("idem:alice:killed-1") > LEASE_S  # answered: kept for the day
            with pytest.raises(RuntimeError):
                await run_once(_KilledOnce(r, 99), "alice", "killed-2", {"a": 1}, boom)
            assert 0 < await r.ttl("idem:alice:killed-2") <= LEASE_S  # could not be freed: its lease ends soon
            with pytest.raises(IdempotencyError) as busy:
                await run_once(r, "alice", "killed-2", {"a": 1}, ok)
            assert busy.value.status == 409
        finally:
            await r.aclose()

    asyncio.run(run())
