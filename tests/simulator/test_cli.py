"""The ``dispatch`` command as a user meets it: outputs, exit codes and messages (never a traceback)."""
from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from simulator.cli import app

from mdrp_fixtures import write_feasible, write_instance

runner = CliRunner()


def _run(*args: str):
    result = runner.invoke(app, list(args))
    text = result.output  # click mixes stderr into output
    assert "Traceback" not in text
    return result, text


def test_simulate_an_mdrp_day_writes_kpis_and_the_evaluator_files(tmp_path: Path) -> None:
    instance = write_instance(tmp_path / "tiny")
    out = tmp_path / "out"
    result, text = _run("simulate", "--mdrp", str(instance), "--runtime", "local", "--out", str(out), "--quiet")
    assert result.exit_code == 0, text
    assert "orders delivered" in text
    summary = json.loads((out / "kpis.json").read_text())
    assert summary["kpis"]["delivered"] == 4 and summary["kpis"]["orders"] == 5
    for name in ("assignments", "orders", "couriers"):
        assert (out / f"solution_info_{name}.txt").stat().st_size > 0
    checked, text = _run("check", str(instance), str(out))
    assert checked.exit_code == 0 and "FEASIBLE" in text


def test_a_missing_folder_is_one_message_and_exit_2(tmp_path: Path) -> None:
    result, text = _run("simulate", "--mdrp", str(tmp_path / "nowhere"), "--runtime", "local")
    assert result.exit_code == 2
    assert "nowhere" in text


def test_a_malformed_row_names_file_line_and_field(tmp_path: Path) -> None:
    instance = write_instance(tmp_path / "tiny")
    orders = instance / "orders.txt"
    lines = orders.read_text().splitlines()
    assert lines[2].startswith("o2") and lines[2].endswith("\t16")
    lines[2] = lines[2][: -len("16")] + "soon"  # o2 ready time, line 3 of the file
    orders.write_text("\n".join(lines) + "\n")
    result, text = _run("simulate", "--mdrp", str(instance), "--runtime", "local")
    assert result.exit_code == 2
    assert "orders.txt line 3" in text and "ready_time" in text


def test_unknown_restaurant_and_negative_time_are_refused(tmp_path: Path) -> None:
    instance = write_instance(tmp_path / "tiny")
    orders = instance / "orders.txt"
    text_in = orders.read_text().replace("o3\t3200\t1600\t10\tr2", "o3\t3200\t1600\t10\tr99")
    orders.write_text(text_in)
    result, text = _run("simulate", "--mdrp", str(instance), "--runtime", "local")
    assert result.exit_code == 2 and "r99" in text
    orders.write_text(text_in.replace("r99", "r2").replace("o1\t0\t1600\t5", "o1\t0\t1600\t-5"))
    result, text = _run("simulate", "--mdrp", str(instance), "--runtime", "local")
    assert result.exit_code == 2 and "placement_time" in text


def test_exactly_one_source_and_a_known_policy(tmp_path: Path) -> None:
    result, text = _run("simulate", "--runtime", "local")
    assert result.exit_code == 2 and "--mdrp" in text
    instance = write_instance(tmp_path / "tiny")
    result, text = _run("simulate", "--mdrp", str(instance), "--policy", "clever", "--runtime", "local")
    assert result.exit_code == 2 and "greedy" in text
    result, text = _run("simulate", "--mdrp", str(instance), "--fleet", "0.5", "--runtime", "local")
    assert result.exit_code == 2 and "scenario" in text


def test_check_says_infeasible_with_exit_1(tmp_path: Path) -> None:
    instance = write_instance(tmp_path / "tiny")
    solution = write_feasible(tmp_path / "sol")
    assignments = solution / "solution_info_assignments.txt"
    assignments.write_text(assignments.read_text().replace("6 16 c1 o1 o2", "6 14 c1 o1 o2"))  # before ready
    result, text = _run("check", str(instance), str(solution))
    assert result.exit_code == 1 and "INFEASIBLE" in text


def test_demo_prints_the_kpi_table() -> None:
    result, text = _run("demo", "--runtime", "local", "--quiet")
    assert result.exit_code == 0, text
    assert "demo_city" in text and "orders delivered" in text and "scheduled" in text


def test_help_teaches_the_commands() -> None:
    result, text = _run("--help")
    assert result.exit_code == 0
    for command in ("simulate", "demo", "check"):
        assert command in text
    result, text = _run("simulate", "--help")
    assert "--mdrp" in text and "--scenario" in text and "--runtime" in text


def test_plan_solves_the_booked_orders_ahead(tmp_path: Path) -> None:
    from simulator.scenario import demo_scenario_path

    out = tmp_path / "plan.json"
    result, text = _run("plan", "--scenario", str(demo_scenario_path()), "--seconds", "1", "--out", str(out))
    assert result.exit_code == 0, text
    plan = json.loads(out.read_text())
    assert plan["orders"] > 0 and plan["planned"] + len(plan["unassigned"]) == plan["orders"]
    for route in plan["routes"]:
        kinds = [s["kind"] for s in route["stops"]]
        for stop in route["stops"]:
            assert stop["arrive"] <= stop["start"] <= stop["depart"]
        assert kinds.count("pickup") == kinds.count("dropoff")
