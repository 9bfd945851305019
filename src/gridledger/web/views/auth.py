"""Web view: signing in, enrolling and signing out (see :mod:`gridledger.api.auth`).

A custodial household's member signs in before the node signs anything for them:

* with a **passkey** (WebAuthn, the primary way): ``static/passkey.js`` asks the node for a
  challenge (``POST /login/passkey/options``), lets the browser's authenticator sign it, and
  posts the answer (``POST /login/passkey``), which py_webauthn verifies against the passkey's
  public key, relying party id (the host name) and origin, with user verification required;
* with a **password** (``POST /login/password``), for volunteers whose enrolment allowed one;
  an Argon2id check, with the account locked for a while after a few failures.

A member enrols once with the one-time link an operator issued (``gridledger custody enrol``):
``/enrol?code=…`` registers a passkey (``POST /enrol/passkey/options``, ``POST
/enrol/passkey``) or sets a password (``POST /enrol/password``) and signs the member in. The
operator signs in with their token (``POST /login/operator``) for the custody pages.
``POST /logout`` ends the session.

Every ``POST`` here needs this site's ``Origin`` and the page's CSRF token (a form field, or
the ``X-CSRF-Token`` header of the passkey script's requests), reads a small body under a
deadline, and is refused on a node that serves custodial signing in clear
(:attr:`gridledger.api.site.Site.custodial_refusal`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidJSONStructure,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from gridledger.api.auth import CEREMONY_S, Auth, Ceremony, members_error
from gridledger.api.context import ApiContext
from gridledger.api.errors import (
    BadCredentials,
    BodyTooLarge,
    InsecureTransport,
    InvalidForm,
    PasskeyInvalid,
    status_for,
)
from gridledger.api.render import JSONBytes
from gridledger.core.errors import GridLedgerError
from gridledger.node.members import MembersError
from gridledger.node.node import Node
from gridledger.web.render import render

log = logging.getLogger(__name__)

FORM_LIMIT = 4096
"""Bytes of a sign-in or enrolment form (a password of 256 characters, percent-encoded)."""
JSON_LIMIT = 16 * 1024
"""Bytes of a passkey answer (an attestation with its certificates fits)."""
BODY_DEADLINE_S = 10.0
"""How long a form's body may take to arrive."""
_CLOSE_AFTER = {
    "api.body_too_large",
    "api.body_timeout",
    "api.busy",
    "auth.origin_missing",
    "auth.origin_foreign",
    "auth.csrf_invalid",
    "auth.sign_in_required",
    "auth.not_your_account",
    "auth.operator_required",
    "custody.insecure_transport",
}
"""Refusals that may come before the body was read: the connection cannot carry another
request after them, and says so."""
_MAX_ID = 64


def safe_next(value: str | None, default: str) -> str:
    """A path on this site to go to after signing in (never another site: ``//evil`` or
    ``/\\evil`` would leave it)."""
    if (
        not value
        or not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or len(value) > 512
        or any(c in value for c in "\r\n\\")
    ):
        return default
    return value


_SIGN_IN_CODES = {"auth.sign_in_required", "auth.not_your_account", "auth.operator_required"}


def refused(
    request: Request, node: Node, exc: GridLedgerError, nav: str = "", back: str | None = None
) -> Response:
    """A refusal as a page in the visitor's language: what happened, with its code, and a
    sign-in link where signing in is what it takes (then back to ``back``)."""
    response = render(
        request,
        node,
        "auth/refused.html",
        nav,
        status_code=status_for(exc),
        code=exc.code,
        message=exc.message,
        sign_in=exc.code in _SIGN_IN_CODES,
        back=back or "/",
    )
    if exc.code in _CLOSE_AFTER:
        response.headers["Connection"] = "close"
    return response


