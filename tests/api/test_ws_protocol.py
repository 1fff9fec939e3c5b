"""The WebSocket protocol of ``docs/websocket-protocol.md``, through a real client against a live service.

Authentication and close codes, malformed client frames (answered, socket kept open), the 1 MiB
limit, ``seq`` on a socket, resume after ``N``, keepalive pings, the courier's errors (``rejected``,
``not_yours``, ``wrong_pin``), declines and unanswered offers, position fan-out to the tracking
socket, and the planners' ``/ws/ops``.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from actors import live_keys as K
from api.security import tracking_token
from tests.api.conftest import Live, start_live

Frame = dict[str, Any]
STREAM_TYPES = {"status", "eta", "position", "offer", "offer_accepted", "offer_withdrawn", "route_changed",
                "shift_ending", "zones"}
CONTROL_TYPES = {"hello", "ping", "pong", "error", "ack"}
MAX_SEQ = 2**53 - 1  # the largest ``after`` the protocol takes


# -- helpers -----------------------------------------------------------------------------------
async def recv(ws: Any, timeout: float = 10.0) -> Frame:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def until(ws: Any, pred: Callable[[Frame], bool], timeout: float = 10.0, log: list[Frame] | None = None) -> Frame:
    """Read frames until one satisfies ``pred`` (every frame read goes to ``log``)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no matching frame within {timeout}s; saw {[f['type'] for f in log or []]}")
        frame = await recv(ws, left)
        if log is not None:
            log.append(frame)
        if pred(frame):
            return frame


def is_status(status: str) -> Callable[[Frame], bool]:
    return lambda f: f["type"] == "status" and f["data"].get("status") == status


def is_error(code: str) -> Callable[[Frame], bool]:
    return lambda f: f["type"] == "error" and f["data"].get("code") == code


async def refused(url: str, headers: dict[str, str] | None = None) -> tuple[Frame, int | None]:
    """Connect, read the one frame the server sends, then the close: (frame, close code)."""
    async with websockets.connect(url, additional_headers=headers or {}) as ws:
        frame = await recv(ws)
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
        assert closed.value.rcvd is not None
        return frame, closed.value.rcvd.code


def check_seqs(frames: list[Frame], start: int = 0) -> None:
    """``seq`` never decreases; stream frames move it forward, control frames repeat the last one."""
    last = start
    for f in frames:
        if f["type"] == "error" and f["data"].get("code") == "rejected":
            assert f["seq"] > last, f"the dispatcher's error has seq {f['seq']} after {last}"  # durable, of the courier's stream
            last = f["seq"]
        elif f["type"] in CONTROL_TYPES:
            assert f["seq"] == last, f"{f['type']} frame has seq {f['seq']}, the last sent was {last}: {frames}"
        else:
            assert f["seq"] > last, f"{f['type']} frame has seq {f['seq']} after {last}"
            last = f["seq"]
        assert isinstance(f["ts"], int) and f["ts"] > 1_600_000_000_000


def place_order(live: Live, who: str = "alice", store: dict[str, Any] | None = None) -> dict[str, Any]:
    store = store or live.stores()[0]
    door = {"lat": store["lat"] + 0.01, "lng": store["lng"] + 0.01}
    reply = httpx.post(f"{live.base}/orders", json={"store_id": store["id"], "dropoff": door}, headers=live.headers(who))
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


def start_shift(live: Live, headers: dict[str, str], store: dict[str, Any]) -> None:
    reply = httpx.post(f"{live.base}/couriers/me/shift", json={"on": True, "lat": store["lat"], "lng": store["lng"]}, headers=headers)
    assert reply.status_code == 202, reply.text


def order_status(live: Live, order_id: str) -> dict[str, Any]:
    return dict(httpx.get(f"{live.base}/orders/{order_id}", headers=live.headers("admin")).json())


def durable(live: Live, order_id: str) -> list[str]:
    """The order's durable frames as stored (the exact text the server replays)."""
    _, stream, _ = K.stream("order", order_id)
    return [f[b"f"].decode() for _, f in live.redis.xrange(stream)]


async def on_shift(live: Live, ws: Any, headers: dict[str, str], store: dict[str, Any], log: list[Frame] | None = None) -> None:
    """Start a shift and wait until the dispatcher has it (the courier's ``idle`` status frame)."""
    start_shift(live, headers, store)
    await until(ws, is_status("idle"), log=log)


async def an_accepted_order(live: Live, ws: Any, headers: dict[str, str], store: dict[str, Any], log: list[Frame]) -> dict[str, Any]:
    """On shift, an order placed at ``store``, its offer accepted: the order as placed."""
    await on_shift(live, ws, headers, store, log)
    order = place_order(live, store=store)
    offer = await until(ws, lambda f: f["type"] == "offer", 10, log)
    await ws.send(json.dumps({"type": "accept", "offer": offer["data"]["offer"]}))
    await until(ws, lambda f: f["type"] == "offer_accepted", 5, log)
    return order


