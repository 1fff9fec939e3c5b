"""Flash sale: B buyers at once for U units of one SKU through the HTTP API; never oversold.

Goal (issue): 1,000 concurrent buyers for 100 units; exactly 100 units sold, the rest refused
with 409, every paid order handed to dispatch, stock never negative; prints req/s and p99.

What runs, all on 127.0.0.1:
  - an embedded Redis (valkey, no persistence) and the demo city (``api.serve.prepare``);
  - ``uvicorn --factory api.app:create_app`` in a subprocess (``--workers W``); no dispatch
    engine: a paid order is written and queued in its region's input stream, which is all the
    API does with it (the engine's speed is bench/dispatch_cycle.py's);
  - the admin (a token minted directly, role admin) opens a flash sale with
    ``POST /shop/flash-sales``: ``--units`` of one SKU of ``--store`` at ``--price-cents``
    (default: half the store price), per-customer limit 1;
  - client processes (``--clients P``, multiprocessing, aiohttp) holding ``--buyers`` distinct
    customers (tokens minted with ``api.security.access_token``; no sign-in). Each buyer opens
    its connection first (one cheap GET, so the burst measures the checkout, not TCP connects;
    ``--cold`` skips it), then all buyers ``POST /checkout/orders`` for 1 unit at the same
    instant, each with its own ``Idempotency-Key``;
  - then every buyer who got 201 pays through the simulated provider
    (``POST /payments/{id}/simulate``, all at once), and the checkout (``GET /checkout/orders/{id}``,
    must be ``paid``) and the dispatched order (``GET /orders/{id}``, must exist) are read back.

``--double-tap N``: the first N buyers send a second order at the same instant (another connection,
another Idempotency-Key). The limit caps units at the flash price, not purchases: when both orders
are priced before either is reserved, the stock script refuses the second (409 limit_reached);
when the second is priced after the first was reserved, it is a purchase at the store price from
the same stock (counted as "at the store price"). Never more than --units either way.

Printed and written to ``--json``: units sold (the 201 reservations, the paid checkouts, and
Redis' own ``sold`` count), orders created, 409 counts by reason, orders dispatched, stock left,
req/s of the place burst (requests / time from the start signal to the last answer), its latency
p50/p99 (client side, send to full answer, every place request whatever its status), the pay
phase's, and CPU % per process tree (server, Redis, clients, other jobs on the machine).
The machine may be shared: figures vary from run to run; read CPU "other jobs" alongside.

Exit status: 0 all checks passed; 1 oversold (more than --units sold by any count) or stock
negative; 3 no oversell but another check failed (without --double-tap, fewer than
min(units, buyers) sold; the three counts of units sold disagree; a paid order not dispatched;
client errors or a 5xx); 2 bad arguments; 130 interrupted (everything is stopped).

    python bench/flash_sale.py                                   # 1,000 buyers, 100 units, 1 worker
    python bench/flash_sale.py --workers 2 --clients 2
    python bench/flash_sale.py --buyers 5000 --units 300 --double-tap 200
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


# -- the client processes ---------------------------------------------------------------------
def client_main(pipe: Any, index: int) -> None:
    """Holds its share of the buyers: warm connections, report ready, wait for the start time, place, report."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        job = pipe.recv()
        if job.get("stop"):
            return
        pipe.send(asyncio.run(_burst(job, pipe)))
        pipe.recv()  # stop
    except (KeyboardInterrupt, EOFError):
        pass
    finally:
        pipe.close()


