"""Who is asking: members' and operators' sessions, CSRF tokens, Origin checks, bearer tokens.

The node signs for a custodial household only for that household's member, signed in
(:mod:`gridledger.web.views.auth` holds the sign-in pages). What protects that:

* **Host** -- checked against the node's names before anything else
  (:class:`gridledger.api.site.HostCheck`), so a rebound name never reaches a route.
* **Origin** -- every state-changing form (``POST``) must carry this site's own origin
  (:meth:`Auth.check_origin`); a missing or foreign one is refused.
* **Sessions** -- a random 256-bit id in an ``HttpOnly``, ``SameSite=Strict`` cookie (also
  ``Secure``, named ``__Host-…``, when served over HTTPS), held in memory: they end after
  :data:`SESSION_ABSOLUTE_S` in all, after :data:`SESSION_IDLE_S` unused, at sign-out, when the
  member is reset (``epoch``), when the account leaves custody, when an operator's token is
  replaced, and when the node restarts. The id changes at every sign-in.
* **CSRF tokens** -- every form carries ``HMAC(secret, session id)`` (before signing in:
  ``HMAC(secret, a random cookie)``), with a secret drawn at each start; a missing or wrong
  token is refused.
* **Bearer tokens** -- the operator's endpoints take ``Authorization: Bearer <token>``
  (:func:`operator_of`), checked against the hashes in ``members.json``.
* **Throttling** -- a few failed password sign-ins lock the account for a while (doubling), and
  at most :data:`HASHES_AT_ONCE` Argon2id checks run at once (each takes 64 MiB).

Time comes from an injectable clock (:class:`Auth` ``clock``), so expiry is tested without
waiting.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gridledger.api.errors import (
    CeremonyExpired,
    CsrfInvalid,
    EnrolmentInvalid,
    InvalidTtl,
    MembersUnreadable,
    OperatorRequired,
    OriginForeign,
    OriginMissing,
    PasskeyExists,
    PasswordNotAllowed,
    ServerBusy,
    SignInLocked,
    TooManyPasskeys,
    WeakPassword,
)
from gridledger.api.site import Site
from gridledger.core.errors import GridLedgerError
from gridledger.node.custody import Custody
from gridledger.node.members import Members, MembersError

log = logging.getLogger("gridledger.api")

SESSION_ABSOLUTE_S = 12 * 3600
"""A session ends this long after sign-in, used or not."""
SESSION_IDLE_S = 30 * 60
"""A session ends after this long without a request."""
MAX_SESSIONS = 10_000
"""Sessions held at once; beyond, the least recently used one ends."""
CEREMONY_S = 5 * 60
"""How long a passkey challenge may be answered."""
MAX_CEREMONIES = 1000
LOCK_AFTER = 5
"""Failed password sign-ins in a row before an account is locked."""
LOCK_FIRST_S = 30
LOCK_MAX_S = 15 * 60
HASHES_AT_ONCE = 2
"""Argon2id checks at once; more sign-ins wait, and beyond :data:`HASH_QUEUE` are refused."""
HASH_QUEUE = 16
COOKIE_SESSION = "gl_session"
COOKIE_CSRF = "gl_csrf"
_SET_COOKIES = "gridledger.set_cookies"
_CSRF_BINDING = "gridledger.csrf_binding"

Clock = Callable[[], float]


@dataclass
class Session:
    id: str
    created_s: float
    seen_s: float
    account: str | None = None
    """The member signed in (a custodial account), or none."""
    operator: str | None = None
    """The operator signed in (the name of their token), or none."""
    stamp: str = ""
    """The member's epoch or the operator's token hash at sign-in: a change ends the session."""


class Sessions:
    """Open sessions, in memory (a restart signs everyone out), least recently used first."""

    def __init__(
        self,
        clock: Clock,
        absolute_s: float = SESSION_ABSOLUTE_S,
        idle_s: float = SESSION_IDLE_S,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        self.clock = clock
        self.absolute_s = absolute_s
        self.idle_s = idle_s
        self.max_sessions = max_sessions
        self._open: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._open)

    def _alive(self, session: Session, now: float) -> bool:
        return now - session.created_s < self.absolute_s and now - session.seen_s < self.idle_s

    def open(
        self, *, account: str | None = None, operator: str | None = None, stamp: str
    ) -> Session:
        now = self.clock()
        if len(self._open) >= self.max_sessions:
            for sid in [s.id for s in self._open.values() if not self._alive(s, now)]:
                del self._open[sid]
            while len(self._open) >= self.max_sessions:
                self._open.popitem(last=False)
        session = Session(
            id=secrets.token_urlsafe(32),
            created_s=now,
            seen_s=now,
            account=account,
            operator=operator,
            stamp=stamp,
        )
        self._open[session.id] = session
        return session

    def get(self, sid: str | None) -> Session | None:
        """The live session ``sid`` (seen now), or ``None``: unknown or expired (and dropped)."""
        if not sid:
            return None
        session = self._open.get(sid)
        if session is None:
            return None
        now = self.clock()
        if not self._alive(session, now):
            del self._open[sid]
            return None
        session.seen_s = now
        self._open.move_to_end(sid)
        return session

    def close(self, sid: str | None) -> None:
        if sid:
            self._open.pop(sid, None)


@dataclass
class Ceremony:
    """A passkey challenge handed to a browser, waiting for its answer."""

    kind: str
    """``register`` or ``authenticate``."""
    challenge: bytes
    rp_id: str
    origin: str
    expires_s: float
    subject: str = ""
    """The enrolment code (``register``) or the account asked for (``authenticate``)."""


class Ceremonies:
    """Outstanding passkey challenges: single use, short-lived, bounded in number."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._open: OrderedDict[str, Ceremony] = OrderedDict()

    def start(self, ceremony: Ceremony) -> str:
        now = self.clock()
        for cid in [c for c, x in self._open.items() if x.expires_s <= now]:
            del self._open[cid]
        while len(self._open) >= MAX_CEREMONIES:
            self._open.popitem(last=False)
        cid = secrets.token_urlsafe(18)
        self._open[cid] = ceremony
        return cid

    def take(self, cid: Any, kind: str) -> Ceremony:
        """The ceremony ``cid`` of ``kind``, removed (an answer is checked once).

        Raises:
            CeremonyExpired: unknown, used, expired or of another kind.
        """
        ceremony = self._open.pop(cid, None) if isinstance(cid, str) else None
        if ceremony is None or ceremony.kind != kind or ceremony.expires_s <= self.clock():
            raise CeremonyExpired
        return ceremony


