"""``LiveHost`` without Ray: a region driven from its Redis input stream, crashed and rebuilt.

Inputs go into the stream as the API writes them (``api.orders.create_order``, ``api.ws`` reports,
``POST /couriers/me/shift``) and the host ticks at explicit, increasing times, so two runs of the
same script are the same run. A reference run records the script; each crash run plays it again
on a flushed Redis and "crashes" (drops the host, sometimes halfway through a tick) at one point,
then builds a new ``LiveHost`` on the same Redis and carries on. The rebuilt shard must be the
reference shard, and no frame may go out twice.
"""
from __future__ import annotations

import copy
import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis

from actors import live_keys as K
from actors.live_host import LiveHost, LiveSpec
from api.serve import prepare
from api.settings import Settings
from dispatch.greedy import GreedyPolicy
from dispatch.live import LiveRegionShard
from dispatch.modes import asap_window

T0 = 3_000_000.0  # live minutes (since 2020-01-01: September 2025), fixed, so every run is the same run
DT = 0.05  # minutes between ticks (3 s)
EVERY = 5  # snapshot every 5 steps
TICKS = 40
SPEC = LiveSpec(offer_timeout=0.5, decline_cooldown=0.3)
ORDER_TICKS = {1: 2, 2: 1, 4: 1, 6: 2, 11: 2, 12: 1, 16: 1, 21: 2, 26: 1, 31: 1}  # tick -> orders placed
CANCEL_AT = {7: "o6"}  # tick -> order cancelled by its customer
SILENT = "courier-3"  # never answers an offer: its offers expire
DECLINER = "courier-4"  # declines every offer


class Crash(Exception):
    """Stands for the process dying at that point."""


@dataclass
class World:
    r: redis.Redis
    region: int
    stores: list[dict[str, Any]]
    frames: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # every frame published: (channel, frame)
    pubsub: Any = None

    def host(self, every: int = EVERY) -> LiveHost:
        return LiveHost(self.region, SPEC, self.r, every)

    def add(self, entries: list[dict[str, str]]) -> None:
        for e in entries:
            self.r.xadd(K.inputs_key(self.region), e)

    def drain(self) -> None:
        while True:
            msg = self.pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
            if msg is None:
                return
            if msg["type"] == "pmessage":
                self.frames.append((msg["channel"].decode(), json.loads(msg["data"])))


@pytest.fixture
def world(redis_url: str) -> Iterator[World]:
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    _, _, regions = prepare(Settings(redis_url=redis_url, demo_accounts=False))
    stores = [json.loads(v) for v in r.hgetall(K.STORES).values()]
    per_region = Counter(s["region"] for s in stores)
    tag, _ = per_region.most_common(1)[0]
    region = int(tag, 16)
    assert region in regions
    ours = sorted((s for s in stores if s["region"] == tag), key=lambda s: s["id"])
    w = World(r, region, ours)
    w.pubsub = r.pubsub()
    w.pubsub.psubscribe("track:*", "courier:*")
    for _ in range(2):  # both subscriptions confirmed before anything is published
        assert w.pubsub.get_message(timeout=5)["type"] == "psubscribe"
    try:
        yield w
    finally:
        w.pubsub.close()
        r.close()


# -- what the API writes -----------------------------------------------------------------------
def order_entry(order_id: str, store: dict[str, Any], now: float, k: int) -> dict[str, str]:
    window = asap_window(now, 35.0, 90.0)
    payload = {
        "id": order_id, "store": store["id"], "lat": store["lat"] + 0.004 * (1 + k % 3), "lng": store["lng"] - 0.003 * (1 + k % 2),
        "placed_at": now, "ready_at": now + 10.0, "earliest": window.earliest, "promise": window.promise,
        "latest": window.latest, "mode": "asap", "size": 1,
    }
    return {"k": "order", "j": json.dumps(payload)}


def report_entry(kind: str, entity: str, now: float, data: dict[str, Any]) -> dict[str, str]:
    return {"k": "report", "j": json.dumps({"kind": kind, "entity": entity, "time": now, "data": data})}


def cancel_entry(order_id: str) -> dict[str, str]:
    return {"k": "cancel", "j": json.dumps({"order": order_id, "by": "alice"})}


def at(i: int) -> float:
    return T0 + i * DT


