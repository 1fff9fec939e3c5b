"""SimClock's event queue and WallClock's scaled real time."""
from __future__ import annotations

import threading
import time

import pytest

from dispatch.clock import SimClock, WallClock


def test_sim_clock_jumps_from_event_to_event_in_time_order() -> None:
    clock = SimClock()
    seen: list[tuple[str, float]] = []
    for at, name in ((5, "c"), (1, "a"), (3, "b")):
        clock.schedule(at, lambda name=name: seen.append((name, clock.now())))
    assert len(clock) == 3 and clock.peek() == 1
    clock.run()
    assert seen == [("a", 1), ("b", 3), ("c", 5)]
    assert clock.now() == 5 and len(clock) == 0 and clock.peek() is None


def test_sim_clock_is_fifo_at_equal_times() -> None:
    clock = SimClock(start=2)
    seen: list[str] = []
    for name in "pqrst":
        clock.schedule(4, lambda name=name: seen.append(name))
    clock.schedule(2, lambda: seen.append("now"))
    clock.run()
    assert seen == ["now", "p", "q", "r", "s", "t"]


def test_step_runs_one_event() -> None:
    clock = SimClock()
    seen: list[float] = []
    clock.schedule(7, lambda: seen.append(clock.now()))
    assert clock.step() is True and seen == [7]
    assert clock.step() is False and clock.now() == 7


def test_run_until_stops_before_later_events_and_sets_now() -> None:
    clock = SimClock()
    seen: list[float] = []
    for at in (1, 3, 4, 5, 7):
        clock.schedule(at, lambda: seen.append(clock.now()))
    clock.run(until=4)
    assert seen == [1, 3, 4]  # an event exactly at ``until`` runs
    assert clock.now() == 4 and clock.peek() == 5 and len(clock) == 2
    clock.run(until=4.5)
    assert seen == [1, 3, 4] and clock.now() == 4.5
    clock.run(until=2)  # never goes back
    assert clock.now() == 4.5
    clock.run()
    assert seen == [1, 3, 4, 5, 7] and clock.now() == 7


def test_scheduling_in_the_past_raises() -> None:
    clock = SimClock(start=10)
    clock.schedule(10, lambda: None)  # now is fine
    with pytest.raises(ValueError, match="before now"):
        clock.schedule(9.5, lambda: None)
    assert len(clock) == 1


def test_self_rescheduling_process_gives_its_timeline() -> None:
    clock = SimClock()
    ticks: list[float] = []

    def courier_ping() -> None:
        ticks.append(clock.now())
        clock.schedule(clock.now() + 7, courier_ping)

    clock.schedule(0, courier_ping)
    clock.run(until=30)
    assert ticks == [0, 7, 14, 21, 28]
    assert clock.now() == 30 and clock.peek() == 35


def test_two_interleaved_processes() -> None:
    clock = SimClock()
    log: list[tuple[str, float]] = []

    def every(name: str, period: float):
        def tick() -> None:
            log.append((name, clock.now()))
            clock.schedule(clock.now() + period, tick)
        return tick

    clock.schedule(0, every("a", 3))
    clock.schedule(0, every("b", 5))
    clock.run(until=10)
    assert log == [("a", 0), ("b", 0), ("a", 3), ("b", 5), ("a", 6), ("a", 9), ("b", 10)]


def test_wall_clock_advances_with_speed() -> None:
    clock = WallClock(start_minute=100, speed=6000)  # 100 simulated minutes per real second
    t0 = clock.now()
    assert 100 <= t0 < 105
    time.sleep(0.05)  # ~5 simulated minutes
    elapsed = clock.now() - t0
    assert 4.0 <= elapsed < 60.0


def test_wall_clock_runs_a_scheduled_callback() -> None:
    clock = WallClock(speed=6000)
    fired = threading.Event()
    when: list[float] = []

    def callback() -> None:
        when.append(clock.now())
        fired.set()

    clock.schedule(clock.now() + 2, callback)  # ~20 ms of real time
    try:
        assert fired.wait(timeout=2.0)
        assert when[0] >= 2.0
    finally:
        clock.cancel_all()


def test_wall_clock_rejects_non_positive_speed() -> None:
    with pytest.raises(ValueError):
        WallClock(speed=0)
