"""The demo fleet's courier never freezes on a call that does not come back: a socket that takes nothing and a REST
call that never answers are given up after a deadline, so the courier reconnects or asks again (bench/chaos.py
once lost a drop-off to a courier frozen with the food, right at a Redis crash)."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from api import fleet as F


class DeadLine:
    """A socket whose peer takes nothing: ``send`` never returns."""

    def __init__(self) -> None:
        self.transport = SimpleNamespace(aborted=False)
        self.transport.abort = lambda: setattr(self.transport, "aborted", True)

    async def send(self, text: str) -> None:
        await asyncio.Event().wait()


def test_a_socket_that_takes_nothing_is_cut_so_the_courier_reconnects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(F, "SEND_S", 0.05)
    line = DeadLine()
    with pytest.raises(ConnectionClosed):
        asyncio.run(F.SimCourier._write(SimpleNamespace(name="courier-1"), line, "{}"))  # type: ignore[arg-type]
    assert line.transport.aborted, "the dead line is closed, so the socket loop sees it drop"


def test_a_rest_call_that_never_answers_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(F, "CALL_S", 0.05)

    async def never(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def call() -> Any:
        api = F.Api("http://fleet.test", "demo")
        api.http = httpx.AsyncClient(base_url="http://fleet.test", transport=httpx.MockTransport(never))
        api.tokens["admin"] = "t"
        try:
            return await api.call("admin", "GET", "/orders/o1")
        finally:
            await api.close()

    with pytest.raises(F.FleetError, match="no answer in 0.05 s"):
        asyncio.run(call())
