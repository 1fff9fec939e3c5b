"""An independent checker of MDRP solutions: the eight checks of Grubhub's evaluator, from files only.

It reads the instance directory and the three ``solution_info_*.txt`` files and nothing of the
simulator, so a bug in the simulator or in ``simulator.mdrp`` cannot hide itself here. It follows
grubhub/mdrplib ``compute_performance_summary.py`` step by step (its parsing quirks included: times
in the assignment and courier files are truncated with ``int(float(x))``, the orders file is split
on single spaces and read like ``pandas.read_table(sep=' ')``, a courier's timeline is looked up
with ``bisect_left(times, t) - 1``), with plain ``math.sqrt``/``math.ceil``, which give the same
IEEE results as the evaluator's numpy formula.

Where the evaluator would stop with an exception (an unknown id, an assigned order without a row
in the orders file, a courier with assignments but no moves) or silently lose data (a courier's
rows split into separate groups, a delivery by a courier who is not in the instance), this checker
reports a violation instead, under the check where the evaluator meets the problem. Files it cannot
parse at all raise ``InputError``.

CLI: ``python -m simulator.mdrp_check INSTANCE_DIR SOLUTION_DIR``; exit 0 feasible, 1 infeasible,
2 unreadable input.
"""
from __future__ import annotations

import argparse
import math
import sys
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from simulator.errors import InputError

MAX_VIOLATIONS = 20

# pandas' default NA strings: read_table turns these into NaN in any column
_NA_VALUES = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
     "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)

CHECKS: tuple[tuple[str, str], ...] = (
    ("one_assignment_per_order", "every order is in at most one assignment"),
    ("assigned_after_placement", "no assignment is made before its orders are placed"),
    ("pickup_before_off_time", "every bundle is picked up no later than the courier's off time"),
    ("pickup_after_ready", "every bundle is picked up no earlier than the ready time of each of its orders"),
    ("dropoff_sequence", "drop-offs follow the bundle's sequence, one drop-off service time apart"),
    ("courier_moves_chain", "each courier's moves chain up and its timeline never goes back in time"),
    ("dropoff_location", "at each drop-off the courier's last arrival was at the order"),
    ("pickup_location", "at each pickup the courier's last arrival was at the bundle's restaurant"),
)


@dataclass
class CheckResult:
    """One of the eight checks: ``count`` violations in all, the first ``MAX_VIOLATIONS`` spelled out."""

    number: int
    name: str
    description: str
    violations: list[str] = field(default_factory=list)
    count: int = 0

    @property
    def ok(self) -> bool:
        return self.count == 0

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.violations) < MAX_VIOLATIONS:
            self.violations.append(message)


@dataclass
class CheckReport:
    """The verdict and the evaluator's headline figures (computed whether feasible or not)."""

    instance: str
    checks: tuple[CheckResult, ...]
    orders_total: int
    orders_delivered: int
    total_payment: float
    guaranteed_share: float  # couriers whose order earnings fall below the hourly guarantee
    click_to_door_mean: float | None

    @property
    def feasible(self) -> bool:
        return all(c.ok for c in self.checks)

    def __getitem__(self, name: str) -> CheckResult:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.ok]

    def lines(self) -> list[str]:
        """The report as text lines, for the CLI."""
        out = [f"instance {self.instance}"]
        for c in self.checks:
            out.append(f"{c.number}. {'OK' if c.ok else 'FAIL':4} {c.name}: {c.description}")
            out.extend(f"       - {v}" for v in c.violations)
            if c.count > len(c.violations):
                out.append(f"       ... and {c.count - len(c.violations)} more")
        out.append("FEASIBLE" if self.feasible else "INFEASIBLE")
        out.append(f"orders delivered: {self.orders_delivered} out of {self.orders_total}")
        out.append(f"total payment: {self.total_payment:.2f}")
        out.append(f"share of couriers on the guarantee: {self.guaranteed_share:.2f}")
        ctd = "n/a" if self.click_to_door_mean is None else f"{self.click_to_door_mean:.2f}"
        out.append(f"click-to-door mean: {ctd}")
        return out


# ------------------------------------------------------------------ instance files


@dataclass(frozen=True)
class _Order:
    placement_time: float
    ready_time: float
    restaurant: str


@dataclass(frozen=True)
class _Courier:
    on_time: float
    off_time: float


@dataclass(frozen=True)
class _Day:
    name: str
    orders: dict[str, _Order]
    couriers: dict[str, _Courier]
    locations: dict[str, tuple[float, float]]
    meters_per_minute: float
    dropoff_service: float
    pay_per_order: float
    pay_per_hour: float


