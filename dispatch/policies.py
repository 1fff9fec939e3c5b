"""Policies by name, so a shard (or a Ray actor) can build its own from plain, picklable settings.

Any policy takes ``reposition``: a demand forecast (``DemandForecast.to_dict()``) or
``{"forecast": <that dict>, <option>: ...}`` wraps it in ``dispatch.reposition.Repositioning``,
which moves idle couriers toward forecast demand; ``None``/``False`` leaves it bare.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dispatch.greedy import GreedyPolicy
from dispatch.policy import DispatchPolicy


def _ortools(**params: Any) -> DispatchPolicy:
    from dispatch.ortools_policy import OrtoolsPolicy  # OR-Tools loads only when asked for

    return OrtoolsPolicy(**params)


POLICIES: dict[str, Callable[..., DispatchPolicy]] = {"greedy": GreedyPolicy, "ortools": _ortools}


def make_policy(name: str, **params: Any) -> DispatchPolicy:
    try:
        factory = POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; known: {', '.join(sorted(POLICIES))}") from None
    reposition = params.pop("reposition", None)
    policy = factory(**params)
    if reposition is None or reposition is False:
        return policy
    from dispatch.reposition import Repositioning

    return Repositioning.from_param(policy, reposition)
