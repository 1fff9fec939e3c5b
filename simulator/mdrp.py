"""Grubhub's Meal Delivery Routing Problem (MDRP) days: read an instance, write a solution.

The format is fixed by grubhub/mdrplib and its evaluator ``compute_performance_summary.py`` (see
``shared/bench/delivery/mdrp/FORMAT.md``). ``read_mdrp`` turns an instance directory into an
``Instance`` so the simulator replays the day; ``write_solution`` writes the three
``solution_info_*.txt`` files in exactly the shape that evaluator parses, so our runs can be scored
by it (and by ``simulator.mdrp_check``, which re-implements its eight checks).

Reading is lenient about layout (any whitespace between fields, trailing blanks, blank lines, a
UTF-8 BOM, columns in any order) and strict about content: every number must be a non-negative
whole number and every rule of the format must hold; otherwise ``InputError`` names the file, the
line and the field.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dispatch.errors import InvalidInput
from dispatch.geo import PlanarFrame
from dispatch.modes import DeliveryMode, asap_window
from dispatch.records import AssignmentRecord, CourierRecord, MoveRecord, OrderRecord
from dispatch.rules import ServiceRules
from dispatch.travel import MdrpTravel
from simulator.errors import InputError
from simulator.instance import CourierSpec, Instance, OrderSpec, StoreSpec

ORDERS_FILE = "orders.txt"
RESTAURANTS_FILE = "restaurants.txt"
COURIERS_FILE = "couriers.txt"
PARAMETERS_FILE = "instance_parameters.txt"

ORDER_COLUMNS = ("order", "x", "y", "placement_time", "restaurant", "ready_time")
RESTAURANT_COLUMNS = ("restaurant", "x", "y")
COURIER_COLUMNS = ("courier", "x", "y", "on_time", "off_time")
PARAMETER_COLUMNS = (
    "meters_per_minute",
    "pickup service minutes",
    "dropoff service minutes",
    "target click-to-door",
    "maximum click-to-door",
    "pay per order",
    "guaranteed pay per hour",
)

ASSIGNMENTS_SOLUTION = "solution_info_assignments.txt"
ORDERS_SOLUTION = "solution_info_orders.txt"
COURIERS_SOLUTION = "solution_info_couriers.txt"

# MDRP bundles have no size limit (PDF section 1): a capacity this large never binds on a real day
# (the busiest public instances have a few hundred orders per restaurant over the whole day).
MDRP_CAPACITY = 1_000
# H3 resolution of the regions that shard an MDRP city (22 km edge): the real days span 12-37 km,
# so 1-3 regions, which keeps most dispatch decisions inside one region (see README, "regions").
MDRP_REGION_RES = 4


# ------------------------------------------------------------------ reading


@dataclass(frozen=True, slots=True)
class _Row:
    line: int  # 1-based physical line
    values: dict[str, str]


def _header_columns(text: str, expected: Sequence[str]) -> list[str]:
    """Column names of a header line.

    A tab-separated header whose cells are all known names splits on tabs (MDRP's parameter names
    contain spaces). Otherwise the words are matched greedily against the expected names, so a
    header typed with spaces or mixed whitespace still reads; a word that starts no expected name
    becomes a column of its own (and is reported as unexpected).
    """
    if "\t" in text:
        cells = [" ".join(c.split()) for c in text.split("\t") if c.strip()]
        if all(c in expected for c in cells):
            return cells
    words = text.split()
    names = sorted((tuple(e.split()) for e in expected), key=len, reverse=True)
    cols: list[str] = []
    i = 0
    while i < len(words):
        for name in names:
            if tuple(words[i : i + len(name)]) == name:
                cols.append(" ".join(name))
                i += len(name)
                break
        else:
            cols.append(words[i])
            i += 1
    return cols


def _read_table(path: Path, expected: Sequence[str]) -> list[_Row]:
    """Rows of a headed table as text, keyed by column name; layout problems raise InputError."""
    if not path.is_file():
        raise InputError(path, "file not found" if not path.exists() else "not a regular file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read the file: {exc}") from exc
    lines = text.splitlines()
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise InputError(path, f"the file is empty; expected a header with columns {', '.join(expected)}")
    header_line, header = numbered[0]
    cols = _header_columns(header, expected)
    seen: set[str] = set()
    for col in cols:
        if col in seen:
            raise InputError(path, f"column {col!r} appears twice in the header", header_line, col)
        seen.add(col)
    for col in expected:
        if col not in seen:
            raise InputError(path, f"missing column {col!r} (expected {', '.join(expected)})", header_line, col)
    for col in cols:
        if col not in expected:
            raise InputError(path, f"unexpected column {col!r} (expected {', '.join(expected)})", header_line, col)
    rows: list[_Row] = []
    for n, line in numbered[1:]:
        fields = line.split()
        if len(fields) < len(cols):
            missing = cols[len(fields)]
            raise InputError(path, f"missing value: {len(fields)} fields where the header has {len(cols)}", n, missing)
        if len(fields) > len(cols):
            raise InputError(path, f"{len(fields)} fields where the header has {len(cols)}: {' '.join(fields[len(cols):])!r} is extra", n)
        rows.append(_Row(n, dict(zip(cols, fields))))
    return rows


_WHOLE = re.compile(r"[+-]?[0-9]+(?:\.0*)?")


def _whole(path: Path, row: _Row, field: str) -> int:
    """A non-negative whole number (``27`` or ``27.0``); MDRP times, metres and parameters all are."""
    text = row.values[field]
    if not _WHOLE.fullmatch(text):
        raise InputError(path, f"{text!r} is not a whole number", row.line, field)
    value = int(text.split(".")[0])
    if value < 0:
        raise InputError(path, f"{text!r} is negative", row.line, field)
    return value


def _unique_id(path: Path, row: _Row, field: str, seen: dict[str, tuple[str, int]]) -> str:
    """The row's id, unique across the three entity files (the evaluator keys one location table by it)."""
    ident = row.values[field]
    if ident == "0":
        raise InputError(path, "'0' cannot be an id: solution files use it for a courier's on-location", row.line, field)
    if ident in seen:
        where, line = seen[ident]
        same = where == path.name
        first = f"line {line}" if same else f"{where} line {line}"
        raise InputError(path, f"duplicate id {ident!r} (first on {first})", row.line, field)
    seen[ident] = (path.name, row.line)
    return ident


