"""Readers for the classic static routing benchmarks, and their mapping onto ``routing.problem``.

Two formats, both as published (see ``../shared/bench/README.md``):

- **Li & Lim PDPTW**: first line ``K Q S`` (vehicles, capacity, speed), then one line per node
  ``id x y demand ready due service pickup_index delivery_index``; node 0 is the depot; a pickup has
  ``pickup_index = 0`` and names its delivery, a delivery names its pickup (demand is +q at the
  pickup and -q at the delivery).
- **Solomon VRPTW**: the classic text layout: a name line, ``VEHICLE`` / ``NUMBER CAPACITY`` /
  ``K Q``, ``CUSTOMER``, a header line, then rows ``id x y demand ready due service``; customer 0 is
  the depot.

The best-known-solution convention: Euclidean distance in double precision, travel time = distance
(speed 1, whatever S a Li & Lim file states: some say 0), service time counted, windows constrain the start of service, return to the
depot by its due time; objective hierarchical (fewest vehicles, then distance).

``to_problem`` builds an integer ``Problem`` whose feasible plans are feasible in that double
precision convention (see its docstring), so ``routing.check`` accepts every route the solver
returns.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from routing.problem import Problem, Request, Stop, Vehicle, Weights

LILIM = "lilim"
SOLOMON = "solomon"

DEFAULT_SCALE = 1000


@dataclass(frozen=True)
class BenchInstance:
    """A benchmark instance, exactly as its file says (index 0 is the depot).

    Nodes are addressed by *index* (their position in the file); ``ids[i]`` is node i's own id as
    written in the file (the same number in every published file). ``pairs`` lists the Li & Lim
    pickup/delivery pairs as ``(pickup index, delivery index)``; a Solomon instance has none and its
    ``customers`` are delivered from the depot.
    """

    name: str
    kind: str  # LILIM or SOLOMON
    ids: tuple[int, ...]
    x: tuple[float, ...]
    y: tuple[float, ...]
    demand: tuple[int, ...]  # Li & Lim: +q at a pickup, -q at its delivery; Solomon: q >= 0
    ready: tuple[float, ...]
    due: tuple[float, ...]
    service: tuple[float, ...]
    vehicles: int  # K: vehicles available
    capacity: int  # Q
    speed_in_file: float = 1.0  # Li & Lim's S: informational, the BKS convention is speed 1 (some files say 0)
    pairs: tuple[tuple[int, int], ...] = ()
    path: str = ""

    @property
    def size(self) -> int:
        return len(self.x)

    @property
    def customers(self) -> tuple[int, ...]:
        """Every node but the depot."""
        return tuple(range(1, self.size))

    def distance(self, a: int, b: int) -> float:
        """Euclidean distance between nodes a and b (indices), in double precision."""
        return math.hypot(self.x[a] - self.x[b], self.y[a] - self.y[b])

    def travel_time(self, a: int, b: int) -> float:
        """Travel time = distance (speed 1, the BKS convention, whatever S the file states)."""
        return self.distance(a, b)

    def index_of(self, node_id: int) -> int:
        """The index of the node with this file id (ValueError if there is none)."""
        try:
            return self._id_index()[node_id]
        except KeyError:
            raise ValueError(f"{self.name}: no node with id {node_id}") from None

    def _id_index(self) -> dict[int, int]:
        cache = self.__dict__.get("_id_cache")
        if cache is None:
            cache = {node_id: i for i, node_id in enumerate(self.ids)}
            object.__setattr__(self, "_id_cache", cache)
        return cache


# ----------------------------------------------------------------------------------- reading
def _number(token: str, where: str, what: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise ValueError(f"{where}: {what} is not a number: {token!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {what} is not finite: {token!r}")
    return value


def _integer(token: str, where: str, what: str) -> int:
    value = _number(token, where, what)
    if value != int(value):
        raise ValueError(f"{where}: {what} must be an integer: {token!r}")
    return int(value)


def detect_format(text: str) -> str:
    """LILIM or SOLOMON, from the content (ValueError when it is neither)."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("empty file")
    if any(tokens[0].upper() == "VEHICLE" for tokens in lines[:10]):
        return SOLOMON
    first = lines[0]
    if all(re.fullmatch(r"[-+0-9.eE]+", t) for t in first):  # the 'K Q S' line (its parser checks the count)
        return LILIM
    raise ValueError("neither a Li & Lim file (first line 'K Q S') nor a Solomon file (a 'VEHICLE' section)")


