"""What an energy community did, read back from the ledger alone.

:func:`ledger_summary` takes a state (any :class:`~gridledger.state.state.StateReader`: a
running node's, or a reopened home's), a connection to the chain's read models and a window of
hourly intervals, and adds up:

* energy from the meters' readings (corrections applied): every device's generation and every
  site's consumption;
* the market's result per interval (``market/interval/<start>``): paired Wh and pairings and
  the clearing price once cleared; delivered Wh, grid import and export of the market's
  participants and the payments once settled (its ``settlement`` totals);
* what the market did not settle (households that chose the grid, plants that offered
  nothing) as plain grid supply and feed-in, from the readings;
* the accounts' running totals (the market's read model, :mod:`gridledger.readmodels.market`)
  and the money (balances, escrow, supply), so the parts can be checked against each other;
* certificates (:mod:`gridledger.contracts.certificates`): the Wh certified per production
  hour (what each issuance still certifies: issued - withdrawn + re-issued) and the Wh
  claimed for the sites with production in each hour, beside the hourly-matched Wh of the
  24/7 score (per site and hour, the lesser of consumption and claimed);
* carbon (:mod:`gridledger.readmodels.carbon_inventory`, over the whole UTC months the window
  touches): every site's inventory summed into the community's scope 2 by both methods and
  the emissions the households' clean choices avoided, and the plants' avoided emissions
  apart (:func:`carbon_summary`).

Units: energy in Wh, money in minor units (fen), prices in minor units per kWh, emissions in
grams of the factor sets' gas; shares are decimals from 0 to 1.
"""

from __future__ import annotations

import sqlite3
import statistics
from collections.abc import Collection
from typing import Any

import msgspec

from gridledger.contracts import certificates, funds, market, metering, registry
from gridledger.core.errors import GridLedgerError
from gridledger.readmodels import carbon_inventory
from gridledger.readmodels import market as totals
from gridledger.readmodels.carbon import zone_of
from gridledger.sim.site import SHEKOU, Site
from gridledger.state.state import StateReader

HOUR_S = 3600
DAY_S = 86_400

_SUMS = (
    "generation_wh",
    "consumption_wh",
    "clean_consumption_wh",
    "paired_wh",
    "delivered_wh",
    "grid_import_wh",
    "grid_export_wh",
    "pairings",
    "clean_paid",
    "grid_paid",
    "feed_in_paid",
    "unpaid",
    "intervals",
    "cleared",
    "settled",
    "missing_data",
    "market_consumption_wh",
    "market_generation_wh",
    "market_grid_import_wh",
    "market_grid_export_wh",
    "certified_wh",
    "claimed_wh",
    "hourly_matched_wh",
)
"""What is added up interval by interval."""
CONSUMER_TOTALS = ("consumed_wh", "clean_wh", "grid_import_wh", "clean_paid_fen", "grid_paid_fen")
PRODUCER_TOTALS = (
    "generated_wh",
    "sold_wh",
    "exported_wh",
    "clean_revenue_fen",
    "feed_in_revenue_fen",
)
"""The accounts' totals (:mod:`gridledger.readmodels.market`) added up as consumers and as
producers."""


Energy = dict[tuple[registry.AssetKind, str], dict[int, int]]
"""Wh by ``(kind, id)`` of a device or site and by interval start (a device and a site may
share an id)."""


def metered(state: StateReader, start: int, end: int) -> Energy:
    """Wh by device or site and interval start, over every meter, corrections applied."""
    out: Energy = {}
    for meter in registry.list_meters(state).items:
        per = out.setdefault(meter.asset(), {})
        for rec in metering.readings(state, meter.id, start, end, limit=1_000_000):
            per[rec.start_s] = per.get(rec.start_s, 0) + rec.effective_wh()
    return out


class Certified:
    """Certificates of a window by production hour: Wh certified (standing) over every
    device, Wh claimed and Wh hourly matched over every site."""

    def __init__(
        self, state: StateReader, devices: list[str], sites: list[str], start: int, end: int
    ) -> None:
        self.certified: dict[int, int] = {}
        self.claimed: dict[int, int] = {}
        self.matched: dict[int, int] = {}
        self.claimed_long_wh = 0
        """Wh claimed from certificates of more than an hour (a GEC's month): in the
        total, in no hour."""
        self.intervals = 0
        self.withdrawn_wh = 0
        for device in devices:
            for item in certificates.issuances(state, device, start, end):
                hour = item.start_s - item.start_s % HOUR_S
                standing = item.quantity_wh - item.withdrawn_wh + item.reissued_wh
                self.certified[hour] = self.certified.get(hour, 0) + standing
                self.intervals += 1
                self.withdrawn_wh += item.withdrawn_wh
        for site in sites:
            found = certificates.matching(state, site, start, end)
            self.claimed_long_wh += found.claimed_wh - sum(h.claimed_wh for h in found.hours)
            for h in found.hours:
                self.claimed[h.start_s] = self.claimed.get(h.start_s, 0) + h.claimed_wh
                self.matched[h.start_s] = self.matched.get(h.start_s, 0) + h.matched_wh


