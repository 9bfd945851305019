"""Carbon reports of an organisation over whole months: a JSON document, CSV, the GHG Protocol
reporting layout and a PDF in English or Chinese.

:func:`carbon_report` computes one :class:`CarbonReport` from the organisation's inventory
(:func:`gridledger.readmodels.carbon_inventory.org_inventory`: scope 1, scope 2 by both
methods, avoided emissions, every factor used and every fallback), the certificates claimed
for its sites (the contractual instruments) and the block it was computed at. Every other form
is a rendering of that document, so they never disagree:

* :func:`report_csv`: one row per site and month, plant and month, and scope 1 activity, then
  a total row, each row naming the factor set, the lookup path and the factors' sources;
* :func:`ghg_layout`: the GHG Protocol Corporate Standard's reporting table with the Scope 2
  Guidance's required disclosures (:class:`GhgReport`);
* :func:`render_report_pdf`: the printable report, drawn with the certificate PDF's page
  helpers (:mod:`gridledger.documents.pdf`; Chinese in the built-in STSong-Light CID font).

A report covers only months that have ended: the last month must have ended by the time of the
node's latest block (:class:`PeriodOpen`, ``carbon.period_open``), so a report never changes
once the period's data has committed (an inventory of an open period can be read, a report
cannot). Emissions are integers in grams of the factors' gas (CO2 or CO2e, never both in one
report), energy in Wh; tonnes and kWh are exact decimal strings of those integers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import msgspec
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from gridledger.contracts import carbon, registry
from gridledger.contracts.carbon.errors import BadPeriod
from gridledger.contracts.carbon.records import Activity, Source
from gridledger.contracts.certificates import bundles as cert_bundles
from gridledger.core.errors import GridLedgerError
from gridledger.core.localtime import UTC, LocalTime, check_zone
from gridledger.documents.pdf import (
    ACCENT,
    EXPLAINED,
    LANGS,
    MARGIN,
    Lang,
    _bold,
    _font,
    _number,
    _Page,
    stamp,
    wrap,
)
from gridledger.readmodels import carbon_inventory
from gridledger.readmodels import certificates as cert_index
from gridledger.readmodels.carbon import zone_of
from gridledger.readmodels.carbon_inventory import FactorUse, Inventory
from gridledger.state.state import StateReader

REPORT_FORMAT = "gridledger/carbon-report/v1"
GHG_FORMAT = "gridledger/ghg-protocol-report/v1"
Format = Literal["json", "csv", "ghg", "pdf"]
FORMATS: tuple[Format, ...] = ("json", "csv", "ghg", "pdf")
INSTRUMENT_TYPE = "energytag_granular_certificate"
PPM = 1_000_000


class PeriodOpen(GridLedgerError):
    code = "carbon.period_open"
    default_message = (
        "a report's last month must have ended by the node's latest block time; report an "
        "earlier period, or wait until the month has ended and a block has committed"
    )


# the document ----------------------------------------------------------------------------------
class Subject(msgspec.Struct, kw_only=True):
    """The reporting organisation.

    Attributes:
        id: Its id.
        name: Its registered name.
        sites: Consumption sites it has registered (the inventory boundary).
        plants: Generation plants it has registered.
    """

    id: str
    name: str
    sites: int
    plants: int


class AsOf(msgspec.Struct, kw_only=True):
    """The committed block a report was computed at.

    Attributes:
        chain_id: The chain.
        height: The block's height.
        time_s: The block's time, Unix seconds UTC.
        block_hash: The block's hash, hex.
        state_root: The state root after the block, hex.
    """

    chain_id: str
    height: int
    time_s: int
    block_hash: str
    state_root: str


class Instruments(msgspec.Struct, kw_only=True):
    """The contractual instruments of the market-based method: certificates claimed for the
    organisation's sites with production in the period.

    Attributes:
        type: ``energytag_granular_certificate``: this ledger's granular certificates.
        scheme: The certificate scheme they were issued under.
        production_g_per_mwh: The emission rate they convey: 0 (renewable or storage
            production, combustion boundary).
        bundles: Claimed bundles (from the certificate index).
        beneficiaries: Accounts of the organisation they were claimed for.
        claimed_wh: Wh claimed (the inventory's figure).
        covered_volume_wh: Consumption they cover with annual (volume) matching, Wh.
        matched_hourly_wh: Consumption they cover hour by hour, Wh.
        covered_volume_ppm: ``covered_volume_wh`` per million Wh consumed.
        matched_hourly_ppm: ``matched_hourly_wh`` per million Wh consumed.
    """

    type: str
    scheme: str
    production_g_per_mwh: int
    bundles: int
    beneficiaries: int
    claimed_wh: int
    covered_volume_wh: int
    matched_hourly_wh: int
    covered_volume_ppm: int
    matched_hourly_ppm: int


class DataQuality(msgspec.Struct, kw_only=True):
    """How the figures were measured.

    Attributes:
        intervals: Metered consumption intervals counted (one per reading).
        measured_intervals: Of which the value is the meter's own reading.
        estimated_intervals: Of which a grid operator's correction replaced the reading (a
            substituted, estimated value).
        measured_ppm: ``measured_intervals`` per million intervals (1,000,000 with none).
        plant_intervals: Metered generation intervals counted for avoided emissions.
        activities_confirmed: Scope 1 activity reports a carbon verifier confirmed.
        activities_reported: Scope 1 activity reports not yet confirmed (left out of scope 1).
        activities_rejected: Scope 1 activity reports a carbon verifier rejected (left out).
        fallback_factors: Regions whose factors came from a fallback region.
        residual_is_grid_average: Whether any month's market-based figure used a grid
            average because its factor set has no residual mix.
    """

    intervals: int
    measured_intervals: int
    estimated_intervals: int
    measured_ppm: int
    plant_intervals: int
    activities_confirmed: int
    activities_reported: int
    activities_rejected: int
    fallback_factors: int
    residual_is_grid_average: bool


class CarbonReport(msgspec.Struct, kw_only=True):
    """An organisation's carbon report over whole months (``gridledger/carbon-report/v1``).

    Attributes:
        format: ``gridledger/carbon-report/v1``.
        organisation: The reporting organisation.
        as_of: The block it was computed at.
        inventory: Every figure: scope 1, scope 2 location-based and market-based (annual
            and hourly matching), avoided emissions, per site, plant and month, with every
            factor used and every fallback.
        avoided_by_claims_g: Avoided emissions of the certificates claimed, grams.
        avoided_by_plants_g: Avoided emissions of the organisation's plants' generation,
            grams.
        fuel_factors: The fuel factors of the period's scope 1 activity data, by set and fuel.
        instruments: The contractual instruments (certificates claimed).
        data_quality: Measured and estimated intervals, verified scope 1, fallbacks.
        disclosures: What a reader must know, one sentence each (English).
    """

    format: str
    organisation: Subject
    as_of: AsOf
    inventory: Inventory
    avoided_by_claims_g: int
    avoided_by_plants_g: int
    fuel_factors: list[FuelFactorUse]
    instruments: Instruments
    data_quality: DataQuality
    disclosures: list[str]


class FuelFactorUse(msgspec.Struct, kw_only=True):
    """A fuel factor the period's scope 1 activity data used, with its source.

    Attributes:
        set: The factor set's id.
        fuel: The fuel.
        unit: Its activity unit.
        g_per_unit: Grams of ``gas`` per unit.
        gas: CO2 or CO2e.
        source: Publisher, document, year and geography.
    """

    set: str
    fuel: str
    unit: str
    g_per_unit: int
    gas: str
    source: Source


@dataclass(frozen=True)
class Block:
    """The committed block a report is computed at (what :class:`AsOf` records)."""

    chain_id: str
    height: int
    time_s: int
    block_hash: str
    state_root: str


def check_closed(end: str, time_s: int, local: LocalTime = UTC) -> None:
    """Refuse a report whose last month (``YYYY-MM`` of time zone ``local``) has not ended by
    ``time_s``.

    Raises:
        PeriodOpen: the month ends after ``time_s``.
        BadPeriod: ``end`` is not a month (``carbon.bad_period``).
    """
    try:
        carbon.month_bounds(end)
        month_end = local.next_month(local.month_start(end))
    except ValueError:
        raise BadPeriod(f"{end!r}: months are YYYY-MM") from None
    if month_end > time_s:
        raise PeriodOpen(
            f"{end} ends at {month_end} (Unix s), after the latest block's time {time_s}: the "
            "period is still open"
        )


def _ppm(part: int, whole: int, empty: int = 0) -> int:
    return part * PPM // whole if whole else empty


def _instruments(
    conn: sqlite3.Connection, view: StateReader, org: str, inv: Inventory, block: Block
) -> Instruments:
    local = LocalTime(inv.time_zone)
    start_s = local.month_start(inv.start)
    end_s = local.next_month(local.month_start(inv.end))
    bundles = 0
    beneficiaries = 0
    for account in registry.list_accounts(view, org=org).items:
        found = cert_index.totals(
            conn,
            cert_index.BundleFilter(
                beneficiary=account.id, start_s=start_s, end_s=end_s, time_s=block.time_s
            ),
        )
        claimed = sum(t.bundles for t in found if t.status == "claimed")
        bundles += claimed
        beneficiaries += 1 if claimed else 0
    return Instruments(
        type=INSTRUMENT_TYPE,
        scheme=cert_bundles.params(view).scheme,
        production_g_per_mwh=0,
        bundles=bundles,
        beneficiaries=beneficiaries,
        claimed_wh=inv.claimed_wh,
        covered_volume_wh=inv.covered_volume_wh,
        matched_hourly_wh=inv.matched_hourly_wh,
        covered_volume_ppm=_ppm(inv.covered_volume_wh, inv.consumption_wh),
        matched_hourly_ppm=_ppm(inv.matched_hourly_wh, inv.consumption_wh),
    )


def _fuel_factors(view: StateReader, activities: list[Activity]) -> list[FuelFactorUse]:
    out: dict[tuple[str, str], FuelFactorUse] = {}
    for a in activities:
        if (a.factor_set, a.fuel) in out:
            continue
        found = carbon.get_set(view, a.factor_set)
        factor = None if found is None else found.fuel(a.fuel)
        if factor is not None:  # a recorded activity's set and fuel are never removed
            out[(a.factor_set, a.fuel)] = FuelFactorUse(
                set=a.factor_set, fuel=a.fuel, unit=factor.unit, g_per_unit=factor.g_per_unit,
                gas=factor.gas, source=factor.source,
            )  # fmt: skip
    return [out[k] for k in sorted(out)]


def _quality(inv: Inventory) -> DataQuality:
    acts = inv.scope1.activities
    return DataQuality(
        intervals=inv.readings,
        measured_intervals=inv.readings - inv.corrected,
        estimated_intervals=inv.corrected,
        measured_ppm=_ppm(inv.readings - inv.corrected, inv.readings, PPM),
        plant_intervals=sum(p.readings for p in inv.plants),
        activities_confirmed=sum(1 for a in acts if a.status == "confirmed"),
        activities_reported=sum(1 for a in acts if a.status == "reported"),
        activities_rejected=sum(1 for a in acts if a.status == "rejected"),
        fallback_factors=len(inv.fallbacks),
        residual_is_grid_average=any(f.role == "residual_is_grid_average" for f in inv.factors),
    )


def carbon_report(
    conn: sqlite3.Connection, view: StateReader, org: str, start: str, end: str, block: Block
) -> CarbonReport:
    """The report of organisation ``org`` over the months ``start`` .. ``end`` (inclusive).

    Args:
        conn: a connection to the read models (the carbon totals and the certificate index).
        view: the committed state at ``block``.
        org: the organisation.
        start: first month, ``YYYY-MM``.
        end: last month, ``YYYY-MM``; it must have ended by ``block.time_s``.
        block: the block the state and the read models are at.

    Raises:
        PeriodOpen: ``end`` has not ended by the block's time (``carbon.period_open``).
        BadPeriod, UnknownSubject, MixedGas, NoFactor: as the inventory
            (``carbon.bad_period``, ``carbon.unknown_subject``, ``carbon.mixed_gas``,
            ``carbon.no_factor``).
    """
    carbon_inventory.months_between(start, end)  # a bad period is named before an open one
    check_closed(end, block.time_s, zone_of(conn))
    found = registry.get_organisation(view, org)
    if found is None:
        raise carbon_inventory.UnknownSubject(f"no organisation {org!r}")
    inv = carbon_inventory.org_inventory(conn, view, org, start, end)
    subject = Subject(
        id=org,
        name=found.name,
        sites=len(registry.list_sites(view, owner_org=org).items),
        plants=len(registry.list_devices(view, owner_org=org).items),
    )
    report = CarbonReport(
        format=REPORT_FORMAT,
        organisation=subject,
        as_of=AsOf(
            chain_id=block.chain_id,
            height=block.height,
            time_s=block.time_s,
            block_hash=block.block_hash,
            state_root=block.state_root,
        ),
        inventory=inv,
        avoided_by_claims_g=sum(m.avoided_g for m in inv.months),
        avoided_by_plants_g=sum(p.avoided_g for p in inv.plants),
        fuel_factors=_fuel_factors(view, inv.scope1.activities),
        instruments=_instruments(conn, view, org, inv, block),
        data_quality=_quality(inv),
        disclosures=[],
    )
    report.disclosures = disclosures(report, "en")
    return report


def decode_report(raw: bytes) -> CarbonReport:
    """A report from its JSON (what ``GET /v1/carbon/report?format=json`` sends)."""
    return msgspec.json.decode(raw, type=CarbonReport)


# numbers as text -------------------------------------------------------------------------------
def decimal(value: int, places: int) -> str:
    """``value / 10**places`` as an exact decimal string: ``decimal(2209, 6) == "0.002209"``."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**places)
    return f"{sign}{whole}.{frac:0{places}d}"


