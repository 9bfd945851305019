"""Households' personal details, off the chain (:mod:`gridledger.node.personal`).

* ``GET /v1/personal/{account}``: everything this node keeps about the account, as JSON (the
  household's export);
* ``PUT /v1/personal/{account}``: ``{"name", "address", "phone", "email"}`` (each optional,
  bounded), entered by or for the household;
* ``DELETE /v1/personal/{account}``: erase them (``{"account", "erased"}``).

Only the account's member, signed in (its session cookie; a change also needs the page's
``Origin`` and its CSRF token in ``X-CSRF-Token``), or the node's operator
(``Authorization: Bearer <token>``, over TLS or from this machine) may ask: nobody else,
whatever they know of the account. The chain is never read or written for these.
"""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Request
from starlette.responses import Response

from gridledger.api.auth import Auth, operator_of
from gridledger.api.context import ApiContext
from gridledger.api.errors import (
    BodyTooLarge,
    InsecureTransport,
    InvalidRequest,
    NotYourAccount,
    SignInRequired,
)
from gridledger.api.render import JSONBytes
from gridledger.api.schemas import ErrorResponse
from gridledger.api.site import is_loopback
from gridledger.contracts import registry
from gridledger.core.errors import NotFound
from gridledger.node.personal import Details, PersonalError, PersonalStore

MAX_BODY = 2048

_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorResponse, "description": "Invalid request or details"},
    401: {"model": ErrorResponse, "description": "Not signed in, no operator credential"},
    403: {"model": ErrorResponse, "description": "Another member; a change not from the page"},
    404: {"model": ErrorResponse, "description": "No such account"},
    413: {"model": ErrorResponse, "description": "Body too large"},
}
_FIELD = {"type": "string", "maxLength": 256}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": dict.fromkeys(("name", "address", "phone", "email"), _FIELD),
                }
            }
        },
    }
}


class DetailsIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str = ""
    address: str = ""
    phone: str = ""
    email: str = ""


def allowed(request: Request, auth: Auth, account: str, change: bool) -> str:
    """Who asks for ``account``'s details: its member signed in, or the operator.

    Raises:
        SignInRequired, NotYourAccount: neither.
        InsecureTransport: an operator's token in clear from another machine.
        OriginMissing, OriginForeign, CsrfInvalid: a member's change not from the node's page.
    """
    if request.headers.get("authorization"):
        name = operator_of(request)
        client = None if request.client is None else request.client.host
        if auth.site.custodial_refusal is not None and not (client and is_loopback(client)):
            raise InsecureTransport(
                "operator credentials travel only over TLS, or from this machine: "
                + auth.site.custodial_refusal
            )
        return f"operator:{name}"
    viewer = auth.viewer(request)
    if viewer is None:
        raise SignInRequired(f"sign in as the member of {account} first")
    if viewer.operator is not None:
        who = f"operator:{viewer.operator}"
    elif viewer.account == account:
        who = account
    else:
        raise NotYourAccount(f"you are signed in as {viewer.account}, not as {account}")
    if change:
        auth.check_origin(request)
        auth.check_csrf(request, request.headers.get("x-csrf-token"))
    return who


def router(ctx: ApiContext) -> APIRouter:
    auth = ctx.auth
    assert auth is not None
    store = ctx.personal or PersonalStore(ctx.node.config.home)
    r = APIRouter(prefix="/v1/personal", tags=["personal"])

    def known(account: str) -> None:
        if (
            not registry.ID_RE.match(account)
            or registry.get_account(ctx.node.state.view, account) is None
        ):
            raise NotFound(f"no account {account[:64]!r}")

    @r.get(
        "/{account}",
        responses=_RESPONSES,
        summary="Export a household's personal details (off the chain)",
    )
    def export(request: Request, account: str) -> Response:
        """Everything this node keeps about the account: its member or the operator only."""
        known(account)
        allowed(request, auth, account, change=False)
        response = JSONBytes(store.export(account))
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Disposition"] = f'attachment; filename="{account}-personal.json"'
        return response

    @r.put(
        "/{account}",
        responses=_RESPONSES,
        openapi_extra=_BODY,
        summary="Keep a household's personal details (off the chain)",
    )
    async def put(request: Request, account: str) -> Response:
        """Replace the details kept about the account: its member or the operator only."""
        known(account)
        allowed(request, auth, account, change=True)
        async with ctx.bodies.read(
            request, MAX_BODY, BodyTooLarge(f"at most {MAX_BODY} bytes")
        ) as raw:
            try:
                body = msgspec.json.decode(raw, type=DetailsIn)
            except msgspec.DecodeError as exc:
                raise InvalidRequest(f"the body is not personal details: {exc}") from None
        try:
            store.put(account, Details(body.name, body.address, body.phone, body.email))
        except PersonalError as exc:
            raise InvalidRequest(str(exc)) from None
        return JSONBytes({"account": account, "kept": True})

    @r.delete("/{account}", responses=_RESPONSES, summary="Erase a household's personal details")
    def erase(request: Request, account: str) -> Response:
        """Delete every detail kept about the account: its member or the operator only."""
        known(account)
        allowed(request, auth, account, change=True)
        return JSONBytes({"account": account, "erased": store.erase(account)})

    return r