def driver(w: World, shard: LiveRegionShard, i: int) -> list[dict[str, str]]:
    """What couriers, stores and customers say before tick ``i``, given what the shard said so far."""
    now = at(i) - DT / 2
    out: list[dict[str, str]] = []
    if i == 0:
        for n in range(1, 5):
            store = w.stores[n % len(w.stores)]
            out.append(report_entry("shift_on", f"courier-{n}", now, {"lat": store["lat"], "lng": store["lng"], "hours": 8, "capacity": 4}))
        return out
    placed = sum(v for t, v in ORDER_TICKS.items() if t < i)
    for k in range(ORDER_TICKS.get(i, 0)):
        n = placed + k + 1
        out.append(order_entry(f"o{n}", w.stores[n % len(w.stores)], now, n))
    if i in CANCEL_AT:
        out.append(cancel_entry(CANCEL_AT[i]))
    for cid, courier in sorted(shard._couriers.items()):
        offer = shard.offers.get(cid)
        if offer is not None:
            if cid == DECLINER:
                out.append(report_entry("decline", cid, now, {"offer": offer.id}))
            elif cid != SILENT:
                out.append(report_entry("accept", cid, now, {"offer": offer.id}))
        elif courier.onboard:
            out.append(report_entry("dropoff", cid, now, {"order": courier.onboard[0]}))
        elif courier.route and courier.route[0].kind == "pickup":
            out.append(report_entry("pickup", cid, now, {"orders": list(courier.route[0].order_ids)}))
        if i % 3 == 0:
            pos = courier.position or courier.location
            out.append(report_entry("position", cid, now, {"lat": pos.lat + 0.0001 * i, "lng": pos.lng}))
    return out


# -- comparing runs ----------------------------------------------------------------------------
def shard_state(shard: LiveRegionShard) -> dict[str, Any]:
    return {
        "step": shard.step_no, "now": shard.now, "delivered": shard.delivered, "closed": shard.closed,
        "orders": {o.id: (str(o.status), o.courier_id, o.history) for o in shard.orders.values()},
        "order_objects": shard.orders,
        "couriers": {c.id: (str(c.status), list(c.route), list(c.onboard), c.history, c.position, c.free_at) for c in shard._couriers.values()},
        "offers": dict(shard.offers), "resting": dict(shard.resting), "open": sorted(shard._open),
        "assignments": list(shard.assignments), "offer_no": shard._offer_no, "heap": sorted(shard._heap),
    }


def durable_frames(r: redis.Redis) -> dict[str, list[dict[str, Any]]]:
    """Every frames stream: its frames in order."""
    out = {}
    for key in sorted(r.scan_iter("frames:*")):
        out[key.decode()] = [json.loads(f[b"f"]) for _, f in r.xrange(key)]
    return out


