"""Readers of Li & Lim / Solomon files, their mapping onto a Problem, the BKS tables."""
from __future__ import annotations

import math

import pytest

from routing.benchmarks import (
    LILIM,
    SOLOMON,
    detect_format,
    parse_lilim,
    parse_solomon,
    read_bks,
    read_instance,
    route_distance,
    time_matrix,
    to_problem,
)
from bench_fixtures import LILIM_TINY, SHARED_ROUTING, SOLOMON_TINY, write


def test_reads_a_tiny_lilim_file(tmp_path):
    inst = read_instance(write(tmp_path, "tiny1.txt", LILIM_TINY))
    assert inst.kind == LILIM and inst.name == "tiny1"
    assert inst.vehicles == 3 and inst.capacity == 10
    assert inst.size == 5 and inst.ids == (0, 1, 2, 3, 4)
    assert inst.pairs == ((1, 2), (3, 4))
    assert inst.demand == (0, 5, -5, 4, -4)
    assert inst.ready[1] == 0 and inst.due[2] == 200 and inst.service[3] == 5
    assert inst.distance(1, 2) == 10.0 and inst.distance(0, 4) == 20.0


def test_reads_a_tiny_solomon_file_with_crlf(tmp_path):
    inst = read_instance(write(tmp_path, "T.txt", SOLOMON_TINY.replace("\n", "\r\n")))
    assert inst.kind == SOLOMON and inst.name == "tiny"
    assert inst.vehicles == 3 and inst.capacity == 10
    assert inst.customers == (1, 2, 3) and inst.pairs == ()
    assert inst.demand == (0, 4, 3, 5) and inst.due[0] == 1000


def test_detects_the_format_from_the_content():
    assert detect_format(LILIM_TINY) == LILIM
    assert detect_format(SOLOMON_TINY) == SOLOMON
    with pytest.raises(ValueError):
        detect_format("hello world\n")


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (LILIM_TINY.replace("1\t10\t0\t5", "1\tten\t0\t5"), 3, "x is not a number"),
        (LILIM_TINY.replace("3\t10\t1\n", "3\t10\n"), 1, "'K Q S'"),
        (LILIM_TINY.replace("2\t20\t0\t-5\t0\t200\t5\t1\t0", "2\t20\t0\t-5\t0\t200\t5\t1"), 4, "expected 9 fields"),
        (LILIM_TINY.replace("2\t20\t0\t-5", "2\t20\t0\t-6"), 3, "expected -5"),  # unbalanced pair, named at the pickup
        (LILIM_TINY.replace("4\t0\t20\t-4\t0\t300\t5\t3\t0", "4\t0\t20\t-4\t0\t300\t5\t1\t0"), 5, "does not name it back"),
        (LILIM_TINY.replace("1\t10\t0\t5\t0\t100", "1\t10\t0\t5\t200\t100"), 3, "after due time"),
        (LILIM_TINY.replace("3\t0\t10\t4\t0\t100\t5\t0\t4", "1\t0\t10\t4\t0\t100\t5\t0\t4"), 5, "repeats"),
    ],
)
def test_malformed_lilim_names_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, "bad.txt", text)
    with pytest.raises(ValueError) as exc:
        read_instance(path)
    msg = str(exc.value)
    assert str(path) in msg and f"line {line}" in msg and words in msg


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (SOLOMON_TINY.replace("  3         10", "  3         x"), 5, "capacity is not a number"),
        (SOLOMON_TINY.replace("    2      20        0          3", "    2      20        0          30"), 12, "above the capacity"),
        (SOLOMON_TINY.replace("    3      0         10         5          0        100          5",
                              "    3      0         10         5          0        100"), 13, "expected 7 fields"),
    ],
)
def test_malformed_solomon_names_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, "BAD.txt", text)
    with pytest.raises(ValueError) as exc:
        read_instance(path)
    assert str(path) in str(exc.value) and f"line {line}" in str(exc.value) and words in str(exc.value)


