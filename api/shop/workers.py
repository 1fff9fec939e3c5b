"""Background work of each API worker for the shop: release unpaid checkouts, credit points on delivery.

Both are safe with many workers: a checkout changes state once (``checkout.MOVE``), and the
delivered-events stream is read through one consumer group, each entry by one worker, with the
ledger refusing a second credit for the same order.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time

from actors import live_keys as K
from actors.live_host import minutes_now
from api.cancel import cancel_requested
from api.shop.checkout import Shop
from commerce.membership import points_earned

log = logging.getLogger(__name__)
GROUP = "points"


async def sweep_unpaid(shop: Shop, every_s: float = 5.0) -> None:
    while not cancel_requested():
        try:
            released = await shop.expire(time.time())
            if released:
                log.info("released %d unpaid checkouts", released)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - try again next round
            log.exception("sweeping unpaid checkouts failed")
        await asyncio.sleep(every_s)


async def credit_points(shop: Shop, block_ms: int = 2000) -> None:
    r = shop.r
    with contextlib.suppress(Exception):  # BUSYGROUP: another worker made it
        await r.xgroup_create(K.DELIVERED, GROUP, id="0", mkstream=True)
    me = f"worker-{os.getpid()}"
    while not cancel_requested():
        try:
            batches = await r.xreadgroup(GROUP, me, {K.DELIVERED: ">"}, count=100, block=block_ms)
            for _, entries in batches or []:
                for entry_id, fields in entries:
                    await credit_one(shop, fields[b"order"].decode())
                    await r.xack(K.DELIVERED, GROUP, entry_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - unacknowledged entries stay pending; try again
            log.exception("crediting points failed")
            await asyncio.sleep(1.0)


async def credit_one(shop: Shop, order_id: str) -> int | None:
    """Points for a delivered, paid checkout (once: the ledger refuses a second ``earn`` for it)."""
    try:
        c = await shop.load(order_id)
    except Exception:  # noqa: BLE001 - a plain delivery order without a basket earns nothing
        return None
    if c["status"] != "paid":
        return None
    goods_paid = int(c["goods_paid_cents"])
    # an after-sales refund made before this credit ran revoked nothing (``aftersales_store``): earn on what is left
    earned = points_earned(goods_paid - min(int(c.get("refunded_cents") or 0), goods_paid))
    if earned <= 0:
        return None
    return await shop.wallet.points(c["customer"], earned, "earn", order_id, minutes_now())


def start(shop: Shop) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(sweep_unpaid(shop, shop.cfg.sweep_s)), asyncio.create_task(credit_points(shop))]
