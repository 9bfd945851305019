"""Carbon inventories from the carbon read model's monthly totals and the factor sets in force:
scope 2 by both methods (market-based with annual and with hourly matching), scope 1 from
activity data, and avoided emissions, each figure naming the factors it used.

Rules (also in ``docs/carbon.md``):

* **Months** are months of the chain's time zone (its genesis ``time_zone``), as the read model
  counts them; a month's factors are those of the set in force for the calendar month of the
  same name.

* **Location-based** scope 2 of a site's month = its consumption x the grid-average factor of
  the set in force for its region in that month (province -> regional grid -> country), in
  grams, rounded down once per site and month: ``wh * g_per_mwh // 1,000,000``.
* **Market-based** scope 2: consumption covered by claimed certificates counts at the
  certificates' production factor (0 g/MWh: every certificate on this chain is from a
  renewable or storage device, combustion boundary); the rest at the set's residual-mix factor
  or, where the set has none, its grid average, disclosed (``residual_is_grid_average``).
  * *annual (volume) matching*: the certificates claimed for the site with production in a
    calendar year of the period cover the consumption of the same year in the period, up to
    their total, month by month in time order (certificates of one year never cover another
    year's consumption);
  * *hourly matching*: only what certificates produced in the same hour cover counts as
    covered (the read model's matched energy).
* Certificates never change the location-based figure; offsets are never netted into any scope.
* **Scope 1**: the activity data of the organisation's sites in the period, ``quantity *
  g_per_unit`` of the fuel factor in force; confirmed and merely reported data are given
  apart.
* **Avoided emissions**: a plant's metered generation x the grid-average factor of its region
  and month (what the same energy from the grid would have emitted); a storage device's
  discharge avoids nothing (the energy was generated, and counted, before it was stored); a
  site's clean choice: the certificates claimed for it x the grid-average factor of its region
  and month. An inventory gives the two apart (``avoided_g`` for claims, ``plants_avoided_g``
  for plants) and never adds them: the same energy may be a plant's generation and a claim.

A set's gas (CO2 or CO2e) is carried into every figure; an inventory whose factors or activity
data are in different gases is refused (``carbon.mixed_gas``) rather than summed.
"""

from __future__ import annotations

import sqlite3
from functools import cache
from typing import Literal

import msgspec

from gridledger.contracts import carbon, registry
from gridledger.contracts.carbon.errors import BadPeriod
from gridledger.contracts.carbon.records import ElectricityFactor, FactorLookup, Source
from gridledger.core.errors import InvalidTransaction
from gridledger.core.localtime import UTC, LocalTime
from gridledger.readmodels.carbon import zone_of
from gridledger.state.state import StateReader

WH_PER_MWH = 1_000_000
MAX_MONTHS = 120


class MixedGas(InvalidTransaction):
    code = "carbon.mixed_gas"
    default_message = "the period's factor sets are in different gases (CO2 and CO2e)"


BadInventoryPeriod = BadPeriod
"""``carbon.bad_period``: an inventory covers 1-120 whole months, YYYY-MM to YYYY-MM (the
contract's error: one class per code)."""


class UnknownSubject(InvalidTransaction):
    code = "carbon.unknown_subject"
    default_message = "no such organisation, site or device"


class FactorUse(msgspec.Struct, kw_only=True):
    """One factor a figure used, and how it was found.

    Attributes:
        set: The factor set's id.
        region: The region asked for.
        path: The regions tried until one had a set in force (the last answered).
        fallback: Whether the answer came from another region than the one asked for.
        role: grid_average, residual_mix or residual_is_grid_average (no residual mix in the
            set: the grid average stood in for it).
        g_per_mwh: The factor, grams of ``gas`` per MWh.
        gas: CO2 or CO2e.
        source: Publisher, document, year and geography.
    """

    set: str
    region: str
    path: list[str]
    fallback: bool
    role: Literal["grid_average", "residual_mix", "residual_is_grid_average"]
    g_per_mwh: int
    gas: str
    source: Source


class SiteMonth(msgspec.Struct, kw_only=True):
    """One site's month.

    Attributes:
        site: The site.
        month: YYYY-MM.
        consumption_wh: Metered consumption, Wh.
        claimed_wh: Certificates claimed for the site with production in the month, Wh.
        matched_hourly_wh: Consumption matched hour by hour by those certificates, Wh.
        covered_volume_wh: Consumption the period's claimed certificates cover by volume, Wh.
        readings: Readings counted (measured intervals).
        corrected: Readings a grid operator corrected since.
        location_g: Location-based scope 2, grams.
        market_volume_g: Market-based scope 2 with annual (volume) matching, grams.
        market_hourly_g: Market-based scope 2 with hourly matching, grams.
        avoided_g: Emissions the claimed clean energy avoided, grams.
        grid: The grid-average factor used.
        residual: The residual factor used.
    """

    site: str
    month: str
    consumption_wh: int
    claimed_wh: int
    matched_hourly_wh: int
    covered_volume_wh: int
    readings: int
    corrected: int
    location_g: int
    market_volume_g: int
    market_hourly_g: int
    avoided_g: int
    grid: FactorUse
    residual: FactorUse