def tonnes(grams: int) -> str:
    """Grams as exact tonnes (six decimals)."""
    return decimal(grams, 6)


def _kwh(wh: int) -> str:
    whole, frac = divmod(wh, 1000)
    return f"{_number(whole)}.{frac:03d}"


def _percent(ppm: int) -> str:
    """Parts per million as a percentage with two places (rounded down)."""
    return f"{decimal(ppm // 100, 2)} %"


def _factor_kg_per_kwh(g_per_mwh: int) -> str:
    """A factor in kg per kWh, as publishers print it (556,800 g/MWh is 0.5568)."""
    return decimal(g_per_mwh, 6).rstrip("0").rstrip(".") or "0"


def source_text(source: Source) -> str:
    """A factor's source in one line: publisher; document; year; geography; library id."""
    return (
        f"{source.publisher}; {source.document}; {source.year}; {source.geography}; "
        f"{source.factor_id}"
    )


# disclosures -----------------------------------------------------------------------------------
DISCLOSURE_TEXTS: dict[Lang, dict[str, str]] = {
    "en": {
        "fallback": "For {region}, no factor set of its own was in force in some months: the "
        "lookup went {path} and used set {set} ({answered}).",
        "residual": "Factor set {set} has no residual-mix factor: consumption that no "
        "certificate covers is counted at its grid average ({g} g/MWh) in the market-based "
        "figures.",
        "geography": "Factor set {set} (for {region}) uses {id}, which was published for "
        "{geography}.",
        "year": "Factor set {set} applies data of {year} to months of {years}.",
        "unverified": "{g} g of scope 1 that the organisation reported is not yet confirmed "
        "by a carbon verifier and is not in the scope 1 total.",
        "rejected": "{n} scope 1 activity report(s) rejected by a carbon verifier are not counted.",
        "estimated": "{n} of {m} metered consumption intervals carry a grid operator's "
        "corrected (estimated) value instead of the meter's reading.",
        "instruments": "Contractual instruments: {bundles} granular certificate bundle(s) "
        "({wh} Wh) of scheme {scheme} claimed for the organisation's sites with production "
        "in the period, counted at 0 g/MWh.",
        "rules": "Both scope 2 methods are always reported; certificates never change the "
        "location-based figure; no offsets are netted into any scope; avoided emissions are "
        "reported apart from the scopes.",
    },
    "zh": {
        "fallback": "{region} 在部分月份没有自身生效的排放因子集：查询路径为 {path}，采用因子集"
        " {set}（{answered}）。",
        "residual": "因子集 {set} 没有剩余电力组合因子：基于市场法中未被证书覆盖的用电量按其"
        "电网平均因子（{g} 克/兆瓦时）计算。",
        "geography": "因子集 {set}（适用于 {region}）采用 {id}，该因子系为 {geography} 发布。",
        "year": "因子集 {set} 将 {year} 年的数据用于 {years} 年的月份。",
        "unverified": "本机构报告的范围一排放中有 {g} 克尚未经碳核查机构确认，未计入范围一合计。",
        "rejected": "{n} 份被碳核查机构驳回的范围一活动数据报告未计入。",
        "estimated": "{m} 个计量用电时段中有 {n} 个采用电网运营方更正（估算）的数值，而非电表"
        "读数。",
        "instruments": "合约工具：{bundles} 个颗粒度证书包（{wh} 瓦时，认证规则 {scheme}），"
        "已为本机构用电场所申领，生产时间在报告期内，按 0 克/兆瓦时计算。",
        "rules": "两种范围二方法均予报告；证书不改变基于位置法的数值；任何范围均不抵扣"
        "抵消量；避免排放与各范围分开报告。",
    },
}


