"""A socket whose missing frames cannot be filled in (Redis away again when the gap shows) is closed with 1013, so
its client resumes with ``after``; it is never sent the frame after the gap as if nothing were missing."""
from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from starlette.websockets import WebSocketState

from api.hub import Conn


class Socket:
    """What ``Conn`` uses of a Starlette WebSocket: it records what it is sent and how it is closed."""

    def __init__(self) -> None:
        self.client_state = WebSocketState.CONNECTED
        self.sent: list[str] = []
        self.closed: int | None = None

    async def send_text(self, text: str) -> None:
        self.sent.append(text)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = code
        self.client_state = WebSocketState.DISCONNECTED


class GoneRedis:
    async def xrange(self, *args: Any, **kwargs: Any) -> Any:
        raise RedisConnectionError("Connection refused")


class Stream:
    def __init__(self, frames: list[str]) -> None:
        self.frames = frames

    async def xrange(self, key: str, lo: str, hi: str, count: int) -> Any:
        return [(b"x", {b"f": f.encode()}) for f in self.frames]


def frame(seq: int) -> str:
    return '{"seq":%d,"type":"status","ts":0,"data":{}}' % seq


def run(redis: Any) -> Socket:
    async def go() -> Socket:
        ws = Socket()
        conn = Conn(ws, after=3)  # type: ignore[arg-type]
        conn.frames = (redis, "frames:order:o1")
        conn.push(frame(4))
        conn.push(frame(7))  # 5 and 6 never came through pub/sub
        await asyncio.sleep(0.05)
        await conn.close()
        return ws

    return asyncio.run(go())


def test_a_gap_that_cannot_be_filled_closes_the_socket_for_a_resume() -> None:
    ws = run(GoneRedis())
    assert ws.sent == [frame(4)], "nothing after the gap is sent as if it were whole"
    assert ws.closed == 1013


def test_a_gap_that_can_be_filled_is_filled_in_order() -> None:
    ws = run(Stream([frame(5), frame(6)]))
    assert ws.sent == [frame(4), frame(5), frame(6), frame(7)] and ws.closed is None
