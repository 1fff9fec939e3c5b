"""An independent feasibility checker for benchmark solutions.

It reads only the instance (``routing.benchmarks.BenchInstance``) and the routes (each a list of
the instance's own node ids in visit order, depot excluded) and recomputes everything in double
precision under the BKS convention: travel time = Euclidean distance, service time counted,
windows on the start of service (a vehicle arriving early waits), every route leaves the depot at
its ready time and is back by its due time. Nothing of the solver is trusted or imported.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

from routing.benchmarks import LILIM, BenchInstance

EPS = 1e-7  # double-precision slack on time comparisons (floating-point noise only)


@dataclass(frozen=True, slots=True)
class Violation:
    kind: str  # unknown_node, depot_in_route, duplicate, missing, pair_split, precedence, capacity,
    #            time_window, depot_return, fleet
    message: str
    route: int | None = None  # index of the offending route in the given list
    node: int | None = None  # the node's own id

    def __str__(self) -> str:
        return self.message


class CheckResult(NamedTuple):
    feasible: bool
    violations: list[Violation]
    vehicles: int  # non-empty routes
    distance: float  # double-precision Euclidean length of all routes (depot legs included)


def check(instance: BenchInstance, routes: Sequence[Sequence[int]]) -> CheckResult:
    """Check routes (node ids in visit order, depot excluded) against the instance."""
    violations: list[Violation] = []
    depot_id = instance.ids[0]
    seen: dict[int, int] = {}  # node index -> route index
    indexed: list[list[int]] = []
    for r, route in enumerate(routes):
        nodes: list[int] = []
        for node_id in route:
            try:
                i = instance.index_of(int(node_id))
            except (ValueError, TypeError):
                violations.append(Violation("unknown_node", f"route {r}: node {node_id!r} is not in {instance.name}",
                                            r, None))
                continue
            if i == 0:
                violations.append(Violation("depot_in_route", f"route {r}: the depot ({depot_id}) is listed as a stop",
                                            r, depot_id))
                continue
            if i in seen:
                violations.append(Violation("duplicate", f"route {r}: node {node_id} is served again "
                                                         f"(already on route {seen[i]})", r, int(node_id)))
                continue
            seen[i] = r
            nodes.append(i)
        indexed.append(nodes)

    for i in instance.customers:
        if i not in seen:
            violations.append(Violation("missing", f"node {instance.ids[i]} is served by no route", None,
                                        instance.ids[i]))

    if instance.kind == LILIM:
        for p, d in instance.pairs:
            if p in seen and d in seen and seen[p] != seen[d]:
                violations.append(Violation(
                    "pair_split", f"pickup {instance.ids[p]} is on route {seen[p]} but its delivery "
                                  f"{instance.ids[d]} on route {seen[d]}", seen[p], instance.ids[p]))

    distance = 0.0
    vehicles = 0
    for r, nodes in enumerate(indexed):
        if not nodes:
            continue
        vehicles += 1
        distance += _check_route(instance, r, nodes, violations)

    if vehicles > instance.vehicles:
        violations.append(Violation("fleet", f"{vehicles} routes but only {instance.vehicles} vehicles"))
    return CheckResult(not violations, violations, vehicles, distance)


def _check_route(instance: BenchInstance, r: int, nodes: list[int], violations: list[Violation]) -> float:
    ids = instance.ids
    # load
    if instance.kind == LILIM:
        position = {node: k for k, node in enumerate(nodes)}
        for p, d in instance.pairs:
            if p in position and d in position and position[d] < position[p]:
                violations.append(Violation("precedence", f"route {r}: delivery {ids[d]} comes before its pickup "
                                                          f"{ids[p]}", r, ids[d]))
        load = 0
        for node in nodes:
            load += instance.demand[node]
            if load > instance.capacity:
                violations.append(Violation("capacity", f"route {r}: load {load} after node {ids[node]} exceeds the "
                                                        f"capacity {instance.capacity}", r, ids[node]))
                break
    else:
        load = sum(instance.demand[node] for node in nodes)
        if load > instance.capacity:
            violations.append(Violation("capacity", f"route {r}: demand {load} exceeds the capacity "
                                                    f"{instance.capacity}", r, ids[nodes[0]]))
    # time and distance
    t = instance.ready[0]
    prev = 0
    distance = 0.0
    for node in nodes:
        leg = instance.distance(prev, node)
        distance += leg
        arrival = t + leg
        start = max(arrival, instance.ready[node])
        if start > instance.due[node] + EPS:
            violations.append(Violation("time_window", f"route {r}: service at node {ids[node]} starts at "
                                                       f"{start:.4f}, after its due time {instance.due[node]:g}",
                                        r, ids[node]))
        t = start + instance.service[node]
        prev = node
    leg = instance.distance(prev, 0)
    distance += leg
    back = t + leg
    if back > instance.due[0] + EPS:
        violations.append(Violation("depot_return", f"route {r}: back at the depot at {back:.4f}, after its due "
                                                    f"time {instance.due[0]:g}", r, ids[0]))
    return distance