def _interval(
    state: StateReader,
    start: int,
    energy: Energy,
    devices: list[str],
    sites: list[str],
    clean_sites: list[str],
    certified: Certified,
) -> tuple[dict[str, int], int | None]:
    """One interval's sums (``_SUMS``) and its clearing price (None if none)."""
    f = dict.fromkeys(_SUMS, 0)
    f["intervals"] = 1
    f["certified_wh"] = certified.certified.get(start, 0)
    f["claimed_wh"] = certified.claimed.get(start, 0)
    f["hourly_matched_wh"] = certified.matched.get(start, 0)

    def wh(kind: registry.AssetKind, asset: str) -> int:
        return energy.get((kind, asset), {}).get(start, 0)

    f["generation_wh"] = sum(wh("device", d) for d in devices)
    f["consumption_wh"] = sum(wh("site", s) for s in sites)
    f["clean_consumption_wh"] = sum(wh("site", s) for s in clean_sites)
    # imports are sites', exports devices'
    grid = market.grid_settlements(state, start)
    imported = {g.asset: g.energy_wh for g in grid if g.direction == "import"}
    exported = {g.asset: g.energy_wh for g in grid if g.direction == "export"}
    f["grid_import_wh"] = sum(imported.get(s, wh("site", s)) for s in sites)
    f["grid_export_wh"] = sum(exported.get(d, wh("device", d)) for d in devices)
    record = market.get_interval(state, start)
    if record is None or record.status == "open":
        return f, None
    f["cleared"] = 1
    f["paired_wh"] = record.volume_wh or 0
    f["pairings"] = record.pairings or 0
    s = record.settlement
    if s is not None:
        f["settled"] = 1
        f["missing_data"] = int(bool(record.missing_data))
        f["delivered_wh"] = s.delivered_wh
        f["clean_paid"] = s.clean_paid_fen
        f["grid_paid"] = s.grid_paid_fen
        f["feed_in_paid"] = s.feed_in_paid_fen
        f["unpaid"] = s.unpaid_fen
        f["market_consumption_wh"] = s.consumption_wh
        f["market_generation_wh"] = s.generation_wh
        f["market_grid_import_wh"] = s.grid_import_wh
        f["market_grid_export_wh"] = s.grid_export_wh
    return f, record.clearing_price_fen_per_kwh


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _figures(sums: dict[str, int], prices: list[int]) -> dict[str, Any]:
    """The figures of a stretch of intervals, from their sums and clearing prices."""
    delivered = sums["delivered_wh"]
    return {
        "generation_wh": sums["generation_wh"],
        "consumption_wh": sums["consumption_wh"],
        "paired_wh": sums["paired_wh"],
        "delivered_wh": delivered,
        "grid_import_wh": sums["grid_import_wh"],
        "grid_export_wh": sums["grid_export_wh"],
        "clean_share": _share(delivered, sums["consumption_wh"]),
        "clean_share_clean_households": _share(delivered, sums["clean_consumption_wh"]),
        "clean_consumption_wh": sums["clean_consumption_wh"],
        "certified_wh": sums["certified_wh"],
        "claimed_wh": sums["claimed_wh"],
        "hourly_matched_share": _share(sums["hourly_matched_wh"], sums["consumption_wh"]),
        "pairings": sums["pairings"],
        "clearing_price": {
            "min": min(prices) if prices else None,
            "max": max(prices) if prices else None,
            "mean": round(statistics.fmean(prices), 2) if prices else None,
        },
        "clean_price_paid": round(sums["clean_paid"] * 1000 / delivered, 2) if delivered else None,
        "payments": {
            "clean": sums["clean_paid"],
            "grid": sums["grid_paid"],
            "feed_in": sums["feed_in_paid"],
            "unpaid": sums["unpaid"],
        },
        "intervals": {
            "total": sums["intervals"],
            "cleared": sums["cleared"],
            "settled": sums["settled"],
            "missing_data": sums["missing_data"],
        },
    }


def _distribution(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"min": None, "median": None, "max": None}
    return {
        "min": round(min(values), 4),
        "median": round(statistics.median(values), 4),
        "max": round(max(values), 4),
    }


