"""Request and response models of the REST API (the public shapes; internal fields never leak)."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["asap", "scheduled", "timed"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Point(_In):
    lat: float = Field(ge=-90, le=90, examples=[31.2304])
    lng: float = Field(ge=-180, le=180, examples=[121.4737])


class OrderCreate(_In):
    """An order from one store to one door. ``scheduled`` needs ``slot_start`` (from a quote); ``timed`` needs ``deliver_at``."""

    store_id: str = Field(min_length=1, max_length=64, examples=["s1"])
    dropoff: Point
    mode: Mode = "asap"
    slot_start: datetime | None = Field(None, description="start of a booked slot (scheduled)")
    deliver_at: datetime | None = Field(None, description="the exact delivery time (timed)")
    size: int = Field(1, ge=1, le=4, description="how much of a courier's capacity it takes")
    note: str = Field("", max_length=500)

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"store_id": "s1", "dropoff": {"lat": 31.2304, "lng": 121.4737}, "mode": "asap"},
        {"store_id": "s1", "dropoff": {"lat": 31.2304, "lng": 121.4737}, "mode": "timed", "deliver_at": "2026-11-25T12:30:00Z"},
    ]})


class QuoteRequest(_In):
    store_id: str = Field(min_length=1, max_length=64, examples=["s1"])
    dropoff: Point
    mode: Mode = "asap"

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"store_id": "s1", "dropoff": {"lat": 31.2304, "lng": 121.4737}, "mode": "asap"}]})


class Slot(BaseModel):
    start: datetime
    end: datetime
    remaining: int


class Quote(BaseModel):
    store_id: str
    mode: Mode
    distance_m: float
    fee_cents: int
    eta: datetime | None = Field(None, description="asap: expected delivery")
    eta_minutes: float | None = None
    slots: list[Slot] = Field(default_factory=list, description="scheduled: bookable slots with free capacity")


class Window(BaseModel):
    earliest: datetime
    promise: datetime
    latest: datetime


class Tracking(BaseModel):
    token: str
    url: str = Field(description="the tracking page")
    ws: str = Field(description="the tracking WebSocket path")


class OrderPublic(BaseModel):
    id: str
    status: str
    store_id: str
    customer: str
    mode: Mode
    dropoff: Point
    placed_at: datetime
    window: Window
    courier: str | None = None
    eta: datetime | None = None
    courier_at_store: datetime | None = Field(None, description="when its courier is expected at the store (assigned, not yet picked up)")
    picked_up_at: datetime | None = None
    delivered_at: datetime | None = None
    fee_cents: int = 0
    pin: str | None = Field(None, description="drop-off PIN: shown to the customer only, who tells the courier at the door")


class OrderCreated(OrderPublic):
    tracking: Tracking


class PinUnlocked(BaseModel):
    """A drop-off PIN unlocked: the order, and the wrong tries that were cleared."""

    order: str
    wrong_tries: int


class Accepted(BaseModel):
    """The request is in the dispatcher's durable queue; the outcome arrives as frames (and in GET)."""

    accepted: bool = True
    detail: str


class StoreAccept(_In):
    ready_in: float | None = Field(None, ge=0, le=240, description="minutes until the food is ready")


class ActionQueued(Accepted):
    """A dispatcher's action is in its region's queue; its outcome comes on ``/ws/ops`` as an ``action`` frame with this ``ref``."""

    ref: str


class Reassign(_In):
    to: str = Field(min_length=1, max_length=64, examples=["courier-2"], description="the courier who takes the stops")


class BoardOrder(OrderPublic):
    """An active order on the dispatcher's board, judged against its promise."""

    region: str
    zone: str = Field(description="H3 cell (resolution 8) of its store")
    door_zone: str = Field(description="delivery zone of its door (H3 resolution 7: what a dispatcher pauses)")
    board: Literal["on_time", "at_risk", "late"] = Field(description="late: past its promise, or expected past it; at risk: "
                                                                       "expected within 5 minutes of it; on time: otherwise")


class ZonePause(_In):
    reason: str = Field(min_length=1, max_length=200, examples=["storm: no riders out"], description="told to customers who order")


