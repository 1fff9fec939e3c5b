"""The objective: travel x weight, fixed vehicle costs, and the total equal to its parts."""
from __future__ import annotations

from routing_fixtures import check_plan, line_matrix, random_problem, weighted_total

from routing.problem import Budget, Problem, Request, Stop, Vehicle, Weights
from routing.solve import onboard_penalty, solve

BUDGET = Budget(seconds=5.0, solutions=50)


def two_couriers(fixed: int, vehicle_weight: int = 0) -> Problem:
    """Couriers at 0 and 30; orders 10 -> 11 and 20 -> 21. Each courier taking its nearer order is
    10 + 1 + 10 + 1 = 22 travel on two vehicles; one courier doing both is 21 (from 0) on one."""
    return Problem(
        matrix=line_matrix([0, 30, 10, 11, 20, 21]),
        vehicles=(Vehicle("a", 0, 0, 2, fixed_cost=fixed), Vehicle("b", 1, 0, 2, fixed_cost=fixed)),
        requests=(Request("x", Stop(2, 0, 100), Stop(3, 0, 100)), Request("y", Stop(4, 0, 100), Stop(5, 0, 100))),
        weights=Weights(travel=3, vehicle=vehicle_weight),
    )


def test_travel_is_weighted() -> None:
    problem = two_couriers(fixed=0)
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    assert plan.objective.travel == 21
    assert plan.objective.total == 3 * 21 == weighted_total(problem, plan)


def test_fixed_costs_are_charged_per_used_vehicle() -> None:
    for problem in (two_couriers(fixed=50), two_couriers(fixed=20, vehicle_weight=30)):
        plan = solve(problem, BUDGET)
        check_plan(problem, plan)
        assert plan.objective.vehicles == 1
        assert plan.objective.total == 3 * 21 + 50 == weighted_total(problem, plan)


def test_total_equals_its_parts_on_random_instances() -> None:
    """Committed prefixes and requests classified before solving are in the total too."""
    for seed in range(3):
        problem = random_problem(6, 20, seed=seed, deadlines=True, onboard=3, committed=2, allowed=4)
        plan = solve(problem, Budget(seconds=5.0, solutions=40))
        check_plan(problem, plan)
        assert plan.objective.total == weighted_total(problem, plan, onboard_penalty(problem))
