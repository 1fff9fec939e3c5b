"""The dispatcher console (``/ops/``) in a real browser, with two courier apps (``/courier/``) open beside it.

A planner sees the active order on the board and both couriers on the map, reassigns the order that
courier-1 accepted to courier-2; courier-1's app loses the stop, courier-2's app shows the offer,
and the console logs the action as done.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from actors import live_keys as K
from dispatch.geo import Location
from dispatch.zones import cell_str, zone_of
from tests.browser import keep_to_loopback, launch_chromium, sign_in

TIMEOUT_MS = 15_000
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "ops-console.png"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


def courier_app(browser: Any, live: Any, user: str, where: tuple[float, float], errors: list[str], outside: list[list[str]]) -> tuple[Any, Any]:
    """A phone with the courier app, signed in as ``user`` and on shift at ``where``."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, geolocation={"latitude": where[0], "longitude": where[1]},
                                  permissions=["geolocation"])
    context.set_default_timeout(TIMEOUT_MS)
    outside.append(keep_to_loopback(context))
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"{user}: {exc}"))
    page.goto(f"{live.base}/courier/")
    sign_in(page, user)
    page.wait_for_selector("#conn[data-state='live']")
    page.wait_for_function("document.getElementById('position').textContent.includes(',')")
    page.click("#shift-start")
    page.wait_for_selector("#shift-status[data-status='idle']")
    return context, page


def test_a_planner_reassigns_an_order_from_the_console_and_both_courier_apps_show_it(live: Any, browser: Any, tmp_path: Path) -> None:
    g1 = next(s for s in live.stores() if s["id"] == "g1")
    errors: list[str] = []
    outside: list[list[str]] = []
    contexts = []
    try:
        c1_context, one = courier_app(browser, live, "courier-1", (g1["lat"] + 0.001, g1["lng"]), errors, outside)
        contexts.append(c1_context)
        c2_context, two = courier_app(browser, live, "courier-2", (g1["lat"] - 0.008, g1["lng"] + 0.002), errors, outside)
        contexts.append(c2_context)

        created = httpx.post(f"{live.base}/orders", json={"store_id": "g1", "dropoff": {"lat": g1["lat"] + 0.01, "lng": g1["lng"]}},
                             headers=live.headers("alice"))
        assert created.status_code == 201, created.text
        oid = created.json()["id"]
        one.wait_for_selector("#offer:not([hidden])")
        one.click("#accept")
        one.wait_for_selector(f"#next[data-kind='pickup'][data-orders='{oid}']")

        console_context = browser.new_context(viewport={"width": 1400, "height": 900})
        contexts.append(console_context)
        console_context.set_default_timeout(TIMEOUT_MS)
        outside.append(keep_to_loopback(console_context))
        ops = console_context.new_page()
        ops.on("pageerror", lambda exc: errors.append(f"console: {exc}"))
        ops.goto(f"{live.base}/ops")
        sign_in(ops, "planner")
        ops.wait_for_selector("#conn[data-state='live']")
        row = f"#board tr[data-order='{oid}']"
        ops.wait_for_selector(row)
        assert ops.locator(f"{row} .pill").get_attribute("data-board") in ("on_time", "at_risk")
        ops.wait_for_selector("#map circle.courier[data-courier='courier-1']")
        ops.wait_for_selector("#map circle.courier[data-courier='courier-2']")
        assert ops.locator("#map rect.store").count() == len(live.stores())

        ops.select_option(f"{row} select.to", "courier-2")
        ops.click(f"{row} button[data-action='reassign']")
        ops.wait_for_function(f"[...document.querySelectorAll('#log li')].some(li => li.textContent.startsWith('reassign {oid} to courier-2: done'))")

        one.wait_for_selector("#next", state="hidden")  # the stop left courier-1's app
        assert one.locator(f"#route li[data-orders='{oid}']").count() == 0
        two.wait_for_selector("#offer:not([hidden])")
        assert oid in two.locator("#offer-stops li").first.get_attribute("data-orders")
        assert live.redis.hget(K.order_key(oid), "courier") == b"courier-2"

        ops.wait_for_function(f"document.querySelector(\"{row} td:nth-child(7)\").textContent === 'courier-2'")

        door = {"lat": g1["lat"] + 0.01, "lng": g1["lng"]}
        zone = cell_str(zone_of(Location(door["lat"], door["lng"]), 7))
        ops.fill("#zone-cell", zone)
        ops.fill("#zone-reason", "road closed")
        ops.click("#zone-pause")
        ops.wait_for_selector(f"#zone-controls tr[data-zone='{zone}'] .paused:text-is('road closed')")
        refused = httpx.post(f"{live.base}/orders", json={"store_id": "g1", "dropoff": door}, headers=live.headers("bob"))
        assert refused.status_code == 409 and refused.json()["detail"].endswith("paused by the dispatcher: road closed")
        ops.click("#zone-resume")
        ops.wait_for_selector(f"#zone-controls tr[data-zone='{zone}']", state="detached")  # open again: nothing set for it
        # docs/ops-console.png is refreshed on request only (O2O_SCREENSHOT=1), so a test run leaves the tree clean
        shot = SCREENSHOT if os.environ.get("O2O_SCREENSHOT") else tmp_path / "ops-console.png"
        ops.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    finally:
        for context in contexts:
            context.close()
    assert not errors, f"script errors on the pages: {errors}"
    assert not [url for urls in outside for url in urls], f"a page reached outside loopback: {outside}"
