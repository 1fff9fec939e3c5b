"""A small random MDRP day written by the project itself, so end-to-end tests need no shared data.

The shape follows the real instances (a ~10 km city, 320 m per minute, 4-minute services,
preparation 5-30 minutes, staggered courier shifts), scaled down to about a hundred orders.
"""
from __future__ import annotations

import random
from pathlib import Path

PARAMS = "meters_per_minute\tpickup service minutes\tdropoff service minutes\ttarget click-to-door\tmaximum click-to-door\tpay per order\tguaranteed pay per hour"


def write_synthetic_mdrp(directory: Path, seed: int = 7, orders: int = 120, restaurants: int = 15, couriers: int = 25,
                         span_m: int = 20_000) -> Path:
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    rest = [(f"r{i}", rng.randrange(span_m), rng.randrange(span_m)) for i in range(1, restaurants + 1)]
    (directory / "instance_parameters.txt").write_text(PARAMS + "\n320\t4\t4\t40\t90\t10\t15\n")
    (directory / "restaurants.txt").write_text("restaurant\tx\ty\n" + "".join(f"{r}\t{x}\t{y}\n" for r, x, y in rest))
    rows = []
    for i in range(1, orders + 1):
        r, rx, ry = rng.choice(rest)
        placed = rng.randrange(0, 240)
        x = min(span_m, max(0, rx + rng.randrange(-4000, 4000)))
        y = min(span_m, max(0, ry + rng.randrange(-4000, 4000)))
        rows.append(f"o{i}\t{x}\t{y}\t{placed}\t{r}\t{placed + rng.randrange(5, 30)}\n")
    (directory / "orders.txt").write_text("order\tx\ty\tplacement_time\trestaurant\tready_time\n" + "".join(rows))
    shifts = []
    for i in range(1, couriers + 1):
        on = rng.choice((0, 0, 30, 60, 120))
        shifts.append(f"c{i}\t{rng.randrange(span_m)}\t{rng.randrange(span_m)}\t{on}\t{on + rng.choice((180, 240, 300))}\n")
    (directory / "couriers.txt").write_text("courier\tx\ty\ton_time\toff_time\n" + "".join(shifts))
    return directory
