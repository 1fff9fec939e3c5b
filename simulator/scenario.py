"""Synthetic-city scenarios: a TOML file in, a simulation ``Instance`` out.

A planner describes a city before it goes live: its service area, stores and their preparation
times, demand by hour with hot spots, the mix of delivery modes, and courier shifts. The file is
validated by pydantic models (unknown keys are errors, so a typo never silently falls back to a
default) and every problem surfaces as one ``InputError`` naming the file, the line and the
dotted field. ``build_instance`` then draws one concrete day from it, deterministically for a seed.

Randomness is split into independent streams (stores, orders, preparation, couriers, baskets)
spawned from the seed, so changing the fleet leaves the orders untouched: fleet-size comparisons
see the same demand, baskets included.

**Baskets.** A scenario with a ``[shop]`` table (the demo city has one) sends every customer through
the shop's checkout (``commerce.shopper.Shopper`` over ``commerce.demo_catalog``, with the demo
coupons and 满减 tiers of ``commerce.promotions``): each order gets a priced basket from its store,
and the basket shapes the order:

- ``size`` (courier capacity units) = 1 + items // ``shop.items_per_size`` (6: up to 5 items is one
  unit, 6-11 two, ...), capped at 4 and at the largest shift capacity, so every order fits a courier;
- preparation = the store's own draw + ``shop.prep_per_item`` (0.5 min) per item beyond the first,
  at most ``shop.prep_extra_max`` (5 min) extra; the prep multiplier scales both parts, and the
  store's ``prep.max`` still caps the total;
- the delivery mode still comes from ``[mix]``, but a grocery basket (a store selling mostly
  groceries) of at least ``shop.book_ahead_items`` items drawn ASAP is booked into a slot instead
  with probability ``shop.book_ahead_share``: big grocery shops are booked ahead more often, so the
  scheduled share ends up slightly above ``mix.scheduled``;
- the basket is priced for that mode and the store-to-door distance (the delivery fee).

Without ``[shop]``, and for a store the catalog does not stock (or whose stock has run out), an
order has no basket and size 1, and its preparation and mode are drawn exactly as before.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from commerce.demo_catalog import demo_catalog
from commerce.pricing import CartLine
from commerce.promotions import DEMO_COUPONS, tiers_for
from commerce.shopper import Shopper
from dispatch.geo import EARTH_RADIUS_M, Location, haversine_m
from dispatch.modes import DeliveryMode, DeliveryWindow, asap_window, scheduled_window, timed_window
from dispatch.rules import ServiceRules
from dispatch.travel import HaversineTravel
from dispatch.zones import ZONE_RES, ServiceArea, cell_boundary
from simulator.errors import InputError
from simulator.instance import CourierSpec, Instance, OrderSpec, StoreSpec

MINUTES_PER_DAY = 1440.0
OVERRIDE_KEYS = ("demand_multiplier", "fleet_multiplier", "prep_multiplier")
MAX_ORDER_SIZE = 4  # an order never takes more than a whole courier (capacity 4)
_MAX_TRIES = 2000  # rejection-sampling attempts before a point is declared impossible to place


# --------------------------------------------------------------------------- models


def _clock_minutes(value: Any) -> Any:
    """Accept ``"HH:MM"`` strings and TOML local times as well as minutes: planners think in clock time."""
    if isinstance(value, dt.time):
        return value.hour * 60 + value.minute + value.second / 60
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", value)
        if not match or int(match.group(2)) >= 60:
            raise ValueError(f"expected minutes since midnight or a clock time 'HH:MM', got {value!r}")
        return int(match.group(1)) * 60 + int(match.group(2))
    return value


Minute = Annotated[float, BeforeValidator(_clock_minutes), Field(ge=0, le=MINUTES_PER_DAY)]
Lat = Annotated[float, Field(ge=-90, le=90, description="Latitude, degrees.")]
Lng = Annotated[float, Field(ge=-180, le=180, description="Longitude, degrees.")]


class _Model(BaseModel):
    """Strict base: unknown keys are errors, so a misspelt key cannot silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class HotSpot(_Model):
    """A place where points cluster (an office district, a residential compound, a courier hub)."""

    lat: Lat
    lng: Lng
    radius_m: float = Field(500.0, gt=0, description="Spread: points scatter as a 2-D normal with sd radius_m / 2 (~86 % within the radius).")
    weight: float = Field(1.0, gt=0, description="Relative share of this hot spot among the hot spots of its list.")

    @property
    def location(self) -> Location:
        return Location(self.lat, self.lng)