async def read_form(ctx: ApiContext, request: Request, limit: int) -> dict[str, str]:
    """A url-encoded form of at most ``limit`` bytes read under :data:`BODY_DEADLINE_S`: each
    field once, as text.

    Raises:
        BodyTooLarge: (413) as soon as the body passes ``limit``, unread beyond.
        InvalidForm: not a url-encoded form, not UTF-8, or a field given twice.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise InvalidForm("send the form as application/x-www-form-urlencoded")
    too_large = BodyTooLarge(f"this form takes at most {limit} bytes")
    async with ctx.bodies.read(request, limit, too_large, total_s=BODY_DEADLINE_S) as raw:
        try:
            text = bytes(raw).decode("utf-8")
            fields = parse_qs(text, keep_blank_values=True, max_num_fields=16, errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise InvalidForm("the form is not valid UTF-8 url-encoded text") from None
    if any(len(values) != 1 for values in fields.values()):
        raise InvalidForm("a form field appears more than once")
    return {name: values[0] for name, values in fields.items()}


async def read_json(ctx: ApiContext, request: Request) -> dict[str, Any]:
    too_large = BodyTooLarge(f"a passkey request takes at most {JSON_LIMIT} bytes")
    async with ctx.bodies.read(request, JSON_LIMIT, too_large, total_s=BODY_DEADLINE_S) as raw:
        try:
            body = json.loads(bytes(raw))
        except ValueError:
            raise InvalidForm("the body is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidForm("the body is not a JSON object")
    return body


def _needs_secure_site(auth: Auth) -> None:
    if auth.site.custodial_refusal is not None:
        raise InsecureTransport(auth.site.custodial_refusal)


def _rp_id(auth: Auth, request: Request) -> str:
    rp_id = auth.site.rp_id(request.headers.get("host", ""))
    try:
        ipaddress.ip_address(rp_id)
    except ValueError:
        return rp_id
    raise InvalidForm("passkeys need the node to be reached by name (such as localhost)")


def _user_handle(node: Node, account: str) -> bytes:
    """The WebAuthn user handle of a member: stable per chain and account, and no name."""
    return hashlib.sha256(f"gridledger-member\x00{node.chain_id}\x00{account}".encode()).digest()


def _public_key(options: Any) -> Any:
    return json.loads(options_to_json(options))


def _text(body: dict[str, Any], name: str, limit: int = _MAX_ID) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidForm(f"{name}: text of at most {limit} characters")
    return value.strip()


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    node = ctx.node
    auth = ctx.auth
    assert auth is not None

    def page(request: Request, template: str, status_code: int = 200, **fields: Any) -> Response:
        return render(
            request,
            node,
            template,
            "",
            status_code=status_code,
            refusal=auth.site.custodial_refusal,
            **fields,
        )

    def form_post(
        handler: Callable[[Request, dict[str, str]], Awaitable[Response]], limit: int = FORM_LIMIT
    ) -> Callable[[Request], Awaitable[Response]]:
        """A form handler behind the checks every form shares; a refusal is a page."""

        async def checked(request: Request) -> Response:
            try:
                auth.check_origin(request)
                form = await read_form(ctx, request, limit)
                auth.check_csrf(request, form.get("csrf"))
                return await handler(request, form)
            except MembersError as exc:
                return refused(request, node, members_error(exc))
            except GridLedgerError as exc:
                return refused(request, node, exc)

        return checked

    def json_post(
        handler: Callable[[Request, dict[str, Any]], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        """A passkey script's request behind the same checks; refusals are JSON errors."""

        async def checked(request: Request) -> Response:
            try:
                auth.check_origin(request)
                auth.check_csrf(request, request.headers.get("x-csrf-token"))
                _needs_secure_site(auth)
                body = await read_json(ctx, request)
                return await handler(request, body)
            except MembersError as exc:
                raise members_error(exc) from None

        return checked

    def signed_in(request: Request, to: str, *, account: str | None = None,
                  operator: str | None = None) -> Response:  # fmt: skip
        response = RedirectResponse(to, status_code=303)
        auth.sign_in(request, response, account=account, operator=operator)
        return response

    # signing in ------------------------------------------------------------------------------
    @r.get("/login", response_class=HTMLResponse)
    def login(request: Request) -> Response:
        viewer = auth.viewer(request)
        return page(
            request,
            "auth/login.html",
            next=safe_next(request.query_params.get("next"), ""),
            account=request.query_params.get("account", "")[:_MAX_ID],
            signed_in_as=None if viewer is None else viewer.account or viewer.operator,
        )

    async def password_login(request: Request, form: dict[str, str]) -> Response:
        _needs_secure_site(auth)
        account = form.get("account", "").strip()
        password = form.get("password", "")
        if not account or not password or len(account) > _MAX_ID:
            raise InvalidForm("give the account id and the password")
        auth.throttle.check(account)
        async with await auth.hashing():
            ok = account in auth.custody and await run_in_threadpool(
                auth.members.check_password, account, password
            )
        if not ok:
            auth.throttle.failed(account)
            log.info("password sign-in refused", extra={"account": account})
            raise BadCredentials
        auth.throttle.succeeded(account)
        to = safe_next(form.get("next"), f"/consumer/{quote(account, safe='')}")
        return signed_in(request, to, account=account)

    r.add_api_route("/login/password", form_post(password_login), methods=["POST"])

    async def operator_login(request: Request, form: dict[str, str]) -> Response:
        _needs_secure_site(auth)
        name = auth.members.operator_for(form.get("token", "").strip())
        if name is None:
            raise BadCredentials("this is not an operator token of this node")
        return signed_in(request, safe_next(form.get("next"), "/operator/members"), operator=name)

    r.add_api_route("/login/operator", form_post(operator_login), methods=["POST"])

    async def logout(request: Request, _form: dict[str, str]) -> Response:
        response = RedirectResponse("/", status_code=303)
        auth.sign_out(request, response)
        return response

    r.add_api_route("/logout", form_post(logout), methods=["POST"])

    async def passkey_login_options(request: Request, body: dict[str, Any]) -> Response:
        account = _text(body, "account")
        rp_id = _rp_id(auth, request)
        allowed = [
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(key.id))
            for key in auth.members.passkeys_of(account)
            if key.rp_id == rp_id
        ]
        options = generate_authentication_options(
            rp_id=rp_id,
            allow_credentials=allowed,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        ceremony = Ceremony(
            kind="authenticate",
            challenge=options.challenge,
            rp_id=rp_id,
            origin=auth.origin(request),
            expires_s=auth.clock() + CEREMONY_S,
            subject=account,
        )
        return JSONBytes(
            {"ceremony": auth.ceremonies.start(ceremony), "publicKey": _public_key(options)}
        )

    r.add_api_route("/login/passkey/options", json_post(passkey_login_options), methods=["POST"])

    async def passkey_login(request: Request, body: dict[str, Any]) -> Response:
        ceremony = auth.ceremonies.take(body.get("ceremony"), "authenticate")
        credential = body.get("credential")
        if not isinstance(credential, dict):
            raise InvalidForm("credential: the passkey's answer, a JSON object")
        cred_id = credential.get("id")
        found = auth.members.find_passkey(cred_id) if isinstance(cred_id, str) else None
        if found is None:
            raise PasskeyInvalid("this passkey is not registered on this node")
        account, key = found
        if (ceremony.subject and ceremony.subject != account) or key.rp_id != ceremony.rp_id:
            raise PasskeyInvalid("this passkey belongs to another account or site")
        if account not in auth.custody:
            raise PasskeyInvalid(f"the node no longer keeps the key of {account}")
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=ceremony.challenge,
                expected_rp_id=ceremony.rp_id,
                expected_origin=ceremony.origin,
                credential_public_key=key.public_key,
                credential_current_sign_count=key.sign_count,
                require_user_verification=True,
            )
        except (InvalidAuthenticationResponse, InvalidJSONStructure, ValueError, KeyError) as exc:
            log.info("passkey sign-in refused", extra={"account": account, "why": str(exc)})
            raise PasskeyInvalid from None
        auth.members.passkey_used(account, key.id, verified.new_sign_count)
        to = safe_next(_text(body, "next", 512), f"/consumer/{quote(account, safe='')}")
        response = JSONBytes({"account": account, "redirect": to})
        auth.sign_in(request, response, account=account)
        return response

    r.add_api_route("/login/passkey", json_post(passkey_login), methods=["POST"])

    # enrolling -------------------------------------------------------------------------------
    @r.get("/enrol", response_class=HTMLResponse)
    def enrol(request: Request) -> Response:
        code = request.query_params.get("code", "").strip()[:_MAX_ID]
        if not code:
            return page(request, "auth/enrol.html", code="", account=None, password=False)
        try:
            account, pending = auth.members.enrolment(code)
        except MembersError as exc:
            return refused(request, node, members_error(exc))
        return page(
            request,
            "auth/enrol.html",
            code=code,
            account=account,
            password=pending.password,
            expires_s=pending.expires_s,
        )

    async def passkey_enrol_options(request: Request, body: dict[str, Any]) -> Response:
        code = _text(body, "code")
        account, _ = auth.members.enrolment(code)
        rp_id = _rp_id(auth, request)
        options = generate_registration_options(
            rp_id=rp_id,
            rp_name=f"GridLedger {node.chain_id}",
            user_name=account,
            user_id=_user_handle(node, account),
            user_display_name=account,
            attestation=AttestationConveyancePreference.NONE,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=[
                PublicKeyCredentialDescriptor(id=base64url_to_bytes(key.id))
                for key in auth.members.passkeys_of(account)
            ],
        )
        ceremony = Ceremony(
            kind="register",
            challenge=options.challenge,
            rp_id=rp_id,
            origin=auth.origin(request),
            expires_s=auth.clock() + CEREMONY_S,
            subject=code,
        )
        return JSONBytes(
            {"ceremony": auth.ceremonies.start(ceremony), "publicKey": _public_key(options)}
        )

    r.add_api_route("/enrol/passkey/options", json_post(passkey_enrol_options), methods=["POST"])

    async def passkey_enrol(request: Request, body: dict[str, Any]) -> Response:
        ceremony = auth.ceremonies.take(body.get("ceremony"), "register")
        account, _ = auth.members.enrolment(ceremony.subject)
        credential = body.get("credential")
        if not isinstance(credential, dict):
            raise InvalidForm("credential: the passkey's answer, a JSON object")
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=ceremony.challenge,
                expected_rp_id=ceremony.rp_id,
                expected_origin=ceremony.origin,
                require_user_verification=True,
            )
        except (InvalidRegistrationResponse, InvalidJSONStructure, ValueError, KeyError) as exc:
            log.info("passkey enrolment refused", extra={"account": account, "why": str(exc)})
            raise PasskeyInvalid from None
        enrolled = auth.members.enrol_passkey(
            ceremony.subject,
            credential_id=bytes_to_base64url(verified.credential_id),
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            rp_id=ceremony.rp_id,
        )
        log.info("passkey enrolled", extra={"account": enrolled})
        response = JSONBytes(
            {"account": enrolled, "redirect": f"/consumer/{quote(enrolled, safe='')}"}
        )
        auth.sign_in(request, response, account=enrolled)
        return response

    r.add_api_route("/enrol/passkey", json_post(passkey_enrol), methods=["POST"])

    async def password_enrol(request: Request, form: dict[str, str]) -> Response:
        _needs_secure_site(auth)
        code, password = form.get("code", "").strip(), form.get("password", "")
        if password != form.get("confirm", ""):
            raise InvalidForm("the two passwords differ; type the same password twice")
        async with await auth.hashing():
            account = await run_in_threadpool(auth.members.enrol_password, code, password)
        log.info("password enrolled", extra={"account": account})
        return signed_in(request, f"/consumer/{quote(account, safe='')}", account=account)

    r.add_api_route("/enrol/password", form_post(password_enrol), methods=["POST"])

    return r
