"""Pickup deadlines (a courier's shift end): no pickup of its may start after it."""
from __future__ import annotations

from dataclasses import replace

from routing_fixtures import check_plan, line_matrix, random_problem

from routing.problem import Budget, Problem, Reason, Request, Stop, Vehicle
from routing.solve import solve

BUDGET = Budget(seconds=5.0, solutions=100)


def test_the_other_vehicle_takes_a_pickup_after_the_deadline() -> None:
    """Store at 10, door at 12. Courier "early" at 0 ends pickups at 5 (it would be there at 10);
    courier "late" at 30 has no deadline and is there at 20: it takes the order, though further."""
    problem = Problem(
        matrix=line_matrix([0, 30, 10, 12]),
        vehicles=(Vehicle("early", 0, 0, capacity=1, pickup_deadline=5), Vehicle("late", 1, 0, capacity=1)),
        requests=(Request("r", Stop(2, 0, 100), Stop(3, 0, 100)),),
    )
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    assert [r.vehicle_id for r in plan.routes] == ["late"]


def test_alone_the_request_is_unreachable_with_the_reason() -> None:
    problem = Problem(
        matrix=line_matrix([0, 10, 12]),
        vehicles=(Vehicle("early", 0, 0, capacity=1, pickup_deadline=5),),
        requests=(Request("r", Stop(1, 0, 100), Stop(2, 0, 100)),),
    )
    plan = solve(problem, BUDGET)
    assert [(u.request_id, u.reason) for u in plan.unassigned] == [("r", Reason.UNREACHABLE)]
    assert "pickup deadline 5" in plan.unassigned[0].detail


def test_the_deadline_binds_along_the_route_not_only_alone() -> None:
    """Courier at 0, deadline 14. Store A at 10 and store B at 14 (service 2 each), doors at 20 and
    21. Alone, each pickup is in time (10, 14); together B would start at 10 + 2 + 4 = 16 > 14,
    and B then A is no better (14 + 2 + 4 = 20 > 14). One order is left out, and drop-offs after
    the deadline stay allowed (they start at 20 and more)."""
    problem = Problem(
        matrix=line_matrix([0, 10, 14, 20, 21]),
        vehicles=(Vehicle("v", 0, 0, capacity=2, pickup_deadline=14),),
        requests=(
            Request("a", Stop(1, 0, 100, 2), Stop(3, 0, 100)),
            Request("b", Stop(2, 0, 100, 2), Stop(4, 0, 100)),
        ),
    )
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    assert len(plan.unassigned) == 1 and plan.unassigned[0].reason == Reason.NOT_WORTH_IT
    assert len(plan.eta) == 1 and min(plan.eta.values()) >= 20


def test_random_instances_with_deadlines_are_feasible() -> None:
    """Every courier has a deadline in [30, 90) and pickup windows run up to 60 after ready. With
    the deadlines the checker finds no pickup after its courier's deadline; the same instances
    solved without them do break some (so the deadlines do bind here)."""
    broken = 0
    for seed in range(3):
        problem = random_problem(6, 24, seed=seed, deadlines=True, allowed=4)
        check_plan(problem, solve(problem, Budget(seconds=5.0, solutions=30)))
        free = replace(problem, vehicles=tuple(replace(v, pickup_deadline=None) for v in problem.vehicles))
        try:
            check_plan(problem, solve(free, Budget(seconds=5.0, solutions=30)))
        except AssertionError as error:
            assert "deadline" in str(error)
            broken += 1
    assert broken >= 1
