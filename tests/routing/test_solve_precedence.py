"""Pickup before drop-off, on one vehicle."""
from __future__ import annotations

from routing_fixtures import check_plan, line_matrix

from routing.problem import Budget, Problem, Request, Stop, StopKind, Vehicle
from routing.solve import solve

BUDGET = Budget(seconds=5.0, solutions=50)


def test_drop_nearer_than_pickup_still_comes_after_it() -> None:
    """Line 0..10: the courier at 0, the store at 10, the door at 5 (on the way).
    It must drive past the door to the store and back: arrival at the store 10, service 1,
    the door at 11 + 5 = 16."""
    problem = Problem(
        matrix=line_matrix([0, 10, 5]),
        vehicles=(Vehicle("v", 0, 0, capacity=1),),
        requests=(Request("r", Stop(1, 0, 100, 1), Stop(2, 0, 100, 0)),),
    )
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    visits = plan.route_of("v").visits  # type: ignore[union-attr]
    assert [(x.request_id, x.kind) for x in visits] == [("r", StopKind.PICKUP), ("r", StopKind.DROPOFF)]
    assert (visits[0].arrival, visits[0].departure, visits[1].arrival) == (10, 11, 16)
    assert plan.eta == {"r": 16}
    assert plan.route_of("v").travel == 15  # type: ignore[union-attr]


def test_pairs_stay_on_one_vehicle() -> None:
    """Two couriers at the two ends of a line, four orders crossing it: every drop-off is made by
    the courier that picked the order up, after the pickup (the checker asserts both)."""
    points = [0, 100, 10, 90, 20, 80, 30, 70, 40, 60]
    requests = tuple(Request(f"r{j}", Stop(2 + 2 * j, 0, 1000, 1), Stop(3 + 2 * j, 0, 1000, 1)) for j in range(4))
    problem = Problem(
        matrix=line_matrix(points),
        vehicles=(Vehicle("a", 0, 0, capacity=4), Vehicle("b", 1, 0, capacity=4)),
        requests=requests,
    )
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    assert not plan.unassigned
    for route in plan.routes:
        kinds = {}
        for n, x in enumerate(route.visits):
            kinds.setdefault(x.request_id, []).append((n, x.kind))
        for rid, seen in kinds.items():
            assert [k for _, k in seen] == [StopKind.PICKUP, StopKind.DROPOFF], rid