def disclosures(report: CarbonReport, lang: Lang) -> list[str]:
    """What a reader of the report must know, one sentence each, in ``lang``."""
    t = DISCLOSURE_TEXTS[lang]
    inv, quality, inst = report.inventory, report.data_quality, report.instruments
    out: list[str] = []
    seen: set[tuple[str, str]] = set()
    for f in inv.factors:
        if f.fallback and (f.region, f.set) not in seen:
            seen.add((f.region, f.set))
            out.append(t["fallback"].format(region=f.region, path=" -> ".join(f.path),
                                            set=f.set, answered=f.path[-1]))  # fmt: skip
    for f in inv.factors:
        if f.role == "residual_is_grid_average" and (f.set, "residual") not in seen:
            seen.add((f.set, "residual"))
            out.append(t["residual"].format(set=f.set, g=_number(f.g_per_mwh)))
    for f in inv.factors:
        key = (f.set, f.source.factor_id)
        if f.source.geography != f.path[-1] and key not in seen:
            seen.add(key)
            out.append(t["geography"].format(set=f.set, region=f.path[-1], id=f.source.factor_id,
                                             geography=f.source.geography))  # fmt: skip
    later: dict[tuple[str, int], set[str]] = {}
    for row in inv.months:
        for f in (row.grid, row.residual):
            if f.source.year < int(row.month[:4]):
                later.setdefault((f.set, f.source.year), set()).add(row.month[:4])
    for p in inv.plants:
        if p.grid.source.year < int(p.month[:4]):
            later.setdefault((p.grid.set, p.grid.source.year), set()).add(p.month[:4])
    for (set_id, year), years in sorted(later.items()):
        out.append(t["year"].format(set=set_id, year=year, years=", ".join(sorted(years))))
    if inv.scope1.reported_g:
        out.append(t["unverified"].format(g=_number(inv.scope1.reported_g)))
    if quality.activities_rejected:
        out.append(t["rejected"].format(n=quality.activities_rejected))
    if quality.estimated_intervals:
        out.append(t["estimated"].format(n=quality.estimated_intervals, m=quality.intervals))
    if inst.claimed_wh:
        out.append(t["instruments"].format(bundles=inst.bundles, wh=_number(inst.claimed_wh),
                                           scheme=inst.scheme))  # fmt: skip
    out.append(t["rules"])
    return out


# CSV -------------------------------------------------------------------------------------------
CSV_FIELDS: tuple[str, ...] = (
    "record",
    "site",
    "device",
    "month",
    "gas",
    "consumption_wh",
    "claimed_wh",
    "covered_volume_wh",
    "matched_hourly_wh",
    "generation_wh",
    "intervals_measured",
    "intervals_estimated",
    "scope1_confirmed_g",
    "scope1_reported_g",
    "scope2_location_g",
    "scope2_market_annual_g",
    "scope2_market_hourly_g",
    "avoided_g",
    "plants_avoided_g",
    "activity",
    "fuel",
    "quantity",
    "unit",
    "status",
    "factor_set",
    "factor_path",
    "factor",
    "factor_unit",
    "factor_source",
    "residual_basis",
    "residual_factor",
    "residual_source",
)
"""The report CSV's columns, in order. ``record`` is ``site_month``, ``plant_month``,
``activity`` or ``total``; a column that does not apply to a record is empty. ``factor`` is the
grid-average factor (sites and plants, per MWh) or the fuel factor (activities, per unit), in
``factor_unit``; ``residual_*`` is what a site's uncovered consumption was counted at:
``residual_basis`` ``residual_mix``, or ``grid_average`` where the set has no residual mix."""


def _row(**values: object) -> list[str]:
    unknown = set(values) - set(CSV_FIELDS)
    assert not unknown, unknown
    return ["" if values.get(f) is None else str(values[f]) for f in CSV_FIELDS]


