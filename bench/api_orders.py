"""Order creation: POST /orders req/s and latency against a bare uvicorn endpoint, in the same run.

Goal (issue): at least 50 % of the bare endpoint's req/s with p99 <= 50 ms, and every accepted
order present afterwards.

What runs, all on 127.0.0.1:
  - an embedded Redis (valkey, no persistence) and the demo city (``api.serve.prepare``);
  - two uvicorn subprocesses with the same options (``--workers W``, log level warning):
    the service (``--factory api.app:create_app``) and a bare FastAPI app with one POST that
    answers ``{"ok": true}`` with 201 without reading the body (``bench.api_orders:bare_app``);
  - client processes (``--clients P``, multiprocessing, aiohttp with keep-alive) that run a
    closed loop: C requests in flight in total (``--concurrency``), each sent as soon as the last
    answered, for ``--duration`` seconds after ``--warmup`` (or until ``--requests``).

Every POST /orders is a real order: a customer's access token (one of ``--customers``), an asap
order from a random store of the demo city to a door within ~1.5 km, and a fresh
``Idempotency-Key``. No dispatch engine runs: accepted orders stay queued in their region's input
stream, which is all the API's job is; the engine's speed is bench/dispatch_cycle.py's.
The bare endpoint is measured first, then /orders, at each concurrency (``--rounds`` repeats the
pair, to spread the drift of a shared machine over both).

Afterwards every 201's order id is checked in Redis: its hash ``order:{id}`` and exactly one
``order`` entry in its region's input stream; the counts must match (no order lost, none extra).

Latency is per request in the client (send to full response), in ms. With a closed loop, mean
latency ~= concurrency / throughput (Little's law): p99 <= 50 ms needs a concurrency the server
can answer within 50 ms, so the default sweeps two levels.

    python bench/api_orders.py                                   # concurrency 8 and 32, 10 s each
    python bench/api_orders.py --concurrency 4,16,64 --duration 20 --workers 2 --clients 2
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import random
import sys
import tempfile
import time
import uuid
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


def bare_app() -> Any:
    """The baseline: a FastAPI app with one POST /orders answering 201 JSON (uvicorn --factory bench.api_orders:bare_app)."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    app = FastAPI()

    @app.post("/orders", status_code=201)
    async def orders() -> JSONResponse:
        return JSONResponse({"ok": True}, status_code=201)

    @app.get("/ready")
    async def ready() -> dict[str, bool]:
        return {"ok": True}

    return app


# -- the client processes ---------------------------------------------------------------------
def client_main(pipe: Any, index: int) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        while True:
            job = pipe.recv()
            if job.get("stop"):
                return
            pipe.send(asyncio.run(_phase(job, index)))
    except (KeyboardInterrupt, EOFError):
        pass
    finally:
        pipe.close()


async def _phase(job: dict[str, Any], index: int) -> dict[str, Any]:
    """One closed-loop phase against one endpoint: (latency, status) of measured requests, and the created order ids."""
    import aiohttp

    rng = random.Random(job["seed"] * 1000 + index)
    stores, tokens, api = job["stores"], job["tokens"], job["kind"] == "api"
    start, measured_from, end, cap = job["start"], job["measured_from"], job["end"], job["max_requests"]
    sent = 0
    last_send = 0.0
    measured: list[tuple[float, int]] = []
    ids: list[str] = []
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    first_refusal: list[str] = []
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        async def worker() -> None:
            nonlocal sent, last_send
            while sent < cap and time.time() < end:
                sent += 1
                s = rng.choice(stores)
                body = json.dumps({"store_id": s["id"], "dropoff": {"lat": round(s["lat"] + rng.uniform(-0.01, 0.01), 6),
                                                                     "lng": round(s["lng"] + rng.uniform(-0.01, 0.01), 6)}, "mode": "asap"})
                headers = {"Authorization": f"Bearer {rng.choice(tokens)}", "Idempotency-Key": uuid.uuid4().hex,
                           "Content-Type": "application/json"}
                t_send = time.time()
                last_send = max(last_send, t_send)
                t0 = time.perf_counter()
                try:
                    async with session.post(job["url"], data=body, headers=headers) as reply:
                        data = await reply.read()
                        status = reply.status
                except Exception as exc:  # noqa: BLE001 - counted; the loop goes on
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    continue
                latency = time.perf_counter() - t0
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                if api and status == 201:
                    ids.append(json.loads(data)["id"])
                elif status >= 300 and not first_refusal:
                    first_refusal.append(f"{status} {data[:300]!r}")
                if t_send >= measured_from:
                    measured.append((latency, status))

        await asyncio.sleep(max(0.0, start - time.time()))
        await asyncio.gather(*(worker() for _ in range(job["concurrency"])))
    return {"measured": measured, "ids": ids, "statuses": statuses, "errors": errors, "sent": sent, "first_refusal": first_refusal,
            "last_send": last_send}


