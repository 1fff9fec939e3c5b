"""Turn an assignment into a timed route under the service rules (MDRP's timing).

At a store: pickup instant = max(latest ready time of the orders picked there, arrival + half the
pickup service); departure = pickup + the other half. At a door: drop-off = arrival + half the
drop-off service, but not before the order's window opens (scheduled and timed orders: the courier
waits at the door); departure = drop-off + the other half. A reposition (``("reposition", cell
hex)``) is a move to the cell's centre and nothing more: arrival = service instant = departure.
"""
from __future__ import annotations

from collections.abc import Callable

import h3.api.basic_int as h3

from dispatch.courier import Courier, Stop
from dispatch.errors import InvalidInput
from dispatch.geo import Location, in_frame_of
from dispatch.order import Order
from dispatch.policy import Assignment
from dispatch.rules import ServiceRules
from dispatch.travel import TravelModel
from dispatch.zones import cell_center

REPOSITION_PREFIX = "h3:"  # a reposition stop's node: never an order, store or courier id


def reposition_node(cell: str) -> str:
    return REPOSITION_PREFIX + cell


def reposition_target(cell: str, ref: Location) -> Location:
    """The centre of H3 cell ``cell`` (hex id), with planar metres when ``ref`` has them."""
    try:
        index = int(cell, 16)
    except (TypeError, ValueError):
        index = -1
    if index < 0 or not h3.is_valid_cell(index):
        raise InvalidInput(f"{cell!r} is not an H3 cell")
    return in_frame_of(cell_center(index), ref)


def plan_stops(
    courier: Courier,
    assignment: Assignment,
    now: float,
    order_of: Callable[[str], Order],
    store_location: Callable[[str], Location],
    travel: TravelModel,
    rules: ServiceRules,
) -> list[Stop]:
    """Timed stops for ``assignment``, starting where and when the courier's current route ends."""
    groups: list[tuple[str, str, list[Order]]] = []  # (kind, node, orders)
    for kind, order_id in assignment.stops:
        if kind == "reposition":
            groups.append(("reposition", order_id, []))
            continue
        order = order_of(order_id)
        if kind == "pickup":
            if groups and groups[-1][0] == "pickup" and groups[-1][1] == order.store_id:
                groups[-1][2].append(order)
            else:
                groups.append(("pickup", order.store_id, [order]))
        elif kind == "dropoff":
            groups.append(("dropoff", order.id, [order]))
        else:
            raise InvalidInput(f"unknown stop kind {kind!r} in an assignment to {courier.id}")

    t = max(now, courier.free_at, courier.on_time)
    here = courier.end_location
    half_p, half_d = rules.pickup_service / 2, rules.dropoff_service / 2
    stops: list[Stop] = []
    for kind, node, orders in groups:
        if kind == "reposition":
            where = reposition_target(node, here)
            arrive = t + travel.minutes(here, where, t)
            stops.append(Stop(kind, reposition_node(node), where, (), arrive, arrive, arrive))
            t, here = arrive, where
            continue
        where = store_location(node) if kind == "pickup" else orders[0].dropoff
        arrive = t + travel.minutes(here, where, t)
        if kind == "pickup":
            at = max(arrive + half_p, max(o.ready_at for o in orders))
            depart = at + half_p
        else:  # a booked slot or exact time: never hand over before the window opens
            at = max(arrive + half_d, orders[0].window.earliest)
            depart = at + half_d
        stops.append(Stop(kind, node, where, tuple(o.id for o in orders), arrive, at, depart))
        t, here = depart, where
    return stops
