"""A household's monthly clean-power card, for the household to share:

* ``GET /v1/community/cards/{account}/{YYYY-MM}/proof``: the card's
  ``gridledger/record-card/v1`` file at the tip (``docs/formats.md`` §6f), what
  ``gridledger community card verify`` checks with the consortium keys alone;
* ``GET /v1/community/cards/{account}/{YYYY-MM}.pdf?lang=en|zh`` and ``….png?lang=``: the card
  drawn from that file, with a QR code pointing at it.

Only the household's member, signed in, or the operator may fetch them (``docs/privacy.md``):
sharing the card is the household's act, and it shares the file it downloaded.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from gridledger.api.context import ApiContext
from gridledger.api.errors import InvalidRequest
from gridledger.api.render import JSONBytes
from gridledger.api.routes.personal import allowed
from gridledger.api.schemas import ERROR_RESPONSES
from gridledger.contracts import community, registry
from gridledger.core.errors import NotFound
from gridledger.documents.card import render_card_pdf, render_card_png
from gridledger.documents.proofs import card_proof
from gridledger.readmodels import green_record
from gridledger.sdk.card_proofs import MONTH_RE, CardProofError

Account = Annotated[
    str, Path(pattern=registry.ID_RE.pattern, max_length=64, description="The household account.")
]
Month = Annotated[str, Path(pattern=f"^{MONTH_RE.pattern}$", description="A local month, YYYY-MM.")]
Lang = Annotated[Literal["en", "zh"], Query(description="The card's language.")]


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    auth = ctx.auth
    assert auth is not None
    r = APIRouter(prefix="/v1/community/cards", tags=["community"])

    def proof_of(request: Request, account: str, month: str) -> dict[str, Any]:
        found = registry.get_account(node.state.view, account)
        if found is None or "consumer" not in found.roles:
            raise NotFound(f"no household account {account!r}")
        allowed(request, auth, account, change=False)
        try:
            return card_proof(node, account, month, ctx.local.name)
        except CardProofError as exc:
            raise InvalidRequest(f"path: {exc.message}") from None

    def streak_of(account: str) -> int:
        view = node.state.view
        holder = registry.get_account(view, account)
        assert holder is not None
        setting = community.get_setting(view, account)
        threshold = (
            green_record.DEFAULT_THRESHOLD_PERMILLE if setting is None else setting.share_permille
        )
        rec = green_record.household_record(
            node.readmodels.reader(), view, holder.org, threshold, ctx.local
        )
        return rec.streak

    @r.get("/{account}/{month}/proof", responses=ERROR_RESPONSES,
           summary="A household's monthly card proof file")  # fmt: skip
    def card_proof_file(request: Request, account: Account, month: Month) -> Response:
        """The record card proof file (``gridledger/record-card/v1``) at the tip: the
        month's claimed certificates of the household with their bundles, sites, certifiers
        and grid factors, each with its state proof, and the block that proves them."""
        proof = proof_of(request, account, month)
        return JSONBytes(
            proof,
            headers={"Content-Disposition": f'attachment; filename="card-{account}-{month}.json"'},
        )

    def _image(kind: str, summary: str) -> Any:
        media = "application/pdf" if kind == "pdf" else "image/png"

        @r.get(
            f"/{{account}}/{{month}}.{kind}",
            responses={**ERROR_RESPONSES, 200: {"content": {media: {}}}},
            summary=summary,
            response_class=Response,
        )
        def card_image(
            request: Request, account: Account, month: Month, lang: Lang = "en"
        ) -> Response:
            """The household's card for the month, drawn from its proof file at the tip."""
            proof = proof_of(request, account, month)
            draw = render_card_pdf if kind == "pdf" else render_card_png
            body = draw(proof, lang, streak_of(account))
            name = f"card-{account}-{month}-{lang}.{kind}"
            return Response(
                body,
                media_type=media,
                headers={"Content-Disposition": f'inline; filename="{name}"'},
            )

        return card_image

    _image("pdf", "A household's monthly card, PDF")
    _image("png", "A household's monthly card, PNG")
    return r
