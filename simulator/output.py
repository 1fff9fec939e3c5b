"""What a run leaves behind: ``kpis.json``, the timeline, the orders (with their baskets), and for MDRP days the evaluator's files."""
from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dispatch.kpis import compute_kpis
from simulator.engine import SimulationResult
from simulator.instance import Instance
from simulator.mdrp import write_solution


def baskets_of(instance: Instance) -> dict[str, Any]:
    """Order id -> the customer's basket, for the orders that have one."""
    return {o.id: o.basket for o in instance.orders if o.basket is not None}


def summarise(result: SimulationResult, instance: Instance) -> dict[str, Any]:
    """KPIs plus the facts of the run (what ran, how long, where)."""
    kpis = compute_kpis(result.orders, result.couriers, instance.rules, baskets_of(instance))
    return {
        "instance": result.instance,
        "policy": result.policy,
        "seed": result.seed,
        "regions": len(result.regions),
        "steps": result.steps,
        "wall_seconds": round(result.wall_seconds, 3),
        "orders_per_wall_second": round(len(result.orders) / result.wall_seconds, 1) if result.wall_seconds else None,
        "rejected": result.rejected[:50],
        "kpis": kpis,
    }


def write_outputs(out: Path, result: SimulationResult, instance: Instance, summary: dict[str, Any]) -> list[Path]:
    """Write the run's files into ``out`` (created if needed); returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "kpis.json", out / "timeline.csv", out / "orders.csv"]
    (out / "kpis.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    with (out / "timeline.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["time", "open_orders", "active_orders", "delivered", "idle_couriers", "busy_couriers"])
        for t in result.timeline:
            writer.writerow([t.time, t.open_orders, t.active_orders, t.delivered, t.idle_couriers, t.busy_couriers])
    baskets = baskets_of(instance)
    with (out / "orders.csv").open("w", newline="") as fh:
        rows = [(asdict(o) | _basket_columns(baskets.get(o.id))) if baskets else asdict(o)
                for o in sorted(result.orders, key=lambda o: (o.placed_at, o.id))]
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["id"])
        writer.writeheader()
        writer.writerows(rows)
    if instance.meta.get("source") == "mdrp":
        write_solution(out, result.assignments, result.orders, result.couriers)
        written += [out / f"solution_info_{k}.txt" for k in ("assignments", "orders", "couriers")]
    return written


def _basket_columns(basket: Any) -> dict[str, Any]:
    """The basket's columns in orders.csv (blank for an order without one)."""
    if basket is None:
        return {"items": None, "goods_cents": None, "discount_cents": None, "value_cents": None, "delivery_cents": None, "coupon": None}
    q = basket.quote
    return {"items": basket.items, "goods_cents": q.goods_cents, "discount_cents": q.discount_cents,
            "value_cents": basket.value_cents, "delivery_cents": q.delivery_cents, "coupon": basket.coupon}