def _id_key(ident: str) -> tuple[int, int, str]:
    """Sort key: by the numeric suffix (``c2`` before ``c10``), ids without one after, by text."""
    m = re.search(r"(\d+)$", ident)
    return (0, int(m.group(1)), ident) if m else (1, 0, ident)


def read_mdrp(directory: str | Path, frame: PlanarFrame = PlanarFrame(), region_res: int = MDRP_REGION_RES) -> Instance:
    """Read one MDRP instance directory into an ``Instance``.

    Locations keep their planar metres (``frame.location(x, y)``) so ``MdrpTravel`` reproduces the
    evaluator's travel times exactly, while lat/lng let H3 shard the day. Couriers get a capacity of
    ``MDRP_CAPACITY`` because MDRP bundles have no size limit. Orders are sorted by
    (placement_time, id); stores and couriers keep file order.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputError(root, "instance directory not found" if not root.exists() else "not a directory")
    name = root.resolve().name

    params_path = root / PARAMETERS_FILE
    params_rows = _read_table(params_path, PARAMETER_COLUMNS)
    if not params_rows:
        raise InputError(params_path, "no data row: expected one row of parameters")
    if len(params_rows) > 1:
        raise InputError(params_path, "more than one data row: expected exactly one", params_rows[1].line)
    prow = params_rows[0]
    p = {col: _whole(params_path, prow, col) for col in PARAMETER_COLUMNS}
    if p["meters_per_minute"] <= 0:
        raise InputError(params_path, "must be positive", prow.line, "meters_per_minute")
    if p["target click-to-door"] <= 0:
        raise InputError(params_path, "must be positive", prow.line, "target click-to-door")
    if p["maximum click-to-door"] < p["target click-to-door"]:
        raise InputError(params_path, "is below the target click-to-door", prow.line, "maximum click-to-door")
    rules = ServiceRules(
        pickup_service=float(p["pickup service minutes"]),
        dropoff_service=float(p["dropoff service minutes"]),
        target_click_to_door=float(p["target click-to-door"]),
        max_click_to_door=float(p["maximum click-to-door"]),
        pay_per_order=float(p["pay per order"]),
        pay_per_hour=float(p["guaranteed pay per hour"]),
    )

    ids: dict[str, tuple[str, int]] = {}

    rest_path = root / RESTAURANTS_FILE
    stores: list[StoreSpec] = []
    for row in _read_table(rest_path, RESTAURANT_COLUMNS):
        sid = _unique_id(rest_path, row, "restaurant", ids)
        x, y = _whole(rest_path, row, "x"), _whole(rest_path, row, "y")
        stores.append(StoreSpec(sid, frame.location(x, y)))
    store_ids = {s.id for s in stores}

    orders_path = root / ORDERS_FILE
    orders: list[OrderSpec] = []
    for row in _read_table(orders_path, ORDER_COLUMNS):
        oid = _unique_id(orders_path, row, "order", ids)
        x, y = _whole(orders_path, row, "x"), _whole(orders_path, row, "y")
        placed = _whole(orders_path, row, "placement_time")
        store = row.values["restaurant"]
        if store not in store_ids:
            raise InputError(orders_path, f"unknown restaurant {store!r} (not in {RESTAURANTS_FILE})", row.line, "restaurant")
        ready = _whole(orders_path, row, "ready_time")
        if ready < placed:
            raise InputError(orders_path, f"ready time {ready} is before the placement time {placed}", row.line, "ready_time")
        try:
            window = asap_window(float(placed), rules.target_click_to_door, rules.max_click_to_door)
        except InvalidInput as exc:  # unreachable after the parameter checks; kept so no bare error escapes
            raise InputError(orders_path, str(exc), row.line, "placement_time") from exc
        orders.append(
            OrderSpec(oid, store, frame.location(x, y), float(placed), float(ready), window, DeliveryMode.ASAP, 1)
        )
    orders.sort(key=lambda o: (o.placed_at, _id_key(o.id)))

    couriers_path = root / COURIERS_FILE
    couriers: list[CourierSpec] = []
    for row in _read_table(couriers_path, COURIER_COLUMNS):
        cid = _unique_id(couriers_path, row, "courier", ids)
        x, y = _whole(couriers_path, row, "x"), _whole(couriers_path, row, "y")
        on, off = _whole(couriers_path, row, "on_time"), _whole(couriers_path, row, "off_time")
        if off <= on:
            raise InputError(couriers_path, f"off time {off} is not after the on time {on}", row.line, "off_time")
        couriers.append(CourierSpec(cid, frame.location(x, y), float(on), float(off), MDRP_CAPACITY))

    return Instance(
        name=name,
        stores=tuple(stores),
        orders=tuple(orders),
        couriers=tuple(couriers),
        rules=rules,
        travel=MdrpTravel(float(p["meters_per_minute"])),
        region_res=region_res,
        meta={
            "source": "mdrp",
            "name": name,
            "path": str(root),
            "frame": frame,
            "meters_per_minute": p["meters_per_minute"],
        },
    )


# ------------------------------------------------------------------ writing


def _time(value: float) -> str:
    """``27`` for an integral time, the float's repr otherwise (the evaluator reads both)."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"cannot write the time {value!r}")
    return str(int(number)) if number.is_integer() else repr(number)