class CityConfig(_Model):
    """Where the service runs: a centre and a service-area polygon (inline GeoJSON or a file)."""

    lat: Lat = Field(description="City centre latitude (informational; used for maps).")
    lng: Lng = Field(description="City centre longitude.")
    service_area: dict[str, Any] | None = Field(None, description="Inline GeoJSON Polygon, MultiPolygon, Feature or FeatureCollection.")
    service_area_file: str | None = Field(None, description="Path of a .geojson file, relative to the scenario file.")
    zone_res: int = Field(ZONE_RES, ge=5, le=10, description="H3 resolution of the cells approximating the polygon; drop-offs fall inside these cells.")
    _area: ServiceArea | None = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _load_polygon(cls, data: Any, info: ValidationInfo) -> Any:
        """Read the GeoJSON file here so a missing or broken file is reported as this field's error."""
        if not isinstance(data, dict):
            return data
        inline, file = data.get("service_area"), data.get("service_area_file")
        if (inline is None) == (file is None):
            raise ValueError("give exactly one of service_area (inline GeoJSON) or service_area_file")
        if isinstance(file, str):
            base = Path((info.context or {}).get("base_dir", "."))
            source = base / file
            try:
                geojson = json.loads(source.read_text(encoding="utf-8"))
            except OSError as exc:
                raise ValueError(f"cannot read service area file {source}: {exc.strerror or exc}") from exc
            except json.JSONDecodeError as exc:
                raise ValueError(f"service area file {source} is not valid JSON: {exc}") from exc
            if not isinstance(geojson, dict):
                raise ValueError(f"service area file {source} must hold a GeoJSON object")
            data = {**data, "service_area": geojson}
        return data

    @model_validator(mode="after")
    def _build_area(self) -> CityConfig:
        """Cover the polygon with H3 cells once; a polygon covering no cell is an input error."""
        assert self.service_area is not None
        try:
            self._area = ServiceArea.from_geojson(self.service_area, self.zone_res)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"invalid service area: {exc}") from exc
        except Exception as exc:  # h3 raises its own error types on malformed rings
            raise ValueError(f"invalid service area polygon: {exc}") from exc
        return self

    @property
    def area(self) -> ServiceArea:
        if self._area is None:  # pragma: no cover - set by the validator
            self._area = ServiceArea.from_geojson(self.service_area or {}, self.zone_res)
        return self._area


class TravelConfig(_Model):
    """Courier travel: great-circle distance x detour at a speed that varies by hour (HaversineTravel)."""

    speed_kmh: float = Field(18.0, gt=0, description="Courier free-flow speed in km/h (an e-bike: 15-20).")
    detour: float = Field(1.3, ge=1.0, description="Road distance divided by great-circle distance.")
    hourly_factor: list[Annotated[float, Field(gt=0)]] | None = Field(
        None, min_length=24, max_length=24,
        description="24 speed multipliers by hour of day (1 = free flow, 0.8 = 20 % slower); omitted = flat.",
    )


class RulesConfig(_Model):
    """Service rules of the market (dispatch.rules.ServiceRules); the ASAP promise uses the target."""

    pickup_service: float = Field(4.0, ge=0, description="Minutes spent at the store per pickup.")
    dropoff_service: float = Field(4.0, ge=0, description="Minutes spent at the door per drop-off.")
    target_click_to_door: float = Field(40.0, gt=0, description="ASAP promise: minutes from placement to the door.")
    max_click_to_door: float = Field(90.0, gt=0, description="ASAP hard limit: minutes from placement to the door.")
    pay_per_order: float = Field(10.0, ge=0, description="Courier pay per delivered order.")
    pay_per_hour: float = Field(15.0, ge=0, description="Guaranteed courier pay per shift hour.")

    @model_validator(mode="after")
    def _promise_within_limit(self) -> RulesConfig:
        if self.max_click_to_door < self.target_click_to_door:
            raise ValueError("max_click_to_door must be at least target_click_to_door")
        return self

    def build(self) -> ServiceRules:
        return ServiceRules(**self.model_dump())


class TimeConfig(_Model):
    """The simulated period: orders are placed in [start, end); scheduled and timed deliveries fall inside it too."""

    start: Minute = Field(description="First placement minute (minutes since midnight or 'HH:MM').")
    end: Minute = Field(description="End of the period (exclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> TimeConfig:
        if self.end <= self.start:
            raise ValueError("time.end must be after time.start")
        return self


class PrepTime(_Model):
    """A store's food preparation time in minutes: a skewed distribution clamped to [min, max]."""

    mean: float = Field(gt=0, description="Mean preparation minutes.")
    sd: float = Field(ge=0, description="Standard deviation in minutes (0 = always the mean).")
    dist: Literal["lognormal", "gamma"] = Field("lognormal", description="Shape of the distribution, both right-skewed.")
    min: float = Field(1.0, ge=0, description="Lower clamp, minutes.")
    max: float | None = Field(None, gt=0, description="Optional upper clamp, minutes.")

    @model_validator(mode="after")
    def _clamps_ordered(self) -> PrepTime:
        if self.max is not None and self.max < self.min:
            raise ValueError("prep max must be at least prep min")
        return self

    def sample(self, rng: np.random.Generator, multiplier: float = 1.0, extra: float = 0.0) -> float:
        """One draw; the multiplier scales the draw (mean and sd alike) before clamping.

        ``extra`` minutes (a big basket's) are added after the lower clamp, scaled by the multiplier
        too, and the upper clamp still applies to the total.
        """
        if self.sd == 0:
            value = self.mean
        elif self.dist == "lognormal":
            sigma2 = math.log1p((self.sd / self.mean) ** 2)
            value = float(rng.lognormal(math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2)))
        else:
            shape = (self.mean / self.sd) ** 2
            value = float(rng.gamma(shape, self.sd**2 / self.mean))
        value *= multiplier
        value = max(value, self.min) + extra * multiplier
        return min(value, self.max) if self.max is not None else value


