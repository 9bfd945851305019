"""The chain's rules by height and the upgrades scheduled on it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from gridledger.api.context import ApiContext
from gridledger.api.render import JSONBytes
from gridledger.api.schemas import ERROR_RESPONSES, ChainRules
from gridledger.contracts import chain
from gridledger.core.encoding import INT_MAX


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    r = APIRouter(prefix="/v1/chain", tags=["chain"])

    @r.get("/rules", response_model=ChainRules, responses=ERROR_RESPONSES, summary="Chain rules")
    def rules(
        height: Annotated[
            int | None,
            Query(
                ge=1,
                le=INT_MAX,
                description="The height to give the rules of; the next block's by default.",
            ),
        ] = None,
    ) -> Response:
        """The rules in force at a height (transaction and block limits, proposers, kinds), as
        committed state knows them, every upgrade scheduled on the chain, and the admission
        quotas by role."""
        view = node.state.view
        at = node.tip.height + 1 if height is None else height
        return JSONBytes(
            {
                "height": at,
                "rules": chain.rules_at(view, at),
                "upgrades": chain.upgrades(view),
                "quotas": chain.quotas(view),
            }
        )

    return r
