"""A request's own lateness weight overrides the problem's: an order that has waited longest goes first."""
from __future__ import annotations

from routing.problem import Budget, Problem, Request, Stop, StopKind, Vehicle, Weights
from routing.solve import solve

# locations: 0 the vehicle, 1 the store, 2 and 3 two doors on opposite sides of the store
MATRIX = (
    (0, 10, 20, 20),
    (10, 0, 10, 10),
    (20, 10, 0, 20),
    (20, 10, 20, 0),
)


def _problem(weight_a: int | None, weight_b: int | None) -> Problem:
    def request(rid: str, door: int, weight: int | None) -> Request:
        return Request(rid, Stop(1, 0, 10**6), Stop(door, 0, 10**6), promise=20, lateness_weight=weight)

    return Problem(
        matrix=MATRIX,
        vehicles=(Vehicle("v", 0, 0, capacity=1),),  # one at a time: one of them is late
        requests=(request("a", 2, weight_a), request("b", 3, weight_b)),
        weights=Weights(travel=1, lateness=5),
    )


def _first_dropoff(problem: Problem) -> str:
    plan = solve(problem, Budget(seconds=None, solutions=50))
    drops = [v.request_id for v in plan.routes[0].visits if v.kind == StopKind.DROPOFF]
    assert sorted(drops) == ["a", "b"]
    return drops[0]


def test_the_heavier_request_is_delivered_first() -> None:
    assert _first_dropoff(_problem(weight_a=50, weight_b=None)) == "a"
    assert _first_dropoff(_problem(weight_a=None, weight_b=50)) == "b"


def test_the_objective_counts_each_request_at_its_own_weight() -> None:
    plan = solve(_problem(weight_a=50, weight_b=None), Budget(seconds=None, solutions=50))
    # a: store at 10, door at 20 (on time); back at the store at 30, b's door at 40: 20 late at weight 5
    assert plan.lateness == {"a": 0, "b": 20}
    assert plan.objective.total == plan.objective.travel * 1 + 20 * 5
