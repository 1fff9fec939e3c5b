"""LiveRegionShard: a region shard driven by what couriers' apps and stores report.

World: one store s1 in Shanghai, HaversineTravel at 18 km/h with no detour (300 m/min),
ServiceRules(4, 4) (2 min of service on each side of a pickup/drop-off instant), GreedyPolicy.
The courier starts about 1.5 km from the store; the door is about 2.5 km beyond it. Expected
times are built from ``TRAVEL.minutes`` and the rules, never from the shard's own arithmetic.
"""
from __future__ import annotations

import pytest

from dispatch.courier import CourierStatus, Stop
from dispatch.geo import Location
from dispatch.greedy import GreedyPolicy
from dispatch.live import DOOR_RES, LiveRegionShard, Offer
from dispatch.modes import asap_window
from dispatch.order import Order, OrderStatus
from dispatch.policy import Assignment, BasePolicy
from dispatch.region import RegionShard, Report, StepInput, StepResult
from dispatch.rules import ServiceRules
from dispatch.store import Store
from dispatch.travel import HaversineTravel
from dispatch.zones import cell_center, cell_str, region_of, zone_of

TRAVEL = HaversineTravel(speed_kmh=18.0, detour=1.0)
RULES = ServiceRules(pickup_service=4, dropoff_service=4)
STORE = Location(31.2300, 121.4700)
STORE2 = Location(31.2260, 121.4750)
DOOR = Location(31.2480, 121.4800)
DOOR2 = Location(31.2150, 121.4900)
HOME = Location(31.2200, 121.4600)  # where c1 starts its shift
FAR = Location(31.2000, 121.4300)  # about 4 km from the store
REGION = region_of(STORE)
HALF_P = RULES.pickup_service / 2
HALF_D = RULES.dropoff_service / 2
S = OrderStatus
C = CourierStatus


class BundleTwo(BasePolicy):
    """Gives c1 the two open orders as one bundle, once both are open and c1 may be given work."""

    name = "bundle-two"

    def on_tick(self, now, view):
        open_ = sorted(o.id for o in view.open_orders())
        if len(open_) == 2 and any(c.id == "c1" for c in view.couriers()):
            return [Assignment.bundle("c1", open_)]
        return []


def live(policy: BasePolicy | None = None, **kw: object) -> LiveRegionShard:
    return LiveRegionShard(REGION, policy or GreedyPolicy(), TRAVEL, RULES, **kw)  # type: ignore[arg-type]


def stores() -> list[Store]:
    return [Store("s1", STORE), Store("s2", STORE2)]


def order(oid: str = "o1", placed: float = 1.0, ready: float = 15.0, store_id: str = "s1", door: Location = DOOR) -> Order:
    return Order(oid, store_id, door, placed, ready, asap_window(placed))


def rep(kind: str, entity: str, time: float, **data: object) -> Report:
    return Report(kind, entity, time, dict(data))


def on(cid: str, t: float, where: Location = HOME, **data: object) -> Report:
    return rep("shift_on", cid, t, lat=where.lat, lng=where.lng, **data)


def at(sh: LiveRegionShard, t: float, *reports: Report, orders: list[Order] | None = None,
       cancel: list[str] | None = None, new_stores: list[Store] | None = None) -> StepResult:
    """One step; no event may come from the future."""
    result = sh.step(StepInput(t, orders=orders or [], stores=new_stores or [], reports=list(reports), cancellations=cancel or []))
    assert all(e.time <= t for e in result.events)
    return result


def evs(result: StepResult, entity: str) -> list[tuple[str, float]]:
    return [(e.type, e.time) for e in result.events if e.entity == entity]


def event(result: StepResult, entity: str, kind: str):
    found = [e for e in result.events if e.entity == entity and e.type == kind]
    assert len(found) == 1, (entity, kind, result.events)
    return found[0]


def state(sh: LiveRegionShard) -> tuple:
    """Everything a rejected report must leave as it was."""
    couriers = {
        c.id: (c.status, c.location, c.position, tuple(c.route), tuple(c.onboard), c.on_time, c.off_time, c.free_at, len(c.history))
        for c in sh._couriers.values()
    }
    orders = {o.id: (o.status, o.courier_id, o.ready_at, len(o.history)) for o in sh.orders.values()}
    return (couriers, orders, dict(sh.offers), dict(sh.resting), sorted(o.id for o in sh.open_orders()),
            sorted(sh.awaiting_store), sh.delivered, sh.closed)


def offered(sh: LiveRegionShard, t: float, cid: str = "c1") -> tuple[LiveRegionShard, Offer]:
    """Bring ``cid`` on shift at HOME at ``t`` and have it offered o1 (placed at t + 1, ready at t + 15)."""
    at(sh, t, on(cid, t), new_stores=stores())
    result = at(sh, t + 1, orders=[order(placed=t + 1, ready=t + 15)])
    assert event(result, cid, "offered")
    return sh, sh.offers[cid]


def planned(courier_at: Location, now: float, ready: float, door: Location = DOOR, placed: float = 1.0) -> tuple[float, float, float, float]:
    """(store arrival, pickup instant, door arrival, drop-off instant) of a one-order route from ``courier_at``."""
    arrive = now + TRAVEL.minutes(courier_at, STORE, now)
    pickup = max(arrive + HALF_P, ready)
    door_arrive = pickup + HALF_P + TRAVEL.minutes(STORE, door, pickup + HALF_P)
    return arrive, pickup, door_arrive, max(door_arrive + HALF_D, placed)