# -- authentication ----------------------------------------------------------------------------
def test_tracking_socket_refuses_bad_tokens(live: Live) -> None:
    order = place_order(live)
    other = place_order(live, "bob")
    secret = live.settings.tracking_secret
    now = int(time.time())
    expired = jwt.encode({"sub": order["id"], "iat": now - 7200, "exp": now - 3600, "aud": "track"}, secret, algorithm="HS256")
    forged = jwt.encode({"sub": order["id"], "iat": now, "exp": now + 3600, "aud": "track"}, "x" * 40, algorithm="HS256")
    login = live.token("alice")  # an access token is not a tracking token

    async def run() -> None:
        for token in ("garbage", expired, forged, other["tracking"]["token"], login, ""):
            frame, code = await refused(f"{live.ws}/ws/track/{order['id']}?token={token}")
            assert frame["type"] == "error" and frame["data"]["code"] == "unauthorized", (token, frame)
            assert code == 4401
        frame, code = await refused(f"{live.ws}/ws/track/{order['id']}")
        assert frame["data"]["code"] == "unauthorized" and code == 4401
        # a valid token for an order that does not exist
        ghost = tracking_token("o999999", secret, 1)
        frame, code = await refused(f"{live.ws}/ws/track/o999999?token={ghost}")
        assert frame["data"]["code"] == "not_found" and code == 4404
        # and the right token works
        async with websockets.connect(live.ws + order["tracking"]["ws"]) as ws:
            hello = await recv(ws)
            assert hello["type"] == "hello" and hello["seq"] == 0
            assert hello["data"]["order"]["id"] == order["id"] and hello["data"]["order"]["pin"] is None

    asyncio.run(run())


def test_courier_socket_auth_by_header_or_query(live: Live) -> None:
    courier = live.token("courier-1")
    customer = live.token("alice")

    async def run() -> None:
        frame, code = await refused(f"{live.ws}/ws/courier", {"Authorization": f"Bearer {customer}"})
        assert frame["data"]["code"] == "forbidden" and code == 4403
        frame, code = await refused(f"{live.ws}/ws/courier?token={customer}")
        assert frame["data"]["code"] == "forbidden" and code == 4403
        frame, code = await refused(f"{live.ws}/ws/courier")
        assert frame["data"]["code"] == "unauthorized" and code == 4401
        frame, code = await refused(f"{live.ws}/ws/courier?token=not-a-jwt")
        assert frame["data"]["code"] == "unauthorized" and code == 4401
        for url, headers in ((f"{live.ws}/ws/courier", {"Authorization": f"Bearer {courier}"}), (f"{live.ws}/ws/courier?token={courier}", {})):
            async with websockets.connect(url, additional_headers=headers) as ws:
                hello = await recv(ws)
                assert hello["type"] == "hello"
                assert hello["data"] == {"courier": "courier-1", "status": "off_shift", "orders": [], "offered": []}

    asyncio.run(run())


def test_sockets_refuse_tokens_missing_a_required_claim(live: Live) -> None:
    order = place_order(live)
    now = int(time.time())
    access = {"sub": "courier-1", "role": "courier", "ent": "courier-1", "iat": now, "exp": now + 600, "aud": "api"}
    tracking = {"sub": order["id"], "iat": now, "exp": now + 600, "aud": "track"}

    def without(claims: dict[str, Any], claim: str, secret: str) -> str:
        return jwt.encode({k: v for k, v in claims.items() if k != claim}, secret, algorithm="HS256")

    async def run() -> None:
        for claim in ("sub", "exp", "role", "aud"):
            token = without(access, claim, live.settings.jwt_secret)
            for url in (f"{live.ws}/ws/courier?token={token}", f"{live.ws}/ws/ops?token={token}"):
                frame, code = await refused(url)
                assert frame["data"]["code"] == "unauthorized" and code == 4401, (claim, frame)
                assert f'missing the "{claim}" claim' in frame["data"]["detail"]
        for claim in ("sub", "exp", "aud"):
            frame, code = await refused(f"{live.ws}/ws/track/{order['id']}?token={without(tracking, claim, live.settings.tracking_secret)}")
            assert frame["data"]["code"] == "unauthorized" and code == 4401, (claim, frame)
            assert f'missing the "{claim}" claim' in frame["data"]["detail"]

    asyncio.run(run())


def test_ops_socket_is_for_planners(live: Live) -> None:
    planner = live.token("planner")
    admin = live.token("admin")

    async def run() -> None:
        frame, code = await refused(f"{live.ws}/ws/ops?token={live.token('alice')}")
        assert frame["data"]["code"] == "forbidden" and code == 4403
        frame, code = await refused(f"{live.ws}/ws/ops?token={live.token('courier-2')}")
        assert frame["data"]["code"] == "forbidden" and code == 4403
        frame, code = await refused(f"{live.ws}/ws/ops")
        assert frame["data"]["code"] == "unauthorized" and code == 4401
        for token in (planner, admin):
            async with websockets.connect(f"{live.ws}/ws/ops?token={token}") as ws:
                hello = await recv(ws)
                assert hello["type"] == "hello" and isinstance(hello["data"]["regions"], list)
                frames: list[Frame] = [hello]
                regions = set()
                while len(regions) < len(live.regions):
                    zones = await until(ws, lambda f: f["type"] == "zones", 5, frames)
                    assert set(zones["data"]) >= {"region", "zones", "couriers"}
                    regions.add(zones["data"]["region"])
                assert regions == {f"{r:x}" for r in live.regions}
                check_seqs(frames)

    asyncio.run(run())


