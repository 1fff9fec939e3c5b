"""Request and response models of the shop: catalog, checkout, payments, membership, after-sales."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.models import Point

Mode = Literal["asap", "scheduled", "timed"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


MAX_UNITS = 99  # units of one SKU in one order, whether on one line or several


class Line(_In):
    sku: str = Field(min_length=1, max_length=64, examples=["s1-beef-noodles"])
    qty: int = Field(ge=1, le=MAX_UNITS)


class CheckoutRequest(_In):
    """A cart from one store, a coupon and points to use, and how to deliver it."""

    store_id: str = Field(min_length=1, max_length=64)
    lines: list[Line] = Field(min_length=1, max_length=50)
    dropoff: Point
    mode: Mode = "asap"
    slot_start: datetime | None = None
    deliver_at: datetime | None = None
    coupon: str | None = Field(None, max_length=64)
    points: int = Field(0, ge=0, le=10_000_000, description="points to redeem (100 points = 1 yuan)")
    note: str = Field("", max_length=500)

    @model_validator(mode="after")
    def _units_per_sku(self) -> CheckoutRequest:
        """Pricing and the stock count a SKU listed on several lines as one line: its units together are at most 99."""
        units: dict[str, int] = {}
        for line in self.lines:
            units[line.sku] = units.get(line.sku, 0) + line.qty
        over = {sku: n for sku, n in units.items() if n > MAX_UNITS}
        if over:
            sku, n = next(iter(over.items()))
            raise ValueError(f"{sku}: {n} units over several lines; one SKU is at most {MAX_UNITS} units per order")
        return self

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "store_id": "s1", "lines": [{"sku": "s1-beef-noodles", "qty": 2}], "dropoff": {"lat": 31.2304, "lng": 121.4737},
        "mode": "asap", "coupon": "WELCOME10", "points": 0,
    }]})


class PriceLineOut(BaseModel):
    code: str
    label: str
    amount_cents: int
    sku: str | None = None


class CheckoutQuote(BaseModel):
    store_id: str
    lines: list[PriceLineOut]
    goods_cents: int
    discount_cents: int
    points_used: int
    points_cents: int
    delivery_cents: int
    total_cents: int
    coupon: str | None
    member_level: str
    eta: datetime | None = None
    slots: list[dict] = Field(default_factory=list)


class Payment(BaseModel):
    intent: str
    amount_cents: int
    expires_at: datetime
    pay_url: str = Field(description="the simulated provider's pay endpoint (POST) in development mode")


class CheckoutPlaced(BaseModel):
    order_id: str
    status: str
    quote: CheckoutQuote
    payment: Payment


class SimulatedPayment(_In):
    outcome: Literal["succeeded", "failed"] = "succeeded"
