"""Stock per store and SKU in Redis, reserved at checkout by one atomic script: never oversold.

A reservation takes every line of a cart or none: the script checks all lines (stock, and a
flash sale's per-customer limit) before it changes anything, and Redis runs it without
interleaving, so however many buyers race for the last units, exactly the stock is sold.
A reservation is released on cancellation or payment timeout (the units go back) and committed
on payment (the units stay sold). All three are idempotent per checkout id.

Keys carry the store as a hash tag (``{store}``), so a store's stock, reservations and limits stay
in one Redis Cluster slot and the scripts stay single-slot.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def stock_key(store: str) -> str:
    return f"stock:{{{store}}}"


def sold_key(store: str) -> str:
    return f"sold:{{{store}}}"


def reservation_key(store: str, checkout: str) -> str:
    return f"resv:{{{store}}}:{checkout}"


def expiring_key(store: str) -> str:
    return f"resv-expiring:{{{store}}}"


def limit_key(store: str, sku: str, customer: str, sale: str = "") -> str:
    """Units a customer bought under one flash sale (``sale`` tells the sales of a SKU apart: a new sale starts at 0)."""
    return f"flash:{{{store}}}:{sku}:{customer}" + (f":{sale}" if sale else "")


# The reservation as two Lua functions, so a larger script (``checkout.PLACE``) runs the very same steps: ``reserve_check``
# refuses (changing nothing) a line the shelf or the customer's flash limit cannot take; ``reserve_take`` then takes them all.
# ``lines`` is a list of {sku, qty, limit (0: none), limit key}.
RESERVE_FN = """
local function reserve_lines(keys, argv, first_key, first_arg, n)
  local lines = {}
  for i = 1, n do
    local a = first_arg + 3 * (i - 1)
    lines[i] = {argv[a], tonumber(argv[a + 1]), tonumber(argv[a + 2]), keys[first_key + i - 1]}
  end
  return lines
end
local function reserve_check(stock, lines)
  for _, l in ipairs(lines) do
    local have = tonumber(redis.call('HGET', stock, l[1]) or '-1')
    if have < 0 then return {l[1], 'not_sold_here'} end
    if have < l[2] then return {l[1], 'out_of_stock'} end
    if l[3] > 0 then
      local bought = tonumber(redis.call('GET', l[4]) or '0')
      if bought + l[2] > l[3] then return {l[1], 'limit_reached'} end
    end
  end
  return nil
end
local function reserve_take(stock, resv, expiring, id, expires, lines)
  for _, l in ipairs(lines) do
    redis.call('HINCRBY', stock, l[1], -l[2])
    redis.call('HSET', resv, l[1], l[2])
    if l[3] > 0 then
      redis.call('INCRBY', l[4], l[2])
      redis.call('HSET', resv, 'limit:' .. l[1], l[4])
    end
  end
  redis.call('HSET', resv, '_state', 'reserved')
  redis.call('ZADD', expiring, expires, id)
end
"""

# KEYS: stock, reservation, expiring, then one per line: its limit key (or the stock key when none)
# ARGV: checkout id, expires (unix s), line count, then per line: sku, qty, limit (0: none)
RESERVE = RESERVE_FN + """
if redis.call('EXISTS', KEYS[2]) == 1 then return {2, '', ''} end
local lines = reserve_lines(KEYS, ARGV, 4, 4, tonumber(ARGV[3]))
local refused = reserve_check(KEYS[1], lines)
if refused then return {0, refused[1], refused[2]} end
reserve_take(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], lines)
return {1, '', ''}
"""

# The release as a Lua function, so a larger script (``checkout.GIVE_BACK``) runs the very same steps.
RELEASE_FN = """
local function release(stock, resv, expiring, sold, id)
  local state = redis.call('HGET', resv, '_state')
  if state ~= 'reserved' and state ~= 'committed' then return 0 end
  local fields = redis.call('HGETALL', resv)
  for i = 1, #fields, 2 do
    local f, v = fields[i], fields[i + 1]
    if string.sub(f, 1, 1) ~= '_' and string.sub(f, 1, 6) ~= 'limit:' then
      redis.call('HINCRBY', stock, f, tonumber(v))
      if state == 'committed' then redis.call('HINCRBY', sold, f, -tonumber(v)) end
      local lk = redis.call('HGET', resv, 'limit:' .. f)
      if lk then redis.call('DECRBY', lk, tonumber(v)) end
    end
  end
  redis.call('HSET', resv, '_state', 'released')
  redis.call('ZREM', expiring, id)
  return 1
