"""Headless Debian chromium through Playwright, shared by the page and report tests.

Skips when chromium is absent, except under CI (``CI`` set), where ``.ci/run`` installs it and a
missing browser is a setup error.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def launch_chromium() -> Iterator[Any]:
    """Yield a launched browser (the body of a module-scoped ``browser`` fixture)."""
    path = chromium_path()
    if path is None:
        reason = "no chromium executable (/usr/bin/chromium or on PATH): install Debian's with `apt-get install -y chromium`"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI installs it, so this is a CI setup error)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def keep_to_loopback(context: Any) -> list[str]:
    """Abort every request of ``context`` that leaves loopback; the returned list collects them (pages must be
    self-contained: no CDN, no tile server), for the test to assert empty."""
    from urllib.parse import urlsplit

    outside: list[str] = []

    def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    return outside


def sign_in(page: Any, user: str, password: str = "demo") -> None:
    """Fill and send the sign-in form the people's pages share (``api/static/kit.js``: #user, #password, #signin-button)."""
    page.fill("#user", user)
    page.fill("#password", password)
    page.click("#signin-button")
