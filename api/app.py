"""The FastAPI application: REST, WebSockets and the customer pages. Stateless per worker.

``create_app`` is a factory (``uvicorn --factory api.app:create_app``): each worker reads the
``Settings`` from its environment and talks only to Redis; the dispatcher runs elsewhere (the
live region actors started by ``dispatch serve``).
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import redis.asyncio as aioredis
from fastapi import FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError, WebSocketRequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from redis.exceptions import RedisError
from starlette.websockets import WebSocketState

from actors import live_keys as K
from actors.durability import Fsync, NotDurable
from api import logredact, pages
from api.durable import DurableWrites
from api import orders as svc
from api.hub import Hub
from api.openapi_doc import document_errors
from api.routes import auth, couriers, ops, orders, stores
from api.shop import aftersales_routes
from api.shop import routes as shop_routes
from api.shop import workers as shop_workers
from api.shop.catalog_store import city_catalog
from api.shop.checkout import Shop
from api.security import TokenError, read_tracking_token
from api.settings import Settings
from api.throttle import SignInThrottle
from api.ws import refuse, tracking_state
from api.ws import router as ws_router

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
DESCRIPTION = """Real-time O2O delivery: customers order and track, couriers take offers over a WebSocket,
stores see their own orders, planners watch zones. The WebSocket protocol is in `docs/websocket-protocol.md`.
Sign in with `POST /auth/token` (OAuth2 password flow); roles: customer, courier, store, planner, admin."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    logredact.install()  # tokens in ?token= stay out of uvicorn's access and handshake logs

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.redis_url:
            raise RuntimeError("REDIS_URL is not set: start the service with `dispatch serve`, which starts Redis, or set REDIS_URL")
        # a blocking pool: a burst beyond the pool waits for a connection instead of failing the request
        pool = aioredis.BlockingConnectionPool.from_url(settings.redis_url, max_connections=256, timeout=20)
        app.state.redis = aioredis.Redis(connection_pool=pool)
        app.state.emit = app.state.redis.register_script(K.EMIT)
        app.state.ping = app.state.redis.register_script(K.PING)
        app.state.fsync = Fsync()
        app.state.hub = Hub(app.state.redis, settings.ws_ping_s)
        app.state.signin = SignInThrottle(app.state.redis, settings)
        await app.state.hub.start()
        app.state.shop = Shop(app.state.redis, settings, await city_catalog(app.state.redis))
        background = shop_workers.start(app.state.shop)
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await app.state.hub.stop()
            await app.state.redis.aclose()

    app = FastAPI(title="O2O dispatch", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.add_middleware(DurableWrites)
    for router in (pages.router, auth.router, orders.router, stores.router, couriers.router, ops.router, shop_routes.router, aftersales_routes.router, ws_router):
        app.include_router(router)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        reasons = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return JSONResponse({"detail": reasons}, status_code=422)

    @app.exception_handler(WebSocketRequestValidationError)
    async def invalid_socket(ws: WebSocket, exc: WebSocketRequestValidationError) -> None:
        """A socket whose query is invalid (``after`` out of range, say) is told why, then closed (4400)."""
        reasons = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        await ws.accept()
        await refuse(ws, "bad_query", reasons, 4400)

    @app.exception_handler(RedisError)
    @app.exception_handler(NotDurable)
    async def storage_down(request: Request | WebSocket, exc: Exception) -> JSONResponse | None:
        """Redis is down, restarting or paused: a clear 503 the client retries (with its Idempotency-Key), not a 500.
        A socket is told ``unavailable`` and closed with 1013 (try again later): it reconnects with ``after``."""
        if isinstance(request, WebSocket):
            log.warning("socket %s: storage unavailable: %s", request.url.path, exc)
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):  # the client may be gone already
                if request.application_state == WebSocketState.CONNECTING:
                    await request.accept()
                await refuse(request, "unavailable", "storage unavailable (Redis is down or restarting); reconnect shortly "
                                                     "with after=<last seq>", 1013)
            return None
        log.warning("%s %s: storage unavailable: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": "storage unavailable (Redis is down or restarting); retry shortly with the same "
                                       "Idempotency-Key"}, status_code=503, headers={"Retry-After": "1"})

    @app.get("/", include_in_schema=False)
    async def home() -> FileResponse:
        return FileResponse(STATIC / "shop.html")

    @app.get("/track/{order_id}", include_in_schema=False)
    async def track_page(order_id: str) -> FileResponse:
        return FileResponse(STATIC / "track.html")

    @app.get("/track/{order_id}/state", operation_id="tracking_state", tags=["tracking"])
    async def track_state(order_id: str, token: str) -> dict:
        """What the tracking page draws: the order (without PIN), store, courier position, route cells. Needs the tracking token."""
        try:
            read_tracking_token(token, settings.tracking_secret, order_id)
        except TokenError as exc:
            raise HTTPException(401, str(exc)) from None
        try:
            order = await svc.load_order(app.state.redis, order_id)
        except svc.OrderError as exc:
            raise HTTPException(exc.status, exc.detail) from None
        return await tracking_state(app.state.redis, order)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> RedirectResponse:
        return RedirectResponse("/static/none", status_code=404)

    document_errors(app)
    return app
