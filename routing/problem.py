"""The solver's input and output: an immutable problem snapshot in, a plan out.

Plain data, no domain classes: ``routing/`` knows nothing of orders, couriers, Ray or Redis. All
times and costs are integers in one unit (dispatch uses minutes; the benchmark adapters scale
Euclidean distances so that rounding stays below the BKS tables' precision).

Conventions (those of the Li & Lim and Solomon benchmarks):
- a time window constrains the *start of service* at a stop; service takes ``service`` units and
  the vehicle leaves when it ends; travel from stop a to stop b takes ``matrix[a][b]``;
- a request is a pickup and a drop-off served by one vehicle, pickup first;
- a vehicle's route starts at ``start`` at ``start_time`` and, when ``end`` is None, ends at its
  last stop (an open route, as couriers have); with an ``end`` it returns there by ``end_time``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Stop:
    """One side of a request: where, when service may start, how long it takes."""

    location: int  # index into the matrix
    earliest: int  # service may not start before (the vehicle waits)
    latest: int  # hard: service must start by then
    service: int = 0


@dataclass(frozen=True, slots=True)
class Request:
    """A pickup-and-delivery pair. ``promise`` is a soft bound on the drop-off's service start:
    each unit after it costs ``Weights.lateness``. ``pickup`` may be None for an order already on
    board: then only its drop-off is planned, on the vehicle that carries it."""

    id: str
    pickup: Stop | None
    dropoff: Stop
    promise: int | None = None
    size: int = 1
    lateness_weight: int | None = None  # per unit after the promise; None: ``Weights.lateness``

    def late_cost(self, weights: "Weights") -> int:
        return weights.lateness if self.lateness_weight is None else self.lateness_weight


class StopKind(StrEnum):
    PICKUP = "pickup"
    DROPOFF = "dropoff"


@dataclass(frozen=True, slots=True)
class CommittedStop:
    """A stop a vehicle has committed to (its current leg, or what it must do next): kept first, in order."""

    request_id: str
    kind: StopKind


@dataclass(frozen=True, slots=True)
class Vehicle:
    id: str
    start: int  # matrix index where it is (or will be) free
    start_time: int
    capacity: int
    pickup_deadline: int | None = None  # no pickup may start after it (a courier's shift end)
    end: int | None = None  # None: open route
    end_time: int | None = None  # latest return to ``end`` (or latest last service for an open route)
    onboard: tuple[str, ...] = ()  # requests it carries already (pickup None): only it delivers them
    committed: tuple[CommittedStop, ...] = ()  # done first and in this order, before anything else
    fixed_cost: int = 0  # charged when the vehicle serves at least one stop


@dataclass(frozen=True, slots=True)
class Weights:
    travel: int = 1  # per unit of travel
    lateness: int = 0  # per unit of drop-off service start after the request's promise
    unassigned: int = 1_000_000  # per request left out
    vehicle: int = 0  # added to every vehicle's own fixed_cost


@dataclass(frozen=True)
class Problem:
    matrix: tuple[tuple[int, ...], ...]  # square, integer travel units, matrix[a][b] from a to b
    vehicles: tuple[Vehicle, ...]
    requests: tuple[Request, ...]
    weights: Weights = field(default_factory=Weights)
    allowed: tuple[tuple[str, tuple[str, ...]], ...] = ()  # request id -> vehicle ids it may use (candidates); absent: any

    @property
    def size(self) -> int:
        return len(self.matrix)


@dataclass(frozen=True, slots=True)
class Budget:
    """When to stop: a wall-time limit, a solution limit (deterministic, for tests), or both."""

    seconds: float | None = 1.0
    solutions: int | None = None

    def __post_init__(self) -> None:
        if self.seconds is None and self.solutions is None:
            raise ValueError("a budget needs a time limit or a solution limit")
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError("the time limit must be positive")


@dataclass(frozen=True, slots=True)
class SolverOptions:
    """How to search. Names are OR-Tools enum names (``routing_enums_pb2``)."""

    first_solution: str = "AUTOMATIC"  # e.g. LOCAL_CHEAPEST_INSERTION, PARALLEL_CHEAPEST_INSERTION
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"  # or AUTOMATIC, SIMULATED_ANNEALING, TABU_SEARCH, GREEDY_DESCENT
    log_search: bool = False


# ----------------------------------------------------------------------------------- output
@dataclass(frozen=True, slots=True)
class Visit:
    request_id: str
    kind: StopKind
    location: int
    arrival: int  # when the vehicle gets there
    start: int  # service start (>= arrival: it may wait)
    departure: int  # start + service


@dataclass(frozen=True, slots=True)
class Route:
    vehicle_id: str
    visits: tuple[Visit, ...]  # committed stops included, first
    travel: int  # units of travel over the route (to ``end`` included when it has one)


class Reason(StrEnum):
    """Why a request is in no route: every unassigned request carries one."""

    NO_VEHICLE = "no_vehicle"  # no candidate vehicle at all
    TOO_LARGE = "too_large"  # larger than every candidate's capacity
    UNREACHABLE = "unreachable"  # no candidate can reach it within its windows or before its pickup deadline
    NOT_WORTH_IT = "not_worth_it"  # feasible alone, but the solver left it out: serving it costs more than the penalty
    NO_SOLUTION = "no_solution"  # the solver found no solution at all within the budget


@dataclass(frozen=True, slots=True)
class Unassigned:
    request_id: str
    reason: Reason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Objective:
    travel: int
    lateness: int  # units late (before weighting)
    unassigned: int  # count
    vehicles: int  # vehicles used
    total: int  # the weighted sum the solver minimised


@dataclass(frozen=True, slots=True)
class SolverStats:
    status: str
    wall_seconds: float
    first_solution: str
    metaheuristic: str
    solutions: int | None = None
    warm_started: bool = False
    build_seconds: float = 0.0  # checks, committed prefixes and the OR-Tools model, before the search
    first_solution_seconds: float | None = None  # from the call to the first solution (None: none found)


@dataclass(frozen=True)
class Plan:
    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    eta: dict[str, int]  # request id -> drop-off service start
    lateness: dict[str, int]  # request id -> units after its promise (0 when on time)
    objective: Objective
    stats: SolverStats

    def route_of(self, vehicle_id: str) -> Route | None:
        return next((r for r in self.routes if r.vehicle_id == vehicle_id), None)

    def as_initial(self) -> dict[str, list[tuple[str, StopKind]]]:
        """The routes as warm-start input for the next ``solve``: vehicle id -> stops in order."""
        return {r.vehicle_id: [(v.request_id, v.kind) for v in r.visits] for r in self.routes}
