"""Errors on the wire: every refusal is ``{"error": {"code": ..., "message": ...}}``.

The code is the stable :class:`~gridledger.core.errors.GridLedgerError` code (``tx.*``,
``funds.*``, ``registry.*``, ``auth.forbidden``, ``node.*``, ``not_found``) or one of the
``api.*`` codes below for requests that never reached the node. The HTTP status follows the
code (:func:`http_status`), so a client can branch on either.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from gridledger.api.render import JSONBytes
from gridledger.core.errors import GridLedgerError, NodeError
from gridledger.state.store import StoreCorrupt

log = logging.getLogger("gridledger.api")


class InvalidRequest(GridLedgerError):
    code = "api.invalid_request"
    default_message = "the request is malformed; see the API documentation at /docs"


class BatchTooLarge(GridLedgerError):
    code = "api.batch_too_large"
    default_message = "a batch holds at most 10000 transactions; split it"


class BodyTooLarge(GridLedgerError):
    code = "api.body_too_large"
    default_message = "the request body is larger than this node accepts"


class ServerBusy(GridLedgerError):
    code = "api.busy"
    default_message = "the node is reading as many request bodies as it takes; retry shortly"


class BodyTimeout(GridLedgerError):
    code = "api.body_timeout"
    default_message = "the request body did not arrive in time"


class RouteNotFound(GridLedgerError):
    code = "api.not_found"
    default_message = "no such endpoint; see /docs for the API"


class MethodNotAllowed(GridLedgerError):
    code = "api.method_not_allowed"
    default_message = "this endpoint does not accept that HTTP method"


class InternalError(GridLedgerError):
    code = "api.internal_error"
    default_message = "the node failed to answer; its log says why"


class UnknownHost(GridLedgerError):
    code = "api.unknown_host"
    default_message = "the request's Host is not a name this node is served under"


# Signing in and acting for others (:mod:`gridledger.api.auth`). A refused request changes
# nothing: it never reaches the node.
class OriginMissing(GridLedgerError):
    code = "auth.origin_missing"
    default_message = (
        "the request carries no Origin header; submit the form from this node's own page"
    )


class OriginForeign(GridLedgerError):
    code = "auth.origin_foreign"
    default_message = "the request comes from another site's page; use this node's own page"


class CsrfInvalid(GridLedgerError):
    code = "auth.csrf_invalid"
    default_message = "the form is stale or was not made by this node; reload the page and retry"


class SignInRequired(GridLedgerError):
    code = "auth.sign_in_required"
    default_message = "sign in first (your session is missing or has expired)"


class NotYourAccount(GridLedgerError):
    code = "auth.not_your_account"
    default_message = "you are signed in as another member; sign in as this account's member"


class BadCredentials(GridLedgerError):
    code = "auth.bad_credentials"
    default_message = "the account or the password is wrong"


class SignInLocked(GridLedgerError):
    code = "auth.locked"
    default_message = "too many failed sign-ins for this account; wait a little and retry"


class OperatorRequired(GridLedgerError):
    code = "auth.operator_required"
    default_message = (
        "this needs the operator's credential: 'Authorization: Bearer <token>' (gridledger "
        "custody operator-token) or an operator session"
    )


class PasskeyInvalid(GridLedgerError):
    code = "auth.passkey_invalid"
    default_message = "the passkey's answer could not be verified; try again"


class CeremonyExpired(GridLedgerError):
    code = "auth.ceremony_expired"
    default_message = "the passkey request expired or was used already; start again"


class EnrolmentInvalid(GridLedgerError):
    code = "auth.enrolment_invalid"
    default_message = "this enrolment code is unknown, used or expired; ask the operator for one"


class PasswordNotAllowed(GridLedgerError):
    code = "auth.password_not_allowed"
    default_message = "this enrolment registers a passkey only"


class WeakPassword(GridLedgerError):
    code = "auth.weak_password"
    default_message = "the password is too short or too easy to guess"


class PasskeyExists(GridLedgerError):
    code = "auth.passkey_exists"
    default_message = "this passkey is registered already"


class TooManyPasskeys(GridLedgerError):
    code = "auth.too_many_passkeys"
    default_message = "this member has as many passkeys as allowed; ask for a reset"


class MembersUnreadable(GridLedgerError):
    code = "members.unreadable"
    default_message = "the node's members file is damaged; the operator must restore it"


class InvalidTtl(GridLedgerError):
    code = "members.invalid_ttl"
    default_message = "an enrolment lasts from a minute to 30 days"


class InsecureTransport(GridLedgerError):
    code = "custody.insecure_transport"
    default_message = (
        "this node does not sign for members here: it is served on the network without TLS"
    )


class NotCustodial(GridLedgerError):
    code = "custody.not_custodial"
    default_message = "the node does not keep this account's key; sign with your own key"


class InvalidForm(GridLedgerError):
    code = "web.invalid_form"
    default_message = "the form's fields are missing or not valid"


_BY_CODE = {
    "not_found": 404,
    "state.height_not_retained": 404,
    "api.not_found": 404,
    "api.method_not_allowed": 405,
    "auth.forbidden": 403,
    "tx.nonce_replayed": 409,
    "tx.duplicate": 409,
    "tx.oversize": 413,
    "tx.rate_limited": 429,
    "api.batch_too_large": 413,
    "api.body_too_large": 413,
    "api.busy": 503,
    "api.body_timeout": 408,
    "api.internal_error": 500,
    "store.corrupt": 500,
    "auth.origin_missing": 403,
    "auth.origin_foreign": 403,
    "auth.csrf_invalid": 403,
    "auth.sign_in_required": 401,
    "auth.not_your_account": 403,
    "auth.bad_credentials": 401,
    "auth.locked": 429,
    "auth.operator_required": 401,
    "auth.passkey_exists": 409,
    "members.unreadable": 500,
    "custody.insecure_transport": 403,
    "custody.not_custodial": 404,
}


def http_status(code: str) -> int:
    """The HTTP status that goes with an error code."""
    if code in _BY_CODE:
        return _BY_CODE[code]
    if code.startswith("node."):
        return 503
    if code.startswith("block."):
        return 500
    # tx.*, funds.*, registry.*, api.invalid_request and every contract's own codes
    return 400


def status_for(exc: GridLedgerError) -> int:
    """The HTTP status for ``exc`` (a node error is always "try later", whatever its code)."""
    if isinstance(exc, NodeError):
        return 503
    return http_status(exc.code)


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


_UNREAD_BODY = {
    "api.busy",
    "api.body_too_large",
    "api.body_timeout",
    "tx.oversize",
    "auth.origin_missing",
    "auth.origin_foreign",
    "auth.csrf_invalid",
    "auth.sign_in_required",
    "auth.not_your_account",
    "auth.operator_required",
    "custody.insecure_transport",
}
"""Refusals that may come before the request's body was read: the connection cannot carry
another request after them, and says so (``Connection: close``)."""


def error_response(exc: GridLedgerError) -> JSONBytes:
    headers: dict[str, str] = {}
    if exc.code == ServerBusy.code:
        headers["Retry-After"] = "1"
    if exc.code in _UNREAD_BODY:
        headers["Connection"] = "close"
    return JSONBytes(
        error_body(exc.code, exc.message), status_code=status_for(exc), headers=headers or None
    )


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or InvalidRequest.default_message


async def _on_gridledger_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GridLedgerError)
    return error_response(exc)


async def _on_validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(InvalidRequest(_describe_validation(exc)))


async def _on_http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    err: GridLedgerError
    if exc.status_code == 404:
        err = RouteNotFound()
    elif exc.status_code == 405:
        err = MethodNotAllowed()
    else:
        err = InvalidRequest(str(exc.detail))
    response = JSONBytes(error_body(err.code, err.message), status_code=exc.status_code)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _on_store_corrupt(request: Request, exc: Exception) -> Response:
    log.error("stored data does not decode", extra={"path": request.url.path, "error": str(exc)})
    return JSONBytes(
        error_body("store.corrupt", f"{exc}; stop the node and run 'gridledger verify'"),
        status_code=500,
    )


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("request failed", extra={"path": request.url.path}, exc_info=exc)
    return error_response(InternalError())


def install_error_handlers(app: FastAPI) -> None:
    """Make every failure answer in the one error format, with a code."""
    app.add_exception_handler(GridLedgerError, _on_gridledger_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(StoreCorrupt, _on_store_corrupt)
    # a stored record that does not decode into its type is damage, as a bad stored block is
    app.add_exception_handler(msgspec.DecodeError, _on_store_corrupt)
    app.add_exception_handler(Exception, _on_unexpected)