class StoreConfig(_Model):
    """An explicit store."""

    id: str = Field(min_length=1, pattern=r"^\S+$", description="Unique store id (no spaces).")
    name: str = Field("", description="Display name.")
    kind: str = Field("restaurant", description="Informational: restaurant, grocery, pharmacy, ...")
    lat: Lat
    lng: Lng
    prep: PrepTime = Field(description="Preparation (or picking) time distribution.")
    popularity: float = Field(1.0, gt=0, description="Relative attractiveness when customers choose a store.")


class StoreGeneration(_Model):
    """Stores drawn at random: clustered at hot spots (or uniform), with lognormal popularity."""

    count: int = Field(gt=0, description="How many stores to generate.")
    id_prefix: str = Field("g", min_length=1, pattern=r"^\S+$", description="Generated ids are prefix1, prefix2, ...")
    hot_spots: list[HotSpot] = Field(default_factory=list, description="Where stores cluster; empty = uniform over the area.")
    prep: PrepTime = Field(default_factory=lambda: PrepTime(mean=12.0, sd=4.0), description="Preparation time of every generated store.")
    popularity_sd: float = Field(0.5, ge=0, description="Log-sd of the lognormal popularity (median 1).")


class RatePoint(_Model):
    """From ``hour`` (fractional allowed: 17.5 = 17:30) until the next point, orders arrive at ``rate`` per hour."""

    hour: float = Field(ge=0, lt=24, description="Hour of day where this rate starts.")
    rate: float = Field(ge=0, description="Orders per hour.")


class DemandConfig(_Model):
    """Order arrivals (a step-wise Poisson rate), where drop-offs are, and which store customers pick."""

    rate: list[RatePoint] = Field(
        min_length=1,
        description="24 orders-per-hour values (one per hour), or a list of {hour, rate} steps; before the first step the rate is 0.",
    )
    multiplier: float = Field(1.0, gt=0, description="Scales every rate.")
    hot_spots: list[HotSpot] = Field(default_factory=list, description="Drop-off hot spots (offices, compounds).")
    hot_spot_share: float = Field(0.5, ge=0, le=1, description="Share of drop-offs drawn at the hot spots; the rest are uniform over the area.")
    store_choice: Literal["popularity_distance", "popularity", "nearest"] = Field(
        "popularity_distance",
        description="popularity_distance: weight popularity x exp(-distance / distance_decay_m); popularity: ignore distance; nearest: the closest store.",
    )
    distance_decay_m: float = Field(1500.0, gt=0, description="Distance over which a store's pull falls by a factor e.")
    max_distance_m: float | None = Field(5000.0, gt=0, description="Stores farther than this are not offered (the nearest always is).")

    @field_validator("rate", mode="before")
    @classmethod
    def _hourly_list(cls, value: Any) -> Any:
        """A plain list of numbers is the 24-hour profile; turn it into steps at each hour."""
        if isinstance(value, list) and value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            if len(value) != 24:
                raise ValueError(f"an hourly rate list needs 24 values, got {len(value)}")
            return [{"hour": h, "rate": r} for h, r in enumerate(value)]
        return value

    @field_validator("rate")
    @classmethod
    def _increasing(cls, value: list[RatePoint]) -> list[RatePoint]:
        hours = [p.hour for p in value]
        if any(b <= a for a, b in zip(hours, hours[1:])):
            raise ValueError("rate steps must have strictly increasing hours")
        if not any(p.rate > 0 for p in value):
            raise ValueError("at least one rate must be positive")
        return value

    def segments(self) -> list[tuple[float, float, float]]:
        """(start minute, end minute, orders per hour) pieces covering the day."""
        ends = [p.hour * 60 for p in self.rate[1:]] + [MINUTES_PER_DAY]
        return [(p.hour * 60, end, p.rate * self.multiplier) for p, end in zip(self.rate, ends)]


class MixConfig(_Model):
    """Shares of the delivery modes, and how customers book scheduled slots and exact times."""

    asap: float = Field(1.0, ge=0, le=1, description="Share of ASAP orders.")
    scheduled: float = Field(0.0, ge=0, le=1, description="Share of orders booked into a slot.")
    timed: float = Field(0.0, ge=0, le=1, description="Share of orders for an exact time.")
    slot_minutes: float = Field(30.0, gt=0, description="Scheduled slot length; slots start at multiples of it.")
    booking_lead: float = Field(30.0, ge=0, description="Minimum minutes between placement and a slot start or exact time.")
    booking_horizon: float = Field(180.0, gt=0, description="Maximum minutes between placement and a slot start or exact time.")
    timed_tolerance: float = Field(5.0, ge=0, description="A timed order may arrive this many minutes either side of its time.")
    timed_step: float = Field(5.0, gt=0, description="Exact times are multiples of this many minutes.")
    grace: float = Field(30.0, ge=0, description="Minutes after a scheduled/timed promise before the drop-off is out of window.")

    @model_validator(mode="after")
    def _consistent(self) -> MixConfig:
        total = self.asap + self.scheduled + self.timed
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"asap + scheduled + timed must sum to 1, got {total:g}")
        if self.booking_horizon < self.booking_lead:
            raise ValueError("booking_horizon must be at least booking_lead")
        return self


