"""The order side of the service: quote, create (with slot booking), read, cancel. Redis only.

An order is accepted only once it is in Redis: its hash, its place in the customer's and the
store's lists, and its entry in its region's input stream, written in one MULTI/EXEC. The region's
shard picks it up at its next cycle; from then on its frames and hash follow the dispatcher.
"""
from __future__ import annotations

import json
import math
import secrets
from datetime import UTC, datetime
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

from actors import live_keys as K
from actors.live_host import LIVE_ORIGIN_S, epoch_s, minutes_now
from api import zone_controls as zones
from api.idempotency import CLAIM_HELD_FN, LOST, IdempotencyError, current_claim, store_answer
from api.models import OrderCreate, OrderPublic, Point, Quote, Slot, Window
from api.security import Principal
from api.settings import Settings
from dispatch.errors import InvalidInput
from dispatch.geo import Location, haversine_m
from dispatch.modes import DeliveryWindow, asap_window, scheduled_window, timed_window
from dispatch.travel import HaversineTravel
from dispatch.zones import zone_of

SLOT_ZONE_RES = 7
_travel = HaversineTravel()

SLOT_TTL_S = 8 * 86400  # a slot's counter outlives its day
SLOT_FULL = "that slot is full; choose another from POST /quote"


class OrderError(Exception):
    """A refusal with its HTTP status and reason."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def dt(minutes: float | None) -> datetime | None:
    """A live minute as an aware UTC datetime."""
    return None if minutes is None else datetime.fromtimestamp(epoch_s(minutes), UTC)


def minutes_of(value: datetime) -> float:
    """An API datetime (naive means UTC) as a live minute."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value.timestamp() - LIVE_ORIGIN_S) / 60


def slot_key(zone: int, start_minute: float) -> str:
    return f"slots:{zone:x}:{int(start_minute)}"


async def store_of(r: Any, store_id: str) -> dict[str, Any]:
    raw = await r.hget(K.STORES, store_id)
    if raw is None:
        raise OrderError(404, f"store {store_id!r} not found")
    return json.loads(raw)


async def store_and_zone(r: Any, store_id: str, door: Location) -> tuple[dict[str, Any], zones.ZoneControl]:
    """The store, and what the dispatcher set for the door's zone, in one round trip; a paused zone is refused (409)."""
    zone = f"{zone_of(door, SLOT_ZONE_RES):x}"
    pipe = r.pipeline(transaction=False)
    pipe.hget(K.STORES, store_id)
    pipe.hmget(zones.ZONES_KEY, *zones.fields(zone))
    raw, (paused, capacity) = await pipe.execute()
    if raw is None:
        raise OrderError(404, f"store {store_id!r} not found")
    control = zones.control_of(zone, paused, capacity)
    if control.paused:
        raise OrderError(409, f"deliveries to zone {zone} are paused by the dispatcher: {control.paused}")
    return json.loads(raw), control


def fee_cents(distance_m: float, mode: str) -> int:
    """A flat delivery fee by distance (5 yuan within 2 km, +1 yuan a km after) and mode surcharge."""
    extra_km = max(0.0, distance_m - 2000) / 1000
    return 500 + int(math.ceil(extra_km)) * 100 + {"asap": 0, "scheduled": 200, "timed": 300}[mode]


async def quote(r: Any, cfg: Settings, store_id: str, dropoff: Point, mode: str) -> Quote:
    door = Location(dropoff.lat, dropoff.lng)
    store, control = await store_and_zone(r, store_id, door)
    here = Location(store["lat"], store["lng"])
    distance = haversine_m(here, door)
    if distance > cfg.delivery_radius_m:
        raise OrderError(422, f"the door is {distance / 1000:.1f} km from store {store_id}; it delivers within {cfg.delivery_radius_m / 1000:.1f} km")
    now = minutes_now()
    out = Quote(store_id=store_id, mode=mode, distance_m=round(distance), fee_cents=fee_cents(distance, mode))  # type: ignore[arg-type]
    if mode == "asap":
        eta = asap_eta(cfg, here, door, now)
        out.eta, out.eta_minutes = dt(eta), round(eta - now, 1)
    elif mode == "scheduled":
        out.slots = await free_slots(r, cfg, door, now, control.slot_capacity)
    return out


