"""Carbon-neutrality claims: the list, one claim, its proof file and its PDF.

* ``GET /v1/claims?org=&after=&limit=``: claims by id (of one organisation);
* ``GET /v1/claims/{id}``: one claim with its inventory, retirements and verifier's statement;
* ``GET /v1/claims/{id}/proof``: its ``gridledger/claim-proof/v1`` file at the tip
  (``docs/formats.md``), what ``gridledger carbon claim verify`` checks with the consortium
  keys alone;
* ``GET /v1/claims/{id}/pdf?lang=en|zh``: the printable claim of that file.

The rules are in ``docs/claims.md``; every action is a transaction (``claims.*``). An
unknown claim is ``404 not_found``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from gridledger.api.context import ApiContext
from gridledger.api.errors import InvalidRequest
from gridledger.api.render import JSONBytes
from gridledger.api.schemas import ERROR_RESPONSES, model_of
from gridledger.contracts import claims, registry
from gridledger.core.errors import NotFound
from gridledger.documents.claim_pdf import render_claim_pdf
from gridledger.documents.proofs import claim_proof
from gridledger.sdk.claim_proofs import ClaimProofError
from gridledger.state.store import StoreCorrupt

ID = registry.ID_RE.pattern
ClaimModel = model_of(claims.Claim, "NeutralityClaim")
ClaimId = Annotated[str, Path(pattern=ID, max_length=64, description="The claim's id.")]


class ClaimList(BaseModel):
    model_config = ConfigDict(extra="forbid")
    claims: list[ClaimModel] = Field(description="By id.")  # type: ignore[valid-type]
    next: str | None = Field(description="The `after` of the next page; null after the last.")


def _proof(ctx: ApiContext, claim_id: str) -> dict[str, Any]:
    try:
        return claim_proof(ctx.node, claim_id)
    except ClaimProofError as exc:
        raise InvalidRequest(f"path.claim_id: {exc.message}") from None


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    r = APIRouter(prefix="/v1", tags=["claims"])

    @r.get("/claims", response_model=ClaimList, responses=ERROR_RESPONSES,
           summary="Carbon-neutrality claims")  # fmt: skip
    def list_claims(
        org: Annotated[str | None, Query(pattern=ID, description="Only this claimant's.")] = None,
        after: Annotated[
            str | None, Query(pattern=ID, description="Claims with an id after this one.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500, description="At most this many.")] = 100,
    ) -> Response:
        """Claims by id: subject, period, inventory by scope, residual emissions, the
        retirements covering them, status and verifier's statement."""
        page = claims.list_claims(node.state.view, after, limit, org)
        return JSONBytes({"claims": page.items, "next": page.next})

    @r.get("/claims/{claim_id}", response_model=ClaimModel, responses=ERROR_RESPONSES,
           summary="A carbon-neutrality claim")  # fmt: skip
    def get_claim(claim_id: ClaimId) -> Response:
        """One claim with its inventory site by site and month by month."""
        found = claims.get_claim(node.state.view, claim_id)
        if found is None:
            raise NotFound(f"no claim {claim_id!r}")
        return JSONBytes(found)

    @r.get("/claims/{claim_id}/proof", responses=ERROR_RESPONSES,
           summary="A claim's proof file")  # fmt: skip
    def claim_proof_file(claim_id: ClaimId) -> Response:
        """The claim proof file (``gridledger/claim-proof/v1``) at the tip: the claim, each
        retirement it lists and its retired serial block with their state proofs, the block
        header, hash and signature, the attestations and ``final``. Check it without a node:
        ``gridledger carbon claim verify FILE --keys KEYS.json``."""
        return JSONBytes(_proof(ctx, claim_id))

    @r.get(
        "/claims/{claim_id}/pdf",
        response_class=Response,
        responses={
            200: {
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                "description": "The claim as a PDF.",
            },
            **ERROR_RESPONSES,
        },
        summary="A claim as PDF",
    )
    def claim_pdf(
        claim_id: ClaimId,
        lang: Annotated[
            Literal["en", "zh"], Query(description="English (en) or Chinese (zh).")
        ] = "en",
    ) -> Response:
        """The printable claim of its proof file at the tip, with a QR code pointing at it."""
        proof = _proof(ctx, claim_id)
        try:
            pdf = render_claim_pdf(proof, lang)
        except ClaimProofError as exc:
            raise StoreCorrupt(f"claim {claim_id}: {exc.message}") from None
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="claim-{claim_id}-{lang}.pdf"'},
        )

    return r