# -- 1. the happy path ---------------------------------------------------------------------------
def test_full_happy_path_offer_accept_pickup_before_ready_dropoff() -> None:
    sh = live()
    r0 = at(sh, 0, on("c1", 0), new_stores=stores())
    assert evs(r0, "c1") == [("idle", 0)]
    assert sh.courier("c1").status == C.IDLE and r0.idle_couriers == 1

    r1 = at(sh, 1, orders=[order()])
    # the greedy policy dispatches at once (ready at 15 is within its 20-minute release lead): an offer
    assert evs(r1, "o1") == [("placed", 1), ("paid", 1), ("accepted", 1), ("preparing", 1), ("assigned", 1)]
    offer = sh.offers["c1"]
    arrive, pickup, door_arrive, drop = planned(HOME, 1, 15)
    assert offer == Offer("c1.1", "c1", ("o1",), offer.stops, 1, 1.5)
    assert offer.stops == (
        Stop("pickup", "s1", STORE, ("o1",), arrive, pickup, pickup + HALF_P),
        Stop("dropoff", "o1", DOOR, ("o1",), door_arrive, drop, drop + HALF_D),
    )
    ev = event(r1, "c1", "offered")
    assert ev.time == 1 and ev.actor == "dispatcher"
    assert ev.data["offer"] == "c1.1" and ev.data["orders"] == ["o1"] and ev.data["expires"] == 1.5
    assert [(s["kind"], s["node"], s["orders"], s["at"]) for s in ev.data["stops"]] == [
        ("pickup", "s1", ["o1"], pickup), ("dropoff", "o1", ["o1"], drop),
    ]
    pickup_stop, door_stop = ev.data["stops"]
    assert (pickup_stop["lat"], pickup_stop["lng"]) == (STORE.lat, STORE.lng)
    # the door is not the courier's business until it has the food: the offer shows the door's cell only
    door_cell = cell_str(zone_of(DOOR, DOOR_RES))
    assert door_stop["exact"] is False and door_stop["cell"] == door_cell
    assert (door_stop["lat"], door_stop["lng"]) == (cell_center(zone_of(DOOR, DOOR_RES)).lat, cell_center(zone_of(DOOR, DOOR_RES)).lng)
    assert (door_stop["lat"], door_stop["lng"]) != (DOOR.lat, DOOR.lng)
    courier = sh.courier("c1")
    assert courier.status == C.IDLE and len(courier.route) == 2 and sh.order("o1").courier_id == "c1"
    assert [c.id for c in sh.couriers()] == []  # hidden from the policy while the offer is open
    assert (r1.busy_couriers, r1.idle_couriers, r1.open_orders) == (1, 0, 0)

    r2 = at(sh, 1.25, rep("accept", "c1", 1.25, offer="c1.1"))
    assert r2.rejected == []
    assert evs(r2, "c1") == [("offer_accepted", 1.25), ("to_store", 1.25)]
    assert sh.offers == {} and courier.status == C.TO_STORE and len(courier.route) == 2
    assert sh.order("o1").status == S.ASSIGNED

    # picked up at 10, before the predicted ready time of 15: the food was ready after all
    r3 = at(sh, 10, rep("pickup", "c1", 10, orders=["o1"]))
    assert r3.rejected == []
    assert evs(r3, "o1") == [("food_ready", 10), ("picked_up", 10)]
    assert evs(r3, "c1") == [("at_store", 10), ("delivering", 10), ("route_changed", 10)]
    after_pickup = event(r3, "c1", "route_changed").data  # now it carries o1: the exact door
    assert after_pickup["reason"] == "picked up o1"
    assert [(s["kind"], s["exact"], s["cell"], s["lat"], s["lng"]) for s in after_pickup["stops"]] == [
        ("dropoff", True, door_cell, DOOR.lat, DOOR.lng)]
    o1 = sh.order("o1")
    assert (o1.status, o1.ready_at, o1.picked_up_at) == (S.PICKED_UP, 10, 10)
    assert courier.onboard == ["o1"] and [s.kind for s in courier.route] == ["dropoff"]

    r4 = at(sh, 15)  # the predicted ready minute passes: nothing more to say about the food
    assert r4.events == []

    r5 = at(sh, 20, rep("dropoff", "c1", 20, order="o1"))
    assert r5.rejected == []
    assert evs(r5, "o1") == [("delivered", 20)]
    assert evs(r5, "c1") == [("idle", 20)]
    assert (o1.status, o1.delivered_at, o1.click_to_door) == (S.DELIVERED, 20, 19)
    assert courier.status == C.IDLE and list(courier.route) == [] and courier.onboard == []
    assert courier.location == DOOR and courier.free_at == 20
    assert sh.delivered == 1 and (r5.delivered, r5.active_orders, r5.idle_couriers, r5.busy_couriers) == (1, 0, 1, 0)
    assert courier.serving == RULES.pickup_service + RULES.dropoff_service
    assert [(a.courier_id, a.store_id, a.order_ids) for a in sh.assignments] == [("c1", "s1", ("o1",))]
    assert [c.id for c in sh.couriers()] == ["c1"]


def test_pickup_after_the_predicted_ready_minute_in_one_coarse_step_still_records_the_food_ready() -> None:
    sh, offer = offered(live(), 0)  # o1 ready at 15
    at(sh, 1, rep("accept", "c1", 1, offer=offer.id))
    r = at(sh, 20, rep("pickup", "c1", 20, orders=["o1"]))  # no step between 1 and 20
    assert r.rejected == []
    assert sh.order("o1").status == S.PICKED_UP and sh.order("o1").ready_at == 15
    assert [e.type for e in sh.order("o1").history][-2:] == ["food_ready", "picked_up"]
    assert ("food_ready", 15) in evs(r, "o1")


# -- 2. decline -----------------------------------------------------------------------------------
def test_decline_puts_the_order_back_and_rests_the_courier_then_offers_again() -> None:
    sh, offer = offered(live(decline_cooldown=2.0), 0)
    r = at(sh, 1.2, rep("decline", "c1", 1.2, offer=offer.id))
    assert r.rejected == []
    withdrawn = event(r, "c1", "offer_withdrawn")
    assert withdrawn.data == {"offer": "c1.1", "reason": "declined"} and withdrawn.time == 1.2
    o1 = sh.order("o1")
    assert o1.status == S.PREPARING and o1.courier_id is None and o1.assigned_at is None
    assert evs(r, "o1") == [("preparing", 1.2)] and o1.history[-1].data["reason"] == "declined"
    courier = sh.courier("c1")
    assert sh.offers == {} and list(courier.route) == [] and courier.status == C.IDLE and courier.free_at == 1.2
    assert sh.resting == {"c1": 3.2}
    assert [o.id for o in sh.open_orders()] == ["o1"] and r.open_orders == 1
    assert "offered" not in [e.type for e in r.events]  # not re-offered in the same step

    r = at(sh, 3.0)  # still resting
    assert r.events == [] and sh.couriers() == [] and sh.offers == {}
    r = at(sh, 3.2)  # rested: offered again
    again = event(r, "c1", "offered")
    assert again.data["offer"] == "c1.2" and again.data["orders"] == ["o1"]
    assert sh.offers["c1"].made_at == 3.2 and o1.status == S.ASSIGNED and o1.courier_id == "c1"


