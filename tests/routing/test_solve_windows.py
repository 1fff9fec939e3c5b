"""Time windows on service start: waiting when early, never after the latest."""
from __future__ import annotations

from routing_fixtures import check_plan, line_matrix

from routing.problem import Budget, Problem, Reason, Request, Stop, Vehicle
from routing.solve import solve

BUDGET = Budget(seconds=5.0, solutions=50)


def test_early_arrival_waits_for_the_window() -> None:
    """Courier at 0 at time 0; store at 4 (service 1), door at 10 with window [50, 60].
    Arrival at the door 4 + 1 + 6 = 11, service starts at 50, leaves at 50 + 3."""
    problem = Problem(
        matrix=line_matrix([0, 4, 10]),
        vehicles=(Vehicle("v", 0, 0, capacity=1),),
        requests=(Request("r", Stop(1, 0, 100, 1), Stop(2, 50, 60, 3)),),
    )
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    drop = plan.route_of("v").visits[1]  # type: ignore[union-attr]
    assert (drop.arrival, drop.start, drop.departure) == (11, 50, 53)
    assert drop.start > drop.arrival
    assert plan.eta["r"] == 50


def test_pickup_window_ready_time() -> None:
    """The food is ready at 20: the courier arriving at 4 waits until 20 at the store."""
    problem = Problem(
        matrix=line_matrix([0, 4, 10]),
        vehicles=(Vehicle("v", 0, 0, capacity=1),),
        requests=(Request("r", Stop(1, 20, 100, 2), Stop(2, 0, 100, 0)),),
    )
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    pickup, drop = plan.route_of("v").visits  # type: ignore[union-attr]
    assert (pickup.arrival, pickup.start, pickup.departure) == (4, 20, 22)
    assert drop.start == 28


def test_windows_order_the_stops() -> None:
    """Two orders from one store at 0 (where the courier is); door A at 10 opens at 100, door B at
    20 closes at 25: B first (20), then back to A (30, waits until 100)."""
    problem = Problem(
        matrix=line_matrix([0, 10, 20]),
        vehicles=(Vehicle("v", 0, 0, capacity=2),),
        requests=(
            Request("a", Stop(0, 0, 1000), Stop(1, 100, 200)),
            Request("b", Stop(0, 0, 1000), Stop(2, 0, 25)),
        ),
    )
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    assert plan.eta == {"b": 20, "a": 100}


def test_a_window_nobody_can_meet_is_unreachable() -> None:
    problem = Problem(
        matrix=line_matrix([0, 4, 10]),
        vehicles=(Vehicle("v", 0, 0, capacity=1),),
        requests=(Request("r", Stop(1, 0, 100), Stop(2, 0, 9)),),
    )
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    assert [(u.request_id, u.reason) for u in plan.unassigned] == [("r", Reason.UNREACHABLE)]
    assert "drop-off start 10 > its latest 9" in plan.unassigned[0].detail
