"""Web view: the community page and a household's consent to rank on it.

``/community`` (``?month=YYYY-MM``, the latest month with metered consumption by default)
shows the community's households together (consumption, hourly-matched clean share, clean
energy used, CO2 avoided), each plant's generation, the CO2 it avoided and how many households
it served, and a ranking of the households that opted in on the ledger
(``community.opt_in``), by pseudonym only: never an account, organisation, site or name. The
page reads the committed state on every request, so a household that revokes
(``community.revoke``) is gone from the first page served after its block.

``POST /consumer/{account}/consent`` lets a household's member, signed in, opt in under a
pseudonym, revoke, or choose the share its streak counts, signed by the node for community
accounts whose keys it keeps (the same checks as the power switch of
:mod:`gridledger.web.views.participants`: origin, session, CSRF, a bounded form), then shows
the record page with the committed receipt.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote

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
from gridledger.contracts import community
from gridledger.core.errors import GridLedgerError
from gridledger.readmodels import green_record
from gridledger.sdk.tx import sign_tx
from gridledger.web.render import render
from gridledger.web.views.auth import read_form, refused
from gridledger.web.views.market import not_found
from gridledger.web.views.record import MONTH, household

log = logging.getLogger(__name__)

CONSENT_FORM_LIMIT = 512
"""Bytes of the consent form: an action, a pseudonym of 24 characters and a CSRF token."""
WAIT_S = 10.0
ACTIONS = ("opt_in", "revoke", "share")
PERCENT = re.compile(r"^\d{1,4}$")


def latest_month(conn: Any, local: Any, fallback_s: int) -> str:
    """The latest local month with metered consumption (the tip's month before any)."""
    (found,) = conn.execute(
        "SELECT MAX(month_s) FROM carbon_site_months WHERE consumption_wh > 0"
    ).fetchone()
    return str(local.month_text(int(found) if found is not None else fallback_s))


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    node = ctx.node
    auth = ctx.auth
    assert auth is not None
    custody = auth.custody

    @r.get("/community", response_class=HTMLResponse)
    def community_page(request: Request) -> Response:
        view = node.state.view
        conn = node.readmodels.reader()
        local = ctx.local
        month = request.query_params.get("month", "")
        if not MONTH.match(month):
            month = latest_month(conn, local, node.tip.time // 1000)
        start = local.month_start(month)
        return render(
            request,
            node,
            "community/community.html",
            "community",
            month=month,
            prev_month=local.month_text(start - 1),
            next_month=local.month_text(local.next_month(start)),
            totals=green_record.community_month(conn, view, month, local),
            plants=green_record.plant_contributions(conn, view, month, local),
            ranking=green_record.ranking(conn, view, month, local),
        )

    @r.post("/consumer/{account}/consent", response_class=HTMLResponse)
    async def consent(request: Request, account: str) -> Response:
        back = f"/consumer/{quote(account, safe='')}/record"
        try:
            return await _consent(request, account, back)
        except GridLedgerError as exc:
            log.info("consent of %s refused: %s", account[:64], exc.code)
            return refused(request, node, exc, "consumer", back)

    async def _consent(request: Request, account: str, back: str) -> Response:
        view = node.state.view
        record = household(view, account)
        if record is None:
            return not_found(request, node, "consumer", account[:80])
        auth.check_origin(request)
        viewer = auth.viewer(request)
        if viewer is None:
            raise SignInRequired(f"sign in as the member of {account} first")
        if viewer.account != account:
            raise NotYourAccount(
                f"you are signed in as {viewer.account or viewer.operator}, not as {account}"
            )
        form = await read_form(ctx, request, CONSENT_FORM_LIMIT)
        auth.check_csrf(request, form.get("csrf"))
        if auth.site.custodial_refusal is not None:
            raise InsecureTransport(auth.site.custodial_refusal)
        key = custody.key(account)
        if key is None:
            raise NotCustodial(f"the node does not keep the key of {account}")
        action = form.get("action", "")
        body: dict[str, Any]
        if action == "opt_in":
            pseudonym = form.get("pseudonym", "").strip()
            try:
                community.check_pseudonym(pseudonym)
            except GridLedgerError as exc:
                raise InvalidForm(f"pseudonym: {exc.message}") from None
            kind, body = "community.opt_in", {"pseudonym": pseudonym}
        elif action == "revoke":
            kind, body = "community.revoke", {}
        elif action == "share":
            percent = form.get("percent", "")
            if not PERCENT.match(percent) or not 1 <= int(percent) <= 100:
                raise InvalidForm("percent: a whole number 1-100")
            kind, body = "community.set_streak_share", {"share_permille": int(percent) * 10}
        else:
            raise InvalidForm(f"action: one of {', '.join(ACTIONS)}")
        tx = sign_tx(key, node.chain_id, kind, account, node.next_nonce(account), body)
        try:
            tx_hash = await run_in_threadpool(node.submit, tx.encode())
        except GridLedgerError as exc:
            log.info("consent of %s refused: %s", account, exc)
            return RedirectResponse(f"{back}?error={quote(exc.code)}", status_code=303)
        await ctx.waiters.wait(tx_hash, WAIT_S)
        return RedirectResponse(f"{back}?tx={tx_hash.hex()}", status_code=303)

    return r