class ShopConfig(_Model):
    """Customers shop through the commerce checkout: every order gets a priced basket (module docstring)."""

    catalog: Literal["demo"] = Field("demo", description="demo: commerce.demo_catalog over the scenario's stores (each gets the menu its name suggests).")
    coupon_share: float = Field(0.5, ge=0, le=1, description="Share of customers who try one of the demo coupons (an unfit one is dropped at checkout).")
    items_per_size: int = Field(6, ge=1, description="Order size = 1 + items // items_per_size, capped at 4 and the largest shift capacity.")
    prep_per_item: float = Field(0.5, ge=0, description="Extra preparation minutes per item beyond the first.")
    prep_extra_max: float = Field(5.0, ge=0, description="At most this many extra preparation minutes.")
    book_ahead_items: int = Field(8, ge=1, description="A grocery basket of at least this many items is a big shop.")
    book_ahead_share: float = Field(0.3, ge=0, le=1, description="Chance that a big grocery shop drawn ASAP is booked into a slot instead.")


class ShiftConfig(_Model):
    """A block of identical courier shifts."""

    start: Minute = Field(description="Shift start (minutes since midnight or 'HH:MM').")
    end: Minute = Field(description="Shift end.")
    count: int = Field(ge=0, description="Couriers in this block.")
    capacity: int = Field(4, ge=1, description="Orders a courier can carry at once.")
    start_hot_spot: HotSpot | None = Field(None, description="Where these couriers log in; omitted = uniform over the area.")

    @model_validator(mode="after")
    def _ordered(self) -> ShiftConfig:
        if self.end <= self.start:
            raise ValueError("a shift must end after it starts")
        return self


class Scenario(_Model):
    """A synthetic city: everything ``build_instance`` needs to draw a day."""

    name: str = Field(min_length=1, description="Scenario name, reported with every result.")
    seed: int = Field(0, description="Default seed when none is given.")
    region_res: int = Field(6, ge=0, le=15, description="H3 resolution of the regions that shard the dispatch.")
    city: CityConfig
    travel: TravelConfig = Field(default_factory=TravelConfig)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    time: TimeConfig
    stores: list[StoreConfig] = Field(default_factory=list, description="Explicit stores.")
    store_generation: StoreGeneration | None = Field(None, description="Randomly generated stores (in addition to explicit ones).")
    demand: DemandConfig
    mix: MixConfig = Field(default_factory=MixConfig)
    shop: ShopConfig | None = Field(None, description="Baskets through the commerce checkout; omitted = orders without baskets, size 1.")
    shifts: list[ShiftConfig] = Field(min_length=1, description="Courier shift blocks.")

    @field_validator("stores")
    @classmethod
    def _unique_ids(cls, value: list[StoreConfig]) -> list[StoreConfig]:
        seen: set[str] = set()
        for store in value:
            if store.id in seen:
                raise ValueError(f"duplicate store id {store.id!r}")
            seen.add(store.id)
        return value

    @model_validator(mode="after")
    def _has_stores(self) -> Scenario:
        if not self.stores and self.store_generation is None:
            raise ValueError("a scenario needs [[stores]] or a [store_generation] block")
        if self.store_generation is not None:
            explicit = {s.id for s in self.stores}
            prefix = self.store_generation.id_prefix
            clash = next((f"{prefix}{i}" for i in range(1, self.store_generation.count + 1) if f"{prefix}{i}" in explicit), None)
            if clash:
                raise ValueError(f"generated store id {clash!r} clashes with an explicit store; change store_generation.id_prefix")
        return self

    @property
    def area(self) -> ServiceArea:
        return self.city.area

    def geography_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Points that must lie in the service area but do not, as (field location, message).

        A store or hot spot outside the area is almost always a swapped lat/lng or a typo; it
        would also make rejection sampling spin, so it is caught at load time.
        """
        area = self.area
        problems: list[tuple[tuple[str | int, ...], str]] = []

        def check(loc: tuple[str | int, ...], lat: float, lng: float, what: str) -> None:
            if not area.contains(Location(lat, lng)):
                problems.append((loc, f"{what} at ({lat}, {lng}) lies outside the service area"))

        for i, store in enumerate(self.stores):
            check(("stores", i, "lat"), store.lat, store.lng, f"store {store.id}")
        if self.store_generation is not None:
            for i, spot in enumerate(self.store_generation.hot_spots):
                check(("store_generation", "hot_spots", i), spot.lat, spot.lng, "hot spot")
        for i, spot in enumerate(self.demand.hot_spots):
            check(("demand", "hot_spots", i), spot.lat, spot.lng, "hot spot")
        for i, shift in enumerate(self.shifts):
            if shift.start_hot_spot is not None:
                check(("shifts", i, "start_hot_spot"), shift.start_hot_spot.lat, shift.start_hot_spot.lng, "start hot spot")
        return problems


# --------------------------------------------------------------------------- loading


def demo_scenario_path() -> Path:
    """The demo city shipped with the package (simulator/scenarios/demo_city.toml)."""
    return Path(__file__).resolve().parent / "scenarios" / "demo_city.toml"


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; any problem is one ``InputError`` with file, line and field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read the file: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, message = _toml_error(exc)
        raise InputError(path, f"TOML syntax error: {message}", line=line) from exc
    try:
        scenario = Scenario.model_validate(data, context={"base_dir": path.parent})
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        message = _pydantic_message(first)
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        loc = tuple(first["loc"])
        raise InputError(path, message, line=_locate(text, loc), field=_dotted(loc) or None) from exc
    problems = scenario.geography_problems()
    if problems:
        loc, message = problems[0]
        raise InputError(path, message, line=_locate(text, loc), field=_dotted(loc))
    return scenario


def _toml_error(exc: tomllib.TOMLDecodeError) -> tuple[int | None, str]:
    """tomllib (3.11-3.13) only puts the position in the message: '... (at line 7, column 3)'."""
    text = str(exc)
    match = re.search(r"\(at line (\d+), column \d+\)", text)
    line = getattr(exc, "lineno", None) or (int(match.group(1)) if match else None)
    message = re.sub(r"\s*\(at line \d+, column \d+\)", "", text) or text
    return line, message


def _pydantic_message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    if error.get("type") == "missing":
        message = "required field is missing"
    elif error.get("type") == "extra_forbidden":
        message = "unknown key (not part of the scenario format)"
    return message


def _dotted(loc: Sequence[str | int]) -> str:
    """('stores', 2, 'prep', 'mean') -> 'stores[2].prep.mean'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_HEADER = re.compile(r"""^\s*(\[\[?)\s*([A-Za-z_"'][A-Za-z0-9_\-\s."']*?)\s*\]\]?\s*(?:#.*)?$""")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _split_key(key: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in key.split("."))


