"""Web view: consumers and producers (see :mod:`gridledger.web`).

``/consumer/{account}`` shows a household's choice of clean or grid power per site with one
button to switch it, its pairings of the latest day with data, its clean share per day and its
payments. The switch is a ``market.set_preference`` transaction signed with the account's key:

* in the browser (``static/sign.js``): the member pastes the key's 32-byte seed once (kept in
  the tab's ``sessionStorage`` only); the page signs with WebCrypto Ed25519 and submits to
  ``POST /v1/txs``;
* by the node, for community accounts whose keys it keeps (:mod:`gridledger.node.custody`),
  for that account's member only, signed in (:mod:`gridledger.web.views.auth`): the form
  posts to ``/consumer/{account}/choice``, which checks the request's ``Origin``, the
  member's session and the form's CSRF token, reads at most :data:`CHOICE_FORM_LIMIT` bytes
  under a deadline, checks the site and the choice, then signs, submits and waits. A refusal
  is a page with its code, and nothing reaches the node. A visitor not signed in as the
  account's member sees a sign-in link instead of the button; a node served on the network
  without TLS shows the button disabled, with the reason.

Either way the page then shows the committed receipt (``?tx=<hash>``). ``/producer/{account}``
shows each plant's generation, sales and grid export per interval of the latest day, its
revenue and its buyers. Pages read the committed state with bounded work (at most
:data:`MAX_DAYS` days, :data:`LIST_PAGE` accounts per list page).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gridledger.api.context import ApiContext
from gridledger.api.errors import (
    InsecureTransport,
    InvalidForm,
    NotCustodial,
    NotYourAccount,
    SignInRequired,
)
from gridledger.contracts import funds, market, metering, registry
from gridledger.core.encoding import decode_json
from gridledger.core.errors import GridLedgerError
from gridledger.core.localtime import LocalTime
from gridledger.node.node import Node
from gridledger.readmodels import market as totals
from gridledger.sdk.tx import sign_tx
from gridledger.state.state import StateReader
from gridledger.web.charts import Series, bars, lines
from gridledger.web.i18n import Translator, pick_lang
from gridledger.web.render import render
from gridledger.web.views.auth import read_form, refused
from gridledger.web.views.market import clamp, days_back, latest_day, not_found

log = logging.getLogger(__name__)

MAX_DAYS = 30
DEFAULT_DAYS = 14
LIST_PAGE = 100
WAIT_S = 10.0
"""How long the custodial switch waits for its transaction to commit."""
CHOICE_FORM_LIMIT = 512
"""Bytes of the choice form: a site id, a choice and a CSRF token need about 150."""
CHOICES = ("clean", "grid")
ACCOUNT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
TX_HASH = re.compile(r"^[0-9a-f]{64}$")
GOLD = "#e0a100"
"""Generation in the producer's chart."""
GRID = "var(--grid)"


def _account(view: StateReader, account: str, role: str) -> registry.Account | None:
    if not ACCOUNT_ID.match(account):
        return None
    record = registry.get_account(view, account)
    if record is None or role not in record.roles:
        return None
    return record


def _not_a(request: Request, node: Node, role: str, account: str) -> Response:
    """The 404 page of ``role``'s dashboard for ``account``: saying so when the account is on
    the ledger with other roles (a household's producer page), with links to its pages."""
    record = registry.get_account(node.state.view, account) if ACCOUNT_ID.match(account) else None
    roles = None if record is None else sorted(record.roles)
    return not_found(request, node, role, account, roles=roles)


def _assets(
    view: StateReader, what: registry.AssetKind, org: str | None = None
) -> list[registry.Device] | list[registry.Site]:
    """Every device (or site), or one organisation's."""
    if what == "device":
        return registry.list_devices(view, owner_org=org).items
    return registry.list_sites(view, owner_org=org).items


def _members(
    view: StateReader, role: str, what: registry.AssetKind, after: str
) -> list[dict[str, Any]]:
    """Accounts holding ``role`` after ``after`` (one page and one more), with their assets."""
    by_org: dict[str, list[str]] = {}
    for record in _assets(view, what):
        by_org.setdefault(record.owner_org, []).append(record.id)
    found = registry.list_accounts(view, after or None, LIST_PAGE + 1, role=role)
    return [
        {**msgspec.to_builtins(acct), "assets": by_org.get(acct.org, [])} for acct in found.items
    ]