def test_a_decline_gives_the_order_to_another_courier_in_the_same_step() -> None:
    sh = live()
    at(sh, 0, on("c1", 0, STORE), on("c2", 0, FAR), new_stores=stores())
    at(sh, 1, orders=[order()])
    assert set(sh.offers) == {"c1"}  # the nearer one
    r = at(sh, 1.1, rep("decline", "c1", 1.1, offer="c1.1"))
    assert set(sh.offers) == {"c2"} and sh.order("o1").courier_id == "c2"
    assert [e.type for e in r.events if e.entity == "o1"] == ["preparing", "assigned"]


def test_ready_food_goes_back_as_ready() -> None:
    sh = live()
    at(sh, 0, new_stores=stores(), orders=[order(placed=0, ready=2)])
    at(sh, 3, on("c1", 3))
    assert sh.order("o1").status == S.ASSIGNED
    at(sh, 3.1, rep("decline", "c1", 3.1, offer=sh.offers["c1"].id))
    assert sh.order("o1").status == S.READY


# -- 3. no answer -------------------------------------------------------------------------------
def test_an_unanswered_offer_is_withdrawn_at_expiry() -> None:
    sh, offer = offered(live(offer_timeout=0.5, decline_cooldown=1.0), 0)
    assert offer.expires == 1.5
    r = at(sh, 1.4)
    assert r.events == [] and sh.offers == {"c1": offer}
    r = at(sh, 1.5)
    withdrawn = event(r, "c1", "offer_withdrawn")
    assert withdrawn.data == {"offer": "c1.1", "reason": "no answer in time"}
    assert sh.offers == {} and sh.order("o1").status == S.PREPARING and sh.order("o1").courier_id is None
    assert sh.order("o1").history[-1].data["reason"] == "no answer in time"
    assert list(sh.courier("c1").route) == [] and sh.resting == {"c1": 2.5}
    # a late accept of the withdrawn offer is refused
    r = at(sh, 1.6, rep("accept", "c1", 1.6, offer="c1.1"))
    assert len(r.rejected) == 1 and r.rejected[0].startswith("c1: accept: ") and "no open offer" in r.rejected[0]
    assert sh.courier("c1").status == C.IDLE
    r = at(sh, 2.5)
    assert event(r, "c1", "offered").data["offer"] == "c1.2"


# -- 4. stores that accept their orders themselves ----------------------------------------------
def test_store_flow_without_auto_accept() -> None:
    sh = live(auto_accept=False)
    at(sh, 0, on("c1", 0), new_stores=stores())
    r = at(sh, 1, orders=[order(ready=15)])
    assert evs(r, "o1") == [("placed", 1), ("paid", 1)]
    assert sh.order("o1").status == S.PAID and list(sh.awaiting_store) == ["o1"]
    assert sh.offers == {} and r.open_orders == 0 and r.active_orders == 1  # not dispatched
    r = at(sh, 4)
    assert r.events == [] and sh.offers == {}
    assert sh.etas(4)["o1"] == pytest.approx(15 + HALF_P + HALF_P + TRAVEL.minutes(STORE, DOOR, 15 + HALF_P) + HALF_D)

    # another store may not accept it
    before = state(sh)
    r = at(sh, 5, rep("store_accept", "s2", 5, order="o1"))
    assert len(r.rejected) == 1 and r.rejected[0].startswith("s2: store_accept: ") and "no order 'o1'" in r.rejected[0]
    assert state(sh) == before and r.events == []

    r = at(sh, 6, rep("store_accept", "s1", 6, order="o1", ready_in=10))
    assert r.rejected == []
    o1 = sh.order("o1")
    assert evs(r, "o1")[:3] == [("accepted", 6), ("preparing", 6), ("assigned", 6)]
    assert o1.history[2].actor == "s1" and o1.ready_at == 16
    assert sh.awaiting_store == {} and sh.offers["c1"].stops[0].at == max(6 + TRAVEL.minutes(HOME, STORE, 6) + HALF_P, 16)

    r = at(sh, 6.2, rep("accept", "c1", 6.2, offer=sh.offers["c1"].id))
    assert r.rejected == [] and sh.courier("c1").status == C.TO_STORE
    r = at(sh, 7, rep("store_accept", "s1", 7, order="o1"))  # twice
    assert len(r.rejected) == 1 and "not waiting for its store" in r.rejected[0]

    before = state(sh)
    r = at(sh, 9, rep("store_ready", "s2", 9, order="o1"))  # not s2's order
    assert len(r.rejected) == 1 and r.rejected[0].startswith("s2: store_ready: ") and state(sh) == before

    r = at(sh, 11, rep("store_ready", "s1", 11, order="o1"))
    assert r.rejected == []
    assert evs(r, "o1") == [("food_ready", 11)] and o1.ready_at == 11 and o1.food_is_ready
    assert o1.history[-1].actor == "s1"

    before = state(sh)
    r = at(sh, 12, rep("store_ready", "s1", 12, order="o1"))  # a second time
    assert len(r.rejected) == 1 and "cannot be marked ready now" in r.rejected[0]
    assert state(sh) == before and r.events == []
    r = at(sh, 16)  # the old prediction passes: no second ready either
    assert evs(r, "o1") == []


