"""The ``dispatch`` command: the simulator's commands plus the live service (``serve``, ``fleet``)."""
from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from simulator import cli as sim
from simulator.cli import app

__all__ = ["app", "main"]


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="uvicorn worker processes (they share Redis, nothing else)")] = 1,
    engine: Annotated[str, typer.Option(help="where region shards run: 'ray' (actors) or 'local' (threads here)")] = "",
    policy: Annotated[str, typer.Option(help="dispatch policy: greedy or ortools")] = "",
    scenario: Annotated[Path | None, typer.Option(help="city to serve (a scenario TOML); default: the demo city")] = None,
    reposition: Annotated[bool, typer.Option(help="suggest to idle couriers where demand is forecast (learned from the city's simulated days); "
                                                  "a courier who ends up in another region works there")] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Run the live service: REST + WebSockets on uvicorn, region shards on Ray, Redis as the spine.

    With no REDIS_URL it starts an embedded Redis (append-only file under DATA_DIR, default
    .o2o-data/). Settings come from the environment (REDIS_URL, RAY_ADDRESS, MODE, JWT_SECRET,
    TRACKING_SECRET, CYCLE_S, ...) or a TOML file named by O2O_CONFIG. Open http://HOST:PORT/ to
    place an order and track it; start couriers with `dispatch fleet`.
    """
    from api.serve import serve as run
    from api.settings import Settings

    overrides = {k: v for k, v in {"engine": engine, "policy": policy, "scenario": scenario, "reposition": reposition}.items() if v}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        sim._fail("bad settings: " + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    if settings.policy not in sim.POLICIES:
        sim._fail(f"unknown policy {settings.policy!r}; known: {', '.join(sorted(sim.POLICIES))}")
    logging.getLogger().setLevel(logging.INFO)
    from api.redis_server import DataDirBusy

    try:
        run(settings, host=host, port=port, workers=workers, log_level=log_level)
    except DataDirBusy as exc:
        sim._fail(str(exc))


def main() -> None:  # pragma: no cover - console entry
    sim.main()


@app.command()
def fleet(
    url: Annotated[str, typer.Option(help="base URL of the running service (`dispatch serve`)")] = "http://127.0.0.1:8000",
    couriers: Annotated[int, typer.Option(min=1, max=5000, help="simulated couriers: courier-1 .. courier-N")] = 10,
    speed_kmh: Annotated[float, typer.Option(min=0.1, help="riding speed in km/h, before --speedup")] = 18.0,
    speedup: Annotated[float, typer.Option(min=0.01, help="ride this many times faster than real life (10 for a quick demo)")] = 1.0,
    ping_s: Annotated[float, typer.Option(min=0.05, help="seconds between location pings of each courier")] = 2.0,
    decline_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="probability that a courier declines an offer")] = 0.0,
    order_rate: Annotated[float, typer.Option(min=0.0, help="simulated customers' orders per minute (alice and bob; 0: none, place your own)")] = 0.0,
    duration: Annotated[float | None, typer.Option(min=0.0, help="seconds to run, then end the shifts and stop (default: until Ctrl-C)")] = None,
    seed: Annotated[int, typer.Option(help="random seed: start points, declines, customers")] = 0,
    password: Annotated[str, typer.Option(help="password of the demo accounts the fleet signs in with")] = "demo",
) -> None:
    """Simulated courier apps for a live demo: no phones needed.

    Each courier signs in as courier-<i> (password demo), starts a shift near a random store, and
    speaks the real courier WebSocket protocol (docs/websocket-protocol.md): it accepts offers (or
    declines some, --decline-rate), rides to the store and to each door at --speed-kmh x --speedup,
    pings its position every --ping-s seconds, confirms pickups, and confirms drop-offs with the
    customer's PIN (the fleet reads it as admin, playing the customer at the door). A dropped
    socket resumes with ?after=<last seq>. Ctrl-C (or --duration) ends every shift.

    Start the service first, then the fleet, then place orders on http://127.0.0.1:8000/ or let
    simulated customers do it:

        dispatch serve
        dispatch fleet --couriers 10 --speedup 10 --order-rate 6

    --speedup speeds up the riding only: kitchens keep real time (the service's PREP_MINUTES,
    default 10) and the dispatcher offers a trip when its courier must leave for the food, so
    for a brisk demo start the service with PREP_MINUTES=2 dispatch serve.
    """
    import asyncio

    from rich.console import Group
    from rich.live import Live
    from rich.logging import RichHandler
    from rich.table import Table

    from api.fleet import Fleet, FleetError

    def render(f: Fleet) -> Group:
        counters = Table(title="dispatch fleet", show_header=False, title_justify="left")
        counters.add_column(style="bold")
        counters.add_column(justify="right")
        counters.add_row("service", url)
        counters.add_row("speed", f"{speed_kmh:g} km/h x {speedup:g}")
        for name, value in f.counters.as_dict().items():
            counters.add_row(name.replace("_", " "), str(value))
        counters.add_row("running", f"{time.monotonic() - f.started:.0f} s" if f.started else "starting")
        riders = Table("courier", "state", "stops left", "delivered", "declined")
        shown = f.couriers[:15]
        for c in shown:
            riders.add_row(c.name, c.status, str(len(c.route)), str(c.delivered), str(c.declined))
        if len(f.couriers) > len(shown):
            riders.add_row(f"... {len(f.couriers) - len(shown)} more", "", "", "", "")
        parts: list[Any] = [counters, riders]
        if f.recent_errors:
            parts.append("[red]" + "\n".join(f.recent_errors[-3:]).replace("[", "\\["))
        return Group(*parts)

    try:
        the_fleet = Fleet(url, couriers=couriers, speed_kmh=speed_kmh, speedup=speedup, ping_s=ping_s,
                          decline_rate=decline_rate, order_rate_per_min=order_rate, seed=seed,
                          duration_s=duration, password=password)
    except ValueError as exc:
        sim._fail(str(exc))

    async def run() -> None:
        import signal

        main = asyncio.current_task()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # SIGTERM stops cleanly too (not on Windows)
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)  # type: ignore[union-attr]
        try:
            await the_fleet.start()  # the checks (service up, accounts) fail here, before any table
        except BaseException:
            await the_fleet.stop()
            raise
        with Live(render(the_fleet), console=sim.console, auto_refresh=False, transient=False) as live:
            handler = RichHandler(console=sim.console, show_path=False, markup=False)
            fleet_log = logging.getLogger("api.fleet")
            fleet_log.addHandler(handler)
            fleet_log.setLevel(logging.INFO)
            fleet_log.propagate = False

            async def refresh() -> None:
                while True:
                    live.update(render(the_fleet), refresh=True)
                    await asyncio.sleep(1.0)

            ticker = asyncio.create_task(refresh())
            try:
                await the_fleet.run()
            finally:
                ticker.cancel()
                fleet_log.removeHandler(handler)
                fleet_log.propagate = True
                live.update(render(the_fleet), refresh=True)

    try:
        asyncio.run(run())
    except FleetError as exc:
        sim._fail(str(exc))
    except (KeyboardInterrupt, asyncio.CancelledError):
        sim.console.print("stopped: shifts ended")
    except Exception as exc:  # one line, never a traceback (DISPATCH_DEBUG=1 shows it)
        if os.environ.get("DISPATCH_DEBUG"):
            raise
        sim._fail(f"the fleet stopped: {type(exc).__name__}: {exc}", code=1)
