"""Couriers across live region borders: lent to a short-handed region, or idle where another serves.

World: region A holds store sa and courier c1; region B, its H3 neighbour, holds store sb (about
a kilometre inside B from the border) and no courier. The two shards are stepped by hand as the
live hosts step them, and what one shard puts in its ``outbox`` is given to the other, as the
hosts carry it through the regions' Redis streams.
"""
from __future__ import annotations

import pickle

from dispatch.borrowing import RegionLoad, plan_loans
from dispatch.courier import CourierStatus
from dispatch.geo import Location, haversine_m
from dispatch.greedy import GreedyPolicy
from dispatch.live import Forward, LiveRegionShard
from dispatch.policy import Assignment, BasePolicy
from dispatch.modes import asap_window
from dispatch.order import Order, OrderStatus
from dispatch.region import Handover, Report, StepInput, StepResult
from dispatch.rules import ServiceRules
from dispatch.store import Store
from dispatch.travel import HaversineTravel
from dispatch.zones import cell_center, region_of, ring

TRAVEL = HaversineTravel(speed_kmh=18.0, detour=1.0)
RULES = ServiceRules(pickup_service=4, dropoff_service=4)
A = region_of(Location(31.2300, 121.4700))
B, C_REGION = sorted(ring(A, 1))[:2]


def toward(frm: Location, to: Location, share: float) -> Location:
    return Location(frm.lat + (to.lat - frm.lat) * share, frm.lng + (to.lng - frm.lng) * share)


A_MID, B_MID = cell_center(A), cell_center(B)
STORE_A = toward(A_MID, B_MID, 0.40)
STORE_B = toward(A_MID, B_MID, 0.60)  # across the border, a few km from STORE_A
HOME = toward(A_MID, B_MID, 0.35)  # c1's shift starts in A
DOOR_B = toward(A_MID, B_MID, 0.75)
S = OrderStatus
CS = CourierStatus


def shard(region: int, policy: BasePolicy | None = None) -> LiveRegionShard:
    return LiveRegionShard(region, policy or GreedyPolicy(), TRAVEL, RULES, served_regions=frozenset({A, B, C_REGION}), offer_timeout=5)


class SendOnce(BasePolicy):
    """Repositions c1 to ``cell`` on its first tick with c1 free, then dispatches greedily."""

    name = "send-once"

    def __init__(self, cell: str) -> None:
        self.cell, self.sent, self.greedy = cell, False, GreedyPolicy()

    def on_order(self, order, now):
        self.greedy.on_order(order, now)

    def on_courier(self, courier, now):
        self.greedy.on_courier(courier, now)

    def on_tick(self, now, view):
        if not self.sent and any(c.id == "c1" for c in view.couriers()):
            self.sent = True
            return [Assignment.reposition_to("c1", self.cell)]
        return self.greedy.on_tick(now, view)


def step(sh: LiveRegionShard, t: float, *reports: Report, orders: list[Order] | None = None,
         lend: dict[int, int] | None = None, handovers: list[Handover] | None = None) -> StepResult:
    return sh.step(StepInput(t, orders=orders or [], reports=list(reports), lend=lend or {}, handovers=handovers or []))


def on(cid: str, t: float, where: Location = HOME) -> Report:
    return Report("shift_on", cid, t, {"lat": where.lat, "lng": where.lng}, ref=f"{cid}-on")


def order(oid: str, store: str, placed: float, door: Location = DOOR_B) -> Order:
    return Order(oid, store, door, placed, placed + 5, asap_window(placed))


def world() -> tuple[LiveRegionShard, LiveRegionShard]:
    a, b = shard(A), shard(B)
    assert region_of(STORE_A) == A and region_of(STORE_B) == B and region_of(HOME) == A and region_of(DOOR_B) == B
    step(a, 0.0).events, step(b, 0.0)
    a.stores["sa"], b.stores["sb"] = Store("sa", STORE_A), Store("sb", STORE_B)
    step(a, 0.5, on("c1", 0.5))
    return a, b


