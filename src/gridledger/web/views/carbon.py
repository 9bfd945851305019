"""Web view: carbon footprints (see :mod:`gridledger.web`).

* ``/carbon/household/{id}``: a household's footprint (``id`` is a consumer account or
  organisation): scope 2 by the location-based method and the market-based method with annual
  (volume) and with hourly matching side by side, per month and per day in charts and tables,
  the emissions its clean choice avoided, scope 1 if it reported any, per site, every factor
  used with its source and any fallback, and the quality of the data behind the figures; with
  its PDF report (``/v1/carbon/report``, which covers only months that have ended by the
  last block's time: the link is cut at the last such month).
* ``/carbon``: the community: every household's figures (a page at a time) and their totals
  (up to :data:`COMMUNITY_MAX` households), and the emissions each plant's generation
  avoided.
* ``/carbon/regulator``: the regulators, their region map and every factor set recorded, those
  in force at the last block's time marked.

Every figure is an inventory of :mod:`gridledger.readmodels.carbon_inventory` over whole
months of the chain's time zone (its genesis ``time_zone``; ``?start=YYYY-MM&end=YYYY-MM``;
by default the year up to the latest month with metered data), so the pages show exactly
what the API and the reports compute. The daily chart alone is drawn here: per site and local
day, from the carbon read model's hourly rows, with the factors the inventory used for that
site's month, rounded down per site and day (so its days need not add up to the month's
figure to the gram). Emissions are shown in kg with three decimals, which is the
inventories' grams exactly.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from gridledger.api.context import ApiContext
from gridledger.contracts import carbon, registry
from gridledger.core.errors import GridLedgerError
from gridledger.core.localtime import LocalTime
from gridledger.readmodels.carbon import month_of
from gridledger.readmodels.carbon_inventory import (
    MAX_MONTHS,
    WH_PER_MWH,
    FactorUse,
    Inventory,
    MixedGas,
    SiteMonth,
    month_text,
    org_inventory,
)
from gridledger.state.state import StateReader, decode_record
from gridledger.web.charts import Series, bars
from gridledger.web.i18n import Translator, pick_lang
from gridledger.web.render import render
from gridledger.web.views.market import not_found

NAV = "carbon"
PAGE = 50
"""Households per page of the community."""
CHART_DAYS = 31
"""The daily chart shows at most this many days: the last ones of the period with data."""
SETS_SHOWN = 200
COMMUNITY_MAX = 5_000
"""The most households whose inventories the community page adds up (about 0.2 ms each);
beyond, it shows each page's households without the totals."""
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
SUBJECT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
REGION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,29})?$")
COLORS = {
    "location": "var(--grid)",
    "market": "#7b61a8",
    "hourly": "var(--clean)",
}


class BadQuery(ValueError):
    """A query parameter that is not valid; ``key`` names its translated message."""

    def __init__(self, key: str, value: str) -> None:
        super().__init__(key)
        self.key = key
        self.value = value


def kg(grams: int | None) -> str:
    """Grams as kilograms with three decimals, exactly (``88161`` -> ``88.161``)."""
    if grams is None:
        return "-"
    sign = "-" if grams < 0 else ""
    whole, part = divmod(abs(grams), 1000)
    return f"{sign}{whole:,}.{part:03d}"


def kg_per_kwh(g_per_mwh: int) -> str:
    """A factor in g/MWh as kg/kWh, exactly (``441900`` -> ``0.4419``)."""
    whole, part = divmod(g_per_mwh, WH_PER_MWH)
    return f"{whole}.{part:06d}".rstrip("0").rstrip(".") if part else str(whole)


def report_url(org: str, start: str, end: str, lang: str, fmt: str = "pdf") -> str:
    """The organisation's carbon report for the period, from the API."""
    query = {"org": org, "start": start, "end": end, "format": fmt}
    if fmt == "pdf":
        query["lang"] = "zh" if lang.startswith("zh") else "en"
    return "/v1/carbon/report?" + urlencode(query)


