"""Two ``LiveHost``s of neighbouring regions on one Redis: a loan across the border, and the lender
crashing after it sent its handover but before it published the step.

The demo city's crowded region has every courier; its neighbour (stores g2, s13) has none. Ticks
are at explicit times, as in ``test_live_host``.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from actors import live_keys as K
from actors.live_host import LiveHost, LiveSpec
from api.serve import prepare
from api.settings import Settings
from dispatch.modes import asap_window

T0 = 3_000_000.0
SPEC = LiveSpec(offer_timeout=2.0)


class Crash(Exception):
    """Stands for the process dying at that point."""


@pytest.fixture
def city(redis_url: str) -> Iterator[tuple[redis.Redis, int, int, list[dict[str, Any]]]]:
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    prepare(Settings(redis_url=redis_url, demo_accounts=False))
    stores = [json.loads(v) for v in r.hgetall(K.STORES).values()]
    (crowded, _), (lonely, _) = Counter(s["region"] for s in stores).most_common()
    try:
        yield r, int(crowded, 16), int(lonely, 16), stores
    finally:
        r.close()


def put(r: redis.Redis, region: int, kind: str, body: dict[str, Any]) -> None:
    r.xadd(K.inputs_key(region), {"k": kind, "j": json.dumps(body)})


def setup(r: redis.Redis, a: int, b: int, stores: list[dict[str, Any]]) -> None:
    home = next(s for s in sorted(stores, key=lambda s: s["id"]) if s["region"] == K.region_tag(a))
    target = next(s for s in sorted(stores, key=lambda s: s["id"]) if s["region"] == K.region_tag(b))
    put(r, a, "report", {"kind": "shift_on", "entity": "c1", "time": T0, "data": {"lat": home["lat"], "lng": home["lng"]}, "ref": "on-1"})
    w = asap_window(T0)
    put(r, b, "order", {"id": "o1", "store": target["id"], "lat": target["lat"] + 0.004, "lng": target["lng"], "placed_at": T0,
                        "ready_at": T0 + 10, "earliest": w.earliest, "promise": w.promise, "latest": w.latest})


def handovers(r: redis.Redis, region: int) -> list[bytes]:
    return [e[b"p"] for _, e in r.xrange(K.inputs_key(region)) if e[b"k"] == b"handover"]


def test_a_loan_crosses_the_border_and_the_courier_gets_the_borrowers_order(city) -> None:
    r, a, b, stores = city
    setup(r, a, b, stores)
    lender, borrower = LiveHost(a, SPEC, r), LiveHost(b, SPEC, r)
    lender.tick(T0 + 0.1)
    [step] = borrower.tick(T0 + 0.1)
    assert step.waiting == 1 and json.loads(r.get(K.load_key(b)))["waiting"] == 1
    lender.tick(T0 + 0.2)  # lends c1: the lend is an input of its own stream, the handover one of b's
    assert "c1" not in lender.shard._couriers and lender.lent == 1 and len(handovers(r, b)) == 1
    assert r.hget(K.courier_key("c1"), "region").decode() == K.region_tag(b)
    borrower.tick(T0 + 0.3)
    assert borrower.shard.offers["c1"].order_ids == ("o1",)
    assert json.loads(r.hget(K.courier_key("c1"), "offered")) == ["o1"]
    lender.tick(T0 + 0.4)
    assert lender.lent == 1  # b has nothing waiting now: no second loan


def test_a_lender_that_crashed_after_its_handover_sends_it_again_and_the_borrower_takes_it_once(city, monkeypatch) -> None:
    r, a, b, stores = city
    setup(r, a, b, stores)
    lender, borrower = LiveHost(a, SPEC, r), LiveHost(b, SPEC, r)
    lender.tick(T0 + 0.1)
    borrower.tick(T0 + 0.1)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise Crash("after the handover went out, before the step's frames")

    monkeypatch.setattr(lender, "emit", crash)
    with pytest.raises(Crash):
        lender.tick(T0 + 0.2)
    assert len(handovers(r, b)) == 1
    rebuilt = LiveHost(a, SPEC, r)  # no snapshot yet: the whole stream again, lend entry included
    rebuilt.tick(T0 + 0.3)
    assert "c1" not in rebuilt.shard._couriers and rebuilt.shard.moved_to == {"c1": b}
    assert len(handovers(r, b)) == 2  # the step was never published, so it went out again
    borrower.tick(T0 + 0.4)
    assert list(borrower.shard._couriers) == ["c1"] and borrower.shard.offers["c1"].order_ids == ("o1",)
    offers = [f for _, f in r.xrange(K.stream("courier", "c1")[1]) if json.loads(f[b"f"])["type"] == "offer"]
    assert len(offers) == 1
    moved = [json.loads(f[b"f"]) for _, f in r.xrange(K.stream("courier", "c1")[1])]
    assert [m["data"]["to"] for m in moved if m["type"] == "handed_over"] == [K.region_tag(b)]  # told once


def test_a_report_sent_to_the_lender_after_the_loan_is_judged_by_the_borrower(city) -> None:
    r, a, b, stores = city
    setup(r, a, b, stores)
    lender, borrower = LiveHost(a, SPEC, r), LiveHost(b, SPEC, r)
    lender.tick(T0 + 0.1)
    borrower.tick(T0 + 0.1)
    lender.tick(T0 + 0.2)
    borrower.tick(T0 + 0.3)
    offer = borrower.shard.offers["c1"]
    # the app read the courier's region before the loan: its answer went to the lender's stream
    put(r, a, "report", {"kind": "accept", "entity": "c1", "time": T0 + 0.35, "data": {"offer": offer.id}, "ref": "acc-1"})
    lender.tick(T0 + 0.4)
    borrower.tick(T0 + 0.5)
    assert "c1" not in borrower.shard.offers and borrower.shard.orders["o1"].courier_id == "c1"
    verdicts = [{k: v for k, v in json.loads(f[b"f"])["data"].items() if k != "at"} for _, f in r.xrange(K.stream("courier", "c1")[1]) if json.loads(f[b"f"])["type"] == "verdict"]
    assert {"ref": "acc-1", "kind": "accept", "ok": True} in verdicts


def test_a_reposition_goes_to_the_courier_and_following_it_across_the_border_hands_it_over(city) -> None:
    """Live repositioning through the same handover: demand is forecast only at the lonely region's stores."""
    from dispatch.forecast import DemandForecast
    from dispatch.geo import Location

    r, a, b, stores = city
    lonely = [Location(s["lat"], s["lng"]) for s in stores if s["region"] == K.region_tag(b)]
    forecast = DemandForecast(7, 0.0, 0.0, "store").fit([(minute, where) for minute in range(0, 1440, 2) for where in lonely], days=1)
    spec = LiveSpec(policy="greedy", offer_timeout=2.0, policy_params=(
        ("reposition", {"forecast": forecast.to_dict(), "min_idle_minutes": 0.0, "every": 1.0, "max_km": 20.0, "min_gain": 0.0, "catchment": 0}),))
    home = next(s for s in sorted(stores, key=lambda s: s["id"]) if s["region"] == K.region_tag(a))
    put(r, a, "report", {"kind": "shift_on", "entity": "c1", "time": T0, "data": {"lat": home["lat"], "lng": home["lng"]}, "ref": "on-1"})
    lender, borrower = LiveHost(a, spec, r), LiveHost(b, spec, r)
    lender.tick(T0 + 0.1)
    lender.tick(T0 + 1.2)
    frames = [json.loads(f[b"f"]) for _, f in r.xrange(K.stream("courier", "c1")[1])]
    [move] = [f["data"] for f in frames if f["type"] == "reposition"]
    target = Location(move["lat"], move["lng"])
    assert any(abs(target.lat - s.lat) < 0.05 and abs(target.lng - s.lng) < 0.05 for s in lonely)
    assert "c1" in lender.shard._couriers  # a suggestion: the courier is still the lender's, and free
    put(r, a, "report", {"kind": "position", "entity": "c1", "time": T0 + 1.5, "data": {"lat": move["lat"], "lng": move["lng"]}})
    lender.tick(T0 + 1.6)
    assert "c1" not in lender.shard._couriers
    borrower.tick(T0 + 1.7)
    assert "c1" in borrower.shard._couriers
    ops = [json.loads(f[b"f"])["data"] for _, f in r.xrange(K.stream("ops", "all")[1]) if json.loads(f[b"f"])["type"] == "handover"]
    assert [(o["courier"], o["reason"], o["to"]) for o in ops] == [("c1", "reposition", K.region_tag(b))]