def _meter_wh(
    view: StateReader, what: registry.AssetKind, asset: str, start: int, end: int
) -> dict[int, int]:
    """Metered energy of a site or device per hour start in ``[start, end)``."""
    out: dict[int, int] = {}
    for meter in registry.meter_ids_of(view, what, asset):
        for rec in metering.readings(view, meter, start, end, limit=100_000):
            hour = rec.start_s - rec.start_s % 3600
            out[hour] = out.get(hour, 0) + rec.effective_wh()
    return out


def _switch_body(pref: market.Preference | None, site: str, choice: str) -> dict[str, Any]:
    """The ``market.set_preference`` body that switches ``site`` to ``choice``, carrying over
    the current choice's price cap, preferred plants and quantity."""
    body: dict[str, Any] = {"site": site, "choice": choice}
    if pref is not None:
        kept = {
            "price_cap": pref.price_cap_fen_per_kwh,
            "preferred": pref.preferred,
            "quantity_wh": pref.quantity_wh,
        }
        body.update({k: v for k, v in kept.items() if v not in (None, [])})
    return body


def outcome_of(node: Node, account: str, tx_hash: str | None) -> dict[str, Any] | None:
    """What became of a transaction the page was asked to report (``?tx=``)."""
    if tx_hash is None or not TX_HASH.match(tx_hash):
        return None
    stored = node.store.tx(bytes.fromhex(tx_hash))
    if stored is None:
        return {"hash": tx_hash, "state": "pending"}
    tx = decode_json(stored.raw)
    if tx.get("sender") != account:
        return None
    receipt = decode_json(stored.receipt)
    return {
        "hash": tx_hash,
        "state": receipt["status"],
        "height": stored.height,
        "code": receipt.get("code"),
        "message": receipt.get("message"),
        "choice": tx.get("body", {}).get("choice"),
        "kind": tx.get("kind"),
    }


def _consumer_days(
    node: Node,
    view: StateReader,
    account: str,
    sites: list[str],
    days: list[int],
    local: LocalTime,
) -> list[dict[str, Any]]:
    """Per local day: consumption (metered), clean power delivered, grid power, payments."""
    first, end = days[0], local.next_day(days[-1])
    day_of = local.day_of
    rows: dict[int, dict[str, Any]] = {
        d: {"day": d, "consumed": 0, "clean": 0, "clean_paid": 0, "grid_paid": 0} for d in days
    }
    for site in sites:
        for hour, wh in _meter_wh(view, "site", site, first, end).items():
            rows[day_of(hour)]["consumed"] += wh
    for p in totals.account_pairings(
        node.readmodels.reader(), view, account, first, end, limit=100_000
    ):
        if p.consumer == account:
            row = rows[day_of(p.interval_start_s)]
            row["clean"] += p.delivered_wh or 0
            row["clean_paid"] += p.amount_fen or 0
    for record in market.intervals(view, first, end, limit=len(days) * 96):
        if record.status != "settled":
            continue
        for site in sites:
            grid = market.grid_settlement(view, record.start_s, "import", site)
            if grid is not None and grid.account == account:
                rows[day_of(record.start_s)]["grid_paid"] += grid.amount_fen
    for row in rows.values():
        row["grid"] = max(row["consumed"] - row["clean"], 0)
        row["share"] = row["clean"] * 1000 // row["consumed"] if row["consumed"] else None
    return [rows[d] for d in days]


