"""Committed stops: done first, in order, timed by a forward pass; never torn up."""
from __future__ import annotations

import pytest
from routing_fixtures import check_plan, line_matrix, weighted_total

from routing.problem import Budget, CommittedStop, Problem, Request, Stop, StopKind, Vehicle
from routing.solve import solve

BUDGET = Budget(seconds=5.0, solutions=50)
P, D = StopKind.PICKUP, StopKind.DROPOFF


def base(committed: tuple[CommittedStop, ...]) -> Problem:
    """Line points 0, 5, 9, 1, 2. Courier at 0 at time 0. Order c: store at 5 (ready 8, service
    2), door at 9. Order n: store at 1, door at 2, right next to the courier."""
    return Problem(
        matrix=line_matrix([0, 5, 9, 1, 2]),
        vehicles=(Vehicle("v", 0, 0, capacity=2, committed=committed),),
        requests=(
            Request("c", Stop(1, 8, 100, 2), Stop(2, 0, 100, 1)),
            Request("n", Stop(3, 0, 100), Stop(4, 0, 100)),
        ),
    )


def test_committed_stops_come_first_with_forward_pass_times() -> None:
    """c's pickup: arrival 5, waits to 8, leaves 10; c's drop-off: arrival 14, leaves 15. Only
    then n, although n is on the way: 15 + 8 = 23 at its store, 24 at its door."""
    problem = base((CommittedStop("c", P), CommittedStop("c", D)))
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    visits = plan.route_of("v").visits  # type: ignore[union-attr]
    assert [(x.request_id, x.kind) for x in visits] == [("c", P), ("c", D), ("n", P), ("n", D)]
    assert [(x.arrival, x.start, x.departure) for x in visits] == [(5, 8, 10), (14, 14, 15), (23, 23, 23), (24, 24, 24)]
    assert plan.eta == {"c": 14, "n": 24}
    assert plan.route_of("v").travel == 5 + 4 + 8 + 1  # type: ignore[union-attr]
    assert plan.objective.total == weighted_total(problem, plan)


def test_a_committed_pickup_puts_the_order_on_board() -> None:
    """Only c's pickup is committed: after it, c is on board and delivered by v, with n fitted in."""
    problem = base((CommittedStop("c", P),))
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    visits = plan.route_of("v").visits  # type: ignore[union-attr]
    assert (visits[0].request_id, visits[0].kind) == ("c", P)
    assert not plan.unassigned
    assert set(plan.eta) == {"c", "n"}


def test_committed_stops_stay_even_when_late() -> None:
    """A committed stop past its window is still done (it is committed): times are reported."""
    problem = Problem(
        matrix=line_matrix([0, 50, 60]),
        vehicles=(Vehicle("v", 0, 0, capacity=1, committed=(CommittedStop("c", P), CommittedStop("c", D))),),
        requests=(Request("c", Stop(1, 0, 10), Stop(2, 0, 20)),),
    )
    plan = solve(problem, BUDGET)
    assert plan.eta == {"c": 60}
    assert plan.stats.status == "TRIVIAL"
    assert [x.start for x in plan.routes[0].visits] == [50, 60]


def test_committed_stop_for_an_unknown_request_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown request 'zz'"):
        solve(base((CommittedStop("zz", P),)), BUDGET)


def test_committed_drop_off_without_its_pickup_is_an_error() -> None:
    with pytest.raises(ValueError, match="neither on board nor committed before it"):
        solve(base((CommittedStop("c", D),)), BUDGET)


def test_committed_drop_off_before_its_committed_pickup_is_an_error() -> None:
    with pytest.raises(ValueError, match="neither on board nor committed before it"):
        solve(base((CommittedStop("c", D), CommittedStop("c", P))), BUDGET)
