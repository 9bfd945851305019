"""Web view: the operator's custody page (see :mod:`gridledger.web`).

``/operator/members`` lists the custodial accounts with their members' sign-in state
(passkeys, password, a pending enrolment link), a page at a time, and lets the operator issue
an enrolment link (``POST /operator/members/{account}/enrolment``) or reset a member
(``POST /operator/members/{account}/reset``); the new link is shown once, on the page that
answers. Only an operator signed in (with their token, ``/login``) sees or changes any of it;
the forms carry the CSRF token and must come from this site's own page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from gridledger.api.auth import Auth, members_error
from gridledger.api.context import ApiContext
from gridledger.api.errors import InsecureTransport, NotCustodial, OperatorRequired
from gridledger.core.errors import GridLedgerError
from gridledger.node.members import ENROLMENT_TTL_S, Issued, MembersError
from gridledger.web.render import render
from gridledger.web.views.auth import read_form, refused

PAGE = 100
OPERATOR_FORM_LIMIT = 512


def _operator(request: Request, auth: Auth) -> str:
    viewer = auth.viewer(request)
    if viewer is None or viewer.operator is None:
        raise OperatorRequired("sign in as the operator (with your operator token) first")
    return viewer.operator


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    node = ctx.node
    auth = ctx.auth
    assert auth is not None

    def listing(request: Request, issued: Issued | None = None, reset: bool = False) -> Response:
        after = request.query_params.get("after", "")[:64]
        accounts = [a for a in auth.custody.accounts() if a > after]
        rows: list[dict[str, Any]] = [
            msgspec.to_builtins(auth.members.login_state(a)) for a in accounts[:PAGE]
        ]
        link = None
        if issued is not None:
            link = f"{auth.site.public_url()}/enrol?code={quote(issued.code, safe='')}"
        return render(
            request,
            node,
            "operator/members.html",
            "operator",
            members=rows,
            total=len(auth.custody),
            next_after=accounts[PAGE - 1] if len(accounts) > PAGE else None,
            issued=issued,
            issued_link=link,
            reset=reset,
            refusal=auth.site.custodial_refusal,
            default_hours=ENROLMENT_TTL_S // 3600,
        )

    @r.get("/operator/members", response_class=HTMLResponse)
    def members(request: Request) -> Response:
        try:
            _operator(request, auth)
            return listing(request)
        except MembersError as exc:
            return refused(request, node, members_error(exc), "operator", "/operator/members")
        except GridLedgerError as exc:
            return refused(request, node, exc, "operator", "/operator/members")

    async def change(request: Request, account: str, reset: bool) -> Response:
        try:
            auth.check_origin(request)
            _operator(request, auth)
            form = await read_form(ctx, request, OPERATOR_FORM_LIMIT)
            auth.check_csrf(request, form.get("csrf"))
            if auth.site.custodial_refusal is not None:
                raise InsecureTransport(auth.site.custodial_refusal)
            if account not in auth.custody:
                raise NotCustodial(f"{account[:64]!r} is not in custody on this node")
            password = form.get("password") == "on"
            issue = auth.members.reset if reset else auth.members.issue_enrolment
            issued = issue(account, password=password)
            return listing(request, issued, reset)
        except MembersError as exc:
            return refused(request, node, members_error(exc), "operator", "/operator/members")
        except GridLedgerError as exc:
            return refused(request, node, exc, "operator", "/operator/members")

    @r.post("/operator/members/{account}/enrolment", response_class=HTMLResponse)
    async def enrol(request: Request, account: str) -> Response:
        return await change(request, account, reset=False)

    @r.post("/operator/members/{account}/reset", response_class=HTMLResponse)
    async def reset(request: Request, account: str) -> Response:
        return await change(request, account, reset=True)

    return r
