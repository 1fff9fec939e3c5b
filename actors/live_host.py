"""A live region: its ``LiveRegionShard`` driven from its Redis input stream.

``LiveHost`` is plain Python over a redis-py client (tested without Ray); ``LiveShardActor`` runs
it as a Ray actor that ticks by itself every ``cycle_s`` seconds. One tick:

1. appends a ``tick`` mark with the wall time to the region's input stream;
2. reads every entry since its cursor up to that mark (orders, cancellations, reports) and steps
   the shard once per ``tick`` mark, at the mark's time;
3. appends the step's assignments to the stream as ``decided`` (only when there are some);
4. publishes the step's frames (order status, courier offers and routes, errors) and updates the
   order and courier hashes, all guarded by the step number (``EMIT``);
5. every ``snapshot_every`` steps saves the shard and its cursor, and trims the stream before it.

Couriers cross region borders (``dispatch.borrowing``): each step's host writes its region's load
(orders waiting with no courier, idle couriers); before its tick mark, a region with couriers to
spare plans the city's loans from every region's load and appends its own row as a ``lend``
input. The shard's handovers (lent couriers, and couriers idle where another region serves) and
the reports that followed a courier that had left go to the other region's stream as
``handover`` and ``report`` inputs, written before the step's frames, so a replayed step sends
them again and the other region takes a handover it has seen once (by its id).

After a crash the actor restarts (Ray ``max_restarts``), restores the last snapshot and reads the
stream again from its cursor: the same inputs at the same tick times, with the recorded
assignments in place of a new solve for every step that had already been published, so the
rebuilt shard is the one that crashed and no frame is published twice. Nothing acknowledged to a
client is lost: the API answers only after its input is in the stream.
"""
from __future__ import annotations

import json
import logging
import os
import pickle
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from actors import live_keys as K
from actors.durability import Fsync
from dispatch.borrowing import RegionLoad, plan_loans
from dispatch.errors import InvalidInput
from dispatch.events import Event
from dispatch.geo import Location
from dispatch.live import Forward, LiveRegionShard, Outgoing
from dispatch.modes import DeliveryMode, DeliveryWindow
from dispatch.order import Order
from dispatch.policies import make_policy
from dispatch.policy import Assignment, BasePolicy, DispatchPolicy, DispatchView
from dispatch.region import Handover, Report, StepInput, StepResult
from dispatch.rules import ServiceRules
from dispatch.store import Store
from dispatch.travel import HaversineTravel, TravelModel
from dispatch.zones import REGION_RES

log = logging.getLogger(__name__)
_SNAPSHOT_VERSION = 1
_ETA_STEP = 0.5  # minutes an ETA must move before customers hear of it
LOAD_TTL_S = 30  # a region silent this long (its actor is down) is left out of the loan plan


@dataclass(frozen=True)
class LiveSpec:
    """What a live shard is built from: picklable, so the actor builds its own after a restart."""

    policy: str = "greedy"
    policy_params: tuple[tuple[str, object], ...] = ()
    travel: TravelModel = field(default_factory=HaversineTravel)
    rules: ServiceRules = field(default_factory=ServiceRules)
    region_res: int = REGION_RES
    auto_accept: bool = True
    offer_timeout: float = 0.5
    decline_cooldown: float = 1.0
    shift_hours: float = 8.0
    borrow_lead: float = 10.0  # minutes of food-ready orders beyond its free couriers a region borrows for

    def build(self, region: int) -> LiveRegionShard:
        return LiveRegionShard(
            region, make_policy(self.policy, **dict(self.policy_params)), self.travel, self.rules,
            self.region_res, auto_accept=self.auto_accept, offer_timeout=self.offer_timeout,
            decline_cooldown=self.decline_cooldown, shift_hours=self.shift_hours, borrow_lead=self.borrow_lead,
        )


class _Recorded(BasePolicy):
    """Stands in for the policy for one step: replays recorded assignments, or records new ones."""

    def __init__(self, inner: DispatchPolicy, recorded: list[Assignment] | None) -> None:
        self.inner, self.recorded, self.made = inner, recorded, []
        self.name = inner.name

    def on_order(self, order: Order, now: float) -> None:
        self.inner.on_order(order, now)

    def on_cancel(self, order: Order, now: float) -> None:
        self.inner.on_cancel(order, now)

    def on_courier(self, courier: Any, now: float) -> None:
        self.inner.on_courier(courier, now)

    def on_tick(self, now: float, view: DispatchView) -> list[Assignment]:
        if self.recorded is not None:
            return self.recorded
        self.made = self.inner.on_tick(now, view)
        return self.made


