"""One clock interface, two clocks (as SimPy's Environment and RealtimeEnvironment).

Time is in minutes. ``SimClock`` keeps an event queue and jumps from one event to the next;
``WallClock`` follows real time from a start instant. Code that asks a ``Clock`` for ``now()`` and
schedules through it runs unchanged on either.
"""
from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Current time in minutes."""
        ...

    def schedule(self, at: float, callback: Callable[[], Any]) -> None:
        """Run ``callback`` at minute ``at`` (or as soon as possible after it)."""
        ...


class SimClock:
    """Simulated time: ``run`` pops events in time order (FIFO among equal times) and jumps to each."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._queue: list[tuple[float, int, Callable[[], Any]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def schedule(self, at: float, callback: Callable[[], Any]) -> None:
        if at < self._now:
            raise ValueError(f"cannot schedule at {at} before now ({self._now})")
        heapq.heappush(self._queue, (float(at), next(self._seq), callback))

    def peek(self) -> float | None:
        """Time of the next event, or None when the queue is empty."""
        return self._queue[0][0] if self._queue else None

    def step(self) -> bool:
        """Run the next event; False when there is none."""
        if not self._queue:
            return False
        at, _, callback = heapq.heappop(self._queue)
        self._now = at
        callback()
        return True

    def run(self, until: float | None = None) -> None:
        """Run events until the queue empties or the next event lies beyond ``until``."""
        while self._queue and (until is None or self._queue[0][0] <= until):
            self.step()
        if until is not None and until > self._now:
            self._now = float(until)

    def __len__(self) -> int:
        return len(self._queue)


class WallClock:
    """Real time in minutes since ``start_minute`` at construction, scaled by ``speed`` (1 = real)."""

    def __init__(self, start_minute: float = 0.0, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._origin = time.monotonic()
        self._start = float(start_minute)
        self._speed = speed
        self._timers: list[Any] = []

    def now(self) -> float:
        return self._start + (time.monotonic() - self._origin) * self._speed / 60.0

    def schedule(self, at: float, callback: Callable[[], Any]) -> None:
        import threading

        delay_s = max(0.0, (at - self.now()) * 60.0 / self._speed)
        timer = threading.Timer(delay_s, callback)
        timer.daemon = True
        timer.start()
        self._timers.append(timer)

    def cancel_all(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
