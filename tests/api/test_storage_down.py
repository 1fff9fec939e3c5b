"""With Redis gone (killed, restarting, paused) the API answers 503 with a reason and Retry-After,
never a 500, and a write whose fsync Redis cannot confirm is not acknowledged."""
from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from redis.exceptions import ConnectionError as RedisConnectionError

from actors.durability import Fsync, NotDurable
from api.app import create_app
from api.security import Principal, access_token, tracking_token
from api.settings import Settings
from api.throttle import SignInThrottle


async def _refused(*args: Any, **kwargs: Any) -> None:
    raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


class DeadRedis:
    """Every command (and script) fails as a client of a killed Redis does."""

    def register_script(self, script: str) -> Any:
        return _refused

    def __getattr__(self, name: str) -> Any:
        return _refused


def test_a_request_that_meets_a_dead_redis_gets_503_with_a_reason() -> None:
    settings = Settings(redis_url="redis://127.0.0.1:1/0")
    app = create_app(settings)
    app.state.redis, app.state.fsync = DeadRedis(), Fsync()
    app.state.signin = SignInThrottle(app.state.redis, settings)
    client = TestClient(app, raise_server_exceptions=False)  # no lifespan: nothing connects at start
    reply = client.post("/auth/token", data={"username": "alice", "password": "demo"})
    assert reply.status_code == 503 and reply.headers["retry-after"] == "1"
    assert "storage unavailable" in reply.json()["detail"]


class Unconfirmed(Fsync):
    async def wait_async(self, redis: Any) -> None:
        raise NotDurable("Redis did not confirm the append-only fsync within 2000 ms")


def test_a_write_not_confirmed_on_disk_is_answered_503_not_acknowledged() -> None:
    app = create_app(Settings(redis_url="redis://127.0.0.1:1/0"))

    @app.post("/probe-write")
    async def probe() -> dict[str, str]:
        return {"status": "saved"}

    app.state.redis, app.state.fsync = DeadRedis(), Unconfirmed()
    client = TestClient(app, raise_server_exceptions=False)
    reply = client.post("/probe-write")
    assert reply.status_code == 503 and "Idempotency-Key" in reply.json()["detail"] and "status" not in reply.json()
    app.state.fsync = Fsync()
    app.state.fsync.enabled = False  # a Redis without an append-only file: nothing to wait for
    assert client.post("/probe-write").json() == {"status": "saved"}


class SilentHub:
    """The fan-out hub of a service whose Redis is gone: sockets join and leave, nothing comes."""

    async def follow(self, channel: str, conn: Any) -> None:
        return None

    async def leave(self, conn: Any) -> None:
        return None


def test_a_socket_opened_while_redis_is_down_is_told_so_and_closed_to_retry() -> None:
    """Each endpoint's first Redis call fails: one ``unavailable`` error frame, then close 1013 (try again later)."""
    settings = Settings(redis_url="redis://127.0.0.1:1/0")
    app = create_app(settings)
    app.state.redis, app.state.fsync, app.state.hub = DeadRedis(), Fsync(), SilentHub()
    client = TestClient(app, raise_server_exceptions=False)
    track = tracking_token("o1", settings.tracking_secret, 1)
    courier = access_token(Principal("courier-1", "courier", "courier-1"), settings.jwt_secret, 10)
    planner = access_token(Principal("planner", "planner", ""), settings.jwt_secret, 10)
    for path in (f"/ws/track/o1?token={track}", f"/ws/courier?token={courier}", f"/ws/ops?token={planner}"):
        with client.websocket_connect(path) as ws:
            frame = ws.receive_json()
            assert frame["type"] == "error" and frame["data"]["code"] == "unavailable", (path, frame)
            assert "storage unavailable" in frame["data"]["detail"]
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 1013, path
