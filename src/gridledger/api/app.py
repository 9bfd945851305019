"""The HTTP API of one node: ``create_app(node)`` builds the FastAPI application.

Routes live in :mod:`gridledger.api.routes` (one module per resource); ``docs/api.md``
describes them with examples, and the running app serves its OpenAPI document at
``/openapi.json`` (interactive at ``/docs``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from gridledger.api.auth import Auth, Clock, CookieJar, members_error
from gridledger.api.context import MAX_BATCH, MAX_BATCH_BYTES, ApiContext
from gridledger.api.errors import error_response, install_error_handlers
from gridledger.api.limits import BodyBudget, BodyLimits
from gridledger.api.render import JSONBytes
from gridledger.api.routes import (
    assets,
    blocks,
    carbon,
    certificate_files,
    certificates,
    chain,
    claims,
    community_cards,
    consortium,
    credits,
    events,
    exchange,
    market,
    operator,
    ops,
    personal,
    products,
    readings,
    state,
    txs,
)
from gridledger.api.site import HostCheck, Site
from gridledger.api.waiting import CommitWaiters
from gridledger.core.localtime import LocalTime
from gridledger.node.custody import Custody, CustodyError
from gridledger.node.home import local_time
from gridledger.node.members import Members, MembersError
from gridledger.node.node import Node
from gridledger.node.personal import PersonalStore

log = logging.getLogger("gridledger.api")


def _local_time(node: Node) -> LocalTime:
    """The time zone the node's genesis names (UTC if none, or if it has no home on disk)."""
    try:
        return local_time(node.config.home)
    except (OSError, ValueError):
        return LocalTime()


def _offline_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the copy installed with the node (``swagger-ui-bundle-v2``),
    so the API's documentation works without reaching any other site."""
    app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="GridLedger API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )


def _version() -> str:
    try:
        return version("gridledger")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def create_app(
    node: Node,
    *,
    max_batch: int = MAX_BATCH,
    max_batch_bytes: int = MAX_BATCH_BYTES,
    web: bool = True,
    body_limits: BodyLimits | None = None,
    site: Site | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """The API application serving ``node`` (which the caller starts and closes).

    Args:
        node: an open node; call ``node.start()`` for it to produce blocks.
        max_batch: the most transactions one ``POST /v1/txs/batch`` may carry.
        max_batch_bytes: the largest batch body accepted, in bytes.
        web: serve the web interface (explorer and dashboards) beside the API.
        body_limits: how many request bodies, and bytes of them, the node holds at once.
        site: the names, TLS and proxy the node is served with (default: an app called
            in-process, answering loopback names and the test clients' ``testserver``).
        clock: the time sessions and enrolment codes expire by (default: the wall clock).
    """
    waiters = CommitWaiters(node)
    site = site or Site.in_process()
    auth = _auth(node, site, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        waiters.close()

    app = FastAPI(
        title="GridLedger API",
        version=_version(),
        summary="Submit signed transactions; read blocks, state and proofs; follow new blocks.",
        openapi_url="/openapi.json",
        docs_url=None,  # served below from the node's own copy of Swagger UI
        redoc_url=None,
        default_response_class=JSONBytes,
        lifespan=lifespan,
    )
    ctx = ApiContext(
        node, waiters, max_batch, max_batch_bytes, BodyBudget(body_limits), auth,
        local=_local_time(node), personal=PersonalStore(node.config.home),
    )  # fmt: skip
    app.state.ctx = ctx
    app.state.auth = auth
    install_error_handlers(app)
    app.add_exception_handler(MembersError, _on_members_error)
    for module in (
        txs,
        blocks,
        chain,
        consortium,
        state,
        assets,
        readings,
        market,
        certificates,
        carbon,
        credits,
        products,
        exchange,
        events,
        ops,
        operator,
        certificate_files,
        claims,
        personal,
        community_cards,
    ):
        app.include_router(module.router(ctx))
    _offline_docs(app)
    if web:
        # imported here: the web interface's templates load only where pages are served
        from gridledger.web import routers, static_files  # noqa: PLC0415
        from gridledger.web.render import RequestTimer  # noqa: PLC0415

        for web_router in routers(ctx):
            app.include_router(web_router)
        app.mount("/static", static_files(), name="static")
        app.add_middleware(RequestTimer)
    app.add_middleware(CookieJar, auth=auth)
    # outermost: a request under a name the node is not served under goes no further
    app.add_middleware(HostCheck, site=site)
    return app


async def _on_members_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MembersError)
    return error_response(members_error(exc))


def _auth(node: Node, site: Site, clock: Clock | None) -> Auth:
    """The sign-in state of a serving node; says at start whether it signs for members."""
    try:
        custody = Custody.open(node.config.home, node.config.node_key)
    except CustodyError as exc:
        log.warning("custodial signing is off: %s", exc)
        custody = Custody.empty()
    members = Members(node.config.home) if clock is None else Members(node.config.home, clock)
    if site.custodial_refusal is not None and len(custody):
        log.warning(
            "custodial signing is off for the %d accounts in custody: %s",
            len(custody),
            site.custodial_refusal,
        )
    elif len(custody):
        log.info(
            "custodial signing on for %d accounts, for their members signed in; served as %s",
            len(custody),
            ", ".join(sorted(site.names)),
        )
    return Auth(site, members, custody) if clock is None else Auth(site, members, custody, clock)