def test_the_plan_lends_the_nearest_spare_couriers_to_regions_whose_orders_wait() -> None:
    loads = {A: RegionLoad(waiting=0, idle=3), B: RegionLoad(waiting=2, idle=0), C_REGION: RegionLoad(waiting=0, idle=1)}
    plan = plan_loans(loads)
    assert sum(n for row in plan.values() for n in row.values()) == 2
    assert all(set(row) == {B} for row in plan.values())
    nearest = min((A, C_REGION), key=lambda r: haversine_m(cell_center(r), cell_center(B)))
    assert plan[nearest][B] == min(2, loads[nearest].idle)
    assert plan_loans({A: RegionLoad(1, 2), B: RegionLoad(3, 0)}) == {}  # a region with orders waiting lends nothing


def test_a_lent_courier_leaves_with_its_verdicts_and_takes_the_borrowers_order() -> None:
    a, b = world()
    r = step(b, 1.0, orders=[order("ob", "sb", 1.0)])
    assert r.waiting == 1  # food ready at 6, and nobody in B to fetch it: B borrows now, not once it is cold
    r = step(a, 1.0, lend={B: 1})
    [handover] = a.take_outbox()
    assert isinstance(handover, Handover) and handover.reason == "loan" and handover.target == B
    assert handover.verdicts and handover.verdicts[0][0] == "c1-on"
    assert "c1" not in a._couriers and a.moved_to == {"c1": B}
    assert [(e.type, e.data["to"]) for e in r.events if e.entity == "c1"] == [("handed_over", B)]
    wire = pickle.loads(pickle.dumps(handover))  # as it crosses the stream
    r = step(b, 1.1, handovers=[wire])
    offers = [e for e in r.events if e.type == "offered"]
    assert [e.entity for e in offers] == ["c1"] and offers[0].data["orders"] == ["ob"]
    # the shift_on sent again after a reconnect is still known as judged, in the region the courier is in now
    r = step(b, 1.2, on("c1", 1.2))
    assert [e.data for e in r.events if e.type == "verdict"] == [{"ref": "c1-on", "kind": "shift_on", "ok": True, "repeated": True}]


def test_a_region_counts_as_waiting_only_the_orders_due_soon_beyond_its_free_couriers() -> None:
    a, _ = world()
    assert step(a, 1.0, orders=[order("later", "sa", 1.0)]).waiting == 0  # c1 is free, and takes it
    a2 = shard(A)
    a2.stores["sa"] = Store("sa", STORE_A)
    far_off = Order("booked", "sa", DOOR_B, 1.0, 60.0, asap_window(1.0))
    assert step(a2, 1.0, orders=[far_off]).waiting == 0  # food ready in an hour: no courier needed yet
    assert step(a2, 51.0).waiting == 1
    assert shard(A)._waiting(0.0) == 0


def test_a_handover_read_twice_is_taken_once() -> None:
    a, b = world()
    step(a, 1.0, lend={B: 1})
    [handover] = a.take_outbox()
    step(b, 1.1, handovers=[handover])
    r = step(b, 1.2, handovers=[pickle.loads(pickle.dumps(handover))])  # the donor crashed and sent it again
    assert r.rejected == [] and list(b._couriers) == ["c1"]


def test_a_report_that_was_on_its_way_follows_the_courier() -> None:
    a, b = world()
    step(a, 1.0, lend={B: 1})
    a.take_outbox()
    late = Report("position", "c1", 1.1, {"lat": HOME.lat, "lng": HOME.lng})
    answered = Report("shift_off", "c1", 1.1, {}, ref="off-1")
    r = step(a, 1.1, late, answered)
    assert r.rejected == [] and not [e for e in r.events if e.type == "verdict"]  # judged where the courier is
    assert a.take_outbox() == [Forward(B, late), Forward(B, answered)]
    store_report = Report("store_ready", "sa", 1.2, {"order": "nope"})
    r = step(a, 1.2, store_report)
    assert r.rejected and a.take_outbox() == []  # a store's report is never forwarded


