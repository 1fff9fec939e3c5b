"""to_problem + solve + the fleet strategy on tiny instances: routes the checker accepts."""
from __future__ import annotations

import pytest

from routing.benchmarks import parse_lilim, parse_solomon, routes_from_plan, to_problem
from routing.check import check
from routing.fleet import PORTFOLIO, Strategy, minimise, relabel, relatedness, run_strategy, score, variant
from routing.problem import Budget, SolverOptions
from routing.solve import solve
from bench_fixtures import LILIM_TINY, SOLOMON_TINY


@pytest.fixture(params=["lilim", "solomon"])
def instance(request):
    if request.param == "lilim":
        return parse_lilim(LILIM_TINY, "tiny.txt")
    return parse_solomon(SOLOMON_TINY, "T.txt")


def checked(inst, plan):
    return check(inst, [[inst.ids[i] for i in r] for r in routes_from_plan(inst, plan)])


def test_solve_on_a_tiny_instance_gives_checker_feasible_routes(instance):
    plan = solve(to_problem(instance), Budget(seconds=1.0, solutions=20),
                 options=SolverOptions(first_solution="LOCAL_CHEAPEST_INSERTION"))
    assert plan.unassigned == ()
    res = checked(instance, plan)
    assert res.feasible, res.violations


def test_variant_relabel_and_score(instance):
    p = to_problem(instance)
    v = variant(p, 5, 10**9)
    assert [x.id for x in v.vehicles] == [f"f{i}" for i in range(5)]
    assert v.weights.unassigned == 10**9 and all(x.fixed_cost == 0 for x in v.vehicles)
    plan = solve(v, Budget(seconds=1.0, solutions=20), options=SolverOptions(first_solution="LOCAL_CHEAPEST_INSERTION"))
    back = relabel(plan, p)
    assert {r.vehicle_id for r in back.routes} <= {x.id for x in p.vehicles}
    unassigned, vehicles, travel = score(p, back)
    assert unassigned == 0 and vehicles == len(back.routes) and travel > 0


def test_relatedness_ignores_depot_pickups():
    inst = parse_solomon(SOLOMON_TINY, "T.txt")
    rel = relatedness(to_problem(inst))
    # customers 1 (10, 0) and 2 (20, 0) are 10 apart, both ways: 2 * 10000 scaled; not 0 through the depot
    assert rel[0][1] == 20000 and rel[0][0] == 0


def test_one_strategy_serves_everything_on_the_fewest_vehicles(instance):
    res = run_strategy(to_problem(instance), 1.5, Strategy(seed=3))
    assert res.unassigned == 0 and res.plan is not None
    expected = 1 if instance.kind == "lilim" else 2  # Solomon tiny: demands 12 > capacity 10
    assert res.vehicles == expected
    assert checked(instance, res.plan).feasible


def test_portfolio_in_two_processes_within_its_budget(instance):
    import time

    t0 = time.perf_counter()
    res = minimise(to_problem(instance), 2.0, PORTFOLIO, workers=2)
    assert time.perf_counter() - t0 < 4.0
    assert res.unassigned == 0 and res.strategy in {s.name for s in PORTFOLIO}
    assert checked(instance, res.plan).feasible


def test_rejects_a_non_positive_budget(instance):
    with pytest.raises(ValueError):
        minimise(to_problem(instance), 0)


def _grid_lilim(pairs: int = 8) -> str:
    """A depot in the middle and ``pairs`` pickup-delivery pairs on a ring, wide windows, capacity 15."""
    import math as _m

    lines = [f"{pairs}\t15\t1", "0\t50\t50\t0\t0\t2000\t0\t0\t0"]
    for k in range(pairs):
        a = 2 * _m.pi * k / pairs
        p, d = 2 * k + 1, 2 * k + 2
        px, py = 50 + 30 * _m.cos(a), 50 + 30 * _m.sin(a)
        dx, dy = 50 + 40 * _m.cos(a + 0.3), 50 + 40 * _m.sin(a + 0.3)
        lines.append(f"{p}\t{px:.0f}\t{py:.0f}\t5\t0\t1500\t10\t0\t{d}")
        lines.append(f"{d}\t{dx:.0f}\t{dy:.0f}\t-5\t0\t1800\t10\t{p}\t0")
    return "\n".join(lines) + "\n"


def test_sub_problem_steps_splice_feasible_plans_and_finalize():
    inst = parse_lilim(_grid_lilim(), "ring.txt")
    problem = to_problem(inst)
    res = run_strategy(problem, 2.0, Strategy(seed=5, sub_routes=2, sub_share=1.0, eliminate_share=0.3))
    assert res.unassigned == 0
    verdict = checked(inst, res.plan)
    assert verdict.feasible, verdict.violations
    assert verdict.vehicles == res.vehicles
    for route in res.plan.routes:  # the finalized plan carries the solver's own schedule
        for v in route.visits:
            assert v.start >= v.arrival and v.departure >= v.start
    assert {r.vehicle_id for r in res.plan.routes} <= {v.id for v in problem.vehicles}