def order_from_payload(p: dict[str, Any]) -> Order:
    """The order the API appended to the stream (see ``api.orders``)."""
    return Order(
        id=p["id"], store_id=p["store"], dropoff=Location(float(p["lat"]), float(p["lng"])),
        placed_at=float(p["placed_at"]), ready_at=float(p["ready_at"]),
        window=DeliveryWindow(float(p["earliest"]), float(p["promise"]), float(p["latest"])),
        mode=DeliveryMode(p.get("mode", "asap")), size=int(p.get("size", 1)),
    )


def store_from_payload(store_id: str, p: dict[str, Any]) -> Store:
    return Store(store_id, Location(float(p["lat"]), float(p["lng"])), p.get("name", ""))


LIVE_ORIGIN_S = 1_577_836_800  # 2020-01-01T00:00Z
"""Live time is minutes since this instant: small enough that the solver's time values (seconds,
``dispatch.snapshot.FAR`` = 1e9) stay far from its horizon until the 2040s; Unix-epoch seconds would not."""


def minutes_now() -> float:
    """Live time: minutes since ``LIVE_ORIGIN_S`` (what every live order and courier time is in)."""
    return (time.time() - LIVE_ORIGIN_S) / 60.0


def epoch_s(minutes: float) -> float:
    """Unix seconds of a live minute."""
    return minutes * 60.0 + LIVE_ORIGIN_S


def epoch_ms(minutes: float | None) -> int | None:
    return None if minutes is None else int(round(epoch_s(minutes) * 1000))


