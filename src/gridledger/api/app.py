"""The HTTP API of one node: ``create_app(node)`` builds the FastAPI application.

Routes live in :mod:`gridledger.api.routes` (one module per resource); ``docs/api.md``
describes them with examples, and the running app serves its OpenAPI document at
``/openapi.json`` (interactive at ``/docs``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI

from gridledger.api.context import MAX_BATCH, MAX_BATCH_BYTES, ApiContext
from gridledger.api.errors import install_error_handlers
from gridledger.api.limits import BodyBudget, BodyLimits
from gridledger.api.render import JSONBytes
from gridledger.api.routes import (
    assets,
    blocks,
    chain,
    events,
    market,
    ops,
    readings,
    state,
    txs,
)
from gridledger.api.waiting import CommitWaiters
from gridledger.node.node import Node


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
) -> FastAPI:
    """The API application serving ``node`` (which the caller starts and closes).

    Args:
        node: an open node; call ``node.start()`` for it to produce blocks.
        max_batch: the most transactions one ``POST /v1/txs/batch`` may carry.
        max_batch_bytes: the largest batch body accepted, in bytes.
        web: serve the web interface (explorer and dashboards) beside the API.
        body_limits: how many request bodies, and bytes of them, the node holds at once.
    """
    waiters = CommitWaiters(node)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        waiters.close()

    app = FastAPI(
        title="GridLedger API",
        version=_version(),
        summary="Submit signed transactions; read blocks, state and proofs; follow new blocks.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        default_response_class=JSONBytes,
        lifespan=lifespan,
    )
    ctx = ApiContext(node, waiters, max_batch, max_batch_bytes, BodyBudget(body_limits))
    app.state.ctx = ctx
    install_error_handlers(app)
    for module in (txs, blocks, chain, state, assets, readings, market, events, ops):
        app.include_router(module.router(ctx))
    if web:
        # imported here: the web interface's templates load only where pages are served
        from gridledger.web import routers, static_files  # noqa: PLC0415
        from gridledger.web.render import RequestTimer  # noqa: PLC0415

        for web_router in routers(ctx):
            app.include_router(web_router)
        app.mount("/static", static_files(), name="static")
        app.add_middleware(RequestTimer)
    return app
