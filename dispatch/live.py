"""A region shard driven by real couriers and stores instead of a simulated clock of routes.

The simulator's ``RegionShard`` realises every leg, pickup and drop-off at its planned minute. Live,
those are facts that arrive from people: a courier's app accepts or declines an offer, streams its
position, confirms a pickup, and confirms a drop-off (with the customer's PIN, checked by the API);
a store accepts an order and says when the food is ready. ``LiveRegionShard`` is the same shard
with those facts as ``Report`` inputs, so the dispatcher and policies are the very code that the
simulator measures. What changes:

- a policy's assignment becomes an **offer** to the courier; until it is answered the courier is
  hidden from the policy; a decline, or no answer within ``offer_timeout`` minutes, puts the
  orders back in the pool and rests the courier for ``decline_cooldown`` minutes;
- positions come from pings (no movement is simulated); a courier idle where another region
  serves (its trip ended across the border), or lent to a region whose orders wait with no
  courier (``dispatch.borrowing``), is handed over as in the simulator, but as a ``Handover``
  message in the ``outbox`` that the host appends to the other region's stream. The shard keeps
  the courier's forwarding address, so a report that was on its way here when the courier left
  follows it (``Forward``), and a handover read twice is taken once;
- with ``auto_accept`` off, an order waits for its store's ``store_accept`` before dispatch;
- an order already given to a courier can still be cancelled until it is picked up: its stops
  leave the courier's route, and the courier hears of it;
- a policy's reposition (``dispatch.reposition``: move an idle courier toward forecast demand) is
  a ``reposition`` suggestion to the courier, who stays free for work on the way;
- every courier report that carries a ``ref`` gets a **verdict** (a ``verdict`` event: applied or
  refused, with the reason), and a report sent again with a ref already judged is not applied
  again: its verdict is repeated. That is what makes the courier protocol exactly-once across
  reconnects (the app re-sends what has no verdict yet; ``docs/durability.md``);
- a report proves the steps before it: a drop-off of an order whose pickup this shard never heard
  is its pickup too, and a pickup of an offered order is the offer's acceptance. The app has the
  food in hand whatever report went missing, so the shard catches up instead of refusing.
"""
from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict, deque
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from statistics import fmean

from dispatch.courier import Courier, CourierStatus, Stop
from dispatch.errors import DomainError, InvalidInput
from dispatch.events import Event
from dispatch.geo import Location
from dispatch.order import Order, OrderStatus
from dispatch.policy import Assignment, DispatchPolicy
from dispatch.region import _READY, _SHIFT_END, Handover, RegionShard, Report
from dispatch.rules import ServiceRules
from dispatch.travel import TravelModel
from dispatch.zones import REGION_RES, cell_center, cell_str, zone_of

C = CourierStatus
VERDICTS_KEPT = 200  # per courier: far more than an app has unanswered across a reconnect
HANDOVERS_KEPT = 1000  # handover ids remembered: a copy arrives right after its original, or on a replay
STORE_REPORTS = frozenset({"store_accept", "store_ready"})
OPS_REPORTS = frozenset({"ops_reassign", "ops_move_stops", "ops_off_shift"})  # a dispatcher's, from ``ops:<user>``


@dataclass(frozen=True, slots=True)
class Offer:
    """Stops offered to a courier; they are on its route, tentatively, until it answers."""

    id: str
    courier_id: str
    order_ids: tuple[str, ...]
    stops: tuple[Stop, ...]
    made_at: float
    expires: float


@dataclass(frozen=True, slots=True)
class Forward:
    """A report for a courier that has moved on: it goes to the courier's region now."""

    target: int
    report: Report


Outgoing = Handover | Forward


DOOR_RES = 9  # H3 resolution of a drop-off shown before pickup: a cell of about 0.1 km2, the street and not the door


