"""Fan-out of Redis pub/sub frames to this worker's sockets.

One pub/sub connection per worker, subscribed to a channel while at least one local socket follows
it; each socket has its own bounded queue and sender task, so one slow client never delays the
others. A frame goes only to the sockets that follow its order, courier or ops stream.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from starlette.websockets import WebSocket, WebSocketState

from actors import live_keys as K
from api.cancel import cancel_requested

log = logging.getLogger(__name__)
QUEUE_LIMIT = 1000
GAP_LIMIT = 500  # frames a socket is sent from the stream to fill one gap; a longer one its client resumes
# KEYS: seq counters; ARGV: the floor of each. A counter below its floor (Redis came back without its
# last writes, so it numbers frames the sockets already passed) is raised to it.
SEQ_FLOOR = """
local raised = 0
for i, key in ipairs(KEYS) do
  local floor = tonumber(ARGV[i])
  if tonumber(redis.call('GET', key) or '0') < floor then
    redis.call('SET', key, floor)
    raised = raised + 1
  end
end
return raised
"""


def seq_of(frame: str) -> int | None:
    """The ``seq`` of a stream frame (they all start with '{"seq":N,'), without parsing the JSON."""
    if frame.startswith('{"seq":'):
        end = frame.find(",", 7)
        try:
            return int(frame[7:end])
        except ValueError:
            return None
    return None


class Conn:
    """One socket: a queue, a sender task, and the last ``seq`` it was sent."""

    def __init__(self, ws: WebSocket, after: int = 0) -> None:
        self.ws = ws
        self.last_seq = after
        self.frames: tuple[Any, str] | None = None  # (redis, durable frames stream) of what it follows: fills gaps
        self.dropped = 0
        self.held: list[str] | None = None
        self.channels: set[str] = set()
        self.next_ping = 0.0  # monotonic time of its next keepalive (set when it joins the hub)
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(QUEUE_LIMIT)
        self.task = asyncio.create_task(self._send())

    def hold(self) -> None:
        """Keep live frames aside while a replay is queued, so the replay goes out first, in order."""
        if self.held is None:
            self.held = []

    def release(self) -> None:
        held, self.held = self.held, None
        for frame in held or ():
            self.push(frame)

    def push_live(self, frame: str) -> None:
        if self.held is not None:
            self.held.append(frame)
        else:
            self.push(frame)

    def push(self, frame: str) -> None:
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.dropped += 1  # a client this far behind resumes with ``after`` when it reconnects

    def control(self, kind: str, data: dict[str, Any] | None = None) -> None:
        """A control frame: it repeats the last ``seq`` sent (filled in by the sender). A keepalive
        ping waits behind a replay like a live frame, so ``hello`` always comes first."""
        push = self.push_live if kind == "ping" else self.push
        push(json.dumps({"seq": None, "type": kind, "ts": int(time.time() * 1000), "data": data or {}}, separators=(",", ":")))

    async def _send(self) -> None:
        try:
            while True:
                frame = await self.queue.get()
                if frame is None:
                    return
                seq = seq_of(frame)
                if frame.startswith('{"seq":null'):
                    frame = '{"seq":%d' % self.last_seq + frame[11:]
                elif seq is not None:
                    if seq <= self.last_seq:
                        continue  # already sent (a replayed frame also heard live)
                    if seq > self.last_seq + 1 and self.last_seq > 0 and not await self._fill_gap(seq):
                        # frames are missing that it cannot send now: the client resumes from what it has
                        with contextlib.suppress(Exception):
                            await self.ws.close(code=1013, reason="frames missed: reconnect with after")
                        return
                    self.last_seq = seq
                if self.ws.client_state != WebSocketState.CONNECTED:
                    return
                await self.ws.send_text(frame)
        except Exception as exc:  # noqa: BLE001 - the socket went away; its handler cleans up
            log.debug("sender stopped: %s", exc)

    async def _fill_gap(self, seq: int) -> bool:
        """Frames between the last sent and ``seq`` that pub/sub never brought (its connection was down while they
        were published: a Redis restart, a ``CLIENT KILL``; or this socket's queue overflowed) go out first, from the
        durable stream, in order. Before, a courier app missed its ``offer_accepted`` so and never rode to the store
        (bench/chaos.py). False when it cannot (Redis is away again, or more than ``GAP_LIMIT`` are missing): the
        socket is then closed (1013), and the client's resume with ``after`` brings them."""
        if self.frames is None:
            return True
        r, key = self.frames
        try:
            missed = await r.xrange(key, f"({self.last_seq}-1", f"({seq}-1", count=GAP_LIMIT)
        except Exception as exc:  # noqa: BLE001 - Redis is away again: the client's resume has them
            log.warning("filling frames %d..%d of %s failed: %s; closing the socket so it resumes", self.last_seq + 1, seq - 1, key, exc)
            return False
        if len(missed) >= GAP_LIMIT:
            log.warning("%d or more frames of %s missing before %d; closing the socket so it resumes", GAP_LIMIT, key, seq)
            return False
        for _, fields in missed:
            frame = fields[b"f"].decode()
            at = seq_of(frame)
            if at is None or not self.last_seq < at < seq or self.ws.client_state != WebSocketState.CONNECTED:
                continue
            await self.ws.send_text(frame)
            self.last_seq = at
        return True

    async def close(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.task, 2)
        self.task.cancel()


class Hub:
    def __init__(self, redis: Any, ping_s: float) -> None:
        self.r = redis
        self.ping_s = ping_s
        self.channels: dict[str, set[Conn]] = {}
        self.conns: set[Conn] = set()
        self.pubsub = redis.pubsub()
        self._seq_floor = redis.register_script(SEQ_FLOOR)
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.pubsub.subscribe("hub:keepalive")
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._keepalive())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for conn in list(self.conns):
            await conn.close()
        with contextlib.suppress(Exception):
            await self.pubsub.aclose()

    async def follow(self, channel: str, conn: Conn) -> None:
        async with self._lock:
            followers = self.channels.get(channel)
            if followers is None:
                followers = self.channels[channel] = set()
                await self.pubsub.subscribe(channel)
            followers.add(conn)
            conn.channels.add(channel)
            frames = K.frames_key_of_channel(channel)
            if frames is not None and conn.frames is None:
                conn.frames = (self.r, frames)
            if conn not in self.conns:
                conn.next_ping = time.monotonic() + self.ping_s
                self.conns.add(conn)

    async def leave(self, conn: Conn) -> None:
        async with self._lock:
            self.conns.discard(conn)
            for channel in conn.channels:  # the socket's own channels: no scan of every channel
                followers = self.channels.get(channel)
                if followers is None:
                    continue
                followers.discard(conn)
                if not followers:
                    del self.channels[channel]
                    await self.pubsub.unsubscribe(channel)
            conn.channels.clear()
        await conn.close()

    async def raise_seq_floors(self) -> int:
        """After Redis came back: no stream counter below the last ``seq`` a socket here was sent, so the
        frames that follow are numbered past it (a socket drops frames it has passed). Returns how many
        counters were behind."""
        floors: dict[str, int] = {}
        for channel, conns in self.channels.items():
            key = K.seq_key_of_channel(channel)
            if key is not None and conns:
                floors[key] = max(c.last_seq for c in conns)
        if not floors:
            return 0
        raised = int(await self._seq_floor(keys=list(floors), args=list(floors.values())))
        if raised:
            log.warning("redis came back behind %d streams' frame numbers; raised them to what the sockets saw", raised)
        return raised

    async def _read(self) -> None:
        lost = False
        while not cancel_requested():  # a cancellation a Redis call swallowed ends it too
            try:
                msg = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if lost:
                    lost = False
                    await self.raise_seq_floors()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis blipped: keep going, sockets resume by seq
                log.warning("pub/sub read failed: %s", exc)
                lost = True
                await asyncio.sleep(0.5)
                continue
            if msg is None or msg.get("type") != "message":
                continue
            channel = msg["channel"].decode()
            frame = msg["data"].decode()
            for conn in tuple(self.channels.get(channel, ())):
                conn.push_live(frame)

    async def _keepalive(self) -> None:
        """Each socket hears a ping ``ping_s`` seconds after it joined and every ``ping_s`` after that, so
        pings spread over the period: pinging every socket at one instant stalled the worker
        (bench/ws_tracking.py: p99 383 ms vs 11 ms at 3,000 sockets)."""
        step = min(0.25, self.ping_s / 2)
        while True:
            await asyncio.sleep(step)
            now = time.monotonic()
            for conn in tuple(self.conns):
                if conn.next_ping <= now:
                    conn.next_ping = now + self.ping_s
                    conn.control("ping")
