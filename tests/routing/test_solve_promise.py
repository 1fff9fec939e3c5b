"""The promise: a soft bound on the drop-off start, each unit late costs ``weights.lateness``."""
from __future__ import annotations

from routing_fixtures import check_plan, line_matrix, weighted_total

from routing.problem import Budget, Problem, Request, Stop, Vehicle, Weights
from routing.solve import solve

BUDGET = Budget(seconds=5.0, solutions=100)


def test_lateness_is_counted_and_reported() -> None:
    """Door at 10, promised at 4: it is served at 10, 6 late; the total carries 6 x 7."""
    problem = Problem(
        matrix=line_matrix([0, 10]),
        vehicles=(Vehicle("v", 0, 0, capacity=1),),
        requests=(Request("r", Stop(0, 0, 100), Stop(1, 0, 100), promise=4),),
        weights=Weights(travel=1, lateness=7),
    )
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    assert plan.eta == {"r": 10}
    assert plan.lateness == {"r": 6}
    assert plan.objective.lateness == 6
    assert plan.objective.total == 10 + 6 * 7 == weighted_total(problem, plan)


def two_doors(lateness: int) -> Problem:
    """Both orders from the store at 0, where the courier is. Door A at +10 promised at 10, door B
    at -3 promised at 100. Shortest: B then A (3 + 13 = 16 travel, A 6 late). A first: 10 + 13 =
    23 travel, nobody late."""
    return Problem(
        matrix=line_matrix([0, 10, -3]),
        vehicles=(Vehicle("v", 0, 0, capacity=2),),
        requests=(
            Request("a", Stop(0, 0, 1000), Stop(1, 0, 1000), promise=10),
            Request("b", Stop(0, 0, 1000), Stop(2, 0, 1000), promise=100),
        ),
        weights=Weights(travel=1, lateness=lateness),
    )


def test_without_a_lateness_weight_the_shortest_route_wins() -> None:
    problem = two_doors(lateness=0)
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    assert plan.objective.travel == 16
    assert plan.lateness == {"a": 6, "b": 0}


def test_a_large_lateness_weight_reorders_to_be_on_time() -> None:
    problem = two_doors(lateness=10)
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    assert plan.objective.travel == 23
    assert plan.lateness == {"a": 0, "b": 0}
    assert plan.eta == {"a": 10, "b": 23}
    assert plan.objective.total == 23 == weighted_total(problem, plan)