def stop_dict(stop: Stop, onboard: Collection[str] = ()) -> dict[str, object]:
    """A stop as the courier app sees it (JSON-ready).

    A drop-off whose food the courier does not carry yet shows its H3 cell (``cell``; ``lat``, ``lng`` of
    the cell's centre; ``exact`` false), not the door: a courier may decline an offer, and the customer's
    address is its business only once it has the order (the ``route_changed`` after the pickup names the
    door). Pickups, and drop-offs of orders in ``onboard``, are exact.
    """
    where = stop.location
    out: dict[str, object] = {"kind": stop.kind, "node": stop.node}
    if stop.kind == "dropoff":
        cell = zone_of(where, DOOR_RES)
        exact = all(o in onboard for o in stop.order_ids)
        if not exact:
            where = cell_center(cell)
        out.update(cell=cell_str(cell), exact=exact)
    out.update(lat=where.lat, lng=where.lng, orders=list(stop.order_ids), arrive=stop.arrive, at=stop.at, depart=stop.depart)
    return out


class LiveRegionShard(RegionShard):
    """See the module docstring."""

    def __init__(
        self,
        region: int,
        policy: DispatchPolicy,
        travel: TravelModel,
        rules: ServiceRules,
        region_res: int = REGION_RES,
        served_regions: frozenset[int] = frozenset(),
        auto_accept: bool = True,
        offer_timeout: float = 0.5,
        decline_cooldown: float = 1.0,
        shift_hours: float = 8.0,
        borrow_lead: float = 10.0,
    ) -> None:
        super().__init__(region, policy, travel, rules, region_res, served_regions, auto_accept=auto_accept)
        self.borrow_lead = borrow_lead
        if offer_timeout <= 0 or decline_cooldown < 0 or shift_hours <= 0:
            raise ValueError("offer_timeout and shift_hours must be positive, decline_cooldown non-negative")
        self.offer_timeout = offer_timeout
        self.decline_cooldown = decline_cooldown
        self.shift_hours = shift_hours
        self.offers: dict[str, Offer] = {}  # courier id -> its unanswered offer
        self.resting: dict[str, float] = {}  # courier id -> when it may be offered work again
        self.awaiting_store: dict[str, Order] = {}
        self._offer_no = 0
        self.verdicts: dict[str, OrderedDict[str, dict[str, object]]] = {}  # entity -> ref -> verdict
        self.moved_to: dict[str, int] = {}  # courier id -> the region it was handed to (its forwarding address)
        self.heading: dict[str, str] = {}  # courier id -> the H3 cell it was asked to move to (a reposition)
        self.handovers_taken: OrderedDict[str, None] = OrderedDict()
        self.outbox: list[Outgoing] = []  # what the host must send to other regions after this step

    def __setstate__(self, state: dict[str, object]) -> None:
        """A snapshot from before cross-region handovers restores with none under way."""
        state.setdefault("moved_to", {})
        state.setdefault("handovers_taken", OrderedDict())
        state.setdefault("outbox", [])
        state.setdefault("borrow_lead", 10.0)
        state.setdefault("heading", {})
        self.__dict__.update(state)

    # -- what the policy sees ----------------------------------------------------------------
    def couriers(self) -> Sequence[Courier]:
        """Couriers that may be given work: none with an unanswered offer or resting after a decline."""
        now = self.now
        return [
            c for c in self._couriers.values()
            if c.id not in self.offers and self.resting.get(c.id, float("-inf")) <= now
        ]

    def courier(self, courier_id: str) -> Courier:
        try:
            return self._couriers[courier_id]
        except KeyError:
            raise InvalidInput(f"courier {courier_id} is not on shift in region {self.region:x}") from None

    # -- orders ------------------------------------------------------------------------------
    def _receive_order(self, order: Order, now: float) -> None:
        store = self.stores.get(order.store_id)
        if self.auto_accept or order.status != OrderStatus.PLACED or store is None or not store.takes_orders:
            super()._receive_order(order, now)  # which also refuses an unknown store, fails a closed one's
            return
        if order.id in self.orders:
            raise InvalidInput(f"order {order.id} is already in region {self.region}")
        order.pay(order.placed_at)
        self.orders[order.id] = order
        self.awaiting_store[order.id] = order
        self._events.extend(order.history)

    def _cancel(self, order_id: str, now: float) -> None:
        order = self.orders[order_id]
        if order.status == OrderStatus.ASSIGNED and order.courier_id is not None:
            courier = self._couriers[order.courier_id]
            offer = self.offers.get(courier.id)
            if offer is not None and order_id in offer.order_ids:
                self._withdraw(offer, now, "an order of the offer was cancelled", rest=False)
            else:
                self._unroute(courier, order, now, "cancelled", "cancelled by the customer")
        if order_id in self.awaiting_store:
            del self.awaiting_store[order_id]
            self._open[order_id] = order  # so the base class closes it like any open order
        super()._cancel(order_id, now)

    # -- decisions become offers -------------------------------------------------------------
    def _reposition(self, courier: Courier, decision: Assignment, now: float) -> None:
        """A move toward forecast demand (``dispatch.reposition``) is a suggestion to the courier: it stays
        free for work on the way, its pings say where it is, and once idle in another region it is
        handed over there (reason ``reposition``), as any courier whose trip ends across the border."""
        if len(decision.stops) != 1 or decision.stops[0][0] != "reposition":
            raise InvalidInput(f"a reposition of courier {courier.id} is one stop and nothing else")
        if courier.status != C.IDLE or courier.route or courier.onboard or now >= courier.off_time:
            raise InvalidInput(f"courier {courier.id} is not idle and empty on shift: it cannot be repositioned")
        cell = decision.stops[0][1]
        try:
            centre = cell_center(int(cell, 16))
        except ValueError:
            raise InvalidInput(f"{cell!r} is not an H3 cell") from None
        if self.heading.get(courier.id) == cell:
            return  # told already, and on its way
        self.heading[courier.id] = cell
        self._events.append(self._courier_event(courier, "reposition", now, cell=cell, lat=centre.lat, lng=centre.lng))

    def _schedule(self, courier: Courier, stops: list[Stop], now: float) -> None:
        self.heading.pop(courier.id, None)  # work comes before a reposition
        self._offer_no += 1
        offer = Offer(
            f"{courier.id}.{self._offer_no}", courier.id,
            tuple(o for s in stops if s.kind == "pickup" for o in s.order_ids), tuple(stops),
            now, now + self.offer_timeout,
        )
        courier.route.extend(stops)
        courier.free_at = stops[-1].depart
        self.offers[courier.id] = offer
        self._events.append(self._courier_event(
            courier, "offered", now, offer=offer.id, orders=list(offer.order_ids),
            stops=[stop_dict(s) for s in stops], expires=offer.expires,
        ))

    def _withdraw(self, offer: Offer, now: float, reason: str, rest: bool = True) -> None:
        """An offer declined or unanswered: its orders go back to the pool, the courier rests.

        ``rest=False`` when it is no fault of the courier's (the customer cancelled).
        """
        courier = self._couriers[offer.courier_id]
        del self.offers[courier.id]
        self._drop_from_route(courier, set(offer.order_ids), now)
        if rest:
            self.resting[courier.id] = now + self.decline_cooldown
        self._events.append(self._courier_event(courier, "offer_withdrawn", now, offer=offer.id, reason=reason))
        for order_id in offer.order_ids:
            order = self.orders[order_id]
            if order.status == OrderStatus.ASSIGNED:
                self._events.append(order.unassign(now, reason=reason))
                self._open[order_id] = order
                self.policy.on_order(order, now)

    def _drop_from_route(self, courier: Courier, order_ids: set[str], now: float) -> None:
        kept: deque[Stop] = deque()
        for stop in courier.route:
            left = tuple(o for o in stop.order_ids if o not in order_ids)
            if left:
                kept.append(stop if left == stop.order_ids else dataclasses.replace(stop, order_ids=left))
        courier.route = kept
        courier.free_at = kept[-1].depart if kept else max(now, courier.on_time)

    def _call_off_trip(self, courier: Courier, now: float, reason: str) -> None:
        """A courier on its way to a store has nothing left to fetch: free again (or off shift).

        The courier state machine has no to_store -> idle move, so the change is made here.
        """
        courier.status = C.IDLE if now < courier.off_time else C.OFF_SHIFT
        event = Event(str(courier.status), now, courier.id, "dispatcher", {"reason": reason})
        courier.history.append(event)
        self._events.append(event)
        self.policy.on_courier(courier, now)

    def _unroute(self, courier: Courier, order: Order, now: float, what: str, unassign_reason: str) -> None:
        """An accepted order not picked up leaves its courier's route (which hears ``route_changed``: "order <id>
        <what>") and is open again; a courier left riding to a store for nothing is called off."""
        self._drop_from_route(courier, {order.id}, now)
        self._events.append(self._courier_event(courier, "route_changed", now, reason=f"order {order.id} {what}",
                                                stops=self._route_stops(courier)))
        self._events.append(order.unassign(now, reason=unassign_reason))
        self._open[order.id] = order
        if not courier.route and not courier.onboard and courier.status == C.TO_STORE:
            self._call_off_trip(courier, now, f"order {order.id} {what}")

    def _route_stops(self, courier: Courier) -> list[dict[str, object]]:
        """The courier's stops for a ``route_changed``: its accepted work, not an offer it may still decline."""
        offer = self.offers.get(courier.id)
        offered = set(offer.stops) if offer is not None else set()
        return [stop_dict(s, courier.onboard) for s in courier.route if s not in offered]

    def _courier_event(self, courier: Courier, kind: str, now: float, **data: object) -> Event:
        event = Event(kind, now, courier.id, "dispatcher", dict(data))
        courier.history.append(event)
        return event

    # -- time --------------------------------------------------------------------------------
    def _advance(self, now: float) -> None:
        super()._advance(now)
        for offer in [o for o in self.offers.values() if o.expires <= now]:
            self._withdraw(offer, now, "no answer in time")

    def _move_couriers(self, now: float) -> None:
        """Live couriers move in the world; their pings say where."""

    # -- couriers between regions -----------------------------------------------------------
    def _waiting(self, now: float) -> int:
        """Live, a region does not wait for food to go cold before it borrows: orders whose food is ready
        within ``borrow_lead`` minutes beyond the couriers it has free count too, as a courier from next
        door needs that long to come (the simulator's rule alone would starve a region with none)."""
        soon = sum(1 for o in self._open.values() if max(o.ready_at, o.window.earliest - 30.0) <= now + self.borrow_lead)
        free = sum(1 for c in self.couriers() if c.status == C.IDLE and not c.route and now < c.off_time)
        return max(super()._waiting(now), soon - free)

    def take_outbox(self) -> list[Outgoing]:
        """What the last step sends to other regions (the host appends it to their streams)."""
        out, self.outbox = self.outbox, []
        return out

    def _release(self, courier: Courier, target: int, reason: str = "trip_end") -> Courier:
        if self.heading.pop(courier.id, None) is not None and reason == "trip_end":
            reason = "reposition"
        super()._release(courier, target, reason)
        self.resting.pop(courier.id, None)
        verdicts = self.verdicts.pop(courier.id, OrderedDict())
        self.moved_to[courier.id] = target
        handover = Handover(f"{self.region:x}.{self.step_no + 1}.{courier.id}", courier, self.region, target, reason,
                            tuple(verdicts.items()))
        self.outbox.append(handover)
        return courier

    def _take_handover(self, handover: Handover, now: float) -> None:
        if handover.id in self.handovers_taken:
            return  # a copy: the donor's host sent it again after a crash
        courier = handover.courier
        if courier.id in self._couriers:
            raise InvalidInput(f"courier {courier.id} is already in region {self.region:x}")
        self._receive_courier(courier, now)
        self.moved_to.pop(courier.id, None)
        if handover.verdicts:
            self.verdicts[courier.id] = OrderedDict(handover.verdicts)
        self.handovers_taken[handover.id] = None
        while len(self.handovers_taken) > HANDOVERS_KEPT:
            self.handovers_taken.popitem(last=False)

    # -- reports -----------------------------------------------------------------------------
    def _report(self, report: Report, now: float) -> None:
        """Apply a report once per ``ref`` and say what came of it (see the module docstring)."""
        if report.kind not in STORE_REPORTS | OPS_REPORTS and report.entity not in self._couriers and report.entity in self.moved_to:
            self.outbox.append(Forward(self.moved_to[report.entity], report))  # judged where the courier is now
            return
        handler = _HANDLERS.get(report.kind)
        if report.ref is None:
            if handler is None:
                raise InvalidInput(f"unknown report kind {report.kind!r}")
            handler(self, report, now)
            return
        judged = self.verdicts.setdefault(report.entity, OrderedDict())
        earlier = judged.get(report.ref)
        if earlier is not None:
            self._verdict(report.entity, now, {**earlier, "repeated": True})
            return
        verdict: dict[str, object] = {"ref": report.ref, "kind": report.kind, "ok": True}
        try:
            if handler is None:
                raise InvalidInput(f"unknown report kind {report.kind!r}")
            handler(self, report, now)
        except (DomainError, KeyError) as exc:
            verdict.update(ok=False, detail=str(exc))
        judged[report.ref] = verdict
        while len(judged) > VERDICTS_KEPT:
            judged.popitem(last=False)
        self._verdict(report.entity, now, verdict)

    def _verdict(self, entity: str, now: float, verdict: dict[str, object]) -> None:
        """To the reporter only: not part of the courier's history, which is what happened to it."""
        self._events.append(Event("verdict", now, entity, "dispatcher", dict(verdict)))

    def _shift_on(self, report: Report, now: float) -> None:
        where = _location(report.data)
        hours = _number(report.data, "hours", self.shift_hours)
        if not 0 < hours <= 24:
            raise InvalidInput(f"a shift lasts more than 0 and at most 24 hours, not {hours}")
        courier = self._couriers.get(report.entity)
        if courier is None:
            capacity = int(_number(report.data, "capacity", 4))
            courier = Courier(report.entity, where, now, now + hours * 60, capacity)
            # on shift at once, not by a queued start, so later reports of the same batch see it so
            self._events.append(courier.start_shift(now))
            self._receive_courier(courier, now)
            return
        if courier.status != C.OFF_SHIFT:
            raise InvalidInput(f"courier {courier.id} is already on shift")
        courier.on_time, courier.off_time = now, now + hours * 60
        courier.location = courier.position = where
        courier.free_at = now
        self._events.append(courier.start_shift(now))
        self._push(courier.off_time, _SHIFT_END, "shift_end", courier.id)
        self.policy.on_courier(courier, now)

    def _shift_off(self, report: Report, now: float) -> None:
        courier = self.courier(report.entity)
        if courier.status == C.OFF_SHIFT:
            raise InvalidInput(f"courier {courier.id} is already off shift")
        offer = self.offers.get(courier.id)
        if offer is not None:
            self._withdraw(offer, now, "the courier ended the shift")
        courier.off_time = max(courier.on_time + 1e-6, now)
        if not courier.route and not courier.onboard:
            self._events.append(courier.end_shift(now))
            self.policy.on_courier(courier, now)
        else:  # the rest of the route is done first; it then goes off shift by itself
            self._events.append(self._courier_event(courier, "shift_ending", now, stops_left=len(courier.route)))

    # -- a dispatcher's hand ------------------------------------------------------------------
    def _uncommitted(self, courier: Courier) -> list[str]:
        """Orders on the courier's route it has not picked up, in route order (an open offer's last)."""
        offer = self.offers.get(courier.id)
        offered = set(offer.order_ids) if offer is not None else set()
        out = [o for s in courier.route if s.kind == "pickup" for o in s.order_ids if o not in offered]
        return out + [o for o in (offer.order_ids if offer is not None else ()) if o not in out]

    def _take_back(self, order_ids: Sequence[str], now: float, reason: str) -> None:
        """Orders not picked up leave their couriers (an offer is withdrawn; an accepted stop leaves the route,
        and the courier hears ``route_changed``) and are open again, as a cancellation does it."""
        for order_id in order_ids:
            order = self.orders[order_id]
            if order.status != OrderStatus.ASSIGNED or order.courier_id is None:
                continue
            courier = self._couriers[order.courier_id]
            offer = self.offers.get(courier.id)
            if offer is not None and order_id in offer.order_ids:
                self._withdraw(offer, now, reason, rest=False)
                continue
            self._unroute(courier, order, now, reason, reason)
            self.policy.on_order(order, now)

    def _ops_reassign(self, report: Report, now: float) -> None:
        """A dispatcher gives orders not yet picked up to courier ``to``, in the order given, as one offer.

        All of it or nothing: every order must be here and not picked up, the courier on shift here with
        no offer of its own waiting and room for them. The orders leave whoever had them first (that
        courier hears ``route_changed`` or ``offer_withdrawn``); the new courier gets an ``offer``.
        """
        order_ids = list(dict.fromkeys(_ids(report.data.get("orders"))))
        self._reassign(order_ids, str(report.data.get("to", "")), now, "reassigned by the dispatcher")

    def _ops_move_stops(self, report: Report, now: float) -> None:
        """All of courier ``from``'s stops not yet picked up go to courier ``to``, keeping their order."""
        source = self.courier(str(report.data.get("from", "")))
        order_ids = self._uncommitted(source)
        if not order_ids:
            raise InvalidInput(f"courier {source.id} has no stop left that is not picked up")
        self._reassign(order_ids, str(report.data.get("to", "")), now, f"moved from {source.id} by the dispatcher")

    def _ops_off_shift(self, report: Report, now: float) -> None:
        """A dispatcher takes a courier off shift (a sick courier, a broken bike): what it has not picked up
        goes back to the pool; what it carries it still delivers, then it is off shift."""
        courier = self.courier(str(report.data.get("courier", "")))
        if courier.status == C.OFF_SHIFT:
            raise InvalidInput(f"courier {courier.id} is already off shift")
        self._take_back(self._uncommitted(courier), now, "taken off its courier by the dispatcher")
        self._shift_off(Report("shift_off", courier.id, now, {}), now)

    def _reassign(self, order_ids: list[str], target_id: str, now: float, reason: str) -> None:
        if not order_ids:
            raise InvalidInput("name at least one order")
        target = self.courier(target_id)
        if now >= target.off_time or target.status == C.OFF_SHIFT:
            raise InvalidInput(f"courier {target.id} is off shift")
        if target.id in self.offers:
            raise InvalidInput(f"courier {target.id} has an offer to answer first")
        for order_id in order_ids:
            order = self.orders.get(order_id)
            if order is None:
                raise InvalidInput(f"order {order_id} is not in region {self.region:x}")
            if order.id not in self._open and order.status != OrderStatus.ASSIGNED:
                raise InvalidInput(f"order {order_id} is {order.status}: only an order not yet picked up can be reassigned")
            if order.courier_id == target.id and order.status == OrderStatus.ASSIGNED:
                raise InvalidInput(f"order {order_id} is already courier {target.id}'s")
        pending = sum(len(s.order_ids) for s in target.route if s.kind == "pickup")
        if len(target.onboard) + pending + len(order_ids) > target.capacity:
            raise InvalidInput(f"courier {target.id} carries at most {target.capacity} orders")
        self._take_back(order_ids, now, reason)
        self._apply(Assignment(target.id, tuple(("pickup", o) for o in order_ids) + tuple(("dropoff", o) for o in order_ids)), now)

    def _position(self, report: Report, now: float) -> None:
        courier = self.courier(report.entity)
        courier.location = courier.position = _location(report.data)

    def _answer(self, report: Report, now: float) -> None:
        courier = self.courier(report.entity)
        offer = self.offers.get(courier.id)
        if offer is None or offer.id != report.data.get("offer"):
            raise InvalidInput(f"courier {courier.id} has no open offer {report.data.get('offer')!r}")
        if report.kind == "decline":
            self._withdraw(offer, now, "declined")
            return
        self._accept(courier, offer, now)

    def _accept(self, courier: Courier, offer: Offer, now: float, implied: bool = False) -> None:
        del self.offers[courier.id]
        extra = {"implied_by": "pickup"} if implied else {}
        self._events.append(self._courier_event(courier, "offer_accepted", now, offer=offer.id, **extra))
        if courier.status == C.IDLE and courier.route and courier.route[0].kind == "pickup":
            self._events.append(courier.head_to_store(now, courier.route[0].node))

    def _pickup(self, report: Report, now: float) -> None:
        courier = self.courier(report.entity)
        wanted = set(_ids(report.data.get("orders")))
        offer = self.offers.get(courier.id)
        if offer is not None and wanted & set(offer.order_ids):  # its acceptance went missing: the pickup is one
            self._accept(courier, offer, now, implied=True)
        stop = next((s for s in courier.route if s.kind == "pickup" and wanted & set(s.order_ids)), None)
        if stop is None:
            raise InvalidInput(f"courier {courier.id} has no accepted pickup of {sorted(wanted)}")
        self._pick_up_at(courier, stop, now)

    def _pick_up_at(self, courier: Courier, stop: Stop, now: float) -> None:
        if courier.status in (C.IDLE, C.DELIVERING):
            self._events.append(courier.head_to_store(now, stop.node))
        if courier.status == C.TO_STORE:
            self._events.append(courier.arrive_at_store(now, stop.node))
        for order_id in stop.order_ids:  # the whole stop: the store hands over what it has for it
            order = self.orders[order_id]
            if not order.food_is_ready:  # handed over, so ready by now: early, or its predicted minute not yet realised
                order.ready_at = min(order.ready_at, now)
                self._events.append(order.mark_ready(order.ready_at))
            self._events.append(order.pick_up(courier.id, now))
            courier.onboard.append(order_id)
        courier.serving += self.rules.pickup_service
        courier.route.remove(stop)
        courier.location = courier.position = stop.location  # it is at the store, as a drop-off puts it at the door
        self._events.append(courier.start_delivering(now))
        self._events.append(self._courier_event(  # the doors of what it now carries (``stop_dict``)
            courier, "route_changed", now, reason=f"picked up {', '.join(stop.order_ids)}",
            stops=self._route_stops(courier),
        ))

    def _dropoff(self, report: Report, now: float) -> None:
        courier = self.courier(report.entity)
        order_id = str(report.data.get("order", ""))
        if order_id not in courier.onboard:
            # its pickup went missing (or its acceptance too): the courier is at the door with the food
            offer = self.offers.get(courier.id)
            if offer is not None and order_id in offer.order_ids:
                self._accept(courier, offer, now, implied=True)
            pickup = next((s for s in courier.route if s.kind == "pickup" and order_id in s.order_ids), None)
            if pickup is None:
                raise InvalidInput(f"courier {courier.id} does not carry order {order_id!r}")
            self._pick_up_at(courier, pickup, now)
        stop = next(s for s in courier.route if s.kind == "dropoff" and order_id in s.order_ids)
        self._events.append(self.orders[order_id].deliver(courier.id, now))
        courier.onboard.remove(order_id)
        courier.route.remove(stop)
        courier.serving += self.rules.dropoff_service
        courier.location = courier.position = stop.location
        self.delivered += 1
        if not courier.route:
            courier.free_at = now
            self._events.append(courier.finish_route(now))
            self.policy.on_courier(courier, now)

    def _store_accept(self, report: Report, now: float) -> None:
        order = self._store_order(report)
        if order.id not in self.awaiting_store:
            raise InvalidInput(f"order {order.id} is {order.status}, not waiting for its store")
        if report.data.get("ready_in") is not None:
            ready_in = _number(report.data, "ready_in", 0.0)
            if ready_in < 0:
                raise InvalidInput("ready_in must be non-negative minutes")
            ready_at = max(order.placed_at, now + ready_in)
        else:
            ready_at = max(order.ready_at, now)
        del self.awaiting_store[order.id]  # only once the report is known to be good
        order.ready_at = ready_at
        self._events.append(order.accept(now, report.entity))
        self._events.append(order.start_preparing(now, report.entity))
        self._open[order.id] = order
        self._push(order.ready_at, _READY, "ready", order.id)
        self.policy.on_order(order, now)

    def _store_ready(self, report: Report, now: float) -> None:
        order = self._store_order(report)
        if order.status not in (OrderStatus.PREPARING, OrderStatus.ASSIGNED) or order.food_is_ready:
            raise InvalidInput(f"order {order.id} is {order.status}; it cannot be marked ready now")
        order.ready_at = min(order.ready_at, now)
        self._events.append(order.mark_ready(now, report.entity))

    def _store_order(self, report: Report) -> Order:
        order = self.orders.get(str(report.data.get("order", "")))
        if order is None or order.store_id != report.entity:
            raise InvalidInput(f"store {report.entity} has no order {report.data.get('order')!r}")
        return order

    # -- what the live service shows ---------------------------------------------------------
    def etas(self, now: float) -> dict[str, float]:
        """Expected drop-off minute of every active order: along its courier's route, else direct."""
        return self.route_times(now)[0]

    def route_times(self, now: float) -> tuple[dict[str, float], dict[str, float]]:
        """(``etas``, the minute each order's courier is expected at the store, for orders on a route and not
        picked up yet: what a store's console shows, so the food is ready when the courier walks in)."""
        half_p, half_d = self.rules.pickup_service / 2, self.rules.dropoff_service / 2
        out: dict[str, float] = {}
        at_store: dict[str, float] = {}
        for courier in self._couriers.values():
            t, here = now, courier.position or courier.location
            for stop in courier.route:
                arrive = t + self.travel.minutes(here, stop.location, t)
                if stop.kind == "pickup":
                    at_store.update(dict.fromkeys(stop.order_ids, arrive))
                    at = max(arrive + half_p, max(self.orders[o].ready_at for o in stop.order_ids))
                    t = at + half_p
                else:
                    at = max(arrive + half_d, self.orders[stop.order_ids[0]].window.earliest)
                    out[stop.order_ids[0]] = at
                    t = at + half_d
                here = stop.location
        for order in [*self._open.values(), *self.awaiting_store.values()]:
            store = self.stores[order.store_id].location
            pickup = max(now, order.ready_at) + half_p
            drop = pickup + half_p + self.travel.minutes(store, order.dropoff, pickup) + half_d
            out[order.id] = max(drop, order.window.earliest)
        return out, at_store

    def zone_stats(self, now: float, res: int = 8, etas: dict[str, float] | None = None) -> dict[str, dict[str, float]]:
        """Per H3 cell (hex id): open orders (at their store's cell), idle couriers, mean ETA in minutes."""
        etas = self.etas(now) if etas is None else etas
        cells: dict[int, dict[str, list[float] | int]] = {}

        def cell(loc: Location) -> dict[str, list[float] | int]:
            return cells.setdefault(zone_of(loc, res), {"open": 0, "idle": 0, "eta": []})

        for order in self._open.values():
            entry = cell(self.stores[order.store_id].location)
            entry["open"] += 1  # type: ignore[operator]
            entry["eta"].append(etas.get(order.id, now) - now)  # type: ignore[union-attr]
        for courier in self._couriers.values():
            if courier.status == C.IDLE and not courier.route:
                cell(courier.position or courier.location)["idle"] += 1  # type: ignore[operator]
        return {
            f"{c:x}": {"open_orders": v["open"], "idle_couriers": v["idle"], "eta_minutes": round(fmean(v["eta"]), 1) if v["eta"] else None}  # type: ignore[arg-type]
            for c, v in sorted(cells.items())
        }

    def couriers_on_shift(self) -> list[Courier]:
        return [c for c in self._couriers.values() if c.status != C.OFF_SHIFT]

    def courier_orders(self, courier_id: str) -> list[str]:
        """Orders on a courier's route (offered, accepted or on board)."""
        courier = self._couriers.get(courier_id)
        if courier is None:
            return []
        return list(dict.fromkeys([*courier.onboard, *(o for s in courier.route for o in s.order_ids)]))

    def offered_orders(self, courier_id: str) -> list[str]:
        """The orders of a courier's unanswered offer: on its route, but not yet its to pick up."""
        offer = self.offers.get(courier_id)
        return list(offer.order_ids) if offer is not None else []


