"""An inconsistent snapshot is a ValueError with a clear message, never a silent plan."""
from __future__ import annotations

import pytest
from routing_fixtures import line_matrix

from routing.problem import Budget, Problem, Request, SolverOptions, Stop, Vehicle
from routing.solve import solve

M = line_matrix([0, 1, 2])
R = Request("r", Stop(1, 0, 10), Stop(2, 0, 10))
V = Vehicle("v", 0, 0, capacity=1)


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        (Problem(M, (V,), (R, R)), "duplicate request id 'r'"),
        (Problem(M, (V, V), (R,)), "duplicate vehicle id 'v'"),
        (Problem(M, (Vehicle("v", 0, 0, 1, onboard=("zz",)),), (R,)), "carries unknown request 'zz'"),
        (Problem(M, (Vehicle("v", 0, 0, 1, onboard=("r",)),), (R,)), "still has a pickup stop"),
        (Problem(M, (V,), (Request("b", None, Stop(2, 0, 10)),)), "no vehicle carries it"),
        (Problem(M, (V,), (Request("r", Stop(7, 0, 10), Stop(2, 0, 10)),)), "outside the 3x3 matrix"),
        (Problem(((0, 1), (1, 0), (2, 2)), (V,), (R,)), "square"),
        (Problem(M, (Vehicle("v", 0, -5, 1),), (R,)), "negative start time"),
        (Problem(M, (V,), (R,), allowed=(("r", ("v",)), ("r", ()))), "appears twice in allowed"),
    ],
)
def test_inconsistent_snapshots(problem: Problem, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        solve(problem, Budget(seconds=1.0))


def test_unknown_strategy_names() -> None:
    problem = Problem(M, (V,), (R,))
    with pytest.raises(ValueError, match="first solution strategy"):
        solve(problem, options=SolverOptions(first_solution="FASTEST_PLEASE"))
    with pytest.raises(ValueError, match="metaheuristic"):
        solve(problem, options=SolverOptions(metaheuristic="MAGIC"))


def test_empty_problems() -> None:
    assert solve(Problem(M, (), ())).routes == ()
    plan = solve(Problem(M, (), (R,)))
    assert [u.reason.value for u in plan.unassigned] == ["no_vehicle"]
    assert solve(Problem(M, (V,), ())).stats.status == "TRIVIAL"
