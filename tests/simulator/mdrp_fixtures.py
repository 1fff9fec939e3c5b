"""A tiny hand-made MDRP day and hand-written solutions for it, so the tests need no shared data.

Geometry (metres; 320 m per minute, so 1,600 m is 5 minutes):

    r1 (0, 0)      r2 (3200, 0)     r3 (0, 3200)
    c1 on at (0, 640) from 0 to 90;  c2 on at (3200, 640) from 0 to 60
    o1 (0, 1600)  r1 placed 5  ready 15      o2 (1600, 0)  r1 placed 6  ready 16
    o3 (3200, 1600) r2 placed 10 ready 20    o4 (0, 4800)  r3 placed 12 ready 25
    o5 (3200, 3200) r2 placed 100 ready 110  (never delivered)

The feasible plan: c1 carries the bundle [o1, o2] then o4, c2 carries o3. Every pickup and drop-off
happens 2 minutes (half the service time) after the arrival, as the MDRP model says.
"""
from __future__ import annotations

from pathlib import Path

TAB = "\t"

INSTANCE: dict[str, list[str]] = {
    "instance_parameters.txt": [
        TAB.join(
            ["meters_per_minute", "pickup service minutes", "dropoff service minutes", "target click-to-door",
             "maximum click-to-door", "pay per order", "guaranteed pay per hour"]
        ),
        TAB.join(["320", "4", "4", "40", "90", "10", "15"]),
    ],
    "restaurants.txt": [
        "restaurant\tx\ty",
        "r1\t0\t0",
        "r2\t3200\t0",
        "r3\t0\t3200",
    ],
    "orders.txt": [
        "order\tx\ty\tplacement_time\trestaurant\tready_time",
        "o1\t0\t1600\t5\tr1\t15",
        "o2\t1600\t0\t6\tr1\t16",
        "o3\t3200\t1600\t10\tr2\t20",
        "o4\t0\t4800\t12\tr3\t25",
        "o5\t3200\t3200\t100\tr2\t110",
    ],
    "couriers.txt": [
        "courier\tx\ty\ton_time\toff_time",
        "c1\t0\t640\t0\t90",
        "c2\t3200\t640\t0\t60",
    ],
}

ASSIGNMENTS = "solution_info_assignments.txt"
ORDERS = "solution_info_orders.txt"
COURIERS = "solution_info_couriers.txt"

FEASIBLE: dict[str, list[str]] = {
    ASSIGNMENTS: [
        "assignment_time pickup_time courier orders",
        "6 16 c1 o1 o2",
        "10 20 c2 o3",
        "37 53 c1 o4",
    ],
    ORDERS: [
        "order placement_time ready_time pickup_time dropoff_time courier",
        "o1 5 15 16 25 c1",
        "o2 6 16 16 37 c1",
        "o3 10 20 20 29 c2",
        "o4 12 25 53 62 c1",
    ],
    COURIERS: [
        "courier departure_time origin destination",
        "c1 6 0 r1",  # arrives 8
        "c1 18 r1 o1",  # arrives 23, drops o1 at 25
        "c1 27 o1 o2",  # ceil(2262.7 / 320) = 8: arrives 35, drops o2 at 37
        "c1 39 o2 r3",  # ceil(3577.7 / 320) = 12: arrives 51, picks o4 up at 53
        "c1 55 r3 o4",  # arrives 60, drops o4 at 62
        "c2 10 0 r2",  # arrives 12, picks o3 up at 20
        "c2 22 r2 o3",  # arrives 27, drops o3 at 29
    ],
}

# the evaluator's figures for FEASIBLE: c1 earns 3 x 10 (guarantee 90 min x 15/h = 22.5), c2 gets its
# guarantee 15 (1 x 10 earned); click-to-door 20, 31, 19, 50
FEASIBLE_DELIVERED = 4
FEASIBLE_PAYMENT = 45.0
FEASIBLE_CLICK_TO_DOOR = 30.0
FEASIBLE_GUARANTEED_SHARE = 0.5


