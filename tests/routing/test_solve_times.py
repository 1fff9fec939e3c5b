"""Reported times: arrival = previous departure + travel, start = max(arrival, earliest), and that
start is the time cumul OR-Tools assigned (the earliest schedule, not just any feasible one)."""
from __future__ import annotations

import pytest
from routing_fixtures import check_plan, random_problem

import routing.solve as solve_module
from routing.problem import Budget


def test_starts_are_the_solver_cumuls(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[list[int], list[int]]] = []
    read_plan = solve_module._read_plan

    def spy(problem, prep, model, solution, stats):  # type: ignore[no-untyped-def]
        plan = read_plan(problem, prep, model, solution, stats)
        routing = model.routing
        for k, vehicle in enumerate(problem.vehicles):
            cumuls = []
            index = solution.Value(routing.NextVar(routing.Start(k)))
            while not routing.IsEnd(index):
                shift = model.offset if model.is_pickup[index] else 0
                cumuls.append(solution.Value(model.time_dim.CumulVar(index)) - shift)
                index = solution.Value(routing.NextVar(index))
            route = plan.route_of(vehicle.id)
            starts = [x.start for x in route.visits[len(prep.prefix[k]):]] if route else []
            compared.append((starts, cumuls))
        return plan

    monkeypatch.setattr(solve_module, "_read_plan", spy)
    for seed in range(3):
        problem = random_problem(6, 20, seed=seed, deadlines=True, onboard=3, committed=2)
        check_plan(problem, solve_module.solve(problem, Budget(seconds=5.0, solutions=50)))
    assert compared and all(starts == cumuls for starts, cumuls in compared)
    assert any(starts for starts, _ in compared)
