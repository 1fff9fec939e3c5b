"""The time budget holds within 10 %, model building included."""
from __future__ import annotations

import time

from routing_fixtures import check_plan, random_problem

from routing.problem import Budget
from routing.solve import solve


def test_one_second_on_sixty_requests() -> None:
    problem = random_problem(15, 60, seed=7, allowed=6, deadlines=True, onboard=5, committed=3)
    started = time.perf_counter()
    plan = solve(problem, Budget(seconds=1.0))
    wall = time.perf_counter() - started
    check_plan(problem, plan)
    assert wall <= 1.1, wall
    assert plan.stats.wall_seconds <= wall
    assert 0 < plan.stats.build_seconds < plan.stats.wall_seconds
    assert plan.stats.first_solution_seconds is not None and plan.stats.first_solution_seconds < 1.0
    assert plan.stats.solutions and plan.stats.solutions >= 1


def test_a_short_budget_is_kept_too() -> None:
    problem = random_problem(15, 60, seed=8)
    started = time.perf_counter()
    plan = solve(problem, Budget(seconds=0.2))
    assert time.perf_counter() - started <= 0.22
    check_plan(problem, plan)
