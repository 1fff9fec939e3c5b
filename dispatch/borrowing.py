"""Couriers lent across region borders: which idle couriers go from which region to which.

Regions never share a solve; a region whose orders wait with no courier of its own to take them
borrows idle couriers from the nearest regions that have some, as a city-level balancer would.
The simulator plans every region's loans at once after each tick (``simulator.engine``); live, each
region's host plans the same way from the loads that every region publishes, and carries out its
own row of the plan (``actors.live_host``). Either way the donor's shard picks the couriers
(nearest to the borrower first, ``RegionShard._lend``) and hands them over; they stay with the
borrower for ``RegionShard.loan_minutes`` and then belong to wherever they stand.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dispatch.geo import haversine_m
from dispatch.zones import cell_center


@dataclass(frozen=True, slots=True)
class RegionLoad:
    """What a region says of itself after a step: the orders it cannot serve, the couriers it could spare."""

    waiting: int  # open orders whose food has been ready a while with no courier (``StepResult.waiting``)
    idle: int  # couriers on shift with nothing to do


Loans = dict[int, dict[int, int]]  # donor region -> borrowing region -> couriers


def plan_loans(loads: Mapping[int, RegionLoad]) -> Loans:
    """Each short region, in region order, takes idle couriers from the nearest regions with none waiting.

    A region is short when orders wait; a donor is a region with idle couriers and nothing waiting.
    A short region asks for as many couriers as orders wait (a courier may carry several, but the
    first one in is what ends the starvation; the borrower's own policy bundles what it can).
    """
    spare = {r: load.idle for r, load in loads.items() if load.idle > 0 and load.waiting == 0}
    plan: Loans = {}
    for region in sorted(r for r, load in loads.items() if load.waiting > 0):
        need = loads[region].waiting
        centre = cell_center(region)
        for donor in sorted(spare, key=lambda d: (haversine_m(cell_center(d), centre), d)):
            if need == 0:
                break
            give = min(need, spare[donor])
            if give:
                plan.setdefault(donor, {})[region] = plan.get(donor, {}).get(region, 0) + give
                spare[donor] -= give
                need -= give
    return plan
