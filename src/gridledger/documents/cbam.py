"""The CBAM embedded-emissions report of an installation (Regulation (EU) 2023/956, its
implementing Regulation (EU) 2023/1773): per goods category (CN code), the specific embedded
emissions of the batches completed in a period, direct and indirect, precursors included,
as JSON (:func:`cbam_report`) and PDF (:func:`render_cbam_pdf`).

Rules (also in ``docs/products.md``):

* the installation is a registered site; its goods are the batches made there, completed in
  ``[start_s, end_s)``, that have a footprint, grouped by their product type's CN code (types
  without one are left out and counted in ``uncategorised_batches``);
* **direct** embedded emissions of a category = the sum of its batches' ``direct_g`` (own
  scope 1, the precursors' direct shares and default inputs' direct values); **indirect** =
  the sum of ``indirect_location_g`` (electricity at the grid-average factor, as CBAM's
  default rule for grid electricity, precursors included);
* **specific** embedded emissions (SEE) = emissions / mass of the goods: grams per gram is
  tonnes per tonne, given as a decimal string with six places (half even) and the integers
  it is computed from;
* precursors: every input batch the goods consumed, by GTIN, with its mass and the direct
  and indirect emissions carried over.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from gridledger.contracts import products, registry
from gridledger.core.errors import NotFound
from gridledger.state.state import StateReader

CBAM_FORMAT = "gridledger/cbam-report/v1"
PAGE = 1000


def _per(num: int, den: int) -> str:
    if den <= 0:
        return "0"
    value = (Decimal(num) / Decimal(den)).quantize(Decimal("0.000001"), ROUND_HALF_EVEN)
    return format(value, "f")


def _t(grams: int) -> str:
    return format(Decimal(grams) / Decimal(1_000_000), "f")


def cbam_report(view: StateReader, site_id: str, start_s: int, end_s: int,
                as_of: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """The report of the site's goods completed in ``[start_s, end_s)``.

    Raises:
        NotFound: no such site.
    """
    site = registry.get_site(view, site_id)
    if site is None:
        raise NotFound(f"no site {site_id!r}")
    org = registry.get_organisation(view, site.owner_org)
    goods: dict[str, dict[str, Any]] = {}
    uncategorised = 0
    gases: set[str] = set()
    after = None
    while True:
        page = products.list_types(view, after, PAGE, org=site.owner_org)
        for ptype in page.items:
            lots = None
            while True:
                batches = products.list_batches(view, ptype.gtin, lots, PAGE)
                for batch in batches.items:
                    done = batch.completed_s
                    if batch.site != site_id or done is None or not start_s <= done < end_s:
                        continue
                    fp = products.get_footprint(view, batch.gtin, batch.lot)
                    if fp is None:
                        continue
                    if ptype.cn_code is None:
                        uncategorised += 1
                        continue
                    gases.add(fp.gas)
                    _add(view, goods, ptype.cn_code, fp)
                if batches.next is None:
                    break
                lots = batches.next
        if page.next is None:
            break
        after = page.next
    categories = []
    for cn in sorted(goods):
        g = goods[cn]
        precursors = [
            {"gtin": gtin, **p, "direct_t": _t(p["direct_g"]), "indirect_t": _t(p["indirect_g"])}
            for gtin, p in sorted(g.pop("precursors").items())
        ]
        mass, direct, indirect = g["mass_g"], g["direct_g"], g["indirect_g"]
        categories.append({
            "cn_code": cn, **g, "mass_t": _t(mass), "direct_t": _t(direct),
            "indirect_t": _t(indirect), "see_direct_t_per_t": _per(direct, mass),
            "see_indirect_t_per_t": _per(indirect, mass),
            "see_total_t_per_t": _per(direct + indirect, mass),
            "default_share_ppm": g["default_g"] * 1_000_000 // (direct + indirect)
            if direct + indirect else 0,
            "precursors": precursors,
        })  # fmt: skip
    return {
        "format": CBAM_FORMAT,
        "installation": {
            "site": site.id,
            "name": site.name,
            "country": site.country,
            "grid_region": site.grid_region,
            "operator": site.owner_org,
            "operator_name": None if org is None else org.name,
        },
        "period": {"start_s": start_s, "end_s": end_s},
        "gas": sorted(gases),
        "goods": categories,
        "uncategorised_batches": uncategorised,
        "as_of": as_of,
        "methodology": [
            "Direct: scope 1 of the installation over each batch's production period (verified "
            "activity data), plus the precursors' direct embedded emissions by mass or units.",
            "Indirect: the installation's metered electricity at the grid-average emission "
            "factor in force, plus the precursors' indirect embedded emissions.",
            "Specific embedded emissions: emissions / mass of the goods, t per t.",
        ],
    }


def _add(view: StateReader, goods: dict[str, dict[str, Any]], cn: str,
         fp: products.Footprint) -> None:  # fmt: skip
    g = goods.setdefault(cn, {"gtins": [], "lots": [], "batches": 0, "mass_g": 0,
                              "direct_g": 0, "indirect_g": 0, "default_g": 0,
                              "precursors": {}})  # fmt: skip
    if fp.gtin not in g["gtins"]:
        g["gtins"] = sorted([*g["gtins"], fp.gtin])
    g["lots"] = sorted([*g["lots"], f"{fp.gtin}/{fp.lot}"])
    g["batches"] += 1
    g["mass_g"] += fp.mass_g
    g["direct_g"] += fp.direct_g
    g["indirect_g"] += fp.indirect_location_g
    g["default_g"] += fp.default_g
    for share in fp.inputs:
        ptype = products.get_type(view, share.gtin)
        unit_g = 1 if ptype is None else ptype.unit_mass_g
        p = g["precursors"].setdefault(share.gtin, {
            "cn_code": None if ptype is None else ptype.cn_code, "lots": [], "mass_g": 0,
            "direct_g": 0, "indirect_g": 0})  # fmt: skip
        p["lots"] = sorted({*p["lots"], share.lot})
        p["mass_g"] += share.consumed * unit_g
        p["direct_g"] += share.direct_g
        p["indirect_g"] += share.indirect_location_g


def render_cbam_pdf(report: dict[str, Any]) -> bytes:
    """The report printed (A4, English, as many pages as needed); the same report gives the
    same bytes."""
    # imported here: only the PDF needs ReportLab
    from reportlab.lib.pagesizes import A4  # noqa: PLC0415
    from reportlab.pdfgen.canvas import Canvas  # noqa: PLC0415

    from gridledger.documents.pdf import _Page  # noqa: PLC0415

    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=1, pageCompression=1)
    inst = report["installation"]
    canvas.setTitle(f"CBAM embedded emissions, {inst['site']}")
    canvas.setCreator("GridLedger")
    as_of = report["as_of"]
    footer = (
        f"Computed from the ledger {as_of.get('chain_id')} at block {as_of.get('height')} "
        f"(state root {as_of.get('state_root')}). Each batch's passport proves its figures."
    )
    page = _Page(canvas, "en", footer)
    page.text(page.value_x - 138, page.y - 14, "CBAM embedded emissions", "Helvetica-Bold", 18)
    page.y -= 34
    page.heading("Installation")
    page.row("Site", None, f"{inst['site']} ({inst['name']})")
    page.row("Operator", None, f"{inst['operator_name'] or ''} ({inst['operator']})")
    page.row("Country, grid", None, f"{inst['country']}, {inst['grid_region']}")
    period = report["period"]
    page.row("Period", None, f"{_utc(period['start_s'])} to {_utc(period['end_s'])} (UTC)")
    page.row("Gas", None, ", ".join(report["gas"]) or "-")
    for goods in report["goods"]:
        page.heading(f"Goods, CN {goods['cn_code']}")
        page.row("Products", None, ", ".join(goods["gtins"]))
        page.row("Batches, mass", None, f"{goods['batches']}, {goods['mass_t']} t")
        page.row("Direct", "SEE", f"{goods['direct_t']} t; {goods['see_direct_t_per_t']} t/t")
        page.row("Indirect", "SEE", f"{goods['indirect_t']} t; {goods['see_indirect_t_per_t']} t/t")
        page.row("Total", "SEE", f"{goods['see_total_t_per_t']} t/t")
        page.row("Default values", None, f"{goods['default_share_ppm'] / 10_000:.2f} %")
        for pre in goods["precursors"]:
            page.row(f"Precursor {pre['gtin']}", pre["cn_code"],
                     f"{pre['mass_g']:,} g; direct {pre['direct_t']} t, "
                     f"indirect {pre['indirect_t']} t")  # fmt: skip
    page.heading("Methodology")
    for line in report["methodology"]:
        page.row("", None, line)
    page.draw_footer()
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _utc(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M")


CBAM_PROOF_FORMAT = "gridledger/cbam-proof/v1"


def cbam_proof(node: Any, site_id: str, start_s: int, end_s: int) -> dict[str, Any]:
    """The report with the proof file of every batch it counts
    (``gridledger/cbam-proof/v1``): :func:`gridledger.sdk.cbam_proofs.verify_cbam_proof`
    checks each with the consortium keys and recomputes the report's figures from them."""
    from gridledger.documents.passport import product_proof  # noqa: PLC0415

    tip = node.tip
    as_of = {"chain_id": tip.chain_id, "height": tip.height, "time_s": tip.time // 1000,
             "state_root": tip.state_root}  # fmt: skip
    report = cbam_report(node.state.view, site_id, start_s, end_s, as_of)
    lots = [lot for goods in report["goods"] for lot in goods["lots"]]
    passports = []
    for name in lots:
        gtin, lot = name.split("/", 1)
        passports.append(product_proof(node, gtin, lot=lot))
    return {"format": CBAM_PROOF_FORMAT, "report": report, "passports": passports}
