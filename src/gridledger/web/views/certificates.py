"""Web view: granular energy certificates (see :mod:`gridledger.web`).

* ``/certificates``: the registry: bundles filtered by plant, holder, status and production
  day, with the Wh in each status, a page at a time; links to each household's certificates
  and each certifier's page.
* ``/certificates/household/{account}``: a household's certificates: its hourly-matched clean
  share (the EnergyTag 24/7 score: per hour, the lesser of consumption and certificates
  produced that hour and claimed for the site) beside the annual-volume share, per day and
  site, with the latest day hour by hour; the certificates claimed for it and those it holds,
  each with its PDF, its proof file and the public Verify page, where the proof is checked in
  the browser.
* ``/certificates/certifier/{account}``: a certifier's issuance queue (final, fully metered,
  not yet issued device intervals that measured something, as its keeper sees them:
  :func:`gridledger.node.cert_keeper.issuance_queue`), what is still waiting for readings, and
  the register of every plant's issued and withdrawn Wh.
* ``/certificates/bundle/{id}``: one bundle, every field, with its documents.

Bundles are read from the committed state through the certificates contract's queries;
listings by holder, status or production time find their ids in the certificate index beside
the chain (:mod:`gridledger.readmodels.certificates`) and read each bundle from the state,
leaving out one the state does not show as the index does yet. Statuses are read at the last
block's time. Every page does bounded work: :data:`PAGE` bundles, :data:`MAX_DAYS` days.
"""

from __future__ import annotations

import re
from typing import Any, get_args
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gridledger.api.context import ApiContext
from gridledger.contracts import certificates, registry
from gridledger.contracts.certificates import Bundle, Status
from gridledger.core.localtime import LocalTime
from gridledger.node.cert_keeper import issuable_devices, issuance_queue
from gridledger.node.node import Node
from gridledger.readmodels import certificates as index
from gridledger.state.state import StateReader
from gridledger.web.charts import Series, bars
from gridledger.web.i18n import Translator, pick_lang
from gridledger.web.render import render
from gridledger.web.views.market import DAY_S, clamp, latest_day, not_found, now_s

NAV = "certificates"
PAGE = 50
"""Bundles per registry page, and per list of a household's page."""
MAX_DAYS = 31
DEFAULT_DAYS = 7
QUEUE_DAYS = 2
"""Days of each plant's latest meter data the certifier's queue looks at by default."""
QUEUE_ROWS = 200
STATUSES: tuple[Status, ...] = get_args(Status)
HELD: tuple[Status, ...] = ("active", "locked", "cancelled")
"""What a household holds: live bundles and cancelled ones not yet claimed."""
ACCOUNT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
HOUR_S = 3600


class BadFilter(ValueError):
    """A registry filter that is not valid; ``key`` names its message."""

    def __init__(self, key: str, value: str) -> None:
        super().__init__(key)
        self.key = key
        self.value = value


def documents(bundle_id: str, lang: str = "en") -> dict[str, str]:
    """Where a bundle's documents are: its page, PDF (in the page's language), proof file and
    QR code, and the public page that checks a proof file in the browser."""
    quoted = quote(bundle_id, safe=":")
    pdf_lang = "zh" if lang.startswith("zh") else "en"
    return {
        "page": f"/certificates/bundle/{quoted}",
        "pdf": f"/v1/certificates/{quoted}/pdf?lang={pdf_lang}",
        "proof": f"/v1/certificates/{quoted}/proof",
        "qr": f"/v1/certificates/{quoted}/qr",
        "verify": "/verify",
    }


def bundle_row(bundle: Bundle, time_s: int, lang: str = "en") -> dict[str, Any]:
    """What a table row shows of a bundle (its documents in ``lang``)."""
    cancel = bundle.cancellation
    return {
        "id": bundle.id,
        "device": bundle.device,
        "start": bundle.production_start_s,
        "end": bundle.production_end_s,
        "wh": bundle.quantity_wh,
        "owner": bundle.owner,
        "status": certificates.status_at(bundle, time_s),
        "site": cancel.site if cancel else None,
        "beneficiary": cancel.beneficiary if cancel else None,
        "pairing": cancel.pairing if cancel else None,
        "type": bundle.bundle_type,
        "docs": documents(bundle.id, lang),
    }


def _account(view: StateReader, account: str, role: str) -> registry.Account | None:
    if not ACCOUNT_ID.match(account):
        return None
    record = registry.get_account(view, account)
    return record if record is not None and role in record.roles else None


def _share(part: int, whole: int) -> int | None:
    """``part / whole`` in per mille, None without a whole."""
    return part * 1000 // whole if whole else None


def _day(text: str, local: LocalTime) -> int:
    """A ``YYYY-MM-DD`` (the chain's local day) as the start of that day, Unix seconds."""
    try:
        return local.parse_day(text)
    except ValueError:
        raise BadFilter("cert.filter.bad_day", text[:32]) from None


