"""The ``dispatch`` command: the simulator's commands plus the live service (``serve``, ``fleet``)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

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

    overrides = {k: v for k, v in {"engine": engine, "policy": policy, "scenario": scenario}.items() if v}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        sim._fail("bad settings: " + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    if settings.policy not in sim.POLICIES:
        sim._fail(f"unknown policy {settings.policy!r}; known: {', '.join(sorted(sim.POLICIES))}")
    logging.getLogger().setLevel(logging.INFO)
    run(settings, host=host, port=port, workers=workers, log_level=log_level)


def main() -> None:  # pragma: no cover - console entry
    sim.main()
