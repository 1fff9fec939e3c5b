"""write_solution and the independent checker: a feasible plan, one broken copy per check, quirks, CLI."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mdrp_fixtures import (
    ASSIGNMENTS,
    COURIERS,
    FEASIBLE,
    FEASIBLE_CLICK_TO_DOOR,
    FEASIBLE_DELIVERED,
    FEASIBLE_GUARANTEED_SHARE,
    FEASIBLE_PAYMENT,
    ORDERS,
    _replace,
    broken_solutions,
    write_feasible,
    write_files,
    write_instance,
)

from dispatch.records import AssignmentRecord, CourierRecord, MoveRecord, OrderRecord
from simulator.errors import InputError
from simulator.mdrp import write_solution
from simulator.mdrp_check import CHECKS, MAX_VIOLATIONS, check_solution, main

REPO = Path(__file__).resolve().parents[2]
SHARED_MDRP = REPO.parent / "shared/bench/delivery/mdrp"


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    return write_instance(tmp_path / "tiny")


def _order(oid: str, store: str, placed: float, ready: float, courier: str | None, picked: float | None, dropped: float | None) -> OrderRecord:
    status = "delivered" if dropped is not None else "open"
    return OrderRecord(oid, store, "asap", placed, ready, placed + 40, placed + 90, 0.0, status, courier, None, picked, dropped)


def feasible_records() -> tuple[list[AssignmentRecord], list[OrderRecord], list[CourierRecord]]:
    """The fixture's feasible plan as simulator records, deliberately out of order."""
    assignments = [
        AssignmentRecord(37.0, 53.0, "c1", "r3", ("o4",)),
        AssignmentRecord(10.0, 20.0, "c2", "r2", ("o3",)),
        AssignmentRecord(6.0, 16.0, "c1", "r1", ("o1", "o2")),
    ]
    orders = [
        _order("o5", "r2", 100.0, 110.0, None, None, None),  # never delivered: not written
        _order("o4", "r3", 12.0, 25.0, "c1", 53.0, 62.0),
        _order("o3", "r2", 10.0, 20.0, "c2", 20.0, 29.0),
        _order("o2", "r1", 6.0, 16.0, "c1", 16.0, 37.0),
        _order("o1", "r1", 5.0, 15.0, "c1", 16.0, 25.0),
    ]
    c1 = (
        MoveRecord(39.0, "o2", "r3", 51.0),
        MoveRecord(6.0, "c1", "r1", 8.0),
        MoveRecord(18.0, "r1", "o1", 23.0),
        MoveRecord(27.0, "o1", "o2", 35.0),
        MoveRecord(55.0, "r3", "o4", 60.0),
    )
    c2 = (MoveRecord(10.0, "c2", "r2", 12.0), MoveRecord(22.0, "r2", "o3", 27.0))
    couriers = [CourierRecord("c2", 0.0, 60.0, c2, 7.0, 8.0), CourierRecord("c1", 0.0, 90.0, c1, 38.0, 24.0)]
    return assignments, orders, couriers


# ------------------------------------------------------------------ the checker


def test_feasible_solution_passes_all_eight(instance: Path, tmp_path: Path) -> None:
    report = check_solution(instance, write_feasible(tmp_path / "sol"))
    assert [c.name for c in report.checks] == [name for name, _ in CHECKS]
    assert report.feasible and report.failed() == []
    assert all(c.ok and c.violations == [] for c in report.checks)
    assert report.instance == "tiny"
    assert (report.orders_delivered, report.orders_total) == (FEASIBLE_DELIVERED, 5)
    assert report.total_payment == FEASIBLE_PAYMENT
    assert report.guaranteed_share == FEASIBLE_GUARANTEED_SHARE
    assert report.click_to_door_mean == FEASIBLE_CLICK_TO_DOOR


BROKEN = broken_solutions()


@pytest.mark.parametrize("variant", sorted(BROKEN))
def test_each_broken_variant_fails_exactly_its_check(instance: Path, tmp_path: Path, variant: str) -> None:
    check = variant.split(":")[0]
    report = check_solution(instance, write_files(tmp_path / "sol", BROKEN[variant]))
    assert not report.feasible
    assert report.failed() == [check]
    assert report[check].count == 1 and len(report[check].violations) == 1


def test_every_check_has_a_broken_variant() -> None:
    assert {v.split(":")[0] for v in BROKEN} == {name for name, _ in CHECKS}


