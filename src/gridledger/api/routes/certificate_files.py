"""Certificates as documents: a bundle's proof file, its PDF certificate and its QR code.

* ``GET /v1/certificates/{id}/proof``: the ``gridledger/certificate-proof/v1`` file of the
  bundle at the tip (``docs/formats.md``), what ``gridledger cert verify`` and the explorer's
  Verify page check with the consortium keys alone;
* ``GET /v1/certificates/{id}/pdf?lang=en|zh``: the printable certificate of that file;
* ``GET /v1/certificates/{id}/qr``: the payload its QR code carries, with the code as SVG.

An id is ``<device>:<range_start>``; one that is not is refused (400, ``api.invalid_request``),
an unknown one is 404 (``not_found``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from gridledger.api.context import ApiContext
from gridledger.api.errors import InvalidRequest
from gridledger.api.render import JSONBytes
from gridledger.api.schemas import ERROR_RESPONSES
from gridledger.documents.pdf import render_pdf
from gridledger.documents.proofs import certificate_proof
from gridledger.documents.qr import qr_code
from gridledger.sdk.certificate_proofs import (
    CertificateProofError,
    QrPayload,
    qr_payload_of,
)
from gridledger.state.store import StoreCorrupt

BUNDLE_ID = r"^[a-z0-9][a-z0-9._-]{0,63}:(0|[1-9][0-9]{0,18})$"

BundleId = Annotated[
    str,
    Path(
        pattern=BUNDLE_ID,
        max_length=84,
        description="A certificate bundle's id, `<device>:<range_start>` (e.g. `pv-a:1`).",
    ),
]


class CertificateQr(BaseModel):
    """A certificate's QR code: its payload (``docs/formats.md``, "The QR payload") and the
    symbol."""

    bundle_id: str
    payload: str = Field(description="The text the QR code carries (`GLC1:...`).")
    characters: int = Field(description="Characters in the payload.")
    qr_version: int = Field(description="QR version: the symbol is 17 + 4 x version modules.")
    qr_error: str = Field(description="Error correction level (M or better).")
    modules: int = Field(description="Modules across the symbol, without its quiet zone.")
    height: int = Field(description="The block the payload's signature is of.")
    svg: str = Field(description="The symbol as an SVG document.")


def _proof(ctx: ApiContext, bundle_id: str) -> dict[str, Any]:
    try:
        return certificate_proof(ctx.node, bundle_id)
    except CertificateProofError as exc:
        raise InvalidRequest(f"path.bundle_id: {exc.message}") from None


def _payload(proof: dict[str, Any]) -> QrPayload:
    try:
        return qr_payload_of(proof)
    except CertificateProofError as exc:
        # the node's own records do not hold together: the store is damaged
        raise StoreCorrupt(f"certificate {proof['bundle_id']}: {exc.message}") from None


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["certificates"])

    @r.get(
        "/certificates/{bundle_id}/proof",
        responses=ERROR_RESPONSES,
        summary="A certificate's proof file",
    )
    def certificate_proof_file(bundle_id: BundleId) -> Response:
        """The certificate proof file (``gridledger/certificate-proof/v1``) of the bundle at
        the tip: the bundle and device records with their state proofs, the block header,
        hash and signature, the attestations and ``final``.

        Check it without a node: ``gridledger cert verify FILE --keys KEYS.json``, the
        explorer's Verify page, or ``gridledger.sdk.certificate_proofs``.
        """
        return JSONBytes(_proof(ctx, bundle_id))

    @r.get(
        "/certificates/{bundle_id}/pdf",
        response_class=Response,
        responses={
            200: {
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                "description": "The certificate as a one-page PDF.",
            },
            **ERROR_RESPONSES,
        },
        summary="A certificate as PDF",
    )
    def certificate_pdf(
        bundle_id: BundleId,
        lang: Annotated[
            Literal["en", "zh"], Query(description="English (en) or Chinese (zh).")
        ] = "en",
    ) -> Response:
        """The printable certificate of the bundle's proof file at the tip, in English or
        Chinese, with its QR code, its dates and hours in the chain's time zone (named, UTC
        beside them). The proof file is the evidence; the page renders it."""
        proof = _proof(ctx, bundle_id)
        _payload(proof)
        name = bundle_id.replace(":", "-")
        return Response(
            render_pdf(proof, lang, ctx.local),
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="certificate-{name}-{lang}.pdf"'},
        )

    @r.get(
        "/certificates/{bundle_id}/qr",
        response_model=CertificateQr,
        responses=ERROR_RESPONSES,
        summary="A certificate's QR payload",
    )
    def certificate_qr(bundle_id: BundleId) -> Response:
        """The payload a certificate's QR code carries, made from its proof file at the tip,
        and the code as SVG. Alone the payload proves that the named organisation signed the
        block hash it carries; its certificate fields are claims its proof file checks."""
        proof = _proof(ctx, bundle_id)
        payload = _payload(proof)
        code = qr_code(payload)
        return JSONBytes(
            {
                "bundle_id": bundle_id,
                "payload": code.text,
                "characters": len(code.text),
                "qr_version": code.version,
                "qr_error": code.error,
                "modules": code.modules,
                "height": payload.height,
                "svg": code.svg(),
            }
        )

    return r
