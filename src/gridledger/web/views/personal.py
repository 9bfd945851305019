"""Web view: a household's personal details, for its member only (see
:mod:`gridledger.node.personal`).

``/consumer/{account}/personal`` shows the member, signed in, what this node keeps about the
household off the chain (name, address, phone, email), why and where; a form to change them,
a link to download them as JSON (``GET /v1/personal/{account}``) and a button to erase them.
Anyone else gets a page asking to sign in, which shows nothing about the household. Changes
post to the same path (``action`` ``save`` or ``erase``) with the page's CSRF token.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gridledger.api.context import ApiContext
from gridledger.api.errors import InvalidForm, NotYourAccount, SignInRequired
from gridledger.core.errors import GridLedgerError
from gridledger.node.personal import LIMITS, PURPOSE, Details, PersonalError, PersonalStore
from gridledger.web.render import render
from gridledger.web.views.auth import read_form, refused
from gridledger.web.views.market import not_found
from gridledger.web.views.record import household

log = logging.getLogger(__name__)

FORM_LIMIT = 2048


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    node = ctx.node
    auth = ctx.auth
    assert auth is not None
    store = ctx.personal or PersonalStore(node.config.home)

    def check_viewer(request: Request, account: str) -> None:
        viewer = auth.viewer(request)
        if viewer is None:
            raise SignInRequired(f"sign in as the member of {account} to see its details")
        if viewer.account != account and viewer.operator is None:
            raise NotYourAccount(f"you are signed in as {viewer.account}, not as {account}")

    @r.get("/consumer/{account}/personal", response_class=HTMLResponse)
    def page(request: Request, account: str) -> Response:
        found = household(node.state.view, account)
        back = f"/consumer/{quote(account, safe='')}/personal"
        if found is None:
            return not_found(request, node, "consumer", account[:80])
        try:
            check_viewer(request, account)
        except GridLedgerError as exc:
            return refused(request, node, exc, "consumer", back)
        response = render(
            request, node, "participants/personal.html", "consumer",
            account=found, details=store.get(account) or Details(), kept=store.get(account)
            is not None, purpose=PURPOSE, limits=LIMITS,
            done=request.query_params.get("done", "")[:16],
        )  # fmt: skip
        response.headers["Cache-Control"] = "no-store"
        return response

    @r.post("/consumer/{account}/personal", response_class=HTMLResponse)
    async def change(request: Request, account: str) -> Response:
        back = f"/consumer/{quote(account, safe='')}/personal"
        try:
            found = household(node.state.view, account)
            if found is None:
                return not_found(request, node, "consumer", account[:80])
            auth.check_origin(request)
            check_viewer(request, account)
            form = await read_form(ctx, request, FORM_LIMIT)
            auth.check_csrf(request, form.get("csrf"))
            action = form.get("action", "")
            if action == "erase":
                store.erase(account)
                log.info("personal details erased", extra={"account": account})
            elif action == "save":
                details = Details(
                    *(form.get(f, "").strip() for f in ("name", "address", "phone", "email"))
                )
                try:
                    store.put(account, details)
                except PersonalError as exc:
                    raise InvalidForm(str(exc)) from None
            else:
                raise InvalidForm("action: save or erase")
        except GridLedgerError as exc:
            return refused(request, node, exc, "consumer", back)
        return RedirectResponse(f"{back}?done={action}", status_code=303)

    return r
