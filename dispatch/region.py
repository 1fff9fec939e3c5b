"""A region shard: the stores, couriers and orders of one H3 region, and the region's dispatcher.

Plain Python, so the simulator, the Ray actors (``actors/``) and the tests run the same code. It is
driven by ``step(now, inputs)``: new orders and couriers come in, every timed action up to ``now``
is realised with its exact time (food ready, shift start and end, each leg, pickup and drop-off),
the policy ticks, and its assignments become timed routes. Couriers that end up idle in another
region are handed back to the caller, which moves them to that region's shard. A policy may also
send an idle, empty courier to an H3 cell's centre (a reposition, ``dispatch.reposition``): it is
busy while it moves (a ``move`` flagged ``reposition``) and idle where it arrives (``repositioned``).
"""
from __future__ import annotations

import heapq
import logging
import pickle
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from dispatch.courier import Courier, CourierStatus, Stop
from dispatch.errors import DomainError, InvalidInput
from dispatch.events import Event
from dispatch.geo import Location, haversine_m
from dispatch.order import Order, OrderStatus
from dispatch.policy import Assignment, DispatchPolicy
from dispatch.records import AssignmentRecord, CourierRecord, MoveRecord, OrderRecord
from dispatch.routes import REPOSITION_PREFIX, plan_stops
from dispatch.rules import ServiceRules
from dispatch.store import Store
from dispatch.travel import TravelModel
from dispatch.zones import REGION_RES, cell_center, home_region

log = logging.getLogger(__name__)

# action priorities at equal times: food first, then shifts, then courier moves
_READY, _SHIFT_START, _COURIER, _SHIFT_END = 0, 1, 2, 3


@dataclass(slots=True)
class StepInput:
    """What reaches a shard in one batched call."""

    now: float
    orders: list[Order] = field(default_factory=list)
    couriers: list[Courier] = field(default_factory=list)
    stores: list[Store] = field(default_factory=list)
    cancellations: list[str] = field(default_factory=list)
    lend: dict[int, int] = field(default_factory=dict)  # region -> idle couriers to lend it after this tick
    reports: list[Report] = field(default_factory=list)  # what live couriers and stores said (``dispatch.live``)
    handovers: list[Handover] = field(default_factory=list)  # couriers another live region handed over (``dispatch.live``)


@dataclass(frozen=True, slots=True)
class Report:
    """Something a courier's app or a store said, in time order: realised by a live shard."""

    kind: str  # accept | decline | position | pickup | dropoff | shift_on | shift_off | store_accept | store_ready
    entity: str  # courier id, or store id for a store's report
    time: float
    data: dict[str, object] = field(default_factory=dict)
    ref: str | None = None  # the app's id for it: a report sent again with the same ref is applied once


@dataclass(frozen=True, slots=True)
class Handover:
    """A courier leaving one region's shard for another's, with what the next shard must know of it.

    The simulator moves the ``Courier`` itself between its shards; live, this message crosses the
    regions' input streams, so it carries its own id: a handover read twice is taken once.
    """

    id: str  # "<from region hex>.<step>.<courier id>"
    courier: Courier
    source: int
    target: int
    reason: str  # "loan": lent to a short-handed region; "trip_end": idle where another region serves
    verdicts: tuple[tuple[str, dict[str, object]], ...] = ()  # the courier's judged report refs (``dispatch.live``)


@dataclass(slots=True)
class StepResult:
    region: int
    step: int
    now: float
    events: list[Event]
    handoffs: list[Courier]
    open_orders: int
    active_orders: int  # placed but neither delivered nor closed
    delivered: int
    idle_couriers: int
    busy_couriers: int
    next_action: float | None
    rejected: list[str] = field(default_factory=list)  # inputs refused, with the reason
    waiting: int = 0  # open orders whose food has been ready for ``overdue_after`` minutes and still have no courier


