"""Helpers of the shop tests (tests/api/test_shop_*.py): carts, minted customers, webhooks, Redis state.

Everything here talks to a ``Live`` service (tests/api/conftest.py) over HTTP or reads its Redis
directly, so the tests assert what a client sees and what is stored.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from collections import Counter
from collections.abc import Awaitable, Callable

import httpx
import redis.asyncio as aioredis
import websockets

from api.security import Principal, access_token
from api.shop import wallet as W
from api.shop.checkout import sale_id
from api.shop.inventory import limit_key, reservation_key, sold_key, stock_key
from api.shop.promotions import FLASH, flash_from
from commerce.payments import PaymentIntent, SimulatedProvider
from tests.api.conftest import Live


def minted(live: Live, name: str, role: str = "customer", entity: str | None = None) -> dict[str, str]:
    """Bearer headers for any principal, without a sign-in (the API trusts its own JWTs)."""
    token = access_token(Principal(name, role, name if entity is None else entity), live.settings.jwt_secret, 60)
    return {"Authorization": f"Bearer {token}"}


def as_demo(live: Live, user: str) -> dict[str, str]:
    """Bearer headers of a demo account (same role and entity as its sign-in gives), minted: argon2 sign-ins are slow."""
    if user in ("admin", "planner"):
        return minted(live, user, user, "")
    if user.startswith("courier-"):
        return minted(live, user, "courier", user)
    if user.startswith("store-"):
        return minted(live, user, "store", user.removeprefix("store-"))
    return minted(live, user)


_STORES: dict[str, dict[str, Any]] = {}  # the demo city's stores do not change between tests


def store_of(live: Live, store_id: str) -> dict[str, Any]:
    if store_id not in _STORES:
        _STORES.update({s["id"]: s for s in live.stores()})
    return _STORES[store_id]


def cart(live: Live, store_id: str, lines: list[tuple[str, int]], **extra: Any) -> dict[str, Any]:
    """A checkout body for ``lines`` of ``store_id``, delivered ~550 m north of the store."""
    store = store_of(live, store_id)
    return {"store_id": store_id, "lines": [{"sku": s, "qty": q} for s, q in lines],
            "dropoff": {"lat": store["lat"] + 0.005, "lng": store["lng"]}, **extra}


def place(live: Live, headers: dict[str, str], body: dict[str, Any], key: str | None = None) -> httpx.Response:
    return httpx.post(f"{live.base}/checkout/orders", json=body, headers={**headers, **({"Idempotency-Key": key} if key else {})})


def placed(live: Live, headers: dict[str, str], body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    reply = place(live, headers, body, key)
    assert reply.status_code == 201, reply.text
    return reply.json()


def simulate(live: Live, headers: dict[str, str], order_id: str, outcome: str = "succeeded") -> httpx.Response:
    return httpx.post(f"{live.base}/payments/{order_id}/simulate", json={"outcome": outcome}, headers=headers)


def pay(live: Live, headers: dict[str, str], order_id: str) -> None:
    reply = simulate(live, headers, order_id)
    assert reply.status_code == 200 and reply.json()["reply"]["result"] == "dispatched", reply.text


def provider(live: Live, order_id: str, secret: str | None = None) -> tuple[SimulatedProvider, PaymentIntent]:
    """The simulated provider holding this checkout's intent, as the pay page builds it."""
    c = checkout(live, order_id)
    p = SimulatedProvider(secret or live.settings.payment_secret)
    return p, p.adopt(PaymentIntent(order_id, order_id, int(c["total_cents"]), float(c["created"])))


