"""A small random MDRP day written by the project itself, so end-to-end tests need no shared data.

The shape follows the real instances (a ~10 km city, 320 m per minute, 4-minute services,
preparation 5-30 minutes, staggered courier shifts), scaled down to about a hundred orders.
"""
from __future__ import annotations

import random
from pathlib import Path

PARAMS = "meters_per_minute\tpickup service minutes\tdropoff service minutes\ttarget click-to-door\tmaximum click-to-door\tpay per order\tguaranteed pay per hour"


def write_synthetic_mdrp(directory: Path, seed: int = 7, orders: int = 120, restaurants: int = 15, couriers: int = 25,
                         span_m: int = 20_000, metres_per_minute: int = 320, shift_lengths: tuple[int, ...] = (180, 240, 300),
                         prep_scale: float = 1.0) -> Path:
    """Write the instance; the keyword knobs mimic MDRP's variants (t75: 427 m/min, s2: short shifts, p125: prep x 1.25)."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    rest = [(f"r{i}", rng.randrange(span_m), rng.randrange(span_m)) for i in range(1, restaurants + 1)]
    (directory / "instance_parameters.txt").write_text(PARAMS + f"\n{metres_per_minute}\t4\t4\t40\t90\t10\t15\n")
    (directory / "restaurants.txt").write_text("restaurant\tx\ty\n" + "".join(f"{r}\t{x}\t{y}\n" for r, x, y in rest))
    rows = []
    for i in range(1, orders + 1):
        r, rx, ry = rng.choice(rest)
        placed = rng.randrange(0, 240)
        x = min(span_m, max(0, rx + rng.randrange(-4000, 4000)))
        y = min(span_m, max(0, ry + rng.randrange(-4000, 4000)))
        rows.append(f"o{i}\t{x}\t{y}\t{placed}\t{r}\t{placed + round(rng.randrange(5, 30) * prep_scale)}\n")
    (directory / "orders.txt").write_text("order\tx\ty\tplacement_time\trestaurant\tready_time\n" + "".join(rows))
    shifts = []
    for i in range(1, couriers + 1):
        on = rng.choice((0, 0, 30, 60, 120))
        shifts.append(f"c{i}\t{rng.randrange(span_m)}\t{rng.randrange(span_m)}\t{on}\t{on + rng.choice(shift_lengths)}\n")
    (directory / "couriers.txt").write_text("courier\tx\ty\ton_time\toff_time\n" + "".join(shifts))
    return directory
