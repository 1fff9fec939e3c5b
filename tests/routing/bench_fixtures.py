"""Tiny Li & Lim and Solomon files for the benchmark reader, checker, fleet and CLI tests.

``LILIM_TINY``: a depot at (0, 0) and two pickup-and-delivery pairs along the axes, pickups
(1 -> 2) and (3 -> 4), capacity 10. ``SOLOMON_TINY``: a depot and three customers whose demands
(4 + 3 + 5) exceed one vehicle's capacity 10: two vehicles are needed.
"""
from __future__ import annotations

from pathlib import Path

LILIM_TINY = """\
3\t10\t1
0\t0\t0\t0\t0\t1000\t0\t0\t0
1\t10\t0\t5\t0\t100\t5\t0\t2
2\t20\t0\t-5\t0\t200\t5\t1\t0
3\t0\t10\t4\t0\t100\t5\t0\t4
4\t0\t20\t-4\t0\t300\t5\t3\t0
"""

SOLOMON_TINY = """\
TINY

VEHICLE
NUMBER     CAPACITY
  3         10

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0         0          0          0       1000          0
    1      10        0          4          0        100          5
    2      20        0          3          0        200          5
    3      0         10         5          0        100          5
"""

SHARED_ROUTING = Path(__file__).resolve().parents[2].parent / "shared" / "bench" / "routing"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path