def _replace(files: dict[str, list[str]], name: str, changes: dict[str, list[str]]) -> dict[str, list[str]]:
    """A copy of ``files`` where each line of ``name`` found in ``changes`` becomes the given lines."""
    out = {k: list(v) for k, v in files.items()}
    lines = out[name]
    for old, new in changes.items():
        i = lines.index(old)
        lines[i : i + 1] = new
    return out


def broken_solutions() -> dict[str, dict[str, list[str]]]:
    """Minimally broken copies of FEASIBLE; each key names the only check the copy must fail."""
    variants: dict[str, dict[str, list[str]]] = {}
    # 1. o4 assigned twice (the same bundle, repeated)
    variants["one_assignment_per_order"] = _replace(FEASIBLE, ASSIGNMENTS, {"37 53 c1 o4": ["37 53 c1 o4", "37 53 c1 o4"]})
    # 2. the bundle [o1, o2] assigned at 5, before o2 is placed at 6
    variants["assigned_after_placement"] = _replace(FEASIBLE, ASSIGNMENTS, {"6 16 c1 o1 o2": ["5 16 c1 o1 o2"]})
    # 3. c2 (off at 60) does the same trip later and picks o3 up at 61
    late = _replace(FEASIBLE, ASSIGNMENTS, {"10 20 c2 o3": ["10 61 c2 o3"]})
    late = _replace(late, ORDERS, {"o3 10 20 20 29 c2": ["o3 10 20 61 70 c2"]})
    late = _replace(late, COURIERS, {"c2 10 0 r2": ["c2 58 0 r2"], "c2 22 r2 o3": ["c2 63 r2 o3"]})
    variants["pickup_before_off_time"] = late
    # 4. o3 picked up at 19, before it is ready at 20 (c2 is at r2 since 12)
    variants["pickup_after_ready"] = _replace(FEASIBLE, ASSIGNMENTS, {"10 20 c2 o3": ["10 19 c2 o3"]})
    # 5. the bundle lists o2 first, but o2 is dropped off after o1
    variants["dropoff_sequence"] = _replace(FEASIBLE, ASSIGNMENTS, {"6 16 c1 o1 o2": ["6 16 c1 o2 o1"]})
    # 6a. c2's first move leaves from r2 (travel r2 -> r2 is 0, so nothing else moves)
    variants["courier_moves_chain"] = _replace(FEASIBLE, COURIERS, {"c2 10 0 r2": ["c2 10 r2 r2"]})
    # 6b. after its last drop-off c2 rides to r2 (arrives 34) and leaves it at 30
    variants["courier_moves_chain:time"] = _replace(
        FEASIBLE, COURIERS, {"c2 22 r2 o3": ["c2 22 r2 o3", "c2 29 o3 r2", "c2 30 r2 o3"]}
    )
    # 7. o3 dropped off at 27, the minute c2 arrives: the evaluator still sees it in transit
    variants["dropoff_location"] = _replace(FEASIBLE, ORDERS, {"o3 10 20 20 29 c2": ["o3 10 20 20 27 c2"]})
    # 8. o4 picked up at 51, the minute c1 arrives at r3
    variants["pickup_location"] = _replace(FEASIBLE, ASSIGNMENTS, {"37 53 c1 o4": ["37 51 c1 o4"]})
    return variants


def write_files(directory: Path, files: dict[str, list[str]]) -> Path:
    """Write each file as its lines, newline-terminated; returns ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, lines in files.items():
        (directory / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return directory


def write_instance(directory: Path, files: dict[str, list[str]] | None = None) -> Path:
    """The tiny instance (or a changed copy of it) in ``directory``."""
    return write_files(directory, INSTANCE if files is None else files)


def write_feasible(directory: Path) -> Path:
    return write_files(directory, FEASIBLE)