class ZoneCapacity(_In):
    capacity: int = Field(ge=0, le=10_000, description="scheduled orders per slot in this zone (0: none can book)")


class ZoneControlOut(BaseModel):
    """What a dispatcher set for a delivery zone (an H3 resolution-7 cell of doors)."""

    zone: str
    paused: str | None = Field(None, description="new orders to it are refused (409) with this reason")
    slot_capacity: int | None = Field(None, description="its own capacity per slot; null: the service's SLOT_CAPACITY")


class StoreReject(_In):
    reason: str = Field(min_length=1, max_length=200, examples=["out of beef noodles"], description="told to the customer")


class StockLevel(BaseModel):
    sku: str
    name: str
    units: int = Field(description="units the store can sell now (what checkouts reserve from)")


class StockCorrection(_In):
    units: int = Field(ge=0, le=100_000, description="what the store counted it can sell")
    expected: int | None = Field(None, ge=0, description="the level the store last read: refused (409) if it has moved since")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"units": 12, "expected": 15}]})


class ShiftChange(_In):
    on: bool = Field(description="true starts a shift here, false ends it")
    lat: float | None = Field(None, ge=-90, le=90)
    lng: float | None = Field(None, ge=-180, le=180)
    hours: float = Field(8.0, gt=0, le=24)
    capacity: int = Field(4, ge=1, le=10)

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"on": True, "lat": 31.2304, "lng": 121.4737, "hours": 4}]})


class Register(_In):
    username: str = Field(min_length=3, max_length=40, pattern=r"^[a-zA-Z0-9_.-]+$")
    password: str = Field(min_length=8, max_length=128)


class UserCreate(_In):
    username: str = Field(min_length=3, max_length=40, pattern=r"^[a-zA-Z0-9_.-]+$")
    password: str = Field(min_length=8, max_length=128)
    role: Literal["customer", "courier", "store", "planner", "admin"]
    entity: str = Field("", max_length=64, description="the store id of a store login; a courier's id (defaults to the user name)")


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str
    entity: str = ""


class StoreOut(BaseModel):
    id: str
    name: str
    lat: float
    lng: float
    region: str


class ZoneStats(BaseModel):
    cell: str
    region: str
    open_orders: int
    idle_couriers: int
    eta_minutes: float | None
    lat: float = Field(description="the cell's centre")
    lng: float


class Refusal(BaseModel):
    """A shop or after-sales refusal: a stable ``code`` (``out_of_stock``, ``unknown_order``, ...) and the reason."""

    code: str
    detail: str


class ErrorDetail(BaseModel):
    """Every error body: ``detail`` is the reason; for 422 from request validation, one ``location: message`` string per
    invalid field; for a shop or after-sales refusal, ``{"code", "detail"}``."""

    detail: str | list[str] | Refusal


class EngineState(BaseModel):
    """The dispatch engine's process as ``dispatch serve``'s supervisor last saw it (``api.engine_supervisor``)."""

    state: Literal["starting", "running", "down", "stopped"]
    since: datetime
    down_since: datetime | None = Field(None, description="since when dispatch has been away; null while running")
    pid: int | None = None
    restarts: int = 0
    last_exit: str | None = Field(None, description="how the last engine process ended, in words")
    retry_at: datetime | None = Field(None, description="when the next engine process starts")
    engine: str = ""


class DispatchHealth(BaseModel):
    status: Literal["ok", "degraded"]
    reason: str | None = Field(None, description="why dispatch is degraded, and what happens to orders meanwhile")
    last_cycle: dict[str, datetime | None] = Field(description="each region's last dispatch cycle (null: none yet)")
    engine: EngineState | None = Field(None, description="null when no supervisor reported (the engine runs elsewhere)")


class Health(BaseModel):
    """``GET /health``: 200 when Redis answers and every region cycles; 503 with this body when dispatch is degraded
    (``detail`` says why). Orders are still taken then: they wait in Redis for dispatch to return."""

    ok: bool
    redis: bool
    regions: list[str]
    dispatch: DispatchHealth
    detail: str | None = None