class PlantMonth(msgspec.Struct, kw_only=True):
    """A plant's month: metered generation and the emissions it avoided.

    Attributes:
        device: The plant.
        month: YYYY-MM.
        generation_wh: Metered generation, Wh.
        readings: Readings counted.
        avoided_g: Generation x the grid-average factor of its region, grams.
        grid: The factor used.
    """

    device: str
    month: str
    generation_wh: int
    readings: int
    avoided_g: int
    grid: FactorUse


class Scope1(msgspec.Struct, kw_only=True):
    """Scope 1 from activity data.

    Attributes:
        confirmed_g: Confirmed by a carbon verifier, grams.
        reported_g: Reported, not yet confirmed, grams (not in ``confirmed_g``).
        rejected: Activity reports a verifier rejected (not counted).
        activities: The activity records of the period.
    """

    confirmed_g: int
    reported_g: int
    rejected: int
    activities: list[carbon.Activity]


class Inventory(msgspec.Struct, kw_only=True):
    """An inventory of a site or an organisation over whole months.

    Attributes:
        subject: site or organisation.
        id: The site's or organisation's id.
        start: First month, YYYY-MM.
        end: Last month, YYYY-MM (inclusive).
        gas: The gas of every figure (CO2 or CO2e).
        consumption_wh: Metered consumption, Wh.
        claimed_wh: Certificates claimed, Wh.
        matched_hourly_wh: Hourly-matched consumption, Wh.
        covered_volume_wh: Volume-matched consumption, Wh.
        scope2_location_g: Location-based scope 2, grams.
        scope2_market_volume_g: Market-based scope 2, annual (volume) matching, grams.
        scope2_market_hourly_g: Market-based scope 2, hourly matching, grams.
        scope1: Scope 1 from activity data.
        avoided_g: Avoided by the clean energy claimed for the sites (certificates claimed x
            the grid-average factor), grams.
        plants_avoided_g: Avoided by the organisation's plants' generation, grams, kept apart:
            where its own sites claim its plants' certificates, adding the two would count the
            same clean energy twice.
        readings: Readings counted.
        corrected: Of which corrected.
        months: Per site and month.
        plants: Per plant and month (organisations).
        factors: Every factor used, once each.
        fallbacks: Regions whose factors came from a fallback, ``<asked> -> <answered>``.
        time_zone: The time zone whose months ``start``, ``end`` and every ``month`` are
            (the chain's genesis ``time_zone``), an IANA name.
    """

    subject: Literal["site", "organisation"]
    id: str
    start: str
    end: str
    gas: str
    consumption_wh: int
    claimed_wh: int
    matched_hourly_wh: int
    covered_volume_wh: int
    scope2_location_g: int
    scope2_market_volume_g: int
    scope2_market_hourly_g: int
    scope1: Scope1
    avoided_g: int
    plants_avoided_g: int
    readings: int
    corrected: int
    months: list[SiteMonth]
    plants: list[PlantMonth]
    factors: list[FactorUse]
    fallbacks: list[str]
    time_zone: str = "UTC"


def _text(value: bytes | str) -> str:
    """A TEXT column (the store's connections return TEXT as bytes)."""
    return value.decode() if isinstance(value, bytes) else value


@cache
def month_text(month_s: int, local: LocalTime = UTC) -> str:
    """``YYYY-MM`` of a month's first second in ``local`` (cached: an inventory names
    thousands)."""
    return local.month_text(month_s)


def months_between(start: str, end: str, local: LocalTime = UTC) -> list[int]:
    """First seconds of the months ``start`` .. ``end`` (inclusive, YYYY-MM) of time zone
    ``local``."""
    try:
        carbon.month_bounds(start)  # the one spelling of a month the contracts accept
        carbon.month_bounds(end)
        first, last = local.month_start(start), local.month_start(end)
    except ValueError:
        raise BadInventoryPeriod(f"{start}..{end}: months are YYYY-MM") from None
    out: list[int] = []
    at = first
    while at <= last and len(out) <= MAX_MONTHS:
        out.append(at)
        at = local.next_month(at)
    if not out or len(out) > MAX_MONTHS:
        raise BadInventoryPeriod(f"{start}..{end}: 1-{MAX_MONTHS} months, start first")
    return out


def _use(found: FactorLookup, region: str, factor: ElectricityFactor, role: str) -> FactorUse:
    return FactorUse(
        set=found.set.id,
        region=region,
        path=found.path,
        fallback=found.fallback,
        role=role,  # type: ignore[arg-type]
        g_per_mwh=factor.g_per_mwh,
        gas=factor.gas,
        source=factor.source,
    )