class LiveHost:
    """See the module docstring."""

    def __init__(self, region: int, spec: LiveSpec, redis: Any, snapshot_every: int = 30) -> None:
        if snapshot_every < 1:
            raise ValueError("snapshot_every must be at least 1")
        self.region = region
        self.spec = spec
        self.r = redis
        self.snapshot_every = snapshot_every
        self.inputs = K.inputs_key(region)
        self.emit = redis.register_script(K.EMIT)
        self._eta_sent: dict[str, float] = {}
        self._store_eta_sent: dict[str, float] = {}
        self._courier_orders: dict[str, list[str]] = {}
        self.restored = False
        self.replayed = 0
        self.fsync = Fsync()
        self.published = -1  # the last step this host published (Redis may forget it: see ``_caught_up``)
        self.resyncs = 0
        self.last: StepResult | None = None  # the last step applied: this region's own load
        self._lent_at: dict[int, int] = {}  # region -> its load's step when this one last lent to it
        self.lent = 0
        self._sent: deque[tuple[int, Outgoing]] = deque(maxlen=1000)  # what recent steps sent to other regions
        self.stale = False  # a step was applied but the tick failed before it was published and its cursor kept
        self.reloads = 0
        self._load()

    def _load(self) -> None:
        """The shard and its cursor from the last snapshot (or a new shard), as a restarted actor finds them."""
        region = self.region
        found = self.r.hgetall(K.snapshot_key(region))
        if found:
            state = pickle.loads(found[b"blob"])
            if state.get("version") != _SNAPSHOT_VERSION or state.get("region") != region:
                raise InvalidInput(f"snapshot of region {region:x} has another version or region")
            self.shard: LiveRegionShard = state["shard"]
            self.cursor: str = state["cursor"]
            self.restored = True
            self._pending_stores: list[Store] = []
            log.info("live region %x: restored at step %d, cursor %s", region, self.shard.step_no, self.cursor)
        else:
            self.shard = self.spec.build(region)
            self.cursor = "0-0"
            self._pending_stores = self._stores_of_region()
        self._served()

    def _reload(self) -> None:
        """After a tick that failed between applying a step and publishing it (Redis went away mid-step), the shard
        in memory is ahead of its cursor: reading the same inputs again would apply them twice (a report judged
        already gets only a repeated verdict, and what the first application said is never published). So the
        host starts over as a restarted actor does: the last snapshot, then the stream from its cursor, replaying
        silently what Redis says was published and publishing the rest."""
        log.warning("live region %x: a tick failed mid-step at step %d; reloading from the snapshot", self.region, self.shard.step_no)
        self._load()
        self.published = -1  # what was published is what Redis says (``emitted``): this shard is behind it now
        self.stale = False
        self.reloads += 1

    def _served(self) -> None:
        """Every region of the city (the live regions set): where a courier may be handed over to."""
        self.neighbours = sorted(int(t, 16) for t in self.r.smembers(K.REGIONS) if int(t, 16) != self.region)
        self.shard.served_regions = frozenset([self.region, *self.neighbours])

    def _stores_of_region(self) -> list[Store]:
        tag = K.region_tag(self.region)
        out = []
        for sid, raw in sorted(self.r.hgetall(K.STORES).items()):
            p = json.loads(raw)
            if p.get("region") == tag:
                out.append(store_from_payload(sid.decode(), p))
        return out

    # -- the tick ----------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> list[StepResult]:
        """Mark a tick at ``now`` (wall minutes) and apply every step up to it; see the module docstring.

        A tick that fails after applying a step and before keeping its cursor leaves the host ``stale``: the
        next tick reloads it first (``_reload``)."""
        if self.stale:
            self._reload()
        return self._tick(now)

    def _tick(self, now: float | None) -> list[StepResult]:
        now = minutes_now() if now is None else now
        now = max(now, self.shard.now)
        self._lend_to_neighbours()
        mark = self.r.xadd(self.inputs, {"k": "tick", "t": repr(now)}).decode()
        entries = self.r.xrange(self.inputs, "(" + self.cursor, mark)
        emitted = int(self.r.get(K.emitted_key(self.region)) or -1)
        if emitted < self.published:
            emitted = self._caught_up(emitted)
        decided: dict[int, list[Assignment]] = {}
        for _, f in entries:
            if f.get(b"k") == b"decided":
                decided[int(f[b"step"])] = [Assignment(c, tuple((k, o) for k, o in stops)) for c, stops in json.loads(f[b"a"])]
        batch = StepInput(now=now, stores=self._pending_stores)
        results = []
        for entry_id, f in entries:
            kind = f.get(b"k", b"")  # an entry without a kind is skipped below, not a poison for every tick
            if kind == b"tick":
                batch.now = max(float(f[b"t"]), self.shard.now)
                step_no = self.shard.step_no + 1
                # what was decided for this step before, if anything: published (up to ``emitted``), or perhaps heard
                # by a phone in the moment before Redis went away; a step after them with none decides anew
                recorded = decided.get(step_no, [] if step_no <= emitted else None)
                self.stale = True  # until the step is published and its cursor kept
                result = self._step(batch, recorded)
                outgoing = self.shard.take_outbox()
                if step_no <= emitted:
                    self.replayed += 1
                else:
                    self._publish(result, batch, outgoing)
                self.last = result
                results.append(result)
                self.cursor = entry_id.decode()
                self.stale = False
                if self.shard.step_no % self.snapshot_every == 0:
                    self.save()
                batch = StepInput(now=batch.now)
            elif kind == b"handover":
                try:
                    handover = pickle.loads(f[b"p"])
                    if not isinstance(handover, Handover) or handover.target != self.region:
                        raise ValueError("not a handover to this region")
                    batch.handovers.append(handover)
                except (KeyError, ValueError, TypeError, pickle.UnpicklingError) as exc:
                    log.warning("live region %x: handover %s ignored: %s", self.region, entry_id, exc)
            elif kind != b"decided":
                try:
                    self._take(kind, json.loads(f[b"j"]), batch)
                except (KeyError, ValueError, TypeError, InvalidInput) as exc:
                    log.warning("live region %x: input %s ignored: %s", self.region, entry_id, exc)
        self._pending_stores = []
        self.r.set(K.beat_key(self.region), int(time.time() * 1000))  # the region is alive: /health reads it
        return results

    def _lend_to_neighbours(self) -> None:
        """This region's row of the city's loan plan, as a ``lend`` input of the tick about to be marked.

        A region lends again to one it lent to only once that region has stepped twice since (so its
        load counts the couriers it was sent); a region whose load has expired is left out.
        """
        last = self.last
        if last is None or last.idle_couriers == 0 or last.waiting or not self.neighbours:
            return
        loads = {self.region: RegionLoad(last.waiting, last.idle_couriers)}
        steps: dict[int, int] = {}
        for region, raw in zip(self.neighbours, self.r.mget([K.load_key(n) for n in self.neighbours])):
            if raw:
                body = json.loads(raw)
                loads[region] = RegionLoad(int(body["waiting"]), int(body["idle"]))
                steps[region] = int(body["step"])
        row = {t: n for t, n in plan_loans(loads).get(self.region, {}).items() if steps[t] >= self._lent_at.get(t, -2) + 2}
        if not row:
            return
        self.r.xadd(self.inputs, {"k": "lend", "j": json.dumps({"to": {K.region_tag(t): n for t, n in row.items()}})})
        for target, count in row.items():
            self._lent_at[target] = steps[target]
            self.lent += count
            log.info("live region %x: lending %d courier(s) to region %x", self.region, count, target)

    def _take(self, kind: bytes, p: dict[str, Any], batch: StepInput) -> None:
        if kind == b"order":
            batch.orders.append(order_from_payload(p))
        elif kind == b"cancel":
            batch.cancellations.append(p["order"])
        elif kind == b"report":
            data = p.get("data", {})
            if not isinstance(data, dict):  # the shard's report handlers read it as a mapping
                raise ValueError("a report's data must be an object")
            ref = p.get("ref")
            batch.reports.append(Report(p["kind"], p["entity"], float(p["time"]), data, str(ref) if ref else None))
        elif kind == b"store":
            batch.stores.append(store_from_payload(p["id"], p))
        elif kind == b"lend":
            for tag, count in p["to"].items():
                target = int(tag, 16)
                batch.lend[target] = batch.lend.get(target, 0) + int(count)
        else:
            raise ValueError(f"unknown input kind {kind!r}")

    def _step(self, batch: StepInput, recorded: list[Assignment] | None) -> StepResult:
        shard = self.shard
        real = shard.policy
        stand_in = _Recorded(real, recorded)
        shard.policy = stand_in
        try:
            result = shard.step(batch)
        finally:
            shard.policy = real
        if recorded is None and stand_in.made:
            self.r.xadd(self.inputs, {
                "k": "decided", "step": result.step,
                "a": json.dumps([[a.courier_id, [list(s) for s in a.stops]] for a in stand_in.made]),
            })
        return result

    # -- what goes out -----------------------------------------------------------------------
    def _publish(self, result: StepResult, batch: StepInput, outgoing: list[Outgoing] = ()) -> None:  # type: ignore[assignment]
        shard = self.shard
        frames: list[tuple[str, str, str, bool]] = []
        orders_touched: set[str] = set()
        couriers_touched: set[str] = set()
        for event in result.events:
            if event.type == "handed_over":  # gone from this shard: to the courier and to the planners
                move = {"courier": event.entity, "from": K.region_tag(event.data["from"]), "to": K.region_tag(event.data["to"]),  # type: ignore[arg-type]
                        "reason": event.data["reason"], "at": epoch_ms(event.time)}
                frames.append(("courier", event.entity, K.frame_body("handed_over", move), True))
                frames.append(("ops", "all", K.frame_body("handover", move), True))
                continue
            if event.type == "verdict":  # to the reporter, on shift here or not (a refusal may say it is not)
                if event.entity.startswith(K.OPS_ENTITY):  # a dispatcher's action: its outcome to every console
                    action = {**event.data, "by": event.entity.removeprefix(K.OPS_ENTITY), "region": K.region_tag(self.region),
                              "at": epoch_ms(event.time)}
                    frames.append(("ops", "all", K.frame_body("action", action), True))
                elif event.entity not in shard.stores:
                    frames.append(("courier", event.entity, K.frame_body(*_courier_frame(event)), True))
                continue
            if event.entity in shard.orders:
                orders_touched.add(event.entity)
                frames.append(("order", event.entity, K.frame_body("status", _event_data(event)), True))
            elif event.entity in shard._couriers:
                couriers_touched.add(event.entity)
                frames.append(("courier", event.entity, K.frame_body(*_courier_frame(event)), True))
        reporters = {r.entity for r in batch.reports if r.ref is None}  # a report with a ref hears its verdict instead
        for reason in result.rejected:
            who = reason.split(":", 1)[0]
            if who in reporters and who in shard._couriers:
                frames.append(("courier", who, K.frame_body("error", {"code": "rejected", "detail": reason}), True))
        pipe = self.r.pipeline(transaction=False)
        for item in outgoing:  # before the frames: a replayed step sends them again (the receiver takes one)
            self._send(pipe, item)
            self._sent.append((result.step, item))
        load = {"waiting": result.waiting, "idle": result.idle_couriers, "step": result.step, "open": result.open_orders}
        pipe.set(K.load_key(self.region), json.dumps(load), ex=LOAD_TTL_S)
        etas, at_store = shard.route_times(result.now)
        for order_id in orders_touched:
            pipe.hset(K.order_key(order_id), mapping=self._order_fields(shard.orders[order_id], etas, at_store))
        for courier_id in couriers_touched:
            pipe.hset(K.courier_key(courier_id), mapping=self._courier_fields(courier_id))
        for event in result.events:
            if event.type == "delivered" and event.entity in shard.orders:
                pipe.xadd(K.DELIVERED, {"order": event.entity, "at": repr(event.time)}, maxlen=100_000, approximate=True)
        pipe.execute()
        self.fsync.wait(self.r)  # the step's inputs, decisions and hashes are on disk before any phone hears of them
        keys, argv = K.emit_args(frames, K.emitted_key(self.region), result.step)
        self.emit(keys=keys, args=argv)
        self.published = result.step
        self._publish_etas(etas, result.now, at_store)
        self._publish_zones(etas, result.now)

    def _send(self, pipe: Any, item: Outgoing) -> None:
        if isinstance(item, Forward):
            r = item.report
            payload = {"kind": r.kind, "entity": r.entity, "time": r.time, "data": r.data, "ref": r.ref, "forwarded_by": K.region_tag(self.region)}
            pipe.xadd(K.inputs_key(item.target), {"k": "report", "j": json.dumps(payload)})
        else:  # the stream entry first: a report routed by the courier hash's new region lands after it
            pipe.xadd(K.inputs_key(item.target), {"k": "handover", "p": pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)})
            pipe.hset(K.courier_key(item.courier.id), "region", K.region_tag(item.target))

    def _publish_etas(self, etas: dict[str, float], now: float, at_store: dict[str, float] | None = None) -> None:
        """ETA frames go out when an ETA moves by half a minute or more (not replayed: they follow the wall clock);
        the courier's time at the store (``courier_at_store``, for the store's console) is kept in the order hash alike."""
        frames = []
        pipe = self.r.pipeline(transaction=False)
        at_store = at_store or {}
        for order_id, minute in at_store.items():
            last = self._store_eta_sent.get(order_id)
            if last is None or abs(minute - last) >= _ETA_STEP:
                self._store_eta_sent[order_id] = minute
                pipe.hset(K.order_key(order_id), "courier_at_store", epoch_ms(minute) or "")
        for order_id in [o for o in self._store_eta_sent if o not in at_store]:  # picked up, or back in the pool: the
            del self._store_eta_sent[order_id]  # step that did it cleared the field (``_order_fields``)
        for order_id, eta in etas.items():
            last = self._eta_sent.get(order_id)
            if last is None or abs(eta - last) >= _ETA_STEP:
                self._eta_sent[order_id] = eta
                pipe.hset(K.order_key(order_id), "eta", epoch_ms(eta) or "")
                frames.append(("order", order_id, K.frame_body("eta", {"eta": epoch_ms(eta), "minutes": round(max(0.0, eta - now), 1)}), False))
        for order_id in [o for o in self._eta_sent if o not in etas]:
            del self._eta_sent[order_id]
        pipe.execute()
        if frames:
            keys, argv = K.emit_args(frames)
            self.emit(keys=keys, args=argv)

    def _publish_zones(self, etas: dict[str, float], now: float) -> None:
        zones = self.shard.zone_stats(now, etas=etas)
        couriers = {
            c.id: {"lat": c.position.lat, "lng": c.position.lng, "status": str(c.status)}  # type: ignore[union-attr]
            for c in self.shard.couriers_on_shift()
        }
        body = {"region": K.region_tag(self.region), "zones": zones, "couriers": couriers}
        self.r.set(K.zones_key(self.region), json.dumps(body))
        keys, argv = K.emit_args([("ops", "all", K.frame_body("zones", body), False)])
        self.emit(keys=keys, args=argv)

    def _caught_up(self, emitted: int) -> int:
        """Redis came back without its last writes (a crash under ``appendfsync everysec``) while this host
        lived on: its shard is ahead of what Redis holds. Redis is brought back to the shard, which is
        what the phones were told: the guard to the last published step, every order and courier hash
        rewritten, a fresh snapshot (so a later restart does not replay from before the loss)."""
        log.warning("live region %x: Redis forgot steps %d-%d; writing the shard back", self.region, emitted + 1, self.published)
        self.resyncs += 1
        shard = self.shard
        etas, at_store = shard.route_times(shard.now)
        pipe = self.r.pipeline(transaction=False)
        for order_id, order in shard.orders.items():
            pipe.hset(K.order_key(order_id), mapping=self._order_fields(order, etas, at_store))
        for courier_id in shard._couriers:
            pipe.hset(K.courier_key(courier_id), mapping=self._courier_fields(courier_id))
        for step, item in self._sent:  # what went to other regions in the forgotten steps, again (taken once)
            if step > emitted:
                self._send(pipe, item)
        pipe.set(K.emitted_key(self.region), self.published)
        pipe.execute()
        self.save()
        self.fsync.wait(self.r)
        return self.published

    def _order_fields(self, order: Order, etas: dict[str, float], at_store: dict[str, float]) -> dict[str, Any]:
        return {
            "status": str(order.status), "courier": order.courier_id or "",
            "picked_up_at": epoch_ms(order.picked_up_at) or "", "delivered_at": epoch_ms(order.delivered_at) or "",
            "eta": epoch_ms(etas.get(order.id)) or "", "courier_at_store": epoch_ms(at_store.get(order.id)) or "",
        }

    def _courier_fields(self, courier_id: str) -> dict[str, Any]:
        shard = self.shard
        return {
            "status": str(shard._couriers[courier_id].status), "orders": json.dumps(shard.courier_orders(courier_id)),
            "offered": json.dumps(shard.offered_orders(courier_id)), "region": K.region_tag(self.region),
        }

    # -- persistence -------------------------------------------------------------------------
    def save(self) -> None:
        """Snapshot the shard with its cursor; the stream before the cursor is no longer needed."""
        blob = pickle.dumps({"version": _SNAPSHOT_VERSION, "region": self.region, "shard": self.shard, "cursor": self.cursor},
                            protocol=pickle.HIGHEST_PROTOCOL)
        self.r.hset(K.snapshot_key(self.region), mapping={"blob": blob, "step": self.shard.step_no, "cursor": self.cursor})
        self.r.xtrim(self.inputs, minid=self.cursor)