def test_store_ready_of_an_unassigned_order_makes_it_ready_and_store_accept_without_ready_in_keeps_the_prediction() -> None:
    sh = live(GreedyPolicy(release_lead=0), auto_accept=False)
    at(sh, 0, new_stores=stores(), orders=[order(placed=0, ready=20)])
    r = at(sh, 3, rep("store_accept", "s1", 3, order="o1"))
    assert sh.order("o1").ready_at == 20 and sh.order("o1").status == S.PREPARING and r.open_orders == 1
    r = at(sh, 5, rep("store_ready", "s1", 5, order="o1"))
    assert evs(r, "o1") == [("ready", 5)] and sh.order("o1").status == S.READY and sh.order("o1").ready_at == 5
    r = at(sh, 20)
    assert r.events == []  # the old prediction changes nothing


def test_store_reports_before_the_store_accepts_are_refused() -> None:
    sh = live(auto_accept=False)
    at(sh, 0, new_stores=stores(), orders=[order(placed=0, ready=20)])
    before = state(sh)
    r = at(sh, 1, rep("store_ready", "s1", 1, order="o1"), rep("store_accept", "s1", 1, order="nope"),
           rep("store_accept", "s1", 1, order="o1", ready_in=-5), rep("store_accept", "s1", 1, order="o1", ready_in="soon"))
    assert len(r.rejected) == 4 and "must be non-negative" in r.rejected[2] and "ready_in must be a number" in r.rejected[3]
    assert state(sh) == before and r.events == []
    r = at(sh, 2, rep("store_accept", "s1", 2, order="o1", ready_in=3))  # a bad report loses nothing
    assert r.rejected == [] and sh.order("o1").status == S.PREPARING and sh.order("o1").ready_at == 5


def test_cancel_an_order_still_waiting_for_its_store() -> None:
    sh = live(auto_accept=False)
    at(sh, 0, new_stores=stores(), orders=[order(placed=0, ready=20)])
    r = at(sh, 1, cancel=["o1"])
    assert r.rejected == [] and sh.order("o1").status == S.CANCELLED and sh.awaiting_store == {}
    assert (r.open_orders, r.active_orders) == (0, 0) and "o1" not in sh.etas(1)
    r = at(sh, 2, rep("store_accept", "s1", 2, order="o1"))
    assert len(r.rejected) == 1 and sh.order("o1").status == S.CANCELLED


def test_order_for_a_paused_store_fails_without_auto_accept_too() -> None:
    sh = live(auto_accept=False)
    paused = Store("s1", STORE)
    paused.pause(0)
    r = at(sh, 0, new_stores=[paused], orders=[order(placed=0, ready=20)])
    assert sh.order("o1").status == S.FAILED and sh.awaiting_store == {} and r.active_orders == 0


# -- 5. cancellations -----------------------------------------------------------------------------
def test_cancel_an_order_in_a_pending_offer() -> None:
    sh, offer = offered(live(), 0)
    r = at(sh, 1.2, cancel=["o1"])
    assert r.rejected == []
    withdrawn = event(r, "c1", "offer_withdrawn")
    assert withdrawn.data == {"offer": offer.id, "reason": "an order of the offer was cancelled"}
    assert sh.order("o1").status == S.CANCELLED and sh.order("o1").courier_id is None
    assert sh.offers == {} and list(sh.courier("c1").route) == [] and sh.courier("c1").status == C.IDLE
    assert (r.open_orders, r.active_orders, r.idle_couriers) == (0, 0, 1)
    # the courier did nothing wrong: it is not rested, and takes the next order at once
    assert sh.resting == {}
    r = at(sh, 1.3, orders=[order("o2", placed=1.3, ready=10)])
    assert event(r, "c1", "offered").data["orders"] == ["o2"]


def test_cancel_an_accepted_order_before_pickup() -> None:
    sh = live()
    at(sh, 0, on("c1", 0), new_stores=stores())
    at(sh, 1, orders=[order("o1"), order("o2", store_id="s2", door=DOOR2)])
    # one courier: o1 is offered first (its store is nearer); o2 waits while the courier is busy
    at(sh, 1.1, rep("accept", "c1", 1.1, offer=sh.offers["c1"].id))
    courier = sh.courier("c1")
    assert courier.status == C.TO_STORE and sh.order("o2").status == S.PREPARING
    r = at(sh, 3, cancel=["o1"])
    assert r.rejected == []
    changed = event(r, "c1", "route_changed")
    assert changed.data == {"reason": "order o1 cancelled", "stops": []}
    assert sh.order("o1").status == S.CANCELLED and sh.order("o1").courier_id is None
    assert [e.type for e in r.events if e.entity == "o1"] == ["preparing", "cancelled"]
    # with nothing left to do the courier is free again, and is offered o2 in the same step
    assert [e.type for e in r.events if e.entity == "c1"] == ["route_changed", "idle", "offered"]
    assert event(r, "c1", "idle").data == {"reason": "order o1 cancelled"}
    assert courier.status == C.IDLE and courier.onboard == []
    assert sh.offers["c1"].order_ids == ("o2",) and [s.order_ids for s in courier.route] == [("o2",), ("o2",)]
    assert r.active_orders == 1 and r.delivered == 0


def test_cancel_one_order_of_an_accepted_route_keeps_the_rest() -> None:
    sh = live(BundleTwo())
    at(sh, 0, on("c1", 0), new_stores=stores())
    r = at(sh, 1, orders=[order("o1"), order("o2", door=DOOR2)])
    offer = sh.offers["c1"]
    assert offer.order_ids == ("o1", "o2") and [s.kind for s in offer.stops] == ["pickup", "dropoff", "dropoff"]
    at(sh, 1.1, rep("accept", "c1", 1.1, offer=offer.id))
    r = at(sh, 2, cancel=["o1"])
    courier = sh.courier("c1")
    assert [(s.kind, s.node, s.order_ids) for s in courier.route] == [("pickup", "s1", ("o2",)), ("dropoff", "o2", ("o2",))]
    stops = event(r, "c1", "route_changed").data["stops"]
    assert [(s["kind"], s["orders"]) for s in stops] == [("pickup", ["o2"]), ("dropoff", ["o2"])]
    assert courier.status == C.TO_STORE and courier.free_at == courier.route[-1].depart
    assert sh.order("o2").status == S.ASSIGNED
    r = at(sh, 8, rep("pickup", "c1", 8, orders=["o2"]))
    assert r.rejected == [] and courier.onboard == ["o2"]
    r = at(sh, 9, rep("dropoff", "c1", 9, order="o2"))
    assert r.rejected == [] and courier.status == C.IDLE and sh.delivered == 1


