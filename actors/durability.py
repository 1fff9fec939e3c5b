"""Wait until Redis has written what this connection wrote to its append-only file (``WAITAOF``).

With ``appendfsync everysec`` Redis may lose the last second of writes when it crashes. What the
service acknowledges to a person (an order, a courier's report) and what a region publishes to
the phones (offers, verdicts) must not be in that second, so both wait for the fsync first: one
round trip, a fraction of a millisecond on a local disk (valkey fsyncs as soon as a client waits).
A Redis without an append-only file cannot promise that; the service then logs it once and goes
on without waiting (``docs/durability.md``).
"""
from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import ResponseError

log = logging.getLogger(__name__)
FSYNC_TIMEOUT_MS = 2000


class NotDurable(Exception):
    """Redis did not confirm the fsync in time: the write may still be lost, so do not acknowledge it."""


class Fsync:
    """``WAITAOF 1 0`` on one client (sync or asyncio), remembering when the server has no AOF."""

    def __init__(self, timeout_ms: int = FSYNC_TIMEOUT_MS) -> None:
        self.timeout_ms = timeout_ms
        self.enabled = True

    def _check(self, reply: Any) -> None:
        if not reply or int(reply[0]) < 1:
            raise NotDurable(f"Redis did not confirm the append-only fsync within {self.timeout_ms} ms")

    def _off(self, exc: ResponseError) -> None:
        if "appendonly" not in str(exc).lower():
            raise exc
        self.enabled = False
        log.warning("Redis runs without an append-only file: acknowledged writes are not fsynced first (%s)", exc)

    def wait(self, redis: Any) -> None:
        if not self.enabled:
            return
        try:
            self._check(redis.execute_command("WAITAOF", 1, 0, self.timeout_ms))
        except ResponseError as exc:
            self._off(exc)

    async def wait_async(self, redis: Any) -> None:
        if not self.enabled:
            return
        try:
            self._check(await redis.execute_command("WAITAOF", 1, 0, self.timeout_ms))
        except ResponseError as exc:
            self._off(exc)