def _factor_columns(grid: FactorUse, residual: FactorUse | None) -> dict[str, object]:
    out: dict[str, object] = {
        "factor_set": grid.set,
        "factor_path": " -> ".join(grid.path),
        "factor": grid.g_per_mwh,
        "factor_unit": f"g{grid.gas}/MWh",
        "factor_source": source_text(grid.source),
    }
    if residual is not None:
        out["residual_basis"] = (
            "grid_average" if residual.role == "residual_is_grid_average" else "residual_mix"
        )
        out["residual_factor"] = residual.g_per_mwh
        out["residual_source"] = source_text(residual.source)
    return out


def report_csv(report: CarbonReport) -> str:
    """The report as CSV (:data:`CSV_FIELDS`; CRLF line ends): every site and month, every
    plant and month, every scope 1 activity report, then one ``total`` row, whose
    ``avoided_g`` is what the claimed clean energy avoided and ``plants_avoided_g`` what the
    plants' generation avoided, kept apart (never summed: the same energy may be in both)."""
    inv = report.inventory
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_FIELDS)
    for m in inv.months:
        writer.writerow(_row(
            record="site_month", site=m.site, month=m.month, gas=m.grid.gas,
            consumption_wh=m.consumption_wh, claimed_wh=m.claimed_wh,
            covered_volume_wh=m.covered_volume_wh, matched_hourly_wh=m.matched_hourly_wh,
            intervals_measured=m.readings - m.corrected, intervals_estimated=m.corrected,
            scope2_location_g=m.location_g, scope2_market_annual_g=m.market_volume_g,
            scope2_market_hourly_g=m.market_hourly_g, avoided_g=m.avoided_g,
            **_factor_columns(m.grid, m.residual),
        ))  # fmt: skip
    for p in inv.plants:
        writer.writerow(_row(
            record="plant_month", device=p.device, month=p.month, gas=p.grid.gas,
            generation_wh=p.generation_wh, intervals_measured=p.readings, avoided_g=p.avoided_g,
            **_factor_columns(p.grid, None),
        ))  # fmt: skip
    fuel_factors = {(f.set, f.fuel): f for f in report.fuel_factors}
    for a in inv.scope1.activities:
        fuel = fuel_factors.get((a.factor_set, a.fuel))
        writer.writerow(_row(
            record="activity", site=a.site, month=a.month, gas=a.gas, activity=a.id,
            fuel=a.fuel, quantity=a.quantity, unit=a.unit, status=a.status,
            scope1_confirmed_g=a.emissions_g if a.status == "confirmed" else None,
            scope1_reported_g=a.emissions_g if a.status == "reported" else None,
            factor_set=a.factor_set, factor_path=" -> ".join(a.factor_path),
            factor=None if fuel is None else fuel.g_per_unit,
            factor_unit=None if fuel is None else f"g{fuel.gas}/{fuel.unit}",
            factor_source=None if fuel is None else source_text(fuel.source),
        ))  # fmt: skip
    q = report.data_quality
    writer.writerow(_row(
        record="total", month=f"{inv.start}..{inv.end}", gas=inv.gas,
        consumption_wh=inv.consumption_wh, claimed_wh=inv.claimed_wh,
        covered_volume_wh=inv.covered_volume_wh, matched_hourly_wh=inv.matched_hourly_wh,
        generation_wh=sum(p.generation_wh for p in inv.plants),
        intervals_measured=q.measured_intervals, intervals_estimated=q.estimated_intervals,
        scope1_confirmed_g=inv.scope1.confirmed_g, scope1_reported_g=inv.scope1.reported_g,
        scope2_location_g=inv.scope2_location_g,
        scope2_market_annual_g=inv.scope2_market_volume_g,
        scope2_market_hourly_g=inv.scope2_market_hourly_g, avoided_g=inv.avoided_g,
        plants_avoided_g=inv.plants_avoided_g,
    ))  # fmt: skip
    return out.getvalue()


# the GHG Protocol reporting layout ---------------------------------------------------------------
class Amount(msgspec.Struct, kw_only=True):
    """Emissions, in grams and as exact tonnes.

    Attributes:
        g: Grams of the report's gas.
        t: The same, in metric tonnes (an exact decimal string, six places).
    """

    g: int
    t: str


def _amount(grams: int) -> Amount:
    return Amount(g=grams, t=tonnes(grams))


class FactorDisclosure(msgspec.Struct, kw_only=True):
    """An emission factor a figure used, with its source.

    Attributes:
        basis: grid_average, residual_mix, or grid_average_as_residual (no residual mix in
            the set: the grid average stood in).
        region: The region asked for.
        answered_by: The region whose set answered (another one after a fallback).
        factor_set: The factor set's id on the ledger.
        g_per_mwh: The factor, grams per MWh.
        kg_per_kwh: The same, as publishers print it.
        gas: CO2 or CO2e.
        publisher: Who published it.
        document: The document's number or title.
        year: The data year.
        geography: The geography it was published for.
        library_id: Its id in the shipped factor library.
    """

    basis: str
    region: str
    answered_by: str
    factor_set: str
    g_per_mwh: int
    kg_per_kwh: str
    gas: str
    publisher: str
    document: str
    year: int
    geography: str
    library_id: str


def _disclose(f: FactorUse) -> FactorDisclosure:
    basis = "grid_average_as_residual" if f.role == "residual_is_grid_average" else f.role
    return FactorDisclosure(
        basis=basis, region=f.region, answered_by=f.path[-1], factor_set=f.set,
        g_per_mwh=f.g_per_mwh, kg_per_kwh=_factor_kg_per_kwh(f.g_per_mwh), gas=f.gas,
        publisher=f.source.publisher, document=f.source.document, year=f.source.year,
        geography=f.source.geography, library_id=f.source.factor_id,
    )  # fmt: skip


class Scope1Source(msgspec.Struct, kw_only=True):
    """Scope 1 of one fuel: the confirmed activity data.

    Attributes:
        fuel: The fuel.
        quantity: The quantity burnt, in ``unit``.
        unit: The activity unit.
        emissions: Its emissions.
    """

    fuel: str
    quantity: int
    unit: str
    emissions: Amount


class Scope1Table(msgspec.Struct, kw_only=True):
    """Scope 1: direct emissions from fuel burnt at the organisation's sites.

    Attributes:
        total: Confirmed by a carbon verifier (what scope 1 is).
        unverified: Reported, not yet confirmed: not in ``total``.
        sources: The confirmed total by fuel and unit.
        emission_factors: The fuel factors used, with their sources.
    """

    total: Amount
    unverified: Amount
    sources: list[Scope1Source]
    emission_factors: list[FuelFactorUse]


class LocationBased(msgspec.Struct, kw_only=True):
    """Scope 2, location-based: consumption x the grid-average factor of its region and month.

    Attributes:
        total: Emissions.
        consumption_mwh: Metered consumption, MWh (exact decimal string).
        emission_factors: The grid-average factors used.
    """

    total: Amount
    consumption_mwh: str
    emission_factors: list[FactorDisclosure]


