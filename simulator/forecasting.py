"""Demand forecasts learned from simulated or replayed days, for repositioning (``dispatch.reposition``).

- ``forecast_from_days(days)``: fit a ``DemandForecast`` on the orders of some instances (each one
  day), by the zone of the store (default) or of the drop-off;
- ``forecast_from_instance(instance, seeds)``: other seeds of the instance's scenario (a fair,
  out-of-sample forecast: the run being measured is not among them), or with no seeds the
  instance's own day (an MDRP day replayed: in-sample, so optimistic — the forecast has seen
  the day it is used on);
- ``resolve_reposition(instance, params)``: what ``run_simulation`` calls so that
  ``policy_params`` may say ``reposition=True`` (or ``{"forecast": True, <options>}``): it learns
  the forecast here, where orders are at hand, and puts its dict in the parameters.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dispatch.forecast import DemandForecast
from simulator.instance import Instance

log = logging.getLogger(__name__)

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
DEFAULT_SEEDS_AHEAD = 3  # reposition=True on a scenario day: learn from the next three seeds


def forecast_from_days(days: Iterable[Instance], res: int = 7, by: str = "store", spatial: float = 0.3,
                       temporal: float = 0.3) -> DemandForecast:
    """A forecast fitted on every order of ``days`` (one instance = one day)."""
    days = list(days)
    if not days:
        raise ValueError("a forecast needs at least one day of orders")
    points = []
    for day in days:
        where = {s.id: s.location for s in day.stores}
        for o in day.orders:
            points.append((o.placed_at, where[o.store_id] if by == "store" else o.dropoff))
    return DemandForecast(res, spatial, temporal, by).fit(points, days=len(days))


def _scenario_of(instance: Instance, scenario: Any) -> Any:
    from simulator.scenario import Scenario, load_scenario

    if isinstance(scenario, Scenario):
        return scenario
    if scenario is not None:
        return load_scenario(scenario)
    name = instance.meta.get("scenario")
    path = SCENARIO_DIR / f"{name}.toml" if name else None
    if path is None or not path.is_file():
        raise ValueError(f"instance {instance.name!r}: cannot find its scenario to draw other seeds; pass scenario=")
    return load_scenario(path)


def forecast_from_instance(instance: Instance, seeds: Sequence[int] | None = None, *, scenario: Any = None,
                           res: int = 7, by: str = "store", spatial: float = 0.3, temporal: float = 0.3) -> DemandForecast:
    """Learn a forecast for ``instance``'s city.

    ``seeds``: days of the instance's scenario (the scenario file is found by name in
    ``simulator/scenarios`` unless ``scenario`` — a ``Scenario`` or a path — is given), drawn with
    the instance's own overrides. ``None`` or empty: the instance's own orders (in-sample; the only
    choice for a replayed MDRP day).
    """
    if not seeds:
        return forecast_from_days([instance], res, by, spatial, temporal)
    from simulator.scenario import build_instance

    if instance.meta.get("source") == "mdrp":
        raise ValueError("an MDRP day has no seeds; learn from the day itself (seeds=None) or from other days")
    sc = _scenario_of(instance, scenario)
    overrides = instance.meta.get("overrides")
    own = instance.meta.get("seed")
    if own is not None and own in seeds:
        log.warning("%s: the forecast learns from seed %s, the day it will be used on (in-sample)", instance.name, own)
    days = [build_instance(sc, s, overrides) for s in seeds]
    return forecast_from_days(days, res, by, spatial, temporal)


def resolve_reposition(instance: Instance, params: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Replace ``reposition=True`` (or ``{"forecast": True, ...}``) in policy parameters by a learned forecast.

    Scenario days learn from the next ``DEFAULT_SEEDS_AHEAD`` seeds of their scenario (or
    ``{"forecast": True, "seeds": [...]}``); MDRP days from themselves (in-sample). Returns the
    parameters and a note of what was learned (None when nothing was resolved).
    """
    out = dict(params or {})
    value = out.get("reposition")
    if value is True:
        value = {"forecast": True}
    if not (isinstance(value, Mapping) and value.get("forecast") is True):
        return out, None
    options = {k: v for k, v in value.items() if k not in ("forecast", "seeds")}
    if instance.meta.get("source") == "mdrp":
        seeds: list[int] = []
    else:
        own = int(instance.meta.get("seed", 0))
        seeds = [int(s) for s in value.get("seeds", range(own + 1, own + 1 + DEFAULT_SEEDS_AHEAD))]
    fc = forecast_from_instance(instance, seeds)
    in_sample = not seeds or instance.meta.get("seed") in seeds
    note = {"learned_from": f"seeds {seeds}" if seeds else "the day itself (in-sample)", "in_sample": in_sample,
            "zones": len(fc.zones), "orders": fc.orders, "days": fc.days}
    out["reposition"] = {"forecast": fc.to_dict(), **options}
    return out, note
