"""Warm start from the previous plan's routes (``Plan.as_initial``)."""
from __future__ import annotations

import pytest
from ortools.constraint_solver import pywrapcp
from routing_fixtures import check_plan, line_matrix, random_problem

from routing.problem import Budget, CommittedStop, Problem, Request, Stop, StopKind, Vehicle
from routing.solve import solve

P, D = StopKind.PICKUP, StopKind.DROPOFF


def test_initial_routes_reproduce_a_feasible_plan() -> None:
    """Warm-started from its own plan with a one-solution budget, the solver keeps that plan."""
    problem = random_problem(5, 15, seed=3)
    first = solve(problem, Budget(seconds=5.0, solutions=100))
    again = solve(problem, Budget(seconds=5.0, solutions=1), initial=first.as_initial())
    check_plan(problem, again)
    assert again.stats.warm_started
    assert again.objective.total == first.objective.total
    assert [(r.vehicle_id, r.visits) for r in again.routes] == [(r.vehicle_id, r.visits) for r in first.routes]


def test_a_warm_start_never_ends_worse_than_its_start() -> None:
    problem = random_problem(5, 15, seed=4)
    rough = solve(problem, Budget(seconds=5.0, solutions=1))
    better = solve(problem, Budget(seconds=5.0, solutions=50), initial=rough.as_initial())
    check_plan(problem, better)
    assert better.stats.warm_started
    assert better.objective.total <= rough.objective.total


def line_world() -> Problem:
    """Line: courier "v" at 0 committed to picking up c (store at 1); courier "w" at 50 carrying b
    (door at 51). Orders x (2 -> 3) and y (4 -> 5)."""
    return Problem(
        matrix=line_matrix([0, 1, 2, 3, 4, 5, 50, 51, 9]),
        vehicles=(
            Vehicle("v", 0, 0, capacity=3, committed=(CommittedStop("c", P),)),
            Vehicle("w", 6, 0, capacity=3, onboard=("b",)),
        ),
        requests=(
            Request("c", Stop(1, 0, 100), Stop(8, 0, 100)),
            Request("b", None, Stop(7, 0, 100)),
            Request("x", Stop(2, 0, 100), Stop(3, 0, 100)),
            Request("y", Stop(4, 0, 100), Stop(5, 0, 100)),
        ),
    )


def test_invalid_initial_stops_are_skipped() -> None:
    """Committed stops, unknown requests and vehicles, a drop-off without its pickup, a pickup whose
    drop-off never comes, an on-board order on the wrong vehicle, a repeat, a bad kind: all
    skipped; what is left is a valid start, and the solve is warm."""
    problem = line_world()
    initial = {
        "v": [("c", P), ("zz", P), ("x", P), ("x", D), ("y", D), ("b", D), ("x", P), ("c", D), ("q", "teleport")],
        "w": [("y", P)],
        "ghost": [("x", P), ("x", D)],
    }
    plan = solve(problem, Budget(seconds=5.0, solutions=20), initial=initial)  # type: ignore[arg-type]
    check_plan(problem, plan)
    assert plan.stats.warm_started
    assert not plan.unassigned
    assert [(x.request_id, x.kind) for x in plan.route_of("v").visits][0] == ("c", P)  # type: ignore[union-attr]


def test_initial_routes_that_broke_a_window_are_repaired() -> None:
    """x's door now closes at 5: alone x fits (door at 3 by time 3), but the old route serves y
    first and would reach x's door at 9. The repair drops x from the start instead of losing the
    whole warm start; the plan is feasible and x is planned again or reported."""
    problem = line_world()
    problem = Problem(problem.matrix, problem.vehicles, (
        *problem.requests[:2], Request("x", Stop(2, 0, 100), Stop(3, 0, 5)), problem.requests[3],
    ))
    initial = {"v": [("y", P), ("y", D), ("x", P), ("x", D), ("c", D)]}
    plan = solve(problem, Budget(seconds=5.0, solutions=20), initial=initial)
    check_plan(problem, plan)
    assert plan.stats.warm_started
    assert "y" in plan.eta and "c" in plan.eta


def test_rejected_initial_routes_fall_back_to_a_normal_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pywrapcp.RoutingModel, "ReadAssignmentFromRoutes", lambda self, routes, ignore: None)
    problem = line_world()
    plan = solve(problem, Budget(seconds=5.0, solutions=20), initial={"v": [("x", P), ("x", D)]})
    check_plan(problem, plan)
    assert not plan.stats.warm_started
    assert not plan.unassigned


def test_a_budget_too_short_to_search_still_returns_the_warm_start() -> None:
    """A millisecond is less than building the model takes: the search never starts, so the solver
    hands back the (feasible) warm start as it is instead of a plan that leaves everything out."""
    problem = random_problem(40, 150, seed=5)
    start = solve(problem, Budget(seconds=5.0, solutions=1))
    plan = solve(problem, Budget(seconds=0.001), initial=start.as_initial())
    check_plan(problem, plan)
    assert plan.stats.warm_started
    assert plan.stats.build_seconds > 0.001
    assert plan.objective.unassigned == start.objective.unassigned
    assert plan.objective.total <= start.objective.total