def _filters(
    request: Request, time_s: int, local: LocalTime
) -> tuple[index.BundleFilter, dict[str, str]]:
    """The registry's filter from the query (raises :class:`BadFilter`), and the query's
    values to show in the form."""
    q = request.query_params
    shown = {k: q.get(k, "").strip() for k in ("device", "owner", "status", "day")}
    for name in ("device", "owner"):
        if shown[name] and not ACCOUNT_ID.match(shown[name]):
            raise BadFilter(f"cert.filter.bad_{name}", shown[name][:64])
    if shown["status"] and shown["status"] not in STATUSES:
        raise BadFilter("cert.filter.bad_status", shown["status"][:32])
    start = end = None
    if shown["day"]:
        start = _day(shown["day"], local)
        end = local.next_day(start)
    statuses: tuple[Status, ...] | None = None
    if shown["status"]:
        statuses = tuple(s for s in STATUSES if s == shown["status"])
    f = index.BundleFilter(
        device=shown["device"] or None,
        owner=shown["owner"] or None,
        statuses=statuses,
        start_s=start,
        end_s=end,
        time_s=time_s,
    )
    return f, shown


def _matches(b: Bundle, f: index.BundleFilter) -> bool:
    """Whether the state's bundle still is what the index found (the index commits a moment
    before the state)."""
    return (
        (f.device is None or b.device == f.device)
        and (f.owner is None or b.owner == f.owner)
        and (f.statuses is None or certificates.status_at(b, f.time_s) in f.statuses)
        and (f.start_s is None or b.production_start_s >= f.start_s)
        and (f.end_s is None or b.production_start_s < f.end_s)
    )


def find(
    node: Node, view: StateReader, f: index.BundleFilter, after: str | None, limit: int
) -> tuple[list[Bundle], str | None]:
    """A page of the bundles ``f`` matches, through the certificate index, and the id to ask
    for the next page after (None after the last)."""
    first = None
    if after:
        first = certificates.parse_bundle_id(after)
        if first is None:
            raise BadFilter("cert.filter.bad_after", after[:64])
    ids = index.bundle_ids(node.readmodels.reader(), f, first, limit + 1)
    more = len(ids) > limit
    ids = ids[:limit]
    found = [
        b
        for b in (certificates.get_bundle(view, i) for i in ids)
        if b is not None and _matches(b, f)
    ]
    return found, ids[-1] if more and ids else None


def _matching(
    view: StateReader,
    sites: list[registry.Site],
    start: int,
    end: int,
    days: list[int],
    local: LocalTime,
) -> dict[str, Any]:
    """Hourly and volume matching over the household's sites: totals, per site, per day, and
    the last day hour by hour."""
    per_site: list[dict[str, Any]] = []
    daily: dict[int, dict[str, Any]] = {
        d: {"day": d, "consumed": 0, "claimed": 0, "matched": 0} for d in days
    }
    hours: dict[int, dict[str, int]] = {
        h: {"consumed": 0, "claimed": 0, "matched": 0} for h in range(days[-1], end, HOUR_S)
    }
    for site in sites:
        m = certificates.matching(view, site.id, start, end)
        per_site.append(
            {
                "site": site.id,
                "consumed": m.consumption_wh,
                "claimed": m.claimed_wh,
                "matched": m.hourly_matched_wh,
                "hourly": m.hourly_score_ppm // 1000 if m.consumption_wh else None,
                "volume": m.volume_score_ppm // 1000 if m.consumption_wh else None,
            }
        )
        for h in m.hours:
            row = daily.get(local.day_of(h.start_s))
            if row is not None:
                row["consumed"] += h.consumption_wh
                row["claimed"] += h.claimed_wh
                row["matched"] += h.matched_wh
            if h.start_s in hours:
                hours[h.start_s]["consumed"] += h.consumption_wh
                hours[h.start_s]["claimed"] += h.claimed_wh
                hours[h.start_s]["matched"] += h.matched_wh
    for row in daily.values():
        row["share"] = _share(row["matched"], row["consumed"])
    consumed = sum(s["consumed"] for s in per_site)
    claimed = sum(s["claimed"] for s in per_site)
    matched = sum(s["matched"] for s in per_site)
    return {
        "consumed": consumed,
        "claimed": claimed,
        "matched": matched,
        "hourly": _share(matched, consumed),
        "volume": _share(min(claimed, consumed), consumed),
        "sites": per_site,
        "daily": [daily[d] for d in days],
        "hours": [{"start": h, **v} for h, v in hours.items()],
    }


