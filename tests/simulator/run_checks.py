"""Invariants every simulated day must satisfy, shared by the local and the Ray end-to-end tests."""
from __future__ import annotations

from pathlib import Path

from dispatch.records import OrderRecord
from simulator.engine import SimulationResult
from simulator.instance import Instance
from simulator.mdrp import write_solution
from simulator.mdrp_check import check_solution


def assert_day_is_sound(result: SimulationResult, instance: Instance) -> None:
    """Pickups at or after ready and within the shift, drop-offs after pickups, click-to-door >= its bound."""
    shifts = {c.id: (c.on_time, c.off_time) for c in instance.couriers}
    assert len(result.orders) == len(instance.orders)
    for o in result.orders:
        if o.delivered_at is None:
            continue
        assert o.courier_id is not None and o.picked_up_at is not None and o.assigned_at is not None
        on, off = shifts[o.courier_id]
        assert o.assigned_at >= o.placed_at, o
        assert o.picked_up_at >= o.ready_at, o
        assert on <= o.picked_up_at <= off, o
        assert o.delivered_at > o.picked_up_at, o
        if o.mode == "asap":
            assert o.delivered_at - o.placed_at >= o.lower_bound - 1e-9, o


def delivered(orders: list[OrderRecord]) -> int:
    return sum(1 for o in orders if o.delivered_at is not None)


def assert_solution_files_pass(result: SimulationResult, instance_dir: Path, out: Path) -> None:
    write_solution(out, result.assignments, result.orders, result.couriers)
    report = check_solution(instance_dir, out)
    assert report.feasible, "\n".join(report.lines())
    assert report.orders_delivered == delivered(result.orders)
