"""Product passports: the proof file of a batch or an item, the batch's WBCSD PACT product
footprint, and its printable PDF with a GS1 Digital Link QR code.

* :func:`product_proof` proves, against one block, every record a verifier needs
  (:mod:`gridledger.sdk.product_proofs`): the format is ``gridledger/product-proof/v1``.
* :func:`pact_footprint` renders a verified batch as a PACT (Pathfinder Framework v2)
  ``ProductFootprint`` with ``specVersion`` 2.2.0: the ``pcf`` figures are per declared unit
  (kilogram) and market-based (the Pathfinder's rule for electricity with contractual
  instruments); the location-based figures, data quality, inputs and the proof's block are
  in a ``gridledger`` extension.
* :func:`render_passport_pdf` prints one A4 page from a proof file, checked first.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import msgspec
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from gridledger.contracts.products import gs1
from gridledger.contracts.products import keys as product_keys
from gridledger.contracts.products.records import Batch, Item, ProductType
from gridledger.contracts.registry import keys as registry_keys
from gridledger.core.errors import NodeError, NotFound
from gridledger.documents.pdf import ACCENT, EXPLAINED, MARGIN, QR_SIDE, _Page, wrap
from gridledger.documents.qr import QUIET_ZONE, qr_code
from gridledger.node.node import Node
from gridledger.sdk.product_proofs import (
    PRODUCT_PROOF_FORMAT,
    ProductSummary,
    check_product_records,
    passport_id,
    verify_product_proof,
)
from gridledger.sdk.proofs import KeysLike

PACT_SPEC = "2.2.0"
EXTENSION_SCHEMA = "https://gridledger.org/schemas/passport-extension/v1.json"
MAX_DEPTH = 16


class _Prover:
    """Proves keys against one block of a node."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.height = node.tip.height
        self.records: dict[str, dict[str, Any]] = {}
        self.header: Any = None

    def get(self, key: bytes) -> bytes | None:
        header, value, proof = self.node.prove_state(key, self.height)
        self.header = header
        if value is not None:
            self.records[key.decode()] = {
                "key": key.decode(),
                "value": value.decode("utf-8"),
                "proof": proof.to_json(),
            }
        return value

    def need(self, key: bytes, type_: type[Any], what: str) -> Any:
        value = self.get(key)
        if value is None:
            raise NotFound(f"no {what}")
        return msgspec.json.decode(value, type=type_)

    def file(self, subject: dict[str, str]) -> dict[str, Any]:
        blk = self.node.store.block(self.height)
        if blk is None:
            raise NodeError(f"block {self.height} is not stored; retry")
        return {
            "format": PRODUCT_PROOF_FORMAT,
            "subject": subject,
            "height": self.height,
            "block_hash": blk.hash.hex(),
            "header": msgspec.json.decode(blk.header),
            "signature": blk.signature,
            "final": self.node.block_final(self.height),
            "attestations": [
                msgspec.json.decode(raw) for raw in self.node.store.attestations(self.height)
            ],
            "records": [self.records[k] for k in sorted(self.records)],
        }


