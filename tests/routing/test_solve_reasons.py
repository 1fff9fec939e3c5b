"""Every unassigned request carries its reason: each Reason has a case here."""
from __future__ import annotations

import pytest
from routing_fixtures import check_plan, line_matrix

import routing.solve as solve_module
from ortools.constraint_solver import routing_enums_pb2

from routing.problem import Budget, Problem, Reason, Request, SolverOptions, Stop, Vehicle, Weights
from routing.solve import solve

BUDGET = Budget(seconds=5.0, solutions=50)


def world(**overrides: object) -> Problem:
    """Line 0..: courier "a" at 0 (capacity 2), courier "b" at 1 (capacity 1); order r from 2 to 3."""
    base = dict(
        matrix=line_matrix([0, 1, 2, 3, 500]),
        vehicles=(Vehicle("a", 0, 0, capacity=2), Vehicle("b", 1, 0, capacity=1)),
        requests=(Request("r", Stop(2, 0, 100), Stop(3, 0, 100)),),
    )
    base.update(overrides)
    return Problem(**base)  # type: ignore[arg-type]


def reasons(plan) -> dict[str, Reason]:  # type: ignore[no-untyped-def]
    return {u.request_id: u.reason for u in plan.unassigned}


def test_no_vehicle_when_no_candidate() -> None:
    problem = world(allowed=(("r", ()),))
    assert reasons(solve(problem, BUDGET)) == {"r": Reason.NO_VEHICLE}


def test_no_vehicle_when_the_candidates_are_gone() -> None:
    problem = world(allowed=(("r", ("gone",)),))
    assert reasons(solve(problem, BUDGET)) == {"r": Reason.NO_VEHICLE}


def test_candidates_are_respected() -> None:
    """b is nearer, but only a may take it."""
    problem = world(allowed=(("r", ("a",)),))
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    assert [r.vehicle_id for r in plan.routes] == ["a"]


def test_too_large_for_every_candidate() -> None:
    problem = world(requests=(Request("r", Stop(2, 0, 100), Stop(3, 0, 100), size=3),))
    plan = solve(problem, BUDGET)
    assert reasons(plan) == {"r": Reason.TOO_LARGE}
    assert "largest candidate capacity 2" in plan.unassigned[0].detail


def test_too_large_counts_candidates_only() -> None:
    """Size 2 fits a, but only b (capacity 1) is a candidate."""
    problem = world(requests=(Request("r", Stop(2, 0, 100), Stop(3, 0, 100), size=2),), allowed=(("r", ("b",)),))
    assert reasons(solve(problem, BUDGET)) == {"r": Reason.TOO_LARGE}


def test_unreachable_when_the_pickup_window_closed() -> None:
    problem = world(requests=(Request("r", Stop(4, 0, 100), Stop(3, 0, 2000)),))
    plan = solve(problem, BUDGET)
    assert reasons(plan) == {"r": Reason.UNREACHABLE}
    assert "pickup start 499 > its latest 100" in plan.unassigned[0].detail


def test_not_worth_it_when_the_penalty_is_cheaper() -> None:
    """Serving costs 500 + 497 units of travel; leaving it out costs 10."""
    problem = world(requests=(Request("r", Stop(4, 0, 2000), Stop(3, 0, 2000)),), weights=Weights(unassigned=10))
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    assert reasons(plan) == {"r": Reason.NOT_WORTH_IT}
    assert plan.objective.total == 10


def test_no_solution_when_the_search_finds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The search finding nothing (simulated) retries with LOCAL_CHEAPEST_INSERTION, then gives every
    routed request NO_SOLUTION, on-board ones with a detail; requests classified before solving
    keep their own reason."""
    calls: list[int] = []

    def nothing(routing, params, found):  # type: ignore[no-untyped-def]
        calls.append(params.first_solution_strategy)
        return None

    monkeypatch.setattr(solve_module, "_from_scratch", nothing)
    problem = world(
        vehicles=(Vehicle("a", 0, 0, capacity=2, onboard=("b",)), Vehicle("b", 1, 0, capacity=1)),
        requests=(
            Request("r", Stop(2, 0, 100), Stop(3, 0, 100)),
            Request("b", None, Stop(3, 0, 100)),
            Request("big", Stop(2, 0, 100), Stop(3, 0, 100), size=5),
        ),
    )
    plan = solve(problem, BUDGET, options=SolverOptions(first_solution="PARALLEL_CHEAPEST_INSERTION"))
    fs = routing_enums_pb2.FirstSolutionStrategy
    assert calls == [fs.PARALLEL_CHEAPEST_INSERTION, fs.LOCAL_CHEAPEST_INSERTION]
    assert plan.stats.first_solution == "LOCAL_CHEAPEST_INSERTION"
    assert reasons(plan) == {"r": Reason.NO_SOLUTION, "b": Reason.NO_SOLUTION, "big": Reason.TOO_LARGE}
    assert "on board of 'a'" in next(u.detail for u in plan.unassigned if u.request_id == "b")
    assert plan.routes == () and plan.eta == {}
    assert plan.stats.first_solution_seconds is None
