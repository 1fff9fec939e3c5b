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

from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from actors import live_keys as K
from actors.live_host import minutes_now
from api.cancel import cancel_requested
from api.shop.checkout import Shop
from commerce.errors import CommerceError
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
        except (RedisConnectionError, RedisTimeoutError, BusyLoadingError) as exc:
            log.warning("sweeping unpaid checkouts waits for Redis: %s", exc)
        except Exception:  # noqa: BLE001 - try again next round
            log.exception("sweeping unpaid checkouts failed")
        await asyncio.sleep(every_s)


async def credit_points(shop: Shop, block_ms: int = 2000, claim_idle_ms: int = 30_000, claim_every_s: float = 10.0) -> None:
    """Credit the points of each delivered order, read from ``K.DELIVERED`` through one consumer group.

    An entry is acknowledged only after its credit is written (the ledger refuses a second credit, so a credit done
    twice is done once). What this worker read but did not acknowledge (Redis went away mid-batch) is read again
    first (id ``0``); what a worker that died left pending is claimed after ``claim_idle_ms`` (``XAUTOCLAIM``), so no
    delivery's points wait for a worker that is gone.
    """
    r = shop.r
    with contextlib.suppress(Exception):  # BUSYGROUP: another worker made it
        await r.xgroup_create(K.DELIVERED, GROUP, id="0", mkstream=True)
    me = f"worker-{os.getpid()}"
    backlog, claimed_at = True, 0.0
    while not cancel_requested():
        try:
            if backlog and time.monotonic() - claimed_at >= claim_every_s:
                await r.xautoclaim(K.DELIVERED, GROUP, me, claim_idle_ms, "0-0", count=100, justid=True)
                claimed_at = time.monotonic()
            batches = await r.xreadgroup(GROUP, me, {K.DELIVERED: "0" if backlog else ">"}, count=100,
                                         block=None if backlog else block_ms)
            entries = [entry for _, rows in batches or [] for entry in rows]
            if backlog and not entries:
                backlog = False
            for entry_id, fields in entries:
                order = fields.get(b"order") if fields else None
                if order is not None:
                    await credit_one(shop, order.decode())
                await r.xack(K.DELIVERED, GROUP, entry_id)
            if not backlog and time.monotonic() - claimed_at >= claim_every_s:
                backlog = True  # now and then: what died with another worker
        except asyncio.CancelledError:
            raise
        except (RedisConnectionError, RedisTimeoutError, BusyLoadingError) as exc:
            log.warning("crediting points waits for Redis: %s", exc)
            backlog = True
            await asyncio.sleep(1.0)
        except Exception:  # noqa: BLE001 - unacknowledged entries stay pending and are read again
            log.exception("crediting points failed")
            backlog = True
            await asyncio.sleep(1.0)


async def credit_one(shop: Shop, order_id: str) -> int | None:
    """Points for a delivered, paid checkout (once: the ledger refuses a second ``earn`` for it)."""
    try:
        c = await shop.load(order_id)
    except CommerceError:  # a plain delivery order without a basket earns nothing
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