def _number(path: Path, line: int, col: str, text: str) -> int | float:
    """An instance number as pandas reads it: int when it is one, else float."""
    if "_" in text:  # Python's int()/float() accept 1_000, pandas does not
        raise InputError(path, f"{text!r} is not a number", line, col)
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise InputError(path, f"{text!r} is not a number", line, col) from None
    if not math.isfinite(value):
        raise InputError(path, f"{text!r} is not a finite number", line, col)
    return value


def _table(path: Path, columns: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """A tab-separated table (any whitespace tolerated) as (line, {column: text}) rows."""
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read the file: {exc}") from exc
    numbered = [(n, s) for n, s in enumerate(lines, start=1) if s.strip()]
    if not numbered:
        raise InputError(path, "the file is empty")
    hline, header = numbered[0]
    if "\t" in header:
        cols = [" ".join(c.split()) for c in header.split("\t") if c.strip()]
    elif " ".join(header.split()) == " ".join(columns):
        cols = list(columns)
    else:
        cols = header.split()
    for col in columns:
        if col not in cols:
            raise InputError(path, f"missing column {col!r}", hline, col)
    rows = []
    for n, s in numbered[1:]:
        fields = s.split()
        if len(fields) != len(cols):
            raise InputError(path, f"{len(fields)} fields where the header has {len(cols)}", n)
        rows.append((n, dict(zip(cols, fields))))
    return rows


def _read_day(instance_dir: Path) -> _Day:
    if not instance_dir.is_dir():
        raise InputError(instance_dir, "instance directory not found")
    p_path = instance_dir / "instance_parameters.txt"
    p_rows = _table(
        p_path,
        ("meters_per_minute", "pickup service minutes", "dropoff service minutes", "target click-to-door",
         "maximum click-to-door", "pay per order", "guaranteed pay per hour"),
    )
    if not p_rows:
        raise InputError(p_path, "no data row")
    pline, prow = p_rows[0]  # the evaluator reads row 0 only
    params = {k: _number(p_path, pline, k, v) for k, v in prow.items()}
    if params["meters_per_minute"] <= 0:
        raise InputError(p_path, "must be positive", pline, "meters_per_minute")

    locations: dict[str, tuple[float, float]] = {}
    r_path = instance_dir / "restaurants.txt"
    for n, row in _table(r_path, ("restaurant", "x", "y")):
        locations[row["restaurant"]] = (_number(r_path, n, "x", row["x"]), _number(r_path, n, "y", row["y"]))

    o_path = instance_dir / "orders.txt"
    orders: dict[str, _Order] = {}
    for n, row in _table(o_path, ("order", "x", "y", "placement_time", "restaurant", "ready_time")):
        locations[row["order"]] = (_number(o_path, n, "x", row["x"]), _number(o_path, n, "y", row["y"]))
        orders[row["order"]] = _Order(
            _number(o_path, n, "placement_time", row["placement_time"]),
            _number(o_path, n, "ready_time", row["ready_time"]),
            row["restaurant"],
        )

    c_path = instance_dir / "couriers.txt"
    couriers: dict[str, _Courier] = {}
    for n, row in _table(c_path, ("courier", "x", "y", "on_time", "off_time")):
        locations[row["courier"]] = (_number(c_path, n, "x", row["x"]), _number(c_path, n, "y", row["y"]))
        couriers[row["courier"]] = _Courier(
            _number(c_path, n, "on_time", row["on_time"]),
            _number(c_path, n, "off_time", row["off_time"]),
        )

    return _Day(
        name=instance_dir.resolve().name,
        orders=orders,
        couriers=couriers,
        locations=locations,
        meters_per_minute=params["meters_per_minute"],
        dropoff_service=params["dropoff service minutes"],
        pay_per_order=params["pay per order"],
        pay_per_hour=params["guaranteed pay per hour"],
    )


# ------------------------------------------------------------------ solution files


@dataclass(frozen=True)
class _Assignment:
    line: int
    assignment_time: int
    pickup_time: int
    courier: str
    bundle: tuple[str, ...]


@dataclass(frozen=True)
class _OrderRow:
    line: int
    order: str | None
    values: dict[str, float]  # placement_time, ready_time, pickup_time, dropoff_time (NaN when empty)
    courier: str | None
    complete: bool  # no NaN in any column: what the evaluator's dropna() keeps


@dataclass(frozen=True)
class _Move:
    line: int
    departure: int
    origin: str
    destination: str


def _read_text_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        with path.open(encoding="utf-8") as f:
            return f.readlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read the file: {exc}") from exc


def _truncated(path: Path, line: int, col: str, text: str) -> int:
    """``int(float(x))``, as the evaluator reads assignment and move times."""
    try:
        return int(float(text))
    except (ValueError, OverflowError):
        raise InputError(path, f"{text!r} is not a time (the evaluator reads it with int(float(x)))", line, col) from None


def _read_assignments(path: Path) -> list[_Assignment]:
    """Every line after the first is ``assignment_time pickup_time courier order...``."""
    out = []
    for n, text in enumerate(_read_text_lines(path)[1:], start=2):
        fields = text.split()
        if not fields:
            raise InputError(path, "blank line (the evaluator cannot parse it)", n)
        if len(fields) < 4:
            raise InputError(path, "expected assignment_time pickup_time courier and at least one order", n)
        out.append(
            _Assignment(
                n,
                _truncated(path, n, "assignment_time", fields[0]),
                _truncated(path, n, "pickup_time", fields[1]),
                fields[2],
                tuple(fields[3:]),
            )
        )
    return out


def _coerce(text: str) -> float:
    """``pd.to_numeric(errors='coerce')`` of one cell: a number, or NaN."""
    if text in _NA_VALUES or "_" in text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        return math.nan


_ORDER_SOLUTION_COLUMNS = ("order", "placement_time", "ready_time", "pickup_time", "dropoff_time", "courier")


def _read_order_rows(path: Path) -> list[_OrderRow]:
    """Like ``pandas.read_table(path, sep=' ')``: split on single spaces, short rows padded with NaN."""
    lines = [(n, s.rstrip("\r\n")) for n, s in enumerate(_read_text_lines(path), start=1)]
    lines = [(n, s) for n, s in lines if s.strip()]
    if not lines:
        raise InputError(path, "the file is empty")
    hline, header = lines[0]
    cols = header.split(" ")
    for col in _ORDER_SOLUTION_COLUMNS:
        if col not in cols:
            raise InputError(path, f"missing column {col!r} (fields must be separated by single spaces)", hline, col)
    rows = []
    for n, s in lines[1:]:
        fields = s.split(" ")
        if len(fields) > len(cols):
            raise InputError(path, f"{len(fields)} fields where the header has {len(cols)} (separate fields by one space)", n)
        fields += [""] * (len(cols) - len(fields))
        cells = dict(zip(cols, fields))
        values = {c: _coerce(cells[c]) for c in _ORDER_SOLUTION_COLUMNS[1:5]}
        na = [c for c in cols if c not in values and cells[c] in _NA_VALUES]
        complete = not na and not any(math.isnan(v) for v in values.values())
        order = None if cells["order"] in _NA_VALUES else cells["order"]
        courier = None if cells["courier"] in _NA_VALUES else cells["courier"]
        rows.append(_OrderRow(n, order, values, courier, complete))
    return rows


def _read_moves(path: Path) -> tuple[dict[str, list[_Move]], dict[str, list[int]]]:
    """The evaluator's reading of the courier file, quirks included.

    Returns the moves per courier exactly as the evaluator keeps them (a courier whose rows come in
    several separate groups keeps only one group) and, per courier, the first line of each group so
    the split can be reported.
    """
    lines = _read_text_lines(path)
    if not lines:
        raise InputError(path, "the file is empty (expected a header line)")
    sol: dict[str | None, list[_Move]] = {}
    groups: dict[str, list[int]] = {}
    courier_id: str | None = None
    moves: list[_Move] = []

    def parse(n: int, fields: list[str]) -> _Move:
        if len(fields) < 4:
            raise InputError(path, "expected courier departure_time origin destination", n)
        departure = _truncated(path, n, "departure_time", fields[1])
        origin = fields[2] if fields[2] != "0" else fields[0]
        return _Move(n, departure, origin, fields[3])

    first = lines[0].split()
    try:
        int(float(first[1]))
    except Exception:  # noqa: BLE001 - the evaluator's bare except: anything unparsable is the header
        pass
    else:
        courier_id = first[0]
        groups.setdefault(courier_id, []).append(1)
        moves.append(parse(1, first))
    for n, text in enumerate(lines[1:], start=2):
        if text.isspace():
            continue
        fields = text.split()
        if courier_id != fields[0]:
            sol[courier_id] = moves
            moves = []
            courier_id = fields[0]
            groups.setdefault(courier_id, []).append(n)
        moves.append(parse(n, fields))
    if courier_id not in sol:
        sol[courier_id] = moves
    sol.pop(None, None)
    return {k: v for k, v in sol.items() if k is not None}, groups


# ------------------------------------------------------------------ the checks


def check_solution(instance_dir: str | Path, solution_dir: str | Path) -> CheckReport:
    """Run the evaluator's eight feasibility checks and compute its headline figures."""
    day = _read_day(Path(instance_dir))
    sol_dir = Path(solution_dir)
    if not sol_dir.is_dir():
        raise InputError(sol_dir, "solution directory not found")
    assignments = _read_assignments(sol_dir / "solution_info_assignments.txt")
    order_rows = _read_order_rows(sol_dir / "solution_info_orders.txt")
    moves_by_courier, groups = _read_moves(sol_dir / "solution_info_couriers.txt")

    checks = tuple(CheckResult(i, name, desc) for i, (name, desc) in enumerate(CHECKS, start=1))
    c1, c2, c3, c4, c5, c6, c7, c8 = checks

    row_of: dict[str, _OrderRow] = {}
    for row in order_rows:
        if row.order is None:
            continue
        if row.order in row_of:
            c1.add(f"{row.order}: two rows in solution_info_orders.txt (lines {row_of[row.order].line} and {row.line})")
        else:
            row_of[row.order] = row

    # 1. every order in at most one assignment
    lines_of: dict[str, list[int]] = {}
    for a in assignments:
        for o in dict.fromkeys(a.bundle):  # the evaluator tests `o in bundle`: a bundle counts once
            lines_of.setdefault(o, []).append(a.line)
    for o, where in lines_of.items():
        if len(where) > 1:
            c1.add(f"{o}: in {len(where)} assignments (lines {', '.join(map(str, where))})")

    # 2. no assignment before placement
    for a in assignments:
        for o in a.bundle:
            if o not in day.orders:
                c2.add(f"line {a.line}: unknown order {o}")
                continue
            placed = day.orders[o].placement_time
            if a.assignment_time < placed:
                c2.add(f"line {a.line}: assigned at {a.assignment_time}, before {o} was placed at {placed}")

    # 3. pickup no later than the courier's off time
    for a in assignments:
        if a.courier not in day.couriers:
            c3.add(f"line {a.line}: unknown courier {a.courier}")
            continue
        off = day.couriers[a.courier].off_time
        if off < a.pickup_time:
            c3.add(f"line {a.line}: {a.courier} picks up at {a.pickup_time}, after its off time {off}")

    # 4. pickup no earlier than each order's ready time
    for a in assignments:
        for o in a.bundle:
            if o not in day.orders:
                continue  # reported by check 2
            ready = day.orders[o].ready_time
            if ready > a.pickup_time:
                c4.add(f"line {a.line}: picked up at {a.pickup_time}, before {o} is ready at {ready}")

    # 5. drop-offs in bundle order, one drop-off service apart
    for a in assignments:
        dropoffs: list[float] = []
        for o in a.bundle:
            row = row_of.get(o)
            if row is None:
                c5.add(f"line {a.line}: {o} has no row in solution_info_orders.txt (the evaluator stops with a KeyError)")
                continue
            drop = row.values["dropoff_time"]
            if dropoffs and drop < dropoffs[-1] + day.dropoff_service:
                c5.add(f"line {a.line}: {o} dropped off at {_fmt(drop)}, less than {_fmt(day.dropoff_service)} min after the previous drop-off at {_fmt(dropoffs[-1])}")
            dropoffs.append(drop)

    # 6. courier timelines: moves chain up, times never go back
    timelines: dict[str, tuple[list[float], list[str]]] = {}
    driving: dict[str, float] = {}
    for d, starts in groups.items():
        if len(starts) > 1:
            c6.add(f"{d}: rows split into {len(starts)} groups (starting on lines {', '.join(map(str, starts))}); the evaluator keeps only one")
    for d, moves in moves_by_courier.items():
        if d not in day.couriers:
            c6.add(f"{d}: unknown courier in solution_info_couriers.txt")
            continue
        times: list[float] = [day.couriers[d].on_time]
        places = [d]
        driving[d] = 0.0
        for m in moves:
            if m.origin != places[-1]:
                c6.add(f"{d} line {m.line}: leaves from {m.origin}, but its last stop was {places[-1]}")
            times.append(m.departure)
            places.append("")
            tt = _travel(day, m.origin, m.destination)
            if tt is None:
                c6.add(f"{d} line {m.line}: unknown location in move {m.origin} -> {m.destination}")
                tt = 0
            times.append(m.departure + tt)
            places.append(m.destination)
            driving[d] += tt
        if sorted(times) != times:
            back = next(i for i in range(1, len(times)) if times[i] < times[i - 1])
            c6.add(f"{d}: timeline goes back from {_fmt(times[back - 1])} to {_fmt(times[back])} ({_event(places, back - 1)} then {_event(places, back)})")
        timelines[d] = (times, places)

    # 7. at each drop-off the courier's last arrival is the order's location
    orders_served = {d: 0 for d in day.couriers}
    for row in order_rows:
        d = row.courier
        if d == "courier" or d is None:
            continue  # a repeated header, or no courier: the evaluator skips both
        if d not in orders_served:
            c7.add(f"line {row.line}: {row.order} delivered by unknown courier {d}")
            continue
        orders_served[d] += 1
        if d not in timelines:
            c7.add(f"line {row.line}: {row.order} delivered by {d}, who has no moves")
            continue
        times, places = timelines[d]
        drop = row.values["dropoff_time"]
        i = bisect_left(times, drop) - 1
        if places[i] != row.order:
            c7.add(f"line {row.line}: {row.order} dropped off at {_fmt(drop)} but {d}'s last arrival was {_where(places, i)}")

    # 8. at each pickup the courier's last arrival is the bundle's restaurant
    for a in assignments:
        o = a.bundle[0]
        if o not in day.orders or a.courier not in day.couriers:
            continue  # reported by checks 2 and 3
        r = day.orders[o].restaurant
        if a.courier not in timelines:
            c8.add(f"line {a.line}: {a.courier} picks up at {r} but has no moves")
            continue
        times, places = timelines[a.courier]
        i = bisect_left(times, a.pickup_time) - 1
        if places[i] != r:
            c8.add(f"line {a.line}: {a.courier} picks up {o} at {r} at {a.pickup_time} but its last arrival was {_where(places, i)}")

    # headline figures, as the evaluator computes them
    delivered = sum(1 for row in order_rows if row.complete)
    payments = []
    on_guarantee = 0
    for d, c in day.couriers.items():
        guaranteed = (c.off_time - c.on_time) * day.pay_per_hour / 60.0
        earned = orders_served[d] * day.pay_per_order
        payments.append(max(earned, guaranteed))
        on_guarantee += earned < guaranteed
    ctd = [
        row.values["dropoff_time"] - day.orders[row.order].placement_time
        for row in order_rows
        if row.order is not None and row.order in day.orders and not math.isnan(row.values["dropoff_time"])
    ]
    return CheckReport(
        instance=day.name,
        checks=checks,
        orders_total=len(day.orders),
        orders_delivered=delivered,
        total_payment=math.fsum(payments),
        guaranteed_share=on_guarantee / len(day.couriers) if day.couriers else 0.0,
        click_to_door_mean=math.fsum(ctd) / len(ctd) if ctd else None,
    )


def _travel(day: _Day, a: str, b: str) -> int | None:
    """``ceil(sqrt(dx**2 + dy**2) / meters_per_minute)``: the evaluator's ``traveltime``."""
    if a not in day.locations or b not in day.locations:
        return None
    (xa, ya), (xb, yb) = day.locations[a], day.locations[b]
    return math.ceil(math.sqrt((xb - xa) ** 2 + (yb - ya) ** 2) / day.meters_per_minute)


def _fmt(value: float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _where(places: list[str], i: int) -> str:
    place = places[i]
    return "in transit" if place == "" else place


def _event(places: list[str], i: int) -> str:
    return "departure" if places[i] == "" else f"at {places[i]}"


# ------------------------------------------------------------------ CLI


def main(argv: Sequence[str] | None = None) -> int:
    """Print each check with OK/FAIL; exit 0 when feasible, 1 when not, 2 on unreadable input."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator.mdrp_check",
        description="Check an MDRP solution with the eight checks of Grubhub's evaluator.",
    )
    parser.add_argument("instance_dir", help="directory with orders.txt, restaurants.txt, couriers.txt, instance_parameters.txt")
    parser.add_argument("solution_dir", help="directory with solution_info_{assignments,orders,couriers}.txt")
    args = parser.parse_args(argv)
    try:
        report = check_solution(args.instance_dir, args.solution_dir)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(report.lines()))
    return 0 if report.feasible else 1


if __name__ == "__main__":
    sys.exit(main())