def _location(data: dict[str, object]) -> Location:
    try:
        lat, lng = float(data["lat"]), float(data["lng"])  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):
        raise InvalidInput("a position needs numeric lat and lng") from None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise InvalidInput(f"({lat}, {lng}) is not a position on Earth")
    return Location(lat, lng)


def _number(data: dict[str, object], key: str, default: float) -> float:
    value = data.get(key, default)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"{key} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise InvalidInput(f"{key} must be a finite number, not {value!r}")
    return number


def _ids(value: object) -> Iterable[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    raise InvalidInput("orders must be an order id or a list of them")


_HANDLERS = {
    "shift_on": LiveRegionShard._shift_on,
    "shift_off": LiveRegionShard._shift_off,
    "position": LiveRegionShard._position,
    "accept": LiveRegionShard._answer,
    "decline": LiveRegionShard._answer,
    "pickup": LiveRegionShard._pickup,
    "dropoff": LiveRegionShard._dropoff,
    "store_accept": LiveRegionShard._store_accept,
    "store_ready": LiveRegionShard._store_ready,
    "ops_reassign": LiveRegionShard._ops_reassign,
    "ops_move_stops": LiveRegionShard._ops_move_stops,
    "ops_off_shift": LiveRegionShard._ops_off_shift,
}
REPORT_KINDS = frozenset(_HANDLERS)
