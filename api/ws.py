"""The three WebSocket endpoints; the protocol is ``docs/websocket-protocol.md``."""
from __future__ import annotations

import json
import logging
import time
from typing import Annotated, Any

import h3
from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from redis.exceptions import RedisError

from actors import live_keys as K
from actors.durability import NotDurable
from actors.live_host import minutes_now
from api import orders as svc
from api import pin
from api.hub import Conn
from api.security import Principal, TokenError, read_access_token, read_tracking_token
from api.ws_frames import (COURIER_FRAMES, MAX_SEQ, VIEWER_FRAMES, Answer, ClientFrame, Dropoff, LocationFrame, Locations, Pickup, Resume,
                           parse, receive)

log = logging.getLogger(__name__)
router = APIRouter()
ROUTE_RES = 9
# ``?after=N``: out of range, the socket is refused (``api.app``: error frame ``bad_query``, close 4400)
After = Annotated[int, Query(ge=0, le=MAX_SEQ, description="resume after this seq")]


# -- helpers -----------------------------------------------------------------------------------
async def refuse(ws: WebSocket, code: str, detail: str, close_code: int) -> None:
    await ws.send_text(json.dumps({"seq": 0, "type": "error", "ts": int(time.time() * 1000), "data": {"code": code, "detail": detail}}))
    await ws.close(close_code)


def _bearer(ws: WebSocket, token: str | None) -> str | None:
    header = ws.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return token


async def _start_at(r: Any, kind: str, ident: str, after: int) -> int:
    """Where a socket that says it saw ``after`` starts: never beyond the stream's last ``seq`` (a client
    ahead of the stream has nothing to replay, and must not miss the live frames numbered below its ``after``)."""
    last = await r.get(K.stream(kind, ident)[0])
    return min(after, int(last or 0))


async def _replay(r: Any, conn: Conn, kind: str, ident: str, after: int) -> None:
    """Durable frames after ``after`` go out before any live frame heard meanwhile."""
    _, frames, _ = K.stream(kind, ident)
    conn.hold()
    try:
        for _, fields in await r.xrange(frames, f"({after}-1", "+"):
            conn.push(fields[b"f"].decode())
    finally:
        conn.release()


