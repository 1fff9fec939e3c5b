"""``dispatch serve``: Redis (embedded unless ``REDIS_URL``), the city, the dispatch engine, then uvicorn.

The engine (the Ray driver, or the local engine's threads) runs in a child process watched by
``EngineSupervisor``, not here: a Ray that dies takes its driver's process with it, and this process
is the uvicorn supervisor, whose end would close the API. However ``serve`` ends (SIGTERM, SIGINT,
a fatal error) it stops the engine, then the embedded Redis it started.
"""
from __future__ import annotations

import logging
import os
import signal

import redis

from actors import live_keys as K
from api.city import load_city, seed_city
from api.engine_supervisor import EngineSupervisor
from api.redis_server import EmbeddedRedis
from api.settings import Settings
from api.shop.catalog_store import seed_stock
from api.shop.promotions import seed_promotions

log = logging.getLogger(__name__)
WS_MAX_BYTES = 1024 * 1024  # beyond this uvicorn closes the socket (1009); below it the app answers too_large


def prepare(settings: Settings) -> tuple[str, EmbeddedRedis | None, list[int]]:
    """Start Redis if needed and load the city; returns (redis url, the embedded server or None, regions)."""
    embedded = None
    url = settings.redis_url
    if not url:
        embedded = EmbeddedRedis(data_dir=settings.data_dir / "redis", persist=True)
        url = embedded.start()
    client = redis.Redis.from_url(url)
    try:
        stores = load_city(settings.scenario)
        seed_city(client, stores, settings.demo_accounts, settings.demo_couriers)
        seed_stock(client)
        seed_promotions(client)
        regions = sorted({int(t, 16) for t in client.smembers(K.REGIONS)})
    except BaseException:
        if embedded is not None:  # a city that does not load leaves no Redis behind
            embedded.stop()
        raise
    finally:
        client.close()
    return url, embedded, regions


def _exit_on_term(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, log_level: str = "info") -> None:
    import uvicorn

    # uvicorn re-raises SIGTERM after its shutdown; a handler that exits lets the finally below stop Redis
    signal.signal(signal.SIGTERM, _exit_on_term)
    url, embedded, regions = prepare(settings)
    supervisor: EngineSupervisor | None = None
    try:
        os.environ["REDIS_URL"] = url  # the uvicorn workers and the engine read their Settings from the environment
        supervisor = EngineSupervisor(settings, url, regions)
        supervisor.start()
        log.info("serving %d regions on http://%s:%d (redis %s, engine %s in a supervised process)", len(regions), host, port,
                 url, settings.engine)
        uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                    ws_max_size=WS_MAX_BYTES, log_level=log_level, lifespan="on")
    finally:
        # a second Ctrl-C or SIGTERM must not cut the clean-up short and leave the engine or Redis running
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            if supervisor is not None:
                supervisor.stop()
        finally:
            if embedded is not None:
                embedded.stop()