_INVENTORY_SUMS = (
    "consumption_wh",
    "claimed_wh",
    "matched_hourly_wh",
    "covered_volume_wh",
    "scope2_location_g",
    "scope2_market_volume_g",
    "scope2_market_hourly_g",
    "avoided_g",
    "readings",
    "corrected",
)
"""What :func:`carbon_summary` adds up over the sites' inventories."""


def carbon_summary(
    state: StateReader,
    conn: sqlite3.Connection,
    sites: list[str],
    device_records: list[registry.Device],
    start: int,
    end: int,
) -> dict[str, Any]:
    """The community's carbon figures over the whole months ``start`` .. ``end`` touch (months
    of the chain's time zone, as the carbon read model counts them),
    from each site's inventory (:func:`~gridledger.readmodels.carbon_inventory.site_inventory`)
    and the plants' rows of their owners' inventories.

    The sites' figures are summed (each is rounded down once per site and month, as its own
    inventory is). ``avoided_g`` is what the households' clean choices avoided (certificates
    claimed for their sites x the grid-average factor); ``plants_avoided_g`` what the plants'
    metered generation avoided. Energy a plant delivered to a household is in both, so the two
    are given apart and never added. ``factors`` lists every factor used, once each, and
    ``fallbacks`` every region whose factors came from another region.

    Raises:
        GridLedgerError: an inventory is refused (``carbon.no_factor``: no factor set in
            force for a site's region and month; ``carbon.mixed_gas``).
    """
    local = zone_of(conn)
    first = local.month_text(start)
    last = local.month_text(end - 1)
    sums = dict.fromkeys(_INVENTORY_SUMS, 0)
    gases: set[str] = set()
    used: dict[tuple[str, str, str], carbon_inventory.FactorUse] = {}
    fallbacks: set[str] = set()
    for site in sorted(sites):
        inventory = carbon_inventory.site_inventory(conn, state, site, first, last)
        for name in _INVENTORY_SUMS:
            sums[name] += getattr(inventory, name)
        if inventory.months:
            gases.add(inventory.gas)
        for f in inventory.factors:
            used.setdefault((f.set, f.region, f.role), f)
        fallbacks.update(inventory.fallbacks)
    plants_wh = plants_g = 0
    for org in sorted({d.owner_org for d in device_records}):
        inventory = carbon_inventory.org_inventory(conn, state, org, first, last)
        plants_wh += sum(p.generation_wh for p in inventory.plants)
        plants_g += sum(p.avoided_g for p in inventory.plants)
        if inventory.plants:
            gases.add(inventory.gas)
        for p in inventory.plants:
            used.setdefault((p.grid.set, p.grid.region, p.grid.role), p.grid)
        fallbacks.update(inventory.fallbacks)
    if len(gases) > 1:
        raise carbon_inventory.MixedGas(
            f"the community's factor sets are in {' and '.join(sorted(gases))}"
        )
    return {
        "period": {"start": first, "end": last},
        "gas": next(iter(gases)) if gases else None,
        "sites": len(sites),
        **sums,
        "plants_generation_wh": plants_wh,
        "plants_avoided_g": plants_g,
        "factors": [msgspec.to_builtins(used[k]) for k in sorted(used)],
        "fallbacks": sorted(fallbacks),
    }


def _carbon_fields(
    state: StateReader,
    conn: sqlite3.Connection,
    sites: list[str],
    device_records: list[registry.Device],
    start: int,
    end: int,
) -> dict[str, Any]:
    """The summary's four carbon figures and its ``carbon`` block; the figures are None and
    the block holds the error when the inventories cannot be computed."""
    try:
        c = carbon_summary(state, conn, sites, device_records, start, end)
    except GridLedgerError as exc:
        return {
            "scope2_location_gco2e": None,
            "scope2_market_gco2e": None,
            "scope2_market_hourly_gco2e": None,
            "avoided_gco2e": None,
            "carbon": {"error": {"code": exc.code, "message": exc.message}},
        }
    return {
        "scope2_location_gco2e": c["scope2_location_g"],
        "scope2_market_gco2e": c["scope2_market_volume_g"],
        "scope2_market_hourly_gco2e": c["scope2_market_hourly_g"],
        "avoided_gco2e": c["avoided_g"],
        "carbon": c,
    }