class ContractualInstruments(msgspec.Struct, kw_only=True):
    """The instruments the market-based figure uses.

    Attributes:
        type: The instrument (``energytag_granular_certificate``).
        scheme: The scheme they were issued under.
        bundles: Claimed bundles.
        claimed_mwh: MWh claimed.
        emission_rate_g_per_mwh: The rate they convey (0).
        share_of_consumption_annual_ppm: Consumption covered with annual matching, per
            million.
        share_of_consumption_hourly_ppm: Consumption covered hour by hour, per million.
        quality_criteria: How they meet the Scope 2 Quality Criteria.
    """

    type: str
    scheme: str
    bundles: int
    claimed_mwh: str
    emission_rate_g_per_mwh: int
    share_of_consumption_annual_ppm: int
    share_of_consumption_hourly_ppm: int
    quality_criteria: list[str]


class ResidualMix(msgspec.Struct, kw_only=True):
    """What consumption no instrument covers is counted at.

    Attributes:
        used: Whether a residual-mix factor was used for every month.
        grid_average_instead: Whether a grid average stood in where a set has none.
        emission_factors: The residual-mix (or standing-in grid-average) factors.
    """

    used: bool
    grid_average_instead: bool
    emission_factors: list[FactorDisclosure]


class MarketBased(msgspec.Struct, kw_only=True):
    """Scope 2, market-based: covered consumption at the instruments' rate, the rest at the
    residual mix.

    Attributes:
        total: Emissions.
        matching: ``annual`` (volume over the period) or ``hourly`` (same hour only).
        covered_mwh: Consumption the instruments cover under this matching, MWh.
    """

    total: Amount
    matching: str
    covered_mwh: str


class Boundary(msgspec.Struct, kw_only=True):
    """The inventory boundary.

    Attributes:
        approach: How sites and plants were included.
        sites: Consumption sites registered to the organisation.
        plants: Generation plants registered to it.
    """

    approach: str
    sites: int
    plants: int


class GhgReport(msgspec.Struct, kw_only=True):
    """The GHG Protocol Corporate Standard's reporting table with the Scope 2 Guidance's
    required disclosures (``gridledger/ghg-protocol-report/v1``).

    Attributes:
        format: ``gridledger/ghg-protocol-report/v1``.
        standard: The standards followed.
        company: The reporting organisation's id.
        company_name: Its name.
        period_start: First day of the reporting period, ``YYYY-MM-DD``.
        period_end: Last day of the reporting period, ``YYYY-MM-DD``.
        boundary: The inventory boundary.
        gas: CO2 or CO2e: every figure is in this gas.
        gases_included: The greenhouse gases the figures cover.
        scope_1: Direct emissions.
        scope_2_location_based: Scope 2 by the location-based method.
        scope_2_market_based: Scope 2 by the market-based method (annual matching, the
            Scope 2 Guidance's).
        scope_2_market_based_hourly: The market-based figure with hourly matching, as the
            2025 revision proposals ask (supplementary).
        contractual_instruments: The instruments behind the market-based figures.
        residual_mix: What uncovered consumption was counted at.
        scope_3: What scope 3 covers (not included).
        biogenic_co2: Biogenic CO2 reported outside the scopes.
        avoided_emissions: Avoided by the clean energy claimed for the organisation's sites,
            reported separately, never deducted from a scope.
        avoided_by_plants: Avoided by the organisation's plants' generation, apart from
            ``avoided_emissions`` (the two may count the same energy when the sites claim the
            plants' certificates).
        avoided_methodology: How avoided emissions are computed.
        offsets: Offsets netted (none).
        base_year: The base year (none set).
        methodologies: How each figure is computed.
        fallbacks: Regions whose factors came from a fallback, ``<asked> -> <answered>``.
        data_quality: Measured and estimated intervals, verified scope 1.
        disclosures: The report's disclosures (English).
        as_of: The block the figures were computed at.
    """

    format: str
    standard: str
    company: str
    company_name: str
    period_start: str
    period_end: str
    boundary: Boundary
    gas: str
    gases_included: list[str]
    scope_1: Scope1Table
    scope_2_location_based: LocationBased
    scope_2_market_based: MarketBased
    scope_2_market_based_hourly: MarketBased
    contractual_instruments: ContractualInstruments
    residual_mix: ResidualMix
    scope_3: str
    biogenic_co2: str
    avoided_emissions: Amount
    avoided_by_plants: Amount
    avoided_methodology: str
    offsets: str
    base_year: int | None
    methodologies: dict[str, str]
    fallbacks: list[str]
    data_quality: DataQuality
    disclosures: list[str]
    as_of: AsOf


STANDARD = (
    "GHG Protocol Corporate Accounting and Reporting Standard (revised edition, 2004) and "
    "GHG Protocol Scope 2 Guidance (2015)"
)
METHODOLOGIES = {
    "scope_1": "Confirmed activity data x the fuel factor of the factor set in force for the "
    "site's region and month; emissions = quantity x g_per_unit.",
    "scope_2_location_based": "Metered consumption per site and month x the grid-average "
    "factor of the set in force for the site's region and month (province -> regional grid "
    "-> country); grams = Wh x g_per_mwh // 1,000,000 per site and month.",
    "scope_2_market_based": "Consumption covered by claimed certificates at 0 g/MWh; the rest "
    "at the set's residual-mix factor, or its grid average where it has none. Annual matching: "
    "the period's claims cover consumption month by month in time order, up to their total.",
    "scope_2_market_based_hourly": "As market-based, but a certificate covers consumption only "
    "in the hour it was produced (sum over hours of min(consumption, claimed)).",
}
AVOIDED_METHODOLOGY = (
    "Metered clean energy x the grid-average factor of its region and month (what the same "
    "energy from the grid would have emitted): the certificates claimed for the "
    "organisation's sites, and, given apart and never added to it, its plants' generation."
)
QUALITY_CRITERIA = [
    "conveys the generation's emission rate: 0 g/MWh (renewable or storage production)",
    "the only instrument for its energy: each Wh id is in exactly one bundle, claimed once",
    "cancelled for an account of the organisation at one of its own sites, then claimed",
    "vintage: production in the reporting period (hourly: the same hour)",
    "issued from metered generation on the same ledger as the consumption",
]


def _day(month: str, last: bool) -> str:
    """The first or the last day of ``YYYY-MM``, ``YYYY-MM-DD``."""
    start_s, end_s = carbon.month_bounds(month)
    seconds = end_s - 86_400 if last else start_s
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d")