async def _burst(job: dict[str, Any], pipe: Any) -> dict[str, Any]:
    import aiohttp

    url, buyers, timeout = job["url"], job["buyers"], job["timeout"]
    rng = random.Random(job["seed"])
    results: list[dict[str, Any]] = []
    errors: dict[str, int] = {}
    go = asyncio.Event()
    loop = asyncio.get_running_loop()
    # one session (one connection) per buyer: each is a separate customer's phone
    # the double-tappers' second order goes on a second connection of the same buyer
    taps = [(b, 0) for b in buyers] + [(b, 1) for b in buyers if b["double"]]
    rng.shuffle(taps)  # requests leave in no particular order of buyer or tap
    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), timeout=aiohttp.ClientTimeout(total=timeout))
                for _ in taps]
    try:
        async def warm(session: aiohttp.ClientSession) -> bool:
            try:
                async with session.get(url + "/favicon.ico") as reply:  # the cheapest answer the app has (404)
                    await reply.read()
                return True
            except Exception as exc:  # noqa: BLE001 - counted
                errors["warm:" + type(exc).__name__] = errors.get("warm:" + type(exc).__name__, 0) + 1
                return False

        warmed = sum(await asyncio.gather(*(warm(s) for s in sessions))) if job["warm"] else 0
        pipe.send({"ready": True, "warmed": warmed, "warm_errors": dict(errors)})
        start = await loop.run_in_executor(None, pipe.recv)  # the parent's start time (epoch s)
        t_start_mono = time.perf_counter() + max(0.0, start["at"] - time.time())

        async def place(session: aiohttp.ClientSession, buyer: dict[str, Any], tap: int) -> None:
            body = json.dumps({"store_id": job["store"], "lines": [{"sku": job["sku"], "qty": 1}],
                               "dropoff": {"lat": round(job["lat"] + rng.uniform(-0.01, 0.01), 6),
                                           "lng": round(job["lng"] + rng.uniform(-0.01, 0.01), 6)}, "mode": "asap"})
            headers = {"Authorization": f"Bearer {buyer['token']}", "Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json"}
            await go.wait()
            t0 = time.perf_counter()
            try:
                async with session.post(url + "/checkout/orders", data=body, headers=headers) as reply:
                    data = await reply.read()
                    status = reply.status
            except Exception as exc:  # noqa: BLE001 - counted; no retry (a retry is another request)
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            t1 = time.perf_counter()
            row: dict[str, Any] = {"buyer": buyer["i"], "tap": tap, "status": status, "latency": t1 - t0, "done": t1 - t_start_mono}
            try:
                payload = json.loads(data)
            except ValueError:
                payload = {"raw": data[:200].decode(errors="replace")}
            if status == 201:
                row["order_id"] = payload["order_id"]
                row["flash_units"] = sum(1 for line in payload["quote"]["lines"] if line["code"] == "flash")
                row["total_cents"] = payload["quote"]["total_cents"]
            else:
                detail = payload.get("detail") if isinstance(payload, dict) else None
                row["reason"] = detail.get("code") if isinstance(detail, dict) else str(detail or payload)[:120]
            results.append(row)

        tasks = [asyncio.create_task(place(s, b, tap)) for s, (b, tap) in zip(sessions, taps, strict=True)]
        await asyncio.sleep(0)  # every task is waiting on the event
        await asyncio.sleep(max(0.0, start["at"] - time.time()))
        go.set()
        await asyncio.gather(*tasks)
    finally:
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
    return {"results": results, "errors": errors}


