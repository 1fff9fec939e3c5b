"""Capacity: the load on board never exceeds the vehicle's capacity."""
from __future__ import annotations

from routing_fixtures import check_plan, line_matrix

from routing.problem import Budget, Problem, Request, Stop, StopKind, Vehicle
from routing.solve import solve

BUDGET = Budget(seconds=5.0, solutions=50)


def two_orders(capacity: int) -> Problem:
    """Line: courier at 0, stores at 1 and 2, doors at 3 and 4; both orders of size 2.
    Batched (P1 P2 D1 D2) is 4 units of travel; serialized (P1 D1 P2 D2) is 1 + 2 + 1 + 2 = 6."""
    return Problem(
        matrix=line_matrix([0, 1, 2, 3, 4]),
        vehicles=(Vehicle("v", 0, 0, capacity=capacity),),
        requests=(
            Request("r1", Stop(1, 0, 100), Stop(3, 0, 100), size=2),
            Request("r2", Stop(2, 0, 100), Stop(4, 0, 100), size=2),
        ),
    )


def test_capacity_three_serializes_two_orders_of_size_two() -> None:
    problem = two_orders(capacity=3)
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    visits = plan.route_of("v").visits  # type: ignore[union-attr]
    order = [(x.request_id, x.kind) for x in visits]
    assert order == [("r1", StopKind.PICKUP), ("r1", StopKind.DROPOFF), ("r2", StopKind.PICKUP), ("r2", StopKind.DROPOFF)]
    assert plan.objective.travel == 6
    assert not plan.unassigned


def test_capacity_four_batches_them() -> None:
    problem = two_orders(capacity=4)
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    assert plan.objective.travel == 4
    kinds = [x.kind for x in plan.route_of("v").visits]  # type: ignore[union-attr]
    assert kinds == [StopKind.PICKUP, StopKind.PICKUP, StopKind.DROPOFF, StopKind.DROPOFF]


def test_load_already_on_board_counts() -> None:
    """The courier carries an order of size 2 (door at 4) and has capacity 3: the new order of
    size 2 (store 1, door 3) can only be picked up after that delivery: 0 -> 4 -> 1 -> 3."""
    problem = Problem(
        matrix=line_matrix([0, 1, 2, 3, 4]),
        vehicles=(Vehicle("v", 0, 0, capacity=3, onboard=("b",)),),
        requests=(
            Request("b", None, Stop(4, 0, 100), size=2),
            Request("r", Stop(1, 0, 100), Stop(3, 0, 100), size=2),
        ),
    )
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    order = [(x.request_id, x.kind) for x in plan.route_of("v").visits]  # type: ignore[union-attr]
    assert order == [("b", StopKind.DROPOFF), ("r", StopKind.PICKUP), ("r", StopKind.DROPOFF)]
    assert plan.objective.travel == 4 + 3 + 2