def test_cancel_the_last_order_of_a_courier_going_home() -> None:
    sh, offer = offered(live(), 0)
    at(sh, 1.1, rep("accept", "c1", 1.1, offer=offer.id))
    at(sh, 2, rep("shift_off", "c1", 2))
    r = at(sh, 3, cancel=["o1"])
    assert r.rejected == [] and [e.type for e in r.events if e.entity == "c1"] == ["route_changed", "off_shift"]
    assert sh.courier("c1").status == C.OFF_SHIFT and sh.order("o1").status == S.CANCELLED and sh.offers == {}


def test_cancel_after_pickup_is_refused() -> None:
    sh, offer = offered(live(), 0)
    at(sh, 1.1, rep("accept", "c1", 1.1, offer=offer.id))
    at(sh, 5, rep("pickup", "c1", 5, orders=["o1"]))
    before = state(sh)
    r = at(sh, 6, cancel=["o1", "ghost"])
    assert [x.split(":")[0] for x in r.rejected] == ["o1", "ghost"]
    assert "picked_up" in r.rejected[0]
    assert state(sh) == before and r.events == []
    r = at(sh, 7, rep("dropoff", "c1", 7, order="o1"))
    assert sh.order("o1").status == S.DELIVERED


# -- 6. bad reports ---------------------------------------------------------------------------------
def test_bad_reports_are_rejected_and_change_nothing() -> None:
    sh = live(offer_timeout=5)
    at(sh, 0, on("c1", 0), on("c2", 0, FAR), new_stores=stores())
    at(sh, 1, orders=[order("o1"), order("o2", placed=1, ready=18, store_id="s2", door=DOOR2)])
    assert set(sh.offers) == {"c1", "c2"} and sh.offers["c1"].order_ids == ("o1",)
    o1_offer = sh.offers["c1"]
    at(sh, 1.1, rep("accept", "c1", 1.1, offer=o1_offer.id))
    bad = {
        "unknown report kind 'teleport'": rep("teleport", "c1", 2, lat=0, lng=0),
        "numeric lat and lng": rep("position", "c1", 2, lat="north", lng=121.0),
        "numeric lat and lng ": rep("position", "c1", 2),
        "not a position on Earth": rep("position", "c1", 2, lat=95.0, lng=121.0),
        "not a position on Earth ": rep("position", "c1", 2, lat=float("nan"), lng=121.0),
        "is not on shift": rep("position", "ghost", 2, lat=31.0, lng=121.0),
        "no open offer 'c2.999'": rep("accept", "c2", 2, offer="c2.999"),
        "no open offer 'c1.1'": rep("decline", "c1", 2, offer="c1.1"),  # already accepted
        "no accepted pickup of ['o9']": rep("pickup", "c1", 2, orders=["o9"]),
        "no accepted pickup of ['o2'] ": rep("pickup", "c1", 2, orders="o2"),  # another courier's order
        "order id or a list": rep("pickup", "c1", 2, orders=7),
        "does not carry order 'o9'": rep("dropoff", "c1", 2, order="o9"),
        "does not carry order 'o1'": rep("dropoff", "c2", 2, order="o1"),  # another courier's order
        "already on shift": on("c1", 2),
        "at most 24 hours": on("c3", 2, hours=30),
        "at most 24 hours ": on("c3", 2, hours=0),
        "numeric lat and lng  ": rep("shift_on", "c3", 2, lat=None, lng=121.0),
        "hours": on("c3", 2, hours="all day"),
        "capacity": on("c3", 2, capacity="big"),
        "capacity must be at least 1": on("c3", 2, capacity=0),
    }
    before = state(sh)
    r = at(sh, 2, *bad.values())
    assert r.events == [] and state(sh) == before and "c3" not in sh._couriers
    assert len(r.rejected) == len(bad)
    for (needle, report), reason in zip(bad.items(), r.rejected):
        assert reason.startswith(f"{report.entity}: {report.kind}: "), reason
        assert needle.strip() in reason, (needle, reason)
    # and they did not stop the good reports of the same batch
    r = at(sh, 3, rep("teleport", "c2", 3), rep("accept", "c2", 3, offer=sh.offers["c2"].id))
    assert len(r.rejected) == 1 and sh.offers == {} and sh.courier("c2").status == C.TO_STORE


def test_shift_on_twice_and_shift_off_when_off_are_refused() -> None:
    sh = live()
    r = at(sh, 0, on("c1", 0), on("c1", 0))  # a double tap in one batch
    assert len(r.rejected) == 1 and "already on shift" in r.rejected[0]
    assert evs(r, "c1") == [("idle", 0)]
    r = at(sh, 1, on("c1", 1))
    assert len(r.rejected) == 1 and "already on shift" in r.rejected[0] and sh.courier("c1").on_time == 0
    r = at(sh, 2, rep("shift_off", "c1", 2))
    assert r.rejected == [] and evs(r, "c1") == [("off_shift", 2)]
    before = state(sh)
    r = at(sh, 3, rep("shift_off", "c1", 3), rep("shift_off", "ghost", 3))
    assert len(r.rejected) == 2 and "already off shift" in r.rejected[0] and "not on shift" in r.rejected[1]
    assert state(sh) == before and r.events == []


def test_shift_on_then_other_reports_in_the_same_batch() -> None:
    sh = live()
    r = at(sh, 0, on("c1", 0), rep("position", "c1", 0, lat=STORE.lat, lng=STORE.lng), rep("shift_off", "c1", 0))
    assert r.rejected == []
    assert evs(r, "c1") == [("idle", 0), ("off_shift", 0)] and sh.courier("c1").status == C.OFF_SHIFT