def ghg_layout(report: CarbonReport) -> GhgReport:
    """The report in the GHG Protocol's reporting layout (:class:`GhgReport`)."""
    inv = report.inventory
    confirmed = [a for a in inv.scope1.activities if a.status == "confirmed"]
    by_fuel: dict[tuple[str, str], list[int]] = {}
    for a in confirmed:
        row = by_fuel.setdefault((a.fuel, a.unit), [0, 0])
        row[0] += a.quantity
        row[1] += a.emissions_g
    grid = [_disclose(f) for f in inv.factors if f.role == "grid_average"]
    residual = [_disclose(f) for f in inv.factors if f.role != "grid_average"]
    inst = report.instruments
    return GhgReport(
        format=GHG_FORMAT,
        standard=STANDARD,
        company=report.organisation.id,
        company_name=report.organisation.name,
        period_start=_day(inv.start, last=False),
        period_end=_day(inv.end, last=True),
        boundary=Boundary(
            approach="the sites and plants registered to the organisation on the ledger "
            "(operational control)",
            sites=report.organisation.sites,
            plants=report.organisation.plants,
        ),
        gas=inv.gas,
        gases_included=["CO2"] if inv.gas == "CO2" else ["CO2e (GWP100, IPCC AR6)"],
        scope_1=Scope1Table(
            total=_amount(inv.scope1.confirmed_g),
            unverified=_amount(inv.scope1.reported_g),
            sources=[
                Scope1Source(fuel=fuel, quantity=q, unit=unit, emissions=_amount(g))
                for (fuel, unit), (q, g) in sorted(by_fuel.items())
            ],
            emission_factors=list(report.fuel_factors),
        ),
        scope_2_location_based=LocationBased(
            total=_amount(inv.scope2_location_g),
            consumption_mwh=decimal(inv.consumption_wh, 6),
            emission_factors=grid,
        ),
        scope_2_market_based=MarketBased(
            total=_amount(inv.scope2_market_volume_g),
            matching="annual",
            covered_mwh=decimal(inv.covered_volume_wh, 6),
        ),
        scope_2_market_based_hourly=MarketBased(
            total=_amount(inv.scope2_market_hourly_g),
            matching="hourly",
            covered_mwh=decimal(inv.matched_hourly_wh, 6),
        ),
        contractual_instruments=ContractualInstruments(
            type=inst.type,
            scheme=inst.scheme,
            bundles=inst.bundles,
            claimed_mwh=decimal(inst.claimed_wh, 6),
            emission_rate_g_per_mwh=inst.production_g_per_mwh,
            share_of_consumption_annual_ppm=inst.covered_volume_ppm,
            share_of_consumption_hourly_ppm=inst.matched_hourly_ppm,
            quality_criteria=list(QUALITY_CRITERIA),
        ),
        residual_mix=ResidualMix(
            used=bool(residual) and all(f.basis == "residual_mix" for f in residual),
            grid_average_instead=report.data_quality.residual_is_grid_average,
            emission_factors=residual,
        ),
        scope_3="not included",
        biogenic_co2="not reported: no biogenic activity data is recorded",
        avoided_emissions=_amount(inv.avoided_g),
        avoided_by_plants=_amount(inv.plants_avoided_g),
        avoided_methodology=AVOIDED_METHODOLOGY,
        offsets="none netted into any scope",
        base_year=None,
        methodologies=dict(METHODOLOGIES),
        fallbacks=list(inv.fallbacks),
        data_quality=report.data_quality,
        disclosures=list(report.disclosures),
        as_of=report.as_of,
    )


# the PDF ---------------------------------------------------------------------------------------
PDF_TEXTS: dict[Lang, dict[str, str]] = {
    "en": {
        "title": "Carbon inventory report",
        "subtitle": "GHG Protocol Corporate Standard · Scope 2 Guidance (both methods)",
        "headline": "{name} ({org}), {start} to {end} (months of {zone})",
        "gas": "All emissions in grams (g) and tonnes (t) of {gas}.",
        "summary": "Emissions",
        "scope1": "Scope 1 (confirmed)",
        "scope1_unverified": "Scope 1 reported, not confirmed (not counted)",
        "location": "Scope 2, location-based",
        "market_annual": "Scope 2, market-based (annual matching)",
        "market_hourly": "Scope 2, market-based (hourly matching)",
        "avoided": "Avoided emissions (apart from the scopes)",
        "avoided_claims": "of which by certificates claimed",
        "avoided_plants": "of which by the organisation's plants",
        "energy": "Energy and contractual instruments",
        "consumption": "Metered consumption",
        "claimed": "Certificates claimed",
        "covered_annual": "Covered, annual matching",
        "covered_hourly": "Covered, hourly matching",
        "instruments": "Instruments",
        "instruments_value": "{bundles} bundle(s) of {scheme}, 0 g/MWh",
        "generation": "Generation of its plants",
        "quality": "Data quality",
        "intervals": "Metered consumption intervals",
        "intervals_value": "{n}: {m} measured, {e} estimated (corrected by the grid operator)",
        "activities": "Scope 1 activity reports",
        "activities_value": "{c} confirmed, {r} awaiting a verifier, {x} rejected",
        "fallbacks": "Factor fallbacks",
        "none": "none",
        "factors": "Emission factors and their sources",
        "sep": " · ",
        "amount": "{g} g · {t} t",
        "role_grid_average": "grid average",
        "role_residual_mix": "residual mix",
        "role_residual_is_grid_average": "residual: grid average",
        "factor_value": "{g} g/MWh ({kg} kg/kWh) {gas}; set {set}; path {path}",
        "fuel_factor": "fuel: {fuel}",
        "fuel_value": "{g} g{gas}/{unit}; set {set}",
        "source": "Source",
        "sites": "Sites by month",
        "plants": "Plants by month",
        "scope1_table": "Scope 1 activity data",
        "disclosures": "Disclosures",
        "methodology": "Methodology",
        "col_site": "site",
        "col_month": "month",
        "col_consumption": "kWh used",
        "col_claimed": "kWh claimed",
        "col_matched": "kWh hourly",
        "col_intervals": "meas./est.",
        "col_location": "loc. g",
        "col_market": "market g",
        "col_hourly": "hourly g",
        "col_device": "plant",
        "col_generation": "kWh generated",
        "col_avoided": "avoided g",
        "col_factor": "g/MWh",
        "col_activity": "report",
        "col_fuel": "fuel",
        "col_quantity": "quantity",
        "col_status": "status",
        "col_emissions": "g",
        "status_confirmed": "confirmed",
        "status_reported": "reported",
        "status_rejected": "rejected",
        "m_location": "Location-based: metered consumption per site and month x the grid-average "
        "factor of the set in force for its region and month (province -> regional grid -> "
        "country); grams = Wh x g/MWh / 1,000,000, rounded down per site and month.",
        "m_market": "Market-based: consumption covered by claimed certificates at 0 g/MWh, the "
        "rest at the set's residual-mix factor or, where it has none, its grid average. Annual "
        "matching lets the period's claims cover consumption month by month; hourly matching "
        "only in the hour they were produced.",
        "m_scope1": "Scope 1: confirmed activity data x the fuel factor in force.",
        "m_avoided": "Avoided emissions: metered clean energy (plants' generation, certificates "
        "claimed) x the grid-average factor it displaced; never deducted from a scope.",
        "footer": "Computed at block {height} of chain {chain} ({time}), state root "
        "{root}. The machine-readable report: GET /v1/carbon/report?org={org}&start={start}"
        "&end={end}&format=json (or ghg, csv). Rules: docs/carbon.md.",
    },
    "zh": {
        "title": "碳排放核算报告",
        "subtitle": "温室气体核算体系企业标准；范围二指南（两种方法）",
        "headline": "{name}（{org}），{start} 至 {end}（{zone} 时区的月份）",
        "gas": "所有排放量以 {gas} 的克（g）和吨（t）计。",
        "summary": "排放量",
        "scope1": "范围一（已确认）",
        "scope1_unverified": "范围一已报告、未确认（不计入）",
        "location": "范围二，基于位置法",
        "market_annual": "范围二，基于市场法（年度匹配）",
        "market_hourly": "范围二，基于市场法（逐时匹配）",
        "avoided": "避免排放（与各范围分开）",
        "avoided_claims": "其中：已申领证书",
        "avoided_plants": "其中：本机构电站",
        "energy": "电量与合约工具",
        "consumption": "计量用电量",
        "claimed": "已申领证书",
        "covered_annual": "覆盖电量（年度匹配）",
        "covered_hourly": "覆盖电量（逐时匹配）",
        "instruments": "合约工具",
        "instruments_value": "{bundles} 个证书包，认证规则 {scheme}，0 克/兆瓦时",
        "generation": "本机构电站发电量",
        "quality": "数据质量",
        "intervals": "计量用电时段",
        "intervals_value": "{n} 个：实测 {m} 个，估算 {e} 个（电网运营方更正）",
        "activities": "范围一活动数据报告",
        "activities_value": "已确认 {c} 份，待核查 {r} 份，已驳回 {x} 份",
        "fallbacks": "排放因子回退",
        "none": "无",
        "factors": "排放因子及其来源",
        "sep": "，",
        "amount": "{g} 克（{t} 吨）",
        "role_grid_average": "电网平均",
        "role_residual_mix": "剩余电力组合",
        "role_residual_is_grid_average": "剩余组合：电网平均",
        "factor_value": "{g} 克/兆瓦时（{kg} 千克/千瓦时）{gas}；因子集 {set}；路径 {path}",
        "fuel_factor": "燃料：{fuel}",
        "fuel_value": "{g} 克{gas}/{unit}；因子集 {set}",
        "source": "来源",
        "sites": "各用电场所逐月数据",
        "plants": "各电站逐月数据",
        "scope1_table": "范围一活动数据",
        "disclosures": "披露事项",
        "methodology": "核算方法",
        "col_site": "场所",
        "col_month": "月份",
        "col_consumption": "用电千瓦时",
        "col_claimed": "申领千瓦时",
        "col_matched": "逐时千瓦时",
        "col_intervals": "实测/估算",
        "col_location": "位置法 克",
        "col_market": "市场法 克",
        "col_hourly": "逐时 克",
        "col_device": "电站",
        "col_generation": "发电千瓦时",
        "col_avoided": "避免 克",
        "col_factor": "克/兆瓦时",
        "col_activity": "报告",
        "col_fuel": "燃料",
        "col_quantity": "数量",
        "col_status": "状态",
        "col_emissions": "克",
        "status_confirmed": "已确认",
        "status_reported": "待核查",
        "status_rejected": "已驳回",
        "m_location": "基于位置法：各场所每月计量用电量 × 该月其所在区域生效因子集的电网平均因子"
        "（省 → 区域电网 → 全国）；克 = 瓦时 × 克/兆瓦时 ÷ 1,000,000，每个场所每月向下取整。",
        "m_market": "基于市场法：已申领证书覆盖的用电量按 0 克/兆瓦时计，其余按因子集的剩余电力"
        "组合因子计，无该因子时按电网平均因子计。年度匹配允许报告期内的证书逐月覆盖用电量；"
        "逐时匹配仅覆盖证书生产当小时的用电量。",
        "m_scope1": "范围一：已确认的活动数据 × 生效的燃料排放因子。",
        "m_avoided": "避免排放：计量的清洁电量（电站发电量、已申领证书）× 其所替代电量的电网"
        "平均因子；不从任何范围中扣除。",
        "footer": "于链 {chain} 的区块 {height}（{time}）计算，状态根 {root}。机器可读报告："
        "GET /v1/carbon/report?org={org}&start={start}&end={end}&format=json（或 ghg、csv）。"
        "规则见 docs/carbon.md。",
    },
}