def test_missing_empty_and_binary_files_raise_value_error(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        read_instance(tmp_path / "none.txt")
    with pytest.raises(ValueError, match="empty"):
        read_instance(write(tmp_path, "empty.txt", "\n\n"))
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(ValueError, match="not a text file"):
        read_instance(tmp_path / "bin.txt")
    with pytest.raises(ValueError, match="no 'CUSTOMER' section"):
        parse_solomon("X\nVEHICLE\nNUMBER CAPACITY\n 2 10\n", "x.txt")


def test_speed_zero_in_a_lilim_header_is_accepted_and_ignored():
    inst = parse_lilim(LILIM_TINY.replace("3\t10\t1", "3\t10\t0"), "s0.txt")
    assert inst.speed_in_file == 0 and inst.travel_time(0, 1) == 10.0


def test_to_problem_lilim_scales_rounds_up_and_pairs(tmp_path):
    inst = read_instance(write(tmp_path, "tiny.txt", LILIM_TINY))
    p = to_problem(inst, scale=1000)
    assert len(p.vehicles) == 3 and all(v.capacity == 10 and v.start == 0 and v.end == 0 for v in p.vehicles)
    assert p.vehicles[0].end_time == 1_000_000
    assert [r.id for r in p.requests] == ["1", "3"]
    r = p.requests[0]
    assert (r.pickup.location, r.dropoff.location, r.size) == (1, 2, 5)
    assert (r.pickup.earliest, r.pickup.latest, r.pickup.service) == (0, 100_000, 5000)
    assert p.matrix[1][3] == math.ceil(math.hypot(10, 10) * 1000)  # 14143, rounded up
    assert p.matrix[0][1] == 10_000


def test_to_problem_solomon_picks_up_at_the_depot_at_the_start(tmp_path):
    inst = read_instance(write(tmp_path, "T.txt", SOLOMON_TINY))
    p = to_problem(inst)
    assert [r.id for r in p.requests] == ["1", "2", "3"]
    for r, demand in zip(p.requests, (4, 3, 5)):
        assert r.pickup.location == 0 and r.pickup.earliest == r.pickup.latest == 0 and r.pickup.service == 0
        assert r.size == demand
    assert p.requests[2].dropoff.location == 3


def test_time_matrix_never_runs_ahead_of_doubles(tmp_path):
    inst = read_instance(write(tmp_path, "tiny.txt", LILIM_TINY))
    m = time_matrix(inst, 1000)
    for a in range(inst.size):
        for b in range(inst.size):
            assert m[a][b] >= inst.distance(a, b) * 1000 - 1e-6
            assert m[a][b] < inst.distance(a, b) * 1000 + 1


def test_route_distance_counts_the_depot_legs(tmp_path):
    inst = read_instance(write(tmp_path, "tiny.txt", LILIM_TINY))
    assert route_distance(inst, [[1, 2], [3, 4]]) == pytest.approx(40.0 + 40.0)


def test_read_bks(tmp_path):
    path = write(tmp_path, "bks.csv", "instance,vehicles,distance,source\nLC101,10,828.9369,x\n")
    bks = read_bks(path)
    assert bks["lc101"].vehicles == 10 and bks["lc101"].distance == pytest.approx(828.9369)
    with pytest.raises(ValueError, match="line 2"):
        read_bks(write(tmp_path, "bad.csv", "instance,vehicles,distance\nlc101,ten,1\n"))


@pytest.mark.skipif(not (SHARED_ROUTING / "lilim100" / "lc101.txt").exists(),
                    reason="needs ../shared/bench/routing beside the repository (the published benchmark files)")
def test_reads_the_real_files():
    lc101 = read_instance(SHARED_ROUTING / "lilim100" / "lc101.txt")
    assert lc101.kind == LILIM and lc101.vehicles == 25 and lc101.capacity == 200 and len(lc101.pairs) == 53
    c101 = read_instance(SHARED_ROUTING / "solomon100" / "C101.txt")
    assert c101.kind == SOLOMON and c101.name == "c101" and len(c101.customers) == 100
    bks = read_bks(SHARED_ROUTING / "lilim100_bks.csv")
    assert bks["lc101"].vehicles == 10
    for path in sorted(SHARED_ROUTING.glob("*100/*.txt")):
        read_instance(path)  # every shipped file parses
