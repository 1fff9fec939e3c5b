"""A dispatcher's hand on the live shard: reassign orders, move all of a courier's open stops, take a courier off shift.

Each is a report from ``ops:<user>`` with a ref, so it is applied once and answered with a verdict.
"""
from __future__ import annotations

from dispatch.courier import CourierStatus
from dispatch.live import LiveRegionShard
from dispatch.order import OrderStatus
from dispatch.region import Report
from tests.dispatch.test_live_shard import BundleTwo, DOOR2, STORE, at, event, live, on, order, rep, state, stores

C, S = CourierStatus, OrderStatus
OPS = "ops:planner"


def ops(kind: str, t: float, ref: str, **data: object) -> Report:
    return Report(kind, OPS, t, dict(data), ref)


def verdict(result, ref: str) -> dict:
    found = [e.data for e in result.events if e.entity == OPS and e.type == "verdict" and e.data["ref"] == ref]
    assert len(found) == 1, result.events
    return found[0]


def two_couriers(policy=None) -> LiveRegionShard:
    """c1 at the store with o1 accepted (not picked up); c2 idle on shift far off."""
    sh = live(policy)
    at(sh, 0, on("c1", 0, where=STORE), new_stores=stores())
    at(sh, 1, orders=[order()])
    at(sh, 1.1, rep("accept", "c1", 1.1, offer="c1.1"))
    at(sh, 1.2, on("c2", 1.2, where=DOOR2))
    assert sh.order("o1").courier_id == "c1" and sh.courier("c1").status == C.TO_STORE
    return sh


def test_a_dispatcher_reassigns_an_accepted_order_and_both_couriers_hear_of_it() -> None:
    sh = two_couriers()
    r = at(sh, 2, ops("ops_reassign", 2, "a1", orders=["o1"], to="c2"))
    assert verdict(r, "a1") == {"ref": "a1", "kind": "ops_reassign", "ok": True}
    changed = event(r, "c1", "route_changed").data
    assert changed["reason"] == "order o1 reassigned by the dispatcher" and changed["stops"] == []
    assert sh.courier("c1").status == C.IDLE and list(sh.courier("c1").route) == []
    offered = event(r, "c2", "offered").data
    assert offered["orders"] == ["o1"] and [s["kind"] for s in offered["stops"]] == ["pickup", "dropoff"]
    assert sh.order("o1").courier_id == "c2" and sh.order("o1").status == S.ASSIGNED
    again = at(sh, 2.1, ops("ops_reassign", 2.1, "a1", orders=["o1"], to="c2"))  # the API retried: applied once
    assert verdict(again, "a1")["repeated"] is True and not [e for e in again.events if e.type == "offered"]


def test_a_reassignment_that_cannot_be_done_changes_nothing_and_says_why() -> None:
    sh = two_couriers()
    at(sh, 2, rep("pickup", "c1", 2, orders=["o1"]))
    before = state(sh)
    r = at(sh, 2.1, ops("ops_reassign", 2.1, "a2", orders=["o1"], to="c2"))
    v = verdict(r, "a2")
    assert v["ok"] is False and v["detail"] == "order o1 is picked_up: only an order not yet picked up can be reassigned"
    assert state(sh) == before
    for data, why in [({"orders": ["o1"], "to": "nobody"}, "courier nobody is not on shift in region"),
                      ({"orders": ["o9"], "to": "c2"}, "order o9 is not in region"),
                      ({"orders": [], "to": "c2"}, "name at least one order")]:
        r = at(sh, 2.2, ops("ops_reassign", 2.2, f"bad-{why}", **data))
        assert verdict(r, f"bad-{why}")["detail"].startswith(why)
    assert state(sh) == before


def test_a_dispatcher_moves_all_of_a_couriers_open_stops_to_another_in_their_order() -> None:
    sh = live(BundleTwo())
    at(sh, 0, on("c1", 0, where=STORE), new_stores=stores())
    at(sh, 1, orders=[order("o1"), order("o2", store_id="s2", door=DOOR2)])
    at(sh, 1.1, rep("accept", "c1", 1.1, offer="c1.1"))
    sh.policy = live().policy  # greedy from here: c2 gets nothing by itself
    at(sh, 1.2, on("c2", 1.2, where=DOOR2))
    first = [s.order_ids for s in sh.courier("c1").route if s.kind == "pickup"]
    r = at(sh, 2, ops("ops_move_stops", 2, "m1", **{"from": "c1", "to": "c2"}))
    assert verdict(r, "m1")["ok"] is True
    offered = event(r, "c2", "offered").data
    assert [tuple(s["orders"]) for s in offered["stops"] if s["kind"] == "pickup"] == first, "in c1's order"
    assert list(sh.courier("c1").route) == [] and sh.courier("c1").status == C.IDLE
    none_left = at(sh, 2.1, ops("ops_move_stops", 2.1, "m2", **{"from": "c1", "to": "c2"}))
    assert verdict(none_left, "m2")["detail"] == "courier c1 has no stop left that is not picked up"


def test_a_dispatcher_takes_a_courier_off_shift_and_its_orders_go_back_to_the_pool() -> None:
    sh = two_couriers()
    r = at(sh, 2, ops("ops_off_shift", 2, "o1", courier="c1"))
    assert verdict(r, "o1")["ok"] is True
    assert sh.courier("c1").status == C.OFF_SHIFT
    assert sh.order("o1").courier_id != "c1"
    assert event(r, "c1", "route_changed").data["reason"] == "order o1 taken off its courier by the dispatcher"