class _ReportPage(_Page):
    """The certificate page's cursor, with text beyond Latin-1 set in the CJK font on an
    English page too (the factors' publishers and documents are often Chinese), and Latin-1
    text in Helvetica on a Chinese page."""

    def font_for(self, value: str) -> str:
        try:
            value.encode("latin-1")  # what Helvetica covers
        except UnicodeEncodeError:
            return _font("zh")
        return "Helvetica"


class _Table:
    """Columns of small text under a header row that repeats on every new page; a cell too
    wide for its column wraps onto more lines (never cut)."""

    LINE_H = 9.6
    SIZE = 6.8

    def __init__(self, page: _ReportPage, columns: list[tuple[str, float, bool]]) -> None:
        """``columns``: (heading, width in points, right-aligned)."""
        self.page = page
        self.columns = columns
        self.header_page = 0

    def _lines(self, cells: list[str], bold: bool) -> list[tuple[str, list[str]]]:
        out = []
        for (_, width, _), value in zip(self.columns, cells, strict=True):
            font = self.page.font_for(value)
            if bold and font == "Helvetica":
                font = "Helvetica-Bold"
            out.append((font, wrap(value, font, self.SIZE, width - 3)))
        return out

    def _draw(self, lines: list[tuple[str, list[str]]]) -> None:
        page = self.page
        x = MARGIN
        for (_, width, right), (font, texts) in zip(self.columns, lines, strict=True):
            page.c.setFont(font, self.SIZE)
            for i, text in enumerate(texts):
                y = page.y - i * self.LINE_H
                if right:
                    page.c.drawRightString(x + width - 3, y, text)
                else:
                    page.c.drawString(x, y, text)
            x += width
        page.y -= self._height(lines)

    def _height(self, lines: list[tuple[str, list[str]]]) -> float:
        return self.LINE_H * max(len(texts) for _, texts in lines)

    def row(self, cells: list[str]) -> None:
        """One row, below the header row if this page has none yet."""
        header = self._lines([c[0] for c in self.columns], bold=True)
        lines = self._lines(cells, bold=False)
        needs_header = self.header_page != self.page.pages
        self.page.room(self._height(lines) + (self._height(header) if needs_header else 0))
        if self.header_page != self.page.pages:  # on this page, or on the one just begun
            self.page.c.setFillColor(EXPLAINED)
            self._draw(header)
            self.page.c.setFillColor(colors.black)
            self.header_page = self.page.pages
        self._draw(lines)


def _paragraphs(page: _ReportPage, texts: Iterable[str], size: float = 8.2) -> None:
    width = page.width - 2 * MARGIN
    for text in texts:
        lines = wrap(text, page.font_for(text), size, width - 10)
        page.room(len(lines) * 10.4 + 2)
        page.text(MARGIN, page.y, "•", "Helvetica", size)
        for line in lines:
            page.text(MARGIN + 10, page.y, line, page.font_for(line), size)
            page.y -= 10.4
        page.y -= 2