def test_assignment_and_move_times_are_truncated_like_the_evaluator(instance: Path, tmp_path: Path) -> None:
    """The evaluator reads these times with int(float(x)): 6.9 counts as 6, 16.9 as 16."""
    files = _replace(FEASIBLE, ASSIGNMENTS, {"6 16 c1 o1 o2": ["6.9 16.9 c1 o1 o2"]})
    files = _replace(files, COURIERS, {"c1 18 r1 o1": ["c1 18.9 r1 o1"]})
    assert check_solution(instance, write_files(tmp_path / "ok", files)).feasible
    # 5.9 truncates to 5: before o2 is placed at 6
    files = _replace(FEASIBLE, ASSIGNMENTS, {"6 16 c1 o1 o2": ["5.9 16 c1 o1 o2"]})
    assert check_solution(instance, write_files(tmp_path / "bad", files)).failed() == ["assigned_after_placement"]


def test_incomplete_order_rows_are_not_delivered(instance: Path, tmp_path: Path) -> None:
    """A short or empty-field row reads as NaN (pandas), counts as undelivered and is not checked."""
    files = {k: list(v) for k, v in FEASIBLE.items()}
    files[ORDERS] += ["o5 100 110", "o6 100 110 nan  "]
    report = check_solution(instance, write_files(tmp_path / "sol", files))
    assert report.feasible
    assert report.orders_delivered == FEASIBLE_DELIVERED
    assert report.click_to_door_mean == FEASIBLE_CLICK_TO_DOOR


def test_split_courier_rows_are_reported(instance: Path, tmp_path: Path) -> None:
    """The evaluator keeps only one group of a courier's rows; the checker says so."""
    lines = FEASIBLE[COURIERS]
    files = {**FEASIBLE, COURIERS: [lines[0], *lines[1:3], *lines[6:], *lines[3:6]]}
    report = check_solution(instance, write_files(tmp_path / "sol", files))
    assert "courier_moves_chain" in report.failed()
    assert "rows split into 2 groups" in report["courier_moves_chain"].violations[0]


def test_assigned_order_without_a_row_is_reported(instance: Path, tmp_path: Path) -> None:
    files = _replace(FEASIBLE, ORDERS, {"o3 10 20 20 29 c2": []})
    report = check_solution(instance, write_files(tmp_path / "sol", files))
    assert report.failed() == ["dropoff_sequence"]
    assert "o3 has no row" in report["dropoff_sequence"].violations[0]
    assert report.orders_delivered == 3


def test_unknown_ids_are_reported(instance: Path, tmp_path: Path) -> None:
    files = _replace(FEASIBLE, ORDERS, {"o3 10 20 20 29 c2": ["o3 10 20 20 29 c9"]})
    report = check_solution(instance, write_files(tmp_path / "a", files))
    assert report.failed() == ["dropoff_location"]
    assert "unknown courier c9" in report["dropoff_location"].violations[0]

    files = _replace(FEASIBLE, ASSIGNMENTS, {"37 53 c1 o4": ["37 53 c1 o4 o99"]})
    report = check_solution(instance, write_files(tmp_path / "b", files))
    assert "unknown order o99" in report["assigned_after_placement"].violations[0]


def test_courier_without_moves(instance: Path, tmp_path: Path) -> None:
    files = _replace(FEASIBLE, COURIERS, {"c2 10 0 r2": [], "c2 22 r2 o3": []})
    report = check_solution(instance, write_files(tmp_path / "sol", files))
    assert report.failed() == ["dropoff_location", "pickup_location"]


def test_violations_are_capped(instance: Path, tmp_path: Path) -> None:
    files = {k: list(v) for k, v in FEASIBLE.items()}
    files[ASSIGNMENTS] += ["0 53 c1 o4"] * 25
    check = check_solution(instance, write_files(tmp_path / "sol", files))["assigned_after_placement"]
    assert check.count == 25 and len(check.violations) == MAX_VIOLATIONS


def test_unreadable_solution_raises_input_error(instance: Path, tmp_path: Path) -> None:
    files = _replace(FEASIBLE, ORDERS, {"o1 5 15 16 25 c1": ["o1  5 15 16 25 c1"]})  # two spaces: 7 fields
    with pytest.raises(InputError) as info:
        check_solution(instance, write_files(tmp_path / "a", files))
    assert info.value.path.name == ORDERS and info.value.line == 2

    files = _replace(FEASIBLE, ASSIGNMENTS, {"10 20 c2 o3": ["ten 20 c2 o3"]})
    with pytest.raises(InputError) as info:
        check_solution(instance, write_files(tmp_path / "b", files))
    assert str(info.value).startswith(f"{ASSIGNMENTS} line 3, field assignment_time:")

    with pytest.raises(InputError):
        check_solution(instance, tmp_path / "missing")


# ------------------------------------------------------------------ write_solution


