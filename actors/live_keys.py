"""Redis key names and the frame emitter shared by the live shards and the API workers.

One place for the layout, so the writer (a shard actor) and the readers (any API worker) agree:

- ``live:{r}:inputs``: the region's input stream: orders, cancellations, reports of couriers and
  stores, the shard's own ``tick`` marks and the ``decided`` assignments of each step. With the
  last snapshot (``live:{r}:snapshot``) it rebuilds the shard after a crash. ``{r}`` is the region
  in hex, a Redis Cluster hash tag: a region's stream, snapshot and guard live in one slot.
- ``order:{id}`` (hash): the order as the API shows it; ``frames:order:{id}`` (stream) and the
  pub/sub channel ``track:{id}``: its tracking frames. Couriers likewise (``courier:{id}``,
  ``frames:courier:{id}``, channel ``courier:{id}``); planners get channel ``ops``.

A frame is a JSON object ``{"seq", "type", "ts", "data"}``; ``seq`` comes from one counter per
stream, taken inside the ``EMIT`` script, so frames of one stream are numbered in the order they
are published whichever process publishes them. Durable frames are also appended to the frames
stream under the id ``{seq}-1``, which is how a client resumes after the last ``seq`` it saw.
"""
from __future__ import annotations

import json
import time
from typing import Any

FRAMES_KEPT = 500  # per stream: enough to resume after a dropped connection


def region_tag(region: int) -> str:
    return f"{region:x}"


def inputs_key(region: int) -> str:
    return f"live:{{{region_tag(region)}}}:inputs"


def snapshot_key(region: int) -> str:
    return f"live:{{{region_tag(region)}}}:snapshot"


def emitted_key(region: int) -> str:
    """The last step whose frames were published: a replayed step publishes nothing twice."""
    return f"live:{{{region_tag(region)}}}:emitted"


def zones_key(region: int) -> str:
    return f"live:{{{region_tag(region)}}}:zones"


def load_key(region: int) -> str:
    """The region's ``RegionLoad`` after its last step (JSON, expiring): what its neighbours lend by."""
    return f"live:{{{region_tag(region)}}}:load"


def beat_key(region: int) -> str:
    """Wall time (epoch ms) of the region's last completed tick: ``/health`` calls a region stale from it."""
    return f"live:{{{region_tag(region)}}}:beat"


REGIONS = "live:regions"  # set of region tags served
STORES = "live:stores"  # hash store id -> JSON
AUDIT = "audit"  # stream of every state-changing action
ORDER_COUNTER = "counter:orders"
DELIVERED = "events:delivered"  # order ids as they are delivered: the shop credits points from it
ENGINE = "engine:status"  # JSON: the dispatch engine process as its supervisor last saw it (api.engine_supervisor)


def order_key(order_id: str) -> str:
    return f"order:{order_id}"


def courier_key(courier_id: str) -> str:
    return f"courier:{courier_id}"


OPS_ENTITY = "ops:"  # a dispatcher's report comes from ``ops:<user>``; its verdict goes to the ops stream as ``action``


def stream(kind: str, ident: str) -> tuple[str, str, str]:
    """(seq counter, frames stream, pub/sub channel) of one frame stream: kind is order, courier or ops."""
    channel = {"order": f"track:{ident}", "courier": f"courier:{ident}", "ops": "ops"}[kind]
    return f"seq:{kind}:{ident}", f"frames:{kind}:{ident}", channel


def frames_key_of_channel(channel: str) -> str | None:
    """The durable frames stream a pub/sub channel carries (``stream`` the other way round), or None."""
    seq = seq_key_of_channel(channel)
    return "frames:" + seq.removeprefix("seq:") if seq else None


def seq_key_of_channel(channel: str) -> str | None:
    """The seq counter of the stream a pub/sub channel carries (``stream`` the other way round), or None."""
    if channel == "ops":
        return stream("ops", "all")[0]
    kind, _, ident = channel.partition(":")
    name = {"track": "order", "courier": "courier"}.get(kind)
    return stream(name, ident)[0] if name and ident else None


def frame_body(kind: str, data: dict[str, Any], ts_ms: int | None = None) -> str:
    """A frame without its ``seq`` (the emitter adds it): compact JSON starting with '{"type"'."""
    ts = int(time.time() * 1000) if ts_ms is None else ts_ms
    return json.dumps({"type": kind, "ts": ts, "data": data}, separators=(",", ":"), default=str)


# KEYS[1]: guard key (or any key when ARGV[1] == -1); then per frame: seq key, frames stream key.
# ARGV[1]: step (publish only if the guard holds a smaller step), ARGV[2]: frame count; then per
# frame: channel, body (JSON object without seq), durable ("1" appends it to the frames stream).
EMIT = """
local step = tonumber(ARGV[1])
if step >= 0 then
  local done = tonumber(redis.call('GET', KEYS[1]) or '-1')
  if done >= step then return 0 end
  redis.call('SET', KEYS[1], step)
end
local n = tonumber(ARGV[2])
for i = 1, n do
  local seq = redis.call('INCR', KEYS[2 * i])
  local body = ARGV[3 * i + 1]
  local frame = '{"seq":' .. seq .. ',' .. string.sub(body, 2)
  if ARGV[3 * i + 2] == '1' then
    redis.call('XADD', KEYS[2 * i + 1], 'MAXLEN', '~', %d, seq .. '-1', 'f', frame)
  end
  redis.call('PUBLISH', ARGV[3 * i], frame)
end
return n
""" % FRAMES_KEPT


def emit_args(frames: list[tuple[str, str, str, bool]], guard: str = "", step: int = -1) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV for ``EMIT`` from (kind, ident, body, durable) frames."""
    keys = [guard or "live:noguard"]
    argv: list[Any] = [step, len(frames)]
    for kind, ident, body, durable in frames:
        seq, frames_stream, channel = stream(kind, ident)
        keys += [seq, frames_stream]
        argv += [channel, body, "1" if durable else "0"]
    return keys, argv


# A courier's ping in one round trip: store its position and, when ``fanout`` is "1", publish the
# position frame to every order on its route (the hash's ``orders``, kept by its shard). The order
# keys are built here as ``stream("order", id)`` builds them: seq:order:{id} and track:{id}.
# KEYS[1]: courier hash. ARGV: lat, lng, at (ms), fanout, body (frame without seq).
PING = """
redis.call('HSET', KEYS[1], 'lat', ARGV[1], 'lng', ARGV[2], 'at', ARGV[3])
if ARGV[4] ~= '1' then return 0 end
local raw = redis.call('HGET', KEYS[1], 'orders')
if not raw then return 0 end
local n = 0
for _, o in ipairs(cjson.decode(raw)) do
  local seq = redis.call('INCR', 'seq:order:' .. o)
  redis.call('PUBLISH', 'track:' .. o, '{"seq":' .. seq .. ',' .. string.sub(ARGV[5], 2))
  n = n + 1
end
return n
"""