def render_report_pdf(report: CarbonReport, lang: Lang = "en") -> bytes:
    """The report as a PDF in English or Chinese (A4, as many pages as it needs).

    Args:
        report: the report (:func:`carbon_report`).
        lang: ``en`` or ``zh`` (simplified Chinese, in the built-in STSong-Light font).

    Returns:
        The PDF's bytes; the same report gives the same bytes.

    Raises:
        ValueError: an unknown language.
    """
    if lang not in LANGS:
        raise ValueError(f"language {lang!r}: en or zh")
    t = PDF_TEXTS[lang]
    inv, org, as_of = report.inventory, report.organisation, report.as_of
    local = LocalTime(check_zone(inv.time_zone))
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setTitle(f"{t['title']} {org.id} {inv.start}..{inv.end}")
    canvas.setAuthor(org.name)
    canvas.setSubject(f"{REPORT_FORMAT} @ {as_of.height}:{as_of.block_hash}")
    canvas.setCreator("GridLedger")
    footer = t["footer"].format(
        height=as_of.height, chain=as_of.chain_id, root=as_of.state_root, org=org.id,
        start=inv.start, end=inv.end, time=stamp(local, as_of.time_s),
    )  # fmt: skip
    page = _ReportPage(canvas, lang, footer)
    page.value_x = MARGIN + 190
    page.name_x = page.width - MARGIN - 112

    page.text(MARGIN, page.y - 14, t["title"], _bold(lang), 19)
    page.y -= 29
    canvas.setFillColor(EXPLAINED)
    page.text(MARGIN, page.y, t["subtitle"], page.font, 9)
    canvas.setFillColor(colors.black)
    page.y -= 20
    headline = t["headline"].format(
        name=org.name, org=org.id, start=inv.start, end=inv.end, zone=inv.time_zone
    )
    for line in wrap(headline, _bold(lang), 13, page.width - 2 * MARGIN):
        page.text(MARGIN, page.y, line, _bold(lang), 13)
        page.y -= 16
    canvas.setFillColor(ACCENT)
    page.text(MARGIN, page.y, t["gas"].format(gas=inv.gas), page.font, 9.5)
    canvas.setFillColor(colors.black)
    page.y -= 8

    def amount(grams: int) -> str:
        return t["amount"].format(g=_number(grams), t=tonnes(grams))

    page.heading(t["summary"])
    page.row(t["scope1"], "scope1.confirmed_g", amount(inv.scope1.confirmed_g))
    page.row(t["scope1_unverified"], "scope1.reported_g", amount(inv.scope1.reported_g))
    page.row(t["location"], "scope2_location_g", amount(inv.scope2_location_g))
    page.row(t["market_annual"], "scope2_market_volume_g", amount(inv.scope2_market_volume_g))
    page.row(t["market_hourly"], "scope2_market_hourly_g", amount(inv.scope2_market_hourly_g))
    page.row(t["avoided"], "avoided_g", amount(inv.avoided_g))
    page.row(t["avoided_claims"], "avoided_by_claims_g", amount(report.avoided_by_claims_g))
    page.row(t["avoided_plants"], "avoided_by_plants_g", amount(report.avoided_by_plants_g))

    inst = report.instruments
    page.heading(t["energy"])
    page.row(t["consumption"], "consumption_wh", f"{_kwh(inv.consumption_wh)} kWh")
    page.row(t["claimed"], "claimed_wh", f"{_kwh(inv.claimed_wh)} kWh")
    covered = f"{_kwh(inv.covered_volume_wh)} kWh ({_percent(inst.covered_volume_ppm)})"
    page.row(t["covered_annual"], "covered_volume_wh", covered)
    matched = f"{_kwh(inv.matched_hourly_wh)} kWh ({_percent(inst.matched_hourly_ppm)})"
    page.row(t["covered_hourly"], "matched_hourly_wh", matched)
    instruments = t["instruments_value"].format(bundles=inst.bundles, scheme=inst.scheme)
    page.row(t["instruments"], "instruments", instruments)
    if inv.plants:
        generated = sum(p.generation_wh for p in inv.plants)
        page.row(t["generation"], "plants[].generation_wh", f"{_kwh(generated)} kWh")

    q = report.data_quality
    page.heading(t["quality"])
    intervals = t["intervals_value"].format(
        n=_number(q.intervals), m=_number(q.measured_intervals), e=_number(q.estimated_intervals)
    )
    page.row(t["intervals"], "data_quality.intervals", intervals)
    activities = t["activities_value"].format(
        c=q.activities_confirmed, r=q.activities_reported, x=q.activities_rejected
    )
    page.row(t["activities"], "data_quality.activities_*", activities)
    page.row(t["fallbacks"], "inventory.fallbacks", ", ".join(inv.fallbacks) or t["none"])

    page.heading(t["factors"])
    for f in inv.factors:
        value = t["factor_value"].format(
            g=_number(f.g_per_mwh), kg=_factor_kg_per_kwh(f.g_per_mwh), gas=f.gas, set=f.set,
            path=" -> ".join(f.path),
        )  # fmt: skip
        page.row(f"{t['role_' + f.role]}{t['sep']}{f.region}", None, value)
        page.row(f"  {t['source']}", None, source_text(f.source))
    for fuel in report.fuel_factors:
        value = t["fuel_value"].format(
            g=_number(fuel.g_per_unit), gas=fuel.gas, unit=fuel.unit, set=fuel.set
        )
        page.row(t["fuel_factor"].format(fuel=fuel.fuel), None, value)
        page.row(f"  {t['source']}", None, source_text(fuel.source))

    if inv.months:
        page.heading(t["sites"])
        table = _Table(page, [
            (t["col_site"], 70, False), (t["col_month"], 40, False),
            (t["col_consumption"], 56, True), (t["col_claimed"], 56, True),
            (t["col_matched"], 56, True), (t["col_intervals"], 46, True),
            (t["col_location"], 62, True), (t["col_market"], 62, True),
            (t["col_hourly"], 62, True),
        ])  # fmt: skip
        for m in inv.months:
            table.row([m.site, m.month, _kwh(m.consumption_wh), _kwh(m.claimed_wh),
                       _kwh(m.matched_hourly_wh), f"{m.readings - m.corrected}/{m.corrected}",
                       _number(m.location_g), _number(m.market_volume_g),
                       _number(m.market_hourly_g)])  # fmt: skip
    if inv.plants:
        page.heading(t["plants"])
        table = _Table(page, [
            (t["col_device"], 110, False), (t["col_month"], 50, False),
            (t["col_generation"], 90, True), (t["col_intervals"], 60, True),
            (t["col_factor"], 80, True), (t["col_avoided"], 90, True),
        ])  # fmt: skip
        for p in inv.plants:
            table.row([p.device, p.month, _kwh(p.generation_wh), str(p.readings),
                       _number(p.grid.g_per_mwh), _number(p.avoided_g)])  # fmt: skip
    if inv.scope1.activities:
        page.heading(t["scope1_table"])
        table = _Table(page, [
            (t["col_activity"], 70, False), (t["col_site"], 70, False),
            (t["col_month"], 44, False), (t["col_fuel"], 96, False),
            (t["col_quantity"], 70, True), (t["col_status"], 60, False),
            (t["col_emissions"], 90, True),
        ])  # fmt: skip
        for a in inv.scope1.activities:
            table.row([a.id, a.site, a.month, a.fuel, f"{_number(a.quantity)} {a.unit}",
                       t[f"status_{a.status}"], _number(a.emissions_g)])  # fmt: skip

    page.heading(t["disclosures"])
    _paragraphs(page, disclosures(report, lang))
    page.heading(t["methodology"])
    _paragraphs(page, [t["m_location"], t["m_market"], t["m_scope1"], t["m_avoided"]])
    page.draw_footer()
    canvas.showPage()
    canvas.save()
    return out.getvalue()
