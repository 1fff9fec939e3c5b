"""``Idempotency-Key``: the same key (per user) returns the same response and does the work once.

The first request claims the key (``CLAIM``: the request's fingerprint and a random owner token, with a short lease),
does the work, and stores its status and body; a repeat gets that stored response. A repeat while the first is still
running gets 409, and a key reused for a different request body gets 422.

- The lease is short (``LEASE_S``) and renewed while the work runs, so a claim whose worker was killed frees itself
  within seconds and the client's retry does the work (before: a 60 s lease, and ``bench/chaos.py`` saw a 62 s outage).
- Work that writes its result in one script checks in that script that the request still holds the claim (``owner``,
  no answer yet: ``CLAIM_HELD_FN``) and stores the answer in the same step (``store_answer``). So a request that lost its
  lease (Redis paused longer than it) cannot also write, and a worker killed after the write leaves the answer for the
  retry (``current_claim`` tells the work which claim it runs under).
- A failure frees the key only when nothing was answered under it (``FREE``); if Redis cannot even be told that, the
  lease runs out by itself. Answered keys live 24 hours.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

log = logging.getLogger(__name__)
TTL_S = 24 * 3600
LEASE_S = 3.0  # a claim whose worker died frees itself this soon; renewed every third of it while the work runs
MAX_KEY = 200
# the header's constraints, as the OpenAPI document states them (``run_once`` enforces them)
IDEMPOTENCY_KEY = {"minLength": 1, "maxLength": MAX_KEY}
LOST = "a request with this Idempotency-Key is still in progress; retry shortly"

# KEYS: claim. ARGV: fingerprint, owner, lease ms. 1 claimed; 0 someone holds or answered it.
CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'owner', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""
# A Lua function for the scripts that write a request's result: does ``owner`` still hold ``claim``, unanswered?
CLAIM_HELD_FN = """
local function claim_held(claim, owner)
  return redis.call('HGET', claim, 'owner') == owner and redis.call('HEXISTS', claim, 'body') == 0
end
"""
# KEYS: claim. ARGV: owner, lease ms. Renew the lease of a claim still held and unanswered.
RENEW = CLAIM_HELD_FN + """
if claim_held(KEYS[1], ARGV[1]) then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# KEYS: claim. ARGV: owner. Free a claim still held and unanswered (never another request's, never an answer).
FREE = CLAIM_HELD_FN + """
if claim_held(KEYS[1], ARGV[1]) then return redis.call('DEL', KEYS[1]) end
return 0
"""


class IdempotencyError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass(frozen=True)
class Claim:
    """The claim a request's work runs under: its hash (``claim_key``) and the request's owner token."""

    name: str
    owner: str


_current: ContextVar[Claim | None] = ContextVar("idempotency_claim", default=None)


def current_claim() -> Claim | None:
    """The claim the running ``run_once`` work holds (None: no ``Idempotency-Key``)."""
    return _current.get()


def claim_key(user: str, key: str) -> str:
    """The hash of one user's key: ``fingerprint`` and ``owner`` (the claim), then ``status`` and ``body`` (the answer)."""
    return f"idem:{user}:{key}"


def store_answer(status: int, body: Any) -> list[Any]:
    """The ARGV tail a writing script gets to store the answer with its result: status, body JSON, expiry (s)."""
    return [status, json.dumps(body, default=str), TTL_S]


async def run_once(r: Any, user: str, key: str | None, body: Any, work: Callable[[], Awaitable[tuple[int, Any]]]) -> tuple[int, Any]:
    """``work`` returns (status, JSON-able body); with a key it runs at most once per user and key."""
    if key is None:
        return await work()
    if not 1 <= len(key) <= MAX_KEY:
        raise IdempotencyError(422, f"Idempotency-Key must be 1 to {MAX_KEY} characters")
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    claim = Claim(claim_key(user, key), secrets.token_hex(8))
    if int(await r.eval(CLAIM, 1, claim.name, fingerprint, claim.owner, int(LEASE_S * 1000))):
        renewing = asyncio.create_task(_renew(r, claim))
        token = _current.set(claim)
        try:
            status, out = await work()
        except BaseException:
            renewing.cancel()
            await _free(r, claim)
            raise
        finally:
            _current.reset(token)
            renewing.cancel()
        done = await r.eval(ANSWER, 1, claim.name, claim.owner, *store_answer(status, out))
        if int(done) == 0:  # the work stored its answer itself (and may have lost the lease since): read what is there
            return await _stored(r, claim.name, fingerprint)
        return status, out
    return await _stored(r, claim.name, fingerprint)


# KEYS: claim. ARGV: owner, status, body, ttl. Store the answer of a claim this request still holds (0: it does not, or an
# answer is there already: the work's own script stored it).
ANSWER = CLAIM_HELD_FN + """
if not claim_held(KEYS[1], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'body', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""


async def _stored(r: Any, name: str, fingerprint: str) -> tuple[int, Any]:
    stored = {k.decode(): v.decode() for k, v in (await r.hgetall(name)).items()}
    if stored and stored.get("fingerprint") != fingerprint:
        raise IdempotencyError(422, "this Idempotency-Key was used for a different request body")
    if "body" not in stored:
        raise IdempotencyError(409, LOST)
    return int(stored["status"]), json.loads(stored["body"])


async def _renew(r: Any, claim: Claim) -> None:
    """Keep the lease while the work runs; a renewal Redis cannot take now is tried again at the next beat."""
    while True:
        await asyncio.sleep(LEASE_S / 3)
        with contextlib.suppress(RedisError):
            await r.eval(RENEW, 1, claim.name, claim.owner, int(LEASE_S * 1000))


async def _free(r: Any, claim: Claim) -> None:
    """Free a claim whose work failed (unless it answered), on a fresh connection if the request's own was killed."""
    for attempt in range(3):
        try:
            await r.eval(FREE, 1, claim.name, claim.owner)
            return
        except RedisError as exc:
            log.warning("freeing %s failed (%s); %s", claim.name, exc, "trying again" if attempt < 2 else f"its lease ends within {LEASE_S} s")
            await asyncio.sleep(0.05 * (attempt + 1))
