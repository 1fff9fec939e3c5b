"""The shop's catalog for the served city: the demo catalog over the city's stores, stock in Redis.

Products, prices and categories are static per deployment (built the same way in every worker);
stock changes with every sale, so it lives in Redis (``api.shop.inventory``), seeded once.
"""
from __future__ import annotations

import json
from typing import Any

from actors import live_keys as K
from commerce.demo_catalog import demo_catalog


def _stores(raw: dict[Any, Any]) -> list[tuple[str, str, float, float]]:
    rows = [json.loads(v) for v in raw.values()]
    return sorted((s["id"], s["name"], float(s["lat"]), float(s["lng"])) for s in rows)


async def city_catalog(r: Any) -> Any:
    return demo_catalog(_stores(await r.hgetall(K.STORES)))


def seed_stock(r: Any) -> None:
    """Initial stock of every store item (kept when already there: Redis holds the live levels)."""
    from api.shop.inventory import stock_key

    catalog = demo_catalog(_stores(r.hgetall(K.STORES)))
    pipe = r.pipeline()
    for item in catalog.items():
        pipe.hsetnx(stock_key(item.store_id), item.sku, item.stock)
    pipe.execute()