def report_link(
    org: str, start: str, end: str, lang: str, time_s: int, local: LocalTime
) -> dict[str, Any]:
    """The PDF report a page offers: a report covers only months that have ended by the last
    block's time, so the period is cut at the last such month (``url`` None if none is in
    the period). ``end`` is the month the link covers, ``cut`` whether it is earlier than the
    page's."""
    closed = local.month_text(local.month_of(local.month_of(time_s) - 1))
    last = min(end, closed)
    if last < start:
        return {"url": None, "start": start, "end": end, "cut": True, "opens": end}
    return {
        "url": report_url(org, start, last, lang),
        "start": start,
        "end": last,
        "cut": last != end,
        "opens": end,
    }


def _text(value: bytes | str) -> str:
    """A TEXT column (the store's connections give TEXT back as bytes)."""
    return value.decode() if isinstance(value, bytes) else value


# the period ----------------------------------------------------------------------------------
def latest_month(conn: sqlite3.Connection, org: str | None = None) -> int | None:
    """The latest month (of the chain's time zone) with metered consumption, of ``org``'s
    sites or of any site."""
    if org is None:
        row = conn.execute(
            "SELECT MAX(month_s) FROM carbon_site_months WHERE consumption_wh > 0"
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT MAX(m.month_s) FROM carbon_site_months m JOIN carbon_sites s "
            "ON s.site = m.site WHERE s.org = ? AND m.consumption_wh > 0",
            (org,),
        ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def period(request: Request, default_end_s: int, local: LocalTime) -> tuple[str, str]:
    """The page's months ``(start, end)`` as YYYY-MM from ``?start=`` and ``?end=``; by
    default the year up to ``default_end_s``'s month. Raises :class:`BadQuery`."""
    q = request.query_params
    start = q.get("start", "").strip()
    end = q.get("end", "").strip()
    for value in (start, end):
        if value and not MONTH.match(value):
            raise BadQuery("carbon.query.bad_month", value[:32])
    if not end:
        end = max(local.month_text(default_end_s), start)
    if not start:
        start = f"{end[:4]}-01"
    if start > end:
        raise BadQuery("carbon.query.bad_order", f"{start} > {end}")
    first, last = (int(v[:4]) * 12 + int(v[5:]) for v in (start, end))
    if last - first + 1 > MAX_MONTHS:
        raise BadQuery("carbon.query.too_long", f"{start}..{end}")
    return start, end


def _month_bounds(start: str, end: str, local: LocalTime) -> tuple[int, int]:
    """Unix seconds of the first second of ``start`` and of the month after ``end`` (local
    months)."""
    return local.month_start(start), local.next_month(local.month_start(end))


# a household ---------------------------------------------------------------------------------
@dataclass
class Figures:
    """Scope 2 by both methods and avoided emissions of some site-months, grams."""

    consumption_wh: int = 0
    claimed_wh: int = 0
    matched_hourly_wh: int = 0
    covered_volume_wh: int = 0
    location_g: int = 0
    market_volume_g: int = 0
    market_hourly_g: int = 0
    avoided_g: int = 0
    readings: int = 0
    corrected: int = 0
    sites: set[str] = field(default_factory=set)

    def add(self, row: SiteMonth) -> None:
        self.consumption_wh += row.consumption_wh
        self.claimed_wh += row.claimed_wh
        self.matched_hourly_wh += row.matched_hourly_wh
        self.covered_volume_wh += row.covered_volume_wh
        self.location_g += row.location_g
        self.market_volume_g += row.market_volume_g
        self.market_hourly_g += row.market_hourly_g
        self.avoided_g += row.avoided_g
        self.readings += row.readings
        self.corrected += row.corrected
        self.sites.add(row.site)

    def merge(self, other: Figures) -> None:
        for name in (
            "consumption_wh", "claimed_wh", "matched_hourly_wh", "covered_volume_wh",
            "location_g", "market_volume_g", "market_hourly_g", "avoided_g", "readings",
            "corrected",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.sites |= other.sites


def figures_of(rows: Iterable[SiteMonth]) -> Figures:
    out = Figures()
    for row in rows:
        out.add(row)
    return out


def _by(rows: Iterable[SiteMonth], key: str) -> list[tuple[str, Figures]]:
    grouped: dict[str, Figures] = {}
    for row in rows:
        grouped.setdefault(getattr(row, key), Figures()).add(row)
    return sorted(grouped.items())


def _set_months(view: StateReader, factors: list[FactorUse]) -> dict[str, tuple[str, str]]:
    """Each used set's period, first and last month (YYYY-MM)."""
    out: dict[str, tuple[str, str]] = {}
    for f in factors:
        found = carbon.get_set(view, f.set)
        if found is not None and f.set not in out:
            out[f.set] = (month_text(found.start_s), month_text(month_of(found.end_s - 1)))
    return out


def factor_rows(view: StateReader, inventories: Iterable[Inventory]) -> list[dict[str, Any]]:
    """The factors the inventories used, once each, with what a reader must know of each:
    the lookup's fallback (another region's set), a figure published for another geography,
    and a data year other than that of the months it was used for."""
    used: dict[tuple[str, str, str], FactorUse] = {}
    months: dict[tuple[str, str, str], set[str]] = {}
    for inventory in inventories:
        for f in inventory.factors:
            used.setdefault((f.set, f.region, f.role), f)
        for row in inventory.months:
            for f in (row.grid, row.residual):
                months.setdefault((f.set, f.region, f.role), set()).add(row.month)
        for p in inventory.plants:
            months.setdefault((p.grid.set, p.grid.region, p.grid.role), set()).add(p.month)
    factors = [used[k] for k in sorted(used)]
    periods = _set_months(view, factors)
    out = []
    for f in factors:
        in_months = sorted(months.get((f.set, f.region, f.role), ()))
        years = sorted({int(m[:4]) for m in in_months})
        out.append(
            {
                "use": f,
                "kg_per_kwh": kg_per_kwh(f.g_per_mwh),
                "period": periods.get(f.set),
                "months": in_months,
                "other_geography": f.source.geography != f.path[-1],
                "other_year": [y for y in years if y != f.source.year],
            }
        )
    return out


def daily(
    conn: sqlite3.Connection, inventory: Inventory, start_s: int, end_s: int, local: LocalTime
) -> list[dict[str, Any]]:
    """Per local day (the chain's time zone) of the period's last :data:`CHART_DAYS` up to
    its last day with metered consumption (from the first such day among them): consumption,
    hourly-matched and claimed Wh, and location-based and hourly market-based grams with the
    factors the inventory used for each site's month, rounded down per site and day."""
    factors = {(r.site, r.month): (r.grid, r.residual) for r in inventory.months}
    sites = sorted({r.site for r in inventory.months})
    if not sites:
        return []
    marks = ",".join("?" * len(sites))
    span = conn.execute(
        f"SELECT MAX(hour_s) FROM carbon_site_hours WHERE site IN ({marks}) "  # noqa: S608
        "AND hour_s >= ? AND hour_s < ? AND consumption_wh > 0",
        (*sites, start_s, end_s),
    ).fetchone()
    if span is None or span[0] is None:
        return []
    last_day = local.day_of(int(span[0]))
    after_last = local.next_day(last_day)
    earliest = max(local.days_back(last_day, CHART_DAYS)[0], start_s)
    (first_hour,) = conn.execute(
        f"SELECT MIN(hour_s) FROM carbon_site_hours WHERE site IN ({marks}) "  # noqa: S608
        "AND hour_s >= ? AND hour_s < ? AND consumption_wh > 0",
        (*sites, earliest, after_last),
    ).fetchone()
    first_day = local.day_of(int(first_hour))
    per: dict[tuple[str, int], list[int]] = {}
    for site, hour, c, k in conn.execute(
        "SELECT site, hour_s, consumption_wh, claimed_wh FROM carbon_site_hours "  # noqa: S608
        f"WHERE site IN ({marks}) AND hour_s >= ? AND hour_s < ? AND hour_s < ?",
        (*sites, first_day, after_last, end_s),
    ):
        cell = per.setdefault((_text(site), local.day_of(int(hour))), [0, 0, 0])
        cell[0] += c
        cell[1] += min(c, k)
        cell[2] += k
    days = {
        d: {"day": d, "consumption_wh": 0, "matched_wh": 0, "claimed_wh": 0, "location_g": 0,
            "market_hourly_g": 0}
        for d in _days(local, first_day, last_day)
    }  # fmt: skip
    for (site, day), (c, matched, k) in sorted(per.items()):
        used = factors.get((site, local.month_text(day)))
        if used is None or day not in days:
            continue
        grid, residual = used
        d = days[day]
        d["consumption_wh"] += c
        d["matched_wh"] += matched
        d["claimed_wh"] += k
        d["location_g"] += c * grid.g_per_mwh // WH_PER_MWH
        d["market_hourly_g"] += (c - matched) * residual.g_per_mwh // WH_PER_MWH
    return list(days.values())


def _method_series(t: Translator, rows: list[Figures], volume: bool) -> list[Series]:
    series = [Series(t("carbon.location"), [r.location_g / 1000 for r in rows], COLORS["location"])]
    if volume:
        series.append(
            Series(t("carbon.market"), [r.market_volume_g / 1000 for r in rows], COLORS["market"])
        )
    series.append(
        Series(t("carbon.market_hourly"), [r.market_hourly_g / 1000 for r in rows],
               COLORS["hourly"])
    )  # fmt: skip
    return series


def month_chart(t: Translator, months: list[tuple[str, Figures]], gas: str) -> str:
    return bars(
        t("carbon.chart.months", gas=gas),
        t("carbon.chart.months_desc"),
        [m for m, _ in months],
        _method_series(t, [f for _, f in months], volume=True),
    )


def _days(local: LocalTime, first_day: int, last_day: int) -> list[int]:
    """The local days from ``first_day`` to ``last_day`` (their starts), inclusive."""
    out = [first_day]
    while out[-1] < last_day:
        out.append(local.next_day(out[-1]))
    return out


def day_chart(t: Translator, days: list[dict[str, Any]], gas: str, local: LocalTime) -> str:
    return bars(
        t("carbon.chart.days", gas=gas),
        t("carbon.chart.days_desc"),
        [local.format(d["day"], "%m-%d") for d in days],
        [
            Series(t("carbon.location"), [d["location_g"] / 1000 for d in days],
                   COLORS["location"]),
            Series(t("carbon.market_hourly"), [d["market_hourly_g"] / 1000 for d in days],
                   COLORS["hourly"]),
        ],
        times=[d["day"] for d in days],
    )  # fmt: skip


def short_labels(ids: list[str]) -> list[str]:
    """Ids without the prefix they share up to a separator (``house-001`` -> ``001``), so
    that a chart's labels fit."""
    prefix = min(ids, default="") if len(ids) > 1 else ""
    for other in ids:
        while not other.startswith(prefix):
            prefix = prefix[:-1]
    cut = max(prefix.rfind("-"), prefix.rfind("."), prefix.rfind("_")) + 1
    return [i[cut:] for i in ids]


def household_org(view: StateReader, subject: str) -> str | None:
    """The organisation of a consumer account, or a consumer organisation itself."""
    if not SUBJECT_ID.match(subject):
        return None
    account = registry.get_account(view, subject)
    if account is not None and "consumer" in account.roles:
        return account.org
    org = registry.get_organisation(view, subject)
    if org is not None and "consumer" in org.roles:
        return org.id
    return None


# the community -------------------------------------------------------------------------------
def site_orgs(conn: sqlite3.Connection) -> list[str]:
    """Every organisation holding a consumption site, in id order."""
    return [_text(o) for (o,) in conn.execute("SELECT DISTINCT org FROM carbon_sites ORDER BY org")]


def plant_orgs(conn: sqlite3.Connection) -> list[str]:
    """Every organisation holding a plant, in id order."""
    return [
        _text(o) for (o,) in conn.execute("SELECT DISTINCT org FROM carbon_devices ORDER BY org")
    ]


def community(
    conn: sqlite3.Connection, view: StateReader, start: str, end: str, orgs: list[str]
) -> tuple[dict[str, Figures], list[dict[str, Any]], dict[str, Inventory]]:
    """The household organisations' figures (their sites' months), every plant's generation
    and avoided emissions over the period, and the inventories they come from."""
    inventories: dict[str, Inventory] = {}
    households: dict[str, Figures] = {}
    for org in orgs:
        inventories[org] = org_inventory(conn, view, org, start, end)
        households[org] = figures_of(inventories[org].months)
    plants: dict[str, dict[str, Any]] = {}
    for org in plant_orgs(conn):
        if org not in inventories:
            inventories[org] = org_inventory(conn, view, org, start, end)
        for p in inventories[org].plants:
            row = plants.setdefault(
                p.device, {"device": p.device, "org": org, "generation_wh": 0, "avoided_g": 0,
                           "readings": 0}
            )  # fmt: skip
            row["generation_wh"] += p.generation_wh
            row["avoided_g"] += p.avoided_g
            row["readings"] += p.readings
    gases = {i.gas for i in inventories.values() if i.months or i.plants}
    if len(gases) > 1:
        raise MixedGas(f"the community's inventories are in {' and '.join(sorted(gases))}")
    return households, [plants[d] for d in sorted(plants)], inventories


# the regulator -------------------------------------------------------------------------------
def factor_sets(view: StateReader, region: str | None, limit: int) -> list[carbon.FactorSet]:
    """Factor sets in region and start order (one region's, or all), at most ``limit``."""
    if region is not None:
        return carbon.sets_of(view, region)[:limit]
    out: list[carbon.FactorSet] = []
    for _, raw in view.scan(carbon.keys.factor_sets()):
        out.append(decode_record(raw, carbon.FactorSet))
        if len(out) == limit:
            break
    return out


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    node = ctx.node

    def bad(request: Request, exc: BadQuery, status: int = 400) -> HTMLResponse:
        return render(
            request, node, "carbon/error.html", NAV, status_code=status,
            key=exc.key, value=exc.value, status=status, detail=None,
        )  # fmt: skip

    def refused(request: Request, exc: GridLedgerError) -> HTMLResponse:
        """An inventory the ledger cannot give (no factor in force, mixed gases)."""
        known = ("carbon.no_factor", "carbon.mixed_gas", "carbon.bad_period")
        key = f"carbon.refused.{exc.code.split('.')[-1]}" if exc.code in known else ""
        return render(
            request, node, "carbon/error.html", NAV, status_code=422,
            key=key or "carbon.refused.other", value="", status=422,
            detail=f"{exc.code}: {exc.message}",
        )  # fmt: skip

    def default_end(conn: sqlite3.Connection, org: str | None = None) -> int:
        found = latest_month(conn, org)
        return found if found is not None else node.tip.time // 1000

    @r.get("/carbon/household/{subject}", response_class=HTMLResponse)
    def household(request: Request, subject: str) -> Response:
        view = node.state.view
        conn = node.readmodels.reader()
        org = household_org(view, subject)
        if org is None:
            return not_found(request, node, NAV, subject[:80])
        t = Translator(pick_lang(request))
        try:
            start, end = period(request, default_end(conn, org), ctx.local)
            inventory = org_inventory(conn, view, org, start, end)
        except BadQuery as exc:
            return bad(request, exc)
        except GridLedgerError as exc:
            return refused(request, exc)
        totals = figures_of(inventory.months)
        months = _by(inventory.months, "month")
        sites = _by(inventory.months, "site")
        start_s, end_s = _month_bounds(start, end, ctx.local)
        days = daily(conn, inventory, start_s, end_s, ctx.local)
        gas = inventory.gas
        return render(
            request, node, "carbon/household.html", NAV,
            subject=subject, org=org, start=start, end=end, inv=inventory, totals=totals,
            months=months, sites=sites, days=days, gas=gas,
            month_chart=month_chart(t, months, gas) if months else None,
            day_chart=day_chart(t, days, gas, ctx.local) if days else None,
            factors=factor_rows(view, [inventory]),
            plants_avoided_g=sum(p.avoided_g for p in inventory.plants),
            pdf=report_link(org, start, end, t.lang, node.tip.time // 1000, ctx.local),
            kg=kg,
        )  # fmt: skip

    @r.get("/carbon", response_class=HTMLResponse)
    def community_page(request: Request) -> Response:
        view = node.state.view
        conn = node.readmodels.reader()
        t = Translator(pick_lang(request))
        after = request.query_params.get("after", "").strip()
        try:
            if after and not SUBJECT_ID.match(after):
                raise BadQuery("carbon.query.bad_after", after[:64])
            start, end = period(request, default_end(conn), ctx.local)
            every = site_orgs(conn)
            ids = [o for o in every if o > after]
            shown = ids[:PAGE]
            whole = len(every) <= COMMUNITY_MAX
            households, plants, inventories = community(
                conn, view, start, end, every if whole else shown
            )
        except BadQuery as exc:
            return bad(request, exc)
        except GridLedgerError as exc:
            return refused(request, exc)
        total: Figures | None = None
        if whole:
            total = Figures()
            for figures in households.values():
                total.merge(figures)
        chart = None
        if any(households[o].consumption_wh for o in shown):
            chart = bars(
                t("carbon.chart.households", gas=_gas(inventories.values())),
                t("carbon.chart.households_desc"),
                short_labels(shown),
                _method_series(t, [households[o] for o in shown], volume=True),
            )
        next_query = None
        if len(ids) > PAGE:
            next_query = urlencode({"start": start, "end": end, "after": shown[-1]})
        return render(
            request, node, "carbon/community.html", NAV,
            start=start, end=end, total=total, households=[(o, households[o]) for o in shown],
            household_count=len(every), most=COMMUNITY_MAX, plants=plants,
            plants_avoided_g=sum(p["avoided_g"] for p in plants),
            plants_generation_wh=sum(p["generation_wh"] for p in plants),
            chart=chart, next_query=next_query, gas=_gas(inventories.values()),
            factors=factor_rows(view, inventories.values()),
            pdf={
                o: report_link(o, start, end, t.lang, node.tip.time // 1000, ctx.local)
                for o in shown
            },
            kg=kg,
        )  # fmt: skip

    @r.get("/carbon/regulator", response_class=HTMLResponse)
    def regulator(request: Request) -> Response:
        view = node.state.view
        region = request.query_params.get("region", "").strip()
        if region and not REGION.match(region):
            return bad(request, BadQuery("carbon.query.bad_region", region[:32]))
        time_s = node.tip.time // 1000
        sets = factor_sets(view, region or None, SETS_SHOWN + 1)
        rows = [
            {
                "set": s,
                "first": month_text(s.start_s),
                "last": month_text(month_of(s.end_s - 1)),
                "in_force": s.start_s <= time_s < s.end_s,
                "grid": kg_per_kwh(s.grid_average.g_per_mwh),
                "residual": kg_per_kwh(s.residual_mix.g_per_mwh) if s.residual_mix else None,
            }
            for s in sets[:SETS_SHOWN]
        ]
        return render(
            request, node, "carbon/regulator.html", NAV,
            regulators=registry.list_accounts(view, limit=20, role="regulator").items,
            provinces=carbon.region_map(view).provinces, rows=rows, region=region,
            more=len(sets) > SETS_SHOWN, time_s=time_s,
        )  # fmt: skip

    return r


def _gas(inventories: Iterable[Inventory]) -> str:
    gases = {i.gas for i in inventories if i.months or i.plants}
    return next(iter(gases)) if len(gases) == 1 else "CO2"