def without_clock(frames: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """A stream's frames without ``seq`` and ``ts`` (the wall clock): what they say, in order."""
    return [(f["type"], json.dumps(f["data"], sort_keys=True)) for f in frames]


def order_hashes(r: redis.Redis) -> dict[str, dict[str, str]]:
    out = {}
    for key in r.scan_iter("order:*"):
        h = {k.decode(): v.decode() for k, v in r.hgetall(key).items()}
        h.pop("eta", None)  # follows the wall clock
        out[key.decode()] = h
    return out


def check_frames(w: World) -> None:
    """Per stream: seqs strictly increase, durable ones are the stream ids; per channel: consecutive from 1, no repeat."""
    for key, frames in durable_frames(w.r).items():
        seqs = [f["seq"] for f in frames]
        assert seqs == sorted(set(seqs)), f"{key}: seqs {seqs}"
        said = without_clock(frames)
        assert len(said) == len(set(said)), f"{key}: a frame went out twice: {[s for s, n in Counter(said).items() if n > 1]}"
        ids = [int(i.decode().split("-")[0]) for i, _ in w.r.xrange(key)]
        assert ids == seqs
    w.drain()
    by_channel: dict[str, list[dict[str, Any]]] = {}
    for channel, frame in w.frames:
        by_channel.setdefault(channel, []).append(frame)
    assert by_channel, "nothing was published"
    for channel, frames in by_channel.items():
        seqs = [f["seq"] for f in frames]
        assert seqs == list(range(1, len(seqs) + 1)), f"{channel}: seqs {seqs}"
        durable = [(f["type"], json.dumps(f["data"], sort_keys=True)) for f in frames if f["type"] not in ("eta", "position")]
        assert len(durable) == len(set(durable)), f"{channel}: published twice: {[s for s, n in Counter(durable).items() if n > 1]}"


@dataclass
class Reference:
    script: list[list[dict[str, str]]]
    state: dict[str, Any]
    frames: dict[str, list[tuple[str, str]]]
    hashes: dict[str, dict[str, str]]
    decided_steps: list[int]
    snapshot_xlen: list[tuple[int, int, int]]  # (step, xlen before the tick, xlen after)


def run_reference(w: World) -> Reference:
    host = w.host()
    script, decided, xlens = [], [], []
    for i in range(TICKS):
        entries = driver(w, host.shard, i)
        script.append(entries)
        w.add(entries)
        before = w.r.xlen(host.inputs)
        (result,) = host.tick(at(i))
        assert result.step == i + 1
        if any(e.type == "offered" for e in result.events):
            decided.append(result.step)
        if result.step % EVERY == 0:
            xlens.append((result.step, before, w.r.xlen(host.inputs)))
    check_frames(w)
    return Reference(script, shard_state(host.shard), {k: without_clock(v) for k, v in durable_frames(w.r).items()},
                     order_hashes(w.r), decided, xlens)


@pytest.fixture
def reference(world: World) -> Reference:
    ref = run_reference(world)
    # the script exercises what a crash must not lose: offers accepted, declined and expired, pickups, drop-offs, a cancel
    final = ref.state
    statuses = Counter(s for s, _, _ in final["orders"].values())
    assert statuses["delivered"] >= 5 and statuses["cancelled"] == 1, statuses
    courier_events = {e.type for _, _, _, hist, _, _ in final["couriers"].values() for e in hist}
    assert {"offered", "offer_accepted", "offer_withdrawn", "delivering"} <= courier_events
    withdrawn = [e.data["reason"] for _, _, _, hist, _, _ in final["couriers"].values() for e in hist if e.type == "offer_withdrawn"]
    assert "declined" in withdrawn and "no answer in time" in withdrawn
    # start the crash run on a clean Redis: same stores, no streams, no frames
    world.r.flushdb()
    prepare(Settings(redis_url=_url(world.r), demo_accounts=False))
    world.drain()
    world.frames.clear()
    return ref


def _id(entry_id: str) -> tuple[int, int]:
    ms, n = entry_id.split("-")
    return int(ms), int(n)


def _url(r: redis.Redis) -> str:
    kw = r.connection_pool.connection_kwargs
    return f"redis://{kw['host']}:{kw['port']}/{kw.get('db', 0)}"


# -- the reference run on its own --------------------------------------------------------------
def test_the_script_is_deterministic_and_snapshots_trim_the_stream(world: World) -> None:
    ref = run_reference(world)
    assert ref.snapshot_xlen, "no snapshot was taken"
    # trimming is approximate (whole stream nodes of 100 entries): the stream ends shorter than what was written
    written = sum(len(e) for e in ref.script) + TICKS + len(ref.decided_steps)
    assert world.r.xlen(K.inputs_key(world.region)) < written - 100
    snap = world.r.hgetall(K.snapshot_key(world.region))
    assert int(snap[b"step"]) == TICKS // EVERY * EVERY
    first = world.r.xrange(K.inputs_key(world.region), count=1)[0][0].decode()
    assert _id(first) <= _id(snap[b"cursor"].decode())
    # a second run of the same script on a clean Redis is the same run
    world.r.flushdb()
    prepare(Settings(redis_url=_url(world.r), demo_accounts=False))
    host = world.host()
    for i, entries in enumerate(ref.script):
        world.add(entries)
        host.tick(at(i))
    assert shard_state(host.shard) == ref.state
    assert {k: without_clock(v) for k, v in durable_frames(world.r).items()} == ref.frames


def test_decided_entries_record_the_steps_with_assignments(world: World) -> None:
    ref = run_reference(world)
    # the stream keeps what came after the last snapshot (and a little before: trimming is by whole nodes);
    # its decided entries are the steps that made offers, each with the couriers offered
    decided = {int(f[b"step"]): json.loads(f[b"a"]) for _, f in world.r.xrange(K.inputs_key(world.region)) if f[b"k"] == b"decided"}
    assert decided and set(decided) <= set(ref.decided_steps)
    offers = {}
    for courier_id, (_, _, _, history, _, _) in ref.state["couriers"].items():
        for e in history:
            if e.type == "offered":
                offers.setdefault(round((e.time - T0) / DT) + 1, set()).add(courier_id)
    for step, assignments in decided.items():
        assert {courier for courier, _ in assignments} == offers[step]
    assert int(world.r.get(K.emitted_key(world.region))) == TICKS


# -- crashes -----------------------------------------------------------------------------------
def _arm(host: LiveHost, where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the host die inside its next tick at ``where``."""

    def die(*_: Any, **__: Any) -> None:
        raise Crash(where)

    if where == "before_publish":  # stepped, decided recorded, nothing published
        monkeypatch.setattr(host, "_publish", die)
    elif where == "after_emit":  # frames and hashes out, ETAs and zones not
        monkeypatch.setattr(host, "_publish_etas", die)
    elif where == "in_snapshot":  # published, then died saving the snapshot
        monkeypatch.setattr(host, "save", die)
    elif where == "before_step":  # the tick mark is in the stream, nothing else
        monkeypatch.setattr(host, "_step", die)
    else:
        raise AssertionError(where)


# (name, crash at tick index, where in that tick or None for after it, steps replayed with recorded decisions)
CRASHES = [
    ("right after a snapshot", 9, None),  # step 10 saved; nothing to replay
    ("between snapshots", 12, None),  # steps 11..13 published, snapshot at 10
    ("after a step, before publishing", 12, "before_publish"),
    ("after the frames, before the ETAs", 12, "after_emit"),
    ("while saving the snapshot", 14, "in_snapshot"),
    ("after the tick mark, before the step", 12, "before_step"),
    ("before the first snapshot", 2, None),
]


@pytest.mark.parametrize(("name", "crash_at", "where"), CRASHES, ids=[c[0] for c in CRASHES])
def test_a_rebuilt_host_is_the_host_that_crashed(world: World, reference: Reference, monkeypatch: pytest.MonkeyPatch,
                                                 name: str, crash_at: int, where: str | None) -> None:
    host = world.host()
    for i in range(crash_at + 1):
        world.add(reference.script[i])
        if i == crash_at and where is not None:
            with monkeypatch.context() as m:
                _arm(host, where, m)
                with pytest.raises(Crash):
                    host.tick(at(i))
        else:
            host.tick(at(i))
    emitted = int(world.r.get(K.emitted_key(world.region)) or 0)
    snap = world.r.hgetall(K.snapshot_key(world.region))
    snap_step = int(snap[b"step"]) if snap else 0
    replayable = [s for s in reference.decided_steps if snap_step < s <= emitted]
    if name in ("between snapshots", "while saving the snapshot", "after the frames, before the ETAs"):
        assert replayable, f"the script makes no assignment between step {snap_step} and {emitted}: the test proves nothing"

    # the policy must not be asked again for a step whose frames are out: the recorded decisions stand in
    asked: list[int] = []
    rebuilt: list[LiveHost] = []
    real_on_tick = GreedyPolicy.on_tick

    def on_tick(self: GreedyPolicy, now: float, view: Any) -> Any:
        step = rebuilt[0].shard.step_no + 1
        asked.append(step)
        if step <= emitted:
            raise AssertionError(f"policy asked to decide step {step} again, after its frames went out")
        return real_on_tick(self, now, view)

    monkeypatch.setattr(GreedyPolicy, "on_tick", on_tick)
    host = world.host()
    rebuilt.append(host)
    assert host.restored == bool(snap)
    assert host.shard.step_no == snap_step
    before_frames = durable_frames(world.r)
    first = crash_at + 1
    world.add(reference.script[first])
    results = host.tick(at(first))
    assert [r.step for r in results] == list(range(snap_step + 1, first + 2))
    assert host.replayed == max(0, emitted - snap_step)
    assert all(s > emitted for s in asked)
    if where == "before_publish":  # the step that never went out replays what it decided (a phone may have heard it)
        assert crash_at + 1 not in asked and host.replayed == max(0, emitted - snap_step)
    # replayed steps published nothing: every stream only grew by what the new steps said
    after_frames = durable_frames(world.r)
    for key, frames in before_frames.items():
        assert after_frames[key][: len(frames)] == frames
    for i in range(first + 1, TICKS):
        world.add(reference.script[i])
        host.tick(at(i))

    state = shard_state(host.shard)
    for part in ("orders", "couriers", "offers", "resting", "open", "assignments", "offer_no", "step", "now", "delivered", "closed"):
        assert state[part] == reference.state[part], f"{part} differs from the run that did not crash"
    assert state["order_objects"] == reference.state["order_objects"]
    assert state["heap"] == reference.state["heap"]
    assert {k: without_clock(v) for k, v in durable_frames(world.r).items()} == reference.frames
    assert order_hashes(world.r) == reference.hashes
    check_frames(world)


@pytest.mark.parametrize("where", ["before_publish", "after_emit", "before_step"])
def test_a_host_whose_tick_failed_mid_step_goes_on_as_the_host_that_did_not_fail(
        world: World, reference: Reference, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    # Redis went away between applying a step and keeping its cursor while the actor lived on (chaos bench: a Redis
    # crash). Before, the next tick applied the same inputs again to the shard that had applied them: a courier's accept
    # got only a repeated verdict, its offer_accepted was never published and the courier never rode; a drop-off's
    # order stayed picked_up in its hash
    host = world.host()
    for i in range(TICKS):
        world.add(reference.script[i])
        if i == 12:
            with monkeypatch.context() as m:
                _arm(host, where, m)
                with pytest.raises(Crash):
                    host.tick(at(i))
            assert host.stale
        else:
            host.tick(at(i))
    assert host.reloads == 1 and not host.stale
    state = shard_state(host.shard)
    for part in ("orders", "couriers", "offers", "resting", "open", "assignments", "offer_no", "step", "now", "delivered", "closed"):
        assert state[part] == reference.state[part], f"{part} differs from the run that did not fail"
    assert {k: without_clock(v) for k, v in durable_frames(world.r).items()} == reference.frames
    assert order_hashes(world.r) == reference.hashes
    check_frames(world)


def test_two_crashes_in_a_row_replay_the_same_decisions(world: World, reference: Reference) -> None:
    """Rebuilt, crashed again before its next snapshot, rebuilt again: still the same run."""
    host = world.host()
    for i in range(13):
        world.add(reference.script[i])
        host.tick(at(i))
    host = world.host()  # crash 1: restores step 10, replays 11..13 at its first tick
    world.add(reference.script[13])
    host.tick(at(13))
    host = world.host()  # crash 2: still snapshot 10; the stream holds both runs' decided entries
    for i in range(14, TICKS):
        world.add(reference.script[i])
        host.tick(at(i))
    assert shard_state(host.shard) == reference.state
    assert {k: without_clock(v) for k, v in durable_frames(world.r).items()} == reference.frames
    check_frames(world)


# -- bad inputs --------------------------------------------------------------------------------
def test_malformed_inputs_are_skipped_with_a_warning(world: World, caplog: pytest.LogCaptureFixture) -> None:
    host = world.host()
    world.add(driver(world, host.shard, 0))
    host.tick(at(0))
    store = world.stores[0]
    bad: list[dict[str, str]] = [
        {"k": "order", "j": "{not json"},
        {"k": "order", "j": json.dumps({"id": "ox"})},  # fields missing
        {"k": "order", "j": json.dumps([1, 2])},
        {"k": "report", "j": json.dumps({"kind": "position", "entity": "courier-1", "time": "soon"})},
        {"k": "report"},  # no payload at all
        {"k": "gossip", "j": "{}"},  # a kind nobody writes
        {"j": json.dumps({"id": "oy"})},  # no kind
        {"k": "report", "j": json.dumps({"kind": "shift_on", "entity": "courier-9", "time": at(1), "data": [1, 2]})},
        {"k": "report", "j": json.dumps({"kind": "accept", "entity": "courier-1", "time": at(1), "data": ["courier-1.1"]})},
    ]
    good = order_entry("o1", store, at(1) - DT / 2, 1)
    world.add([*bad, good, report_entry("shift_on", "courier-8", at(1), {"lat": store["lat"], "lng": store["lng"]})])
    with caplog.at_level(logging.WARNING, logger="actors.live_host"):
        for i in range(1, 4):
            host.tick(at(i))
    assert "o1" in host.shard.orders and "courier-8" in host.shard._couriers
    assert host.shard.step_no == 4
    ignored = [r for r in caplog.records if "ignored" in r.getMessage()]
    assert len(ignored) >= 6, [r.getMessage() for r in caplog.records]
    # and a host rebuilt over the same stream skips them again
    rebuilt = world.host()
    rebuilt.tick(at(4))
    assert shard_state(rebuilt.shard)["orders"] == shard_state(host.shard)["orders"]
    assert rebuilt.shard._couriers == host.shard._couriers


def test_the_stream_is_read_from_the_snapshot_cursor(world: World) -> None:
    """Entries before the snapshot's cursor are applied once: a rebuilt host does not see them again."""
    host = world.host(every=2)
    world.add(driver(world, host.shard, 0))
    host.tick(at(0))
    world.add([order_entry("o1", world.stores[0], at(1) - DT / 2, 1)])
    host.tick(at(1))  # step 2: snapshot, cursor at its tick mark
    rebuilt = world.host(every=2)
    assert rebuilt.restored and rebuilt.cursor == host.cursor
    (result,) = rebuilt.tick(at(2))
    assert result.step == 3 and not result.rejected  # o1 was not received twice
    assert list(rebuilt.shard.orders) == ["o1"]



def test_a_snapshot_trims_the_input_stream(world: World) -> None:
    host = world.host(every=3)
    world.add(driver(world, host.shard, 0))
    host.tick(at(0))  # step 1
    store = world.stores[0]
    world.add([report_entry("position", "courier-1", at(1) - DT / 2, {"lat": store["lat"] + 1e-5 * k, "lng": store["lng"]}) for k in range(250)])
    host.tick(at(1))  # step 2
    before = world.r.xlen(host.inputs)
    assert before > 250
    host.tick(at(2))  # step 3: snapshot, and the stream before its cursor goes (approximately: whole nodes of 100)
    assert world.r.hget(K.snapshot_key(world.region), "step") == b"3"
    assert world.r.xlen(host.inputs) < 100
    rebuilt = world.host(every=3)
    assert rebuilt.restored and rebuilt.cursor == host.cursor
    (result,) = rebuilt.tick(at(3))
    assert result.step == 4 and not result.rejected and rebuilt.replayed == 0


# -- Redis forgets its last writes while the host lives on ----------------------------------------
def dump_db(r: redis.Redis) -> dict[bytes, bytes]:
    return {key: r.dump(key) for key in r.scan_iter("*")}


def restore_db(r: redis.Redis, dump: dict[bytes, bytes]) -> None:
    """What a Redis restarted on an append-only file that lost everything after ``dump`` holds."""
    r.flushdb()
    for key, blob in dump.items():
        r.restore(key, 0, blob)


def test_a_host_writes_its_shard_back_when_redis_forgets_steps_it_published(world: World) -> None:
    host = world.host(every=1000)  # no snapshot of its own in the window: only the resync writes one
    for i in range(12):
        world.add(driver(world, host.shard, i))
        host.tick(at(i))
    prefix = dump_db(world.r)
    for i in range(12, 16):
        world.add(driver(world, host.shard, i))
        host.tick(at(i))
    published = host.published
    assert published == 16
    restore_db(world.r, prefix)  # Redis came back without the last four steps' writes
    assert int(world.r.get(K.emitted_key(host.region))) == 12
    lived_on = copy.deepcopy(shard_state(host.shard))
    (result,) = host.tick(at(16))
    assert host.resyncs == 1 and result.step == 17
    assert int(world.r.get(K.emitted_key(host.region))) == 17
    for order_id, order in host.shard.orders.items():  # every order as the phones were told, not as Redis forgot it
        h = world.r.hgetall(K.order_key(order_id))
        assert h[b"status"].decode() == str(order.status) and h[b"courier"].decode() == (order.courier_id or ""), order_id
    for courier_id in host.shard._couriers:
        h = world.r.hgetall(K.courier_key(courier_id))
        assert json.loads(h[b"orders"]) == host.shard.courier_orders(courier_id), courier_id
    # and an actor that restarts now rebuilds the shard that lived on, not the one Redis had forgotten
    reborn = world.host(every=1000)
    assert reborn.restored and reborn.shard.step_no == 16  # the resync's snapshot, taken before step 17
    assert shard_state(reborn.shard)["orders"] == lived_on["orders"]
    assert shard_state(reborn.shard)["couriers"] == lived_on["couriers"]


def test_a_report_with_a_ref_gets_a_durable_verdict_frame(world: World) -> None:
    host = world.host()
    world.add(driver(world, host.shard, 0))
    host.tick(at(0))
    entry = {"k": "report", "j": json.dumps({"kind": "pickup", "entity": "courier-1", "time": at(1), "data": {"orders": ["o404"]}, "ref": "app.7"})}
    world.add([entry, entry])  # the app sent it again after a reconnect
    host.tick(at(1))
    frames = [f for f in durable_frames(world.r)["frames:courier:courier-1"] if f["type"] == "verdict"]
    assert [f["data"]["ref"] for f in frames] == ["app.7", "app.7"]
    assert frames[0]["data"]["ok"] is False and "o404" in frames[0]["data"]["detail"] and frames[1]["data"]["repeated"]
    errors = [f for f in durable_frames(world.r)["frames:courier:courier-1"] if f["type"] == "error"]
    assert errors == []  # the verdict says it; no ref-less error frame besides