# -- 7. shifts ---------------------------------------------------------------------------------------
def test_shift_off_while_carrying_finishes_the_route_first() -> None:
    sh, offer = offered(live(), 0)
    at(sh, 1.1, rep("accept", "c1", 1.1, offer=offer.id))
    at(sh, 5, rep("pickup", "c1", 5, orders=["o1"]))
    courier = sh.courier("c1")
    r = at(sh, 6, rep("shift_off", "c1", 6), orders=[order("o2", placed=6, ready=8)])
    assert r.rejected == []
    ending = event(r, "c1", "shift_ending")
    assert ending.data == {"stops_left": 1}
    assert courier.status == C.DELIVERING and courier.off_time == 6 and courier.onboard == ["o1"]
    assert sh.offers == {} and sh.order("o2").status == S.PREPARING  # no new work for a courier going home
    r = at(sh, 12, rep("dropoff", "c1", 12, order="o1"))
    assert r.rejected == [] and evs(r, "c1") == [("off_shift", 12)]
    assert courier.status == C.OFF_SHIFT and sh.order("o1").status == S.DELIVERED and sh.delivered == 1
    assert "c1" not in sh.positions() and r.idle_couriers == 0
    r = at(sh, 13)
    assert sh.offers == {} and sh.order("o2").courier_id is None


def test_shift_off_while_going_to_the_store_still_picks_up_and_delivers() -> None:
    sh, offer = offered(live(), 0)
    at(sh, 1.1, rep("accept", "c1", 1.1, offer=offer.id))
    r = at(sh, 2, rep("shift_off", "c1", 2))
    assert event(r, "c1", "shift_ending").data == {"stops_left": 2}
    r = at(sh, 5, rep("pickup", "c1", 5, orders=["o1"]))
    assert r.rejected == [] and sh.order("o1").status == S.PICKED_UP
    r = at(sh, 9, rep("dropoff", "c1", 9, order="o1"))
    assert evs(r, "c1") == [("off_shift", 9)]


def test_shift_off_with_an_open_offer_withdraws_it() -> None:
    sh, offer = offered(live(), 0)
    r = at(sh, 1.2, rep("shift_off", "c1", 1.2))
    assert r.rejected == []
    assert event(r, "c1", "offer_withdrawn").data == {"offer": offer.id, "reason": "the courier ended the shift"}
    assert evs(r, "c1")[-1] == ("off_shift", 1.2)
    assert sh.offers == {} and sh.order("o1").status == S.PREPARING and sh.order("o1").courier_id is None
    assert sh.courier("c1").status == C.OFF_SHIFT and list(sh.courier("c1").route) == []


def test_shift_on_again_after_off_is_not_ended_by_the_old_timer() -> None:
    sh = live()
    at(sh, 0, on("c1", 0, hours=1), new_stores=stores())  # would end at 60
    r = at(sh, 10, rep("shift_off", "c1", 10))
    assert evs(r, "c1") == [("off_shift", 10)]
    r = at(sh, 20, on("c1", 20, FAR, hours=2))  # a new shift until 140
    assert r.rejected == [] and evs(r, "c1") == [("idle", 20)]
    courier = sh.courier("c1")
    assert (courier.on_time, courier.off_time, courier.location, courier.position) == (20, 140, FAR, FAR)
    r = at(sh, 60)
    assert r.events == [] and courier.status == C.IDLE  # the first shift's end is stale
    r = at(sh, 61, orders=[order("o1", placed=61, ready=70)])
    assert event(r, "c1", "offered")  # and it works in the new shift
    assert at(sh, 61.1, rep("decline", "c1", 61.1, offer=sh.offers["c1"].id)).rejected == []
    r = at(sh, 140)
    assert ("off_shift", 140) in evs(r, "c1") and courier.status == C.OFF_SHIFT


def test_an_idle_courier_goes_off_shift_when_its_hours_are_up() -> None:
    sh = live()
    r = at(sh, 0, on("c1", 0, hours=0.5, capacity=2), new_stores=stores())
    assert sh.courier("c1").capacity == 2 and sh.courier("c1").off_time == 30
    r = at(sh, 29.9)
    assert r.events == []
    r = at(sh, 30)
    assert evs(r, "c1") == [("off_shift", 30)]


def test_default_shift_length() -> None:
    sh = live(shift_hours=4)
    at(sh, 0, on("c1", 0))
    assert sh.courier("c1").off_time == 240


def test_constructor_refuses_bad_timings() -> None:
    for kw in ({"offer_timeout": 0}, {"decline_cooldown": -1}, {"shift_hours": 0}):
        with pytest.raises(ValueError):
            live(**kw)


