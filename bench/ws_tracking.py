"""Live tracking fan-out: N customer sockets each following one order, couriers pinging at R pings/s.

Measures the path a courier's position takes to the customers who follow its orders:
courier socket -> ``CourierSession.ping`` (HSET, EMIT script: INCR + PUBLISH per order) -> Redis
pub/sub -> the worker's hub -> each follower's queue and sender task -> the customer's socket.
Goal (issue): 10,000 customer sockets with p99 <= 50 ms at 2,000 pings/s on this machine.

What runs, all on 127.0.0.1:
  - an embedded Redis (valkey, no persistence) and the demo city (``api.serve.prepare``);
  - N orders created with ``api.orders.create_order`` and then assigned the way the dispatcher
    writes them (order ``status``/``courier``, courier hash ``orders``/``region``/position): order i
    goes to courier i mod C, so one ping reaches k = N/C customer sockets. No dispatch engine runs;
  - ``uvicorn --factory api.app:create_app`` in a subprocess (``--workers W``) with
    ``POSITION_THROTTLE_S=0`` so every ping fans out (the service's default throttle is 0.5 s);
  - client processes (``--clients P``, multiprocessing) holding the N tracking sockets and the C
    courier sockets. Couriers send ``location`` pings round-robin at R pings/s in total.

Latency of a frame = time the customer socket received it - time the courier sent the ping
(one clock: all processes are on this machine). A ping's longitude carries a per-courier counter
(1e-6 degree steps), so a received ``position`` frame names its ping exactly. It is split in two
with the frame's server time ``at`` (ms): in = at - sent (courier socket to the ping handler),
out = received - at (Redis, pub/sub, hub, sender, customer socket). Lost = frames expected
(k per ping) that never arrived before the end of the drain time.

CPU % is per process tree over the measured window (100 % = one core): the uvicorn supervisor
and workers, Redis, and the client processes; "other jobs" is the rest of the machine meanwhile.
The cores are shared: a client or Redis that takes CPU takes it from the server, so read the
figures together, and compare runs made at the same time (ratios within a run hold up better).

Reading the output. "worst seconds" names the seconds of the window (by ping send time) with the
highest latency; "(keepalive)" marks a second in which the hubs' WS_PING_S ping went to every
socket at once. "server errors" counts exception lines in the uvicorn log (kept when non-empty):
an exception in /ws/courier closes that courier's socket, so its pings stop ("not sent") and its
frames count as lost. The pub/sub backlog is what Redis holds for the hubs (CLIENT LIST omem): near
zero means the hubs keep up with Redis and any delay is inside the worker. ``--diagnose`` adds the
worker's GC pauses and event-loop lag per second. ``--server-env`` and ``--app`` rerun the same
load with other settings or a patched factory, to measure a change before making it.

    python bench/ws_tracking.py                                   # 2,000 sockets, 500 pings/s (< 1 min)
    python bench/ws_tracking.py --sockets 10000 --pings 2000      # the goal
    python bench/ws_tracking.py --sockets 10000 --pings 2000 --workers 2 --clients 2
    python bench/ws_tracking.py --orders-per-courier 1 --no-deflate
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    ProcessTree,
    Uvicorn,
    Window,
    exceptions_in,
    free_port,
    on_sigterm_exit,
    raise_nofile,
    redis_pid,
    stop_clients,
    summarize_ms,
    write_json,
)

LNG_STEP = 1e-6  # a courier's n-th ping is sent at its base longitude + n * LNG_STEP


# -- --diagnose: the same app, plus a log of GC pauses and event-loop lag per worker ---------------
def instrumented_app() -> Any:
    """``uvicorn --factory`` target for ``--diagnose``: ``api.app.create_app()`` unchanged, wrapped to log
    each garbage-collector pause of 2 ms or more and, every second, the worst lag of a 10 ms timer
    (how long the event loop was busy) to ``$WS_BENCH_DIAG.<pid>`` as JSON lines."""
    import gc

    from api.app import create_app

    app = create_app()
    out = open(f"{os.environ['WS_BENCH_DIAG']}.{os.getpid()}", "a", buffering=1)  # noqa: SIM115 - lives as long as the worker
    began: list[float] = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - began[0]) * 1000
        if ms >= 2:
            out.write(json.dumps({"t": time.time(), "gc": info["generation"], "ms": round(ms, 1), "collected": info["collected"]}) + "\n")

    gc.callbacks.append(on_gc)

    async def lag() -> None:
        second, worst = int(time.time()), 0.0
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            worst = max(worst, time.perf_counter() - t - 0.01)
            if int(time.time()) != second:
                out.write(json.dumps({"t": second, "lag_ms": round(worst * 1000, 1)}) + "\n")
                second, worst = int(time.time()), 0.0

    tasks: list[Any] = []

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan" and not tasks:
            tasks.append(asyncio.get_running_loop().create_task(lag()))
        await app(scope, receive, send)

    return wrapped


def read_diagnosis(prefix: str, start: float, end: float) -> tuple[dict[str, Any], dict[int, dict[str, float]]]:
    """Totals of the ``--diagnose`` logs over [start, end), and per second of the window: worst loop lag and GC ms."""
    import glob

    gcs, per_second = [], {}
    for path in glob.glob(prefix + ".*"):
        for line in Path(path).read_text().splitlines():
            row = json.loads(line)
            if not start <= row["t"] < end:
                continue
            sec = int(row["t"] - start)
            slot = per_second.setdefault(sec, {"lag_ms": 0.0, "gc_ms": 0.0})
            if "lag_ms" in row:
                slot["lag_ms"] = max(slot["lag_ms"], row["lag_ms"])
            else:
                gcs.append(row)
                slot["gc_ms"] = round(slot["gc_ms"] + row["ms"], 1)
        Path(path).unlink(missing_ok=True)
    lags = sorted(v["lag_ms"] for v in per_second.values())
    gen2 = [g["ms"] for g in gcs if g["gc"] == 2]
    totals = {"gc_pauses_2ms_plus": len(gcs), "gc_ms_total": round(sum(g["ms"] for g in gcs), 1), "gc_max_ms": max((g["ms"] for g in gcs), default=0),
              "gc_gen2": len(gen2), "gc_gen2_ms": gen2, "loop_lag_ms_worst_second": lags[-1] if lags else None,
              "loop_lag_ms_median_second": lags[len(lags) // 2] if lags else None}
    return totals, per_second


class PubSubBacklog:
    """Samples Redis ``CLIENT LIST TYPE pubsub`` twice a second: the bytes waiting in Redis for the hubs to read.

    A hub that reads pub/sub slower than frames are published leaves them in Redis's output buffer
    (``omem``); past ``client-output-buffer-limit pubsub`` (32 MB, or 8 MB for 60 s) Redis drops the
    connection."""

    def __init__(self, url: str) -> None:
        import threading

        import redis

        self.r = redis.Redis.from_url(url)
        self.peak_bytes = 0
        self.peak_at = 0.0
        self.disconnects_seen = 0
        self._ids: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            try:
                clients = self.r.client_list(_type="pubsub")
            except Exception:  # noqa: BLE001, S112 - a sample missed
                continue
            ids = {int(c["id"]) for c in clients}
            if self._ids and not self._ids <= ids:
                self.disconnects_seen += len(self._ids - ids)
            self._ids = ids
            total = sum(int(c.get("omem", 0)) for c in clients)
            if total > self.peak_bytes:
                self.peak_bytes, self.peak_at = total, time.time()

    def start(self) -> PubSubBacklog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.r.close()


# -- the client processes ---------------------------------------------------------------------
def client_main(pipe: Any, spec: dict[str, Any]) -> None:
    """One client process: connect its sockets, report, wait for 'go', ping, drain, send back what it saw."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(_client(pipe, spec))
    except (KeyboardInterrupt, EOFError, BrokenPipeError):
        pass
    finally:
        pipe.close()