end
"""

# KEYS: stock, reservation, expiring, sold; ARGV: checkout id. Units (and flash limits) go back.
RELEASE = RELEASE_FN + """
return release(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1])
"""

# KEYS: reservation, expiring, sold; ARGV: checkout id. The units stay sold.
# The commit as a Lua function, so a larger script (``checkout.PAID``) runs the very same steps.
COMMIT_FN = """
local function commit_reservation(resv, expiring, sold, id)
  if redis.call('HGET', resv, '_state') ~= 'reserved' then return 0 end
  local fields = redis.call('HGETALL', resv)
  for i = 1, #fields, 2 do
    local f, v = fields[i], fields[i + 1]
    if string.sub(f, 1, 1) ~= '_' and string.sub(f, 1, 6) ~= 'limit:' then redis.call('HINCRBY', sold, f, tonumber(v)) end
  end
  redis.call('HSET', resv, '_state', 'committed')
  redis.call('ZREM', expiring, id)
  return 1
end
"""
COMMIT = COMMIT_FN + """
return commit_reservation(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
"""


@dataclass(frozen=True, slots=True)
class Line:
    sku: str
    qty: int
    limit: int = 0  # a flash sale's per-customer limit; 0: none
    sale: str = ""  # which flash sale the limit belongs to (``limit_key``)


@dataclass(frozen=True, slots=True)
class Refusal:
    sku: str
    reason: str  # not_sold_here | out_of_stock | limit_reached


# KEYS: stock; ARGV: sku, units, expected ('' for none). A store's count replaces the level only if the level is still the
# one its console showed: a sale between the two is not overwritten (the clerk sees the new level and counts again).
CORRECT = """
local now = redis.call('HGET', KEYS[1], ARGV[1]) or '0'
if ARGV[3] ~= '' and tonumber(now) ~= tonumber(ARGV[3]) then return {0, now} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {1, ARGV[2]}
"""


class StockChanged(Exception):
    """The level moved (a sale, a give-back) since the store read it."""

    def __init__(self, units: int) -> None:
        super().__init__(units)
        self.units = units


class Inventory:
    """The scripts over an async redis-py client."""

    def __init__(self, redis: Any) -> None:
        self.r = redis
        self._reserve = redis.register_script(RESERVE)
        self._release = redis.register_script(RELEASE)
        self._commit = redis.register_script(COMMIT)
        self._correct = redis.register_script(CORRECT)

    async def correct(self, store: str, sku: str, units: int, expected: int | None) -> int:
        """Set what the store counted (units it can sell now); ``StockChanged`` if ``expected`` is no longer the level."""
        ok, level = await self._correct(keys=[stock_key(store)], args=[sku, int(units), "" if expected is None else int(expected)])
        if not int(ok):
            raise StockChanged(int(level))
        return int(level)

    async def stock(self, store: str, skus: Sequence[str]) -> dict[str, int]:
        values = await self.r.hmget(stock_key(store), list(skus))
        return {s: int(v) for s, v in zip(skus, values, strict=True) if v is not None}

    async def set_stock(self, store: str, levels: Mapping[str, int], only_new: bool = True) -> None:
        pipe = self.r.pipeline()
        for sku, units in levels.items():
            (pipe.hsetnx if only_new else pipe.hset)(stock_key(store), sku, int(units))
        await pipe.execute()

    async def reserve(self, store: str, checkout: str, customer: str, lines: Sequence[Line], expires_s: float) -> Refusal | None:
        """Reserve every line or none; None when reserved (or already reserved under this checkout id)."""
        if not lines or any(line.qty < 1 for line in lines):
            raise ValueError("a reservation needs lines of at least one unit")
        keys = [stock_key(store), reservation_key(store, checkout), expiring_key(store)]
        keys += [limit_key(store, line.sku, customer, line.sale) if line.limit else stock_key(store) for line in lines]
        argv: list[Any] = [checkout, int(expires_s), len(lines)]
        for line in lines:
            argv += [line.sku, line.qty, line.limit]
        code, sku, reason = await self._reserve(keys=keys, args=argv)
        if int(code) == 0:
            return Refusal(sku.decode() if isinstance(sku, bytes) else sku, reason.decode() if isinstance(reason, bytes) else reason)
        return None

    async def release(self, store: str, checkout: str) -> bool:
        """Units back on the shelf (a cancellation or an unpaid checkout); False if nothing was held."""
        done = await self._release(keys=[stock_key(store), reservation_key(store, checkout), expiring_key(store), sold_key(store)], args=[checkout])
        return bool(done)

    async def commit(self, store: str, checkout: str) -> bool:
        """Paid: the reserved units are sold for good; False if it was not reserved (released or committed)."""
        done = await self._commit(keys=[reservation_key(store, checkout), expiring_key(store), sold_key(store)], args=[checkout])
        return bool(done)

    async def expired(self, store: str, now_s: float, limit: int = 100) -> list[str]:
        """Checkout ids whose reservation expired unpaid."""
        return [c.decode() for c in await self.r.zrangebyscore(expiring_key(store), "-inf", now_s, start=0, num=limit)]
