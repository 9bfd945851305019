"""The operator's endpoints: custodial members' sign-in (list, enrolment links, resets).

Every route needs the operator's credential, ``Authorization: Bearer <token>`` (made with
``gridledger custody operator-token``), checked before the body is read; on a node served on
the network without TLS they answer only clients on this machine, since a bearer token in
clear could be read on the way. Changes go to ``HOME/members.json`` like the command line's.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from gridledger.api.auth import Auth, operator_of
from gridledger.api.context import ApiContext
from gridledger.api.errors import (
    BodyTooLarge,
    InsecureTransport,
    InvalidRequest,
    InvalidTtl,
    NotCustodial,
)
from gridledger.api.render import JSONBytes
from gridledger.api.schemas import EnrolmentIn, EnrolmentOut, ErrorResponse, MemberPage
from gridledger.api.site import is_loopback
from gridledger.node.members import Issued

MAX_BODY = 1024
PAGE = 100
MAX_PAGE = 1000

_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorResponse, "description": "Invalid request"},
    401: {"model": ErrorResponse, "description": "No operator credential (auth.operator_required)"},
    403: {"model": ErrorResponse, "description": "Plain HTTP on the network"},
    404: {"model": ErrorResponse, "description": "The account is not in custody"},
}
_BODY = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": EnrolmentIn.model_json_schema()}},
    }
}


class _EnrolmentBody(msgspec.Struct, forbid_unknown_fields=True):
    password: bool = False
    hours: int = 72


def _operator(request: Request, auth: Auth) -> str:
    """The operator asking; refused in clear on the network."""
    name = operator_of(request)
    client = None if request.client is None else request.client.host
    if auth.site.custodial_refusal is not None and not (client and is_loopback(client)):
        raise InsecureTransport(
            "operator credentials travel only over TLS, or from this machine: "
            + auth.site.custodial_refusal
        )
    return name


def _issued(auth: Auth, issued: Issued, reset: bool) -> Response:
    return JSONBytes(
        {
            "account": issued.account,
            "code": issued.code,
            "link": f"{auth.site.public_url()}/enrol?code={issued.code}",
            "expires_s": issued.expires_s,
            "password": issued.password,
            "reset": reset,
        }
    )


def router(ctx: ApiContext) -> APIRouter:
    auth = ctx.auth
    assert auth is not None
    r = APIRouter(prefix="/v1/operator", tags=["operator"])

    async def enrolment_body(request: Request) -> _EnrolmentBody:
        async with ctx.bodies.read(
            request, MAX_BODY, BodyTooLarge(f"at most {MAX_BODY} bytes")
        ) as raw:
            if not raw.strip():
                return _EnrolmentBody()
            try:
                body = msgspec.json.decode(raw, type=_EnrolmentBody)
            except msgspec.DecodeError as exc:
                raise InvalidRequest(f"the body is not an enrolment request: {exc}") from None
        if not 1 <= body.hours <= 720:
            raise InvalidTtl("hours: from 1 to 720")
        return body

    def custodial(account: str) -> None:
        if account not in auth.custody:
            raise NotCustodial(f"{account!r} is not in custody on this node")

    @r.get(
        "/members",
        response_model=MemberPage,
        responses=_RESPONSES,
        summary="Custodial members' sign-in state",
    )
    def members(
        request: Request,
        after: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = PAGE,
    ) -> Response:
        """Every custodial account, a page at a time: passkeys, password, pending enrolment."""
        _operator(request, auth)
        accounts = [a for a in auth.custody.accounts() if after is None or a > after]
        page = accounts[:limit]
        rows = [msgspec.to_builtins(auth.members.login_state(a)) for a in page]
        more = len(accounts) > limit
        return JSONBytes({"members": rows, "next": page[-1] if more else None})

    @r.post(
        "/members/{account}/enrolment",
        response_model=EnrolmentOut,
        responses=_RESPONSES,
        openapi_extra=_BODY,
        summary="Issue an enrolment link",
    )
    async def enrol(request: Request, account: str) -> Response:
        """A one-time link with which the member registers a passkey (or sets a password, if
        ``password``); it replaces a link issued before and keeps existing credentials."""
        _operator(request, auth)
        custodial(account)
        body = await enrolment_body(request)
        issued = auth.members.issue_enrolment(
            account, password=body.password, ttl_s=body.hours * 3600
        )
        return _issued(auth, issued, reset=False)

    @r.post(
        "/members/{account}/reset",
        response_model=EnrolmentOut,
        responses=_RESPONSES,
        openapi_extra=_BODY,
        summary="Reset a member's sign-in",
    )
    async def reset(request: Request, account: str) -> Response:
        """Remove the member's passkeys and password, end their sessions, and issue a new
        enrolment link."""
        _operator(request, auth)
        custodial(account)
        body = await enrolment_body(request)
        issued = auth.members.reset(account, password=body.password, ttl_s=body.hours * 3600)
        return _issued(auth, issued, reset=True)

    return r