def ledger_summary(
    state: StateReader,
    conn: sqlite3.Connection,
    start: int,
    end: int,
    site: Site = SHEKOU,
    exclude_sites: Collection[str] = (),
) -> dict[str, Any]:
    """The community's figures from ``start`` to ``end`` (hourly intervals), in total and by
    local day at ``site``, from the ledger alone.

    ``conn`` reads the market's read model beside the chain (``node.readmodels.reader()``),
    which holds each account's totals. Plants and households are every device and site on the
    chain but ``exclude_sites`` (the works of the supply chain the community meters, which are
    no households and take no part in its market); a household's choice is its
    ``market.set_preference``. Energy the market did not settle counts as grid supply or
    feed-in, so when the settlements are consistent, ``delivered_wh + grid_import_wh ==
    consumption_wh`` and ``delivered_wh + grid_export_wh == generation_wh``, in total and on
    every day. ``clean_share`` is ``delivered_wh / consumption_wh``;
    ``clean_share_clean_households`` the same over the households that chose clean power.
    ``clean_price_paid`` is what delivered clean energy cost on average, per kWh.

    ``certified_wh`` are the Wh of certificates issued for production in the window (less what
    was withdrawn since), ``claimed_wh`` those claimed for the community's sites (a settled
    pairing's delivery is claimed for its consumer once its hour is issued), and
    ``hourly_matched_share`` the community's 24/7 score: per site and hour the lesser of
    consumption and claimed, over all consumption.

    Carbon, over the UTC months the window touches (:func:`carbon_summary`):
    ``scope2_location_gco2e`` (consumption x the grid-average factor), ``scope2_market_gco2e``
    (market-based, certificates matched by volume over the period) and
    ``scope2_market_hourly_gco2e`` (matched hour by hour), and ``avoided_gco2e`` (what the
    households' clean choices avoided), in grams of the ``carbon`` block's ``gas``; the block
    adds the energy behind them, the plants' avoided emissions, the factors used and any
    fallback. Without factors in force the four are None and ``carbon`` holds the error.
    """
    device_records = registry.list_devices(state).items
    devices = [d.id for d in device_records]
    sites = [s.id for s in registry.list_sites(state).items if s.id not in exclude_sites]
    choices = {pref.site: pref for pref in market.preferences(state)}
    clean_sites = [s for s in sites if s in choices and choices[s].choice == "clean"]
    energy = metered(state, start, end)
    certified = Certified(state, devices, sites, start, end)

    total = dict.fromkeys(_SUMS, 0)
    all_prices: list[int] = []
    days: list[dict[str, Any]] = []
    for day_start in range(start, end, DAY_S):
        sums = dict.fromkeys(_SUMS, 0)
        prices: list[int] = []
        for at in range(day_start, min(end, day_start + DAY_S), HOUR_S):
            f, price = _interval(state, at, energy, devices, sites, clean_sites, certified)
            for name in _SUMS:
                sums[name] += f[name]
            if price is not None:
                prices.append(price)
        days.append({"date": site.local(day_start).date().isoformat(), **_figures(sums, prices)})
        for name in _SUMS:
            total[name] += sums[name]
        all_prices += prices

    every = totals.every_account_totals(conn)
    consumers = {name: sum(getattr(t, name) for t in every) for name in CONSUMER_TOTALS}
    producers = {name: sum(getattr(t, name) for t in every) for name in PRODUCER_TOTALS}
    by_account = {t.account: t for t in every}
    shares = []
    for s in clean_sites:
        found = by_account.get(choices[s].account)
        if found is not None and found.consumed_wh:
            shares.append(found.clean_wh / found.consumed_wh)
    figures = _figures(total, all_prices)
    figures["claimed_wh"] += certified.claimed_long_wh
    return {
        **figures,
        **_carbon_fields(state, conn, sites, device_records, start, end),
        "certificates": {
            "certified_wh": figures["certified_wh"],
            "claimed_wh": figures["claimed_wh"],
            "hourly_matched_wh": total["hourly_matched_wh"],
            "hourly_matched_share": figures["hourly_matched_share"],
            "intervals": certified.intervals,
            "withdrawn_wh": certified.withdrawn_wh,
        },
        "households": {
            **market.household_choices(state, exclude=exclude_sites),
            "clean_share": _distribution(shares),
        },
        "plants": {
            "total": len(devices),
            "capacity_w": sum(d.capacity_w for d in device_records),
        },
        "market": {
            "consumption_wh": total["market_consumption_wh"],
            "generation_wh": total["market_generation_wh"],
            "delivered_wh": total["delivered_wh"],
            "grid_import_wh": total["market_grid_import_wh"],
            "grid_export_wh": total["market_grid_export_wh"],
        },
        "accounts": {
            "consumers": dict(sorted(consumers.items())),
            "producers": dict(sorted(producers.items())),
        },
        "money": {
            "supply": funds.total_supply(state),
            "balances": funds.total_balances(state),
            "escrow": funds.total_escrow(state),
        },
        "readings": {
            "on_chain": sum(
                len(per)
                for (kind, asset), per in energy.items()
                if kind != "site" or asset not in exclude_sites
            )
        },
        "days": days,
    }
