"""Tiny named instances and a seeded random generator for the routing tests (and benchmarks)."""
from __future__ import annotations

import numpy as np

from routing.problem import Problem, Request, Stop, Vehicle, Weights


def line_matrix(points: list[int]) -> tuple[tuple[int, ...], ...]:
    """Travel on a line: |a - b| between the points' coordinates (a metric, hand-checkable)."""
    return tuple(tuple(abs(a - b) for b in points) for a in points)


def random_problem(
    n_vehicles: int,
    n_requests: int,
    seed: int = 0,
    size: int = 100,
    capacity: int = 4,
    allowed: int | None = None,
    deadlines: bool = False,
    onboard: int = 0,
    weights: Weights = Weights(travel=1, lateness=2, unassigned=100_000),
) -> Problem:
    """Couriers and orders on a ``size`` x ``size`` square (Euclidean travel, rounded up).

    Orders are ready at a random time in the next hour, promised 40 units after ready, hard drop
    window up to 120 after ready. ``allowed``: each order's nearest couriers only. ``onboard``:
    that many extra orders already on board of random couriers.
    """
    rng = np.random.default_rng(seed)
    n_loc = n_vehicles + 2 * (n_requests + onboard)
    xy = rng.uniform(0, size, (n_loc, 2))
    m = np.ceil(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))).astype(np.int64)
    vehicles = []
    carried: list[list[str]] = [[] for _ in range(n_vehicles)]
    requests = []
    for j in range(n_requests):
        ready = int(rng.integers(0, 60))
        p, d = n_vehicles + 2 * j, n_vehicles + 2 * j + 1
        requests.append(Request(f"r{j}", Stop(p, ready, ready + 60, 2), Stop(d, 0, ready + 120, 2), promise=ready + 40, size=int(rng.integers(1, 3))))
    for j in range(onboard):
        d = n_vehicles + 2 * (n_requests + j) + 1
        k = int(rng.integers(0, n_vehicles))
        requests.append(Request(f"b{j}", None, Stop(d, 0, 200, 2), promise=60, size=1))
        carried[k].append(f"b{j}")
    for k in range(n_vehicles):
        vehicles.append(Vehicle(f"v{k}", k, 0, capacity + len(carried[k]), pickup_deadline=int(rng.integers(30, 90)) if deadlines else None, onboard=tuple(carried[k])))
    allow: tuple = ()
    if allowed is not None:
        rows = []
        for j, r in enumerate(requests[:n_requests]):
            near = np.argsort(m[:n_vehicles, r.pickup.location], kind="stable")[:allowed]
            rows.append((r.id, tuple(f"v{k}" for k in near)))
        allow = tuple(rows)
    return Problem(tuple(map(tuple, m.tolist())), tuple(vehicles), tuple(requests), weights, allow)
