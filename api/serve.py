"""``dispatch serve``: Redis (embedded unless ``REDIS_URL``), the city, the live regions, then uvicorn."""
from __future__ import annotations

import logging
import os
import signal

import redis

from actors import live_keys as K
from api.city import load_city, seed_city
from api.engine import make_engine
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
    os.environ["REDIS_URL"] = url  # the uvicorn workers read their Settings from the environment
    engine = make_engine(settings, url)
    try:
        engine.start(regions)
        log.info("serving %d regions on http://%s:%d (redis %s, engine %s)", len(regions), host, port, url, settings.engine)
        uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                    ws_max_size=WS_MAX_BYTES, log_level=log_level, lifespan="on")
    finally:
        engine.close()
        if embedded is not None:
            embedded.stop()