async def _client(pipe: Any, spec: dict[str, Any]) -> None:
    import aiohttp

    me, base, compress = spec["index"], spec["ws"], 15 if spec["deflate"] else 0
    loop = asyncio.get_running_loop()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None, sock_connect=60))
    recording = False
    got: list[tuple[float, int, str]] = []  # (received, tracking socket, frame text) while recording
    counts = {"frames_outside_window": 0, "courier_errors": 0, "closed_early": 0, "ping_before_hello": 0, "pings_to_closed_sockets": 0}
    first_error: list[str] = []
    gate = asyncio.Semaphore(spec["connect_concurrency"])
    failed: list[str] = []

    async def follow(ws: Any, idx: int) -> None:
        nonlocal recording
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
                    counts["closed_early"] += 1
                    return
                continue
            if recording:
                got.append((time.time(), idx, msg.data))
            else:
                counts["frames_outside_window"] += 1

    async def courier_reader(ws: Any) -> None:
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
                    counts["closed_early"] += 1
                    return
                continue
            if '"type":"error"' in msg.data:
                counts["courier_errors"] += 1
                if not first_error:
                    first_error.append(msg.data[:300])

    async def connect(url: str, what: str) -> Any:
        async with gate:
            try:
                ws = await session.ws_connect(url, autoping=True, compress=compress, max_msg_size=0)
                hello = await asyncio.wait_for(ws.receive(), 60)
                if hello.type == aiohttp.WSMsgType.TEXT and '"type":"ping"' in hello.data:
                    counts["ping_before_hello"] += 1  # the hub's keepalive can overtake the hello (api/ws.py)
                    hello = await asyncio.wait_for(ws.receive(), 60)
                if hello.type != aiohttp.WSMsgType.TEXT or '"type":"hello"' not in hello.data:
                    failed.append(f"{what}: {str(hello.data)[:200]}")
                    await ws.close()
                    return None
                return ws
            except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
                failed.append(f"{what}: {type(exc).__name__}: {exc}"[:300])
                return None

    async def connect_all(urls: list[tuple[str, str]], label: str) -> list[Any]:
        tasks = [asyncio.ensure_future(connect(u, w)) for u, w in urls]
        t0 = last = time.monotonic()
        while not all(t.done() for t in tasks):
            await asyncio.sleep(0.2)
            if time.monotonic() - last >= 5:
                last = time.monotonic()
                done = sum(t.done() for t in tasks)
                print(f"  client {me}: {label} {done}/{len(tasks)} connected ({done / (last - t0):.0f}/s)", flush=True)
        return [t.result() for t in tasks]

    t0 = time.time()
    track_ws = await connect_all([(f"{base}/ws/track/{o}?token={tok}", f"track {o}") for o, tok in spec["tracking"]], "tracking sockets")
    t_track = time.time() - t0
    couriers = spec["couriers"]  # [(courier id, token, base lat, base lng)]
    courier_ws = await connect_all([(f"{base}/ws/courier?token={tok}", f"courier {cid}") for cid, tok, _, _ in couriers], "courier sockets")
    readers = [loop.create_task(follow(ws, i)) for i, ws in enumerate(track_ws) if ws is not None]
    readers += [loop.create_task(courier_reader(ws)) for ws in courier_ws if ws is not None]
    live = [(c, ws) for c, ws in zip(couriers, courier_ws, strict=True) if ws is not None]
    pipe.send({"connected": sum(ws is not None for ws in track_ws), "couriers": len(live), "failed": len(failed),
               "failures": failed[:5], "connect_s": round(time.time() - t0, 2), "tracking_connect_s": round(t_track, 2)})

    go = await loop.run_in_executor(None, pipe.recv)
    if go.get("stop"):
        await session.close()
        return
    start, end, rate, drain = go["start"], go["end"], go["rate"], go["drain"]
    max_pings = math.ceil(rate * (end - start)) + 1
    sends: list[tuple[str, float, float, float]] = []  # (courier, lng, sent, sent - scheduled)
    recording = True
    if live and rate > 0:
        interval = 1.0 / rate
        n_c = len(live)
        i = 0
        await asyncio.sleep(max(0.0, start - time.time()))
        while i < max_pings:
            now = time.time()
            if now >= end:
                break
            while i < max_pings:
                due = start + i * interval
                if due > now or due >= end:
                    break
                (cid, _, lat, lng0), ws = live[i % n_c]
                lng = lng0 + (i // n_c) * LNG_STEP
                sent = time.time()
                try:
                    await ws.send_str(f'{{"type":"location","lat":{lat!r},"lng":{lng!r}}}')
                except Exception:  # noqa: BLE001 - a dead courier socket (closed by the server): counted apart
                    if sent >= go["measured_from"]:
                        counts["pings_to_closed_sockets"] += 1
                    i += 1
                    continue
                sends.append((cid, lng, sent, sent - due))
                i += 1
            await asyncio.sleep(max(0.0, start + i * interval - time.time()))
    await asyncio.sleep(max(0.0, end + drain - time.time()))
    recording = False

    received = []  # (courier, lng, received, server at in ms, tracking socket)
    other: dict[str, int] = {}
    for t, idx, text in got:
        frame = json.loads(text)
        if frame.get("type") == "position":
            d = frame["data"]
            received.append((d["courier"], d["lng"], t, d["at"], idx))
        else:
            other[frame.get("type", "?")] = other.get(frame.get("type", "?"), 0) + 1
    pipe.send({"sends": sends, "received": received, "other_frames": other, "counts": counts, "first_error": first_error[:1]})
    for task in readers:
        task.cancel()
    try:  # abrupt close of every socket (a polite close handshake per socket only costs time here)
        await asyncio.wait_for(session.close(), 15)
    except TimeoutError:
        pass


# -- the parent --------------------------------------------------------------------------------
async def seed_orders(url: str, n: int, couriers: int, seed: int) -> tuple[list[str], dict[str, list[str]], dict[str, tuple[float, float]]]:
    """N orders through ``api.orders.create_order``, assigned to couriers as the dispatcher records it."""
    import redis.asyncio as aioredis

    from actors import live_keys as K
    from api import orders as svc
    from api.models import OrderCreate, Point
    from api.security import Principal
    from api.settings import Settings

    rng = random.Random(seed)
    cfg = Settings(redis_url=url)
    r = aioredis.from_url(url, max_connections=64)
    try:
        stores = [json.loads(v) for _, v in sorted((await r.hgetall(K.STORES)).items())]
        ids: list[str] = [""] * n
        door_of: dict[int, tuple[str, float, float]] = {}

        async def one(i: int) -> None:
            s = stores[i % len(stores)]
            lat, lng = s["lat"] + rng.uniform(-0.012, 0.012), s["lng"] + rng.uniform(-0.012, 0.012)  # within ~1.7 km
            who = Principal(f"bench-customer-{i % 500}", "customer", f"bench-customer-{i % 500}")
            body = OrderCreate(store_id=s["id"], dropoff=Point(lat=lat, lng=lng), mode="asap")
            record = await svc.create_order(r, cfg, who, body)
            ids[i] = record["id"]
            door_of[i] = (s["region"], s["lat"], s["lng"])

        t0, last = time.monotonic(), time.monotonic()
        for lo in range(0, n, 48):  # 48 at once: redis.asyncio's pool raises (not waits) past max_connections
            await asyncio.gather(*(one(i) for i in range(lo, min(n, lo + 48))))
            if time.monotonic() - last >= 5:
                last = time.monotonic()
                print(f"  seeded {min(n, lo + 48)}/{n} orders ({min(n, lo + 48) / (last - t0):.0f}/s)", flush=True)
        by_courier: dict[str, list[str]] = {}
        where: dict[str, tuple[float, float]] = {}
        region: dict[str, str] = {}
        pipe = r.pipeline(transaction=False)
        for i, order_id in enumerate(ids):
            cid = f"courier-{i % couriers + 1}"
            by_courier.setdefault(cid, []).append(order_id)
            if cid not in where:
                reg, slat, slng = door_of[i]
                where[cid] = (round(slat + rng.uniform(-0.005, 0.005), 6), round(slng + rng.uniform(-0.005, 0.005), 6))
                region[cid] = reg
            pipe.hset(K.order_key(order_id), mapping={"status": "assigned", "courier": cid})
        for cid, orders in by_courier.items():
            lat, lng = where[cid]
            pipe.hset(K.courier_key(cid), mapping={"status": "to_store", "orders": json.dumps(orders), "region": region[cid], "lat": lat, "lng": lng})
        await pipe.execute()
        return ids, by_courier, where
    finally:
        await r.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=2000, help="customer tracking sockets N, one order each (default 2000; goal 10000)")
    parser.add_argument("--pings", type=float, default=500, help="courier location pings per second R, all couriers together (default 500; goal 2000)")
    parser.add_argument("--orders-per-courier", type=int, default=2,
                        help="k: customer sockets one ping reaches; couriers C = ceil(N/k) (default 2: a courier carries two orders)")
    parser.add_argument("--duration", type=float, default=20, help="seconds measured (default 20)")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of pings before the measured window (default 3)")
    parser.add_argument("--drain", type=float, default=3, help="seconds to wait for frames after the last ping (default 3)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (default 1)")
    parser.add_argument("--clients", type=int, default=1, help="client processes sharing the sockets and pings (default 1)")
    parser.add_argument("--deflate", action=argparse.BooleanOptionalAction, default=True,
                        help="offer permessage-deflate as browsers do, which uvicorn accepts (default on)")
    parser.add_argument("--connect-concurrency", type=int, default=64, help="sockets each client opens at once (default 64)")
    parser.add_argument("--connect-timeout", type=float, default=600, help="give up if the sockets are not all open after this many seconds")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="a Settings variable for the uvicorn workers, e.g. WS_PING_S=3600 (no keepalive burst) "
                             "or POSITION_THROTTLE_S=0.5 (the service default); repeatable")
    parser.add_argument("--app", default=None, metavar="MODULE:FACTORY",
                        help="another uvicorn --factory target to serve, e.g. a patched create_app to compare (default api.app:create_app)")
    parser.add_argument("--diagnose", action="store_true",
                        help="serve bench.ws_tracking:instrumented_app (create_app wrapped to log GC pauses and event-loop lag) "
                             "and report them per second of the window")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "results" / "ws_tracking.json")
    args = parser.parse_args()
    if args.sockets < 1 or args.orders_per_courier < 1 or args.pings <= 0 or args.clients < 1 or args.workers < 1:
        parser.error("--sockets, --orders-per-courier, --clients and --workers must be >= 1 and --pings > 0")
    couriers = math.ceil(args.sockets / args.orders_per_courier)
    server_env = {"POSITION_THROTTLE_S": "0"}
    for item in args.server_env:
        name, eq, value = item.partition("=")
        if not eq or not name:
            parser.error(f"--server-env takes NAME=VALUE, not {item!r}")
        server_env[name.upper()] = value
    on_sigterm_exit()

    from api.redis_server import EmbeddedRedis
    from api.security import Principal, access_token, tracking_token
    from api.serve import WS_MAX_BYTES, prepare
    from api.settings import Settings

    per_client = (args.sockets + couriers) / args.clients
    nofile = raise_nofile(int(max(per_client, args.sockets + couriers) + 2048))
    if nofile < per_client + 256 or nofile < args.sockets + couriers + 1024:
        print(f"warning: open-file limit {nofile} is low for {args.sockets + couriers} sockets", file=sys.stderr)
    print(f"ws_tracking: {args.sockets} tracking sockets, {couriers} couriers (k={args.orders_per_courier}), {args.pings:g} pings/s "
          f"for {args.duration:g} s (+{args.warmup:g} s warm-up), {args.workers} worker(s), {args.clients} client process(es), "
          f"deflate {'on' if args.deflate else 'off'}; server env {server_env}; open-file limit {nofile}", flush=True)

    embedded = EmbeddedRedis(persist=False)
    server: Uvicorn | None = None
    log: Path | None = None
    diag_prefix = ""
    procs: list[Any] = []
    pipes: list[Any] = []
    trees: dict[str, ProcessTree] = {}
    finished = False
    try:
        t0 = time.monotonic()
        url = embedded.start()
        settings = Settings(redis_url=url, demo_couriers=min(couriers, 5000))
        prepare(settings)
        ids, by_courier, where = asyncio.run(seed_orders(url, args.sockets, couriers, args.seed))
        print(f"seeded {len(ids)} orders on {len(by_courier)} couriers in {time.monotonic() - t0:.1f} s (no dispatch engine runs)", flush=True)

        port = free_port()
        log = Path(tempfile.mkstemp(prefix="ws_tracking-uvicorn-", suffix=".log")[1])
        target = "api.app:create_app"
        if args.diagnose:
            diag_prefix = str(log) + ".diag"
            server_env["WS_BENCH_DIAG"] = diag_prefix
            target = "bench.ws_tracking:instrumented_app"
        target = args.app or target
        server = Uvicorn(target, port, args.workers, env={**server_env, "REDIS_URL": url}, ws_max_size=WS_MAX_BYTES, log=log,
                         extra=("--timeout-graceful-shutdown", "5"))
        server.wait_ready()
        server_up = time.time()  # the hubs' keepalive fires every WS_PING_S from about now: a burst of frames to every socket
        trees = {"server": ProcessTree([server.pid]).start(), "redis": ProcessTree([redis_pid(url)]).start()}
        rss_idle = trees["server"].rss()
        print(f"uvicorn up on port {port} (pid {server.pid}, {args.workers} worker(s)), RSS {rss_idle / 2**20:.0f} MB", flush=True)

        tracking = [(o, tracking_token(o, settings.tracking_secret, 2)) for o in ids]
        cour = [(cid, access_token(Principal(cid, "courier", cid), settings.jwt_secret, 120), *where[cid]) for cid in by_courier]
        k_of = {cid: len(orders) for cid, orders in by_courier.items()}
        ctx = mp.get_context("spawn")
        for c in range(args.clients):
            spec = {"index": c, "ws": f"ws://127.0.0.1:{port}", "deflate": args.deflate, "connect_concurrency": args.connect_concurrency,
                    "tracking": tracking[c::args.clients], "couriers": cour[c::args.clients]}
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=client_main, args=(theirs, spec), daemon=True)
            proc.start()
            theirs.close()
            procs.append(proc)
            pipes.append(mine)
        trees["clients"] = ProcessTree([p.pid for p in procs]).start()

        t_connect = time.monotonic()
        hellos = []
        for c, pipe in enumerate(pipes):
            left = args.connect_timeout - (time.monotonic() - t_connect)
            if left <= 0 or not pipe.poll(left):
                raise RuntimeError(f"client {c} did not open its sockets within {args.connect_timeout:g} s")
            hellos.append(pipe.recv())
        connect_s = max(h["connect_s"] for h in hellos)  # inside the clients: process start-up not counted
        connected = sum(h["connected"] for h in hellos)
        couriers_up = sum(h["couriers"] for h in hellos)
        failed = sum(h["failed"] for h in hellos)
        rss_connected = trees["server"].rss()
        print(f"connected {connected}/{args.sockets} tracking and {couriers_up}/{couriers} courier sockets in {connect_s:.1f} s "
              f"({(connected + couriers_up) / connect_s:.0f} sockets/s); {failed} failed; server RSS {rss_connected / 2**20:.0f} MB", flush=True)
        for h in hellos:
            for f in h["failures"]:
                print(f"  failed: {f}", flush=True)

        start = time.time() + 1.0
        measured_from = start + args.warmup
        end = measured_from + args.duration
        for c, pipe in enumerate(pipes):
            share = len(cour[c::args.clients]) / couriers
            pipe.send({"start": start, "measured_from": measured_from, "end": end, "rate": args.pings * share, "drain": args.drain})
        print(f"pinging: {args.warmup:g} s warm-up, then {args.duration:g} s measured ...", flush=True)
        time.sleep(max(0.0, measured_from - time.time()))
        window = Window(trees)
        backlog = PubSubBacklog(url).start()
        peak_rss_before = trees["server"].peak_rss
        while time.time() < end:
            time.sleep(min(5.0, max(0.0, end - time.time())))
            if time.time() < end - 0.5:
                print(f"  {end - time.time():4.0f} s left; server RSS {trees['server'].last_rss / 2**20:.0f} MB", flush=True)
        cpu = window.close()
        backlog.stop()
        wall = window.wall
        peak_rss = max(peak_rss_before, trees["server"].peak_rss, trees["server"].rss())
        results = []
        for c, pipe in enumerate(pipes):
            if not pipe.poll(args.drain + 120):
                raise RuntimeError(f"client {c} sent no results")
            results.append(pipe.recv())

        # join pings and frames
        sent_at: dict[tuple[str, float], float] = {}
        lags, sends_in = [], 0
        expected = 0
        sends_total = 0
        for res in results:
            for cid, lng, sent, lag in res["sends"]:
                sends_total += 1
                sent_at[(cid, lng)] = sent
                if measured_from <= sent < end:
                    sends_in += 1
                    expected += k_of[cid]
                    lags.append(max(0.0, lag))
        lat, lat_in, lat_out = [], [], []
        by_second: dict[int, list[float]] = {}
        unmatched = 0
        seen: set[tuple[str, float, int]] = set()
        for res in results:
            for cid, lng, got, at_ms, idx in res["received"]:
                sent = sent_at.get((cid, lng))
                if sent is None:
                    unmatched += 1
                    continue
                if not measured_from <= sent < end:
                    continue
                seen.add((cid, lng, idx))
                lat.append(got - sent)
                by_second.setdefault(int(sent - measured_from), []).append(got - sent)
                lat_in.append(at_ms / 1000 - sent)
                lat_out.append(got - at_ms / 1000)
        delivered = len(lat)
        lost = expected - len(seen)
        latency = summarize_ms(lat)
        timeline = []
        for sec in sorted(by_second):
            x = summarize_ms(by_second[sec])
            timeline.append({"second": sec, "frames": x["count"], "p50": x["p50"], "p99": x["p99"], "max": x["max"]})
        server_exceptions = exceptions_in(log)
        diagnosis = None
        if diag_prefix:
            time.sleep(1.2)  # the last second's lag line
            diagnosis, diag_seconds = read_diagnosis(diag_prefix, measured_from, end)
            for row in timeline:
                row.update(diag_seconds.get(row["second"], {}))
        figures = {
            "sockets": args.sockets, "tracking_connected": connected, "couriers": couriers, "couriers_connected": couriers_up,
            "orders_per_courier": args.orders_per_courier, "workers": args.workers, "clients": args.clients, "deflate": args.deflate,
            "pings_per_s_target": args.pings, "duration_s": round(wall, 2), "warmup_s": args.warmup, "drain_s": args.drain,
            "connect_s": round(connect_s, 1), "connect_per_s": round((connected + couriers_up) / connect_s, 1), "connect_failed": failed, "connect_failures": [f for h in hellos for f in h["failures"]],
            "pings_sent": sends_in, "pings_per_s": round(sends_in / wall, 1), "frames_expected": expected, "frames_delivered": delivered,
            "frames_per_s": round(delivered / wall, 1), "frames_lost": lost, "frames_unmatched": unmatched,
            "latency_ms": latency, "latency_in_ms": summarize_ms(lat_in), "latency_out_ms": summarize_ms(lat_out),
            "client_send_lag_ms": summarize_ms(lags),
            "latency_by_second": timeline, "server_exceptions": server_exceptions, "server_diagnosis": diagnosis,
            "pubsub_backlog_peak_kb": round(backlog.peak_bytes / 1024, 1),
            "pubsub_backlog_peak_second": int(backlog.peak_at - measured_from) if backlog.peak_bytes else None,
            "pubsub_connections_lost": backlog.disconnects_seen,
            "cpu_pct": cpu, "server_peak_sample_cpu_pct": round(trees["server"].peak_cpu_pct, 1),
            "server_rss_mb": {"idle": round(rss_idle / 2**20, 1), "connected": round(rss_connected / 2**20, 1), "peak": round(peak_rss / 2**20, 1),
                              "per_socket_kb": round((rss_connected - rss_idle) / max(1, connected + couriers_up) / 1024, 1)},
            "other_frames": {k: sum(r["other_frames"].get(k, 0) for r in results) for k in {k for r in results for k in r["other_frames"]}},
            "client_counts": {k: sum(r["counts"][k] for r in results) for k in results[0]["counts"]} if results else {},
            "courier_error_example": next((r["first_error"][0] for r in results if r["first_error"]), None),
            "engine": "none (orders assigned directly in Redis)", "server_env": server_env, "app": target,
            "goal": {"sockets": 10000, "pings_per_s": 2000, "p99_ms": 50},
            "goal_met": bool(connected >= 10000 and sends_in / wall >= 0.98 * 2000 and latency["p99"] <= 50 and lost == 0),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg_1m_after": round(os.getloadavg()[0], 2)},
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        }
        print()
        print(f"sockets          {connected} tracking + {couriers_up} courier; connect {connect_s:.1f} s ({figures['connect_per_s']:.0f}/s), {failed} failed")
        dead = figures["client_counts"].get("pings_to_closed_sockets", 0)
        print(f"pings            {sends_in} in {wall:.1f} s = {figures['pings_per_s']:.0f}/s (target {args.pings:g}); "
              f"client send lag p99 {figures['client_send_lag_ms']['p99']} ms"
              + (f"; {dead} more not sent: their courier socket had been closed by the server" if dead else ""))
        print(f"frames           {delivered} delivered = {figures['frames_per_s']:.0f}/s; expected {expected}, lost {lost}, unmatched {unmatched}")
        print(f"latency ms       p50 {latency['p50']}  p95 {latency['p95']}  p99 {latency['p99']}  max {latency['max']}  (goal p99 <= 50)")
        li, lo = figures["latency_in_ms"], figures["latency_out_ms"]
        print(f"  in  (to ping)  p50 {li['p50']}  p99 {li['p99']}    out (to customer) p50 {lo['p50']}  p99 {lo['p99']}  (server clock in ms)")
        ping_s = float(server_env.get("WS_PING_S", settings.ws_ping_s))
        for row in timeline:
            since = measured_from + row["second"] - server_up  # seconds since the server started, at this second's start
            row["keepalive"] = any(since - 1.0 <= n * ping_s <= since + 1.5 for n in range(1, int(since / ping_s) + 3))
        worst = sorted(timeline, key=lambda x: -x["max"])[:3]

        def why(w: dict[str, Any]) -> str:
            notes = ["keepalive"] if w["keepalive"] else []
            if "lag_ms" in w:
                notes.append(f"loop lag {w['lag_ms']} ms, GC {w['gc_ms']} ms")
            return f" ({', '.join(notes)})" if notes else ""

        print("worst seconds    " + "   ".join(f"s{w['second']}: p99 {w['p99']} max {w['max']}{why(w)}" for w in worst)
              + "   (s = second of the window; keepalive: the hubs' ping to every socket fell in it)")
        if diagnosis:
            print(f"server diagnosis GC pauses >= 2 ms: {diagnosis['gc_pauses_2ms_plus']} ({diagnosis['gc_ms_total']} ms, max {diagnosis['gc_max_ms']} ms; "
                  f"gen 2: {diagnosis['gc_gen2_ms']}); event-loop lag per second: median {diagnosis['loop_lag_ms_median_second']} ms, "
                  f"worst {diagnosis['loop_lag_ms_worst_second']} ms")
        print(f"pub/sub backlog  peak {figures['pubsub_backlog_peak_kb']} KB waiting in Redis for the hub(s)"
              f"{' at s' + str(figures['pubsub_backlog_peak_second']) if backlog.peak_bytes else ''}; hub connections dropped by Redis: {backlog.disconnects_seen}")
        print(f"cpu %            server {cpu['server']}  redis {cpu['redis']}  clients {cpu['clients']}  other jobs on the machine {cpu['others']}"
              f"  (100 = one core; {os.cpu_count()} cores)")
        r = figures["server_rss_mb"]
        print(f"server RSS MB    idle {r['idle']}  connected {r['connected']}  peak {r['peak']}  ({r['per_socket_kb']} KB per socket)")
        if figures["courier_error_example"]:
            print(f"courier errors   {figures['client_counts'].get('courier_errors')}: {figures['courier_error_example']}")
        early = figures["client_counts"].get("ping_before_hello", 0)
        if early:
            print(f"protocol         {early} tracking socket(s) got the keepalive ping before their hello")
        if server_exceptions:
            print(f"server errors    {server_exceptions}  (uvicorn log kept: {log})")
        print(f"goal met         {figures['goal_met']}")
        write_json(args.json, figures)
        print(f"wrote {args.json}")
        finished = True
    except KeyboardInterrupt:
        print("interrupted: stopping clients, uvicorn and Redis", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        stop_clients(trees.values(), pipes, procs, graceful=finished)
        if server is not None:
            server.stop()
        embedded.stop()
        if log is not None and not exceptions_in(log):
            log.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