def _key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """Map each table header and key of a TOML text to its first line, with array-of-table indices.

    tomllib keeps no positions, so this light scan recovers them well enough to point a planner
    at the right line; keys inside inline tables resolve to the line of their enclosing key.
    """
    lines: dict[tuple[str | int, ...], int] = {}
    counts: dict[tuple[str, ...], int] = {}
    table: tuple[str | int, ...] = ()

    def resolve(parts: tuple[str, ...]) -> tuple[str | int, ...]:
        path: list[str | int] = []
        for j, part in enumerate(parts):
            path.append(part)
            if parts[: j + 1] in counts:
                path.append(counts[parts[: j + 1]] - 1)
        return tuple(path)

    for number, line in enumerate(text.splitlines(), start=1):
        if header := _HEADER.match(line):
            parts = _split_key(header.group(2))
            if header.group(1) == "[[":
                base = resolve(parts[:-1]) + (parts[-1],)
                index = counts.get(parts, 0)
                counts[parts] = index + 1
                table = base + (index,)
            else:
                table = resolve(parts)
            lines.setdefault(table, number)
        elif key := _KEY.match(line):
            lines.setdefault(table + _split_key(key.group(1)), number)
    return lines


def _locate(text: str, loc: Sequence[str | int]) -> int | None:
    """The line of the deepest key or table on the path ``loc`` that appears in the text.

    When the path goes on into an array written over several lines (the demand steps), the line
    of that element is given instead of the line of the key.
    """
    lines = _key_lines(text)
    path = tuple(loc)
    for k in range(len(path), 0, -1):
        if path[:k] in lines:
            line = lines[path[:k]]
            if k < len(path) and isinstance(path[k], int):
                return _element_line(text.splitlines(), line, path[k]) or line
            return line
    return None


def _element_line(lines: list[str], key_line: int, index: int) -> int | None:
    """The line where element ``index`` of the array assigned on ``key_line`` starts, if it is an array."""
    depth, count, expecting, quote = 0, -1, False, ""
    for number in range(key_line, len(lines) + 1):
        line = lines[number - 1]
        j = line.find("=") + 1 if number == key_line else 0
        while j < len(line):
            ch = line[j]
            if quote:
                if ch == "\\" and quote == '"':
                    j += 1
                elif ch == quote:
                    quote = ""
            elif ch == "#":
                break
            elif not ch.isspace():
                if depth == 0 and ch != "[":
                    return None
                if depth == 1 and expecting and ch not in ",]":
                    count, expecting = count + 1, False
                    if count == index:
                        return number
                if ch in "\"'":
                    quote = ch
                elif ch in "[{":
                    depth += 1
                    expecting = expecting or depth == 1
                elif ch in "]}":
                    depth -= 1
                    if depth == 0:
                        return None
                elif ch == "," and depth == 1:
                    expecting = True
            j += 1
    return None


