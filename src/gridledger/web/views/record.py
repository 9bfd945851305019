"""Web view: a household's clean-power record (see :mod:`gridledger.readmodels.green_record`).

``/consumer/{account}/record`` shows the household's streak of clean days, its milestones and,
in a month view (``?view=month&month=YYYY-MM``, the latest month by default), each day's
hourly-matched clean share against the threshold it chose, or in a year view
(``?view=year&year=YYYY``) each month's share, clean energy used and CO2 avoided. Days and
months are those of the chain's time zone.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from gridledger.api.context import ApiContext
from gridledger.contracts import community, market, registry
from gridledger.core.localtime import LocalTime
from gridledger.readmodels import green_record
from gridledger.state.state import StateReader
from gridledger.web.charts import Series, bars
from gridledger.web.i18n import Translator, pick_lang
from gridledger.web.render import render
from gridledger.web.views.market import not_found
from gridledger.web.views.participants import outcome_of

ACCOUNT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MONTH = re.compile(r"^(19[7-9]\d|2[0-8]\d\d)-(0[1-9]|1[0-2])$")
"""A month the pages show: 1970-01 to 2899-12 (any other falls back to the latest)."""
YEAR = re.compile(r"^(19[7-9]\d|2[0-8]\d\d)$")


def threshold_of(view: StateReader, account: str) -> int:
    """The clean share (permille) the household chose for its streak, or the default."""
    found = community.get_setting(view, account)
    return green_record.DEFAULT_THRESHOLD_PERMILLE if found is None else found.share_permille


def household(view: StateReader, account: str) -> registry.Account | None:
    """A consumer account (``None`` for anything else)."""
    if not ACCOUNT_ID.match(account):
        return None
    found = registry.get_account(view, account)
    if found is None or "consumer" not in found.roles:
        return None
    return found


def record_of(ctx: ApiContext, account: registry.Account) -> green_record.Record:
    """The household's record as the committed ledger has it."""
    node = ctx.node
    view = node.state.view
    return green_record.household_record(
        node.readmodels.reader(), view, account.org, threshold_of(view, account.id), ctx.local
    )


def month_days(found: green_record.Record, month: str, local: LocalTime) -> list[dict[str, Any]]:
    """Every local day of ``month`` with its share (``None`` without consumption)."""
    start = local.month_start(month)
    end = local.next_month(start)
    by_day = {d.day_s: d for d in found.days}
    out = []
    day = start
    while day < end:
        share = by_day.get(day)
        out.append(
            {
                "day": day,
                "consumption_wh": share.consumption_wh if share else 0,
                "matched_wh": share.matched_wh if share else 0,
                "share": share.share_permille if share else None,
                "clean": share is not None and share.clean(found.threshold_permille),
            }
        )
        day = local.next_day(day)
    return out


def _missed(
    view: StateReader, account: registry.Account, rec: green_record.Record, local: LocalTime
) -> green_record.Missed | None:
    """The nudge of a household whose every site is on grid power again after clean days."""
    prefs = market.preferences_of(view, account.id)
    if not prefs or any(p.choice == "clean" for p in prefs):
        return None
    since = max(p.since_s for p in prefs)
    site = registry.get_site(view, prefs[0].site)
    if site is None or not rec.days:
        return None
    factor = green_record.grid_factor(view, site.grid_region, local.month_text(rec.days[-1].day_s))
    return green_record.missed(rec, local.day_of(since), factor or 0)


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    node = ctx.node
    auth = ctx.auth
    assert auth is not None

    @r.get("/consumer/{account}/record", response_class=HTMLResponse)
    def record_page(request: Request, account: str) -> Response:
        view = node.state.view
        found = household(view, account)
        if found is None:
            return not_found(request, node, "consumer", account[:80])
        t = Translator(pick_lang(request))
        local = ctx.local
        rec = record_of(ctx, found)
        latest = rec.days[-1].day_s if rec.days else node.tip.time // 1000
        mode = request.query_params.get("view", "month")
        mode = mode if mode in ("month", "year") else "month"
        month = request.query_params.get("month", "")
        if not MONTH.match(month):
            month = local.month_text(latest)
        year = request.query_params.get("year", "")
        if not YEAR.match(year):
            year = month[:4]
        days = month_days(rec, month, local) if mode == "month" else []
        months = [m for m in rec.months if m.month.startswith(year + "-")]
        if mode == "month":
            chart = bars(
                t("record.chart.days", month=month),
                t("record.chart.days_desc", threshold=rec.threshold_permille / 10),
                [local.format(d["day"], "%d") for d in days],
                [
                    Series(
                        t("record.share"),
                        [None if d["share"] is None else d["share"] / 10 for d in days],
                        "var(--clean)",
                    )
                ],
                times=[d["day"] for d in days],
            )
        else:
            chart = bars(
                t("record.chart.months", year=year),
                t("record.chart.months_desc"),
                [m.month[5:] for m in months],
                [
                    Series(
                        t("record.share"),
                        [
                            None if m.share_permille is None else m.share_permille / 10
                            for m in months
                        ],
                        "var(--clean)",
                    )
                ],
            )
        start = local.month_start(month)
        nudge = _missed(view, found, rec, local)
        prev_month = local.month_text(start - 1)
        next_month = local.month_text(local.next_month(start))
        return render(
            request,
            node,
            "participants/record.html",
            "consumer",
            account=found,
            rec=rec,
            mode=mode,
            month=month,
            year=year,
            days=days,
            months=months,
            this_month=rec.month(month),
            chart=chart,
            prev_month=prev_month,
            next_month=next_month,
            prev_year=str(int(year) - 1),
            next_year=str(int(year) + 1),
            consent=community.get_consent(view, found.id),
            member=(viewer := auth.viewer(request)) is not None and viewer.account == found.id,
            custodial=found.id in auth.custody,
            custody_off=auth.site.custodial_refusal,
            outcome=outcome_of(node, found.id, request.query_params.get("tx")),
            error=request.query_params.get("error", "")[:64],
            login_next=f"/consumer/{found.id}/record",
            missed=nudge,
            card_lang="zh" if t.lang.startswith("zh") else "en",
        )

    return r
