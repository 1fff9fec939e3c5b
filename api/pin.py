"""The drop-off PIN: checked in Redis with a count of wrong tries per order, so it cannot be guessed.

``check`` is one Lua call (read the count, compare, count a miss), so parallel sockets cannot slip
guesses past the limit. After ``pin_max_failures`` wrong PINs the order's drop-off is locked, even
for the right PIN, until a planner, an admin or the order's store unlocks it
(``POST /orders/{id}/pin/unlock``).
"""
from __future__ import annotations

from enum import Enum
from typing import Any

LOCK_TTL_S = 7 * 24 * 3600  # a count outlives any delivery; it only keeps Redis from holding it forever

# KEYS: order hash, wrong-PIN counter. ARGV: the PIN tried, the limit, the counter's ttl.
# Returns {verdict, wrong tries so far}: ok, wrong, or locked (this try locked it, or it was already).
CHECK = """
local wrong = tonumber(redis.call('GET', KEYS[2]) or '0')
if wrong >= tonumber(ARGV[2]) then return {'locked', wrong} end
if redis.call('HGET', KEYS[1], 'pin') == ARGV[1] then return {'ok', wrong} end
wrong = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
if wrong >= tonumber(ARGV[2]) then return {'locked', wrong} end
return {'wrong', wrong}
"""


class Verdict(str, Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"


def failures_key(order_id: str) -> str:
    return f"pin:failures:{order_id}"


async def check(r: Any, order_key: str, order_id: str, pin: str, limit: int) -> tuple[Verdict, int]:
    """(verdict, wrong tries so far) for ``pin`` on the order."""
    verdict, wrong = await r.register_script(CHECK)(keys=[order_key, failures_key(order_id)], args=[pin, limit, LOCK_TTL_S])
    return Verdict(verdict.decode() if isinstance(verdict, bytes) else verdict), int(wrong)


async def unlock(r: Any, order_id: str) -> int:
    """Clear the order's wrong tries; returns how many there were."""
    async with r.pipeline(transaction=True) as pipe:
        pipe.get(failures_key(order_id))
        pipe.delete(failures_key(order_id))
        wrong, _ = await pipe.execute()
    return int(wrong or 0)
