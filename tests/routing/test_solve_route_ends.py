"""Open routes (couriers) end at their last stop; routes with an ``end`` return there in time."""
from __future__ import annotations

from routing_fixtures import check_plan, line_matrix

from routing.problem import Budget, Problem, Reason, Request, Stop, Vehicle
from routing.solve import solve

BUDGET = Budget(seconds=5.0, solutions=50)
MATRIX = line_matrix([0, 10, 20])  # depot 0, store 10, door 20


def one(vehicle: Vehicle) -> Problem:
    return Problem(MATRIX, (vehicle,), (Request("r", Stop(1, 0, 100), Stop(2, 0, 100)),))


def test_an_open_route_counts_no_way_back() -> None:
    plan = solve(one(Vehicle("v", 0, 0, capacity=1)), BUDGET)
    assert plan.routes[0].travel == 20
    assert plan.objective.total == 20


def test_a_route_with_an_end_returns_there() -> None:
    problem = one(Vehicle("v", 0, 0, capacity=1, end=0))
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    assert plan.routes[0].travel == 40
    assert plan.objective.total == 40


def test_the_end_time_bounds_the_return() -> None:
    """Back at 40 > 35: the order does not fit the shift."""
    plan = solve(one(Vehicle("v", 0, 0, capacity=1, end=0, end_time=35)), BUDGET)
    assert [(u.request_id, u.reason) for u in plan.unassigned] == [("r", Reason.UNREACHABLE)]
    assert "end time 35" in plan.unassigned[0].detail


def test_an_open_route_end_time_bounds_the_last_service() -> None:
    """Open route: ``end_time`` bounds the end of the last service (20 + service 3 = 23 > 22)."""
    problem = Problem(MATRIX, (Vehicle("v", 0, 0, capacity=1, end_time=22),), (Request("r", Stop(1, 0, 100), Stop(2, 0, 100, 3)),))
    assert solve(problem, BUDGET).unassigned[0].reason == Reason.UNREACHABLE
    fits = Problem(MATRIX, (Vehicle("v", 0, 0, capacity=1, end_time=23),), problem.requests)
    assert not solve(fits, BUDGET).unassigned


def test_end_time_binds_along_the_route() -> None:
    """Capacity 1, return by 45. Alone, a (10 -> 20) is back at 40 and b (12 -> 22) at 44; both:
    a then b 10 + 10 + 8 + 10 + 22 = 60, b then a 64. One is left out."""
    problem = Problem(
        line_matrix([0, 10, 20, 12, 22]),
        (Vehicle("v", 0, 0, capacity=1, end=0, end_time=45),),
        (Request("a", Stop(1, 0, 100), Stop(2, 0, 100)), Request("b", Stop(3, 0, 100), Stop(4, 0, 100))),
    )
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    assert len(plan.unassigned) == 1 and plan.unassigned[0].reason == Reason.NOT_WORTH_IT


def test_unused_vehicles_have_no_route() -> None:
    vehicles = (Vehicle("v", 0, 0, capacity=1, end=0), Vehicle("idle", 0, 0, capacity=1, end=0))
    problem = Problem(MATRIX, vehicles, one(Vehicle("x", 0, 0, 1)).requests)
    plan = solve(problem, BUDGET)
    assert [r.vehicle_id for r in plan.routes] in (["v"], ["idle"])
    assert plan.objective.vehicles == 1
