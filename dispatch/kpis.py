"""Key performance indicators of a run, computed from flat records (so any runtime gives the same).

Definitions follow the MDRP evaluator where it has one: click-to-door = drop-off - placement;
ready-to-pickup = pickup - ready; utilisation = (driving + pickup and drop-off service minutes) /
shift minutes over the whole fleet; courier pay = max(pay per order x orders, pay per hour x shift
hours). The per-order lower bound is the click-to-door of a courier already waiting at the store:
preparation + half the pickup service + the direct travel + half the drop-off service.

When the orders carry baskets (a scenario with a ``[shop]``), ``commerce`` adds what was sold:
GMV = goods after discounts (before points, without the delivery fee) of the delivered orders,
the same over every placed order, the mean basket and items per basket, and the coupon use rate
(baskets with a coupon applied / baskets). ``mode_share`` is each delivery mode's share of the
orders placed.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from dispatch.records import CourierRecord, OrderRecord
from dispatch.rules import ServiceRules


def _stats(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "p50": None, "p90": None, "p99": None, "max": None}
    a = np.asarray(values, dtype=float)
    return {
        "mean": float(a.mean()),
        "p50": float(np.percentile(a, 50)),
        "p90": float(np.percentile(a, 90)),
        "p99": float(np.percentile(a, 99)),
        "max": float(a.max()),
    }


class BasketFacts(Protocol):
    """What the KPIs read of an order's basket (``commerce.shopper.Basket`` has it)."""

    @property
    def value_cents(self) -> int: ...  # goods after discounts

    @property
    def items(self) -> int: ...

    @property
    def coupon(self) -> str | None: ...  # the coupon applied, if any


def basket_kpis(orders: Sequence[OrderRecord], baskets: Mapping[str, BasketFacts]) -> dict[str, Any] | None:
    """GMV, mean basket and coupon use of the orders that have a basket; None when none has one."""
    mine = [(o, baskets[o.id]) for o in orders if o.id in baskets]
    if not mine:
        return None
    n = len(mine)
    placed = sum(b.value_cents for _, b in mine)
    delivered = sum(b.value_cents for o, b in mine if o.delivered_at is not None)
    return {
        "baskets": n,
        "gmv_yuan": delivered / 100,
        "gmv_placed_yuan": placed / 100,
        "mean_basket_yuan": placed / n / 100,
        "mean_items": sum(b.items for _, b in mine) / n,
        "coupon_use_rate": sum(1 for _, b in mine if b.coupon is not None) / n,
    }


def compute_kpis(
    orders: Sequence[OrderRecord],
    couriers: Sequence[CourierRecord],
    rules: ServiceRules,
    baskets: Mapping[str, BasketFacts] | None = None,
) -> dict[str, Any]:
    delivered = [o for o in orders if o.delivered_at is not None]
    n, d = len(orders), len(delivered)
    ctd = [o.delivered_at - o.placed_at for o in delivered]  # type: ignore[operator]
    asap = [o for o in delivered if o.mode == "asap"]
    asap_ctd = [o.delivered_at - o.placed_at for o in asap]  # type: ignore[operator]
    lower = [o.lower_bound for o in asap]
    late = [max(0.0, o.delivered_at - o.promise) for o in delivered]  # type: ignore[operator]
    overage = [max(0.0, c - rules.target_click_to_door) for c in asap_ctd]
    wait = [o.picked_up_at - o.ready_at for o in delivered if o.picked_up_at is not None]

    shift_minutes = sum(c.off_time - c.on_time for c in couriers)
    hours = shift_minutes / 60.0
    per_courier = Counter(o.courier_id for o in delivered)
    pay = sum(max(rules.pay_per_order * per_courier.get(c.id, 0), rules.pay_per_hour * (c.off_time - c.on_time) / 60.0) for c in couriers)
    busy = sum(c.driving + c.serving for c in couriers)
    repositions = [m for c in couriers for m in c.moves if m.reposition]

    by_mode: dict[str, dict[str, Any]] = {}
    for mode in sorted({o.mode for o in orders}):
        mine = [o for o in orders if o.mode == mode]
        done = [o for o in mine if o.delivered_at is not None]
        on_time = [o for o in done if o.delivered_at <= o.promise]  # type: ignore[operator]
        by_mode[mode] = {
            "orders": len(mine),
            "delivered": len(done),
            "on_time_share": len(on_time) / len(done) if done else None,
            "lateness_mean": float(np.mean([o.delivered_at - o.promise for o in done if o.delivered_at > o.promise] or [0.0])),  # type: ignore[operator]
        }

    return {
        "orders": n,
        "delivered": d,
        "delivered_share": d / n if n else None,
        "click_to_door": _stats(asap_ctd),
        "click_to_door_all_modes": _stats(ctd),
        "lateness_vs_promise": {
            "mean": float(np.mean(late)) if late else None,
            "late_share": sum(1 for x in late if x > 0) / d if d else None,
        },
        "target_overage_mean": float(np.mean(overage)) if overage else None,
        "beyond_max_share": sum(1 for c in asap_ctd if c > rules.max_click_to_door) / len(asap_ctd) if asap_ctd else None,
        "ready_to_pickup": _stats(wait),
        "lower_bound": {
            "mean": float(np.mean(lower)) if lower else None,
            "ratio_of_means": float(np.mean(asap_ctd) / np.mean(lower)) if lower else None,
            "mean_ratio": float(np.mean([c / lb for c, lb in zip(asap_ctd, lower) if lb > 0])) if lower else None,
            "below_bound": sum(1 for c, lb in zip(asap_ctd, lower) if c < lb - 1e-9),
        },
        "courier_hours": hours,
        "utilisation": busy / shift_minutes if shift_minutes else None,
        "orders_per_courier_hour": d / hours if hours else None,
        "total_pay": pay,
        "cost_per_order": pay / d if d else None,
        "repositioning": {  # moves without orders toward forecast demand (dispatch.reposition); their driving is in utilisation
            "moves": len(repositions),
            "minutes": float(sum(m.arrival - m.departure for m in repositions)),
        },
        "by_mode": by_mode,
        "mode_share": {mode: m["orders"] / n for mode, m in by_mode.items()},
        "commerce": basket_kpis(orders, baskets) if baskets else None,
    }
