"""Operations: node status, health check, Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from gridledger.api.context import ApiContext
from gridledger.api.render import JSONBytes
from gridledger.api.schemas import ErrorResponse, Health, Status
from gridledger.core.errors import NodeHalted


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    r = APIRouter(tags=["operations"])

    @r.get("/v1/status", response_model=Status, summary="Node status")
    def status() -> Response:
        """Chain id, tip height, hash, time and state root, pending transactions, organisation,
        and the time zone the chain's pages show time in (times in the API are Unix UTC)."""
        return JSONBytes({**node.status(), "time_zone": ctx.local.name})

    @r.get(
        "/healthz",
        response_model=Health,
        responses={503: {"model": ErrorResponse, "description": "The node halted"}},
        summary="Health check",
    )
    def healthz() -> Response:
        """200 while the node can take transactions; 503 (``node.halted``) once it halted."""
        if node.halted:
            raise NodeHalted(f"the node halted: {node.halted}")
        return JSONBytes({"ok": True, "height": node.tip.height})

    @r.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )
    def metrics() -> Response:
        """The node's metrics in the Prometheus text format (``gridledger_*``)."""
        return Response(generate_latest(node.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return r
