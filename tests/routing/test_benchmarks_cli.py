"""``python -m routing.bench``: JSON on a tiny file, one message and exit 2 on bad input."""
from __future__ import annotations

import json
import subprocess
import sys

from routing.bench import main
from bench_fixtures import LILIM_TINY, SOLOMON_TINY, write


def test_json_on_a_tiny_lilim_file(tmp_path, capsys):
    path = write(tmp_path, "tiny.txt", LILIM_TINY)
    assert main([str(path), "--time-limit", "1", "--json", "--workers", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["instance"] == "tiny" and report["feasible"] is True
    assert report["vehicles"] == 1 and report["time_limit"] == 1.0
    assert sorted(n for r in report["routes"] for n in r) == [1, 2, 3, 4]
    assert abs(report["distance"] - (10 + 10 + 500 ** 0.5 + 10 + 20)) < 1e-3  # both pairs on one route
    assert report["wall_seconds"] < 3


def test_human_line_on_a_tiny_solomon_file(tmp_path, capsys):
    path = write(tmp_path, "T.txt", SOLOMON_TINY)
    assert main([str(path), "--time-limit", "1", "--workers", "1", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tiny: 2 vehicles") and "feasible" in out


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "routing.bench", *args], capture_output=True, text=True, timeout=60)


def test_bad_input_one_message_exit_2(tmp_path):
    bad = write(tmp_path, "bad.txt", LILIM_TINY.replace("1\t10\t0\t5", "1\tten\t0\t5"))
    for args in ([str(bad)], [str(tmp_path / "missing.txt")], [str(bad), "--time-limit", "0"]):
        proc = run_cli(*args)
        assert proc.returncode == 2, proc
        assert "Traceback" not in proc.stderr and proc.stdout == ""
        assert len(proc.stderr.strip().splitlines()) == 1
    assert "line 3" in run_cli(str(bad)).stderr