# -- the parent --------------------------------------------------------------------------------
def verify(url: str, ids: list[str]) -> dict[str, Any]:
    """Every accepted order has its hash and exactly one entry in its region's input stream; counts match."""
    import redis

    from actors import live_keys as K

    r = redis.Redis.from_url(url)
    try:
        pipe = r.pipeline(transaction=False)
        for order_id in ids:
            pipe.exists(K.order_key(order_id))
        hashes = sum(pipe.execute())
        in_stream: dict[str, int] = {}
        for tag in r.smembers(K.REGIONS):
            key = K.inputs_key(int(tag, 16))
            last = "-"
            while True:
                batch = r.xrange(key, last, "+", count=10_000)
                if last != "-":
                    batch = batch[1:]
                if not batch:
                    break
                for _, fields in batch:
                    if fields.get(b"k") == b"order":
                        oid = json.loads(fields[b"j"])["id"]
                        in_stream[oid] = in_stream.get(oid, 0) + 1
                last = batch[-1][0].decode()
        accepted = set(ids)
        counter = int(r.get(K.ORDER_COUNTER) or 0)
        out = {
            "accepted": len(ids), "distinct_ids": len(accepted), "order_hashes_found": hashes,
            "stream_entries_for_accepted": sum(in_stream.get(o, 0) for o in accepted),
            "accepted_missing_from_stream": sum(1 for o in accepted if o not in in_stream),
            "duplicated_in_stream": sum(1 for n in in_stream.values() if n > 1),
            "orders_in_streams": len(in_stream), "orders_numbered": counter,
            "created_but_not_acknowledged": len(set(in_stream) - accepted),
        }
        out["ok"] = (len(accepted) == len(ids) == hashes == out["stream_entries_for_accepted"] == len(in_stream)
                     and out["accepted_missing_from_stream"] == 0 and out["duplicated_in_stream"] == 0)
        return out
    finally:
        r.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", default="8,32", help="requests in flight, comma-separated levels to sweep (default 8,32)")
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per endpoint and level (default 10)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of requests before each measured window (default 2)")
    parser.add_argument("--requests", type=int, default=100_000, help="at most this many requests per endpoint and level (default 100000)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat bare-then-orders this many times per level; figures pool the rounds (default 1)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of each server (default 1)")
    parser.add_argument("--clients", type=int, default=1, help="client processes sharing the concurrency (default 1)")
    parser.add_argument("--customers", type=int, default=200, help="distinct customer accounts placing the orders (default 200)")
    parser.add_argument("--app", default="api.app:create_app", metavar="MODULE:FACTORY",
                        help="the service's uvicorn --factory target, e.g. a patched create_app to compare (default api.app:create_app)")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for both servers (Settings of the service, PYTHONPATH, ...); repeatable")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "results" / "api_orders.json")
    args = parser.parse_args()
    try:
        levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    except ValueError:
        parser.error("--concurrency takes integers separated by commas, e.g. 8,32")
    if not levels or min(levels) < 1 or args.clients < 1 or args.workers < 1 or args.rounds < 1 or args.duration <= 0:
        parser.error("concurrency, --clients, --workers, --rounds must be >= 1 and --duration > 0")
    if min(levels) < args.clients:
        parser.error("each concurrency level needs at least one request in flight per client process")
    server_env: dict[str, str] = {}
    for item in args.server_env:
        name, eq, value = item.partition("=")
        if not eq or not name:
            parser.error(f"--server-env takes NAME=VALUE, not {item!r}")
        server_env[name.upper()] = value
    on_sigterm_exit()
    raise_nofile(8192)

    from actors import live_keys as K
    from api.redis_server import EmbeddedRedis
    from api.security import Principal, access_token
    from api.serve import prepare
    from api.settings import Settings

    print(f"api_orders: concurrency {levels}, {args.duration:g} s per endpoint and level (+{args.warmup:g} s warm-up), "
          f"{args.rounds} round(s), {args.workers} worker(s) per server, {args.clients} client process(es); no dispatch engine "
          "(accepted orders stay queued in the region input streams)", flush=True)
    embedded = EmbeddedRedis(persist=False)
    servers: dict[str, Uvicorn] = {}
    logs: dict[str, Path] = {}
    procs: list[Any] = []
    pipes: list[Any] = []
    trees: dict[str, ProcessTree] = {}
    finished = False
    try:
        url = embedded.start()
        settings = Settings(redis_url=url)
        prepare(settings)
        import redis

        client = redis.Redis.from_url(url)
        stores = [json.loads(v) for _, v in sorted(client.hgetall(K.STORES).items())]
        client.close()
        tokens = [access_token(Principal(f"bench-customer-{i}", "customer", f"bench-customer-{i}"), settings.jwt_secret, 120)
                  for i in range(args.customers)]
        for kind, target in (("bare", "bench.api_orders:bare_app"), ("api", args.app)):
            logs[kind] = Path(tempfile.mkstemp(prefix=f"api_orders-{kind}-", suffix=".log")[1])
            servers[kind] = Uvicorn(target, free_port(), args.workers, env={**server_env, "REDIS_URL": url}, log=logs[kind],
                                    extra=("--timeout-graceful-shutdown", "5"))
        servers["bare"].wait_ready(path="/ready")
        servers["api"].wait_ready()
        trees = {"bare": ProcessTree([servers["bare"].pid]).start(), "api": ProcessTree([servers["api"].pid]).start(),
                 "redis": ProcessTree([redis_pid(url)]).start()}
        print(f"servers up: bare on {servers['bare'].url} (pid {servers['bare'].pid}), api on {servers['api'].url} (pid {servers['api'].pid})", flush=True)

        ctx = mp.get_context("spawn")
        for c in range(args.clients):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=client_main, args=(theirs, c), daemon=True)
            proc.start()
            theirs.close()
            procs.append(proc)
            pipes.append(mine)
        trees["clients"] = ProcessTree([p.pid for p in procs]).start()

        all_ids: list[str] = []
        rows = []
        for level in levels:
            pooled: dict[str, dict[str, Any]] = {k: {"lat": [], "ok": 0, "wall": 0.0, "cpu": [], "statuses": {}, "errors": {}, "refusal": None}
                                                 for k in ("bare", "api")}
            for rnd in range(args.rounds):
                for kind in ("bare", "api"):
                    start = time.time() + 0.5
                    measured_from = start + args.warmup
                    end = measured_from + args.duration
                    per = [level // args.clients + (1 if c < level % args.clients else 0) for c in range(args.clients)]
                    for c, pipe in enumerate(pipes):
                        pipe.send({"kind": kind, "url": servers[kind].url + "/orders", "concurrency": per[c], "start": start,
                                   "measured_from": measured_from, "end": end, "max_requests": max(1, args.requests // args.clients),
                                   "stores": stores, "tokens": tokens, "seed": args.seed + 7919 * rnd + level})
                    print(f"  concurrency {level}, round {rnd + 1}: {kind} ...", end="", flush=True)
                    time.sleep(max(0.0, measured_from - time.time()))
                    window = Window({"server": trees[kind], "redis": trees["redis"], "clients": trees["clients"]})
                    while time.time() < end and not all(pipe.poll(0) for pipe in pipes):
                        time.sleep(0.05)
                    cpu = window.close()
                    results = []
                    for c, pipe in enumerate(pipes):
                        if not pipe.poll(args.duration + 120):
                            raise RuntimeError(f"client {c} did not finish the phase")
                        results.append(pipe.recv())
                    # requests sent in the window, over the window (shorter when --requests ran out first)
                    last = max((r["last_send"] for r in results), default=end)
                    span = max(1e-3, min(end, last if last < end - 0.5 else end) - measured_from)
                    p = pooled[kind]
                    p["wall"] += span
                    p["cpu"].append(cpu)
                    for res in results:
                        p["lat"] += [lat for lat, status in res["measured"] if status < 300]
                        p["ok"] += sum(1 for _, status in res["measured"] if status < 300)
                        p["bad"] = p.get("bad", 0) + sum(1 for _, status in res["measured"] if status >= 300)
                        for s, n in res["statuses"].items():
                            p["statuses"][s] = p["statuses"].get(s, 0) + n
                        for e, n in res["errors"].items():
                            p["errors"][e] = p["errors"].get(e, 0) + n
                        p["refusal"] = p["refusal"] or (res["first_refusal"][0] if res["first_refusal"] else None)
                        all_ids += res["ids"]
                    rate = sum(len(r["measured"]) for r in results) / span
                    print(f" {rate:.0f} req/s (server cpu {cpu['server']} %, redis {cpu['redis']} %, clients {cpu['clients']} %, "
                          f"other jobs {cpu['others']} %)", flush=True)
            row: dict[str, Any] = {"concurrency": level}
            for kind in ("bare", "api"):
                p = pooled[kind]
                lat = summarize_ms(p["lat"])
                row[kind] = {"req_per_s": round(p["ok"] / p["wall"], 1), "latency_ms": lat, "non_2xx": p.get("bad", 0),
                             "statuses": p["statuses"], "errors": p["errors"], "first_refusal": p["refusal"],
                             "cpu_pct": {k: round(sum(c[k] for c in p["cpu"]) / len(p["cpu"]), 1) for k in p["cpu"][0]}}
            row["ratio"] = round(row["api"]["req_per_s"] / row["bare"]["req_per_s"], 3) if row["bare"]["req_per_s"] else None
            row["goal_met"] = bool(row["ratio"] is not None and row["ratio"] >= 0.5 and row["api"]["latency_ms"]["p99"] <= 50
                                   and row["api"]["non_2xx"] == 0 and not row["api"]["errors"])
            rows.append(row)

        check = verify(url, all_ids)
        exceptions = {k: exceptions_in(v) for k, v in logs.items()}
        figures = {
            "levels": rows, "verification": check, "server_exceptions": exceptions,
            "duration_s": args.duration, "warmup_s": args.warmup, "rounds": args.rounds, "workers": args.workers, "clients": args.clients,
            "customers": args.customers, "app": args.app, "server_env": server_env, "engine": "none: accepted orders stay queued in the region input streams",
            "goal": {"ratio_at_least": 0.5, "p99_ms_at_most": 50, "every_accepted_order_present": True},
            "goal_met": bool(check["ok"] and any(r["goal_met"] for r in rows)),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg_1m_after": round(os.getloadavg()[0], 2)},
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        }
        print()
        print(f"{'concurrency':>11} | {'bare req/s':>10} {'p50':>7} {'p99':>7} | {'orders req/s':>12} {'p50':>7} {'p99':>7} | {'ratio':>5} | "
              f"{'cpu % bare/api server, redis':>28} | goal")
        for row in rows:
            b, a = row["bare"], row["api"]
            print(f"{row['concurrency']:>11} | {b['req_per_s']:>10.0f} {b['latency_ms']['p50']:>7} {b['latency_ms']['p99']:>7} | "
                  f"{a['req_per_s']:>12.0f} {a['latency_ms']['p50']:>7} {a['latency_ms']['p99']:>7} | {row['ratio']:>5} | "
                  f"{b['cpu_pct']['server']:>9} / {a['cpu_pct']['server']:>5}, {a['cpu_pct']['redis']:>5} | {row['goal_met']}")
            for kind in ("bare", "api"):
                if row[kind]["non_2xx"] or row[kind]["errors"]:
                    print(f"{'':>11}   {kind}: statuses {row[kind]['statuses']}, errors {row[kind]['errors']}, e.g. {row[kind]['first_refusal']}")
        print("(latency in ms, client side; ratio = orders req/s / bare req/s; goal: ratio >= 0.5 and orders p99 <= 50 ms)")
        print(f"verification     {check['accepted']} orders answered 201; {check['order_hashes_found']} order hashes; "
              f"{check['stream_entries_for_accepted']} input-stream entries for them, {check['accepted_missing_from_stream']} missing, "
              f"{check['duplicated_in_stream']} duplicated; {check['created_but_not_acknowledged']} created but not answered 201: "
              f"{'OK' if check['ok'] else 'FAILED'}")
        if any(exceptions.values()):
            print(f"server errors    {exceptions}  (logs kept: {', '.join(str(v) for v in logs.values())})")
        print(f"goal met         {figures['goal_met']}")
        write_json(args.json, figures)
        print(f"wrote {args.json}")
        finished = True
    except KeyboardInterrupt:
        print("\ninterrupted: stopping clients, uvicorn and Redis", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        stop_clients(trees.values(), pipes, procs, graceful=finished, stop_message={"stop": True})
        for server in servers.values():
            server.stop()
        embedded.stop()
        for kind, log in logs.items():
            if not exceptions_in(log):
                log.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