def read_instance(path: str | Path) -> BenchInstance:
    """Read a Li & Lim or Solomon file, the format detected from the content."""
    path = Path(path)
    text = _read_text(path)
    try:
        kind = detect_format(text)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return parse_lilim(text, path) if kind == LILIM else parse_solomon(text, path)


def read_lilim(path: str | Path) -> BenchInstance:
    path = Path(path)
    return parse_lilim(_read_text(path), path)


def read_solomon(path: str | Path) -> BenchInstance:
    path = Path(path)
    return parse_solomon(_read_text(path), path)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="strict")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a directory, not an instance file") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror})") from None


def _name_of(path: Path | None) -> str:
    return path.stem.lower() if path is not None else "instance"


@dataclass
class _Nodes:
    """The seven columns both formats share (id x y demand ready due service), parsed and checked row by row."""

    ids: list[int] = field(default_factory=list)
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    demand: list[int] = field(default_factory=list)
    ready: list[float] = field(default_factory=list)
    due: list[float] = field(default_factory=list)
    service: list[float] = field(default_factory=list)
    line_of: list[int] = field(default_factory=list)

    def add(self, tokens: list[str], n: int, where: str, id_name: str, due_name: str) -> None:
        self.ids.append(_integer(tokens[0], where, id_name))
        self.xs.append(_number(tokens[1], where, "x"))
        self.ys.append(_number(tokens[2], where, "y"))
        self.demand.append(_integer(tokens[3], where, "demand"))
        self.ready.append(_number(tokens[4], where, "ready time"))
        self.due.append(_number(tokens[5], where, due_name))
        self.service.append(_number(tokens[6], where, "service time"))
        self.line_of.append(n)

    def check_times(self, tokens: list[str], where: str, due_name: str) -> None:
        if self.ready[-1] > self.due[-1]:
            raise ValueError(f"{where}: ready time {tokens[4]} is after {due_name} {tokens[5]}")
        if self.service[-1] < 0:
            raise ValueError(f"{where}: negative service time")