class RegionShard:
    """Hosts a region's entities and runs its dispatcher; see the module docstring."""

    def __init__(
        self,
        region: int,
        policy: DispatchPolicy,
        travel: TravelModel,
        rules: ServiceRules,
        region_res: int = REGION_RES,
        served_regions: frozenset[int] = frozenset(),
        auto_accept: bool = True,
        overdue_after: float = 2.0,
        loan_minutes: float = 30.0,
    ) -> None:
        self.region = region
        self.policy = policy
        self.travel = travel
        self.rules = rules
        self.region_res = region_res
        self.served_regions = served_regions or frozenset({region})
        self.auto_accept = auto_accept
        self.overdue_after = overdue_after
        self.loan_minutes = loan_minutes
        self.stores: dict[str, Store] = {}
        self.orders: dict[str, Order] = {}
        self._couriers: dict[str, Courier] = {}
        self._actions: dict[str, deque[tuple[float, str, Stop | None]]] = {}
        self._heap: list[tuple[float, int, int, str, str]] = []
        self._seq = 0  # tie-breaker of equal-time actions (a plain int pickles on every Python)
        self._open: dict[str, Order] = {}
        self._events: list[Event] = []
        self.assignments: list[AssignmentRecord] = []
        self.step_no = 0
        self.now = float("-inf")
        self.delivered = 0
        self.closed = 0  # cancelled or failed: with ``delivered``, what is no longer active (no rescan each step)

    # -- DispatchView ------------------------------------------------------------------------
    def open_orders(self) -> Sequence[Order]:
        return list(self._open.values())

    def couriers(self) -> Sequence[Courier]:
        return list(self._couriers.values())

    def store(self, store_id: str) -> Store:
        return self.stores[store_id]

    def order(self, order_id: str) -> Order:
        return self.orders[order_id]

    # -- the one entry point -----------------------------------------------------------------
    def step(self, inputs: StepInput) -> StepResult:
        now = inputs.now
        if now < self.now:
            raise InvalidInput(f"region {self.region}: step at {now} goes back in time (now {self.now})")
        self.now = now
        rejected: list[str] = []
        for store in inputs.stores:
            self.stores[store.id] = store
        for courier in inputs.couriers:
            self._receive_courier(courier, now)
        for handover in inputs.handovers:
            try:
                self._take_handover(handover, now)
            except DomainError as exc:
                rejected.append(f"{handover.courier.id}: handover {handover.id}: {exc}")
        for order in inputs.orders:
            try:
                self._receive_order(order, now)
            except DomainError as exc:
                rejected.append(f"{order.id}: {exc}")
        for order_id in inputs.cancellations:
            try:
                self._cancel(order_id, now)
            except (DomainError, KeyError) as exc:
                rejected.append(f"{order_id}: {exc}")
        for report in inputs.reports:
            try:
                self._report(report, now)
            except (DomainError, KeyError) as exc:
                rejected.append(f"{report.entity}: {report.kind}: {exc}")
        self._advance(now)
        self._move_couriers(now)
        for decision in self.policy.on_tick(now, self):
            try:
                self._apply(decision, now)
            except DomainError as exc:
                log.warning("region %s: policy %s decision refused: %s", self.region, self.policy.name, exc)
                rejected.append(f"{decision.courier_id}: {exc}")
        handoffs = self._handoffs(now) + self._lend(inputs.lend, now)
        waiting = self._waiting(now)
        self.step_no += 1
        events, self._events = self._events, []
        idle = sum(1 for c in self._couriers.values() if c.status == CourierStatus.IDLE and not c.route)
        busy = sum(1 for c in self._couriers.values() if c.route)
        active = len(self.orders) - self.delivered - self.closed
        return StepResult(
            self.region, self.step_no, now, events, handoffs, len(self._open), active, self.delivered,
            idle, busy, self._heap[0][0] if self._heap else None, rejected, waiting,
        )

    def _waiting(self, now: float) -> int:
        """Open orders with no courier whose food has been ready ``overdue_after`` minutes: what the region
        borrows couriers for (``dispatch.borrowing``). Policy-agnostic: a policy may hold orders on purpose
        (to batch them), but not past their food."""
        return sum(1 for o in self._open.values() if max(o.ready_at, o.window.earliest - 30.0) <= now - self.overdue_after)

    # -- inputs ------------------------------------------------------------------------------
    def _push(self, time: float, prio: int, kind: str, key: str) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (time, prio, self._seq, kind, key))

    def _receive_order(self, order: Order, now: float) -> None:
        if order.id in self.orders:
            raise InvalidInput(f"order {order.id} is already in region {self.region}")
        if order.store_id not in self.stores:
            raise InvalidInput(f"order {order.id} names unknown store {order.store_id}")
        if not self.stores[order.store_id].takes_orders:
            order.fail(now, "store", reason=f"store {order.store_id} is {self.stores[order.store_id].status}")
            self.closed += 1
            self.orders[order.id] = order
            return
        self.orders[order.id] = order
        if self.auto_accept and order.status == OrderStatus.PLACED:
            order.pay(order.placed_at)
            order.accept(order.placed_at)
            order.start_preparing(order.placed_at)
        self._events.extend(order.history)
        self._open[order.id] = order
        self._push(order.ready_at, _READY, "ready", order.id)
        self.policy.on_order(order, now)

    def _receive_courier(self, courier: Courier, now: float) -> None:
        if courier.id in self._couriers:
            raise InvalidInput(f"courier {courier.id} is already in region {self.region}")
        courier.bound_for = None
        self._couriers[courier.id] = courier
        if courier.status == CourierStatus.OFF_SHIFT and not courier.history:
            self._push(max(courier.on_time, now), _SHIFT_START, "shift_start", courier.id)
        else:  # handed over from a neighbouring region
            self.policy.on_courier(courier, now)
        self._push(max(courier.off_time, now), _SHIFT_END, "shift_end", courier.id)

    def _take_handover(self, handover: Handover, now: float) -> None:
        self._receive_courier(handover.courier, now)

    def _cancel(self, order_id: str, now: float) -> None:
        order = self.orders[order_id]
        if order.status == OrderStatus.ASSIGNED:
            raise InvalidInput(f"order {order_id} already has a courier; cancel it through after-sales")
        self._events.append(order.cancel(now))
        self.closed += 1
        self._open.pop(order_id, None)
        self.policy.on_cancel(order, now)

    # -- time --------------------------------------------------------------------------------
    def _advance(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            time, _, _, kind, key = heapq.heappop(heap)
            if kind == "ready":
                order = self.orders[key]
                if order.status in (OrderStatus.PREPARING, OrderStatus.ASSIGNED) and not order.food_is_ready:
                    self._events.append(order.mark_ready(time))
            elif kind == "courier":
                self._run_courier_action(key, time)
            else:
                courier = self._couriers.get(key)
                if courier is None:  # handed off to another region
                    continue
                if kind == "shift_start" and courier.status == CourierStatus.OFF_SHIFT and time < courier.off_time:
                    self._events.append(courier.start_shift(time))
                    self.policy.on_courier(courier, time)
                elif kind == "shift_end" and courier.status == CourierStatus.IDLE and not courier.route and time >= courier.off_time:
                    self._events.append(courier.end_shift(time))
                    self.policy.on_courier(courier, time)

    def _move_couriers(self, now: float) -> None:
        """Couriers on a leg move: their position is where they are along it now."""
        for courier in self._couriers.values():
            if courier.leg is not None:
                courier.position = courier.position_at(now)

    def _run_courier_action(self, courier_id: str, time: float) -> None:
        courier = self._couriers[courier_id]
        actions = self._actions[courier_id]
        _, what, stop = actions.popleft()
        ev = self._events
        if what == "move":
            assert stop is not None
            if stop.kind == "pickup" and courier.status in (CourierStatus.IDLE, CourierStatus.DELIVERING, CourierStatus.AT_STORE):
                ev.append(courier.head_to_store(time, stop.node))
            courier.record_move(time, courier.node, stop.node, stop.arrive, stop.location, reposition=stop.kind == "reposition")
            ev.append(courier.history[-1])
        elif what == "arrive":
            assert stop is not None
            courier.location, courier.node = stop.location, stop.node
            courier.position = stop.location
            if stop.kind == "pickup":
                ev.append(courier.arrive_at_store(time, stop.node))
            elif stop.kind == "reposition":
                event = Event("repositioned", time, courier.id, "courier", {"cell": stop.node.removeprefix(REPOSITION_PREFIX)})
                courier.history.append(event)
                ev.append(event)
        elif what == "serve":
            assert stop is not None
            if stop.kind == "pickup":
                courier.serving += self.rules.pickup_service
                for order_id in stop.order_ids:
                    ev.append(self.orders[order_id].pick_up(courier.id, time))
                    courier.onboard.append(order_id)
                ev.append(courier.start_delivering(time))
            elif stop.kind == "dropoff":
                courier.serving += self.rules.dropoff_service
                for order_id in stop.order_ids:
                    ev.append(self.orders[order_id].deliver(courier.id, time))
                    courier.onboard.remove(order_id)
                    self.delivered += 1
            courier.route.popleft()
        elif what == "finish":
            courier.leg = None
            if courier.status != CourierStatus.IDLE or time >= courier.off_time:  # idle already after a reposition alone
                ev.append(courier.finish_route(time))
            self.policy.on_courier(courier, time)
        if actions:
            self._push(actions[0][0], _COURIER, "courier", courier_id)

    # -- decisions ---------------------------------------------------------------------------
    def _apply(self, decision: Assignment, now: float) -> None:
        courier = self._couriers.get(decision.courier_id)
        if courier is None:
            raise InvalidInput(f"courier {decision.courier_id} is not in region {self.region}")
        orders = [self.orders[o] for o in decision.order_ids]
        for order in orders:
            if order.id not in self._open:
                raise InvalidInput(f"order {order.id} is {order.status}, not open for dispatch")
        if courier.status == CourierStatus.OFF_SHIFT:
            raise InvalidInput(f"courier {courier.id} is off shift")
        if decision.is_reposition:
            self._reposition(courier, decision, now)
            return
        stops = plan_stops(courier, decision, now, self.order, lambda s: self.stores[s].location, self.travel, self.rules)
        load = peak = len(courier.onboard)
        for stop in [*courier.route, *stops]:
            load += len(stop.order_ids) if stop.kind == "pickup" else -len(stop.order_ids)
            peak = max(peak, load)
        if peak > courier.capacity:
            raise InvalidInput(f"courier {courier.id} carries at most {courier.capacity} orders; this route needs {peak}")
        for stop in stops:
            if stop.kind == "pickup" and not courier.can_pick_up_at(stop.at):
                raise InvalidInput(f"courier {courier.id} would pick up at {stop.at:g}, after its shift ends at {courier.off_time:g}")
        for order in orders:
            self._events.append(order.assign(courier.id, now))
            del self._open[order.id]
        drop_time = {s.order_ids[0]: s.at for s in stops if s.kind == "dropoff"}
        for stop in stops:
            if stop.kind == "pickup":
                ids = tuple(sorted(stop.order_ids, key=lambda o: drop_time.get(o, float("inf"))))
                self.assignments.append(AssignmentRecord(now, stop.at, courier.id, stop.node, ids))
        self._schedule(courier, stops, now)

    def _reposition(self, courier: Courier, decision: Assignment, now: float) -> None:
        """Send an idle, empty courier to a cell centre: a move with no service; idle there on arrival."""
        if len(decision.stops) != 1:
            raise InvalidInput(f"a reposition of courier {courier.id} is one stop and nothing else")
        if courier.status != CourierStatus.IDLE or courier.route or courier.onboard or now >= courier.off_time:
            raise InvalidInput(f"courier {courier.id} is not idle and empty on shift: it cannot be repositioned")
        stops = plan_stops(courier, decision, now, self.order, lambda s: self.stores[s].location, self.travel, self.rules)
        self._schedule(courier, stops, now)

    def _schedule(self, courier: Courier, stops: list[Stop], now: float) -> None:
        """Give the courier its new stops: simulated here, each realised at its planned minute."""
        actions = self._actions.setdefault(courier.id, deque())
        was_empty = not actions
        if actions and actions[-1][1] == "finish":
            actions.pop()
        t = max(now, courier.free_at)
        for stop in stops:
            actions.append((t, "move", stop))
            actions.append((stop.arrive, "arrive", stop))
            actions.append((stop.at, "serve", stop))
            t = stop.depart
        actions.append((t, "finish", None))
        courier.route.extend(stops)
        courier.free_at = t
        if was_empty:
            self._push(actions[0][0], _COURIER, "courier", courier.id)

    def _report(self, report: Report, now: float) -> None:
        """Reports come from live couriers and stores; a simulated shard realises its routes itself."""
        raise InvalidInput(f"region {self.region}: a simulated shard takes no {report.kind!r} report")

    def _handoffs(self, now: float) -> list[Courier]:
        """Idle couriers standing in another served region go to that region's shard."""
        out: list[Courier] = []
        for courier in list(self._couriers.values()):
            if courier.status == CourierStatus.IDLE and not courier.route and now >= courier.lent_until:
                home = home_region(courier.location, self.served_regions, self.region_res)
                if home != self.region:
                    out.append(self._release(courier, home))
        return out

    def _lend(self, requests: dict[int, int], now: float) -> list[Courier]:
        """Lend idle couriers, nearest first, to short-handed regions; they stay there a while."""
        out: list[Courier] = []
        for target, count in sorted(requests.items()):
            centre = cell_center(target)
            idle = [c for c in self._couriers.values() if c.status == CourierStatus.IDLE and not c.route and now < c.off_time]
            idle.sort(key=lambda c: (haversine_m(c.location, centre), c.id))
            for courier in idle[:count]:
                courier.lent_until = now + self.loan_minutes
                out.append(self._release(courier, target, "loan"))
        return out

    def _release(self, courier: Courier, target: int, reason: str = "trip_end") -> Courier:
        del self._couriers[courier.id]
        self._actions.pop(courier.id, None)
        courier.bound_for = target
        self._events.append(Event("handed_over", self.now, courier.id, "dispatcher", {"from": self.region, "to": target, "reason": reason}))
        return courier

    # -- persistence and results -------------------------------------------------------------
    def snapshot(self) -> bytes:
        """The whole shard as bytes: restoring it and replaying later inputs gives the same run."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def restore(blob: bytes) -> "RegionShard":
        shard = pickle.loads(blob)
        if not isinstance(shard, RegionShard):
            raise InvalidInput("snapshot does not hold a region shard")
        return shard

    def positions(self) -> dict[str, Location]:
        """Every on-shift courier's position as of the last step."""
        return {c.id: c.position for c in self._couriers.values() if c.status != CourierStatus.OFF_SHIFT}

    def order_records(self) -> list[OrderRecord]:
        return [order_record(o, self.stores[o.store_id].location, self.travel, self.rules) for o in self.orders.values()]

    def courier_records(self) -> list[CourierRecord]:
        return [courier_record(c) for c in self._couriers.values()]


def order_record(order: Order, store_loc: Location, travel: TravelModel, rules: ServiceRules) -> OrderRecord:
    direct = travel.minutes(store_loc, order.dropoff, order.ready_at)
    lower = (order.ready_at - order.placed_at) + rules.pickup_service / 2 + direct + rules.dropoff_service / 2
    return OrderRecord(
        order.id, order.store_id, str(order.mode), order.placed_at, order.ready_at, order.window.promise,
        order.window.latest, lower, str(order.status), order.courier_id, order.assigned_at,
        order.picked_up_at, order.delivered_at,
    )


def courier_record(courier: Courier) -> CourierRecord:
    moves = tuple(
        MoveRecord(e.time, e.data["origin"], e.data["destination"], e.data["arrive"], bool(e.data.get("reposition", False)))
        for e in courier.history if e.type == "move"
    )
    return CourierRecord(courier.id, courier.on_time, courier.off_time, moves, courier.driving, courier.serving)


@dataclass(frozen=True)
class ShardSpec:
    """Everything needed to build a region's shard: picklable, so an actor can build its own."""

    policy: str
    travel: TravelModel
    rules: ServiceRules
    region_res: int = REGION_RES
    served_regions: frozenset[int] = frozenset()
    policy_params: tuple[tuple[str, object], ...] = ()

    def build(self, region: int) -> RegionShard:
        from dispatch.policies import make_policy

        policy = make_policy(self.policy, **dict(self.policy_params))
        return RegionShard(region, policy, self.travel, self.rules, self.region_res, self.served_regions)
