"""A demo fleet: simulated courier apps that speak the real courier protocol to a running service.

``dispatch fleet`` (or ``Fleet(...)`` in an event loop) stands in for the phones of a live demo.
It is a client only: everything it does goes over the public REST API and ``/ws/courier``
(``docs/websocket-protocol.md``), exactly as a courier's app would, so a run also exercises the
protocol end to end from outside the server.

Each simulated courier ``courier-<i>`` (password ``demo`` unless told otherwise):

1. signs in (``POST /auth/token``, form fields), opens ``/ws/courier`` with its bearer header and
   starts a shift (``POST /couriers/me/shift``) at a random point within ~300 m of a random store
   (``GET /stores``; ``stores=`` narrows the choice). A courier still on shift from an earlier run
   keeps its shift and position, and takes over the orders its ``hello`` lists;
2. answers every ``offer`` at once: ``accept``, or ``decline`` with probability ``decline_rate``;
3. drives the stops of its accepted offers in order, along straight lines at
   ``speed_kmh * speedup`` on the wall clock, sending a ``location`` ping every ``ping_s``
   seconds (and one at each stop); pings made while the socket is down go as one ``locations``
   batch when it is back;
4. at a pickup stop sends ``pickup`` with the stop's orders; at a drop-off stop sends ``dropoff``
   with each order's PIN;
5. follows ``route_changed`` (the stops left replace its route: after a pickup, with the exact doors of
   what it carries, where the offer gave their cells), ``offer_withdrawn`` and
   ``shift_ending``; logs ``error`` frames (and counts them);
6. when the socket drops (or is silent for 60 s) reconnects with ``?after=<last seq>``, so the
   server replays every durable frame it missed. On the very first connection the frames the
   server replays from before this run (older ``ts``) are history and only move the ``seq``.

**Where the PIN comes from.** On the street the customer reads the 4-digit PIN to the courier at
the door. The fleet plays that customer: it signs in as ``admin`` (password ``demo``) and reads
the order (``GET /orders/{id}`` shows the PIN to the customer and to admins, never to couriers).
So a fleet needs the admin demo account as well as the courier ones.

**Simulated customers** (``order_rate_per_min > 0``): ``alice`` and ``bob`` place asap orders
(Poisson arrivals at that rate on the wall clock, not sped up) at random stores of the regions the
fleet's couriers work in, to random doors 150 m to ~2 km away, each ``POST /orders`` with an
``Idempotency-Key`` (a retry after a network error reuses it).

**Counters** (``Fleet.counters``): couriers on shift (as the dispatcher confirmed), offers,
accepted (``offer_accepted`` heard), declined (a decline's verdict heard), withdrawn (offers taken
back for another reason), picked up and delivered (orders whose ``pickup`` / ``dropoff`` the
dispatcher applied: its ``verdict`` heard), orders placed, errors (error frames, refused reports and
failed requests), reconnects.

**Exactly once.** Every report (accept, decline, pickup, drop-off) has an ``id`` unique to this run
and stays in the app until its ``verdict`` comes; it is sent again on every reconnect, every
``RESEND_S`` seconds without a verdict, and a second after an ``unavailable``. The dispatcher
applies a report once per id and repeats the verdict for a copy (``docs/durability.md``).

**Stopping.** ``stop()`` (called on cancel, after ``duration_s``, or on leaving ``async with``)
ends every shift, closes the sockets and the HTTP clients. Until then a courier whose shift ends
(its hours are up, or it was ending when an earlier run stopped) starts a new one where it is. A
courier stopped with stops left is ``shift_ending`` for the dispatcher: its orders stay on its
route (a later fleet run adopts them).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import httpx
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

log = logging.getLogger(__name__)

EARTH_M = 6_371_000.0
START_SPREAD_M = 300.0  # couriers start this close to a store
DOOR_MIN_M, DOOR_MAX_M = 150.0, 2000.0  # simulated customers' doors from the store
SILENCE_S = 60.0  # the protocol: a client that hears nothing this long reconnects
MAX_OFFLINE_POINTS = 100  # one ``locations`` batch
CONTROL_FRAMES = frozenset({"hello", "ping", "pong", "ack", "error"})  # they repeat the last seq
RESEND_S = 10.0  # a report with no verdict this long is sent again (same id: the dispatcher applies it once)
RETRYABLE = frozenset({"unavailable"})  # error codes that mean "not taken, send it again"
SEND_S = 10.0  # a frame the socket has not taken this long: the line is dead, whatever TCP thinks; reconnect
# A REST call with no answer this long is given up and asked again. httpx's own timeouts bound each phase, but a
# courier whose call never came back (seen once in 10,000 orders of bench/chaos.py, right at a Redis crash) held its
# lock with the food in the bag: the drop-off was never sent and its socket loop could not even notice the line drop.
CALL_S = 30.0
OPEN_STATUSES = frozenset({"placed", "paid", "accepted", "preparing", "ready", "food_ready"})


class FleetError(Exception):
    """A problem the user can fix (service down, wrong password, no demo accounts): one line, no traceback."""


@dataclass
class Counters:
    on_shift: int = 0
    offers: int = 0
    accepted: int = 0
    declined: int = 0
    withdrawn: int = 0
    picked_up: int = 0
    delivered: int = 0
    orders_placed: int = 0
    errors: int = 0
    reconnects: int = 0
    repositions: int = 0  # moves toward forecast demand the dispatcher suggested
    handovers: int = 0  # times a courier was handed to another region

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


# -- geometry (a client has its own; nothing here comes from the server's code) ---------------
def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(h)))


def offset(origin: tuple[float, float], metres: float, bearing: float) -> tuple[float, float]:
    """The point ``metres`` from ``origin`` towards ``bearing`` (radians from north); fine for a few km."""
    lat, lng = origin
    dlat = metres * math.cos(bearing) / EARTH_M
    dlng = metres * math.sin(bearing) / (EARTH_M * math.cos(math.radians(lat)))
    return lat + math.degrees(dlat), lng + math.degrees(dlng)


def towards(here: tuple[float, float], there: tuple[float, float], metres: float) -> tuple[tuple[float, float], bool]:
    """Move up to ``metres`` along the straight line to ``there``: the new point, and whether it is there."""
    left = distance_m(here, there)
    if left <= max(metres, 0.5):
        return there, True
    f = metres / left
    return (here[0] + (there[0] - here[0]) * f, here[1] + (there[1] - here[1]) * f), False


def random_point_near(rng: random.Random, centre: tuple[float, float], lo: float, hi: float) -> tuple[float, float]:
    """Uniform over the ring between ``lo`` and ``hi`` metres around ``centre``."""
    r = math.sqrt(rng.uniform((lo / hi) ** 2, 1.0)) * hi
    return offset(centre, r, rng.uniform(0, 2 * math.pi))


def ws_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


# -- REST --------------------------------------------------------------------------------------
class Api:
    """The REST side, with one sign-in per user name (signed in again when a token is refused)."""

    def __init__(self, base_url: str, password: str, timeout: float = 10.0) -> None:
        self.base = base_url.rstrip("/")
        self.password = password
        self.http = httpx.AsyncClient(base_url=self.base, timeout=timeout)
        self.tokens: dict[str, str] = {}

    async def close(self) -> None:
        await self.http.aclose()

    def unreachable(self, exc: Exception) -> FleetError:
        return FleetError(f"the dispatch service is not reachable at {self.base} ({type(exc).__name__}): "
                          "start it with `dispatch serve` (or pass --url)")

    async def stores(self) -> list[dict[str, Any]]:
        try:
            reply = await self.http.get("/stores")
        except httpx.TransportError as exc:
            raise self.unreachable(exc) from None
        except httpx.InvalidURL as exc:
            raise FleetError(f"{self.base} is not a usable URL: {exc}") from None
        body = _json(reply)
        if reply.status_code != 200 or not isinstance(body, list):
            raise FleetError(f"{self.base} answered GET /stores with HTTP {reply.status_code}: is it the dispatch service?")
        return body

    async def sign_in(self, user: str) -> str:
        try:
            reply = await self.http.post("/auth/token", data={"username": user, "password": self.password})
        except httpx.TransportError as exc:
            raise self.unreachable(exc) from None
        if reply.status_code == 401:
            raise SignInRefused(user)
        if reply.status_code != 200:
            raise FleetError(f"signing in as {user} failed with HTTP {reply.status_code}: {_detail(reply)}")
        token = str(reply.json()["access_token"])
        self.tokens[user] = token
        return token

    async def token(self, user: str) -> str:
        if user in self.tokens:
            return self.tokens[user]
        try:
            return await asyncio.wait_for(self.sign_in(user), CALL_S)
        except TimeoutError:
            raise FleetError(f"signing in as {user}: no answer in {CALL_S:g} s") from None

    async def call(self, user: str, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        """A request as ``user``; on 401 (an expired token) it signs in again, once."""
        for attempt in (0, 1):
            signed = {**(headers or {}), "Authorization": f"Bearer {await self.token(user)}"}
            try:
                reply = await asyncio.wait_for(self.http.request(method, path, headers=signed, **kw), CALL_S)
            except TimeoutError:
                raise FleetError(f"{method} {path}: no answer in {CALL_S:g} s") from None
            if reply.status_code != 401 or attempt:
                break
            self.tokens.pop(user, None)
        return reply


class SignInRefused(FleetError):
    def __init__(self, user: str) -> None:
        super().__init__(user)
        self.user = user


def _json(reply: httpx.Response) -> Any:
    try:
        return reply.json()
    except ValueError:
        return None


def _detail(reply: httpx.Response) -> str:
    body = _json(reply)
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return reply.text[:200]


# -- one courier -------------------------------------------------------------------------------
@dataclass
class Stop:
    kind: str  # pickup, dropoff, or reposition (ride there and wait: nothing to report)
    lat: float
    lng: float
    orders: list[str]

    @property
    def where(self) -> tuple[float, float]:
        return self.lat, self.lng


@dataclass(eq=False)
class SimCourier:
    """One simulated courier app; see the module docstring."""

    fleet: Fleet
    name: str
    rng: random.Random
    home: dict[str, Any]  # the store it starts near
    position: tuple[float, float] = (0.0, 0.0)
    status: str = "signing in"
    on_shift: bool = False
    route: list[Stop] = field(default_factory=list)
    seq: int = 0
    delivered: int = 0
    declined: int = 0
    offers_seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending_offer: str | None = None
    picked: set[str] = field(default_factory=set)
    dropped: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.ws: Any = None
        self.connected = asyncio.Event()
        self.stopping = False
        self.started_ms = 0
        self.after = 0  # the ``after`` of the current connection
        self.sent: dict[str, tuple[str, list[str]]] = {}  # frame id -> (type, orders) until its verdict
        self.unjudged: dict[str, tuple[dict[str, Any], float]] = {}  # frame id -> (frame, when last sent)
        self.offline: list[dict[str, float]] = []
        self._n = 0
        self.want_shift = False  # on shift until the fleet stops: a shift that ends (hours, an earlier run's end) restarts
        self.shift_asked = 0.0
        self.stream_seqs: deque[int] = deque(maxlen=1000)  # seq of each stream frame heard: resume leaves no gap
        self.outage = 0  # failed connection attempts in a row
        self.offline_until = 0.0
        self.connected_ms = 0
        self.replayed = 0  # stream frames heard late: sent while this app was offline, replayed on resume
        self._lock = asyncio.Lock()  # one frame handler at a time (adopting awaits REST calls)

    @property
    def c(self) -> Counters:
        return self.fleet.counters

    # -- life ------------------------------------------------------------------------------
    async def run(self) -> None:
        self.started_ms = int(time.time() * 1000)
        api = self.fleet.api
        state = (await api.call(self.name, "GET", "/couriers/me")).json()
        already = state.get("status") not in (None, "off_shift") and state.get("region") and state.get("lat") is not None
        if already:
            self.position = (float(state["lat"]), float(state["lng"]))
            log.info("%s: still on shift from an earlier run (%s); carrying on from there", self.name, state["status"])
        else:
            self.position = random_point_near(self.rng, (self.home["lat"], self.home["lng"]), 0.0, START_SPREAD_M)
        socket = asyncio.create_task(self._socket_loop(), name=f"{self.name}-socket")
        try:
            await asyncio.wait_for(self.connected.wait(), 15)
        except TimeoutError:
            log.warning("%s: no socket yet; starting the shift anyway", self.name)
        if not already:
            await self._start_shift()
        self.want_shift = True
        try:
            await self._drive_loop()
        finally:
            socket.cancel()
            await asyncio.gather(socket, return_exceptions=True)

    async def _start_shift(self) -> None:
        self.shift_asked = time.monotonic()
        reply = await self.fleet.api.call(self.name, "POST", "/couriers/me/shift",
                                          json={"on": True, "lat": self.position[0], "lng": self.position[1]})
        if reply.status_code != 202:
            self._error(f"shift start refused: HTTP {reply.status_code}: {_detail(reply)}")

    async def end_shift(self) -> None:
        self.stopping = True
        try:
            reply = await self.fleet.api.call(self.name, "POST", "/couriers/me/shift", json={"on": False})
            if reply.status_code not in (202, 409):
                log.warning("%s: ending the shift: HTTP %s: %s", self.name, reply.status_code, _detail(reply))
        except (httpx.HTTPError, FleetError) as exc:
            log.warning("%s: ending the shift failed: %s %s", self.name, type(exc).__name__, exc)
        if self.on_shift:
            self.on_shift = False
            self.c.on_shift -= 1
        self.status = "stopped"
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()

    async def drop_connection(self, offline_s: float = 0.0) -> None:
        """Close the socket from this side, as a phone losing signal does, and stay offline ``offline_s``
        seconds (pings pile up, reports wait); then it reconnects with ``after``."""
        self.offline_until = time.monotonic() + offline_s
        if self.ws is not None:
            await self.ws.close()

    # -- the socket --------------------------------------------------------------------------
    async def _socket_loop(self) -> None:
        backoff = 0.2
        while not self.stopping:
            try:
                token = await self.fleet.api.token(self.name)
                self.after = self.seq
                url = f"{self.fleet.ws_base}/ws/courier?after={self.seq}"
                async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"},
                                              open_timeout=10, max_size=2**20) as ws:
                    self.ws = ws
                    self.connected_ms = int(time.time() * 1000)
                    await self._flush_offline(ws)
                    self.connected.set()
                    if self.outage:
                        log.warning("%s: socket back after %d failed attempts; resuming after seq %d", self.name, self.outage, self.seq)
                    backoff, self.outage = 0.2, 0
                    while True:
                        raw = await asyncio.wait_for(ws.recv(), SILENCE_S)
                        async with self._lock:
                            await self._on_text(raw)
            except asyncio.CancelledError:
                raise
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
                if code in (4401, 4403):
                    self.fleet.api.tokens.pop(self.name, None)
                    self._error(f"socket closed by the server ({code})")
                elif not self.stopping:
                    log.info("%s: socket closed (%s); resuming after seq %d", self.name, code, self.seq)
            except TimeoutError:
                log.info("%s: nothing heard for %gs; reconnecting after seq %d", self.name, SILENCE_S, self.seq)
            except (OSError, InvalidHandshake, InvalidURI, httpx.HTTPError, FleetError) as exc:
                if not self.stopping:
                    self.outage += 1
                    log.log(logging.WARNING if self.outage == 1 else logging.DEBUG,
                            "%s: cannot connect the socket (%s); retrying", self.name, exc or type(exc).__name__)
                    backoff = min(backoff * 2, 5.0)
            finally:
                self.connected.clear()
                self.ws = None
            if self.stopping:
                return
            self.c.reconnects += 1
            await asyncio.sleep(max(backoff * (0.5 + self.rng.random()), self.offline_until - time.monotonic()))

    async def _flush_offline(self, ws: Any) -> None:
        if self.offline:
            points, self.offline = self.offline[-MAX_OFFLINE_POINTS:], []
            await ws.send(json.dumps({"type": "locations", "points": points}))

    async def _send(self, frame: dict[str, Any], track: list[str] | None = None, wait: bool = True) -> bool:
        """Send a frame. ``wait``: if the socket is down, wait for it (a report must get through);
        frame handlers run on the socket's own task and cannot wait for it, so they give up."""
        if track is not None:
            self._n += 1
            frame["id"] = f"{self.name}.{self.started_ms}.{self._n}"
            self.sent[frame["id"]] = (frame["type"], track)
        if "id" in frame and frame["id"] in self.sent:
            self.unjudged[frame["id"]] = (frame, time.monotonic())  # kept, even unsent, until the verdict
        text = json.dumps(frame)
        while not self.stopping:
            ws = self.ws if self.connected.is_set() else None
            if ws is not None:
                try:
                    await self._write(ws, text)
                    return True
                except ConnectionClosed:
                    if self.ws is ws:
                        self.connected.clear()
                    else:
                        continue  # a new socket is up already
            if not wait:
                break
            await self.connected.wait()
        if frame["type"] in ("accept", "decline"):  # an answer that never left: the offer will run out
            self._judged(frame.get("id", ""))
        return False

    async def _write(self, ws: Any, text: str) -> None:
        """``ws.send`` with a deadline: a line that takes nothing for ``SEND_S`` is closed (ConnectionClosed, as if
        it had dropped), so the socket loop reconnects and the report goes again, instead of waiting on TCP."""
        try:
            await asyncio.wait_for(ws.send(text), SEND_S)
        except TimeoutError:
            log.warning("%s: the socket took nothing for %gs; closing it to reconnect", self.name, SEND_S)
            transport = getattr(ws, "transport", None)
            if transport is not None:
                transport.abort()
            raise ConnectionClosed(None, None) from None

    def _judged(self, ref: str) -> tuple[str, list[str]] | None:
        self.unjudged.pop(ref, None)
        return self.sent.pop(ref, None)

    async def _resend(self, older_than: float) -> None:
        """Send again every report that has no verdict yet: lost on a dropped socket, in a Redis that
        crashed, or judged while this app was away and the verdict frame missed."""
        now = time.monotonic()
        for ref, (frame, at) in list(self.unjudged.items()):
            if now - at >= older_than and ref in self.unjudged:
                log.info("%s: %s %s has no verdict yet; sending it again", self.name, frame["type"], ref)
                await self._send(frame, wait=False)

    async def _ping(self) -> None:
        point = {"lat": self.position[0], "lng": self.position[1], "at": int(time.time() * 1000)}
        ws = self.ws
        if ws is not None and self.connected.is_set():
            try:
                await self._write(ws, json.dumps({"type": "location", **point}))
                return
            except ConnectionClosed:
                pass
        self.offline.append(point)
        del self.offline[:-MAX_OFFLINE_POINTS]

    # -- frames ------------------------------------------------------------------------------
    async def _on_text(self, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
            kind, data = frame["type"], frame.get("data") or {}
        except (ValueError, KeyError, TypeError):
            self._error(f"unreadable frame from the server: {str(raw)[:120]}")
            return
        seq = frame.get("seq")
        if isinstance(seq, int) and seq > self.seq:
            self.seq = seq
        if kind not in CONTROL_FRAMES and isinstance(seq, int):
            self.stream_seqs.append(seq)
            if self.after > 0 and frame.get("ts", 0) < self.connected_ms:
                self.replayed += 1
        history = self.after == 0 and kind not in ("hello", "ping", "pong", "ack") and frame.get("ts", 0) < self.started_ms
        if history:
            return  # a frame of an earlier run, replayed because this run started at after=0
        handler = getattr(self, f"_on_{kind}", None)
        if handler is None:
            log.debug("%s: %s frame ignored", self.name, kind)
            return
        await handler(data)

    async def _on_hello(self, data: dict[str, Any]) -> None:
        self._status(str(data.get("status", "off_shift")))
        await self._resend(0.0)
        known = {o for s in self.route for o in s.orders}
        # offered, not yet accepted: on the server's route, not on ours yet; the offer frame (perhaps
        # still to come in the replay after this hello) is how they get on ours
        known.update(data.get("offered", []))
        if self.pending_offer in self.offers_seen:
            known.update(self.offers_seen[self.pending_offer].get("orders", []))
        unknown = [o for o in data.get("orders", []) if o not in known and o not in self.dropped]
        if unknown:
            await self._adopt(unknown)

    async def _on_ping(self, data: dict[str, Any]) -> None:
        await self._send({"type": "pong"}, wait=False)

    async def _on_pong(self, data: dict[str, Any]) -> None:
        return

    async def _on_offer(self, data: dict[str, Any]) -> None:
        offer = str(data.get("offer", ""))
        if not offer or offer in self.offers_seen:
            return
        self.offers_seen[offer] = data
        self.c.offers += 1
        expires = data.get("expires")
        if isinstance(expires, int | float) and expires < time.time() * 1000:
            return  # replayed after it ran out: the dispatcher has taken it back already
        decline = self.stopping or self.rng.random() < self.fleet.decline_rate
        self.pending_offer = offer
        log.debug("%s: offer %s (%s): %s", self.name, offer, ",".join(data.get("orders", [])), "decline" if decline else "accept")
        if not await self._send({"type": "decline" if decline else "accept", "offer": offer}, track=list(data.get("orders", [])), wait=False):
            log.info("%s: offer %s came as the socket dropped; it will run out", self.name, offer)

    async def _on_offer_accepted(self, data: dict[str, Any]) -> None:
        offer = str(data.get("offer", ""))
        if self.pending_offer == offer:
            self.pending_offer = None
        got = self.offers_seen.get(offer)
        self.c.accepted += 1
        if got is None:
            log.warning("%s: offer %s accepted but never seen", self.name, offer)
            return
        self._merge([_stop(s) for s in got.get("stops", [])])

    async def _on_offer_withdrawn(self, data: dict[str, Any]) -> None:
        offer = str(data.get("offer", ""))
        if self.pending_offer == offer:
            self.pending_offer = None
        if data.get("reason") != "declined":
            self.c.withdrawn += 1
            log.info("%s: offer %s withdrawn: %s", self.name, offer, data.get("reason"))

    async def _on_route_changed(self, data: dict[str, Any]) -> None:
        log.info("%s: route changed: %s", self.name, data.get("reason"))
        self.route = []
        self._merge([_stop(s) for s in data.get("stops", [])])

    async def _on_status(self, data: dict[str, Any]) -> None:
        self._status(str(data.get("status", "")))

    async def _on_reposition(self, data: dict[str, Any]) -> None:
        """Ride toward forecast demand and wait there, unless there is work on the route already."""
        if self.route or self.stopping:
            return
        try:
            self.route = [Stop("reposition", float(data["lat"]), float(data["lng"]), [])]
        except (KeyError, TypeError, ValueError):
            self._error(f"unreadable reposition frame: {data}")
            return
        self.c.repositions += 1
        log.info("%s: repositioning to cell %s", self.name, data.get("cell"))

    async def _on_handed_over(self, data: dict[str, Any]) -> None:
        self.c.handovers += 1
        log.info("%s: now working for region %s (%s)", self.name, data.get("to"), data.get("reason"))

    async def _on_shift_ending(self, data: dict[str, Any]) -> None:
        log.info("%s: shift ending with %s stops left", self.name, data.get("stops_left"))

    async def _on_ack(self, data: dict[str, Any]) -> None:
        """Received and on disk; what came of it is the ``verdict`` that follows."""

    async def _on_verdict(self, data: dict[str, Any]) -> None:
        sent = self._judged(str(data.get("ref")))
        if sent is None:
            return  # the verdict of a report judged already (repeated for one sent again)
        kind, orders = sent
        if not data.get("ok"):
            if kind in ("accept", "decline"):  # the offer ran out or went to someone else meanwhile
                log.info("%s: %s refused: %s", self.name, kind, data.get("detail"))
            else:
                self._error(f"{kind} {','.join(orders)} refused: {data.get('detail')}")
            return
        if kind == "pickup":
            self.c.picked_up += len(orders)
        elif kind == "dropoff":
            self.c.delivered += 1
            self.delivered += 1
        elif kind == "decline":
            self.c.declined += 1
            self.declined += 1

    async def _on_error(self, data: dict[str, Any]) -> None:
        ref = str(data.get("ref"))
        if data.get("code") in RETRYABLE and ref in self.unjudged:
            frame, _ = self.unjudged[ref]
            self.unjudged[ref] = (frame, time.monotonic() - RESEND_S + 1.0)  # again in a second
            log.info("%s: %s %s not taken (%s); sending it again shortly", self.name, frame["type"], ref, data.get("code"))
            return
        sent = self._judged(ref)
        what = f" (answering {sent[0]} {','.join(sent[1])})" if sent else ""
        self._error(f"error {data.get('code')}: {data.get('detail')}{what}")

    def _status(self, status: str) -> None:
        if self.stopping:
            return
        self.status = status
        on = status not in ("off_shift", "starting", "")
        if on != self.on_shift:
            self.on_shift = on
            self.c.on_shift += 1 if on else -1

    def _error(self, message: str) -> None:
        self.c.errors += 1
        self.fleet.note_error(f"{self.name}: {message}")

    # -- the route -----------------------------------------------------------------------------
    def _merge(self, stops: Sequence[Stop]) -> None:
        """Add stops, leaving out orders already on the route for that kind of stop, or done; work
        replaces a reposition under way."""
        self.route = [s for s in self.route if s.kind != "reposition"]
        have = {(s.kind, o) for s in self.route for o in s.orders}
        for stop in stops:
            done = self.picked if stop.kind == "pickup" else self.dropped
            left = [o for o in stop.orders if (stop.kind, o) not in have and o not in done]
            if left:
                self.route.append(Stop(stop.kind, stop.lat, stop.lng, left))

    async def _adopt(self, orders: list[str]) -> None:
        """Orders the server says are on this courier's route but this app never saw offered: read them (as admin)."""
        stores = {s["id"]: s for s in self.fleet.stores}
        pickups: list[Stop] = []
        drops: list[Stop] = []
        for order_id in orders:
            order = await self.fleet.read_order(order_id)
            if order is None or order.get("courier") != self.name:
                continue
            store = stores.get(order["store_id"])
            if order["status"] == "assigned" and store is not None:
                pickups.append(Stop("pickup", store["lat"], store["lng"], [order_id]))
            if order["status"] in ("assigned", "picked_up"):
                drops.append(Stop("dropoff", order["dropoff"]["lat"], order["dropoff"]["lng"], [order_id]))
        if pickups or drops:
            log.info("%s: took over %d orders already on its route", self.name, len(drops))
            self._merge(pickups + drops)

    async def _drive_loop(self) -> None:
        speed = self.fleet.speed_kmh / 3.6 * self.fleet.speedup  # metres per wall second
        tick = min(self.fleet.ping_s, 0.25)
        last = time.monotonic()
        next_ping = last
        while not self.stopping:
            await asyncio.sleep(tick)
            now = time.monotonic()
            dt, last = now - last, now
            if self.route:
                stop = self.route[0]
                self.position, arrived = towards(self.position, stop.where, speed * dt)
                if arrived:
                    async with self._lock:
                        if self.route and self.route[0] is stop:
                            self.route.pop(0)
                            await self._ping()
                            next_ping = now + self.fleet.ping_s
                            await self._serve(stop)
            if now >= next_ping:
                await self._ping()
                next_ping = now + self.fleet.ping_s
                if self.unjudged and self.connected.is_set():
                    async with self._lock:
                        await self._resend(RESEND_S)
            if self.want_shift and not self.on_shift and not self.route and now - self.shift_asked > 5.0 and not self.stopping:
                log.info("%s: off shift (%s); starting a new shift", self.name, self.status)
                with contextlib.suppress(httpx.HTTPError, FleetError):
                    await self._start_shift()

    async def _serve(self, stop: Stop) -> None:
        if stop.kind == "reposition":
            return  # arrived: the ping just sent tells the dispatcher where
        if stop.kind == "pickup":
            orders = [o for o in stop.orders if o not in self.picked]
            if orders:
                self.picked.update(orders)
                log.debug("%s: pickup %s", self.name, ",".join(orders))
                await self._send({"type": "pickup", "orders": orders}, track=orders)
            return
        for order_id in stop.orders:
            if order_id in self.dropped:
                continue
            order = await self.fleet.read_order(order_id)  # the customer at the door tells the PIN
            if order is None:
                self._error(f"cannot read order {order_id} for its PIN")
                continue
            if order.get("status") in ("delivered", "cancelled", "failed") or order.get("courier") != self.name:
                log.info("%s: order %s is %s (courier %s): nothing to hand over", self.name, order_id, order.get("status"), order.get("courier"))
                continue
            self.dropped.add(order_id)
            log.debug("%s: dropoff %s", self.name, order_id)
            await self._send({"type": "dropoff", "order": order_id, "pin": str(order.get("pin"))}, track=[order_id])


def _stop(raw: dict[str, Any]) -> Stop:
    return Stop(str(raw["kind"]), float(raw["lat"]), float(raw["lng"]), [str(o) for o in raw.get("orders", [])])


# -- the fleet -----------------------------------------------------------------------------------
class Fleet:
    """``couriers`` simulated courier apps (``courier-<first>`` on) and optional simulated customers.

    Use ``async with Fleet(...) as fleet`` (then ``await fleet.ready()``), or ``await
    Fleet(...).run()`` which stops after ``duration_s`` (or when cancelled). See the module docstring.
    """

    def __init__(
        self,
        base_url: str,
        couriers: int = 10,
        speed_kmh: float = 18.0,
        speedup: float = 1.0,
        ping_s: float = 2.0,
        decline_rate: float = 0.0,
        order_rate_per_min: float = 0.0,
        seed: int = 0,
        duration_s: float | None = None,
        password: str = "demo",
        stores: Sequence[str] | None = None,
        first_courier: int = 1,
        customers: Sequence[str] = ("alice", "bob"),
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        if couriers < 1:
            raise ValueError("a fleet has at least one courier")
        if speed_kmh <= 0 or speedup <= 0 or ping_s <= 0:
            raise ValueError("speed_kmh, speedup and ping_s must be positive")
        if not 0.0 <= decline_rate <= 1.0:
            raise ValueError("decline_rate is a probability (0 to 1)")
        if order_rate_per_min < 0:
            raise ValueError("order_rate_per_min must not be negative")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{base_url!r} is not a service URL; give one like http://127.0.0.1:8000")
        self.base_url = base_url.rstrip("/")
        self.ws_base = ws_url(self.base_url)
        self.n = couriers
        self.speed_kmh, self.speedup, self.ping_s = speed_kmh, speedup, ping_s
        self.decline_rate, self.order_rate_per_min = decline_rate, order_rate_per_min
        self.seed, self.duration_s = seed, duration_s
        self.only_stores = list(stores) if stores else None
        self.first_courier = first_courier
        self.customer_names = list(customers)
        self.on_error = on_error
        self.api = Api(self.base_url, password)
        self.counters = Counters()
        self.couriers: list[SimCourier] = []
        self.stores: list[dict[str, Any]] = []
        self.recent_errors: list[str] = []
        self.started = 0.0
        self._tasks: list[asyncio.Task[Any]] = []
        self._stopped = False

    # -- start and stop --------------------------------------------------------------------------
    async def start(self) -> None:
        """Check the service and the accounts (raising ``FleetError``), then put the couriers to work."""
        rng = random.Random(self.seed)
        self.stores = await self.api.stores()
        if not self.stores:
            raise FleetError(f"the service at {self.base_url} has no stores")
        homes = self.stores
        if self.only_stores:
            missing = sorted(set(self.only_stores) - {s["id"] for s in self.stores})
            if missing:
                raise FleetError(f"no such store: {', '.join(missing)}")
            homes = [s for s in self.stores if s["id"] in self.only_stores]
        try:
            await self.api.sign_in("admin")
        except SignInRefused:
            raise FleetError(
                f"cannot sign in as admin with password {self.api.password!r} at {self.base_url}: the fleet needs the demo "
                "accounts (admin, courier-1..N; `dispatch serve` creates them outside production mode) or the right --password"
            ) from None
        names = [f"courier-{i}" for i in range(self.first_courier, self.first_courier + self.n)]
        results = await _gather_limited([self.api.sign_in(n) for n in names], 4)
        refused = [n for n, r in zip(names, results, strict=True) if isinstance(r, SignInRefused)]
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, SignInRefused):
                raise r
        if refused:
            first = names.index(refused[0])
            if first == 0:
                raise FleetError(f"cannot sign in as {refused[0]} with password {self.api.password!r}: the service has no such "
                                 "demo courier or another password (DEMO_COURIERS sets how many; --password)")
            raise FleetError(f"the service has demo couriers up to {names[first - 1]} only ({refused[0]} cannot sign in): "
                             f"use --couriers {first} or start it with more (DEMO_COURIERS)")
        if self.order_rate_per_min > 0:
            for name in self.customer_names:
                try:
                    await self.api.sign_in(name)
                except SignInRefused:
                    raise FleetError(f"cannot sign in as the demo customer {name!r}: simulated customers need the demo accounts") from None
        self.started = time.monotonic()
        for name in names:
            courier = SimCourier(self, name, random.Random(rng.random()), rng.choice(homes))
            self.couriers.append(courier)
            self._spawn(courier.run(), name)
        if self.order_rate_per_min > 0:
            regions = {c.home.get("region") for c in self.couriers}
            where = [s for s in homes if s.get("region") in regions] or homes
            self._spawn(self._customers(random.Random(rng.random()), where), "customers")

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.counters.errors += 1
            self.note_error(f"{task.get_name()} stopped: {type(exc).__name__}: {exc}")

    async def ready(self, timeout: float = 15.0) -> None:
        """Wait until the dispatcher has every courier on shift."""
        deadline = time.monotonic() + timeout
        while self.counters.on_shift < self.n or not all(c.connected.is_set() for c in self.couriers):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.counters.on_shift} of {self.n} couriers on shift after {timeout}s")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """End every shift, close the sockets and clients. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        for c in self.couriers:
            c.stopping = True
        await asyncio.gather(*(c.end_shift() for c in self.couriers), return_exceptions=True)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.api.close()

    async def run(self) -> Counters:
        """Start, run until ``duration_s`` has passed (or forever) or the task is cancelled, stop."""
        try:
            if not self.started:
                await self.start()
            if self.duration_s is None:
                await asyncio.Event().wait()
            else:
                await asyncio.sleep(max(0.0, self.duration_s - (time.monotonic() - self.started)))
        finally:
            await asyncio.shield(self.stop())
        return self.counters

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- helpers the couriers share ------------------------------------------------------------
    async def read_order(self, order_id: str, patience_s: float = 60.0) -> dict[str, Any] | None:
        """The order as an admin sees it (with the PIN); None when the service says there is none to see (4xx).

        The customer at the door waits: a service that is briefly unavailable (a 5xx, a dropped connection) is asked
        again for ``patience_s``. Before, one failed read left the food in the bag for good (bench/chaos.py)."""
        deadline, pause = time.monotonic() + patience_s, 0.2
        while True:
            try:
                reply = await self.api.call("admin", "GET", f"/orders/{order_id}")
                if reply.status_code < 500:
                    return reply.json() if reply.status_code == 200 else None
                why = f"HTTP {reply.status_code}"
            except (httpx.HTTPError, FleetError) as exc:
                why = str(exc) or type(exc).__name__
            if time.monotonic() + pause > deadline:
                self.note_error(f"reading order {order_id}: {why}; gave up after {patience_s:.0f} s")
                return None
            log.info("reading order %s: %s; asking again", order_id, why)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 3.0)

    def note_error(self, message: str) -> None:
        log.warning("%s", message)
        self.recent_errors = [*self.recent_errors[-4:], message]
        if self.on_error is not None:
            self.on_error(message)

    async def _customers(self, rng: random.Random, stores: list[dict[str, Any]]) -> None:
        while True:
            await asyncio.sleep(rng.expovariate(self.order_rate_per_min / 60.0))
            store = rng.choice(stores)
            door = random_point_near(rng, (store["lat"], store["lng"]), DOOR_MIN_M, DOOR_MAX_M)
            who = rng.choice(self.customer_names)
            key = str(uuid.UUID(int=rng.getrandbits(128)))
            body = {"store_id": store["id"], "dropoff": {"lat": door[0], "lng": door[1]}, "mode": "asap"}
            for attempt in range(3):
                try:
                    reply = await self.api.call(who, "POST", "/orders", json=body, headers={"Idempotency-Key": key})
                except (httpx.TransportError, FleetError) as exc:
                    if attempt == 2:
                        self.counters.errors += 1
                        self.note_error(f"{who}: placing an order failed: {exc}")
                    await asyncio.sleep(0.5)
                    continue
                if reply.status_code == 201:
                    self.counters.orders_placed += 1
                    log.debug("%s ordered %s at %s", who, reply.json()["id"], store["id"])
                else:
                    self.counters.errors += 1
                    self.note_error(f"{who}: order at {store['id']} refused: HTTP {reply.status_code}: {_detail(reply)}")
                break


async def _gather_limited(coros: list[Any], limit: int) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(coro: Any) -> Any:
        async with gate:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros), return_exceptions=True)