# --------------------------------------------------------------------------- building


@dataclass(frozen=True, slots=True)
class _Knobs:
    demand: float = 1.0
    fleet: float = 1.0
    prep: float = 1.0


def _parse_overrides(overrides: Mapping[str, Any] | None) -> _Knobs:
    """Multipliers a planner varies without editing the file; ``None`` values mean 'not given'."""
    values: dict[str, float] = {}
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in OVERRIDE_KEYS:
            raise InputError("overrides", f"unknown override; expected one of {', '.join(OVERRIDE_KEYS)}", field=key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise InputError("overrides", f"must be a positive number, got {value!r}", field=key)
        values[key.removesuffix("_multiplier")] = float(value)
    return _Knobs(**values)


class _AreaSampler:
    """Points inside the service area by rejection against its H3 cells (the cells are the area)."""

    def __init__(self, area: ServiceArea, source: str) -> None:
        self.area = area
        self.source = source
        corners = [p for cell in area.cells for p in cell_boundary(cell)]
        lats = [p[0] for p in corners]
        lngs = [p[1] for p in corners]
        self.lat_range = (min(lats), max(lats))
        self.lng_range = (min(lngs), max(lngs))

    def _inside(self, lat: float, lng: float) -> Location | None:
        loc = Location(round(lat, 6), round(lng, 6))
        return loc if self.area.contains(loc) else None

    def uniform(self, rng: np.random.Generator) -> Location:
        for _ in range(_MAX_TRIES):
            loc = self._inside(rng.uniform(*self.lat_range), rng.uniform(*self.lng_range))
            if loc is not None:
                return loc
        raise InputError(self.source, "could not place a point inside the service area", field="city.service_area")

    def near(self, spot: HotSpot, rng: np.random.Generator) -> Location:
        """A 2-D normal around the spot (sd = radius / 2), re-drawn until it falls inside the area."""
        sd_lat = math.degrees(spot.radius_m / 2 / EARTH_RADIUS_M)
        sd_lng = sd_lat / max(math.cos(math.radians(spot.lat)), 1e-6)
        for _ in range(_MAX_TRIES):
            loc = self._inside(spot.lat + rng.normal(0.0, sd_lat), spot.lng + rng.normal(0.0, sd_lng))
            if loc is not None:
                return loc
        raise InputError(self.source, f"hot spot at ({spot.lat}, {spot.lng}) barely overlaps the service area", field="hot_spots")


@dataclass(frozen=True, slots=True)
class _Store:
    spec: StoreSpec
    prep: PrepTime
    popularity: float


def build_instance(scenario: Scenario, seed: int | None = None, overrides: Mapping[str, Any] | None = None) -> Instance:
    """Draw one day of the scenario: the same seed and overrides always give the same instance.

    ``overrides`` may hold ``demand_multiplier``, ``fleet_multiplier`` and ``prep_multiplier``.
    Stores, orders and couriers draw from independent streams of the seed, so a fleet override
    changes only the couriers and a prep override only preparation times.
    """
    seed = scenario.seed if seed is None else int(seed)
    knobs = _parse_overrides(overrides)
    problems = scenario.geography_problems()
    if problems:
        loc, message = problems[0]
        raise InputError(scenario.name, message, field=_dotted(loc))
    # a fifth stream for the baskets: spawn(5) keeps the first four children of spawn(4) unchanged
    store_seq, order_seq, prep_seq, courier_seq, basket_seq = np.random.SeedSequence(seed).spawn(5)
    sampler = _AreaSampler(scenario.area, scenario.name)
    stores = _build_stores(scenario, sampler, np.random.default_rng(store_seq))
    shop = _Shop.build(scenario, stores, basket_seq) if scenario.shop is not None else None
    orders = _build_orders(scenario, stores, sampler, np.random.default_rng(order_seq), np.random.default_rng(prep_seq), knobs, shop)
    couriers = _build_couriers(scenario, sampler, np.random.default_rng(courier_seq), knobs.fleet)
    travel = scenario.travel
    return Instance(
        name=scenario.name,
        stores=tuple(s.spec for s in stores),
        orders=orders,
        couriers=couriers,
        rules=scenario.rules.build(),
        travel=HaversineTravel(travel.speed_kmh, travel.detour, tuple(travel.hourly_factor or (1.0,) * 24)),
        region_res=scenario.region_res,
        meta={
            "scenario": scenario.name,
            "seed": seed,
            "service_area": scenario.city.service_area,
            "period": (scenario.time.start, scenario.time.end),
            "overrides": {"demand_multiplier": knobs.demand, "fleet_multiplier": knobs.fleet, "prep_multiplier": knobs.prep},
        },
    )


def _build_stores(scenario: Scenario, sampler: _AreaSampler, rng: np.random.Generator) -> list[_Store]:
    """Explicit stores as given, then generated ones clustered at their hot spots."""
    stores = [
        _Store(StoreSpec(s.id, Location(s.lat, s.lng), s.name), s.prep, s.popularity) for s in scenario.stores
    ]
    gen = scenario.store_generation
    if gen is not None:
        weights = _normalised([h.weight for h in gen.hot_spots])
        for i in range(1, gen.count + 1):
            if gen.hot_spots:
                loc = sampler.near(gen.hot_spots[int(rng.choice(len(gen.hot_spots), p=weights))], rng)
            else:
                loc = sampler.uniform(rng)
            popularity = float(rng.lognormal(0.0, gen.popularity_sd)) if gen.popularity_sd > 0 else 1.0
            stores.append(_Store(StoreSpec(f"{gen.id_prefix}{i}", loc, f"Store {gen.id_prefix}{i}"), gen.prep, popularity))
    return stores


@dataclass(frozen=True, slots=True)
class _Shop:
    """The day's shoppers (``[shop]``) and the booking draws of their big baskets, both from the basket stream."""

    config: ShopConfig
    shopper: Shopper
    booking_rng: np.random.Generator
    max_size: int

    @staticmethod
    def build(scenario: Scenario, stores: list[_Store], seq: np.random.SeedSequence) -> _Shop:
        config = scenario.shop
        assert config is not None
        shopper_seq, booking_seq = seq.spawn(2)
        catalog = demo_catalog([(s.spec.id, s.spec.name or s.spec.id, s.spec.location.lat, s.spec.location.lng) for s in stores])
        shopper = Shopper(catalog, DEMO_COUPONS, tiers_for, int(shopper_seq.generate_state(1)[0]), coupon_share=config.coupon_share)
        max_size = min(MAX_ORDER_SIZE, max(s.capacity for s in scenario.shifts))
        return _Shop(config, shopper, np.random.default_rng(booking_seq), max_size)

    def size(self, items: int) -> int:
        return min(1 + items // self.config.items_per_size, self.max_size)

    def prep_extra(self, items: int) -> float:
        return min(self.config.prep_per_item * max(0, items - 1), self.config.prep_extra_max)

    def books_ahead(self, store_id: str, items: int) -> bool:
        """A big grocery shop drawn ASAP is booked into a slot with probability ``book_ahead_share``."""
        cfg = self.config
        if items < cfg.book_ahead_items or cfg.book_ahead_share <= 0 or not self.shopper.big_baskets(store_id):
            return False
        return bool(self.booking_rng.random() < cfg.book_ahead_share)


def _build_orders(
    scenario: Scenario,
    stores: list[_Store],
    sampler: _AreaSampler,
    rng: np.random.Generator,
    prep_rng: np.random.Generator,
    knobs: _Knobs,
    shop: _Shop | None = None,
) -> tuple[OrderSpec, ...]:
    """Arrivals, drop-offs, store choice, preparation and delivery mode, in that order of draws.

    The baskets draw from their own stream (``shop``), so the draws of the order stream are the
    same with or without them.
    """
    period = scenario.time
    times = _arrival_times(scenario.demand.segments(), period.start, period.end, knobs.demand, rng)
    dropoffs = _dropoffs(len(times), scenario.demand, sampler, rng)
    chosen = _choose_stores(dropoffs, stores, scenario.demand, rng)
    mix = scenario.mix
    modes = rng.choice(3, size=len(times), p=_normalised([mix.asap, mix.scheduled, mix.timed]))
    orders: list[OrderSpec] = []
    for i, (placed, drop, store_index, mode_index) in enumerate(zip(times, dropoffs, chosen, modes), start=1):
        store = stores[int(store_index)]
        store_id = store.spec.id
        placed = round(float(placed), 2)
        mode_index, window_rng = int(mode_index), rng
        lines: tuple[CartLine, ...] = ()
        items, extra, size = 0, 0.0, 1
        if shop is not None and shop.shopper.sells(store_id):
            lines = shop.shopper.fill(store_id)
            items = sum(line.qty for line in lines)
            size, extra = shop.size(items), shop.prep_extra(items)
            if mode_index == 0 and shop.books_ahead(store_id, items):
                mode_index, window_rng = 1, shop.booking_rng  # the order stream stays as it was
        ready = round(placed + store.prep.sample(prep_rng, knobs.prep, extra), 2)
        mode, window = _window(mode_index, placed, scenario, window_rng)
        basket = None
        if shop is not None and lines:
            basket = shop.shopper.checkout(store_id, lines, placed, str(mode), haversine_m(store.spec.location, drop))
        orders.append(OrderSpec(f"o{i}", store_id, drop, placed, ready, window, mode, size, basket))
    return tuple(orders)


def _arrival_times(
    segments: list[tuple[float, float, float]], start: float, end: float, multiplier: float, rng: np.random.Generator
) -> np.ndarray:
    """A non-homogeneous Poisson process with a step rate: per step a Poisson count, uniform times."""
    pieces: list[np.ndarray] = []
    for seg_start, seg_end, per_hour in segments:
        lo, hi = max(seg_start, start), min(seg_end, end)
        if hi <= lo or per_hour <= 0:
            continue
        count = rng.poisson(per_hour * multiplier * (hi - lo) / 60.0)
        pieces.append(rng.uniform(lo, hi, size=count))
    return np.sort(np.concatenate(pieces)) if pieces else np.empty(0)


def _dropoffs(n: int, demand: DemandConfig, sampler: _AreaSampler, rng: np.random.Generator) -> list[Location]:
    """A ``hot_spot_share`` of drop-offs near the hot spots (by weight), the rest uniform over the area."""
    spots = demand.hot_spots
    at_spot = rng.random(n) < (demand.hot_spot_share if spots else 0.0)
    which = rng.choice(len(spots), size=n, p=_normalised([h.weight for h in spots])) if spots else np.zeros(n, dtype=int)
    return [sampler.near(spots[int(w)], rng) if hot else sampler.uniform(rng) for hot, w in zip(at_spot, which)]


def _choose_stores(dropoffs: list[Location], stores: list[_Store], demand: DemandConfig, rng: np.random.Generator) -> np.ndarray:
    """Each customer picks a store by popularity, discounted by distance (gravity model)."""
    n = len(dropoffs)
    if n == 0:
        return np.empty(0, dtype=int)
    d_lat = np.radians([d.lat for d in dropoffs])[:, None]
    d_lng = np.radians([d.lng for d in dropoffs])[:, None]
    s_lat = np.radians([s.spec.location.lat for s in stores])[None, :]
    s_lng = np.radians([s.spec.location.lng for s in stores])[None, :]
    h = np.sin((s_lat - d_lat) / 2) ** 2 + np.cos(d_lat) * np.cos(s_lat) * np.sin((s_lng - d_lng) / 2) ** 2
    dist = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))
    nearest = dist.argmin(axis=1)
    popularity = np.array([s.popularity for s in stores])[None, :]
    if demand.store_choice == "nearest":
        weights = np.zeros_like(dist)
    elif demand.store_choice == "popularity":
        weights = np.broadcast_to(popularity, dist.shape).copy()
    else:
        weights = popularity * np.exp(-dist / demand.distance_decay_m)
    if demand.max_distance_m is not None:
        weights[dist > demand.max_distance_m] = 0.0
    weights[np.arange(n), nearest] = np.maximum(weights[np.arange(n), nearest], 1e-300)
    cumulative = np.cumsum(weights, axis=1)
    draws = rng.random(n) * cumulative[:, -1]
    return np.minimum((cumulative <= draws[:, None]).sum(axis=1), len(stores) - 1)


