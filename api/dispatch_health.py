"""Is dispatch running? Read from Redis alone, so that every API worker answers the same.

Two signals: each region's last completed tick (``live:{r}:beat``, written by its ``LiveHost``,
whichever engine hosts it) and the engine process as its supervisor saw it (``engine:status``,
``api.engine_supervisor``). The ticks are the truth (a region that does not cycle does not
dispatch); the supervisor's state says why, and is there at once when the engine dies. While the
engine runs, only a tick since it started counts: the last beats of the one before it are no news.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from actors import live_keys as K
from api.models import DispatchHealth, EngineState

QUEUED = "orders are still taken: they wait in Redis and are dispatched when it returns"


def _at(ms: int | float | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def _hms(ms: int | float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def engine_state(raw: bytes | None) -> EngineState | None:
    if raw is None:
        return None
    try:
        body: dict[str, Any] = json.loads(raw)
        return EngineState(**{**body, **{k: _at(body.get(k)) for k in ("since", "down_since", "retry_at")}})
    except (ValueError, TypeError, ValidationError):
        return None


def judge(tags: list[str], beats: list[bytes | None], raw_engine: bytes | None, now_ms: int, stale_s: float) -> DispatchHealth:
    """The verdict from what Redis holds (pure: the tests call it with made-up values)."""
    last = {tag: (int(b) if b is not None else None) for tag, b in zip(tags, beats)}
    engine = engine_state(raw_engine)
    cycles = {tag: _at(ms) for tag, ms in last.items()}
    raw = json.loads(raw_engine) if engine is not None and raw_engine is not None else {}
    if engine is not None and engine.state != "running":
        if engine.state == "stopped":
            why = f"dispatch engine stopped at {_hms(raw['since'])}"
        elif engine.restarts == 0:
            why = f"dispatch engine starting (since {_hms(raw['since'])})"
        else:
            why = f"dispatch engine not running since {_hms(raw.get('down_since') or raw['since'])} ({engine.last_exit}; "
            why += f"restart {engine.restarts}" + (f", next try at {_hms(raw['retry_at'])}" if raw.get("retry_at") else ", starting") + ")"
        return DispatchHealth(status="degraded", reason=f"{why}; {QUEUED}", last_cycle=cycles, engine=engine)
    # a region counts once it cycled in the running engine: beats of the engine before (killed a moment ago) do not
    started = raw.get("since") if engine is not None else None
    stale = [tag for tag, ms in last.items() if ms is None or now_ms - ms > stale_s * 1000 or (started is not None and ms < started)]
    if stale:
        seen = [last[t] for t in stale if last[t] is not None]
        since = f"since {_hms(min(seen))}" if seen else "yet"
        names = ", ".join(stale)
        why = f"region{'s' if len(stale) > 1 else ''} {names} {'have' if len(stale) > 1 else 'has'} not cycled {since}"
        return DispatchHealth(status="degraded", reason=f"{why}; {QUEUED}", last_cycle=cycles, engine=engine)
    return DispatchHealth(status="ok", last_cycle=cycles, engine=engine)


async def dispatch_health(r: Any, stale_s: float) -> DispatchHealth:
    tags = sorted(t.decode() for t in await r.smembers(K.REGIONS))
    beats = await r.mget([K.beat_key(int(t, 16)) for t in tags]) if tags else []
    raw = await r.get(K.ENGINE)
    return judge(tags, list(beats), raw, int(datetime.now(UTC).timestamp() * 1000), stale_s)
