"""On-board orders: delivered by the vehicle that carries them, and only by it."""
from __future__ import annotations

from routing_fixtures import check_plan, line_matrix, weighted_total

from routing.problem import Budget, Problem, Reason, Request, Stop, StopKind, Vehicle
from routing.solve import onboard_penalty, solve

BUDGET = Budget(seconds=5.0, solutions=50)


def test_delivered_by_its_vehicle_even_when_another_is_at_the_door() -> None:
    """Far courier at 0 carries b (door at 100); a near courier stands at 100 already."""
    problem = Problem(
        matrix=line_matrix([0, 100]),
        vehicles=(Vehicle("far", 0, 0, capacity=1, onboard=("b",)), Vehicle("near", 1, 0, capacity=1)),
        requests=(Request("b", None, Stop(1, 0, 1000)),),
    )
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    assert [r.vehicle_id for r in plan.routes] == ["far"]
    assert [(x.request_id, x.kind) for x in plan.routes[0].visits] == [("b", StopKind.DROPOFF)]
    assert plan.eta == {"b": 100}


def test_two_on_board_orders_that_cannot_both_be_on_time() -> None:
    """Courier at 0 with b1 (door at -10, latest 10) and b2 (door at 10, latest 10): only one can
    be made. The other is UNREACHABLE with a detail and stays on board; the rest of the plan
    (order r for the other courier) is still solved."""
    problem = Problem(
        matrix=line_matrix([0, -10, 10, 50, 60]),
        vehicles=(Vehicle("v", 0, 0, capacity=2, onboard=("b1", "b2")), Vehicle("w", 3, 0, capacity=1)),
        requests=(
            Request("b1", None, Stop(1, 0, 10)),
            Request("b2", None, Stop(2, 0, 10)),
            Request("r", Stop(3, 0, 100), Stop(4, 0, 100)),
        ),
    )
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    assert len(plan.unassigned) == 1
    left = plan.unassigned[0]
    assert left.request_id in {"b1", "b2"} and left.reason == Reason.UNREACHABLE
    assert "on board of 'v'" in left.detail
    assert "r" in plan.eta
    assert plan.objective.total == weighted_total(problem, plan, onboard_penalty(problem))


def test_an_on_board_order_out_of_reach_keeps_its_room() -> None:
    """b's window closed before its courier can get there: UNREACHABLE before solving, and it
    keeps occupying the bag (capacity 1), so the courier cannot take r; the other courier does."""
    problem = Problem(
        matrix=line_matrix([0, 100, 1, 2, 3]),
        vehicles=(Vehicle("v", 0, 0, capacity=1, onboard=("b",)), Vehicle("w", 4, 0, capacity=1)),
        requests=(
            Request("b", None, Stop(1, 0, 50)),
            Request("r", Stop(2, 0, 100), Stop(3, 0, 100)),
        ),
    )
    plan = solve(problem, BUDGET)
    check_plan(problem, plan)
    assert [(u.request_id, u.reason) for u in plan.unassigned] == [("b", Reason.UNREACHABLE)]
    assert "stays on board" in plan.unassigned[0].detail
    assert [r.vehicle_id for r in plan.routes] == ["w"]