def _window(mode_index: int, placed: float, scenario: Scenario, rng: np.random.Generator) -> tuple[DeliveryMode, DeliveryWindow]:
    """The window of the drawn mode; a booking with no slot left before the period ends becomes ASAP.

    Slots and exact times must fall inside the simulated period, or couriers whose shifts end with
    it could never serve them; late in the period customers can only order ASAP.
    """
    mix, rules, end = scenario.mix, scenario.rules, scenario.time.end
    if mode_index == 1:
        slot = mix.slot_minutes
        first = math.ceil((placed + mix.booking_lead) / slot) * slot
        last = min(placed + mix.booking_horizon, end - slot)
        if first <= last + 1e-9:
            start = first + slot * int(rng.integers(0, math.floor((last - first) / slot + 1e-9) + 1))
            return DeliveryMode.SCHEDULED, scheduled_window(placed, start, start + slot, mix.grace)
    elif mode_index == 2:
        step, tol = mix.timed_step, mix.timed_tolerance
        first = math.ceil((placed + max(mix.booking_lead, tol)) / step) * step
        last = min(placed + mix.booking_horizon, end - tol)
        if first <= last + 1e-9:
            at = first + step * int(rng.integers(0, math.floor((last - first) / step + 1e-9) + 1))
            return DeliveryMode.TIMED, timed_window(placed, at, tol, mix.grace)
    return DeliveryMode.ASAP, asap_window(placed, rules.target_click_to_door, rules.max_click_to_door)


def _build_couriers(scenario: Scenario, sampler: _AreaSampler, rng: np.random.Generator, fleet: float) -> tuple[CourierSpec, ...]:
    """Each shift block scaled by the fleet multiplier; couriers log in at its hot spot or anywhere."""
    couriers: list[CourierSpec] = []
    for shift in scenario.shifts:
        for _ in range(int(math.floor(shift.count * fleet + 0.5))):
            spot = shift.start_hot_spot
            loc = sampler.near(spot, rng) if spot is not None else sampler.uniform(rng)
            couriers.append(CourierSpec(f"c{len(couriers) + 1}", loc, shift.start, shift.end, shift.capacity))
    return tuple(couriers)


def _normalised(weights: Sequence[float]) -> np.ndarray:
    array = np.asarray(weights, dtype=float)
    return array / array.sum() if array.size else array
