"""The courier app (``/courier/``) in a real browser (Debian chromium through Playwright) against the live service.

A person signs in, starts a shift where the phone's geolocation puts them, sees an offer with its
countdown and the drop-off's cell (not the door), accepts, rides (the phone's position reaches the
dispatcher), loses signal, confirms the pickup without it, reloads the app still without signal,
gets signal back, and the pickup is applied once; the door shows only then; a wrong PIN is refused
and the right one delivers. The socket runs through Playwright so the test can cut it.
"""
from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from actors import live_keys as K
from tests.browser import keep_to_loopback, launch_chromium, sign_in

TIMEOUT_MS = 15_000
DOCS = Path(__file__).resolve().parents[2] / "docs"


def screenshot(page: Any, name: str, tmp_path: Path) -> None:
    """``docs/<name>`` is refreshed on request only (``O2O_SCREENSHOT=1``), so a test run leaves the tree clean."""
    shot = DOCS / name if os.environ.get("O2O_SCREENSHOT") else tmp_path / name
    page.wait_for_timeout(300)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000, "the screenshot holds a rendered page"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


def courier_frames(live: Any, courier: str) -> list[dict[str, Any]]:
    _, frames, _ = K.stream("courier", courier)
    return [json.loads(fields[b"f"]) for _, fields in live.redis.xrange(frames)]


