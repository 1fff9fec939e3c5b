"""Delivery windows of the three modes, hand-computed."""
from __future__ import annotations

import pytest

from dispatch.errors import InvalidInput
from dispatch.modes import DeliveryMode, DeliveryWindow, asap_window, scheduled_window, timed_window


def bounds(w: DeliveryWindow) -> tuple[float, float, float]:
    return (w.earliest, w.promise, w.latest)


def test_mode_values() -> None:
    assert [m.value for m in DeliveryMode] == ["asap", "scheduled", "timed"]


def test_asap_window_defaults_to_mdrp_40_and_90() -> None:
    assert bounds(asap_window(10)) == (10, 50, 100)
    assert bounds(asap_window(10, promise_minutes=30, max_minutes=60)) == (10, 40, 70)


def test_asap_lateness_and_contains() -> None:
    w = asap_window(10)
    assert w.lateness(45) == 0 and w.lateness(50) == 0
    assert w.lateness(62.5) == 12.5
    assert w.contains(10) and w.contains(100)
    assert not w.contains(9.9) and not w.contains(100.1)


def test_scheduled_window_is_the_slot_plus_grace() -> None:
    w = scheduled_window(0, 60, 90)
    assert bounds(w) == (60, 90, 120)
    assert bounds(scheduled_window(0, 60, 90, grace_minutes=10)) == (60, 90, 100)
    assert not w.contains(59) and w.contains(60) and w.contains(120) and not w.contains(121)
    assert w.lateness(75) == 0 and w.lateness(97) == 7


def test_timed_window_is_the_time_plus_minus_tolerance() -> None:
    w = timed_window(0, 60)
    assert bounds(w) == (55, 65, 95)
    assert bounds(timed_window(0, 60, tolerance_minutes=0, grace_minutes=15)) == (60, 60, 75)
    assert not w.contains(54) and w.contains(55) and w.contains(95) and not w.contains(96)
    assert w.lateness(64) == 0 and w.lateness(70) == 5


@pytest.mark.parametrize(
    "make",
    [
        lambda: asap_window(0, promise_minutes=0),
        lambda: asap_window(0, promise_minutes=-5),
        lambda: asap_window(0, promise_minutes=50, max_minutes=40),
        lambda: scheduled_window(0, 60, 60),
        lambda: scheduled_window(0, 60, 50),
        lambda: scheduled_window(30, 20, 50),
        lambda: timed_window(0, 60, tolerance_minutes=-1),
        lambda: timed_window(58, 60, tolerance_minutes=5),
        lambda: DeliveryWindow(10, 5, 20),
        lambda: DeliveryWindow(10, 30, 20),
    ],
    ids=[
        "asap-zero-promise", "asap-negative-promise", "asap-max-below-promise", "slot-empty",
        "slot-reversed", "slot-in-the-past", "timed-negative-tolerance", "timed-too-soon",
        "promise-before-earliest", "promise-after-latest",
    ],
)
def test_bad_inputs_raise(make) -> None:
    with pytest.raises(InvalidInput):
        make()


def test_edge_inputs_are_accepted() -> None:
    assert bounds(asap_window(0, promise_minutes=40, max_minutes=40)) == (0, 40, 40)
    assert bounds(scheduled_window(20, 20, 50)) == (20, 50, 80)  # a slot starting right now
    assert bounds(timed_window(55, 60, tolerance_minutes=5)) == (55, 65, 95)
