"""A live region's Ray actor killed mid-run: Ray restarts it, it restores its snapshot, replays its
stream, and every order placed before, during and after the crash is dispatched, none twice.

Orders and shifts go in as the API writes them (an order hash plus the region's input stream
entry, ``api.orders.create_order``; a ``shift_on`` report, ``POST /couriers/me/shift``), so no
web server is needed.
"""
from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import redis

from actors import live_keys as K
from actors.live_host import LiveSpec, minutes_now
from actors.live_runtime import LiveRuntime
from actors.runtime import unique_namespace
from api.serve import prepare
from api.settings import Settings
from dispatch.modes import asap_window

pytestmark = pytest.mark.ray

ORDERS_BEFORE, ORDERS_AFTER = 10, 10


def place(r: redis.Redis, number: int, store: dict[str, Any]) -> str:
    """An order as ``api.orders.create_order`` writes it: the hash and the stream entry in one MULTI/EXEC."""
    now = minutes_now()
    window = asap_window(now, 35.0, 90.0)
    order_id = f"o{number}"
    lat, lng = store["lat"] + 0.002 * (1 + number % 4), store["lng"] - 0.002 * (1 + number % 3)
    payload = {"id": order_id, "store": store["id"], "lat": lat, "lng": lng, "placed_at": now, "ready_at": now + 10.0,
               "earliest": window.earliest, "promise": window.promise, "latest": window.latest, "mode": "asap", "size": 1}
    record = {"id": order_id, "status": "placed", "store": store["id"], "customer": "alice", "mode": "asap", "lat": lat, "lng": lng,
              "placed_at": now, "earliest": window.earliest, "promise": window.promise, "latest": window.latest, "courier": "",
              "eta": "", "picked_up_at": "", "delivered_at": "", "region": store["region"], "pin": f"{secrets.randbelow(10_000):04d}",
              "fee_cents": 500, "slot": "", "note": ""}
    pipe = r.pipeline(transaction=True)
    pipe.hset(K.order_key(order_id), mapping=record)
    pipe.xadd(K.inputs_key(int(store["region"], 16)), {"k": "order", "j": json.dumps(payload)})
    pipe.execute()
    return order_id


def shift_on(r: redis.Redis, courier: str, store: dict[str, Any]) -> None:
    data = {"lat": store["lat"], "lng": store["lng"], "hours": 8, "capacity": 4}
    r.hset(K.courier_key(courier), mapping={"region": store["region"], "lat": store["lat"], "lng": store["lng"], "status": "starting"})
    report = {"kind": "shift_on", "entity": courier, "time": minutes_now(), "data": data}
    r.xadd(K.inputs_key(int(store["region"], 16)), {"k": "report", "j": json.dumps(report)})


def wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_a_killed_region_actor_comes_back_and_loses_nothing(ray_session: None, redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    _, _, regions = prepare(Settings(redis_url=redis_url, demo_accounts=False))
    stores = [json.loads(v) for v in r.hgetall(K.STORES).values()]
    tag = Counter(s["region"] for s in stores).most_common(1)[0][0]
    region = int(tag, 16)
    ours = sorted((s for s in stores if s["region"] == tag), key=lambda s: s["id"])
    runtime = LiveRuntime(redis_url, LiveSpec(), cycle_s=0.2, snapshot_every=5, namespace=unique_namespace("test-live-recovery"))
    try:
        runtime.start(regions)
        before = runtime.statuses()[tag]
        assert not before["restored"] and before["errors"] == 0
        for n, courier in enumerate(("courier-1", "courier-2")):
            shift_on(r, courier, ours[n])
        placed = []
        for n in range(1, ORDERS_BEFORE + 1):
            placed.append(place(r, n, ours[n % len(ours)]))
            time.sleep(0.15)
        wait(lambda: runtime.statuses()[tag]["step"] >= 12, 10, "a dozen steps (two snapshots) before the crash")
        wait(lambda: r.hget(K.order_key(placed[0]), "status") != b"placed", 5, "the first order dispatched")

        # kill it between two snapshots (steps 5k+2..5k+3), so that the new actor has published steps to replay
        killed_at = wait(lambda: (s := runtime.statuses()[tag]) and s["step"] % 5 == 2 and s, 10, "a step between snapshots")
        runtime.kill(region)  # Ray restarts it (max_restarts=-1)
        for n in range(ORDERS_BEFORE + 1, ORDERS_BEFORE + ORDERS_AFTER + 1):
            placed.append(place(r, n, ours[n % len(ours)]))
            time.sleep(0.15)

        after = wait(lambda: (s := runtime.statuses()[tag]) and s["orders"] == len(placed) and s, 30, "the restarted shard to hold every order")
        assert after["restored"] and after["pid"] != before["pid"]
        assert after["step"] > killed_at["step"]
        assert 1 <= after["replayed_steps"] <= 4  # what it had published since its last snapshot, recorded decisions and all
        assert after["errors"] == 0 and after["couriers"] == 2
        other = [t for t in runtime.statuses() if t != tag]
        assert all(not runtime.statuses()[t]["restored"] for t in other)  # only the killed one came back

        def statuses() -> dict[str, str]:
            return {o: (r.hget(K.order_key(o), "status") or b"").decode() for o in placed}

        final = wait(lambda: (s := statuses()) and all(v not in ("placed", "") for v in s.values()) and s, 10, "every order past placed")
        assert set(final.values()) <= {"paid", "accepted", "preparing", "ready", "assigned"}, final
        assert "assigned" in final.values()  # the two couriers got offers

        # no frame went out twice, before or after the crash
        frames_seen = 0
        for key in r.scan_iter("frames:*"):
            frames = [json.loads(f[b"f"]) for _, f in r.xrange(key)]
            seqs = [f["seq"] for f in frames]
            assert seqs == sorted(set(seqs)), f"{key!r}: {seqs}"
            said = [(f["type"], json.dumps(f["data"], sort_keys=True)) for f in frames]
            twice = [s for s, n in Counter(said).items() if n > 1]
            assert not twice, f"{key!r} repeats {twice}"
            frames_seen += len(frames)
        for order_id in placed:
            _, stream, _ = K.stream("order", order_id)
            kinds = [json.loads(f[b"f"])["data"]["status"] for _, f in r.xrange(stream)]
            assert kinds[:4] == ["placed", "paid", "accepted", "preparing"], (order_id, kinds)
            assert kinds.count("placed") == 1
        assert frames_seen >= 4 * len(placed)
    finally:
        runtime.close()
        r.close()
