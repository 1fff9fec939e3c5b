"""With a solution limit (and no time limit reached) two runs give the same plan."""
from __future__ import annotations

from routing_fixtures import random_problem

from routing.problem import Budget
from routing.solve import solve


def test_two_runs_are_equal() -> None:
    problem = random_problem(6, 25, seed=11, allowed=4, deadlines=True, onboard=3, committed=2)
    budget = Budget(seconds=None, solutions=60)
    a, b = solve(problem, budget), solve(problem, budget)
    assert a.routes == b.routes
    assert a.unassigned == b.unassigned
    assert a.objective == b.objective
    assert a.eta == b.eta
