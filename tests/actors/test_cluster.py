"""Region shards on a two-node Ray cluster (``ray.cluster_utils.Cluster``).

Why a subprocess: a Ray driver connects to one cluster per process, and this test needs a
cluster of its own (a head and a worker node, one CPU each) while the session's local Ray
(``ray_session``) serves the other actor tests. Shutting the session Ray down and starting it
again inside one process would cost a second ~5 s start, make the outcome depend on test order,
and leave the process's Ray state (the global worker, ``/tmp/ray/ray_current_cluster``) pointing
at a dead cluster if anything failed half-way. ``cluster_run.py`` runs in a fresh interpreter
instead: it starts the cluster, runs the tiny world through ``simulator.engine.run_simulation``
once in-process and then on ``RayRuntime`` with each placement (``spread``: Ray's SPREAD;
``node``: round-robin node affinity), killing the worker node's shard mid-run each time; it
shuts everything down whatever happens and prints a JSON report that this test checks. The
parent's Ray, if running, is untouched; the two never share ports or processes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("cluster_run.py")


@pytest.mark.ray
def test_shards_spread_over_two_nodes_and_the_run_completes() -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_AUTH_MODE"] = "disabled"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "spread", "node"],
        capture_output=True, text=True, timeout=240, env=env, cwd=SCRIPT.parents[2],
    )
    assert proc.returncode == 0, f"cluster run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(report["nodes"]) == 2
    assert len(report["regions"]) == 2
    for placement, run in report["runs"].items():
        # one shard per node: Ray's SPREAD, and the round-robin node affinity
        assert set(run["placements"].values()) == set(report["nodes"]), (placement, run["placements"])
        assert run["crashed"], f"{placement}: the worker node's shard was not killed"
        assert run["orders"] == run["delivered"] == 12, (placement, run)
        assert run["same_as_local"], (placement, run)
