"""Web view: market (see :mod:`gridledger.web`)."""

from __future__ import annotations

from fastapi import APIRouter

from gridledger.api.context import ApiContext


def router(ctx: ApiContext) -> APIRouter:  # noqa: ARG001 (the view is being built)
    return APIRouter(include_in_schema=False)