# -- malformed frames --------------------------------------------------------------------------
BAD_FRAMES: list[tuple[str, str, str | None]] = [  # (text, code, ref echoed)
    ("this is not json", "bad_json", None),
    ('{"type": "ping"', "bad_json", None),
    ("[1, 2, 3]", "bad_json", None),
    ('"ping"', "bad_json", None),
    ('{"type": "dance", "id": "d1"}', "unknown_type", "d1"),
    ('{"id": "n1"}', "unknown_type", "n1"),
    ('{"type": "accept", "id": "a1"}', "bad_frame", "a1"),  # offer missing
    ('{"type": "dropoff", "order": "o1", "pin": "12", "id": "p1"}', "bad_frame", "p1"),
    ('{"type": "location", "lat": 123, "lng": 0}', "bad_frame", None),
    ('{"type": "ping", "surprise": 1}', "bad_frame", None),
]


def test_courier_socket_answers_bad_frames_and_stays_open(live: Live) -> None:
    headers = live.headers("courier-1")

    async def run() -> None:
        async with websockets.connect(f"{live.ws}/ws/courier", additional_headers=headers) as ws:
            frames = [await recv(ws)]
            for text, code, ref in BAD_FRAMES:
                await ws.send(text)
                error = await recv(ws)
                frames.append(error)
                assert error["type"] == "error" and error["data"]["code"] == code, (text, error)
                assert error["data"].get("ref") == ref
                await ws.send('{"type": "ping"}')
                pong = await recv(ws)
                frames.append(pong)
                assert pong["type"] == "pong"
            missing = next(f for f in frames if f["data"].get("ref") == "a1")
            assert "offer" in missing["data"]["detail"]
            limit = live.settings.ws_max_frame_bytes
            await ws.send(json.dumps({"type": "location", "lat": 1, "lng": 1, "pad": "x" * (limit + 10)}))
            error = await recv(ws)
            assert error["type"] == "error" and error["data"]["code"] == "too_large" and str(limit) in error["data"]["detail"]
            await ws.send(json.dumps({"type": "ping", "id": "after-big"}))
            assert (await recv(ws))["type"] == "pong"
            check_seqs(frames)
            # over 1 MiB the server closes the socket
            await ws.send(json.dumps({"type": "ping", "pad": "x" * (1024 * 1024 + 100)}))
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await recv(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

    asyncio.run(run())


def test_tracking_socket_answers_bad_frames_and_stays_open(live: Live) -> None:
    order = place_order(live)

    async def run() -> None:
        async with websockets.connect(live.ws + order["tracking"]["ws"]) as ws:
            frames = [await recv(ws)]
            cases = [*BAD_FRAMES[:4], ('{"type": "accept", "offer": "x", "id": "t1"}', "unknown_type", "t1"),
                     ('{"type": "resume", "after": -1}', "bad_frame", None), ('{"type": "resume"}', "bad_frame", None)]
            for text, code, ref in cases:
                await ws.send(text)
                error = await until(ws, lambda f: f["type"] in ("error", "pong"), 5, frames)
                assert error["type"] == "error" and error["data"]["code"] == code, (text, error)
                assert error["data"].get("ref") == ref
                await ws.send('{"type": "ping"}')
                await until(ws, lambda f: f["type"] == "pong", 5, frames)
            await ws.send("y" * (live.settings.ws_max_frame_bytes + 1))
            await until(ws, is_error("too_large"), 5, frames)
            await ws.send('{"type": "pong"}')  # a pong is taken silently
            await ws.send('{"type": "ping"}')
            await until(ws, lambda f: f["type"] == "pong", 5, frames)
            check_seqs(frames)
            await ws.send("z" * (1024 * 1024 + 1))
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await recv(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

    asyncio.run(run())


NESTED = "[" * 8000 + "]" * 8000  # under the size limit, beyond what the JSON parser recurses into
ODD_FRAMES: list[tuple[str | bytes, str, str]] = [  # (frame, code, a word of the detail)
    (b'{"type": "ping"}', "binary_frame", "binary"),
    (b"\x00\xff" * 100, "binary_frame", "binary"),
    (NESTED, "bad_json", "nested"),
    ('{"type": "ping", "id": ' + NESTED + "}", "bad_json", "nested"),
    ('{"type": ["ping"]}', "unknown_type", "type"),
    (json.dumps({"type": "resume", "after": 10**30}), "bad_frame", "after"),
    (json.dumps({"type": "resume", "after": 2**63}), "bad_frame", "after"),
]


def test_every_socket_answers_binary_nested_and_huge_resume_frames_and_stays_open(live: Live) -> None:
    assert len(NESTED.encode()) < live.settings.ws_max_frame_bytes
    order = place_order(live)
    urls = {"courier": (f"{live.ws}/ws/courier", live.headers("courier-1")), "track": (live.ws + order["tracking"]["ws"], {}),
            "ops": (f"{live.ws}/ws/ops?token={live.token('planner')}", {})}

    async def run() -> None:
        for name, (url, headers) in urls.items():
            async with websockets.connect(url, additional_headers=headers) as ws:
                frames = [await recv(ws)]
                for frame, code, word in ODD_FRAMES:
                    await ws.send(frame)
                    error = await until(ws, lambda f: f["type"] in ("error", "pong"), 5, frames)
                    assert error["type"] == "error" and error["data"]["code"] == code, (name, frame[:40], error)
                    assert word in error["data"]["detail"], (name, error)
                    await ws.send('{"type": "ping"}')
                    await until(ws, lambda f: f["type"] == "pong", 5, frames)
                assert not any(is_error("unavailable")(f) for f in frames)
                check_seqs(frames)

    asyncio.run(run())


def test_after_out_of_range_refuses_the_socket_and_beyond_the_stream_replays_nothing(live: Live) -> None:
    order = place_order(live)
    live.wait(lambda: len(durable(live, order["id"])) >= 2, what="the order's first status frames")
    courier = live.headers("courier-1")

    async def run() -> None:
        for bad in (10**30, 2**63, MAX_SEQ + 1, -1, "abc"):
            for url, headers in ((f"{live.ws}{order['tracking']['ws']}&after={bad}", {}), (f"{live.ws}/ws/courier?after={bad}", courier)):
                frame, code = await refused(url, headers)
                assert frame["type"] == "error" and frame["data"]["code"] == "bad_query", (url, frame)
                assert "after" in frame["data"]["detail"] and code == 4400
        # ahead of the stream: nothing to replay, and the live frames numbered below ``after`` still come
        async with websockets.connect(f"{live.ws}{order['tracking']['ws']}&after={MAX_SEQ}") as ws:
            hello = await recv(ws)
            last = json.loads(durable(live, order["id"])[-1])["seq"]
            counter = int(live.redis.get(K.stream("order", order["id"])[0]))  # durable or not, the stream's last seq
            assert hello["type"] == "hello" and last <= hello["seq"] <= counter
            log = [hello]
            reply = httpx.post(f"{live.base}/orders/{order['id']}/cancel", headers=live.headers("alice"))
            assert reply.status_code == 202, reply.text
            cancelled = await until(ws, is_status("cancelled"), 10, log)
            assert cancelled["seq"] > hello["seq"]
            check_seqs(log, hello["seq"])
        async with websockets.connect(f"{live.ws}/ws/courier?after={MAX_SEQ}", additional_headers=courier) as app:
            log = [await recv(app)]
            assert log[0]["seq"] == 0
            await app.send(json.dumps({"type": "resume", "after": MAX_SEQ, "id": "far"}))
            ack = await until(app, lambda f: f["type"] in ("ack", "error"), 5, log)
            assert ack["type"] == "ack" and ack["data"]["ref"] == "far"
            await app.send(json.dumps({"type": "resume", "after": 10**30, "id": "absurd"}))
            error = await until(app, lambda f: f["type"] in ("ack", "error"), 5, log)
            assert error["data"]["code"] == "bad_frame" and error["data"]["ref"] == "absurd" and "after" in error["data"]["detail"]
            check_seqs(log)

    asyncio.run(run())


# -- seq, resume and keepalive -----------------------------------------------------------------
async def _deliver(live: Live, order: dict[str, Any], app: Any, log: list[Frame]) -> None:
    """Courier ``app`` takes the order's offer and brings it to the door."""
    offer = await until(app, lambda f: f["type"] == "offer" and order["id"] in f["data"]["orders"], 10, log)
    await app.send(json.dumps({"type": "accept", "offer": offer["data"]["offer"], "id": "acc"}))
    await until(app, lambda f: f["type"] == "offer_accepted", 10, log)
    await app.send(json.dumps({"type": "pickup", "orders": [order["id"]], "id": "pick"}))
    await until(app, is_status("delivering"), 10, log)
    await app.send(json.dumps({"type": "dropoff", "order": order["id"], "pin": order["pin"], "id": "drop"}))
    await until(app, is_status("idle"), 10, log)


def test_seq_never_decreases_and_resume_replays_durable_frames(live: Live) -> None:
    store = live.stores()[0]
    courier = live.headers("courier-1")

    async def run() -> None:
        async with websockets.connect(f"{live.ws}/ws/courier", additional_headers=courier) as app:
            app_log = [await recv(app)]
            await on_shift(live, app, courier, store, app_log)
            order = place_order(live, store=store)
            async with websockets.connect(live.ws + order["tracking"]["ws"]) as track:
                track_log = [await recv(track)]
                await _deliver(live, order, app, app_log)
                await until(track, is_status("delivered"), 10, track_log)
                await app.send('{"type": "ping", "id": "p"}')
                await until(app, lambda f: f["type"] == "pong", 5, app_log)
            check_seqs(app_log)
            check_seqs(track_log)
            statuses = [f["data"]["status"] for f in track_log if f["type"] == "status"]
            assert statuses[0] == "placed" and statuses[-1] == "delivered"
            assert len(statuses) == len(set(statuses))  # each once
            assert any(f["type"] == "ack" and f["data"]["ref"] == "acc" for f in app_log)

            stored = durable(live, order["id"])
            seqs = [json.loads(s)["seq"] for s in stored]
            assert len(stored) >= 6 and seqs == sorted(seqs)
            # what the socket heard live includes every durable frame, exactly as stored
            heard = {f["seq"]: f for f in track_log if f["type"] not in CONTROL_TYPES}
            assert all(json.loads(s) == heard[json.loads(s)["seq"]] for s in stored)

            # reconnect after N: the durable frames after N first, in order, then nothing older
            for n in (0, seqs[1], seqs[-2], seqs[-1]):
                async with websockets.connect(f"{live.ws}{order['tracking']['ws']}&after={n}") as again:
                    hello = await recv(again)
                    assert hello["type"] == "hello" and hello["seq"] == n
                    assert hello["data"]["order"]["status"] == "delivered"
                    want = [json.loads(s) for s in stored if json.loads(s)["seq"] > n]
                    got = [await recv(again) for _ in want]
                    assert got == want
                    await again.send('{"type": "ping"}')
                    pong = await until(again, lambda f: f["type"] == "pong", 5)
                    assert pong["seq"] == (want[-1]["seq"] if want else n)
            # the courier resumes likewise
            _, courier_stream, _ = K.stream("courier", "courier-1")
            mine = [json.loads(f[b"f"]) for _, f in live.redis.xrange(courier_stream)]
            n = mine[2]["seq"]
            async with websockets.connect(f"{live.ws}/ws/courier?after={n}", additional_headers=courier) as again:
                hello = await recv(again)
                assert hello["seq"] == n and hello["data"]["status"] == "idle"
                got = [await recv(again) for _ in mine[3:]]
                assert got == mine[3:]

    asyncio.run(run())


def test_resume_frame_sends_what_the_socket_missed(live: Live) -> None:
    """``resume`` replays durable frames after ``after`` that this socket has not been sent (here: never heard live)."""
    order = place_order(live)
    live.wait(lambda: len(durable(live, order["id"])) >= 4, what="the order's first status frames")
    stored = [json.loads(s) for s in durable(live, order["id"])]
    last = stored[-1]["seq"]

    def sneak(n: int) -> list[Frame]:
        """Durable frames added to the stream without pub/sub: a socket hears of them only by resuming."""
        seq_key, stream, _ = K.stream("order", order["id"])
        out = []
        for _ in range(n):
            seq = live.redis.incr(seq_key)
            frame = {"seq": seq, "type": "status", "ts": int(time.time() * 1000), "data": {"status": "test", "at": seq, "actor": "test"}}
            live.redis.xadd(stream, {"f": json.dumps(frame, separators=(",", ":"))}, id=f"{seq}-1")
            out.append(frame)
        return out

    async def run() -> None:
        # stop the dispatcher from adding frames meanwhile: the test owns the stream from here
        live.engine.close()
        async with websockets.connect(f"{live.ws}{order['tracking']['ws']}&after={last}") as ws:
            hello = await recv(ws)
            assert hello["seq"] == last
            missed = sneak(3)
            await ws.send(json.dumps({"type": "resume", "after": last}))
            got = [await recv(ws) for _ in missed]
            assert got == missed
            # resuming from further back sends nothing twice: seq never goes back on a socket
            await ws.send(json.dumps({"type": "resume", "after": 0}))
            await ws.send('{"type": "ping"}')
            pong = await recv(ws)
            assert pong["type"] == "pong" and pong["seq"] == missed[-1]["seq"]
            more = sneak(2)
            await ws.send(json.dumps({"type": "resume", "after": stored[0]["seq"]}))
            assert [await recv(ws) for _ in more] == more
        # a fresh socket sends resume as its first frame: every durable frame after N comes before anything live
        n = stored[1]["seq"]
        everything = [json.loads(s) for s in durable(live, order["id"])]
        async with websockets.connect(live.ws + order["tracking"]["ws"]) as ws:
            await ws.send(json.dumps({"type": "resume", "after": n}))
            hello = await recv(ws)
            assert hello["type"] == "hello"
            got = [await recv(ws) for _ in everything]
            assert [f for f in got if f["seq"] > n] == [f for f in everything if f["seq"] > n]
            check_seqs([hello, *got])

    asyncio.run(run())


def test_keepalive_pings_a_silent_socket(redis_url: str) -> None:
    live, stop = start_live(redis_url, ws_ping_s=0.3)
    try:
        order = place_order(live)
        courier = live.headers("courier-1")

        async def run() -> None:
            async with websockets.connect(live.ws + order["tracking"]["ws"]) as track, \
                    websockets.connect(f"{live.ws}/ws/courier", additional_headers=courier) as app:
                started = time.monotonic()
                log: list[Frame] = []
                while sum(f["type"] == "ping" for f in log) < 3:
                    log.append(await recv(track, 3))
                assert time.monotonic() - started < 3
                check_seqs(log)
                pings = [f for f in log if f["type"] == "ping"]
                assert all(p["data"] == {} for p in pings)
                app_log = [await recv(app, 3) for _ in range(3)]
                assert [f["type"] for f in app_log].count("ping") >= 2
                await track.send('{"type": "pong"}')  # answering a ping is allowed and silent
                await track.send('{"type": "ping"}')
                await until(track, lambda f: f["type"] == "pong", 3)

        asyncio.run(run())
    finally:
        stop()


# -- courier errors, declines, timeouts --------------------------------------------------------
def test_courier_errors_not_yours_rejected_and_wrong_pin(live: Live) -> None:
    store = live.stores()[0]
    c1, c2 = live.headers("courier-1"), live.headers("courier-2")

    async def run() -> None:
        async with websockets.connect(f"{live.ws}/ws/courier", additional_headers=c1) as app:
            log = [await recv(app)]
            await app.send(json.dumps({"type": "accept", "offer": "courier-1.1", "id": "early"}))
            error = await until(app, lambda f: f["type"] == "error", 5, log)
            assert error["data"]["code"] == "no_shift"  # no region to send the report to yet
            await on_shift(live, app, c1, store, log)
            # an offer the dispatcher never made: the report goes through (ack), the dispatcher refuses it in its verdict
            await app.send(json.dumps({"type": "accept", "offer": "nope.7", "id": "x1"}))
            ack = await until(app, lambda f: f["type"] == "ack", 5, log)
            assert ack["data"]["ref"] == "x1"
            verdict = await until(app, lambda f: f["type"] == "verdict", 5, log)
            assert verdict["data"]["ref"] == "x1" and verdict["data"]["ok"] is False and verdict["data"]["kind"] == "accept"
            assert "nope.7" in verdict["data"]["detail"] and verdict["seq"] > ack["seq"]  # a durable frame of the stream

            # an order that is not on this courier's route
            other = place_order(live, "bob", store)
            await app.send(json.dumps({"type": "pickup", "orders": ["o-missing"], "id": "x2"}))
            error = await until(app, is_error("not_yours"), 5, log)
            assert error["data"]["ref"] == "x2"
            # courier-1 gets the offer of ``other``; courier-2 (no shift) may not touch it
            offer = await until(app, lambda f: f["type"] == "offer", 10, log)
            assert offer["data"]["orders"] == [other["id"]]
            async with websockets.connect(f"{live.ws}/ws/courier", additional_headers=c2) as thief:
                await recv(thief)
                await thief.send(json.dumps({"type": "pickup", "orders": [other["id"]], "id": "t"}))
                assert (await until(thief, lambda f: f["type"] == "error", 5))["data"]["code"] == "not_yours"
                await thief.send(json.dumps({"type": "dropoff", "order": other["id"], "pin": other["pin"], "id": "t2"}))
                assert (await until(thief, lambda f: f["type"] == "error", 5))["data"]["code"] == "not_yours"
            # a pickup before accepting (the accept went missing): the food is in hand, so it accepts the offer too
            await app.send(json.dumps({"type": "pickup", "orders": [other["id"]], "id": "x3"}))
            accepted = await until(app, lambda f: f["type"] == "offer_accepted", 5, log)
            assert accepted["data"]["offer"] == offer["data"]["offer"] and accepted["data"]["implied_by"] == "pickup"
            await until(app, is_status("delivering"), 5, log)
            verdict = await until(app, lambda f: f["type"] == "verdict", 5, log)  # after what the report did
            assert verdict["data"] == {"ref": "x3", "kind": "pickup", "ok": True, "at": verdict["data"]["at"]}
            wrong = f"{(int(other['pin']) + 1) % 10000:04d}"
            await app.send(json.dumps({"type": "dropoff", "order": other["id"], "pin": wrong, "id": "x4"}))
            error = await until(app, is_error("wrong_pin"), 5, log)
            assert error["data"]["ref"] == "x4"
            await asyncio.sleep(3 * live.settings.cycle_s)
            assert order_status(live, other["id"])["status"] == "picked_up"
            await app.send(json.dumps({"type": "dropoff", "order": other["id"], "pin": other["pin"], "id": "x5"}))
            await until(app, is_status("idle"), 5, log)
            check_seqs(log)
        final = order_status(live, other["id"])
        assert final["status"] == "delivered" and final["courier"] == "courier-1"
        assert live.redis.xlen(K.AUDIT) > 0
        actions = [f[b"action"] for _, f in live.redis.xrange(K.AUDIT)]
        assert b"dropoff_wrong_pin" in actions

    asyncio.run(run())


def test_wrong_pins_lock_the_dropoff_until_support_unlocks_it(live: Live) -> None:
    store = live.stores()[0]
    courier = live.headers("courier-1")
    limit = live.settings.pin_max_failures
    assert limit == 5

    async def run() -> None:
        async with websockets.connect(f"{live.ws}/ws/courier", additional_headers=courier) as app:
            log = [await recv(app)]
            order = await an_accepted_order(live, app, courier, store, log)
            await app.send(json.dumps({"type": "pickup", "orders": [order["id"]]}))
            await until(app, is_status("delivering"), 5, log)
            # a burst of guesses, then the right PIN: every one answered, none accepted
            guesses = [f"{(int(order['pin']) + k) % 10000:04d}" for k in range(1, 31)]
            for k, guess in enumerate([*guesses, order["pin"]]):
                await app.send(json.dumps({"type": "dropoff", "order": order["id"], "pin": guess, "id": f"g{k}"}))
            answers = [await until(app, lambda f: f["type"] in ("error", "ack"), 5, log) for _ in range(len(guesses) + 1)]
            assert [a["data"]["ref"] for a in answers] == [f"g{k}" for k in range(len(guesses) + 1)]
            codes = [a["data"].get("code") for a in answers]
            assert codes == ["wrong_pin"] * (limit - 1) + ["pin_locked"] * (len(guesses) + 1 - (limit - 1)), codes
            assert answers[0]["data"]["detail"] == f"the PIN does not match ({limit - 1} tries left)"
            assert "locked" in answers[-1]["data"]["detail"] and "unlock" in answers[-1]["data"]["detail"]
            actions = [f[b"action"] for _, f in live.redis.xrange(K.AUDIT)]
            assert b"dropoff" not in actions and actions.count(b"dropoff_pin_locked") == len(guesses) + 1 - (limit - 1)

            # only support (a planner, an admin, the order's store) unlocks it
            url = f"{live.base}/orders/{order['id']}/pin/unlock"
            for user in ("alice", "courier-1", "store-g2"):
                assert httpx.post(url, headers=live.headers(user)).status_code == 403, user
            other_store = httpx.post(url, headers=live.headers("store-g2"))
            assert other_store.json()["detail"] == f"order {order['id']} is not your store's"
            unlocked = httpx.post(url, headers=live.headers("planner"))
            assert unlocked.status_code == 200, unlocked.text
            assert unlocked.json() == {"order": order["id"], "wrong_tries": limit}
            assert httpx.post(f"{live.base}/orders/o-none/pin/unlock", headers=live.headers("planner")).status_code == 404
            await app.send(json.dumps({"type": "dropoff", "order": order["id"], "pin": order["pin"], "id": "right"}))
            ack = await until(app, lambda f: f["type"] in ("error", "ack"), 5, log)
            assert ack["type"] == "ack" and ack["data"]["ref"] == "right"
            await until(app, is_status("idle"), 5, log)
            check_seqs(log)
        assert order_status(live, order["id"])["status"] == "delivered"

    asyncio.run(run())


def test_a_declined_offer_goes_to_another_courier(live: Live) -> None:
    store = live.stores()[0]
    heads = {cid: live.headers(cid) for cid in ("courier-1", "courier-2")}

    async def run() -> None:
        async with websockets.connect(f"{live.ws}/ws/courier", additional_headers=heads["courier-1"]) as a, \
                websockets.connect(f"{live.ws}/ws/courier", additional_headers=heads["courier-2"]) as b:
            apps = {"courier-1": a, "courier-2": b}
            logs: dict[str, list[Frame]] = {cid: [await recv(ws)] for cid, ws in apps.items()}
            for cid, ws in apps.items():
                await on_shift(live, ws, heads[cid], store, logs[cid])
            order = place_order(live, store=store)
            async with websockets.connect(live.ws + order["tracking"]["ws"]) as track:
                track_log = [await recv(track)]
                first = await _first_offer(apps, logs)
                second_id = next(c for c in apps if c != first)
                offer = next(f for f in reversed(logs[first]) if f["type"] == "offer")
                assert offer["data"]["orders"] == [order["id"]]
                # the courier's state tells an order offered from one it has taken (a resuming app must not drive to it)
                mine = live.wait(lambda: (s := httpx.get(f"{live.base}/couriers/me", headers=heads[first]).json())["offered"] and s,
                                 timeout=5, what="the offer in the courier's state")
                assert mine["offered"] == [order["id"]] and mine["orders"] == [order["id"]]
                assert offer["data"]["expires"] > offer["ts"] - 1000 and offer["data"]["stops"][0]["kind"] == "pickup"
                assert offer["data"]["stops"][0]["arrive"] > 1_600_000_000_000  # epoch ms, as the protocol says
                await apps[first].send(json.dumps({"type": "decline", "offer": offer["data"]["offer"], "id": "no"}))
                withdrawn = await until(apps[first], lambda f: f["type"] == "offer_withdrawn", 5, logs[first])
                assert withdrawn["data"] == {**withdrawn["data"], "offer": offer["data"]["offer"], "reason": "declined"}
                again = await until(apps[second_id], lambda f: f["type"] == "offer", 5, logs[second_id])
                assert again["data"]["orders"] == [order["id"]] and again["data"]["offer"] != offer["data"]["offer"]
                await apps[second_id].send(json.dumps({"type": "accept", "offer": again["data"]["offer"]}))
                await until(apps[second_id], lambda f: f["type"] == "offer_accepted", 5, logs[second_id])
                await until(track, lambda f: f["type"] == "status" and f["data"]["status"] == "assigned"
                            and f["data"].get("courier") == second_id, 5, track_log)
                taken = live.wait(lambda: not (s := httpx.get(f"{live.base}/couriers/me", headers=heads[second_id]).json())["offered"] and s,
                                  timeout=5, what="the accepted offer out of the courier's offered orders")
                assert taken["orders"] == [order["id"]]
            statuses = [f["data"]["status"] for f in track_log if f["type"] == "status"]
            assert statuses.count("assigned") == 2
            back = statuses.index("assigned") + 1
            assert statuses[back] in ("preparing", "ready")  # given back to the pool between the two
            assert order_status(live, order["id"])["courier"] == second_id
            for log in [*logs.values(), track_log]:
                check_seqs(log)

    asyncio.run(run())


async def _first_offer(apps: dict[str, Any], logs: dict[str, list[Frame]], timeout: float = 10.0) -> str:
    """Which courier the dispatcher offers the order to first (read both sockets until one has an offer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for cid, ws in apps.items():
            try:
                frame = await recv(ws, 0.1)
            except TimeoutError:
                continue
            logs[cid].append(frame)
            if frame["type"] == "offer":
                return cid
    raise AssertionError("no courier got an offer")


def test_an_unanswered_offer_is_withdrawn(redis_url: str) -> None:
    live, stop = start_live(redis_url, offer_timeout_s=1)
    try:
        store = live.stores()[0]
        courier = live.headers("courier-1")

        async def run() -> None:
            async with websockets.connect(f"{live.ws}/ws/courier", additional_headers=courier) as app:
                log = [await recv(app)]
                await on_shift(live, app, courier, store, log)
                order = place_order(live, store=store)
                offer = await until(app, lambda f: f["type"] == "offer", 10, log)
                assert offer["data"]["expires"] - offer["data"]["at"] == pytest.approx(1000, abs=5)
                withdrawn = await until(app, lambda f: f["type"] == "offer_withdrawn", 5, log)
                assert withdrawn["data"]["offer"] == offer["data"]["offer"] and withdrawn["data"]["reason"] == "no answer in time"
                assert withdrawn["ts"] - offer["ts"] >= 900
                # too late now
                await app.send(json.dumps({"type": "accept", "offer": offer["data"]["offer"]}))
                await until(app, is_error("rejected"), 5, log)
                check_seqs(log)
            live.wait(lambda: order_status(live, order["id"])["status"] in ("preparing", "ready"), 5, "the order back in the pool")

        asyncio.run(run())
    finally:
        stop()


def test_position_pings_reach_the_tracking_socket(live: Live) -> None:
    store = live.stores()[0]
    courier = live.headers("courier-1")

    async def run() -> tuple[float, float]:
        async with websockets.connect(f"{live.ws}/ws/courier", additional_headers=courier) as app:
            log = [await recv(app)]
            order = await an_accepted_order(live, app, courier, store, log)
            async with websockets.connect(live.ws + order["tracking"]["ws"]) as track:
                hello = await recv(track)
                assert hello["data"]["courier"]["id"] == "courier-1"
                track_log = [hello]
                sent = []
                for k in range(4):
                    point = (store["lat"] + 0.001 * (k + 1), store["lng"] + 0.001)
                    sent.append(point)
                    if k % 2:
                        await app.send(json.dumps({"type": "locations", "points": [{"lat": 0.0, "lng": 0.0}, {"lat": point[0], "lng": point[1]}]}))
                    else:
                        await app.send(json.dumps({"type": "location", "lat": point[0], "lng": point[1]}))
                    await asyncio.sleep(live.settings.position_throttle_s + 0.1)
                positions: list[Frame] = []
                while len(positions) < 3:
                    frame = await until(track, lambda f: f["type"] == "position", 5, track_log)
                    positions.append(frame)
                check_seqs(track_log)
                for p in positions:
                    assert p["data"]["courier"] == "courier-1" and (p["data"]["lat"], p["data"]["lng"]) in sent
                assert [(p["data"]["lat"], p["data"]["lng"]) for p in positions] == sorted(
                    (p["data"]["lat"], p["data"]["lng"]) for p in positions)
            # a position frame is not durable: a resumed socket is not sent them
            assert all(json.loads(s)["type"] != "position" for s in durable(live, order["id"]))
            return sent[-1]

    last = asyncio.run(run())
    me = httpx.get(f"{live.base}/couriers/me", headers=courier).json()
    assert (me["lat"], me["lng"]) == last


def test_ops_hello_comes_before_any_zones_frame(redis_url: str) -> None:
    """Zones frames heard while the hello is being read wait for it (fast cycles make the race likely)."""
    live, stop = start_live(redis_url, cycle_s=0.05)
    try:
        token = live.token("planner")

        async def run() -> None:
            for _ in range(100):
                async with websockets.connect(f"{live.ws}/ws/ops?token={token}") as ws:
                    frames = [await recv(ws), await recv(ws)]
                    assert [f["type"] for f in frames] == ["hello", "zones"]
                    check_seqs(frames)

        asyncio.run(run())
    finally:
        stop()


def test_a_hub_raises_stream_counters_that_redis_forgot_to_what_its_sockets_saw(live: Live) -> None:
    """Redis restarted without its last second: a courier's counter is back at 3 while its open socket
    was sent seq 50, so the next frames (numbered 4, 5, ...) would be dropped as already sent. After
    its pub/sub reconnects, the hub raises every counter it follows to the last seq of its sockets."""
    from types import SimpleNamespace

    import redis.asyncio as aioredis

    from actors import live_keys as K
    from api.hub import Conn, Hub

    async def run() -> None:
        r = aioredis.Redis.from_url(live.settings.redis_url)
        hub = Hub(r, 20.0)
        try:
            ws = SimpleNamespace(client_state=None)
            behind, ahead = Conn(ws, 50), Conn(ws, 7)  # type: ignore[arg-type]
            await hub.follow("courier:forgot-1", behind)
            await hub.follow("track:forgot-o1", ahead)
            await r.set("seq:courier:forgot-1", 3)
            await r.set("seq:order:forgot-o1", 9)  # ahead of its socket: left alone
            assert await hub.raise_seq_floors() == 1
            assert int(await r.get("seq:courier:forgot-1")) == 50 and int(await r.get("seq:order:forgot-o1")) == 9
            assert K.seq_key_of_channel("ops") == "seq:ops:all" and K.seq_key_of_channel("hub:keepalive") is None
        finally:
            await hub.stop()
            await r.aclose()

    asyncio.run(run())