def asap_eta(cfg: Settings, store: Location, door: Location, now: float) -> float:
    """Preparation, a courier's pickup, the ride and the handover: the dispatch ETA model's direct estimate."""
    ready = now + cfg.prep_minutes
    return ready + 2.0 + _travel.minutes(store, door, ready) + 2.0


async def free_slots(r: Any, cfg: Settings, door: Location, now: float, capacity: int | None = None) -> list[Slot]:
    """Bookable slots of the door's zone with room left; ``capacity`` the zone's own (a dispatcher's), else SLOT_CAPACITY."""
    zone = zone_of(door, SLOT_ZONE_RES)
    step = cfg.slot_minutes
    first = (math.floor((now + 45) / step) + 1) * step  # at least 45 minutes ahead, on the slot grid
    starts = [first + i * step for i in range(cfg.slot_hours_ahead * 60 // step)]
    taken = await r.mget([slot_key(zone, s) for s in starts])
    capacity = cfg.slot_capacity if capacity is None else capacity
    return [
        Slot(start=dt(s), end=dt(s + step), remaining=capacity - int(t or 0))  # type: ignore[arg-type]
        for s, t in zip(starts, taken, strict=True) if capacity - int(t or 0) > 0
    ]


@dataclass(frozen=True, slots=True)
class DeliveryPlan:
    """Where and when: the checked door, the window of the chosen mode, and the booked slot (if any)."""

    store: dict[str, Any]
    door: Location
    distance_m: float
    mode: str
    window: DeliveryWindow
    slot: str | None
    placed_at: float
    slot_capacity: int  # scheduled orders per slot in the door's zone (a dispatcher may have changed it)


async def plan_delivery(r: Any, cfg: Settings, store_id: str, dropoff: Point, mode: str,
                        slot_start: datetime | None, deliver_at: datetime | None) -> DeliveryPlan:
    """Check the door and the mode's time, and name the slot of a scheduled order (``plan.slot``).

    The slot is not taken here: the script that writes the order takes it in the same step (``ENQUEUE``, the shop's
    ``PLACE``), so that a request that fails between the two neither holds a unit for no order nor, retried, takes two."""
    door = Location(dropoff.lat, dropoff.lng)
    store, control = await store_and_zone(r, store_id, door)
    here = Location(store["lat"], store["lng"])
    distance = haversine_m(here, door)
    if distance > cfg.delivery_radius_m:
        raise OrderError(422, f"the door is {distance / 1000:.1f} km from store {store_id}; it delivers within {cfg.delivery_radius_m / 1000:.1f} km")
    now = minutes_now()
    slot = None
    try:
        if mode == "asap":
            if slot_start or deliver_at:
                raise OrderError(422, "an asap order takes neither slot_start nor deliver_at")
            eta = asap_eta(cfg, here, door, now)
            window = asap_window(now, max(cfg.asap_promise_min, math.ceil(eta - now) + 5), 90.0)
        elif mode == "scheduled":
            if slot_start is None:
                raise OrderError(422, "a scheduled order needs slot_start (see POST /quote for free slots)")
            start = minutes_of(slot_start)
            if start % cfg.slot_minutes or start < now + 45:
                raise OrderError(422, f"slot_start must be on the {cfg.slot_minutes}-minute grid and at least 45 minutes ahead")
            window = scheduled_window(now, start, start + cfg.slot_minutes)
            slot = slot_key(zone_of(door, SLOT_ZONE_RES), start)
        else:
            if deliver_at is None:
                raise OrderError(422, "a timed order needs deliver_at")
            at = minutes_of(deliver_at)
            if at < asap_eta(cfg, here, door, now) + 5:
                raise OrderError(422, "deliver_at is too soon: it must leave time to prepare and ride (see POST /quote)")
            if at > now + 7 * 1440:
                raise OrderError(422, "deliver_at is more than 7 days ahead")
            window = timed_window(now, at)
    except InvalidInput as exc:
        raise OrderError(422, str(exc)) from None
    return DeliveryPlan(store, door, distance, mode, window, slot, now,
                        cfg.slot_capacity if control.slot_capacity is None else control.slot_capacity)


async def new_order_id(r: Any) -> str:
    return f"o{await r.incr(K.ORDER_COUNTER)}"


# Handing an order to dispatch as a Lua function, so larger scripts (the shop's ``PAID``) run the very same steps: the order
# hash, the customer's and the store's indexes, and the order entry on its region's input stream.
ENQUEUE_FN = """
local function enqueue(order, customer_index, store_index, stream, score, id, payload, record)
  redis.call('HSET', order, unpack(record))
  redis.call('ZADD', customer_index, score, id)
  redis.call('ZADD', store_index, score, id)
  redis.call('XADD', stream, '*', 'k', 'order', 'j', payload)
end
"""

# KEYS: order hash, customer index, store index, region stream, idempotency claim (the order hash when none), the slot's
# counter (the order hash when none). ARGV: claim owner ('' none), score, order id, payload JSON, answer status, answer body,
# answer ttl, slot capacity ('' no slot), slot ttl, then the record as field, value, ... One step: a unit of the slot
# taken, the order written and queued, and with a claim only while the request still holds it, its answer stored with it
# (``api.idempotency``): a retry after any failure gets this order, never a second one, and no slot is held for no order.
# Returns 1 written; 0 the claim was lost (another request of the same key took over); 2 the order id exists already;
# -1 the slot is full.
ENQUEUE = CLAIM_HELD_FN + ENQUEUE_FN + """
if ARGV[1] ~= '' and not claim_held(KEYS[5], ARGV[1]) then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 2 end
if ARGV[8] ~= '' then
  if tonumber(redis.call('GET', KEYS[6]) or '0') >= tonumber(ARGV[8]) then return -1 end
  redis.call('INCR', KEYS[6])
  redis.call('EXPIRE', KEYS[6], ARGV[9])
end
local record = {}
for i = 10, #ARGV do record[#record + 1] = ARGV[i] end
enqueue(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[2], ARGV[3], ARGV[4], record)
if ARGV[1] ~= '' then
  redis.call('HSET', KEYS[5], 'status', ARGV[5], 'body', ARGV[6])
  redis.call('EXPIRE', KEYS[5], ARGV[7])
end
return 1
"""


def order_entry(cfg: Settings, who: Principal, plan: DeliveryPlan, order_id: str, *, size: int = 1, fee: int | None = None,
                note: str = "", extra: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The order's hash record and the payload its region's dispatcher reads."""
    now = minutes_now()
    window, door, store_id = plan.window, plan.door, plan.store["id"]
    ready_at = max(now + cfg.prep_minutes, window.earliest - 30 if plan.mode != "asap" else now)
    payload = {
        "id": order_id, "store": store_id, "lat": door.lat, "lng": door.lng, "placed_at": now, "ready_at": ready_at,
        "earliest": window.earliest, "promise": window.promise, "latest": window.latest, "mode": plan.mode, "size": size,
    }
    record = {
        "id": order_id, "status": "placed", "store": store_id, "customer": who.user, "mode": plan.mode,
        "lat": door.lat, "lng": door.lng, "placed_at": now, "earliest": window.earliest, "promise": window.promise,
        "latest": window.latest, "courier": "", "eta": "", "picked_up_at": "", "delivered_at": "", "region": plan.store["region"],
        "pin": f"{secrets.randbelow(10_000):04d}", "fee_cents": fee_cents(plan.distance_m, plan.mode) if fee is None else fee,
        "slot": plan.slot or "", "note": note, **(extra or {}),
    }
    return record, payload


def enqueue_keys(who: Principal, record: dict[str, Any]) -> list[str]:
    """``ENQUEUE_FN``'s keys: the order hash, the customer's and the store's indexes, the region's input stream."""
    return [K.order_key(record["id"]), f"orders:customer:{who.user}", f"orders:store:{record['store']}",
            K.inputs_key(int(record["region"], 16))]


def flat(record: dict[str, Any]) -> list[Any]:
    return [x for kv in record.items() for x in kv]


async def enqueue_order(r: Any, cfg: Settings, who: Principal, plan: DeliveryPlan, order_id: str, *, size: int = 1,
                        fee: int | None = None, note: str = "", extra: dict[str, Any] | None = None,
                        answer: Callable[[dict[str, Any]], tuple[int, Any]] | None = None) -> dict[str, Any]:
    """Write the order and hand it to its region's dispatcher, in one script (``ENQUEUE``). With ``answer`` and an
    idempotency claim held (``current_claim``), the request's answer is stored in the same step."""
    record, payload = order_entry(cfg, who, plan, order_id, size=size, fee=fee, note=note, extra=extra)
    claim = current_claim() if answer else None
    status, body = answer(record) if claim and answer else (0, None)
    here = K.order_key(order_id)
    keys = [*enqueue_keys(who, record), claim.name if claim else here, plan.slot or here]
    done = await r.eval(ENQUEUE, len(keys), *keys, claim.owner if claim else "", record["placed_at"], order_id, json.dumps(payload),
                        *store_answer(status, body), plan.slot_capacity if plan.slot else "", SLOT_TTL_S, *flat(record))
    if int(done) == -1:
        raise OrderError(409, SLOT_FULL)
    if int(done) == 0:
        raise IdempotencyError(409, LOST)
    if int(done) == 2:  # an order id is taken once (INCR): an order already under it is not this request's
        raise RuntimeError(f"order {order_id} already exists")
    return record


async def create_order(r: Any, cfg: Settings, who: Principal, body: OrderCreate,
                       answer: Callable[[dict[str, Any]], tuple[int, Any]] | None = None) -> dict[str, Any]:
    """A delivery order without a basket (the commerce checkout builds one with its goods)."""
    plan = await plan_delivery(r, cfg, body.store_id, body.dropoff, body.mode, body.slot_start, body.deliver_at)
    return await enqueue_order(r, cfg, who, plan, await new_order_id(r), size=body.size, note=body.note, answer=answer)


def public(record: dict[str, Any], show_pin: bool) -> OrderPublic:
    def ms(field: str) -> datetime | None:
        v = record.get(field)
        return None if v in (None, "") else datetime.fromtimestamp(int(v) / 1000, UTC)

    return OrderPublic(
        id=record["id"], status=record["status"], store_id=record["store"], customer=record["customer"], mode=record["mode"],
        dropoff=Point(lat=float(record["lat"]), lng=float(record["lng"])), placed_at=dt(float(record["placed_at"])),  # type: ignore[arg-type]
        window=Window(earliest=dt(float(record["earliest"])), promise=dt(float(record["promise"])), latest=dt(float(record["latest"]))),  # type: ignore[arg-type]
        courier=record.get("courier") or None, eta=ms("eta"), courier_at_store=ms("courier_at_store"), picked_up_at=ms("picked_up_at"), delivered_at=ms("delivered_at"),
        fee_cents=int(record.get("fee_cents") or 0), pin=record.get("pin") if show_pin else None,
    )


async def load_order(r: Any, order_id: str) -> dict[str, Any]:
    raw = await r.hgetall(K.order_key(order_id))
    if not raw:
        raise OrderError(404, f"order {order_id!r} not found")
    return {k.decode(): v.decode() for k, v in raw.items()}


def may_see(who: Principal, order: dict[str, Any]) -> bool:
    """The scope rule: customers their own orders, stores theirs, couriers what they carry, planners and admins all."""
    return (
        who.role in ("admin", "planner")
        or (who.role == "customer" and order["customer"] == who.user)
        or (who.role == "store" and order["store"] == who.entity)
        or (who.role == "courier" and order.get("courier") == who.entity)
    )


CANCELLABLE = {"placed", "paid", "accepted", "preparing", "ready", "assigned"}
PICKUP_REPORTED = "pickup_reported"  # order hash field: a courier's app reported the pickup (or a drop-off) of the order

# The cancellation as a Lua function, so a larger script (the shop's ``checkout.CANCEL_PAID``) runs the very same steps.
# order: the order hash; inputs: its region's input stream; slot: the slot counter to give a unit back to ('' none); by: who
# cancels; entry: the cancel entry's JSON. Returns {1, ''} queued; {0, ''} no such order; {-1, status} too late (picked up
# or closed, or a pickup already reported: ``PICKUP_REPORTED``); {-2, ''} a cancellation is already queued.
# Checked and queued in one step, against a pickup whose report is marked on the order in the same step as it enters the
# region's stream (``api.ws``): either the cancellation is in the stream first, and the dispatcher applies it first
# (cancellations go before reports within a step) and refuses the pickup, or the cancellation sees the mark and is refused.
CANCEL_FN = """
local cancellable = {%s}
local function request_cancel(order, inputs, slot, by, entry)
  local status = redis.call('HGET', order, 'status')
  if not status then return {0, ''} end
  if not cancellable[status] then return {-1, status} end
  if redis.call('HEXISTS', order, '%s') == 1 then return {-1, 'picked_up'} end
  if redis.call('HSETNX', order, 'cancel_requested', by) == 0 then return {-2, ''} end
  redis.call('XADD', inputs, '*', 'k', 'cancel', 'j', entry)
  if slot ~= '' then redis.call('DECR', slot) end
  return {1, ''}
end
""" % (", ".join(f"{s}=true" for s in sorted(CANCELLABLE)), PICKUP_REPORTED)

# KEYS: order hash, its region's input stream, slot (or the order hash when none); ARGV: with slot (0/1), by, entry JSON
CANCEL = CANCEL_FN + """
return request_cancel(KEYS[1], KEYS[2], ARGV[1] == '1' and KEYS[3] or '', ARGV[2], ARGV[3])
"""


def cancel_entry(order_id: str, who: Principal) -> str:
    return json.dumps({"order": order_id, "by": who.user})


def cancel_refused(order_id: str, code: int, status: str) -> OrderError:
    if code == 0:
        return OrderError(404, f"order {order_id!r} not found")
    if code == -1:
        return OrderError(409, f"order {order_id} is {status}; after pickup ask for a refund instead")
    return OrderError(409, f"the cancellation of order {order_id} is already queued")


async def request_cancel(r: Any, order: dict[str, Any], who: Principal) -> None:
    """Queue the cancellation for the order's dispatcher and give its slot back, once, in one script (``CANCEL``)."""
    order_id, slot = order["id"], order.get("slot") or ""
    code, status = await r.eval(CANCEL, 3, K.order_key(order_id), K.inputs_key(int(order["region"], 16)), slot or K.order_key(order_id),
                                "1" if slot else "0", who.user, cancel_entry(order_id, who))
    if int(code) != 1:
        raise cancel_refused(order_id, int(code), status.decode() if isinstance(status, bytes) else str(status))


async def audit(r: Any, who: Principal, action: str, target: str, **extra: Any) -> None:
    """Who did what, to what, when: one entry of the audit stream per state-changing action."""
    await r.xadd(K.AUDIT, {"who": who.user, "role": who.role, "action": action, "target": target,
                           "at": datetime.now(UTC).isoformat(), **{k: str(v) for k, v in extra.items()}}, maxlen=1_000_000, approximate=True)