def _plant_hours(
    node: Node, view: StateReader, account: str, device: str, day: int, local: LocalTime
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Per hour of local ``day``: a plant's generation, energy sold (delivered) and grid
    export."""
    end = local.next_day(day)
    generated = _meter_wh(view, "device", device, day, end)
    sold: dict[int, int] = {}
    revenue = {"clean": 0, "feed_in": 0}
    for p in totals.account_pairings(
        node.readmodels.reader(), view, account, day, end, limit=100_000
    ):
        if p.device == device:
            at = p.interval_start_s
            sold[at] = sold.get(at, 0) + (p.delivered_wh or 0)
            revenue["clean"] += p.amount_fen or 0
    rows = []
    for hour in range(day, end, 3600):
        grid = market.grid_settlement(view, hour, "export", device)
        if grid is not None:
            revenue["feed_in"] += grid.amount_fen
        if hour in generated or hour in sold or grid is not None:
            rows.append(
                {
                    "start": hour,
                    "generated": generated.get(hour, 0),
                    "sold": sold.get(hour, 0),
                    "exported": grid.energy_wh if grid is not None else 0,
                }
            )
    return rows, revenue


def _account_totals(node: Node, account: str) -> totals.AccountTotals:
    """The account's market totals (zeros before its first settlement)."""
    found = totals.account_totals(node.readmodels.reader(), account)
    return found or totals.AccountTotals(account=account)


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    node = ctx.node
    auth = ctx.auth
    assert auth is not None
    custody = auth.custody

    def member_list(
        request: Request, role: str, asset: registry.AssetKind, **page: Any
    ) -> Response:
        """The accounts of ``role`` with their sites or plants, a page at a time; a typed
        account id goes straight to its dashboard."""
        account = request.query_params.get("account", "").strip()
        if account:
            return RedirectResponse(f"/{role}/{quote(account, safe='')}", status_code=303)
        rows = _members(node.state.view, role, asset, request.query_params.get("after", ""))
        return render(
            request,
            node,
            f"participants/{role}s.html",
            role,
            members=rows[:LIST_PAGE],
            next_after=rows[LIST_PAGE - 1]["id"] if len(rows) > LIST_PAGE else None,
            **page,
        )

    @r.get("/consumer", response_class=HTMLResponse)
    def consumers(request: Request) -> Response:
        return member_list(request, "consumer", "site", custodial=len(custody))

    @r.get("/consumer/{account}", response_class=HTMLResponse)
    def consumer(request: Request, account: str) -> Response:
        view = node.state.view
        record = _account(view, account, "consumer")
        if record is None:
            return _not_a(request, node, "consumer", account)
        t = Translator(pick_lang(request))
        prefs = {p.site: p for p in market.preferences_of(view, account)}
        sites: list[dict[str, Any]] = []
        for site in _assets(view, "site", record.org):
            pref = prefs.get(site.id)
            choice = pref.choice if pref is not None else "grid"
            other = "grid" if choice == "clean" else "clean"
            sites.append(
                {
                    "id": site.id,
                    "name": site.name,
                    "pref": pref,
                    "choice": choice,
                    "other": other,
                    "body": _switch_body(pref, site.id, other),
                }
            )
        n_days = clamp(request.query_params.get("days"), 1, MAX_DAYS, DEFAULT_DAYS)
        local = ctx.local
        last = latest_day(view, local)
        daily: list[dict[str, Any]] = []
        today: list[market.Pairing] = []
        chart = None
        if last is not None:
            sites_of = [s["id"] for s in sites]
            daily = _consumer_days(
                node, view, account, sites_of, days_back(last, n_days, local), local
            )
            today = [
                p
                for p in totals.account_pairings(
                    node.readmodels.reader(), view, account, last, local.next_day(last), limit=1000
                )
                if p.consumer == account
            ]
            labels = [local.format(row["day"], "%m-%d") for row in daily]
            chart = {
                "energy": bars(
                    t("consumer.chart.energy"),
                    t("consumer.chart.energy_desc"),
                    labels,
                    [
                        Series(
                            t("consumer.clean"),
                            [row["clean"] / 1000 for row in daily],
                            "var(--clean)",
                        ),
                        Series(
                            t("consumer.grid"), [row["grid"] / 1000 for row in daily], "var(--grid)"
                        ),
                    ],
                    stacked=True,
                    times=[row["day"] for row in daily],
                ),
                "share": lines(
                    t("consumer.chart.share"),
                    t("consumer.chart.share_desc"),
                    labels,
                    [
                        Series(
                            t("consumer.clean_share"),
                            [None if row["share"] is None else row["share"] / 10 for row in daily],
                            "var(--clean)",
                        )
                    ],
                    times=[row["day"] for row in daily],
                ),
            }
        stats = _account_totals(node, account)
        owed = market.arrears_of(view, account)
        return render(
            request,
            node,
            "participants/consumer.html",
            "consumer",
            account=record,
            sites=sites,
            custodial=account in custody and request.query_params.get("sign") != "browser",
            custody_off=auth.site.custodial_refusal,
            member=(viewer := auth.viewer(request)) is not None and viewer.account == account,
            login_next=f"/consumer/{quote(account, safe='')}",
            outcome=outcome_of(node, account, request.query_params.get("tx")),
            error=request.query_params.get("error"),
            day=last,
            today=today,
            daily=daily,
            days=n_days,
            max_days=MAX_DAYS,
            chart=chart,
            stats=stats,
            balance=funds.balance_of(view, account),
            escrow=funds.escrow_of(view, account),
            arrears=owed,
            arrears_total=sum(a.amount_fen for a in owed),
        )

    @r.post("/consumer/{account}/choice", response_class=HTMLResponse)
    async def choose(request: Request, account: str) -> Response:
        try:
            return await _choose(request, account)
        except GridLedgerError as exc:
            log.info("custodial choice of %s refused: %s", account[:64], exc.code)
            return refused(request, node, exc, "consumer", f"/consumer/{quote(account, safe='')}")

    async def _choose(request: Request, account: str) -> Response:
        """Sign ``account``'s switch for its member; every check comes before the node is
        asked for anything, and the body is read only after the session is known."""
        view = node.state.view
        record = _account(view, account, "consumer")
        if record is None:
            return _not_a(request, node, "consumer", account)
        auth.check_origin(request)
        viewer = auth.viewer(request)
        if viewer is None:
            raise SignInRequired(f"sign in as the member of {account} first")
        if viewer.account != account:
            raise NotYourAccount(
                f"you are signed in as {viewer.account or viewer.operator}, not as {account}; "
                "sign out and sign in as its member"
            )
        form = await read_form(ctx, request, CHOICE_FORM_LIMIT)
        auth.check_csrf(request, form.get("csrf"))
        if auth.site.custodial_refusal is not None:
            raise InsecureTransport(auth.site.custodial_refusal)
        key = custody.key(account)
        if key is None:
            raise NotCustodial(f"the node does not keep the key of {account}")
        site, choice = form.get("site", ""), form.get("choice", "")
        if choice not in CHOICES:
            raise InvalidForm("choice: clean or grid")
        if site not in {s.id for s in _assets(view, "site", record.org)}:
            raise InvalidForm(f"site: {site[:64]!r} is not a site of {account}")
        pref = next((p for p in market.preferences_of(view, account) if p.site == site), None)
        body = _switch_body(pref, site, choice)
        tx = sign_tx(
            key, node.chain_id, "market.set_preference", account, node.next_nonce(account), body
        )
        back = f"/consumer/{quote(account, safe='')}"
        try:
            tx_hash = await run_in_threadpool(node.submit, tx.encode())
        except GridLedgerError as exc:
            log.info("custodial choice of %s refused: %s", account, exc)
            return RedirectResponse(f"{back}?error=refused", status_code=303)
        log.info("custodial choice signed", extra={"account": account, "choice": choice})
        await ctx.waiters.wait(tx_hash, WAIT_S)
        return RedirectResponse(f"{back}?tx={tx_hash.hex()}", status_code=303)

    @r.get("/producer", response_class=HTMLResponse)
    def producers(request: Request) -> Response:
        return member_list(request, "producer", "device")

    @r.get("/producer/{account}", response_class=HTMLResponse)
    def producer(request: Request, account: str) -> Response:
        view = node.state.view
        record = _account(view, account, "producer")
        if record is None:
            return _not_a(request, node, "producer", account)
        t = Translator(pick_lang(request))
        local = ctx.local
        last = latest_day(view, local)
        plants = []
        for device in _assets(view, "device", record.org):
            hours: list[dict[str, Any]] = []
            revenue = {"clean": 0, "feed_in": 0}
            chart = None
            if last is not None:
                hours, revenue = _plant_hours(node, view, account, device.id, last, local)
            if hours:
                chart = bars(
                    t("producer.chart.title", plant=device.id),
                    t("producer.chart.desc"),
                    [local.format(h["start"], "%H:%M") for h in hours],
                    [
                        Series(
                            t("producer.generated"),
                            [h["generated"] / 1000 for h in hours],
                            "#e0a100",
                        ),
                        Series(
                            t("producer.sold"), [h["sold"] / 1000 for h in hours], "var(--clean)"
                        ),
                        Series(
                            t("producer.exported"),
                            [h["exported"] / 1000 for h in hours],
                            "var(--grid)",
                        ),
                    ],
                    times=[h["start"] for h in hours],
                )
            plant = totals.plant_totals(node.readmodels.reader(), device.id)
            stats = plant or totals.PlantTotals(device=device.id)
            buyers = sorted(stats.buyers, key=lambda b: (-b.delivered_wh, b.consumer))
            plants.append(
                {
                    "device": device,
                    "hours": hours,
                    "chart": chart,
                    "revenue": revenue,
                    "stats": stats,
                    "buyers": buyers,
                    "standing": market.standing_offer(view, device.id),
                }
            )
        return render(
            request,
            node,
            "participants/producer.html",
            "producer",
            account=record,
            plants=plants,
            day=last,
            stats=_account_totals(node, account),
            balance=funds.balance_of(view, account),
        )

    return r
