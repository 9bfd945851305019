"""Rendering pages: the Jinja2 environment, the filters every page uses, and the response.

Every page gets ``t`` (the translator), ``lang``, ``langs``, ``path`` (for the language switch),
``chain`` (chain id and height), ``nav`` (the current section), ``viewer`` (the member or
operator signed in, or none), ``local`` (the chain's time zone: the ``local`` and ``when``
filters show times in it, ``when`` with UTC on hover) and ``csrf()`` (the CSRF token its
forms carry; called only by pages with a form, so a visitor who sees none gets no cookie).
Pages may not be framed by other sites (``frame-ancestors 'none'``) and send no referrer
elsewhere. The response carries a ``Server-Timing: render;dur=<ms>`` header: what the server
spent building the page, which the page benchmark and tests read.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from gridledger.core.localtime import UTC, LocalTime
from gridledger.node.node import Node
from gridledger.web.i18n import LANG_NAMES, LANGS, Translator, pick_lang

CURRENCY_MINOR_DIGITS = 2
START_KEY = "gridledger.start"
"""Where :class:`RequestTimer` puts the time a request arrived."""


class RequestTimer:
    """ASGI middleware noting when each request arrived, so a page's ``Server-Timing`` covers
    gathering its data as well as rendering it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[START_KEY] = time.perf_counter()
        await self.app(scope, receive, send)


def kwh(wh: int | None, digits: int = 2) -> str:
    """Wh as kWh with ``digits`` decimals (``1234`` -> ``1.23``); ``-`` for none."""
    if wh is None:
        return "-"
    return f"{wh / 1000:,.{digits}f}"


def money(minor: int | None) -> str:
    """Minor currency units as a decimal amount (``12345`` fen -> ``123.45``)."""
    if minor is None:
        return "-"
    sign = "-" if minor < 0 else ""
    whole, part = divmod(abs(minor), 10**CURRENCY_MINOR_DIGITS)
    return f"{sign}{whole:,}.{part:0{CURRENCY_MINOR_DIGITS}d}"


def utc(seconds: int | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Unix seconds as UTC time (``2026-11-22 12:00``)."""
    if seconds is None:
        return "-"
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime(fmt)


def utc_ms(ms: int | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return "-" if ms is None else utc(ms // 1000, fmt)


def _local_of(context: Context) -> LocalTime:
    found = context.get("local")
    return found if isinstance(found, LocalTime) else UTC


@pass_context
def local(context: Context, seconds: int | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Unix seconds as the chain's local time (its genesis ``time_zone``)."""
    return "-" if seconds is None else _local_of(context).format(seconds, fmt)


@pass_context
def local_ms(context: Context, ms: int | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return "-" if ms is None else _local_of(context).format(ms // 1000, fmt)


@pass_context
def when(context: Context, seconds: int | None, fmt: str = "%Y-%m-%d %H:%M") -> Markup:
    """Unix seconds as a ``<time>`` in the chain's local time, UTC on hover."""
    if seconds is None:
        return Markup("-")
    at = utc(seconds, "%Y-%m-%dT%H:%M:%SZ")
    return Markup('<time datetime="{}" title="{} UTC">{}</time>').format(
        at, utc(seconds, fmt), _local_of(context).format(seconds, fmt)
    )


@pass_context
def when_ms(context: Context, ms: int | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> Markup:
    return Markup("-") if ms is None else when(context, ms // 1000, fmt)


@pass_context
def month_when(context: Context, month: str) -> Markup:
    """A month (``YYYY-MM`` of the chain's time zone) as a ``<time>``, its UTC span on hover."""
    local = _local_of(context)
    try:
        start = local.month_start(month)
    except ValueError:
        return Markup("{}").format(month)
    end = local.next_month(start)
    return Markup('<time datetime="{}" title="{} – {} UTC">{}</time>').format(
        month, utc(start), utc(end), month
    )


def short(value: str | None, keep: int = 10) -> str:
    """A long hash or key shortened for display (the full value goes in ``title``)."""
    if value is None:
        return "-"
    return value if len(value) <= keep + 3 else f"{value[:keep]}…"


def permille(value: int | None) -> str:
    return "-" if value is None else f"{value / 10:.1f} %"


_env = Environment(
    loader=PackageLoader("gridledger.web", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(
    kwh=kwh, money=money, utc=utc, utc_ms=utc_ms, local=local, local_ms=local_ms, when=when,
    when_ms=when_ms, month_when=month_when, short=short, permille=permille,
)  # fmt: skip


def warm() -> int:
    """Compile every template now (at start-up) rather than on its first request; returns how
    many there are. Compiling the whole set takes a few hundred milliseconds."""
    names = _env.list_templates(extensions=["html"])
    for name in names:
        _env.get_template(name)
    return len(names)


def render(
    request: Request, node: Node, template: str, nav: str, status_code: int = 200, **page: Any
) -> HTMLResponse:
    """Render ``template`` for ``request`` in its language."""
    start = request.scope.get(START_KEY, time.perf_counter())
    lang = pick_lang(request)
    tip = node.tip
    auth = getattr(request.app.state, "auth", None) if "app" in request.scope else None
    viewer = None if auth is None else auth.viewer(request)
    ctx = getattr(request.app.state, "ctx", None) if "app" in request.scope else None
    local_time = UTC if ctx is None else ctx.local
    html = _env.get_template(template).render(
        viewer=viewer,
        csrf=(lambda: "") if auth is None else (lambda: auth.csrf_token(request)),
        t=Translator(lang),
        lang=lang,
        langs=[(code, LANG_NAMES[code]) for code in LANGS],
        path=request.url.path,
        query=str(request.url.query),
        chain={"id": node.chain_id, "height": tip.height, "time": tip.time},
        local=local_time,
        nav=nav,
        **page,
    )
    ms = (time.perf_counter() - float(start)) * 1000
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Server-Timing"] = f"render;dur={ms:.1f}"
    response.headers["Content-Language"] = lang
    # a page with a one-click button must not be framed by another site (clickjacking)
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.query_params.get("lang") in LANGS:
        response.set_cookie("lang", lang, max_age=365 * 86_400, samesite="lax")
    return response