# -- 8. what the live service shows ------------------------------------------------------------------
def test_etas_follow_the_route_from_the_pinged_position_and_zone_stats() -> None:
    sh = live()
    at(sh, 0, on("c1", 0), on("c2", 0, FAR), new_stores=stores())
    at(sh, 1, orders=[order("o1", placed=1, ready=3)])
    assert set(sh.offers) == {"c1"}
    assert sh.courier_orders("c1") == ["o1"] and sh.offered_orders("c1") == ["o1"]  # on its route, not yet its own
    at(sh, 1.1, rep("accept", "c1", 1.1, offer=sh.offers["c1"].id))
    assert sh.offered_orders("c1") == [] and sh.offered_orders("nobody") == []
    # o2 is only due later (ready at 60, release lead 20): open; c2 stays idle
    at(sh, 2, orders=[order("o2", placed=2, ready=60, door=DOOR2)])
    mid = Location((HOME.lat + STORE.lat) / 2, (HOME.lng + STORE.lng) / 2)
    r = at(sh, 5, rep("position", "c1", 5, lat=mid.lat, lng=mid.lng))
    assert r.rejected == [] and evs(r, "c1") == [] and evs(r, "o1") == [("food_ready", 3)]
    assert sh.courier("c1").position == mid and sh.positions()["c1"] == mid

    etas = sh.etas(5)
    _, _, _, drop = planned(mid, 5, 3)
    assert etas["o1"] == pytest.approx(drop)
    assert drop < planned(HOME, 5, 3)[3] - 1  # nearer the store than where it started
    direct = 60 + HALF_P + HALF_P + TRAVEL.minutes(STORE, DOOR2, 60 + HALF_P) + HALF_D
    assert etas["o2"] == pytest.approx(direct)
    assert set(etas) == {"o1", "o2"}

    stats = sh.zone_stats(5)
    store_cell, far_cell = f"{zone_of(STORE, 8):x}", f"{zone_of(FAR, 8):x}"
    assert stats == {
        store_cell: {"open_orders": 1, "idle_couriers": 0, "eta_minutes": round(direct - 5, 1)},
        far_cell: {"open_orders": 0, "idle_couriers": 1, "eta_minutes": None},
    }
    assert list(stats) == sorted(stats, key=lambda h: int(h, 16))
    assert sh.zone_stats(5, res=7) == {
        f"{zone_of(STORE, 7):x}": {"open_orders": 1, "idle_couriers": 0, "eta_minutes": round(direct - 5, 1)},
        f"{zone_of(FAR, 7):x}": {"open_orders": 0, "idle_couriers": 1, "eta_minutes": None},
    }
    assert sh.courier_orders("c1") == ["o1"] and sh.courier_orders("c2") == [] and sh.courier_orders("nobody") == []

    # after the pickup the ETA runs from the store; after the drop-off the order has none
    at(sh, 9, rep("pickup", "c1", 9, orders=["o1"]))
    assert sh.courier("c1").position == STORE  # a pickup says where the courier is
    t = 9.5
    assert sh.etas(t)["o1"] == pytest.approx(t + TRAVEL.minutes(STORE, DOOR, t) + HALF_D)
    assert sh.courier_orders("c1") == ["o1"]
    at(sh, 20, rep("dropoff", "c1", 20, order="o1"))
    assert "o1" not in sh.etas(20)


def test_eta_of_an_order_in_a_pending_offer_and_a_two_drop_route() -> None:
    sh = live(BundleTwo())
    at(sh, 0, on("c1", 0), new_stores=stores())
    at(sh, 1, orders=[order("o1", ready=3), order("o2", ready=5, door=DOOR2)])
    etas = sh.etas(1)
    arrive = 1 + TRAVEL.minutes(HOME, STORE, 1)
    pickup = max(arrive + HALF_P, 5)
    d1 = pickup + HALF_P + TRAVEL.minutes(STORE, DOOR, pickup + HALF_P) + HALF_D
    d2 = d1 + HALF_D + TRAVEL.minutes(DOOR, DOOR2, d1 + HALF_D) + HALF_D
    assert (etas["o1"], etas["o2"]) == (pytest.approx(d1), pytest.approx(d2))
    assert sh.courier_orders("c1") == ["o1", "o2"] and sh.offered_orders("c1") == ["o1", "o2"]


# -- 9. persistence ------------------------------------------------------------------------------------
def _script() -> dict[float, StepInput]:
    return {
        0.0: StepInput(0, stores=stores(), reports=[on("c1", 0), on("c2", 0, FAR)]),
        1.0: StepInput(1, orders=[order("o1"), order("o2", placed=1, ready=12, store_id="s2", door=DOOR2)]),
        # o2 (ready first) goes to c1, the nearer; o1 to c2
        1.2: StepInput(1.2, reports=[rep("accept", "c1", 1.2, offer="c1.1")]),
        # snapshot here: c1 on its way, c2's offer unanswered
        1.4: StepInput(1.4, reports=[rep("accept", "c2", 1.4, offer="c2.2")]),
        6.0: StepInput(6, reports=[rep("pickup", "c1", 6, orders=["o2"]), rep("position", "c2", 6, lat=STORE.lat, lng=STORE.lng)]),
        12.0: StepInput(12, reports=[rep("pickup", "c2", 12, orders="o1")]),
        15.0: StepInput(15, reports=[rep("dropoff", "c1", 15, order="o2")]),
        22.0: StepInput(22, reports=[rep("dropoff", "c2", 22, order="o1")]),
    }


def test_snapshot_restore_mid_route_keeps_offers_and_routes() -> None:
    early, late = [0.0, 1.0, 1.2], [1.4, 6.0, 12.0, 15.0, 22.0]
    unbroken = live()
    script = _script()
    for t in early:
        assert unbroken.step(script[t]).rejected == []
    assert set(unbroken.offers) == {"c2"} and unbroken.courier("c1").status == C.TO_STORE
    assert unbroken.courier_orders("c1") == ["o2"] and unbroken.offers["c2"].order_ids == ("o1",)
    expected = [unbroken.step(script[t]) for t in late]

    broken = live()
    script = _script()
    for t in early:
        broken.step(script[t])
    blob = broken.snapshot()
    restored = RegionShard.restore(blob)
    assert isinstance(restored, LiveRegionShard) and restored is not broken
    assert restored.offers == broken.offers and restored.offers["c2"].id == "c2.2"
    assert {c.id: list(c.route) for c in restored._couriers.values()} == {c.id: list(c.route) for c in broken._couriers.values()}
    assert restored.courier("c1").status == C.TO_STORE and restored.resting == broken.resting
    assert (restored.offer_timeout, restored.decline_cooldown, restored.auto_accept) == (0.5, 1.0, True)
    del broken
    got = [restored.step(script[t]) for t in late]
    assert got == expected
    assert all(r.rejected == [] for r in got)
    assert restored.delivered == 2 and restored.order_records() == unbroken.order_records()
    assert restored._offer_no == unbroken._offer_no


def test_snapshot_keeps_an_offer_that_then_expires() -> None:
    sh, offer = offered(live(), 0)
    restored = LiveRegionShard.restore(sh.snapshot())
    r = restored.step(StepInput(2))
    assert event(r, "c1", "offer_withdrawn").data["reason"] == "no answer in time"
    assert sh.offers == {"c1": offer}  # the original is untouched


