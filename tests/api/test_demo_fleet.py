"""The demo fleet (``api.fleet``) against a live service: simulated courier apps over the real socket."""
from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from api.cli import app
from api.fleet import OPEN_STATUSES, Fleet, distance_m
from tests.api.conftest import free_port

FAST = {"speedup": 400.0, "ping_s": 0.2}  # 18 km/h x 400 = 2 km/s: a 2 km leg takes a second


async def until(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate() if asyncio.iscoroutinefunction(predicate) else predicate()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def place(http: httpx.AsyncClient, alice: dict[str, str], store: dict[str, Any], metres: float, bearing_deg: float) -> dict[str, Any]:
    b = math.radians(bearing_deg)
    door = {"lat": store["lat"] + metres * math.cos(b) / 111_000,
            "lng": store["lng"] + metres * math.sin(b) / (111_000 * math.cos(math.radians(store["lat"])))}
    reply = await http.post("/orders", json={"store_id": store["id"], "dropoff": door}, headers=alice)
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


def test_a_fleet_delivers_every_order_over_the_real_socket(live) -> None:
    store = live.stores()[0]
    alice = live.headers("alice")

    async def scenario() -> tuple[Fleet, list[dict[str, Any]]]:
        async with httpx.AsyncClient(base_url=live.base) as http, \
                Fleet(live.base, couriers=3, stores=[store["id"]], seed=7, **FAST) as fleet:
            await fleet.ready(timeout=10)
            assert fleet.counters.on_shift == 3
            # every phone loses signal for a moment: the offers made meanwhile come on resume (``after``)
            await asyncio.gather(*(c.drop_connection(offline_s=1.5) for c in fleet.couriers))
            orders = [await place(http, alice, store, 600 + 300 * i, 90 * i) for i in range(4)]
            # and one loses it again once it has work: it must carry on where it was
            busy = await until(lambda: next((c for c in fleet.couriers if c.route), None), 10, "a courier with a route")
            await busy.drop_connection(offline_s=0.5)

            async def all_delivered() -> list[dict[str, Any]] | None:
                got = [(await http.get(f"/orders/{o['id']}", headers=alice)).json() for o in orders]
                return got if all(g["status"] == "delivered" for g in got) else None

            final = await until(all_delivered, 20, "every order delivered")
            await until(lambda: fleet.counters.delivered == len(orders), 5, "the last drop-off acknowledged")
            return fleet, final

    fleet, final = asyncio.run(scenario())
    c = fleet.counters
    names = {courier.name for courier in fleet.couriers}
    assert all(o["courier"] in names and o["delivered_at"] and o["picked_up_at"] for o in final)
    assert c.delivered == 4 and c.picked_up == 4 and sum(x.delivered for x in fleet.couriers) == 4
    assert c.declined == 0 and c.errors == 0, fleet.recent_errors
    assert c.accepted >= 1 and c.offers == c.accepted + c.withdrawn
    assert c.reconnects >= 4 and sum(x.replayed for x in fleet.couriers) >= 1
    for courier in fleet.couriers:  # resuming with ``after`` lost no stream frame and repeated none
        seqs = list(courier.stream_seqs)
        assert seqs == list(range(1, len(seqs) + 1)), (courier.name, seqs)
    assert c.on_shift == 0  # stop() ended every shift
    # the service saw the shifts end, and has each courier where its pings last put it (a door, for those that delivered)
    for courier in fleet.couriers:
        state = live.wait(lambda n=courier.name: (s := httpx.get(f"{live.base}/couriers/me", headers=live.headers(n)).json())["status"] == "off_shift" and s,
                          timeout=5, what=f"{courier.name} off shift")
        assert distance_m((state["lat"], state["lng"]), courier.position) < 5


def test_declines_put_the_order_back_for_another_courier(live) -> None:
    store = live.stores()[0]
    alice = live.headers("alice")

    async def scenario() -> tuple[Fleet, dict[str, Any]]:
        async with httpx.AsyncClient(base_url=live.base) as http, \
                Fleet(live.base, couriers=2, decline_rate=1.0, stores=[store["id"]], seed=3, **FAST) as fleet:
            await fleet.ready(timeout=10)
            order = await place(http, alice, store, 800, 45)
            # both decline: the second offer can only come after the first courier gave the order back
            await until(lambda: all(c.declined >= 1 for c in fleet.couriers), 15, "both couriers to decline")

            async def back_in_pool() -> dict[str, Any] | None:
                got = (await http.get(f"/orders/{order['id']}", headers=alice)).json()
                return got if got["status"] in OPEN_STATUSES else None

            return fleet, await until(back_in_pool, 5, "the order back in the pool")

    fleet, order = asyncio.run(scenario())
    c = fleet.counters
    assert c.declined >= 2 and c.accepted == 0 and c.picked_up == 0 and c.delivered == 0
    assert c.offers >= 2 and c.errors == 0, fleet.recent_errors
    assert order["courier"] is None and order["status"] not in ("cancelled", "failed")


def test_fleet_cli_says_what_is_wrong_and_exits_2(live) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    exe = Path(sys.executable).with_name("dispatch")
    out = subprocess.run([str(exe), "fleet", "--url", dead, "--duration", "1"], check=False, capture_output=True, text=True, timeout=30)
    text = out.stdout + out.stderr
    assert out.returncode == 2, text
    assert "not reachable" in text and dead in text and "dispatch serve" in text and "Traceback" not in text

    wrong = CliRunner().invoke(app, ["fleet", "--url", live.base, "--password", "nope", "--duration", "1"])
    assert wrong.exit_code == 2, wrong.output
    assert "password" in wrong.output and "Traceback" not in wrong.output

    too_many = CliRunner().invoke(app, ["fleet", "--url", live.base, "--couriers", "25", "--duration", "1"])
    assert too_many.exit_code == 2, too_many.output
    assert "courier-20" in too_many.output and "--couriers 20" in too_many.output

    helped = CliRunner().invoke(app, ["fleet", "--help"])
    assert helped.exit_code == 0 and "--speedup" in helped.output and "dispatch serve" in helped.output


def test_a_resuming_app_takes_over_route_orders_but_not_an_offer_it_has_not_answered() -> None:
    """The hello after a reconnect lists the route's orders and, apart, those of an unanswered offer.
    The app reads and adopts the first (accepted while it was away); the offered one it leaves to
    the offer frame: driving to it would be refused (measured: a pickup and a drop-off rejected
    when a socket dropped just as the offer came)."""
    import random
    from types import SimpleNamespace

    from api.fleet import Counters, SimCourier

    store = {"id": "s1", "lat": 31.23, "lng": 121.47}
    read: list[str] = []

    async def read_order(order_id: str) -> dict[str, Any]:
        read.append(order_id)
        return {"id": order_id, "courier": "courier-1", "status": "assigned", "store_id": "s1", "dropoff": {"lat": 31.24, "lng": 121.48}}

    fleet = SimpleNamespace(counters=Counters(), stores=[store], read_order=read_order)
    courier = SimCourier(fleet, "courier-1", random.Random(0), store)  # type: ignore[arg-type]
    asyncio.run(courier._on_hello({"courier": "courier-1", "status": "to_store", "orders": ["o1", "o2"], "offered": ["o1"]}))
    assert read == ["o2"]
    assert [(s.kind, s.orders) for s in courier.route] == [("pickup", ["o2"]), ("dropoff", ["o2"])]


def test_an_app_sends_a_report_again_until_its_verdict_and_counts_it_once() -> None:
    """The flaky failure of the fleet test (picked_up=3 against delivered=4 after reconnects) was a
    pickup whose ``ack`` was lost with the socket: the app counted on a control frame that is never
    replayed. Now the app keeps each report until its durable ``verdict``, and sends it again (same id)
    on every hello; the dispatcher applies an id once and repeats the verdict of a copy."""
    import random
    from types import SimpleNamespace

    from api.fleet import Counters, SimCourier

    class Socket:
        def __init__(self) -> None:
            self.sent: list[dict[str, Any]] = []

        async def send(self, text: str) -> None:
            self.sent.append(json.loads(text))

    store = {"id": "s1", "lat": 31.23, "lng": 121.47}
    async def read_order(order_id: str) -> None:
        return None  # the adoption of hello's orders is another test's

    fleet = SimpleNamespace(counters=Counters(), stores=[store], note_error=lambda m: None, read_order=read_order)
    courier = SimCourier(fleet, "courier-1", random.Random(0), store)  # type: ignore[arg-type]

    async def run() -> None:
        first = Socket()
        courier.ws = first
        courier.connected.set()
        await courier._send({"type": "pickup", "orders": ["o1"]}, track=["o1"])
        ref = first.sent[0]["id"]
        await courier._on_ack({"ref": ref, "type": "pickup"})
        assert fleet.counters.picked_up == 0 and ref in courier.unjudged  # stored, not yet applied
        second = Socket()  # the socket dropped before the verdict; a new one says hello
        courier.ws = second
        await courier._on_hello({"courier": "courier-1", "status": "delivering", "orders": ["o1"], "offered": []})
        assert second.sent == [{"type": "pickup", "orders": ["o1"], "id": ref}]
        await courier._on_verdict({"ref": ref, "kind": "pickup", "ok": True})
        await courier._on_verdict({"ref": ref, "kind": "pickup", "ok": True, "repeated": True})
        assert fleet.counters.picked_up == 1 and not courier.unjudged and not courier.sent
        third = Socket()
        courier.ws = third
        await courier._on_hello({"courier": "courier-1", "status": "delivering", "orders": ["o1"], "offered": []})
        assert third.sent == []  # judged: nothing to send again

    asyncio.run(run())


def test_an_unavailable_report_is_sent_again_and_a_refused_one_is_an_error() -> None:
    import random
    from types import SimpleNamespace

    from api.fleet import RESEND_S, Counters, SimCourier

    errors: list[str] = []
    store = {"id": "s1", "lat": 31.23, "lng": 121.47}
    fleet = SimpleNamespace(counters=Counters(), stores=[store], note_error=errors.append)
    courier = SimCourier(fleet, "courier-1", random.Random(0), store)  # type: ignore[arg-type]

    class Socket:
        sent: list[dict[str, Any]] = []

        async def send(self, text: str) -> None:
            self.sent.append(json.loads(text))

    async def run() -> None:
        courier.ws = Socket()
        courier.connected.set()
        await courier._send({"type": "dropoff", "order": "o1", "pin": "1234"}, track=["o1"])
        ref = courier.ws.sent[0]["id"]
        await courier._on_error({"code": "unavailable", "detail": "try again shortly", "ref": ref})
        assert ref in courier.unjudged and errors == []
        _, at = courier.unjudged[ref]
        courier.unjudged[ref] = (courier.unjudged[ref][0], at - 1.0)  # a second later
        await courier._resend(RESEND_S)
        assert [f["id"] for f in courier.ws.sent] == [ref, ref]
        await courier._on_verdict({"ref": ref, "kind": "dropoff", "ok": False, "detail": "courier courier-1 does not carry order 'o1'"})
        assert fleet.counters.delivered == 0 and fleet.counters.errors == 1 and "does not carry" in errors[0]

    asyncio.run(run())


def test_an_app_rides_a_suggested_reposition_and_drops_it_for_work() -> None:
    import random
    from types import SimpleNamespace

    from api.fleet import Counters, SimCourier, Stop

    store = {"id": "s1", "lat": 31.23, "lng": 121.47}
    fleet = SimpleNamespace(counters=Counters(), stores=[store])
    courier = SimCourier(fleet, "courier-1", random.Random(0), store)  # type: ignore[arg-type]
    asyncio.run(courier._on_reposition({"cell": "87309a", "lat": 31.25, "lng": 121.49}))
    assert [(s.kind, s.where) for s in courier.route] == [("reposition", (31.25, 121.49))] and fleet.counters.repositions == 1
    courier._merge([Stop("pickup", 31.23, 121.47, ["o1"]), Stop("dropoff", 31.24, 121.48, ["o1"])])
    assert [s.kind for s in courier.route] == ["pickup", "dropoff"]  # work replaces the ride
    asyncio.run(courier._on_reposition({"cell": "87309a", "lat": 31.25, "lng": 121.49}))
    assert [s.kind for s in courier.route] == ["pickup", "dropoff"] and fleet.counters.repositions == 1  # busy: ignored