def _hour_chart(t: Translator, hours: list[dict[str, Any]], local: LocalTime) -> str:
    return bars(
        t("cert.household.chart"),
        t("cert.household.chart_desc"),
        [local.format(h["start"], "%H") for h in hours],
        [
            Series(t("cert.matched"), [h["matched"] / 1000 for h in hours], "var(--clean)"),
            Series(
                t("cert.unmatched"),
                [max(h["consumed"] - h["matched"], 0) / 1000 for h in hours],
                "var(--grid)",
            ),
        ],
        stacked=True,
        times=[h["start"] for h in hours],
    )


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    node = ctx.node

    def bad(request: Request, exc: BadFilter, **page: Any) -> HTMLResponse:
        return render(
            request, node, "certificates/registry.html", NAV, status_code=400,
            error={"key": exc.key, "value": exc.value}, **page,
        )  # fmt: skip

    @r.get("/certificates", response_class=HTMLResponse)
    def registry_page(request: Request) -> Response:
        view = node.state.view
        time_s = node.tip.time // 1000
        lang = pick_lang(request)
        household = request.query_params.get("household", "").strip()
        if household:
            return RedirectResponse(
                f"/certificates/household/{quote(household, safe='')}", status_code=303
            )
        common: dict[str, Any] = {
            "devices": [d.id for d in registry.list_devices(view).items],
            "statuses": STATUSES,
            "certifiers": registry.list_accounts(view, limit=20, role="certifier").items,
            "scheme": certificates.bundles.params(view),
            "time_s": time_s,
        }
        empty = {"device": "", "owner": "", "status": "", "day": ""}
        try:
            f, shown = _filters(request, time_s, ctx.local)
            found, nxt = find(node, view, f, request.query_params.get("after"), PAGE)
        except BadFilter as exc:
            return bad(request, exc, shown=empty, rows=[], totals=[], next_query=None, **common)
        totals = index.totals(node.readmodels.reader(), f)
        next_query = None
        if nxt is not None:
            next_query = urlencode({**{k: v for k, v in shown.items() if v}, "after": nxt})
        return render(
            request, node, "certificates/registry.html", NAV,
            shown=shown, rows=[bundle_row(b, time_s, lang) for b in found], totals=totals,
            next_query=next_query, error=None, **common,
        )  # fmt: skip

    @r.get("/certificates/household/{account}", response_class=HTMLResponse)
    def household(request: Request, account: str) -> Response:
        view = node.state.view
        record = _account(view, account, "consumer")
        if record is None:
            return not_found(request, node, NAV, account)
        t = Translator(pick_lang(request))
        time_s = node.tip.time // 1000
        n_days = clamp(request.query_params.get("days"), 1, MAX_DAYS, DEFAULT_DAYS)
        local = ctx.local
        last = latest_day(view, local)
        if last is None:
            last = local.day_of(time_s)
        days = local.days_back(last, n_days)
        start, end = days[0], local.next_day(last)
        sites = registry.list_sites(view, owner_org=record.org).items
        matched = _matching(view, sites, start, end, days, local)
        stated = certificates.statement(view, account, start, end, limit=PAGE + 1)
        claimed = [bundle_row(b, time_s, t.lang) for b in stated.bundles[:PAGE]]
        held_filter = index.BundleFilter(owner=account, statuses=HELD, time_s=time_s)
        held, held_more = find(node, view, held_filter, None, PAGE)
        held_rows = [bundle_row(b, time_s, t.lang) for b in held]
        chart = None
        if any(h["consumed"] for h in matched["hours"]):
            chart = _hour_chart(t, matched["hours"], local)
        return render(
            request, node, "certificates/household.html", NAV,
            account=record, days=n_days, max_days=MAX_DAYS, start=start, end=end, last=last,
            m=matched, chart=chart, claimed=claimed, claimed_wh=stated.claimed_wh,
            claimed_more=len(stated.bundles) > PAGE, held=held_rows,
            held_more=held_more is not None,
            registry_query=urlencode({"owner": account}),
        )  # fmt: skip

    @r.get("/certificates/certifier/{account}", response_class=HTMLResponse)
    def certifier(request: Request, account: str) -> Response:
        view = node.state.view
        record = _account(view, account, "certifier")
        if record is None:
            return not_found(request, node, NAV, account)
        n_days = clamp(request.query_params.get("days"), 1, MAX_DAYS, QUEUE_DAYS)
        now = now_s(node)
        queue = issuance_queue(view, now, n_days * DAY_S, QUEUE_ROWS)
        plants: list[dict[str, Any]] = [
            {"device": device, "ledger": certificates.device_ledger(view, device.id)}
            for device in issuable_devices(view)
        ]
        return render(
            request, node, "certificates/certifier.html", NAV,
            account=record, queue=queue, days=n_days, max_days=MAX_DAYS, rows=QUEUE_ROWS,
            plants=plants, scheme=certificates.bundles.params(view), now=now,
            devices=[p["device"].id for p in plants], statuses=STATUSES,
        )  # fmt: skip

    @r.get("/certificates/bundle/{bundle_id}", response_class=HTMLResponse)
    def bundle_page(request: Request, bundle_id: str) -> Response:
        view = node.state.view
        found = certificates.get_bundle(view, bundle_id)
        if found is None:
            return not_found(request, node, NAV, bundle_id[:80])
        time_s = node.tip.time // 1000
        lang = pick_lang(request)
        return render(
            request, node, "certificates/bundle.html", NAV,
            b=found, row=bundle_row(found, time_s, lang), docs=documents(found.id, lang),
        )  # fmt: skip

    return r