class _Factors:
    """Factor lookups of one inventory, cached by region and month.

    Months are local (the read model's zone); a local month uses the set in force at the
    start of the calendar month of the same name (factor sets are in force from a UTC
    month's first second), so ``2026-06`` in Asia/Shanghai uses June's set, not May's.
    """

    def __init__(self, view: StateReader, local: LocalTime = UTC) -> None:
        self.view = view
        self.local = local
        self.cache: dict[tuple[str, int], tuple[FactorUse, FactorUse]] = {}
        self.gases: set[str] = set()

    def at(self, region: str, month_s: int) -> tuple[FactorUse, FactorUse]:
        key = (region, month_s)
        if key not in self.cache:
            named, _ = carbon.month_bounds(self.local.month_text(month_s))
            found = carbon.factor_for(self.view, region, named)
            grid = _use(found, region, found.set.grid_average, "grid_average")
            if found.set.residual_mix is not None:
                residual = _use(found, region, found.set.residual_mix, "residual_mix")
            else:
                residual = _use(found, region, found.set.grid_average, "residual_is_grid_average")
            self.gases.add(found.set.gas)
            if len(self.gases) > 1:
                raise MixedGas(f"the period uses sets in {' and '.join(sorted(self.gases))}")
            self.cache[key] = (grid, residual)
        return self.cache[key]


def _grams(wh: int, factor: FactorUse) -> int:
    return wh * factor.g_per_mwh // WH_PER_MWH


@cache
def _year(month_s: int, local: LocalTime) -> int:
    return local.datetime(month_s).year


_MonthRow = tuple[int, int, int, int, int]
"""consumption_wh, matched_wh, claimed_wh, readings, corrected of one site-month."""


def _site_months(
    conn: sqlite3.Connection, factors: _Factors, site: str, region: str, months: list[int]
) -> list[SiteMonth]:
    rows = {
        m: (c, matched, k, r, corr)
        for m, c, matched, k, r, corr in conn.execute(
            "SELECT month_s, consumption_wh, matched_wh, claimed_wh, readings, corrected "
            "FROM carbon_site_months WHERE site = ? AND month_s BETWEEN ? AND ?",
            (site, months[0], months[-1]),
        )
    }
    return _months_of(factors, site, region, months, rows)


def _months_of(
    factors: _Factors, site: str, region: str, months: list[int], rows: dict[int, _MonthRow]
) -> list[SiteMonth]:
    """A site's months from its read-model rows (by month start)."""
    claimed_left: dict[int, int] = {}  # by calendar year: what certificates cover in volume
    for m, row in rows.items():
        year = _year(m, factors.local)
        claimed_left[year] = claimed_left.get(year, 0) + row[2]
    out = []
    for m in months:
        c, matched, k, r, corr = rows.get(m, (0, 0, 0, 0, 0))
        if not (c or k or r):
            continue
        grid, residual = factors.at(region, m)
        year = _year(m, factors.local)
        covered = min(c, claimed_left.get(year, 0))
        claimed_left[year] = claimed_left.get(year, 0) - covered
        out.append(
            SiteMonth(
                site=site, month=month_text(m, factors.local), consumption_wh=c, claimed_wh=k,
                matched_hourly_wh=matched, covered_volume_wh=covered, readings=r,
                corrected=corr, location_g=_grams(c, grid),
                market_volume_g=_grams(c - covered, residual),
                market_hourly_g=_grams(c - matched, residual), avoided_g=_grams(k, grid),
                grid=grid, residual=residual,
            )
        )  # fmt: skip
    return out


def _plant_months(
    conn: sqlite3.Connection, factors: _Factors, device: str, region: str, months: list[int]
) -> list[PlantMonth]:
    out = []
    for m, wh, r in conn.execute(
        "SELECT month_s, generation_wh, readings FROM carbon_device_months "
        "WHERE device = ? AND month_s BETWEEN ? AND ? ORDER BY month_s",
        (device, months[0], months[-1]),
    ):
        grid, _ = factors.at(region, m)
        out.append(
            PlantMonth(device=device, month=month_text(m, factors.local), generation_wh=wh,
                       readings=r, avoided_g=_grams(wh, grid), grid=grid)
        )  # fmt: skip
    return out


def _scope1(view: StateReader, org: str, sites: set[str] | None, months: list[str]) -> Scope1:
    wanted = set(months)
    acts = [
        a for a in carbon.activities_of(view, org)
        if a.month in wanted and (sites is None or a.site in sites)
    ]  # fmt: skip
    return Scope1(
        confirmed_g=sum(a.emissions_g for a in acts if a.status == "confirmed"),
        reported_g=sum(a.emissions_g for a in acts if a.status == "reported"),
        rejected=sum(1 for a in acts if a.status == "rejected"),
        activities=acts,
    )


