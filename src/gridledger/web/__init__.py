"""The web interface: explorer and dashboards for every role, served at the API's address.

Pages are rendered on the server (Jinja2) from the node's committed state, in English or
Simplified Chinese (every label from :mod:`gridledger.web.i18n`'s catalogues), with charts as
inline SVG; the browser's scripts (``static/``) only follow the live event stream, verify
proofs against block headers, and sign transactions with WebCrypto. Nothing is fetched from
outside the node: the interface works offline.

Each view is a module of :mod:`gridledger.web.views` with a ``router(ctx)``; templates live in
``templates/<view>/``, translations in ``i18n/<lang>/<view>.json``, scripts in ``static/``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from gridledger.api.context import ApiContext

STATIC_DIR = Path(__file__).with_name("static")


def routers(ctx: ApiContext) -> list[APIRouter]:
    """The HTML routes of every view (imported here: only a serving node needs them)."""
    from gridledger.web.views import (  # noqa: PLC0415
        auth,
        carbon,
        certificates,
        claims,
        community,
        credits,
        custody,
        exchange,
        explorer,
        market,
        operator,
        participants,
        personal,
        products,
        record,
    )

    # custody before operator: /operator/members is its own page, not one of /operator/{what}
    views = (
        explorer, record, personal, community, participants, certificates, carbon, credits,
        claims, exchange, market, products, auth, custody, operator,
    )  # fmt: skip
    return [m.router(ctx) for m in views] + [_favicon()]


def _favicon() -> APIRouter:
    """``/favicon.ico``, which browsers ask for by themselves: the page icon."""
    r = APIRouter(include_in_schema=False)

    @r.get("/favicon.ico")
    def favicon() -> FileResponse:
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    return r


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
