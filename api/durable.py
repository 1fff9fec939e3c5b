"""No write is acknowledged before it is on disk: an ASGI middleware around every state-changing request.

A handler's Redis writes (the order, its index, its stream entry, a checkout's reservation, ...)
are on one connection pool; ``WAITAOF`` waits until everything written so far by this Redis is in
its append-only file and fsynced. So the middleware holds back the response's first message of every
POST/PUT/PATCH/DELETE until that fsync, and answers 503 (retry with the same Idempotency-Key)
instead when Redis cannot confirm it. GETs and WebSockets pass through untouched (the courier socket
waits for its own reports' fsync, ``api.ws``). The contract is ``docs/durability.md``.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from redis.exceptions import RedisError

from actors.durability import NotDurable

log = logging.getLogger(__name__)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class DurableWrites:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        failed = False

        async def held_send(message: dict[str, Any]) -> None:
            nonlocal failed
            if failed:
                return  # the 503 went out instead of this response
            if message["type"] == "http.response.start" and message["status"] < 500 and getattr(state, "fsync", None):
                try:
                    await state.fsync.wait_async(state.redis)
                except (RedisError, NotDurable, OSError) as exc:
                    failed = True
                    log.warning("%s %s: not acknowledged, the write is not confirmed on disk: %s", scope["method"], scope["path"], exc)
                    body = json.dumps({"detail": "storage unavailable: the request may not have been saved; "
                                                 "retry it with the same Idempotency-Key"}).encode()
                    await send({"type": "http.response.start", "status": 503,
                                "headers": [(b"content-type", b"application/json"), (b"retry-after", b"1"),
                                            (b"content-length", str(len(body)).encode())]})
                    await send({"type": "http.response.body", "body": body})
                    return
            await send(message)

        await self.app(scope, receive, held_send)
