"""Web view: the explorer (see :mod:`gridledger.web`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gridledger.api.context import ApiContext
from gridledger.web.render import render


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    node = ctx.node

    @r.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        return render(request, node, "explorer/home.html", "explorer", status=node.status())

    return r
