"""Sign-in throttling: failed sign-ins counted per account and per client address in Redis.

An attempt on an account takes a slot of its counter before the password is checked (one Lua
call: refuse if either counter is at its limit, else count the attempt), so parallel guesses cannot
slip past the limit; a success gives the slot back by clearing the account's counter. The address
counts only failures (many users behind one address sign in at once). Each counter expires
``signin_window_s`` after its first count; a refused attempt does not extend it.
"""
from __future__ import annotations

import math
from typing import Any

from api.settings import Settings

# KEYS: account counter, address counter. ARGV: account limit, address limit, window (s).
# Returns {0, 0} (go on; the attempt is counted on the account) or {1 account | 2 address, ms left}.
ADMIT = """
local account = tonumber(redis.call('GET', KEYS[1]) or '0')
if account >= tonumber(ARGV[1]) then return {1, redis.call('PTTL', KEYS[1])} end
local address = tonumber(redis.call('GET', KEYS[2]) or '0')
if address >= tonumber(ARGV[2]) then return {2, redis.call('PTTL', KEYS[2])} end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return {0, 0}
"""


class Throttled(Exception):
    """Too many failed sign-ins: the reason, and the seconds until the counter expires."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


def _keys(user: str, address: str) -> list[str]:
    return [f"throttle:signin:user:{user}", f"throttle:signin:addr:{address}"]


class SignInThrottle:
    def __init__(self, redis: Any, settings: Settings) -> None:
        self.r = redis
        self.cfg = settings
        self._admit = redis.register_script(ADMIT)

    async def admit(self, user: str, address: str) -> None:
        """Raise ``Throttled`` if the account or the address has failed too often; else count this attempt."""
        cfg = self.cfg
        which, left_ms = await self._admit(keys=_keys(user, address),
                                           args=[cfg.signin_account_failures, cfg.signin_address_failures, cfg.signin_window_s])
        if which == 0:
            return
        retry = max(1, math.ceil(int(left_ms) / 1000)) if int(left_ms) > 0 else cfg.signin_window_s
        what = "this account" if which == 1 else "this address"
        limit = cfg.signin_account_failures if which == 1 else cfg.signin_address_failures
        raise Throttled(f"too many failed sign-ins for {what} ({limit} in {cfg.signin_window_s} s): try again in {retry} s", retry)

    async def failed(self, address: str) -> None:
        """A wrong password: the account's slot stays taken; the address counts one more (INCR and EXPIRE NX in one transaction)."""
        key = _keys("", address)[1]
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.cfg.signin_window_s, nx=True)
            await pipe.execute()

    async def succeeded(self, user: str) -> None:
        await self.r.delete(_keys(user, "")[0])
