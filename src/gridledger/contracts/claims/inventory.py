"""A claim's inventory, computed from the ledger's own state.

The carbon read model's inventories are not state: a contract cannot read them. The same
figures are recomputed here from what the state commits, for the claim's sites and months:

* consumption: the site's meters (:func:`gridledger.contracts.metering.measured_wh`,
  corrections applied), the whole month;
* covered consumption: energy certificates claimed for the site with production in the
  month, up to the consumption (monthly volume matching,
  :func:`gridledger.contracts.certificates.queries.matching`);
* factors: the carbon factor set in force for the site's region at the month's start, along
  the province, regional grid, country fallback (``carbon.no_factor`` if none);
* scope 1: the site's activity data of the month that a carbon verifier confirmed.

Rounding is down once per site and month, as carbon accounting rounds.
"""

from __future__ import annotations

from gridledger.contracts import carbon, metering
from gridledger.contracts.certificates.queries import matching
from gridledger.contracts.claims.errors import MixedGas
from gridledger.contracts.claims.records import ClaimInventory, SiteMonth
from gridledger.contracts.credits.projects import months_of
from gridledger.state.state import StateReader

WH_PER_MWH = 1_000_000


def site_month(view: StateReader, site: str, region: str, month: str, start_s: int,
               end_s: int, scope1_g: int) -> tuple[SiteMonth, str]:  # fmt: skip
    """One site's month (see the module docstring) and the gas of its factor set."""
    used = metering.measured_wh(view, "site", site, start_s, end_s).energy_wh
    claimed = matching(view, site, start_s, end_s).claimed_wh
    covered = min(claimed, used)
    found = carbon.factor_for(view, region, start_s).set
    grid = found.grid_average.g_per_mwh
    market = grid if found.residual_mix is None else found.residual_mix.g_per_mwh
    return SiteMonth(
        site=site, month=month, consumption_wh=used, covered_wh=covered, grid_g_per_mwh=grid,
        market_g_per_mwh=market, factor_set=found.id, scope1_g=scope1_g,
        scope2_location_g=used * grid // WH_PER_MWH,
        scope2_market_g=(used - covered) * market // WH_PER_MWH,
    ), found.gas  # fmt: skip


def claim_inventory(view: StateReader, org: str, sites: list[tuple[str, str]], start_s: int,
                    end_s: int, scope3_g: int) -> ClaimInventory:  # fmt: skip
    """The inventory of ``sites`` (``(site, grid region)``, in order) of ``org`` over the
    whole months of ``[start_s, end_s)``.

    Raises:
        NoFactor: a site's month has no factor set in force.
        MixedGas: factor sets or confirmed scope 1 data of different gases.
    """
    months = months_of(start_s, end_s)
    names = {m for m, _, _ in months}
    wanted = {s for s, _ in sites}
    scope1: dict[tuple[str, str], int] = {}
    gases: set[str] = set()
    for act in carbon.activities_of(view, org):
        if act.status == "confirmed" and act.site in wanted and act.month in names:
            scope1[(act.site, act.month)] = scope1.get((act.site, act.month), 0) + act.emissions_g
            gases.add(act.gas)
    rows = []
    for site, region in sites:
        for month, start, end in months:
            row, gas = site_month(view, site, region, month, start, end,
                                  scope1.get((site, month), 0))  # fmt: skip
            rows.append(row)
            gases.add(gas)
    if len(gases) > 1:
        raise MixedGas(f"the inventory mixes {' and '.join(sorted(gases))}")
    return ClaimInventory(
        gas=min(gases), scope1_g=sum(r.scope1_g for r in rows),
        scope2_location_g=sum(r.scope2_location_g for r in rows),
        scope2_market_g=sum(r.scope2_market_g for r in rows), scope3_g=scope3_g, months=rows,
    )  # fmt: skip