def until(page: Any, predicate: Any, what: str, timeout: float = 10.0) -> None:
    """Poll ``predicate`` while Playwright runs: the page's socket goes through Playwright's route, which only
    passes frames on while the test is inside a Playwright call (a ``time.sleep`` would hold them)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        page.wait_for_timeout(50)


def order_status(live: Any, order_id: str, headers: dict[str, str]) -> str:
    return str(httpx.get(f"{live.base}/orders/{order_id}", headers=headers).json()["status"])


def test_a_courier_works_an_order_in_the_app_and_a_pickup_made_without_signal_is_applied_once(live: Any, browser: Any, tmp_path: Path) -> None:
    store = live.stores()[0]
    shop = (store["lat"], store["lng"])
    start = (round(shop[0] - 0.004, 6), round(shop[1] - 0.003, 6))
    door = (round(shop[0] + 0.008, 6), round(shop[1] + 0.011, 6))
    context = browser.new_context(viewport={"width": 390, "height": 844}, geolocation={"latitude": start[0], "longitude": start[1]},
                                  permissions=["geolocation"])
    context.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []

    signal = {"on": True}
    sockets: list[Any] = []

    def through(ws: Any) -> None:  # the phone's line to the server: cut, and refused while there is no signal
        sockets.append(ws)
        if signal["on"]:
            ws.connect_to_server()
        else:
            ws.close(code=4000, reason="no signal")

    outside = keep_to_loopback(context)
    context.route_web_socket(re.compile(r"/ws/courier"), through)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    alice = live.headers("alice")
    try:
        page.goto(f"{live.base}/courier")
        assert urlsplit(page.url).path == "/courier/", "the app lives under /courier/, its service worker's scope"
        sign_in(page, "courier-1")
        page.wait_for_selector("#conn[data-state='live']")
        assert page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)").endswith("/courier/")
        page.wait_for_function("document.getElementById('position').textContent.includes(',')")
        page.click("#shift-start")
        page.wait_for_selector("#shift-status[data-status='idle']")
        here = live.redis.hgetall(K.courier_key("courier-1"))
        assert (float(here[b"lat"]), float(here[b"lng"])) == start, "the shift starts where the phone is"

        created = httpx.post(f"{live.base}/orders", json={"store_id": store["id"], "dropoff": {"lat": door[0], "lng": door[1]}}, headers=alice)
        assert created.status_code == 201, created.text
        order = created.json()
        page.wait_for_selector("#offer:not([hidden])")
        assert page.locator("#offer-clock").inner_text().endswith(" s")
        offered = page.locator("#offer-stops li")
        assert offered.evaluate_all("lis => lis.map(li => [li.dataset.kind, li.dataset.exact])") == [["pickup", "true"], ["dropoff", "false"]]
        screenshot(page, "courier-app-offer.png", tmp_path)
        html = page.content()
        assert f"{door[0]:.5f}" not in html and str(door[0]) not in html, "before pickup the courier sees the door's cell, not the door"

        page.click("#accept")
        page.wait_for_selector("#offer", state="hidden")
        page.wait_for_selector("#next[data-kind='pickup']:not([hidden])")
        assert order["id"] in page.locator("#next").get_attribute("data-orders")
        assert page.locator("#picked-up").is_visible() and not page.locator("#pin").is_visible()
        assert order_status(live, order["id"], alice) == "assigned"

        context.set_geolocation({"latitude": shop[0], "longitude": shop[1]})  # rides to the store: the phone says so
        until(page, lambda: float(live.redis.hget(K.courier_key("courier-1"), "lat") or 0) == shop[0], "the phone's position at the server")

        signal["on"] = False  # no signal: the line drops, and reconnects are refused
        sockets[-1].close(code=4000, reason="tunnel")
        page.wait_for_selector("#conn[data-state='offline']")
        page.click("#picked-up")
        page.wait_for_selector("#pending[data-count='1']")
        page.wait_for_selector("#next[data-kind='dropoff']")
        page.reload()  # the app is closed and opened again, still without signal: the unsent pickup is kept
        page.wait_for_selector("#pending[data-count='1']")
        assert order_status(live, order["id"], alice) == "assigned", "nothing reached the server without signal"

        signal["on"] = True
        page.wait_for_selector("#conn[data-state='live']", timeout=30_000)
        page.wait_for_selector("#pending[data-count='0']", state="attached")
        until(page, lambda: order_status(live, order["id"], alice) == "picked_up", what="the pickup applied")
        page.wait_for_selector(f"#route li[data-kind='dropoff'][data-exact='true'][data-orders='{order['id']}']")
        assert f"{door[0]:.5f}" in page.locator("#next-where").inner_text(), "with the food in hand the courier sees the door"
        assert page.locator("#pin").is_visible() and not page.locator("#picked-up").is_visible()
        assert page.locator("#next-where a.maps").get_attribute("href") == f"geo:{door[0]},{door[1]}?q={door[0]},{door[1]}"

        screenshot(page, "courier-app-dropoff.png", tmp_path)
        page.fill("#pin", "0000" if order["pin"] != "0000" else "1111")
        page.click("#delivered")
        page.wait_for_function("document.getElementById('notice').textContent.includes('Wrong PIN')")
        page.wait_for_selector("#next[data-kind='dropoff']:not([hidden])")  # still to hand over
        page.fill("#pin", order["pin"])
        page.click("#delivered")
        until(page, lambda: order_status(live, order["id"], alice) == "delivered", what="the drop-off applied")
        page.wait_for_selector("#next", state="hidden")
        page.wait_for_selector("#pending[data-count='0']", state="attached")

        verdicts = [f["data"] for f in courier_frames(live, "courier-1") if f["type"] == "verdict"]
        pickups = [v for v in verdicts if v["kind"] == "pickup"]
        assert len({v["ref"] for v in pickups}) == 1, f"one pickup report, however often it was sent: {pickups}"
        assert [v["ok"] for v in pickups if not v.get("repeated")] == [True], f"applied once: {pickups}"
        assert [v["ok"] for v in verdicts if v["kind"] == "dropoff" and not v.get("repeated")] == [True]
        assert len(sockets) >= 3, "the app reconnected by itself"
    finally:
        context.close()
    assert not errors, f"script errors on the page: {errors}"
    assert not outside, f"the page reached outside loopback (pages must be self-contained): {outside}"


def test_the_courier_app_installs_and_refuses_who_is_not_a_courier(live: Any, browser: Any) -> None:
    manifest = httpx.get(f"{live.base}/courier/manifest.webmanifest")
    assert manifest.status_code == 200 and manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert (body["start_url"], body["scope"], body["display"]) == ("/courier/", "/courier/", "standalone") and body["icons"]
    assert httpx.get(f"{live.base}/courier/sw.js").headers["content-type"].startswith("text/javascript")
    missing = httpx.get(f"{live.base}/courier/secrets.txt")
    assert missing.status_code == 404

    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(f"{live.base}/courier/")
        sign_in(page, "alice")
        page.wait_for_function("document.getElementById('notice').textContent.includes('this app is for couriers')")
        assert page.locator("#signin").is_visible() and page.locator("#conn").get_attribute("data-state") == "idle"
        sign_in(page, "courier-2", "wrong")
        page.wait_for_function("document.getElementById('notice').textContent.startsWith('Sign-in failed')")
        assert page.locator("#signin").is_visible()
    finally:
        context.close()