def product_proof(node: Node, gtin: str, lot: str | None = None,
                  serial: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The proof file of a batch (``lot``) or an item (``serial``) at the node's tip.

    Raises:
        NotFound: no such product type, batch, footprint or item.
        NodeError: the tip's block is not stored yet (retry).
    """
    p = _Prover(node)
    product = p.need(product_keys.product_type(gtin), ProductType, f"product type {gtin}")
    p.need(registry_keys.organisation(product.org), dict, f"organisation {product.org}")
    if lot is not None:
        batch = p.need(product_keys.batch(gtin, lot), Batch, f"batch {gtin} lot {lot}")
        p.need(registry_keys.site(batch.site), dict, f"site {batch.site}")
        if p.get(product_keys.footprint(gtin, lot)) is None:
            raise NotFound(f"batch {gtin} lot {lot} has no footprint yet")
        return p.file({"gtin": gtin, "lot": lot})
    assert serial is not None
    item = p.need(product_keys.item(gtin, serial), Item, f"item {gtin} serial {serial}")
    for n in range(1, item.events + 1):
        p.get(product_keys.event(gtin, serial, n))
    if item.lot is not None:
        p.get(product_keys.batch(gtin, item.lot))
    at = item
    for _ in range(MAX_DEPTH + 1):
        if at.status != "installed" or at.parent is None:
            break
        p_gtin, p_serial = at.parent.split("/", 1)
        at = p.need(product_keys.item(p_gtin, p_serial), Item, f"item {at.parent}")
    return p.file({"gtin": gtin, "serial": serial})


# PACT -----------------------------------------------------------------------------------------
def _iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def per_kg(grams: int, mass_g: int) -> str:
    """kg of emissions per kg of product (= g per g) as a decimal string, 6 places, half even."""
    if mass_g <= 0:
        return "0"
    value = (Decimal(grams) / Decimal(mass_g)).quantize(Decimal("0.000001"), ROUND_HALF_EVEN)
    return format(value.normalize(), "f") if value else "0"


def pact_footprint(summary: ProductSummary) -> dict[str, Any]:
    """The batch's PACT ``ProductFootprint`` (v2.2 data model) from a verified proof file."""
    fp, product, batch = summary.footprint, summary.product, summary.batch
    if fp is None or batch is None or summary.lot is None:
        raise ValueError("a PACT footprint is of a batch's proof file")
    unit_kg = per_kg(product.unit_mass_g, 1000)
    total = fp.total_market_g
    primary = 100 if total == 0 else (total - fp.default_g) * 100 // total
    link = gs1.digital_link(summary.gtin, summary.lot)
    country = None if summary.site is None else summary.site.country
    return {
        "id": passport_id(summary.chain_id, summary.gtin, summary.lot),
        "specVersion": PACT_SPEC,
        "version": 1,
        "created": _iso(fp.time_s),
        "status": "Active",
        "validityPeriodStart": _iso(fp.time_s),
        "companyName": summary.manufacturer.name,
        "companyIds": [
            f"urn:pathfinder:company:customcode:vendor-assigned:{summary.chain_id}:{fp.org}"
        ],
        "productDescription": f"{product.name}, lot {summary.lot}",
        # PACT wants URNs: the GTIN, and the lot as the maker's own code; the Digital Link
        # (an https URI) goes in the extension
        "productIds": [
            f"urn:gtin:{summary.gtin}",
            f"urn:pathfinder:product:customcode:vendor-assigned:{summary.gtin}.{summary.lot}",
        ],
        "productCategoryCpc": product.cn_code or "",
        "productNameCompany": product.name,
        "comment": (
            f"Cradle-to-gate footprint of batch {summary.lot} ({fp.quantity} {fp.unit}) computed "
            f"on GridLedger from metered electricity, verified scope 1 data and the inputs' "
            f"passports; gas {fp.gas}. Proof: block {summary.height} {summary.block_hash}."
        ),
        "pcf": {
            "declaredUnit": "kilogram",
            "unitaryProductAmount": unit_kg,
            "pCfExcludingBiogenic": per_kg(total, fp.mass_g),
            "pCfIncludingBiogenic": per_kg(total, fp.mass_g),
            "fossilGhgEmissions": per_kg(total, fp.mass_g),
            "fossilCarbonContent": "0",
            "biogenicCarbonContent": "0",
            "characterizationFactors": "AR6",
            "ipccCharacterizationFactorsSources": ["AR6"],
            "crossSectoralStandardsUsed": ["GHG Protocol Product standard", "ISO Standard 14067"],
            "productOrSectorSpecificRules": [],
            "boundaryProcessesDescription": (
                "Cradle to gate: the site's metered electricity over the production period "
                "(market-based: certificates claimed for the site, hour by hour), its verified "
                "scope 1 fuel use, and the allocated footprints of the consumed input batches "
                "(by mass or units); inputs at default values where declared."
            ),
            "referencePeriodStart": _iso(fp.start_s),
            "referencePeriodEnd": _iso(fp.end_s),
            **({"geographyCountry": country} if country else {}),
            "exemptedEmissionsPercent": 0,
            "exemptedEmissionsDescription": "",
            "packagingEmissionsIncluded": False,
            "primaryDataShare": primary,
        },
        "extensions": [
            {
                "specVersion": "2.0.0",
                "dataSchema": EXTENSION_SCHEMA,
                "data": {
                    "gas": fp.gas,
                    "digitalLink": link,
                    "chainId": summary.chain_id,
                    "height": summary.height,
                    "blockHash": summary.block_hash,
                    "final": summary.final,
                    "quantity": fp.quantity,
                    "unit": fp.unit,
                    "massG": fp.mass_g,
                    "totalLocationG": fp.total_location_g,
                    "totalMarketG": fp.total_market_g,
                    "directG": fp.direct_g,
                    "indirectLocationG": fp.indirect_location_g,
                    "indirectMarketG": fp.indirect_market_g,
                    "defaultG": fp.default_g,
                    "pcfLocationBasedPerKg": per_kg(fp.total_location_g, fp.mass_g),
                    "electricity": msgspec.to_builtins(fp.electricity),
                    "direct": msgspec.to_builtins(fp.direct),
                    "inputs": msgspec.to_builtins(fp.inputs),
                    "defaults": msgspec.to_builtins(fp.defaults),
                    "sharePpm": fp.share_ppm,
                },
            }
        ],
    }


def passport(proof: Any, keys: KeysLike | None = None) -> dict[str, Any]:
    """A batch's PACT footprint from its proof file, checked with the keys when given (else
    its records alone, as a node rendering its own file does)."""
    summary = check_product_records(proof) if keys is None else verify_product_proof(proof, keys)
    return pact_footprint(summary)


# PDF ------------------------------------------------------------------------------------------
def _t(grams: int) -> str:
    return f"{Decimal(grams) / Decimal(1_000_000):f} t"


def render_passport_pdf(proof: Any, keys: KeysLike | None = None) -> bytes:
    """The printable passport of a batch's proof file (A4, English), its records checked
    first (and the block's signatures with ``keys`` when given); its QR code is the batch's
    GS1 Digital Link. The same file gives the same bytes."""
    s = check_product_records(proof) if keys is None else verify_product_proof(proof, keys)
    fp, batch = s.footprint, s.batch
    if fp is None or batch is None or s.lot is None:
        raise ValueError("a passport is printed from a batch's proof file")
    link = gs1.digital_link(s.gtin, s.lot)
    code = qr_code(link)
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setTitle(f"Product carbon passport {s.gtin} {s.lot}")
    canvas.setAuthor(s.manufacturer.name)
    canvas.setSubject(f"{s.height}:{s.block_hash}")
    canvas.setCreator("GridLedger")
    footer = (
        f"This page renders a proof file; the file is the evidence. Check it offline with the "
        f"consortium's keys: gridledger products verify <file> --keys <keys file>. "
        f"Block {s.height} {s.block_hash}."
    )
    page = _Page(canvas, "en", footer)
    side = QR_SIDE
    module = side / (code.modules + 2 * QUIET_ZONE)
    left, top = page.width - MARGIN - side + QUIET_ZONE * module, page.height - MARGIN + 10
    canvas.setFillColor(colors.black)
    for row, col, length in code.runs():
        x = left + (QUIET_ZONE + col) * module
        y = top - (QUIET_ZONE + row + 1) * module
        canvas.rect(x, y, length * module, module, stroke=0, fill=1)
    canvas.setFillColor(EXPLAINED)
    for i, line in enumerate(wrap(link, "Helvetica", 6.0, side - 2 * QUIET_ZONE * module)):
        page.text(left + QUIET_ZONE * module, top - side + 2 - 8 * i, line, "Helvetica", 6.0)
    canvas.setFillColor(colors.black)
    page.text(MARGIN, page.y - 14, "Product carbon passport", "Helvetica-Bold", 19)
    page.y -= 29
    canvas.setFillColor(EXPLAINED)
    page.text(MARGIN, page.y, "ISO 14067 / GHG Protocol Product Standard, cradle to gate",
              "Helvetica", 9)  # fmt: skip
    canvas.setFillColor(colors.black)
    page.y -= 24
    headline = f"{s.product.name}, lot {s.lot}: {fp.quantity} {fp.unit}"
    for line in wrap(headline, "Helvetica-Bold", 13, left - MARGIN - 6):
        page.text(MARGIN, page.y, line, "Helvetica-Bold", 13)
        page.y -= 16
    canvas.setFillColor(ACCENT)
    page.text(MARGIN, page.y, f"{per_kg(fp.total_market_g, fp.mass_g)} kg {fp.gas} per kg "
              f"(market-based)", "Helvetica", 10)  # fmt: skip
    canvas.setFillColor(colors.black)
    page.y = min(page.y - 4, top - side - 16)
    page.heading("Product")
    page.row("GTIN", "productIds", s.gtin)
    page.row("Manufacturer", "companyName", f"{s.manufacturer.name} ({s.manufacturer.id})")
    page.row("Site", None, f"{batch.site}" + ("" if s.site is None else f", {s.site.grid_region}"))
    page.row("Production", "referencePeriod", f"{_iso(fp.start_s)} to {_iso(fp.end_s)}")
    page.row("Mass", None, f"{fp.mass_g:,} g")
    if batch.recalled:
        page.row("Recalled", None, batch.recall_reason or "yes")
    page.heading("Footprint of the batch")
    page.row("Total, market-based", "pCfExcludingBiogenic", _t(fp.total_market_g))
    page.row("Total, location-based", None, _t(fp.total_location_g))
    page.row("Direct (precursors incl.)", None, _t(fp.direct_g))
    page.row("Indirect, market-based", None, _t(fp.indirect_market_g))
    e = fp.electricity
    page.row("Electricity", None, f"{e.allocated_wh:,} Wh of {e.consumption_wh:,} Wh metered; "
             f"{e.covered_wh:,} Wh covered by certificates (measured)")  # fmt: skip
    page.row("Own direct", None, f"{_t(fp.direct.g)} from {len(fp.direct.activities)} verified "
             f"activity records (measured)")  # fmt: skip
    for share in fp.inputs:
        page.row(f"Input {share.gtin}", share.lot,
                 f"{share.consumed} of {share.input_quantity} {share.unit} ({share.basis}): "
                 f"{_t(share.direct_g + share.indirect_market_g)} ({share.quality})")  # fmt: skip
    for d in fp.defaults:
        page.row(f"Default {d.id}", None, f"{d.description}: {_t(d.direct_g + d.indirect_g)} "
                 f"(default, {d.source})")  # fmt: skip
    page.row("From default values", "primaryDataShare", _t(fp.default_g))
    page.heading("Proof")
    page.row("Chain", None, s.chain_id)
    page.row("Block", None, f"{s.height}, {'final' if s.final else 'not final'}")
    page.row("Block hash", None, s.block_hash, mono=True)
    page.draw_footer()
    canvas.showPage()
    canvas.save()
    return out.getvalue()