def test_write_solution_round_trip(instance: Path, tmp_path: Path) -> None:
    out = tmp_path / "written" / "deep"
    write_solution(out, *feasible_records())
    for name, lines in FEASIBLE.items():
        assert (out / name).read_text(encoding="utf-8") == "".join(line + "\n" for line in lines), name
    report = check_solution(instance, out)
    assert report.feasible
    assert (report.orders_delivered, report.total_payment) == (FEASIBLE_DELIVERED, FEASIBLE_PAYMENT)


def test_write_solution_formats_and_sorts(tmp_path: Path) -> None:
    moves = (MoveRecord(30.0, "r1", "o1", 31.0), MoveRecord(27.5, "c10", "r1", 30.0))
    couriers = [
        CourierRecord("c10", 0.0, 60.0, moves, 0.0, 0.0),
        CourierRecord("c2", 0.0, 60.0, (MoveRecord(3.0, "c2", "r1", 4.0),), 0.0, 0.0),
        CourierRecord("c3", 0.0, 60.0, (), 0.0, 0.0),
    ]
    assignments = [
        AssignmentRecord(27.0, 31.25, "c10", "r1", ("o1",)),
        AssignmentRecord(3.0, 5.0, "c2", "r1", ("o2",)),
        AssignmentRecord(3.0, 6.0, "c10", "r1", ("o3",)),
    ]
    orders = [
        _order("o10", "r1", 1.0, 2.0, "c2", 5.0, 9.0),
        _order("o2", "r1", 1.0, 2.0, "c2", 5.0, 7.0),
        _order("o1", "r1", 1.0, 2.0, "c10", 31.25, 33.0),
        _order("o3", "r1", 1.0, 2.0, "c10", None, None),  # picked up never: not delivered
    ]
    write_solution(tmp_path, assignments, orders, couriers)
    assert (tmp_path / ASSIGNMENTS).read_text().splitlines()[1:] == [
        "3 5 c2 o2",
        "3 6 c10 o3",
        "27 31.25 c10 o1",
    ]
    assert (tmp_path / ORDERS).read_text().splitlines()[1:] == [
        "o1 1 2 31.25 33 c10",
        "o2 1 2 5 7 c2",
        "o10 1 2 5 9 c2",
    ]
    assert (tmp_path / COURIERS).read_text().splitlines()[1:] == [
        "c2 3 0 r1",
        "c10 27.5 0 r1",
        "c10 30 r1 o1",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        {"assignments": [AssignmentRecord(1.0, 2.0, "c1", "r1", ())]},
        {"assignments": [AssignmentRecord(1.0, 2.0, "c 1", "r1", ("o1",))]},
        {"assignments": [AssignmentRecord(float("nan"), 2.0, "c1", "r1", ("o1",))]},
    ],
    ids=["empty_bundle", "space_in_id", "nan_time"],
)
def test_write_solution_rejects_what_the_evaluator_cannot_read(tmp_path: Path, bad: dict[str, list[AssignmentRecord]]) -> None:
    with pytest.raises(ValueError):
        write_solution(tmp_path, bad["assignments"], [], [])


# ------------------------------------------------------------------ CLI


def test_cli_exit_codes(instance: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(instance), str(write_feasible(tmp_path / "ok"))]) == 0
    out = capsys.readouterr().out
    assert out.count(" OK ") == 8 and "FEASIBLE" in out and "orders delivered: 4 out of 5" in out

    assert main([str(instance), str(write_files(tmp_path / "bad", BROKEN["pickup_location"]))]) == 1
    out = capsys.readouterr().out
    assert "8. FAIL pickup_location" in out and "INFEASIBLE" in out

    assert main([str(instance), str(tmp_path / "missing")]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and "Traceback" not in captured.err


def test_cli_runs_as_a_module(instance: Path, tmp_path: Path) -> None:
    sol = write_feasible(tmp_path / "sol")
    proc = subprocess.run(
        [sys.executable, "-m", "simulator.mdrp_check", str(instance), str(sol)],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-5] == "FEASIBLE"


# ------------------------------------------------------------------ a real day


def test_empty_solution_on_a_real_day(tmp_path: Path) -> None:
    """Nothing delivered is feasible; every courier is paid the hourly guarantee."""
    directory = SHARED_MDRP / "0r50t100s1p100"
    if not directory.is_dir():
        pytest.skip("../shared/bench not present: real MDRP data is outside a user's clone")
    write_solution(tmp_path, [], [], [])
    report = check_solution(directory, tmp_path)
    assert report.feasible and report.orders_delivered == 0 and report.orders_total == 242
    shifts = [line.split("\t") for line in (directory / "couriers.txt").read_text().splitlines()[1:]]
    assert report.total_payment == pytest.approx(sum(int(s[4]) - int(s[3]) for s in shifts) * 15 / 60)
    assert report.guaranteed_share == 1.0 and report.click_to_door_mean is None