def _token(value: str, what: str) -> str:
    """An id as one whitespace-free token: the evaluator splits every line on whitespace."""
    if not value or any(ch.isspace() for ch in value):
        raise ValueError(f"{what} {value!r} is empty or contains whitespace")
    return value


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_solution(
    out_dir: str | Path,
    assignments: list[AssignmentRecord],
    orders: list[OrderRecord],
    couriers: list[CourierRecord],
) -> None:
    """Write ``solution_info_{assignments,orders,couriers}.txt`` for the MDRP evaluator.

    Shapes (all space-separated, header first):
    assignments ``assignment_time pickup_time courier order_id...`` by (assignment time, courier);
    orders ``order placement_time ready_time pickup_time dropoff_time courier``, only delivered
    orders, one space between fields (the evaluator reads it with ``sep=' '``); couriers
    ``courier departure_time origin destination``, every move, each courier's rows together and in
    time order, its own id written ``0`` (the evaluator's name for the on-location).
    Note: the evaluator truncates assignment and move times with ``int(float(x))``; fractional
    times are written faithfully but are scored truncated.
    Repositioning moves (``MoveRecord.reposition``: to an H3 cell centre, which is no MDRP
    location) cannot be written: each run of them is folded into the next real move, written as
    leaving the last real location when the first reposition left it. Under the MDRP travel rule
    (ceil of planar metres: the direct trip is never longer than the detour) the evaluator then
    sees the courier reach the store no later than it really did, so its checks hold; its driving
    figures miss the detour. A trailing reposition with no real move after it is left out.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    lines = ["assignment_time pickup_time courier orders"]
    for a in sorted(assignments, key=lambda a: (float(a.assignment_time), _id_key(a.courier_id))):
        if not a.order_ids:
            raise ValueError(f"assignment of courier {a.courier_id} at {a.assignment_time} has no orders")
        ids = " ".join(_token(o, "order id") for o in a.order_ids)
        lines.append(f"{_time(a.assignment_time)} {_time(a.pickup_time)} {_token(a.courier_id, 'courier id')} {ids}")
    _write_lines(out / ASSIGNMENTS_SOLUTION, lines)

    lines = ["order placement_time ready_time pickup_time dropoff_time courier"]
    for o in sorted(orders, key=lambda o: _id_key(o.id)):
        if o.courier_id is None or o.picked_up_at is None or o.delivered_at is None:
            continue  # not delivered: the evaluator counts only complete rows anyway
        lines.append(
            " ".join(
                (
                    _token(o.id, "order id"),
                    _time(o.placed_at),
                    _time(o.ready_at),
                    _time(o.picked_up_at),
                    _time(o.delivered_at),
                    _token(o.courier_id, "courier id"),
                )
            )
        )
    _write_lines(out / ORDERS_SOLUTION, lines)

    lines = ["courier departure_time origin destination"]
    for c in sorted(couriers, key=lambda c: _id_key(c.id)):
        cid = _token(c.id, "courier id")
        for m in _real_moves(c.moves):
            origin = "0" if m.origin == c.id else _token(m.origin, "origin")
            lines.append(f"{cid} {_time(m.departure)} {origin} {_token(m.destination, 'destination')}")
    _write_lines(out / COURIERS_SOLUTION, lines)


def _real_moves(moves: Iterable[MoveRecord]) -> list[MoveRecord]:
    """A courier's moves in time order, repositions folded into the next real move (see ``write_solution``)."""
    out: list[MoveRecord] = []
    detour: MoveRecord | None = None  # the first reposition of the current run
    for m in sorted(moves, key=lambda m: float(m.departure)):  # stable: ties keep record order
        if m.reposition:
            detour = detour or m
            continue
        if detour is not None:
            m = MoveRecord(detour.departure, detour.origin, m.destination, m.arrival)
            detour = None
        out.append(m)
    return out
