"""The consortium on the chain: members, governance proposals, node keys by height."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from gridledger.api.context import ApiContext
from gridledger.api.render import JSONBytes
from gridledger.api.schemas import ERROR_RESPONSES, model_of
from gridledger.contracts import consortium
from gridledger.core.encoding import INT_MAX
from gridledger.core.errors import NotFound

MAX_PAGE = 500

Proposal = model_of(consortium.Proposal)
NodeKeyHistory = model_of(consortium.NodeKeyHistory)
OrgNetwork = model_of(consortium.OrgNetwork)


class ProposalView(BaseModel):
    proposal: Proposal  # type: ignore[valid-type]
    state: str = Field(description="open, executed, withdrawn or expired at the tip's time.")


class ProposalPage(BaseModel):
    proposals: list[ProposalView]
    next: int | None = Field(description="The `after` of the next page; null after the last.")


class Members(BaseModel):
    height: int
    members: list[str] = Field(description="Organisations allowed to propose (and vote).")
    approvals_needed: int = Field(description="More than two thirds of the members.")


class NodeKeys(BaseModel):
    node_keys: list[NodeKeyHistory]  # type: ignore[valid-type]


class NodeKeyAt(BaseModel):
    org: str
    height: int
    node_key: str | None


class Networks(BaseModel):
    organisations: list[OrgNetwork]  # type: ignore[valid-type]


Height = Annotated[
    int | None,
    Query(ge=0, le=INT_MAX, description="A height; the next block's by default."),
]


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    r = APIRouter(prefix="/v1/consortium", tags=["consortium"])

    def tip_time_s() -> int:
        return node.tip.time // 1000

    def view_of(p: consortium.Proposal) -> dict[str, Any]:
        return {"proposal": p, "state": p.state_at(tip_time_s())}

    @r.get("/members", response_model=Members, responses=ERROR_RESPONSES, summary="Members")
    def members(height: Height = None) -> Response:
        """The organisations that propose blocks and vote on proposals at a height, and how
        many approvals a proposal needs."""
        at = node.tip.height + 1 if height is None else height
        names = consortium.members(node.state.view, at)
        return JSONBytes(
            {
                "height": at,
                "members": names,
                "approvals_needed": consortium.approvals_needed(len(names)),
            }
        )

    @r.get(
        "/proposals",
        response_model=ProposalPage,
        responses=ERROR_RESPONSES,
        summary="Governance proposals",
    )
    def proposals(
        after: Annotated[int | None, Query(ge=0, le=INT_MAX, description="Paging.")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        open_only: Annotated[
            bool, Query(alias="open", description="Only proposals still open.")
        ] = False,
    ) -> Response:
        """Proposals in id order (adding or removing an organisation, rotating a node key,
        scheduling or cancelling an upgrade) with their approvals and state."""
        found = consortium.list_proposals(
            node.state.view, after, limit + 1, open_at_s=tip_time_s() if open_only else None
        )
        page = found[:limit]
        nxt = page[-1].id if len(found) > limit else None
        return JSONBytes({"proposals": [view_of(p) for p in page], "next": nxt})

    @r.get(
        "/proposals/{proposal}",
        response_model=ProposalView,
        responses=ERROR_RESPONSES,
        summary="A governance proposal",
    )
    def proposal(proposal: Annotated[int, Path(ge=1, le=INT_MAX)]) -> Response:
        found = consortium.get_proposal(node.state.view, proposal)
        if found is None:
            raise NotFound(f"no proposal {proposal}")
        return JSONBytes(view_of(found))

    @r.get(
        "/node-keys",
        response_model=NodeKeys,
        responses=ERROR_RESPONSES,
        summary="Every organisation's node keys by height",
    )
    def node_keys() -> Response:
        """Each organisation's node keys with the first height each is valid for: what an
        offline verifier needs to check block signatures and attestations at any height."""
        return JSONBytes({"node_keys": consortium.node_keys(node.state.view)})

    @r.get(
        "/node-keys/{org}",
        response_model=NodeKeyAt,
        responses=ERROR_RESPONSES,
        summary="An organisation's node key at a height",
    )
    def node_key_at(org: str, height: Height = None) -> Response:
        at = node.tip.height + 1 if height is None else height
        key = consortium.node_key_at(node.state.view, org, at)
        return JSONBytes({"org": org, "height": at, "node_key": key})

    @r.get(
        "/network",
        response_model=Networks,
        responses=ERROR_RESPONSES,
        summary="Where organisations' nodes and etcd members listen",
    )
    def networks() -> Response:
        return JSONBytes({"organisations": consortium.org_networks(node.state.view)})

    return r
