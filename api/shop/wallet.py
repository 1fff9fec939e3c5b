"""Points and coupon uses in Redis: atomic, never negative, each entry once (``commerce.membership`` rules).

The points balance changes only by appending to the customer's ledger stream through ``POINTS``,
which refuses an entry that would take the balance below zero and an entry whose (reason, ref)
was already written: a retried webhook or a replayed delivery event cannot earn twice.
"""
from __future__ import annotations

from typing import Any

from commerce.errors import CommerceError

# The two moves as Lua functions, so a larger script (``checkout.GIVE_BACK``) runs the very same steps.
POINTS_FN = """
local function points(balance, ledger, refs, delta, reason, ref, at)
  local tag = reason .. ':' .. ref
  if redis.call('SISMEMBER', refs, tag) == 1 then return {-2, tonumber(redis.call('GET', balance) or '0')} end
  local bal = tonumber(redis.call('GET', balance) or '0')
  if bal + delta < 0 then return {-1, bal} end
  bal = redis.call('INCRBY', balance, delta)
  redis.call('SADD', refs, tag)
  redis.call('XADD', ledger, '*', 'delta', delta, 'reason', reason, 'ref', ref, 'at', at, 'balance', bal)
  return {1, bal}
end
"""

COUPON_FN = """
local function coupon_use(uses, customer, limit, delta)
  local used = tonumber(redis.call('HGET', uses, customer) or '0')
  if delta > 0 and used + delta > limit then return -1 end
  if used + delta < 0 then return used end
  return redis.call('HINCRBY', uses, customer, delta)
end
"""

# KEYS: balance, ledger stream, refs set; ARGV: delta, reason, ref, at
POINTS = POINTS_FN + """
return points(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4])
"""

# KEYS: uses hash; ARGV: customer, limit, delta (+1 take, -1 give back)
COUPON_USE = COUPON_FN + """
return coupon_use(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
"""


def points_keys(customer: str) -> list[str]:
    return [f"points:{{{customer}}}:balance", f"points:{{{customer}}}:ledger", f"points:{{{customer}}}:refs"]


def coupon_uses_key(code: str) -> str:
    return f"coupon-uses:{code}"


class Wallet:
    def __init__(self, redis: Any) -> None:
        self.r = redis
        self._points = redis.register_script(POINTS)
        self._coupon = redis.register_script(COUPON_USE)

    async def balance(self, customer: str) -> int:
        return int(await self.r.get(points_keys(customer)[0]) or 0)

    async def points(self, customer: str, delta: int, reason: str, ref: str, at: float) -> int | None:
        """Append one ledger entry; the new balance, or None when (reason, ref) was already written."""
        code, balance = await self._points(keys=points_keys(customer), args=[int(delta), reason, ref, at])
        if int(code) == -1:
            raise CommerceError("insufficient_points", f"{customer} has {balance} points, not {-delta}")
        return None if int(code) == -2 else int(balance)

    async def ledger(self, customer: str, count: int = 100) -> list[dict[str, str]]:
        rows = await self.r.xrevrange(points_keys(customer)[1], count=count)
        return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in rows]

    async def coupon_uses(self, code: str, customer: str) -> int:
        return int(await self.r.hget(coupon_uses_key(code), customer) or 0)

    async def take_coupon(self, code: str, customer: str, limit: int) -> None:
        if int(await self._coupon(keys=[coupon_uses_key(code)], args=[customer, limit, 1])) < 0:
            raise CommerceError("coupon_used_up", f"coupon {code} was already used {limit} time(s)")

    async def give_back_coupon(self, code: str, customer: str) -> None:
        await self._coupon(keys=[coupon_uses_key(code)], args=[customer, 0, -1])