def route_cells(points: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """The H3 cells (resolution 9) along straight legs through ``points``, each with its boundary."""
    cells: list[str] = []
    for (a_lat, a_lng), (b_lat, b_lng) in zip(points, points[1:], strict=False):
        a, b = h3.latlng_to_cell(a_lat, a_lng, ROUTE_RES), h3.latlng_to_cell(b_lat, b_lng, ROUTE_RES)
        try:
            path = h3.grid_path_cells(a, b)
        except Exception:  # noqa: BLE001 - too far apart for a grid path: the two ends only
            path = [a, b]
        cells += [c for c in path if not cells or c != cells[-1]]
    unique = list(dict.fromkeys(cells))[:400]
    return [{"cell": c, "boundary": [list(p) for p in h3.cell_to_boundary(c)]} for c in unique]


async def tracking_state(r: Any, order: dict[str, Any]) -> dict[str, Any]:
    """What a customer sees now: the order (no PIN), the store, the courier's position, and the route cells."""
    store = json.loads(await r.hget(K.STORES, order["store"]) or "{}")
    public = svc.public(order, show_pin=False).model_dump(mode="json")
    courier = None
    if order.get("courier"):
        c = {k.decode(): v.decode() for k, v in (await r.hgetall(K.courier_key(order["courier"]))).items()}
        if "lat" in c:
            courier = {"id": order["courier"], "lat": float(c["lat"]), "lng": float(c["lng"])}
    door = (float(order["lat"]), float(order["lng"]))
    shop = (store.get("lat", door[0]), store.get("lng", door[1]))
    points = [shop, door]
    if courier and order["status"] not in ("delivered", "cancelled"):
        here = (courier["lat"], courier["lng"])
        points = [here, door] if order["status"] == "picked_up" else [here, shop, door]
    return {"order": public, "store": {"id": order["store"], "name": store.get("name", ""), "lat": shop[0], "lng": shop[1]},
            "courier": courier, "route": route_cells(points)}


# -- /ws/track ---------------------------------------------------------------------------------
@router.websocket("/ws/track/{order_id}")
async def track(ws: WebSocket, order_id: str, token: str | None = None, after: After = 0) -> None:
    await ws.accept()
    app = ws.app.state
    try:
        read_tracking_token(token or "", app.settings.tracking_secret, order_id)
    except TokenError as exc:
        await refuse(ws, "unauthorized", str(exc), 4401)
        return
    try:
        order = await svc.load_order(app.redis, order_id)
    except svc.OrderError as exc:
        await refuse(ws, "not_found", exc.detail, 4404)
        return
    conn = Conn(ws, await _start_at(app.redis, "order", order_id, after))
    conn.hold()
    await app.hub.follow(K.stream("order", order_id)[2], conn)
    try:
        conn.control("hello", await tracking_state(app.redis, order))
        await _replay(app.redis, conn, "order", order_id, conn.last_seq)
        await _viewer_loop(ws, conn, app, "order", order_id)
    finally:
        await app.hub.leave(conn)


async def _viewer_loop(ws: WebSocket, conn: Conn, app: Any, kind: str, ident: str) -> None:
    try:
        while True:
            frame = parse(await receive(ws), VIEWER_FRAMES, app.settings.ws_max_frame_bytes)
            if isinstance(frame, tuple):
                conn.control("error", {"code": frame[0], "detail": frame[1], "ref": frame[2]})
            elif isinstance(frame, Resume):
                try:
                    await _replay(app.redis, conn, kind, ident, frame.after)
                except RedisError as exc:  # as on the courier socket: this frame fails, not the socket
                    log.warning("%s %s: resume failed: %s", kind, ident, exc)
                    conn.control("error", {"code": "unavailable", "detail": "try again shortly", "ref": frame.id})
            elif frame.type == "ping":
                conn.control("pong")
    except WebSocketDisconnect:
        return


# -- /ws/ops -----------------------------------------------------------------------------------
@router.websocket("/ws/ops")
async def ops(ws: WebSocket, token: str | None = None) -> None:
    await ws.accept()
    app = ws.app.state
    try:
        who = read_access_token(_bearer(ws, token) or "", app.settings.jwt_secret)
    except TokenError as exc:
        await refuse(ws, "unauthorized", str(exc), 4401)
        return
    if who.role not in ("planner", "admin"):
        await refuse(ws, "forbidden", f"ops is for planners; you are {who.role}", 4403)
        return
    conn = Conn(ws)
    conn.hold()  # zones frames heard while the hello is read go out after it
    await app.hub.follow("ops", conn)
    try:
        regions = []
        for tag in sorted(await app.redis.smembers(K.REGIONS)):
            raw = await app.redis.get(K.zones_key(int(tag, 16)))
            if raw:
                regions.append(json.loads(raw))
        conn.control("hello", {"regions": regions})
        conn.release()
        await _viewer_loop(ws, conn, app, "ops", "all")
    finally:
        await app.hub.leave(conn)


# -- /ws/courier -------------------------------------------------------------------------------
class CourierSession:
    """One courier's socket: validates its frames, turns them into reports, fans out its position."""

    def __init__(self, ws: WebSocket, who: Principal, conn: Conn) -> None:
        self.ws, self.who, self.conn = ws, who, conn
        self.app = ws.app.state
        self.r = self.app.redis
        self.me = who.entity or who.user
        self.cfg = self.app.settings
        self.last_fanout = 0.0
        self.last_report = 0.0

    async def state(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in (await self.r.hgetall(K.courier_key(self.me))).items()}

    async def report(self, kind: str, data: dict[str, Any], ref: str | None = None, picks: list[str] | None = None) -> bool:
        """Append a report to the region's stream and wait for its fsync: only then is it ``ack``ed. With a
        ``ref`` the dispatcher answers with a durable ``verdict`` and applies a re-sent one only once.

        A pickup, or a drop-off (which is its pickup too), marks the orders it ``picks`` (``svc.PICKUP_REPORTED``) in
        the same transaction as it enters the stream: a cancellation (``svc.CANCEL_FN``) is then either in the stream
        before it, and applied first, or refused, so a refund never goes to an order the courier has."""
        region = (await self.state()).get("region")
        if not region:
            self.conn.control("error", {"code": "no_shift", "detail": "start a shift first: POST /couriers/me/shift", "ref": ref})
            return False
        payload = {"kind": kind, "entity": self.me, "time": minutes_now(), "data": data, "ref": ref}
        entry = {"k": "report", "j": json.dumps(payload)}
        if picks:
            pipe = self.r.pipeline(transaction=True)
            for order_id in picks:
                pipe.hsetnx(K.order_key(order_id), svc.PICKUP_REPORTED, self.me)
            pipe.xadd(K.inputs_key(int(region, 16)), entry)
            await pipe.execute()
        else:
            await self.r.xadd(K.inputs_key(int(region, 16)), entry)
        if ref is not None:
            await self.app.fsync.wait_async(self.r)
        return True

    async def handle(self, frame: ClientFrame) -> None:
        ack = True
        if isinstance(frame, Answer):
            ack = await self.report(frame.type, {"offer": frame.offer}, frame.id)
            await svc.audit(self.r, self.who, frame.type, frame.offer)
        elif isinstance(frame, LocationFrame | Locations):
            last = frame if isinstance(frame, LocationFrame) else frame.points[-1]
            await self.ping(last.lat, last.lng)
            ack = frame.id is not None
        elif isinstance(frame, Pickup):
            for order_id in frame.orders:
                if not await self._mine(order_id, frame.id):
                    return
            ack = await self.report("pickup", {"orders": frame.orders}, frame.id, picks=list(frame.orders))
            await svc.audit(self.r, self.who, "pickup", ",".join(frame.orders))
        elif isinstance(frame, Dropoff):
            if not await self._mine(frame.order, frame.id):
                return
            limit = self.cfg.pin_max_failures
            verdict, wrong = await pin.check(self.r, K.order_key(frame.order), frame.order, frame.pin, limit)
            if verdict is not pin.Verdict.OK:
                locked = verdict is pin.Verdict.LOCKED
                await svc.audit(self.r, self.who, "dropoff_pin_locked" if locked else "dropoff_wrong_pin", frame.order)
                detail = (f"drop-off of {frame.order} is locked after {wrong} wrong PINs: ask support to unlock it" if locked
                          else f"the PIN does not match ({limit - wrong} tries left)")
                self.conn.control("error", {"code": "pin_locked" if locked else "wrong_pin", "detail": detail, "ref": frame.id})
                return
            ack = await self.report("dropoff", {"order": frame.order}, frame.id, picks=[frame.order])
            await svc.audit(self.r, self.who, "dropoff", frame.order)
        elif isinstance(frame, Resume):
            await _replay(self.r, self.conn, "courier", self.me, frame.after)
        elif frame.type == "ping":
            self.conn.control("pong")
            return
        else:
            return
        if ack:
            self.conn.control("ack", {"ref": frame.id, "type": frame.type})

    async def _mine(self, order_id: str, ref: str | None) -> bool:
        courier = await self.r.hget(K.order_key(order_id), "courier")
        if courier is None or courier.decode() != self.me:
            self.conn.control("error", {"code": "not_yours", "detail": f"order {order_id} is not on your route", "ref": ref})
            return False
        return True

    async def ping(self, lat: float, lng: float) -> None:
        """Latest position and (throttled) a position frame to each order's tracker, in one Redis round trip;
        the dispatcher hears of it every ``position_report_s`` seconds."""
        now = time.time()
        at = int(now * 1000)
        fanout = now - self.last_fanout >= self.cfg.position_throttle_s
        if fanout:
            self.last_fanout = now
        body = K.frame_body("position", {"courier": self.me, "lat": lat, "lng": lng, "at": at}, at)
        await self.app.ping(keys=[K.courier_key(self.me)], args=[lat, lng, at, "1" if fanout else "0", body])
        if now - self.last_report >= self.cfg.position_report_s:
            self.last_report = now
            await self.report("position", {"lat": lat, "lng": lng})


@router.websocket("/ws/courier")
async def courier(ws: WebSocket, token: str | None = None, after: After = 0) -> None:
    await ws.accept()
    app = ws.app.state
    try:
        who = read_access_token(_bearer(ws, token) or "", app.settings.jwt_secret)
    except TokenError as exc:
        await refuse(ws, "unauthorized", str(exc), 4401)
        return
    if who.role != "courier":
        await refuse(ws, "forbidden", f"this socket is for couriers; you are {who.role}", 4403)
        return
    me = who.entity or who.user
    conn = Conn(ws, await _start_at(app.redis, "courier", me, after))
    conn.hold()
    session = CourierSession(ws, who, conn)
    await app.hub.follow(K.stream("courier", session.me)[2], conn)
    try:
        state = await session.state()
        conn.control("hello", {"courier": session.me, "status": state.get("status", "off_shift"), "orders": json.loads(state.get("orders", "[]")),
                               "offered": json.loads(state.get("offered", "[]"))})
        await _replay(app.redis, conn, "courier", session.me, conn.last_seq)
        while True:
            frame = parse(await receive(ws), COURIER_FRAMES, app.settings.ws_max_frame_bytes)
            if isinstance(frame, tuple):
                conn.control("error", {"code": frame[0], "detail": frame[1], "ref": frame[2]})
                continue
            try:
                await session.handle(frame)
            except (RedisError, NotDurable) as exc:  # an overloaded or blipping Redis fails this frame, not the socket
                log.warning("courier %s: %s frame failed: %s", session.me, frame.type, exc)
                conn.control("error", {"code": "unavailable", "detail": "try again shortly", "ref": frame.id})
    except WebSocketDisconnect:
        pass
    finally:
        await app.hub.leave(conn)
