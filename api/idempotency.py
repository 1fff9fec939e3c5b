"""``Idempotency-Key``: the same key (per user) returns the same response and does the work once.

The first request claims the key atomically (HSETNX with a short lease, in one transaction), does
the work, and stores its status and body; a repeat gets that stored response. A repeat while the
first is still running gets 409, and a key reused for a different request body gets 422. A failure
that created nothing frees the key; if Redis cannot even be told that (the connection the request
was on was killed), the claim runs out after ``LEASE_S`` by itself. Answered keys live 24 hours.
(Measured by ``bench/chaos.py``: before the lease, a ``CLIENT KILL`` between the claim and its
expiry left five keys "in progress" for 24 hours, and those orders could never be placed.)
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError

log = logging.getLogger(__name__)
TTL_S = 24 * 3600
LEASE_S = 60  # a claim whose request died unanswered frees itself this soon (longer than any request waits)
MAX_KEY = 200
# the header's constraints, as the OpenAPI document states them (``run_once`` enforces them)
IDEMPOTENCY_KEY = {"minLength": 1, "maxLength": MAX_KEY}


class IdempotencyError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def claim_key(user: str, key: str) -> str:
    """The hash of one user's key: ``fingerprint`` (the claim), then ``status`` and ``body`` (the answer).

    Work that writes its result in one script may write the answer there too (``status``, ``body``, expiry ``TTL_S``):
    a worker killed after that script and before ``run_once`` stored the answer leaves it stored all the same, so the
    retry gets it instead of doing the work again (the shop's ``PLACE``)."""
    return f"idem:{user}:{key}"


async def run_once(r: Any, user: str, key: str | None, body: Any, work: Callable[[], Awaitable[tuple[int, Any]]]) -> tuple[int, Any]:
    """``work`` returns (status, JSON-able body); with a key it runs at most once per user and key."""
    if key is None:
        return await work()
    if not 1 <= len(key) <= MAX_KEY:
        raise IdempotencyError(422, f"Idempotency-Key must be 1 to {MAX_KEY} characters")
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    name = claim_key(user, key)
    claim = r.pipeline(transaction=True)
    claim.hsetnx(name, "fingerprint", fingerprint)
    claim.expire(name, LEASE_S, nx=True)  # only a new claim gets the lease (an answered key keeps its day)
    claimed, _ = await claim.execute()
    if claimed:
        try:
            status, out = await work()
        except BaseException:
            await _free(r, name)
            raise
        done = r.pipeline(transaction=True)
        done.hset(name, mapping={"status": status, "body": json.dumps(out, default=str)})
        done.expire(name, TTL_S)
        await done.execute()
        return status, out
    stored = {k.decode(): v.decode() for k, v in (await r.hgetall(name)).items()}
    if stored.get("fingerprint") != fingerprint:
        raise IdempotencyError(422, "this Idempotency-Key was used for a different request body")
    if "body" not in stored:
        raise IdempotencyError(409, "a request with this Idempotency-Key is still in progress; retry shortly")
    return int(stored["status"]), json.loads(stored["body"])


async def _free(r: Any, name: str) -> None:
    """Free a claim whose work failed, on a fresh connection if the request's own was killed."""
    for attempt in range(3):
        try:
            await r.delete(name)
            return
        except RedisError as exc:
            log.warning("freeing %s failed (%s); %s", name, exc, "trying again" if attempt < 2 else f"its lease ends within {LEASE_S} s")
            await asyncio.sleep(0.05 * (attempt + 1))