def _assemble(
    subject: Literal["site", "organisation"],
    subject_id: str,
    start: str,
    end: str,
    factors: _Factors,
    site_months: list[SiteMonth],
    plants: list[PlantMonth],
    scope1: Scope1,
) -> Inventory:
    used: dict[tuple[str, str, str], FactorUse] = {}
    for row in site_months:
        for f in (row.grid, row.residual):
            used.setdefault((f.set, f.region, f.role), f)
    for p in plants:
        used.setdefault((p.grid.set, p.grid.region, p.grid.role), p.grid)
    fallbacks = sorted({f"{f.region} -> {f.path[-1]}" for f in used.values() if f.fallback})
    s1_gas = {a.gas for a in scope1.activities}
    if len(factors.gases | s1_gas) > 1:
        raise MixedGas(
            f"scope 1 data is in {' and '.join(sorted(s1_gas))}; the electricity factors in "
            f"{' and '.join(sorted(factors.gases)) or 'none'}"
        )
    gas = next(iter(factors.gases | s1_gas), "CO2")
    return Inventory(
        subject=subject,
        id=subject_id,
        start=start,
        end=end,
        gas=gas,
        consumption_wh=sum(r.consumption_wh for r in site_months),
        claimed_wh=sum(r.claimed_wh for r in site_months),
        matched_hourly_wh=sum(r.matched_hourly_wh for r in site_months),
        covered_volume_wh=sum(r.covered_volume_wh for r in site_months),
        scope2_location_g=sum(r.location_g for r in site_months),
        scope2_market_volume_g=sum(r.market_volume_g for r in site_months),
        scope2_market_hourly_g=sum(r.market_hourly_g for r in site_months),
        scope1=scope1,
        avoided_g=sum(r.avoided_g for r in site_months),
        plants_avoided_g=sum(p.avoided_g for p in plants),
        readings=sum(r.readings for r in site_months),
        corrected=sum(r.corrected for r in site_months),
        months=site_months,
        plants=plants,
        factors=[used[k] for k in sorted(used)],
        fallbacks=fallbacks,
        time_zone=factors.local.name,
    )


def site_inventory(
    conn: sqlite3.Connection, view: StateReader, site: str, start: str, end: str
) -> Inventory:
    """The inventory of one site over the months ``start`` .. ``end`` (of the chain's time
    zone, which the read model counts in)."""
    found = registry.get_site(view, site)
    if found is None:
        raise UnknownSubject(f"no site {site!r}")
    local = zone_of(conn)
    months = months_between(start, end, local)
    factors = _Factors(view, local)
    rows = _site_months(conn, factors, site, found.grid_region, months)
    scope1 = _scope1(view, found.owner_org, {site}, [month_text(m, local) for m in months])
    return _assemble("site", site, start, end, factors, rows, [], scope1)


def org_inventory(
    conn: sqlite3.Connection, view: StateReader, org: str, start: str, end: str
) -> Inventory:
    """The inventory of an organisation (its sites and plants) over ``start`` .. ``end``."""
    if registry.get_organisation(view, org) is None:
        raise UnknownSubject(f"no organisation {org!r}")
    local = zone_of(conn)
    months = months_between(start, end, local)
    factors = _Factors(view, local)
    # every site-month of the organisation in one query, then site by site in id order
    by_site: dict[str, tuple[str, dict[int, _MonthRow]]] = {}
    for site, region in conn.execute(
        "SELECT site, region FROM carbon_sites WHERE org = ?", (org,)
    ).fetchall():
        by_site[_text(site)] = (_text(region), {})
    for site, m, c, matched, k, r, corr in conn.execute(
        "SELECT s.site, m.month_s, m.consumption_wh, m.matched_wh, m.claimed_wh, m.readings, "
        "m.corrected FROM carbon_sites s JOIN carbon_site_months m ON m.site = s.site "
        "WHERE s.org = ? AND m.month_s BETWEEN ? AND ?",
        (org, months[0], months[-1]),
    ):
        by_site[_text(site)][1][m] = (c, matched, k, r, corr)
    rows: list[SiteMonth] = []
    for site in sorted(by_site):
        region, months_rows = by_site[site]
        rows.extend(_months_of(factors, site, region, months, months_rows))
    plants: list[PlantMonth] = []
    for device, region in conn.execute(
        "SELECT device, region FROM carbon_devices WHERE org = ? AND technology != 'storage' "
        "ORDER BY device",
        (org,),
    ).fetchall():
        plants.extend(_plant_months(conn, factors, _text(device), _text(region), months))
    scope1 = _scope1(view, org, None, [month_text(m, local) for m in months])
    return _assemble("organisation", org, start, end, factors, rows, plants, scope1)