def _event_data(event: Event) -> dict[str, Any]:
    return {"status": event.type, "at": epoch_ms(event.time), "actor": event.actor, **{k: v for k, v in event.data.items() if k != "stops"}}


def _courier_frame(event: Event) -> tuple[str, dict[str, Any]]:
    data = {"at": epoch_ms(event.time), **event.data}
    if "stops" in data:  # new dicts: the event (in the shard's history) keeps its minutes
        data["stops"] = [{**stop, **{k: epoch_ms(stop[k]) for k in ("arrive", "at", "depart")}} for stop in data["stops"]]
    if event.type == "offered":
        data["expires"] = epoch_ms(event.data["expires"])
        return "offer", data
    if event.type in ("offer_withdrawn", "offer_accepted", "route_changed", "shift_ending", "verdict", "reposition"):
        return event.type, data
    return "status", {"status": event.type, **data}


class LiveRegionDispatcher:
    """The Ray actor: a ``LiveHost`` ticking on its own thread every ``cycle_s`` seconds."""

    def __init__(self, region: int, spec: LiveSpec, redis_url: str, cycle_s: float = 2.0, snapshot_every: int = 30) -> None:
        import redis

        self.cycle_s = cycle_s
        self.lock = threading.Lock()
        self.host = LiveHost(region, spec, redis.Redis.from_url(redis_url), snapshot_every)
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"live-{region:x}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                with self.lock:
                    self.host.tick()
            except Exception:  # noqa: BLE001 - a failed tick is retried next cycle; the stream keeps the inputs
                self.errors += 1
                log.exception("live region %x: tick failed", self.host.region)
            self._stop.wait(max(0.0, self.cycle_s - (time.monotonic() - started)))

    def status(self) -> dict[str, Any]:
        with self.lock:
            shard = self.host.shard
            return {
                "region": K.region_tag(self.host.region), "step": shard.step_no, "pid": os.getpid(),
                "restored": self.host.restored, "replayed_steps": self.host.replayed, "errors": self.errors,
                "orders": len(shard.orders), "delivered": shard.delivered, "couriers": len(shard.couriers_on_shift()),
                "lent": self.host.lent,
            }

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