@dataclass
class Throttle:
    """Failed password sign-ins per account: after :data:`LOCK_AFTER` in a row the account is
    locked for :data:`LOCK_FIRST_S`, doubling with each further failure up to
    :data:`LOCK_MAX_S`; a success clears the count."""

    clock: Clock
    failures: dict[str, tuple[int, float]] = field(default_factory=dict)

    def check(self, account: str) -> None:
        """Raises :class:`SignInLocked` while ``account`` is locked."""
        count, until = self.failures.get(account, (0, 0.0))
        wait = until - self.clock()
        if count >= LOCK_AFTER and wait > 0:
            raise SignInLocked(
                f"too many failed sign-ins for {account}; try again in {int(wait) + 1} s"
            )

    def failed(self, account: str) -> None:
        count = self.failures.get(account, (0, 0.0))[0] + 1
        until = 0.0
        if count >= LOCK_AFTER:
            until = self.clock() + min(LOCK_FIRST_S * 2 ** (count - LOCK_AFTER), LOCK_MAX_S)
        if len(self.failures) > MAX_SESSIONS:  # bounded: forget the oldest entries
            for key in list(self.failures)[: MAX_SESSIONS // 10]:
                del self.failures[key]
        self.failures[account] = (count, until)

    def succeeded(self, account: str) -> None:
        self.failures.pop(account, None)


@dataclass
class Viewer:
    """Who a request comes from: its live session."""

    session: Session

    @property
    def account(self) -> str | None:
        return self.session.account

    @property
    def operator(self) -> str | None:
        return self.session.operator


def _hmac(secret: bytes, *parts: str) -> str:
    mac = hmac.new(secret, "\x00".join(parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


class Auth:
    """Everything the node needs to know who asks: its site, members, custody and sessions."""

    def __init__(
        self,
        site: Site,
        members: Members,
        custody: Custody,
        clock: Clock = time.time,
    ) -> None:
        self.site = site
        self.members = members
        self.custody = custody
        self.clock = clock
        self.sessions = Sessions(clock)
        self.ceremonies = Ceremonies(clock)
        self.throttle = Throttle(clock)
        self.secret = secrets.token_bytes(32)
        """The CSRF key: drawn at every start, so a restart makes old forms stale."""
        self._hashing = asyncio.Semaphore(HASHES_AT_ONCE)
        self._hash_waiting = 0

    # cookies ---------------------------------------------------------------------------------
    def cookie_name(self, base: str) -> str:
        """``__Host-`` names where cookies are Secure: the browser then refuses them from
        anything but this host over HTTPS."""
        return f"__Host-{base}" if self.site.secure_cookies else base

    def set_cookie(self, response: Response, base: str, value: str) -> None:
        response.set_cookie(
            self.cookie_name(base),
            value,
            path="/",
            httponly=True,
            samesite="strict",
            secure=self.site.secure_cookies,
        )

    def clear_cookie(self, response: Response, base: str) -> None:
        response.delete_cookie(
            self.cookie_name(base),
            path="/",
            httponly=True,
            samesite="strict",
            secure=self.site.secure_cookies,
        )

    # sessions --------------------------------------------------------------------------------
    def viewer(self, request: Request) -> Viewer | None:
        """The live session of ``request``: it must be unexpired, its member still in custody
        and not reset since, or its operator's token unchanged."""
        sid = request.cookies.get(self.cookie_name(COOKIE_SESSION))
        session = self.sessions.get(sid)
        if session is None:
            return None
        try:
            return self._still_valid(session)
        except MembersError as exc:
            log.error("members file unreadable: %s", exc.message)
            return None

    def _still_valid(self, session: Session) -> Viewer | None:
        if session.account is not None:
            epoch = self.members.epoch(session.account)
            if epoch is None or str(epoch) != session.stamp or session.account not in self.custody:
                self.sessions.close(session.id)
                return None
        elif (
            session.operator is not None
            and self.members.operator_stamp(session.operator) != session.stamp
        ):
            self.sessions.close(session.id)
            return None
        return Viewer(session)

    def sign_in(
        self,
        request: Request,
        response: Response,
        *,
        account: str | None = None,
        operator: str | None = None,
    ) -> Session:
        """Open a new session (closing the one the request had: a fresh id at each sign-in
        stops session fixation) and set its cookie on ``response``."""
        self.sessions.close(request.cookies.get(self.cookie_name(COOKIE_SESSION)))
        if account is not None:
            stamp = str(self.members.epoch(account) or 0)
        else:
            stamp = self.members.operator_stamp(operator or "") or ""
        session = self.sessions.open(account=account, operator=operator, stamp=stamp)
        self.set_cookie(response, COOKIE_SESSION, session.id)
        log.info(
            "signed in",
            extra={"account": account, "operator": operator, "client": _client(request)},
        )
        return session

    def sign_out(self, request: Request, response: Response) -> None:
        self.sessions.close(request.cookies.get(self.cookie_name(COOKIE_SESSION)))
        self.clear_cookie(response, COOKIE_SESSION)

    # CSRF ------------------------------------------------------------------------------------
    def _binding(self, request: Request) -> str:
        """What a form's token is bound to: the session, else a random cookie of the browser
        (made on first use and set on the response by :class:`CookieJar`)."""
        viewer = self.viewer(request)
        if viewer is not None:
            return "s:" + viewer.session.id
        found = request.scope.get(_CSRF_BINDING) or request.cookies.get(
            self.cookie_name(COOKIE_CSRF)
        )
        if not found or len(found) > 64:
            found = secrets.token_urlsafe(24)
            request.scope[_CSRF_BINDING] = found
            request.scope.setdefault(_SET_COOKIES, []).append((COOKIE_CSRF, found))
        return "a:" + found

    def csrf_token(self, request: Request) -> str:
        """The CSRF token the forms of this page carry."""
        return _hmac(self.secret, "csrf", self._binding(request))

    def check_csrf(self, request: Request, token: str | None) -> None:
        """Raises :class:`CsrfInvalid` unless ``token`` is this request's CSRF token."""
        if not token or not hmac.compare_digest(token, self.csrf_token(request)):
            raise CsrfInvalid

    # origin ----------------------------------------------------------------------------------
    def origin(self, request: Request) -> str:
        """This site's origin for ``request`` (its Host was checked already)."""
        return self.site.origin(request.headers.get("host", ""))

    def check_origin(self, request: Request) -> None:
        """A state-changing request must come from this site's own page.

        Raises:
            OriginMissing: no ``Origin`` header (or ``null``).
            OriginForeign: another origin.
        """
        origin = request.headers.get("origin")
        if origin is None or origin == "null":
            raise OriginMissing
        if origin.lower().rstrip("/") != self.origin(request):
            raise OriginForeign(
                f"the request comes from {origin!r}, not from this node's own page; use the "
                "node's own page"
            )

    # password checks -------------------------------------------------------------------------
    async def hashing(self) -> _HashSlot:
        """A slot to run one Argon2id check in (at most :data:`HASHES_AT_ONCE` at once).

        Raises:
            ServerBusy: too many sign-ins are waiting already.
        """
        if self._hash_waiting >= HASH_QUEUE:
            raise ServerBusy("the node is checking as many passwords as it can; retry shortly")
        return _HashSlot(self)


class _HashSlot:
    def __init__(self, auth: Auth) -> None:
        self.auth = auth

    async def __aenter__(self) -> None:
        self.auth._hash_waiting += 1
        try:
            await self.auth._hashing.acquire()
        finally:
            self.auth._hash_waiting -= 1

    async def __aexit__(self, *_exc: object) -> None:
        self.auth._hashing.release()


_MEMBERS_ERRORS: dict[str, type[GridLedgerError]] = {
    cls.code: cls
    for cls in (
        EnrolmentInvalid,
        PasswordNotAllowed,
        WeakPassword,
        PasskeyExists,
        TooManyPasskeys,
        MembersUnreadable,
        InvalidTtl,
    )
}


def members_error(exc: MembersError) -> GridLedgerError:
    """The API error (code, status) of a refusal from the members file."""
    return _MEMBERS_ERRORS.get(exc.code, MembersUnreadable)(exc.message)


def _client(request: Request) -> str | None:
    return None if request.client is None else request.client.host


def auth_of(request: Request) -> Auth:
    """The :class:`Auth` of the app serving ``request``."""
    auth: Auth = request.app.state.auth
    return auth


def operator_of(request: Request) -> str:
    """The operator a request's bearer token belongs to (the operator's endpoints).

    Raises:
        OperatorRequired: no token, or one that is not an operator's.
    """
    auth = auth_of(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    name = auth.members.operator_for(token.strip()) if scheme.lower() == "bearer" else None
    if name is None:
        raise OperatorRequired
    return name


class CookieJar:
    """ASGI middleware: adds the cookies a request's handling asked for (the CSRF binding of a
    first visit) to its response, whatever kind of response it is."""

    def __init__(self, app: ASGIApp, auth: Auth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and scope.get(_SET_COOKIES):
                carrier = Response()
                for base, value in scope[_SET_COOKIES]:
                    self.auth.set_cookie(carrier, base, value)
                headers = list(message.get("headers", []))
                headers += [(k, v) for k, v in carrier.raw_headers if k == b"set-cookie"]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)
