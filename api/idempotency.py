"""``Idempotency-Key``: the same key (per user) returns the same response and does the work once.

The first request claims the key atomically (HSETNX), does the work, and stores its status and
body; a repeat gets that stored response. A repeat while the first is still running gets 409, and
a key reused for a different request body gets 422. A failure that created nothing frees the key.
Keys live 24 hours.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

TTL_S = 24 * 3600
MAX_KEY = 200
# the header's constraints, as the OpenAPI document states them (``run_once`` enforces them)
IDEMPOTENCY_KEY = {"minLength": 1, "maxLength": MAX_KEY}


class IdempotencyError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


async def run_once(r: Any, user: str, key: str | None, body: Any, work: Callable[[], Awaitable[tuple[int, Any]]]) -> tuple[int, Any]:
    """``work`` returns (status, JSON-able body); with a key it runs at most once per user and key."""
    if key is None:
        return await work()
    if not 1 <= len(key) <= MAX_KEY:
        raise IdempotencyError(422, f"Idempotency-Key must be 1 to {MAX_KEY} characters")
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    name = f"idem:{user}:{key}"
    if await r.hsetnx(name, "fingerprint", fingerprint):
        await r.expire(name, TTL_S)
        try:
            status, out = await work()
        except BaseException:
            await r.delete(name)
            raise
        await r.hset(name, mapping={"status": status, "body": json.dumps(out, default=str)})
        return status, out
    stored = {k.decode(): v.decode() for k, v in (await r.hgetall(name)).items()}
    if stored.get("fingerprint") != fingerprint:
        raise IdempotencyError(422, "this Idempotency-Key was used for a different request body")
    if "body" not in stored:
        raise IdempotencyError(409, "a request with this Idempotency-Key is still in progress; retry shortly")
    return int(stored["status"]), json.loads(stored["body"])