# -- 10. positions -----------------------------------------------------------------------------------
def test_position_pings_move_an_idle_courier_and_the_policy_measures_from_there() -> None:
    sh = live()
    at(sh, 0, on("c1", 0, STORE), on("c2", 0, FAR), new_stores=stores())
    # c1 was at the store, but it rode away; c2 came close
    r = at(sh, 1, rep("position", "c1", 1, lat=FAR.lat, lng=FAR.lng), rep("position", "c2", 1, lat=STORE.lat, lng=STORE.lng))
    assert r.rejected == [] and r.events == []
    assert (sh.courier("c1").location, sh.courier("c2").location) == (FAR, STORE)
    assert sh.positions() == {"c1": FAR, "c2": STORE}
    r = at(sh, 2, orders=[order("o1", placed=2, ready=10)])
    assert set(sh.offers) == {"c2"}
    assert sh.offers["c2"].stops[0].arrive == 2  # already at the store
    # and a ping while carrying is where the ETA starts from, without touching the route
    at(sh, 2.1, rep("accept", "c2", 2.1, offer=sh.offers["c2"].id))
    route = list(sh.courier("c2").route)
    at(sh, 3, rep("position", "c2", 3, lat=HOME.lat, lng=HOME.lng))
    assert list(sh.courier("c2").route) == route and sh.courier("c2").position == HOME


def test_courier_capacity_from_shift_on_limits_the_bag() -> None:
    sh = live(BundleTwo())
    at(sh, 0, on("c1", 0, capacity=1), new_stores=stores())
    r = at(sh, 1, orders=[order("o1"), order("o2")])
    assert sh.offers == {} and len(r.rejected) == 1 and "at most 1" in r.rejected[0]


# -- 7. verdicts and reports that prove the steps before them -------------------------------------
def verdicts(result: StepResult) -> list[dict]:
    return [e.data for e in result.events if e.type == "verdict"]


def test_a_report_with_a_ref_is_applied_once_and_its_verdict_repeated() -> None:
    sh, offer = offered(live(), 0)
    accept = Report("accept", "c1", 1.1, {"offer": offer.id}, ref="r1")
    r = at(sh, 1.1, accept)
    assert verdicts(r) == [{"ref": "r1", "kind": "accept", "ok": True}]
    pickup = Report("pickup", "c1", 5, {"orders": ["o1"]}, ref="r2")
    at(sh, 5, pickup)
    before = state(sh)
    r = at(sh, 6, Report("accept", "c1", 6, {"offer": offer.id}, ref="r1"), Report("pickup", "c1", 6, {"orders": ["o1"]}, ref="r2"))
    assert state(sh) == before and r.rejected == []  # sent again after a reconnect: nothing happens twice
    assert verdicts(r) == [{"ref": "r1", "kind": "accept", "ok": True, "repeated": True},
                           {"ref": "r2", "kind": "pickup", "ok": True, "repeated": True}]
    r = at(sh, 7, Report("dropoff", "c1", 7, {"order": "o9"}, ref="r3"))
    [v] = verdicts(r)
    assert v["ref"] == "r3" and v["ok"] is False and "does not carry order 'o9'" in v["detail"]
    r = at(sh, 8, Report("dropoff", "c1", 8, {"order": "o1"}, ref="r4"), Report("dropoff", "c1", 8, {"order": "o1"}, ref="r4"))
    assert sh.order("o1").status == S.DELIVERED and sh.delivered == 1
    assert [v["ok"] for v in verdicts(r)] == [True, True] and verdicts(r)[1].get("repeated")


def test_a_dropoff_whose_pickup_and_acceptance_went_missing_is_both() -> None:
    """The app has the food at the door; the reports before it were lost (a Redis that forgot its last second)."""
    sh, offer = offered(live(offer_timeout=5), 0)
    r = at(sh, 3, Report("dropoff", "c1", 3, {"order": "o1"}, ref="d1"))
    assert verdicts(r) == [{"ref": "d1", "kind": "dropoff", "ok": True}]
    order = sh.order("o1")
    assert order.status == S.DELIVERED and order.courier_id == "c1" and order.picked_up_at == 3
    assert event(r, "c1", "offer_accepted") and sh.offers == {} and not sh.courier("c1").route
    assert sh.courier("c1").status == C.IDLE


def test_a_pickup_of_an_offered_order_accepts_the_offer() -> None:
    sh, offer = offered(live(offer_timeout=5), 0)
    r = at(sh, 2, rep("pickup", "c1", 2, orders=["o1"]))
    assert r.rejected == [] and sh.offers == {} and sh.order("o1").status == S.PICKED_UP
    accepted = event(r, "c1", "offer_accepted")
    assert accepted and accepted.data["implied_by"] == "pickup"


class OfferO2ToC1(BasePolicy):
    """Offers o2 to c1 on top of what c1 already carries, once o2 is open."""

    name = "offer-o2"

    def on_tick(self, now, view):
        if any(o.id == "o2" for o in view.open_orders()) and any(c.id == "c1" for c in view.couriers()):
            return [Assignment.bundle("c1", ["o2"])]
        return []


def test_the_route_after_a_pickup_names_the_carried_door_and_leaves_out_an_offer_not_yet_answered() -> None:
    sh = live(OfferO2ToC1())
    at(sh, 0, on("c1", 0), new_stores=stores())
    sh.policy = GreedyPolicy()
    at(sh, 1, orders=[order()])
    at(sh, 1.2, rep("accept", "c1", 1.2, offer="c1.1"))
    sh.policy = OfferO2ToC1()
    r = at(sh, 2, orders=[order("o2", placed=2, ready=20, store_id="s2", door=DOOR2)])
    assert event(r, "c1", "offered").data["orders"] == ["o2"] and "c1" in sh.offers
    r = at(sh, 2.3, rep("pickup", "c1", 2.3, orders=["o1"]))  # before the offer of o2 expires (at 2.5)
    assert r.rejected == [] and "c1" in sh.offers
    stops = event(r, "c1", "route_changed").data["stops"]
    assert [(s["kind"], s["orders"], s["exact"], s["lat"]) for s in stops] == [("dropoff", ["o1"], True, DOOR.lat)]
    assert {o for s in sh.courier("c1").route for o in s.order_ids} == {"o1", "o2"}, "the offer's stops are still on the route, tentatively"
