"""``GET /health`` judges dispatch from Redis alone: each region's last tick and the engine supervisor's
state (``api.dispatch_health``). The verdicts from made-up values, then a live service whose engine stops."""
from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from api.dispatch_health import judge
from tests.api.conftest import Live, start_live

NOW = 1_800_000_000_000  # epoch ms
TAGS = ["8a", "8b"]


def beats(*ages_s: float | None) -> list[bytes | None]:
    return [None if age is None else str(int(NOW - age * 1000)).encode() for age in ages_s]


def engine(state: str, since_ago_s: float = 100, **fields: object) -> bytes:
    return json.dumps({"state": state, "since": NOW - int(since_ago_s * 1000), "down_since": None, "pid": 7, "restarts": 0,
                       "last_exit": None, "retry_at": None, "engine": "ray", **fields}).encode()


def test_every_region_cycling_is_ok_with_or_without_a_supervisor() -> None:
    assert judge(TAGS, beats(1, 2), None, NOW, 15).status == "ok"
    verdict = judge(TAGS, beats(1, 2), engine("running"), NOW, 15)
    assert verdict.status == "ok" and verdict.reason is None and verdict.engine is not None and verdict.engine.pid == 7


def test_a_region_that_stops_cycling_or_never_did_is_named() -> None:
    stale = judge(TAGS, beats(1, 20), engine("running"), NOW, 15)
    assert stale.status == "degraded"
    assert stale.reason is not None and stale.reason.startswith("region 8b has not cycled since ") and "orders are still taken" in stale.reason
    never = judge(TAGS, beats(None, 30), None, NOW, 15)
    assert never.reason is not None and never.reason.startswith("regions 8a, 8b have not cycled since ")
    assert judge(TAGS, beats(None, None), None, NOW, 15).reason.startswith("regions 8a, 8b have not cycled yet")  # type: ignore[union-attr]


def test_the_engine_state_says_why_dispatch_is_away() -> None:
    down = judge(TAGS, beats(1, 1), engine("down", 3, down_since=NOW - 3000, restarts=2, last_exit="killed by SIGKILL",
                                           retry_at=NOW + 1000, pid=None), NOW, 15)
    assert down.status == "degraded" and down.reason is not None  # fresh beats do not hide an engine that is gone
    assert down.reason.startswith("dispatch engine not running since ") and "(killed by SIGKILL; restart 2, next try at " in down.reason
    starting = judge(TAGS, beats(1, 1), engine("starting", 1), NOW, 15)
    assert starting.reason is not None and starting.reason.startswith("dispatch engine starting (since ")
    stopped = judge(TAGS, beats(1, 1), engine("stopped", 1), NOW, 15)
    assert stopped.reason is not None and stopped.reason.startswith("dispatch engine stopped at ")


def test_a_restarted_engine_counts_only_its_own_ticks() -> None:
    """Beats of the engine killed a moment ago are fresh, but nobody dispatches on them."""
    before = judge(TAGS, beats(2, 0.5), engine("running", since_ago_s=1), NOW, 15)
    assert before.status == "degraded" and before.reason is not None and before.reason.startswith("region 8a has not cycled since ")
    assert judge(TAGS, beats(0.5, 0.5), engine("running", since_ago_s=1), NOW, 15).status == "ok"


def test_an_unreadable_engine_state_is_ignored() -> None:
    assert judge(TAGS, beats(1, 1), b"{not json", NOW, 15).status == "ok"


@pytest.fixture
def twitchy(redis_url: str) -> Iterator[Live]:
    service, stop = start_live(redis_url, health_stale_s=1.0)
    try:
        yield service
    finally:
        stop()


def test_health_is_503_with_the_reason_once_the_regions_stop_cycling(twitchy: Live) -> None:
    live = twitchy
    live.wait(lambda: httpx.get(f"{live.base}/health").status_code == 200, 10, "every region to cycle")
    live.engine.close()  # the in-process engine stops ticking; nothing tells /health but the missing beats
    reply = live.wait(lambda: (r := httpx.get(f"{live.base}/health")).status_code == 503 and r, 10, "/health 503")
    body = reply.json()
    assert reply.headers["Retry-After"] == "5"
    assert body["ok"] is False and body["redis"] is True and body["dispatch"]["status"] == "degraded"
    assert "not cycled since" in body["detail"] and body["detail"] == body["dispatch"]["reason"]
    assert set(body["dispatch"]["last_cycle"]) == {f"{r:x}" for r in live.regions}
