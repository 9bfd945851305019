"""Traceable products: product types, batches with their custody and footprints, serialised
items with their custody chain, passports, proof files and authenticity checks.

Everything is read from the committed state through the ``products`` contract's queries;
every action is a transaction (``POST /v1/txs``, kinds ``products.*``). The rules are in
``docs/products.md``. GTINs are 14 digits, lots and serials 1-20 of ``A-Z a-z 0-9 . _ -``;
emissions in grams, masses in grams, times Unix seconds UTC. An unknown product type, batch,
footprint or item is ``404 not_found``.
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
from gridledger.contracts import products, registry
from gridledger.contracts.products import gs1
from gridledger.core.errors import NotFound
from gridledger.documents.cbam import cbam_proof, cbam_report, render_cbam_pdf
from gridledger.documents.passport import passport, product_proof, render_passport_pdf

GTIN = r"^[0-9]{14}$"
PART = r"^[A-Za-z0-9._-]{1,20}$"
ID = registry.ID_RE.pattern
MAX_PAGE = 1000
MAX_TIME = 2**62

Gtin = Annotated[str, Path(pattern=GTIN, description="The GTIN, 14 digits.")]
Lot = Annotated[str, Path(pattern=PART, description="The batch/lot number.")]
Serial = Annotated[str, Path(pattern=PART, description="The serial number.")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


TypeModel = model_of(products.ProductType)
BatchModel = model_of(products.Batch, "ProductBatch")
FootprintModel = model_of(products.Footprint, "ProductFootprint")
ItemModel = model_of(products.Item, "ProductItem")
CustodyModel = model_of(products.BatchCustody)
EventModel = model_of(products.CustodyEvent)
AuthenticityModel = model_of(products.Authenticity)


class TypeList(_Strict):
    types: list[TypeModel] = Field(description="By GTIN.")  # type: ignore[valid-type]
    next: str | None = Field(description="The `after` of the next page; null after the last.")


class BatchList(_Strict):
    batches: list[BatchModel] = Field(description="By lot.")  # type: ignore[valid-type]
    next: str | None = Field(description="The `after` of the next page; null after the last.")


class BatchView(_Strict):
    custody: CustodyModel  # type: ignore[valid-type]
    footprint: FootprintModel | None = Field(  # type: ignore[valid-type]
        description="Its footprint; null until recorded."
    )
    digital_link: str = Field(description="The batch's GS1 Digital Link URI.")


class ItemList(_Strict):
    items: list[ItemModel] = Field(description="By serial.")  # type: ignore[valid-type]
    next: str | None = Field(description="The `after` of the next page; null after the last.")


class ItemView(_Strict):
    item: ItemModel  # type: ignore[valid-type]
    events: list[EventModel] = Field(description="Its custody chain.")  # type: ignore[valid-type]
    digital_link: str = Field(description="The item's GS1 Digital Link URI.")


def _pdf_response(description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            "description": description,
        },
        **ERROR_RESPONSES,
    }


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    r = APIRouter(prefix="/v1/products", tags=["products"])

    def _batch(gtin: str, lot: str) -> products.Batch:
        found = products.get_batch(node.state.view, gtin, lot)
        if found is None:
            raise NotFound(f"no batch {gtin} lot {lot}")
        return found

    @r.get("/types", response_model=TypeList, responses=ERROR_RESPONSES, summary="Product types")
    def list_types(
        org: Annotated[str | None, Query(pattern=ID, description="Only this maker's.")] = None,
        after: Annotated[str | None, Query(pattern=GTIN, description="After this GTIN.")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many.")] = 100,
    ) -> Response:
        """Registered product types, by GTIN: name, manufacturer, unit, mass per unit, CN code."""
        page = products.list_types(node.state.view, after, limit, org)
        return JSONBytes({"types": page.items, "next": page.next})

    @r.get("/verify", response_model=AuthenticityModel, responses=ERROR_RESPONSES,
           summary="Is a scanned item genuine?")  # fmt: skip
    def verify(
        gtin: Annotated[str | None, Query(pattern=GTIN, description="The GTIN scanned.")] = None,
        serial: Annotated[
            str | None, Query(pattern=PART, description="The serial scanned.")
        ] = None,
        link: Annotated[
            str | None,
            Query(max_length=512, description="A scanned GS1 Digital Link URI, instead."),
        ] = None,
        seen_at: Annotated[
            str | None, Query(pattern=ID, description="The organisation that has it in hand.")
        ] = None,
    ) -> Response:
        """Whether a scanned item is genuine, recalled or suspicious (unknown serial, a serial
        at two holders, a custody gap, a scrapped serial), with its origin and custody chain,
        at the latest block. Give ``gtin`` and ``serial``, or the ``link`` the QR code holds."""
        if link is not None:
            try:
                gtin, _lot, serial = gs1.parse_digital_link(link)
            except ValueError as exc:
                raise InvalidRequest(f"query.link: {exc}") from None
        if gtin is None or serial is None:
            raise InvalidRequest("give gtin and serial, or a Digital Link with /21/<serial>")
        now = node.tip.time // 1000
        return JSONBytes(products.authenticate(node.state.view, gtin, serial, now, seen_at))

    @r.get("/cbam", responses={
        200: {"content": {"application/json": {}, "application/pdf": {
            "schema": {"type": "string", "format": "binary"}}},
              "description": "The report, JSON or PDF."},
        **ERROR_RESPONSES}, summary="CBAM embedded-emissions report")  # fmt: skip
    def cbam(
        site: Annotated[str, Query(pattern=ID, description="The installation (a site).")],
        start: Annotated[int, Query(ge=0, le=MAX_TIME, description="Period start, Unix s.")],
        end: Annotated[int, Query(ge=0, le=MAX_TIME, description="Period end, Unix s.")],
        format: Annotated[Literal["json", "pdf"], Query(description="json or pdf.")] = "json",
    ) -> Response:
        """The installation's goods completed in ``[start, end)`` by CN code: direct and
        indirect specific embedded emissions (t per t), precursors included
        (``gridledger/cbam-report/v1``, ``docs/products.md``), as JSON or PDF."""
        if end <= start:
            raise InvalidRequest("query.end: after start")
        tip = node.tip
        as_of = {"chain_id": tip.chain_id, "height": tip.height, "time_s": tip.time // 1000,
                 "state_root": tip.state_root}  # fmt: skip
        report = cbam_report(node.state.view, site, start, end, as_of)
        if format == "pdf":
            return Response(render_cbam_pdf(report), media_type="application/pdf")
        return JSONBytes(report)

    @r.get("/cbam/proof", responses=ERROR_RESPONSES, summary="CBAM report with its proofs")
    def cbam_proof_file(
        site: Annotated[str, Query(pattern=ID, description="The installation (a site).")],
        start: Annotated[int, Query(ge=0, le=MAX_TIME, description="Period start, Unix s.")],
        end: Annotated[int, Query(ge=0, le=MAX_TIME, description="Period end, Unix s.")],
    ) -> Response:
        """The CBAM report with the proof file of every batch it counts
        (``gridledger/cbam-proof/v1``): check it offline with ``gridledger products verify``
        or ``gridledger.sdk.cbam_proofs``."""
        if end <= start:
            raise InvalidRequest("query.end: after start")
        return JSONBytes(cbam_proof(node, site, start, end))

    @r.get("/{gtin}", response_model=TypeModel, responses=ERROR_RESPONSES,
           summary="A product type")  # fmt: skip
    def get_type(gtin: Gtin) -> Response:
        """One product type by its GTIN."""
        found = products.get_type(node.state.view, gtin)
        if found is None:
            raise NotFound(f"no product type {gtin}")
        return JSONBytes(found)

    @r.get("/{gtin}/batches", response_model=BatchList, responses=ERROR_RESPONSES,
           summary="A product's batches")  # fmt: skip
    def list_batches(
        gtin: Gtin,
        after: Annotated[str | None, Query(pattern=PART, description="After this lot.")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many.")] = 100,
    ) -> Response:
        """The product's batches, by lot."""
        page = products.list_batches(node.state.view, gtin, after, limit)
        return JSONBytes({"batches": page.items, "next": page.next})

    @r.get("/{gtin}/batches/{lot}", response_model=BatchView, responses=ERROR_RESPONSES,
           summary="A batch")  # fmt: skip
    def get_batch(gtin: Gtin, lot: Lot) -> Response:
        """A batch: who holds how much, its shipments, its bill of materials, the batches it
        went into, and its footprint."""
        view = node.state.view
        custody = products.batch_custody(view, gtin, lot)
        if custody is None:
            raise NotFound(f"no batch {gtin} lot {lot}")
        return JSONBytes({"custody": custody, "footprint": products.get_footprint(view, gtin, lot),
                          "digital_link": gs1.digital_link(gtin, lot)})  # fmt: skip

    @r.get("/{gtin}/batches/{lot}/proof", responses=ERROR_RESPONSES,
           summary="A batch's proof file")  # fmt: skip
    def batch_proof(gtin: Gtin, lot: Lot) -> Response:
        """The ``gridledger/product-proof/v1`` file of the batch at the tip: its product type,
        maker, site, batch and footprint records with their state proofs and the block's
        header, signature and attestations. Check it offline: ``gridledger products verify``."""
        _batch(gtin, lot)
        return JSONBytes(product_proof(node, gtin, lot=lot))

    @r.get("/{gtin}/batches/{lot}/passport", responses=ERROR_RESPONSES,
           summary="A batch's carbon passport (PACT)")  # fmt: skip
    def batch_passport(gtin: Gtin, lot: Lot) -> Response:
        """The batch's product carbon footprint in the WBCSD PACT (Pathfinder) v2.2
        ``ProductFootprint`` data model, rendered from its proof file at the tip."""
        _batch(gtin, lot)
        return JSONBytes(passport(product_proof(node, gtin, lot=lot)))

    @r.get("/{gtin}/batches/{lot}/pdf", response_class=Response,
           responses=_pdf_response("The passport as a PDF."),
           summary="A batch's passport PDF")  # fmt: skip
    def batch_pdf(gtin: Gtin, lot: Lot) -> Response:
        """The printable passport of the batch's proof file at the tip, with its GS1 Digital
        Link QR code."""
        _batch(gtin, lot)
        return Response(
            render_passport_pdf(product_proof(node, gtin, lot=lot)),
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="passport-{gtin}-{lot}.pdf"'},
        )

    @r.get("/{gtin}/items", response_model=ItemList, responses=ERROR_RESPONSES,
           summary="A product's serialised items")  # fmt: skip
    def list_items(
        gtin: Gtin,
        after: Annotated[str | None, Query(pattern=PART, description="After this serial.")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many.")] = 100,
    ) -> Response:
        """The product's serialised items, by serial."""
        page = products.list_items(node.state.view, gtin, after, limit)
        return JSONBytes({"items": page.items, "next": page.next})

    @r.get("/{gtin}/items/{serial}", response_model=ItemView, responses=ERROR_RESPONSES,
           summary="A serialised item")  # fmt: skip
    def get_item(gtin: Gtin, serial: Serial) -> Response:
        """An item and its custody chain."""
        view = node.state.view
        found = products.get_item(view, gtin, serial)
        if found is None:
            raise NotFound(f"no item {gtin} serial {serial}")
        return JSONBytes({"item": found, "events": products.events_of(view, gtin, serial),
                          "digital_link": gs1.digital_link(gtin, serial=serial)})  # fmt: skip

    @r.get("/{gtin}/items/{serial}/proof", responses=ERROR_RESPONSES,
           summary="An item's proof file")  # fmt: skip
    def item_proof(gtin: Gtin, serial: Serial) -> Response:
        """The ``gridledger/product-proof/v1`` file of the item at the tip: the item, every
        custody event, its batch and the items it is installed in, with their state proofs;
        a verifier judges genuine / recalled / suspicious from it offline."""
        if products.get_item(node.state.view, gtin, serial) is None:
            raise NotFound(f"no item {gtin} serial {serial}")
        return JSONBytes(product_proof(node, gtin, serial=serial))

    return r
