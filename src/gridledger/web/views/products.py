"""Web view: product passports and scanning a part (see :mod:`gridledger.web`).

* ``/products``: what is made on the ledger: each product type (GTIN, maker, CN code) with
  its batches (lot, site, status, quantity) and their footprints per kg by both scope 2
  methods, each batch linked to its passport; and the way to check a part.
* ``/products/{gtin}/batches/{lot}``: a batch's carbon passport: the product, its maker and
  site, the production period, the cradle-to-gate footprint per kg and for the batch by both
  scope 2 methods, what it is made of (each input batch linked to its own passport, with the
  share carried over and its data quality), inputs at default values, who holds how much,
  the batch's GS1 Digital Link as a QR code, and its documents: the PDF, the PACT JSON and
  the proof file to check offline.
* ``/products/scan``: what a scanned part is: a GS1 Digital Link (or GTIN and serial) and,
  optionally, the organisation that has it in hand; the verdict (genuine, recalled,
  suspicious and why), its origin and its whole custody chain, judged at the last block by
  the contract's rule (:func:`gridledger.contracts.products.authenticate`).

Emissions are shown in kg with three decimals (the contract's grams exactly) and per kg of
product with six.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gridledger.api.context import ApiContext
from gridledger.contracts import products, registry
from gridledger.contracts.products import gs1
from gridledger.documents.passport import per_kg
from gridledger.documents.qr import qr_code
from gridledger.web.render import render
from gridledger.web.views.carbon import kg
from gridledger.web.views.market import not_found

NAV = "products"
TYPES_SHOWN = 100
BATCHES_SHOWN = 100
"""The index shows at most this many product types, and this many batches of each."""


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    r = APIRouter(include_in_schema=False)

    @r.get("/products", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        """Product types, their batches and footprints, linked to the passports."""
        view = node.state.view
        page = products.list_types(view, limit=TYPES_SHOWN)
        types: list[dict[str, Any]] = []
        more = page.next is not None
        for product in page.items:
            found = products.list_batches(view, product.gtin, limit=BATCHES_SHOWN)
            more = more or found.next is not None
            maker = registry.get_organisation(view, product.org)
            batches = [
                {"batch": b, "fp": products.get_footprint(view, product.gtin, b.lot)}
                for b in found.items
            ]
            types.append({"product": product, "maker": maker, "batches": batches})
        return render(
            request, node, "products/index.html", NAV,
            types=types, more=more, kg=kg, per_kg=per_kg,
        )  # fmt: skip

    @r.get("/products/scan", response_class=HTMLResponse)
    def scan(request: Request, link: str = "", gtin: str = "", serial: str = "",
             seen_at: str = "") -> HTMLResponse:  # fmt: skip
        """Is a scanned part genuine? With its origin and custody chain."""
        error = None
        found = None
        if link:
            try:
                gtin, _lot, scanned = gs1.parse_digital_link(link.strip())
                serial = scanned or ""
            except ValueError:
                error = "products.scan.bad_link"
        if error is None and (gtin or serial):
            if not (gs1.valid_gtin(gtin) and gs1.valid_part(serial)):
                error = "products.scan.bad_input"
            else:
                gtin = gs1.gtin14(gtin)
                seen = seen_at if registry.ID_RE.match(seen_at) else None
                found = products.authenticate(node.state.view, gtin, serial,
                                              node.tip.time // 1000, seen)  # fmt: skip
        return render(
            request, node, "products/scan.html", NAV,
            status_code=400 if error else 200, link=link, gtin=gtin, serial=serial,
            seen_at=seen_at, error=error, found=found,
        )  # fmt: skip

    @r.get("/products/{gtin}/batches/{lot}", response_class=HTMLResponse)
    def passport(request: Request, gtin: str, lot: str) -> HTMLResponse:
        """A batch's carbon passport."""
        view = node.state.view
        if not (len(gtin) == 14 and gs1.valid_gtin(gtin) and gs1.valid_part(lot)):
            return not_found(request, node, NAV, f"{gtin}/{lot}")
        custody = products.batch_custody(view, gtin, lot)
        product = products.get_type(view, gtin)
        if custody is None or product is None:
            return not_found(request, node, NAV, f"{gtin}/{lot}")
        fp = products.get_footprint(view, gtin, lot)
        maker = registry.get_organisation(view, product.org)
        site = registry.get_site(view, custody.batch.site)
        link = gs1.digital_link(gtin, lot)
        inputs: list[dict[str, Any]] = []
        if fp is not None:
            for share in fp.inputs:
                ptype = products.get_type(view, share.gtin)
                inputs.append({
                    "share": share, "name": ptype.name if ptype else share.gtin,
                    "maker": ptype.org if ptype else "",
                    "kg": kg(share.direct_g + share.indirect_market_g),
                    "kg_location": kg(share.direct_g + share.indirect_location_g),
                })  # fmt: skip
        return render(
            request, node, "products/passport.html", NAV,
            gtin=gtin, lot=lot, product=product, batch=custody.batch, custody=custody, fp=fp,
            maker=maker, site=site, link=link, qr=qr_code(link).svg(scale=3), kg=kg,
            per_kg=per_kg, inputs=inputs,
        )  # fmt: skip

    return r