def test_a_courier_whose_trip_ends_across_the_border_keeps_working_there() -> None:
    a, b = world()
    step(a, 1.0, orders=[order("oa", "sa", 1.0)])
    [offer] = a.offers.values()
    step(a, 1.2, Report("accept", "c1", 1.2, {"offer": offer.id}, ref="acc"))
    step(a, 6.5, Report("pickup", "c1", 6.5, {"orders": ["oa"]}, ref="pu"))
    assert a.take_outbox() == []  # busy couriers stay
    r = step(a, 12.0, Report("dropoff", "c1", 12.0, {"order": "oa"}, ref="do"))
    assert a.order("oa").status == S.DELIVERED
    [handover] = a.take_outbox()
    assert handover.reason == "trip_end" and handover.target == B
    assert [v for v in (e.data for e in r.events if e.type == "verdict")] == [{"ref": "do", "kind": "dropoff", "ok": True}]
    r = step(b, 12.1, handovers=[handover], orders=[order("ob", "sb", 12.1)])
    assert b._couriers["c1"].status == CS.IDLE
    assert [(e.entity, e.data["orders"]) for e in r.events if e.type == "offered"] == [("c1", ["ob"])]


def test_a_lent_courier_stays_with_the_borrower_for_the_loan_even_standing_in_the_lender() -> None:
    a, b = world()
    step(a, 1.0, lend={B: 1})
    [handover] = a.take_outbox()
    step(b, 1.1, handovers=[handover])
    step(b, 20.0)
    assert b.take_outbox() == [] and "c1" in b._couriers  # idle in A, but lent to B for 30 minutes
    step(b, 32.0)
    [back] = b.take_outbox()
    assert back.reason == "trip_end" and back.target == A


def test_a_snapshot_from_before_handovers_restores_with_none_under_way() -> None:
    a, _ = world()
    state = a.__dict__.copy()
    for name in ("moved_to", "handovers_taken", "outbox"):
        del state[name]
    old = LiveRegionShard.__new__(LiveRegionShard)
    old.__setstate__(state)
    assert old.moved_to == {} and old.take_outbox() == [] and not old.handovers_taken


def test_a_reposition_is_suggested_live_and_a_courier_that_follows_it_across_the_border_is_handed_over() -> None:
    target = f"{region_of(B_MID, 7):x}"  # a zone in B, as the repositioning wrapper names them
    a = shard(A, SendOnce(target))
    a.stores["sa"] = Store("sa", STORE_A)
    step(a, 0.0)
    r = step(a, 0.5, on("c1", 0.5))
    [move] = [e for e in r.events if e.type == "reposition"]
    assert move.entity == "c1" and move.data["cell"] == target and a.heading == {"c1": target}
    assert a._couriers["c1"].status == CS.IDLE and not a._couriers["c1"].route  # free for work on the way
    assert a.take_outbox() == []
    r = step(a, 5.0, Report("position", "c1", 5.0, {"lat": B_MID.lat, "lng": B_MID.lng}))  # the app rode there
    [handover] = a.take_outbox()
    assert handover.reason == "reposition" and handover.target == B and a.heading == {}


def test_work_comes_before_a_reposition() -> None:
    a = shard(A, SendOnce(f"{region_of(B_MID, 7):x}"))
    a.stores["sa"] = Store("sa", STORE_A)
    step(a, 0.0)
    step(a, 0.5, on("c1", 0.5))
    r = step(a, 1.0, orders=[order("oa", "sa", 1.0)])
    assert [e.entity for e in r.events if e.type == "offered"] == ["c1"] and a.heading == {}
    bad = shard(A, SendOnce("not-a-cell"))
    bad.stores["sa"] = Store("sa", STORE_A)
    step(bad, 0.0)
    r = step(bad, 0.5, on("c1", 0.5))
    assert any("not an H3 cell" in why for why in r.rejected) and bad.heading == {}