def parse_lilim(text: str, path: str | Path | None = None) -> BenchInstance:
    """Parse the text of a Li & Lim PDPTW file; ``path`` names it in error messages."""
    path = Path(path) if path is not None else None
    label = str(path) if path is not None else "<text>"
    rows = [(n, line.split()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not rows:
        raise ValueError(f"{label}: empty file")
    n0, head = rows[0]
    where = f"{label}, line {n0}"
    if len(head) != 3:
        raise ValueError(f"{where}: expected 'K Q S' (vehicles capacity speed), got {len(head)} fields")
    vehicles = _integer(head[0], where, "vehicle count K")
    capacity = _integer(head[1], where, "capacity Q")
    speed = _number(head[2], where, "speed S")
    if vehicles <= 0 or capacity <= 0 or speed < 0:
        raise ValueError(f"{where}: K and Q must be positive and S not negative")

    nodes = _Nodes()
    links: list[tuple[int, int]] = []
    for n, tokens in rows[1:]:
        where = f"{label}, line {n}"
        if len(tokens) != 9:
            raise ValueError(f"{where}: expected 9 fields 'id x y demand ready due service pickup delivery', "
                             f"got {len(tokens)}")
        nodes.add(tokens, n, where, "id", "due time")
        links.append((_integer(tokens[7], where, "pickup index"), _integer(tokens[8], where, "delivery index")))
        nodes.check_times(tokens, where, "due time")
    ids, xs, ys, demand, ready, due, service, line_of = (
        nodes.ids, nodes.xs, nodes.ys, nodes.demand, nodes.ready, nodes.due, nodes.service, nodes.line_of)
    if len(ids) < 1:
        raise ValueError(f"{label}: no nodes after the 'K Q S' line")
    _check_ids(ids, line_of, label)
    index = {node_id: i for i, node_id in enumerate(ids)}
    if links[0] != (0, 0) or demand[0] != 0:
        raise ValueError(f"{label}, line {line_of[0]}: the depot (first node) must have demand 0 and pickup/delivery 0 0")

    pairs: list[tuple[int, int]] = []
    for i in range(1, len(ids)):
        where = f"{label}, line {line_of[i]}"
        pickup_id, delivery_id = links[i]
        if pickup_id == 0 and delivery_id == 0:
            raise ValueError(f"{where}: node {ids[i]} is neither a pickup nor a delivery (pickup and delivery index both 0)")
        if pickup_id != 0 and delivery_id != 0:
            raise ValueError(f"{where}: node {ids[i]} names both a pickup and a delivery")
        partner_id = delivery_id if pickup_id == 0 else pickup_id
        j = index.get(partner_id)
        if j is None or j == 0:
            raise ValueError(f"{where}: node {ids[i]} names node {partner_id}, which does not exist")
        back = links[j][1] if pickup_id != 0 else links[j][0]
        if back != ids[i]:
            raise ValueError(f"{where}: node {ids[i]} names node {partner_id}, which does not name it back")
        if pickup_id == 0:  # a pickup
            if demand[i] < 0:
                raise ValueError(f"{where}: pickup {ids[i]} has a negative demand {demand[i]}")
            if demand[j] != -demand[i]:
                raise ValueError(f"{where}: pickup {ids[i]} has demand {demand[i]} but its delivery "
                                 f"{partner_id} has {demand[j]} (expected {-demand[i]})")
            if demand[i] > capacity:
                raise ValueError(f"{where}: pickup {ids[i]} has demand {demand[i]} above the capacity {capacity}")
            pairs.append((i, j))
    return BenchInstance(
        name=_name_of(path), kind=LILIM, ids=tuple(ids), x=tuple(xs), y=tuple(ys), demand=tuple(demand),
        ready=tuple(ready), due=tuple(due), service=tuple(service), vehicles=vehicles, capacity=capacity,
        speed_in_file=speed, pairs=tuple(pairs), path=str(path) if path is not None else "",
    )


def _check_ids(ids: list[int], line_of: list[int], label: str) -> None:
    seen: dict[int, int] = {}
    for node_id, n in zip(ids, line_of):
        if node_id in seen:
            raise ValueError(f"{label}, line {n}: node id {node_id} repeats (first on line {seen[node_id]})")
        seen[node_id] = n
    if ids and ids[0] != 0:
        raise ValueError(f"{label}, line {line_of[0]}: the first node must be the depot, id 0 (got {ids[0]})")


def parse_solomon(text: str, path: str | Path | None = None) -> BenchInstance:
    """Parse the text of a Solomon VRPTW file; ``path`` names it in error messages."""
    path = Path(path) if path is not None else None
    label = str(path) if path is not None else "<text>"
    rows = [(n, line.split()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not rows:
        raise ValueError(f"{label}: empty file")
    name = " ".join(rows[0][1]).lower() if rows[0][1][0].upper() != "VEHICLE" else _name_of(path)
    k = next((i for i, (_, t) in enumerate(rows) if t[0].upper() == "VEHICLE"), None)
    if k is None:
        raise ValueError(f"{label}: no 'VEHICLE' section")
    # VEHICLE / NUMBER CAPACITY / K Q
    fleet = next(((n, t) for n, t in rows[k + 1:k + 4] if t and re.fullmatch(r"[-+0-9.]+", t[0])), None)
    if fleet is None:
        raise ValueError(f"{label}, line {rows[k][0]}: the VEHICLE section has no 'NUMBER CAPACITY' values")
    n_fleet, t_fleet = fleet
    where = f"{label}, line {n_fleet}"
    if len(t_fleet) != 2:
        raise ValueError(f"{where}: expected 'NUMBER CAPACITY', got {len(t_fleet)} fields")
    vehicles = _integer(t_fleet[0], where, "vehicle number")
    capacity = _integer(t_fleet[1], where, "capacity")
    if vehicles <= 0 or capacity <= 0:
        raise ValueError(f"{where}: vehicle number and capacity must be positive")
    c = next((i for i, (_, t) in enumerate(rows) if t[0].upper() == "CUSTOMER"), None)
    if c is None:
        raise ValueError(f"{label}: no 'CUSTOMER' section")
    nodes = _Nodes()
    for n, tokens in rows[c + 1:]:
        if not re.fullmatch(r"[-+0-9.]+", tokens[0]):
            if not nodes.ids:  # the column header ("CUST NO. XCOORD. ...")
                continue
            raise ValueError(f"{label}, line {n}: expected a customer row, got {' '.join(tokens)[:40]!r}")
        where = f"{label}, line {n}"
        if len(tokens) != 7:
            raise ValueError(f"{where}: expected 7 fields 'id x y demand ready due service', got {len(tokens)}")
        nodes.add(tokens, n, where, "customer number", "due date")
        if nodes.demand[-1] < 0:
            raise ValueError(f"{where}: negative demand")
        if nodes.demand[-1] > capacity:
            raise ValueError(f"{where}: demand {nodes.demand[-1]} above the capacity {capacity}")
        nodes.check_times(tokens, where, "due date")
    ids, xs, ys, demand, ready, due, service, line_of = (
        nodes.ids, nodes.xs, nodes.ys, nodes.demand, nodes.ready, nodes.due, nodes.service, nodes.line_of)
    if not ids:
        raise ValueError(f"{label}: no customer rows")
    _check_ids(ids, line_of, label)
    if demand[0] != 0:
        raise ValueError(f"{label}, line {line_of[0]}: the depot (customer 0) must have demand 0")
    return BenchInstance(
        name=name or _name_of(path), kind=SOLOMON, ids=tuple(ids), x=tuple(xs), y=tuple(ys),
        demand=tuple(demand), ready=tuple(ready), due=tuple(due), service=tuple(service),
        vehicles=vehicles, capacity=capacity, path=str(path) if path is not None else "",
    )


# ----------------------------------------------------------------------------------- mapping
def time_matrix(instance: BenchInstance, scale: int = DEFAULT_SCALE) -> tuple[tuple[int, ...], ...]:
    """Integer travel times: ceil(euclid * scale), so integer time never runs ahead of the
    double-precision time (an integer-feasible schedule is feasible in doubles)."""
    n = instance.size
    rows = []
    for a in range(n):
        rows.append(tuple(0 if a == b else math.ceil(instance.travel_time(a, b) * scale - 1e-9) for b in range(n)))
    return tuple(rows)


def request_id(instance: BenchInstance, node: int) -> str:
    """The request id ``to_problem`` gives the pair whose pickup is ``node`` (Li & Lim) or the
    customer ``node`` (Solomon): the file's own id, as text."""
    return str(instance.ids[node])


def to_problem(instance: BenchInstance, scale: int = DEFAULT_SCALE, vehicles: int | None = None,
               fixed_cost: int = 0, unassigned_penalty: int | None = None) -> Problem:
    """The instance as a ``routing.problem.Problem``.

    Units: one matrix serves as travel time and travel cost, ``ceil(euclid * scale)``.
    With scale 1000 the rounding adds < 0.001 per arc (< 0.2 over a 100-customer plan, under 0.02 %
    of any BKS distance), so the integer objective ranks plans as the double distance does, and
    because each arc is rounded *up*, windows are scaled inward (ready up, due down) and service
    rounded up, an integer-feasible schedule is also feasible in double precision, as
    ``routing.check`` verifies. Reported distances are recomputed in doubles from the routes.

    Matrix index = node index (0 is the depot). ``vehicles`` identical vehicles (default K) start
    at the depot at its ready time and return to it by its due time.

    Li & Lim: one request per pair (id = the pickup's file id), size = the pickup's demand.
    Solomon: a VRPTW is a PDPTW whose pickups are at the depot: customer i becomes a request whose
    pickup is at the depot with service 0 and window [depot ready, depot ready] (so every load is
    taken at the start of the route: no mid-route reload can reuse capacity) and whose drop-off is
    the customer, size = its demand.
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    matrix = time_matrix(instance, scale)

    def up(v: float) -> int:
        return math.ceil(v * scale - 1e-9)

    def down(v: float) -> int:
        return math.floor(v * scale + 1e-9)

    def stop(i: int) -> Stop:
        return Stop(location=i, earliest=up(instance.ready[i]), latest=down(instance.due[i]),
                    service=up(instance.service[i]))

    start = up(instance.ready[0])
    end = down(instance.due[0])
    requests: list[Request] = []
    if instance.kind == LILIM:
        for p, d in instance.pairs:
            requests.append(Request(id=request_id(instance, p), pickup=stop(p), dropoff=stop(d),
                                    size=instance.demand[p]))
    else:
        for i in instance.customers:
            depot_pickup = Stop(location=0, earliest=start, latest=start, service=0)
            requests.append(Request(id=request_id(instance, i), pickup=depot_pickup, dropoff=stop(i),
                                    size=instance.demand[i]))
    k = instance.vehicles if vehicles is None else vehicles
    fleet = tuple(
        Vehicle(id=f"v{v}", start=0, start_time=start, capacity=instance.capacity, end=0, end_time=end,
                fixed_cost=fixed_cost)
        for v in range(k)
    )
    weights = Weights() if unassigned_penalty is None else Weights(unassigned=unassigned_penalty)
    return Problem(matrix=matrix, vehicles=fleet, requests=tuple(requests), weights=weights)


def routes_from_plan(instance: BenchInstance, plan) -> list[list[int]]:
    """A plan's routes as lists of the instance's node *indices* in visit order, depot excluded
    (the Solomon depot pickups dropped). Empty routes are left out."""
    out: list[list[int]] = []
    for route in plan.routes:
        nodes = [v.location for v in route.visits if v.location != 0]
        if nodes:
            out.append(nodes)
    return out


def route_distance(instance: BenchInstance, routes: list[list[int]]) -> float:
    """Total double-precision Euclidean length of routes given as node indices (depot excluded)."""
    total = 0.0
    for route in routes:
        if not route:
            continue
        prev = 0
        for node in route:
            total += instance.distance(prev, node)
            prev = node
        total += instance.distance(prev, 0)
    return total


# ----------------------------------------------------------------------------------- BKS tables
@dataclass(frozen=True, slots=True)
class BestKnown:
    instance: str
    vehicles: int
    distance: float
    source: str = ""


def read_bks(path: str | Path) -> dict[str, BestKnown]:
    """A BKS table (``instance,vehicles,distance,source`` CSV), keyed by lower-case instance name."""
    import csv

    path = Path(path)
    out: dict[str, BestKnown] = {}
    text = _read_text(path)
    reader = csv.DictReader(text.splitlines())
    for n, row in enumerate(reader, start=2):
        try:
            out[row["instance"].strip().lower()] = BestKnown(
                instance=row["instance"].strip().lower(), vehicles=int(row["vehicles"]),
                distance=float(row["distance"]), source=(row.get("source") or "").strip())
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}, line {n}: expected 'instance,vehicles,distance[,source]'") from None
    return out