def webhook(live: Live, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{live.base}/payments/webhook", content=body, headers={**headers, "Content-Type": "application/json"})


def get_checkout(live: Live, headers: dict[str, str], order_id: str) -> httpx.Response:
    return httpx.get(f"{live.base}/checkout/orders/{order_id}", headers=headers)


def cancel(live: Live, headers: dict[str, str], order_id: str) -> httpx.Response:
    return httpx.post(f"{live.base}/checkout/orders/{order_id}/cancel", headers=headers)


# -- Redis state -------------------------------------------------------------------------------
def checkout(live: Live, order_id: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in live.redis.hgetall(f"checkout:{order_id}").items()}


def stock(live: Live, store_id: str, sku: str) -> int:
    return int(live.redis.hget(stock_key(store_id), sku))


def sold(live: Live, store_id: str, sku: str) -> int:
    return int(live.redis.hget(sold_key(store_id), sku) or 0)


def reservation(live: Live, store_id: str, order_id: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in live.redis.hgetall(reservation_key(store_id, order_id)).items()}


def flash_bought(live: Live, store_id: str, sku: str, customer: str) -> int:
    """Units the customer holds under the SKU's current flash sale (its per-customer counter)."""
    sale = flash_from(live.redis.hget(f"{FLASH}:{store_id}", sku))
    return int(live.redis.get(limit_key(store_id, sku, customer, sale_id(sale))) or 0)


def coupon_uses(live: Live, code: str, customer: str) -> int:
    return int(live.redis.hget(W.coupon_uses_key(code), customer) or 0)


def balance(live: Live, customer: str) -> int:
    return int(live.redis.get(W.points_keys(customer)[0]) or 0)


def ledger(live: Live, customer: str) -> list[dict[str, str]]:
    """The customer's points entries, oldest first."""
    return [{k.decode(): v.decode() for k, v in f.items()} for _, f in live.redis.xrange(W.points_keys(customer)[1])]


def give_points(live: Live, customer: str, points: int, ref: str = "welcome") -> None:
    """An ``adjust`` entry through the wallet's own script (sync client), as an admin grant would write it."""
    code, _ = live.redis.eval(W.POINTS, 3, *W.points_keys(customer), points, "adjust", ref, 0)
    assert int(code) == 1


def refunds(live: Live, order_id: str | None = None) -> list[dict[str, str]]:
    rows = [{k.decode(): v.decode() for k, v in f.items()} for _, f in live.redis.xrange("refunds")]
    return [r for r in rows if order_id is None or r["order"] == order_id]


def order_status(live: Live, order_id: str) -> str | None:
    raw = live.redis.hget(f"order:{order_id}", "status")
    return None if raw is None else raw.decode()


# -- a courier delivers ------------------------------------------------------------------------
def shift_on(live: Live, courier: str, store_id: str) -> None:
    """The courier starts a shift at the store (before the order is paid, so the first offer is theirs)."""
    store = store_of(live, store_id)
    reply = httpx.post(f"{live.base}/couriers/me/shift", json={"on": True, "lat": store["lat"], "lng": store["lng"]},
                       headers=minted(live, courier, "courier", courier))
    assert reply.status_code == 202, reply.text


def deliver(live: Live, courier: str, order_id: str, pin: str, stop_at: str = "delivered") -> None:
    """Drive ``courier`` (on shift: ``shift_on``) over the real courier WebSocket: accept the offer, pick up, drop off with the PIN.

    ``stop_at="picked_up"`` leaves the order on its way (picked up, not delivered).
    """
    headers = minted(live, courier, "courier", courier)

    async def run() -> None:
        async with websockets.connect(f"{live.ws}/ws/courier", additional_headers=headers) as app:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                frame = json.loads(await asyncio.wait_for(app.recv(), 10))
                if frame["type"] == "offer" and order_id in frame["data"]["orders"]:
                    await app.send(json.dumps({"type": "accept", "offer": frame["data"]["offer"]}))
                elif frame["type"] == "offer_accepted":
                    await app.send(json.dumps({"type": "pickup", "orders": [order_id]}))
                elif frame["type"] == "status" and frame["data"]["status"] == "delivering":
                    if stop_at == "picked_up":
                        return
                    await app.send(json.dumps({"type": "dropoff", "order": order_id, "pin": pin}))
                elif frame["type"] == "status" and frame["data"]["status"] == "idle" and frame["seq"] > 1:
                    return
            raise AssertionError(f"{courier} did not finish {order_id}")

    asyncio.run(run())
    live.wait(lambda: order_status(live, order_id) == stop_at, what=f"order {order_id} {stop_at}")


class CourierApp:
    """One courier's app on the real ``/ws/courier``, frames kept as they come (``until`` waits for one). ``async with``."""

    def __init__(self, live: Live, courier: str) -> None:
        self.live, self.courier = live, courier
        self.frames: list[dict[str, Any]] = []
        self._new = asyncio.Event()

    async def __aenter__(self) -> CourierApp:
        headers = minted(self.live, self.courier, "courier", self.courier)
        self.ws = await websockets.connect(f"{self.live.ws}/ws/courier", additional_headers=headers)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._reader.cancel()
        await self.ws.close()

    async def _read(self) -> None:
        async for raw in self.ws:
            self.frames.append(json.loads(raw))
            self._new.set()

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame))

    async def until(self, match: Callable[[dict[str, Any]], bool], what: str, timeout: float = 15.0, since: int = 0) -> dict[str, Any]:
        """The first frame (from number ``since`` on) that ``match``es, waiting for it up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            found = next((f for f in self.frames[since:] if match(f)), None)
            if found is not None:
                return found
            self._new.clear()
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.courier} waited {timeout}s for {what}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), max(0.01, deadline - time.monotonic()))

    async def accept(self, order_id: str) -> None:
        """Take the offer of ``order_id`` and wait until the dispatcher confirms it (the order is on the way to the store)."""
        offer = await self.until(lambda f: f["type"] == "offer" and order_id in f["data"]["orders"], f"an offer of {order_id}")
        await self.send(type="accept", offer=offer["data"]["offer"])
        await self.until(lambda f: f["type"] == "offer_accepted" and f["data"]["offer"] == offer["data"]["offer"], "offer_accepted")

    async def verdict(self, ref: str) -> dict[str, Any]:
        return (await self.until(lambda f: f["type"] == "verdict" and f["data"].get("ref") == ref, f"the verdict of {ref}"))["data"]

    async def drop_off(self, order_id: str, pin: str, ref: str, since: int) -> None:
        """The order is in the bag (its ``delivering`` status came after frame ``since``): hand it over with the PIN
        and wait until the courier is idle again."""
        await self.until(lambda f: f["type"] == "status" and f["data"]["status"] == "delivering", f"{order_id} delivering", since=since)
        mark = len(self.frames)
        await self.send(type="dropoff", order=order_id, pin=pin, id=ref)
        assert (await self.verdict(ref))["ok"] is True
        await self.until(lambda f: f["type"] == "status" and f["data"]["status"] == "idle", "idle again", since=mark)


# -- a worker killed between two Redis round trips ---------------------------------------------
class WorkerKilled(Exception):
    """The worker process died: nothing after this point of its work reached Redis."""


def dying_client(url: str, round_trips: int) -> tuple[aioredis.Redis, dict[str, bool]]:
    """An async client of a worker that dies before its round trip number ``round_trips + 1`` to Redis: the first
    ``round_trips`` reach Redis (and are answered), every later one raises ``WorkerKilled`` without being sent. A
    command sent whose answer was lost does what one answered does, so this reaches every state a kill can leave."""
    state = {"killed": False, "left": round_trips}

    class Dying(aioredis.Connection):
        async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            if state["left"] <= 0:
                state["killed"] = True
                raise WorkerKilled(f"killed before round trip {round_trips + 1}")
            state["left"] -= 1
            await super().send_packed_command(command, check_health)

    pool = aioredis.ConnectionPool.from_url(url, connection_class=Dying)
    return aioredis.Redis(connection_pool=pool), state


def at_every_crash_point(live: Live, work: Callable[[aioredis.Redis], Awaitable[Any]],
                         after: Callable[[int, bool], None], most: int = 60) -> int:
    """Run ``work`` on a worker killed before its 1st, 2nd, ... round trip to Redis, calling ``after(n, killed)``
    after each (n round trips reached Redis), until one run is not killed: the number of round trips ``work`` takes."""
    for n in range(most):
        async def run() -> bool:
            client, state = dying_client(live.settings.redis_url, n)
            try:
                await work(client)
            except WorkerKilled:
                pass
            finally:
                await client.connection_pool.disconnect()
            return bool(state["killed"])

        killed = asyncio.run(run())
        after(n, killed)
        if not killed:
            return n
    raise AssertionError(f"work still killed after {most} round trips")


def free_stale_claim(live: Live, user: str, key: str) -> None:
    """What the idempotency lease does ``LEASE_S`` after a worker died holding a claim it never answered."""
    name = f"idem:{user}:{key}"
    if live.redis.hget(name, "body") is None:
        live.redis.delete(name)


# -- money adds up -----------------------------------------------------------------------------
def assert_ledger(live: Live, paid: dict[str, int]) -> dict[str, int]:
    """``bench/chaos.py``'s money check (``account``: paid = kept + refunded), made for orders that are also cancelled
    and refunded. ``paid``: the cents each order's accepted payment took (0: never paid). Per order: the ``refunds``
    stream and the checkout's ``refunded_cents`` agree, nothing is refunded beyond what was paid, a cancelled order keeps
    nothing and its dispatch order is not on its way, an order whose goods went out (picked up, delivered) was not
    refunded by a cancellation; and paid = kept + refunded per order and in total. The totals."""
    total: Counter[str] = Counter()
    stream = refunds(live)
    for oid, cents in paid.items():
        c = checkout(live, oid)
        refunded = int(c.get("refunded_cents") or 0)
        booked = [r for r in stream if r["order"] == oid and r.get("kind") != "returned_payment"]
        assert sum(int(r["cents"]) for r in booked) == refunded, (oid, booked, refunded)
        assert 0 <= refunded <= cents, (oid, refunded, cents)
        dispatch = order_status(live, oid)
        if c["status"] == "cancelled":
            kept = 0
            assert dispatch in (None, "placed", "paid", "accepted", "preparing", "ready", "assigned", "cancelled"), (oid, dispatch)
        else:
            kept = cents - refunded
            if dispatch in ("picked_up", "delivered"):
                assert not any(r["reason"].startswith("cancelled") for r in booked), (oid, dispatch, booked)
        assert cents == kept + refunded, (oid, c["status"], cents, kept, refunded)
        total.update({"paid": cents, "kept": kept, "refunded": refunded})
    assert total["paid"] == total["kept"] + total["refunded"], total
    return dict(total)