# -- the parent: admin, pay phase, checks -------------------------------------------------------
async def admin_open_sale(url: str, admin: str, store: str, sku: str | None, price: int | None, units: int, minutes: float) -> dict[str, Any]:
    import aiohttp

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        async with http.get(f"{url}/shop/stores/{store}/items", params={"listing": "hot", "limit": 100}) as reply:
            if reply.status != 200:
                raise RuntimeError(f"GET /shop/stores/{store}/items answered {reply.status}: {(await reply.text())[:300]}")
            items = await reply.json()
        if not items:
            raise RuntimeError(f"store {store} sells nothing")
        item = next((i for i in items if i["sku"] == sku), None) if sku else items[0]
        if item is None:
            raise RuntimeError(f"store {store} has no item {sku}; it sells e.g. {', '.join(i['sku'] for i in items[:5])}")
        flash_price = price if price is not None else max(1, item["price_cents"] // 2)
        if flash_price >= item["price_cents"]:
            raise RuntimeError(f"--price-cents {flash_price} is not below the store price {item['price_cents']}: no flash price would apply")
        body = {"store_id": store, "sku": item["sku"], "price_cents": flash_price, "units": units, "per_customer_limit": 1, "minutes": minutes}
        async with http.post(f"{url}/shop/flash-sales", json=body, headers={"Authorization": f"Bearer {admin}"}) as reply:
            if reply.status != 201:
                raise RuntimeError(f"POST /shop/flash-sales answered {reply.status}: {(await reply.text())[:300]}")
            sale = await reply.json()
    sale["store_price_cents"] = item["price_cents"]
    return sale


async def pay_and_check(url: str, paying: list[tuple[str, str]], timeout: float) -> dict[str, Any]:
    """Every (order id, token) pays at once; then its checkout and its dispatched order are read back."""
    import aiohttp

    pay_lat: list[float] = []
    out: dict[str, Any] = {"pay_status": {}, "pay_results": {}, "checkout_status": {}, "order_found": 0, "order_missing": [],
                           "errors": {}}

    def bump(d: dict[str, int], k: str) -> None:
        d[k] = d.get(k, 0) + 1

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as http:
        async def pay(order_id: str, token: str) -> None:
            t0 = time.perf_counter()
            try:
                async with http.post(f"{url}/payments/{order_id}/simulate", json={"outcome": "succeeded"},
                                     headers={"Authorization": f"Bearer {token}"}) as reply:
                    data = await reply.json(content_type=None)
                    status = reply.status
            except Exception as exc:  # noqa: BLE001 - counted
                bump(out["errors"], "pay:" + type(exc).__name__)
                return
            pay_lat.append(time.perf_counter() - t0)
            bump(out["pay_status"], str(status))
            if status == 200:
                bump(out["pay_results"], str(data.get("reply", {}).get("result")))

        t0 = time.perf_counter()
        await asyncio.gather(*(pay(o, t) for o, t in paying))
        out["pay_wall_s"] = time.perf_counter() - t0

        async def check(order_id: str, token: str) -> None:
            h = {"Authorization": f"Bearer {token}"}
            try:
                async with http.get(f"{url}/checkout/orders/{order_id}", headers=h) as reply:
                    c = await reply.json(content_type=None)
                    bump(out["checkout_status"], c.get("status", str(reply.status)) if reply.status == 200 else str(reply.status))
                async with http.get(f"{url}/orders/{order_id}", headers=h) as reply:
                    await reply.read()
                    if reply.status == 200:
                        out["order_found"] += 1
                    else:
                        out["order_missing"].append(order_id)
            except Exception as exc:  # noqa: BLE001 - counted
                bump(out["errors"], "check:" + type(exc).__name__)

        sem = asyncio.Semaphore(50)

        async def bounded(o: str, t: str) -> None:
            async with sem:
                await check(o, t)

        await asyncio.gather(*(bounded(o, t) for o, t in paying))
    out["pay_latency_ms"] = summarize_ms(pay_lat)
    return out


def redis_counts(url: str, store: str, sku: str) -> dict[str, Any]:
    """What Redis itself says: stock left, units sold (committed), checkouts by status, reservations held."""
    import redis

    from api.shop.inventory import sold_key, stock_key

    r = redis.Redis.from_url(url)
    try:
        stock = r.hget(stock_key(store), sku)
        sold = r.hget(sold_key(store), sku)
        statuses: dict[str, int] = {}
        for key in r.scan_iter("checkout:o*", count=1000):
            s = (r.hget(key, "status") or b"?").decode()
            statuses[s] = statuses.get(s, 0) + 1
        return {"stock_left": None if stock is None else int(stock), "sold_committed": int(sold or 0), "checkouts_by_status": statuses,
                "checkouts": sum(statuses.values())}
    finally:
        r.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--buyers", type=int, default=1000, help="distinct customers, all placing at once (default 1000)")
    parser.add_argument("--units", type=int, default=100, help="units the flash sale sells (default 100)")
    parser.add_argument("--store", default="s1", help="store of the sale (default s1, in the demo city)")
    parser.add_argument("--sku", default=None, help="SKU on sale (default: the store's first hot item)")
    parser.add_argument("--price-cents", type=int, default=None, help="flash price (default: half the store price)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (default 1)")
    parser.add_argument("--clients", type=int, default=1, help="client processes sharing the buyers (default 1)")
    parser.add_argument("--double-tap", type=int, default=0, metavar="N",
                        help="the first N buyers also send a second concurrent order (default 0)")
    parser.add_argument("--cold", action="store_true", help="do not open the buyers' connections before the start signal")
    parser.add_argument("--timeout", type=float, default=120, help="seconds a single request may take before it counts as an error (default 120)")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the server (Settings, e.g. PAYMENT_MINUTES=1); repeatable")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "results" / "flash_sale.json")
    args = parser.parse_args()
    if args.buyers < 1 or args.units < 0 or args.workers < 1 or args.clients < 1 or args.timeout <= 0:
        parser.error("--buyers, --workers, --clients must be >= 1, --units >= 0, --timeout > 0")
    if args.clients > args.buyers:
        parser.error("--clients must not exceed --buyers")
    if not 0 <= args.double_tap <= args.buyers:
        parser.error("--double-tap must be between 0 and --buyers")
    if args.buyers > 20_000:
        parser.error("--buyers is capped at 20000 (one socket each on this machine)")
    server_env: dict[str, str] = {}
    for item in args.server_env:
        name, eq, value = item.partition("=")
        if not eq or not name:
            parser.error(f"--server-env takes NAME=VALUE, not {item!r}")
        server_env[name.upper()] = value
    on_sigterm_exit()
    nofile = raise_nofile(args.buyers + args.double_tap + 4096)

    from actors import live_keys as K
    from api.redis_server import EmbeddedRedis
    from api.security import Principal, access_token
    from api.serve import prepare
    from api.settings import Settings

    print(f"flash_sale: {args.buyers} buyers at once for {args.units} units of one SKU in store {args.store}; "
          f"{args.workers} uvicorn worker(s), {args.clients} client process(es); no dispatch engine (paid orders are queued "
          "in their region's input stream)", flush=True)
    embedded = EmbeddedRedis(persist=False)
    server: Uvicorn | None = None
    log: Path | None = None
    procs: list[Any] = []
    pipes: list[Any] = []
    trees: dict[str, ProcessTree] = {}
    finished = False
    code = 0
    try:
        url = embedded.start()
        settings = Settings(redis_url=url)
        prepare(settings)
        import redis

        client = redis.Redis.from_url(url)
        stores = {json.loads(v)["id"]: json.loads(v) for v in client.hgetall(K.STORES).values()}
        client.close()
        if args.store not in stores:
            parser.error(f"no store {args.store!r} in the demo city; stores: {', '.join(sorted(stores))}")
        store = stores[args.store]

        log = Path(tempfile.mkstemp(prefix="flash_sale-", suffix=".log")[1])
        server = Uvicorn("api.app:create_app", free_port(), args.workers, env={**server_env, "REDIS_URL": url}, log=log,
                         extra=("--timeout-graceful-shutdown", "5", "--timeout-keep-alive", "60", "--backlog", "4096"))
        server.wait_ready()
        trees = {"server": ProcessTree([server.pid]).start(), "redis": ProcessTree([redis_pid(url)]).start()}
        print(f"server up on {server.url} (pid {server.pid}); redis {url}", flush=True)

        admin = access_token(Principal("admin", "admin", ""), settings.jwt_secret, 60)
        sale = asyncio.run(admin_open_sale(server.url, admin, args.store, args.sku, args.price_cents, args.units, 60))
        print(f"flash sale open: {sale['units']} x {sale['sku']} at {sale['price_cents']} cents (store price {sale['store_price_cents']}), "
              f"per-customer limit {sale['per_customer_limit']}", flush=True)

        buyers = [{"i": i, "user": f"flash-buyer-{i}", "double": i < args.double_tap,
                   "token": access_token(Principal(f"flash-buyer-{i}", "customer", f"flash-buyer-{i}"), settings.jwt_secret, 60)}
                  for i in range(args.buyers)]
        token_of = {b["i"]: b["token"] for b in buyers}

        ctx = mp.get_context("spawn")
        for c in range(args.clients):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=client_main, args=(theirs, c), daemon=True)
            proc.start()
            theirs.close()
            procs.append(proc)
            pipes.append(mine)
        trees["clients"] = ProcessTree([p.pid for p in procs]).start()
        for c, pipe in enumerate(pipes):
            pipe.send({"url": server.url, "buyers": buyers[c::args.clients], "store": args.store, "sku": sale["sku"],
                       "lat": store["lat"], "lng": store["lng"], "timeout": args.timeout, "warm": not args.cold, "seed": args.seed + c})
        warmed = 0
        for c, pipe in enumerate(pipes):
            if not pipe.poll(60 + args.buyers / 50):
                raise RuntimeError(f"client {c} did not get ready")
            ready = pipe.recv()
            warmed += ready["warmed"]
        print(f"{warmed} buyer connections open" if not args.cold else "cold start: connections open with the first request", flush=True)

        at = time.time() + 0.5
        for pipe in pipes:
            pipe.send({"at": at})
        time.sleep(max(0.0, at - time.time()))
        window = Window(trees)  # CPU over the burst: from the start signal to the last client's report
        results: list[dict[str, Any]] = []
        errors: dict[str, int] = {}
        for c, pipe in enumerate(pipes):
            if not pipe.poll(args.timeout + 60):
                raise RuntimeError(f"client {c} did not finish the burst")
            got = pipe.recv()
            results += got["results"]
            for k, v in got["errors"].items():
                errors[k] = errors.get(k, 0) + v
        burst_cpu = window.close()
        sent = args.buyers + args.double_tap
        burst_s = max((r["done"] for r in results), default=0.0)
        place_lat = summarize_ms([r["latency"] for r in results])
        statuses: dict[str, int] = {}
        reasons: dict[str, int] = {}
        for r in results:
            statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
            if r["status"] == 409:
                reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
        created = [r for r in results if r["status"] == 201]
        first_taps = [r for r in results if r["tap"] == 0]
        print(f"burst: {sent} place requests, {len(created)} answered 201 in {burst_s:.2f} s; statuses {statuses}; errors {errors or 0}", flush=True)

        paying = [(r["order_id"], token_of[r["buyer"]]) for r in created]
        window = Window(trees)
        paid = asyncio.run(pay_and_check(server.url, paying, args.timeout))
        pay_cpu = window.close()
        counts = redis_counts(url, args.store, sale["sku"])
        exceptions = exceptions_in(log)

        units_reserved = len(created)  # each order is one unit
        units_paid = paid["checkout_status"].get("paid", 0)
        flash_units = sum(r.get("flash_units", 0) for r in created)
        buyers_with_unit = len({r["buyer"] for r in created})
        oversold = max(units_reserved, units_paid, counts["sold_committed"]) > args.units
        negative = counts["stock_left"] is not None and counts["stock_left"] < 0
        expected = min(args.units, args.buyers)
        server_errors = sum(n for s, n in statuses.items() if s.startswith("5")) + sum(n for s, n in paid["pay_status"].items() if s.startswith("5"))
        checks = {
            "not_oversold": not oversold,
            "stock_never_negative": not negative,
            "units_sold_agree": units_reserved == units_paid == counts["sold_committed"],
            # without double taps every buyer wants one unit, so the sale must sell out (or serve every buyer)
            "sold_out_exactly": args.double_tap > 0 or units_reserved == expected,
            "stock_accounts": counts["stock_left"] is not None and counts["stock_left"] + counts["sold_committed"] == args.units,
            "every_paid_order_dispatched": paid["order_found"] == units_paid == len(created),
            "checkouts_match_201s": counts["checkouts"] == len(created),
            "refusals_are_409": statuses.get("201", 0) + statuses.get("409", 0) == len(results) == sent,
            "no_client_errors": not errors and not paid["errors"],
            "no_server_errors": server_errors == 0 and not exceptions,
        }
        code = 1 if oversold or negative else (0 if all(checks.values()) else 3)
        figures = {
            "buyers": args.buyers, "double_tap": args.double_tap, "place_requests": sent, "units_on_sale": args.units,
            "sale": sale, "workers": args.workers, "clients": args.clients, "warm_connections": not args.cold,
            "units_sold": {"reserved_201": units_reserved, "paid": units_paid, "redis_sold": counts["sold_committed"],
                           "at_flash_price": flash_units, "at_store_price": units_reserved - flash_units},
            "buyers_with_a_unit": buyers_with_unit,
            "orders_created": len(created), "checkouts_in_redis": counts["checkouts_by_status"],
            "statuses": statuses, "refused_409_by_reason": reasons, "client_errors": errors,
            "orders_dispatched": paid["order_found"], "orders_missing": paid["order_missing"][:20],
            "stock_left": counts["stock_left"],
            "place": {"req_per_s": round(len(results) / burst_s, 1) if burst_s else None, "burst_s": round(burst_s, 3), "latency_ms": place_lat,
                      "latency_ms_201": summarize_ms([r["latency"] for r in created]),
                      "latency_ms_409": summarize_ms([r["latency"] for r in results if r["status"] == 409]),
                      "first_tap_latency_ms": summarize_ms([r["latency"] for r in first_taps]), "cpu_pct": burst_cpu},
            "pay": {"requests": len(paying), "statuses": paid["pay_status"], "webhook_results": paid["pay_results"],
                    "wall_s": round(paid["pay_wall_s"], 3), "latency_ms": paid["pay_latency_ms"], "errors": paid["errors"],
                    "checkouts_after": paid["checkout_status"], "cpu_pct": pay_cpu},
            "server_exceptions": exceptions, "checks": checks, "exit_status": code,
            "peak_server_rss_mb": round(trees["server"].peak_rss / 2**20, 1),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "nofile": nofile,
                        "load_avg_1m_after": round(os.getloadavg()[0], 2)},
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        }
        c = figures["place"]
        print()
        print(f"units sold         {units_reserved} reserved (201), {units_paid} paid, {counts['sold_committed']} sold in Redis "
              f"(of {args.units}; {flash_units} at the flash price, {units_reserved - flash_units} at the store price)")
        print(f"orders created     {len(created)} ({buyers_with_unit} distinct buyers); checkouts in Redis {counts['checkouts_by_status']}")
        print(f"refused (409)      {sum(reasons.values())}: {reasons or '-'}" + (f"; other statuses {statuses}" if set(statuses) - {'201', '409'} else ""))
        print(f"orders dispatched  {paid['order_found']} of {units_paid} paid (GET /orders/{{id}}); payments {paid['pay_status']}, "
              f"webhook {paid['pay_results']}")
        print(f"stock left         {counts['stock_left']}  (stock left + sold = {None if counts['stock_left'] is None else counts['stock_left'] + counts['sold_committed']})")
        print(f"place burst        {len(results)} answers in {c['burst_s']:.2f} s = {c['req_per_s']} req/s; latency p50 {place_lat['p50']} ms, "
              f"p99 {place_lat['p99']} ms, max {place_lat['max']} ms")
        print(f"                   cpu % server {burst_cpu['server']}, redis {burst_cpu['redis']}, clients {burst_cpu['clients']}, "
              f"other jobs {burst_cpu['others']} (100 % = one core of {os.cpu_count()}; shared machine: figures are noisy)")
        print(f"pay phase          {len(paying)} payments at once in {paid['pay_wall_s']:.2f} s; latency p50 {paid['pay_latency_ms']['p50']} ms, "
              f"p99 {paid['pay_latency_ms']['p99']} ms")
        if errors or paid["errors"]:
            print(f"client errors      {errors} {paid['errors']}")
        if exceptions:
            print(f"server errors      {exceptions} (log kept: {log})")
        print(f"checks             {', '.join(k for k, v in checks.items() if v)} passed" +
              (f"; FAILED: {', '.join(k for k, v in checks.items() if not v)}" if not all(checks.values()) else ""))
        if oversold:
            print(f"OVERSOLD: more than {args.units} units sold", file=sys.stderr)
        write_json(args.json, figures)
        print(f"wrote {args.json}")
        finished = True
    except KeyboardInterrupt:
        print("\ninterrupted: stopping clients, uvicorn and Redis", file=sys.stderr)
        code = 130
    finally:
        stop_clients(trees.values(), pipes, procs, graceful=finished, stop_message={"stop": True})
        if server is not None:
            server.stop()
        embedded.stop()
        if log is not None and not exceptions_in(log):
            log.unlink(missing_ok=True)
    raise SystemExit(code)


if __name__ == "__main__":
    main()
