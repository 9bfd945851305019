"""The printable carbon-neutrality claim: A4 pages in English or Chinese, drawn with ReportLab
like the certificate (:mod:`gridledger.documents.pdf`), with a QR code pointing at its proof
file.

The page is a rendering, not evidence: the proof file is. Its records are checked (shape,
header hash, state proofs, figures; not the signatures, which need the keys) before anything
is printed, so a file that does not hold renders nothing.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4 as PAGE
from reportlab.pdfgen.canvas import Canvas

from gridledger.documents.pdf import (  # the certificate's page layout
    ACCENT,
    EXPLAINED,
    LANGS,
    MARGIN,
    QR_SIDE,
    Lang,
    _bold,
    _number,
    _Page,
    _utc,
    wrap,
)
from gridledger.documents.qr import QUIET_ZONE, qr_code
from gridledger.sdk.claim_proofs import check_claim_records, qr_text

TEXTS: dict[Lang, dict[str, str]] = {
    "en": {
        "title": "Carbon Neutrality Claim",
        "subtitle": "ISO 14068-1 · claim {id}",
        "headline": "{subject} ({type}) is carbon neutral",
        "period": "for {start} – {end} UTC",
        "status": "Status at block {height}: {status}",
        "section_claim": "Claim",
        "section_inventory": "Greenhouse-gas inventory ({gas})",
        "section_retirements": "Retired credits covering the residual emissions",
        "section_statement": "Verifier's statement",
        "section_ledger": "Ledger evidence",
        "claimant": "Claimant",
        "boundary": "Boundary",
        "sites": "Sites",
        "baseline": "Baseline",
        "plan": "Management plan",
        "reduction": "Reduction against baseline",
        "scope1": "Scope 1 (confirmed)",
        "scope2_location": "Scope 2, location-based",
        "scope2_market": "Scope 2, market-based",
        "scope3": "Scope 3 (declared)",
        "residual": "Residual emissions",
        "required": "Credits required",
        "retired": "Credits retired",
        "retirement": "Retirement {n}",
        "verifier": "Verifier",
        "opinion": "Opinion",
        "statement": "Statement",
        "none": "no statement yet",
        "chain": "Chain",
        "height": "Block",
        "block_hash": "Block hash",
        "state_root": "State root",
        "proposer": "Block signed by",
        "qr_caption": "QR: where to fetch this claim's proof file (block {height}).",
        "footer": "This page renders proof file gridledger/claim-proof/v1 of claim {id} at "
        "block {height}. It is evidence only with that file: check it with the consortium keys "
        "(gridledger carbon claim verify FILE --keys KEYS.json). Formats: docs/formats.md.",
        "grams": "{g} g ({t} t)",
        "tonnes": "{t} t",
    },
    "zh": {
        "title": "碳中和声明",
        "subtitle": "ISO 14068-1 · 声明 {id}",
        "headline": "{subject}（{type}）实现碳中和",
        "period": "期间 {start} 至 {end} UTC",
        "status": "区块 {height} 时的状态：{status}",
        "section_claim": "声明",
        "section_inventory": "温室气体清单（{gas}）",
        "section_retirements": "抵消剩余排放的已注销碳信用",
        "section_statement": "核查机构声明",
        "section_ledger": "账本证据",
        "claimant": "声明方",
        "boundary": "边界",
        "sites": "站点",
        "baseline": "基准",
        "plan": "碳中和管理计划",
        "reduction": "相对基准的减排量",
        "scope1": "范围一（已核证）",
        "scope2_location": "范围二（基于位置）",
        "scope2_market": "范围二（基于市场）",
        "scope3": "范围三（自行申报）",
        "residual": "剩余排放",
        "required": "所需碳信用",
        "retired": "已注销碳信用",
        "retirement": "注销 {n}",
        "verifier": "核查机构",
        "opinion": "意见",
        "statement": "声明",
        "none": "尚无核查声明",
        "chain": "链",
        "height": "区块",
        "block_hash": "区块哈希",
        "state_root": "状态根",
        "proposer": "区块签名方",
        "qr_caption": "二维码：获取本声明证明文件之处（区块 {height}）。",
        "footer": "本页呈现声明 {id} 在区块 {height} 的证明文件 gridledger/claim-proof/v1，"
        "须与该文件一并方为证据：请用联盟公钥核验（gridledger carbon claim verify FILE --keys "
        "KEYS.json）。格式见 docs/formats.md。",
        "grams": "{g} 克（{t} 吨）",
        "tonnes": "{t} 吨",
    },
}
STATUS_NAMES: dict[Lang, dict[str, str]] = {
    "en": {"made": "made", "verified": "verified", "withdrawn": "withdrawn"},
    "zh": {"made": "已声明", "verified": "已核查", "withdrawn": "已撤回"},
}
TYPE_NAMES: dict[Lang, dict[str, str]] = {
    "en": {"organisation": "organisation", "site": "site", "product": "product",
           "event": "event"},
    "zh": {"organisation": "组织", "site": "站点", "product": "产品", "event": "活动"},
}  # fmt: skip


def _grams(t: Mapping[str, str], g: int) -> str:
    tonnes = f"{g // 1_000_000:,}.{g % 1_000_000:06d}" if g >= 0 else f"-{-g / 1e6:,.6f}"
    return t["grams"].format(g=_number(g), t=tonnes)


def render_claim_pdf(proof: Mapping[str, Any], lang: Lang = "en") -> bytes:
    """The PDF of a claim proof file.

    Raises:
        ClaimProofError: the file's records do not hold.
        ValueError: an unknown language.
    """
    if lang not in LANGS:
        raise ValueError(f"language {lang!r}: en or zh")
    records = check_claim_records(proof)
    claim, header = records.claim, records.header
    t = TEXTS[lang]
    code = qr_code(qr_text(proof))
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=PAGE, invariant=1, pageCompression=1)
    canvas.setTitle(f"{t['title']} {claim['id']}")
    canvas.setAuthor(str(claim["org"]))
    canvas.setSubject(f"{claim['id']} @ {records.height}:{records.block_hash}")
    canvas.setCreator("GridLedger")
    page = _Page(canvas, lang, t["footer"].format(id=claim["id"], height=records.height))

    side = QR_SIDE
    module = side / (code.modules + 2 * QUIET_ZONE)
    left, top = page.width - MARGIN - side + QUIET_ZONE * module, page.height - MARGIN + 10
    canvas.setFillColor(colors.black)
    for row, col, length in code.runs():
        x = left + (QUIET_ZONE + col) * module
        y = top - (QUIET_ZONE + row + 1) * module
        canvas.rect(x, y, length * module, module, stroke=0, fill=1)
    canvas.setFillColor(EXPLAINED)
    caption_w = side - 2 * QUIET_ZONE * module
    for i, line in enumerate(wrap(t["qr_caption"].format(height=records.height), page.font,
                                  6.4, caption_w)):  # fmt: skip
        page.text(left + QUIET_ZONE * module, top - side + 2 - 8 * i, line, page.font, 6.4)
    canvas.setFillColor(colors.black)

    head_w = left - MARGIN - 6
    page.text(MARGIN, page.y - 14, t["title"], _bold(lang), 19)
    page.y -= 29
    canvas.setFillColor(EXPLAINED)
    page.text(MARGIN, page.y, t["subtitle"].format(id=claim["id"]), page.font, 9)
    canvas.setFillColor(colors.black)
    page.y -= 24
    subject = claim["subject"]
    kind = TYPE_NAMES[lang].get(subject["type"], subject["type"])
    headline = t["headline"].format(subject=subject["name"], type=kind)
    for line in wrap(headline, _bold(lang), 13, head_w):
        page.text(MARGIN, page.y, line, _bold(lang), 13)
        page.y -= 16
    period = t["period"].format(start=_utc(int(claim["start_s"])), end=_utc(int(claim["end_s"])))
    page.text(MARGIN, page.y, period, page.font, 10)
    page.y -= 15
    status = STATUS_NAMES[lang].get(str(claim["status"]), str(claim["status"]))
    canvas.setFillColor(ACCENT)
    page.text(MARGIN, page.y, t["status"].format(height=records.height, status=status),
              page.font, 10)  # fmt: skip
    canvas.setFillColor(colors.black)
    page.y = min(page.y - 4, top - side - 16)

    inv = claim["inventory"]
    page.heading(t["section_claim"])
    page.row(t["claimant"], "org", f"{claim['org']} ({claim['claimant']})")
    page.row(t["boundary"], "boundary", str(claim["boundary"]))
    page.row(t["sites"], "sites", ", ".join(str(s) for s in claim["sites"]))
    page.row(t["baseline"], "baseline_ref",
             f"{claim['baseline_ref']}: {_grams(t, int(claim['baseline_g']))}")  # fmt: skip
    page.row(t["reduction"], "reduction_g", _grams(t, int(claim["reduction_g"])))
    page.row(t["plan"], "plan_ref", str(claim["plan_ref"]))
    page.heading(t["section_inventory"].format(gas=inv["gas"]))
    for label, name in (("scope1", "scope1_g"), ("scope2_location", "scope2_location_g"),
                        ("scope2_market", "scope2_market_g"), ("scope3", "scope3_g")):  # fmt: skip
        page.row(t[label], name, _grams(t, int(inv[name])))
    page.row(t["residual"], "residual_g", _grams(t, int(claim["residual_g"])))
    page.row(t["required"], "required_t", t["tonnes"].format(t=_number(int(claim["required_t"]))))
    page.row(t["retired"], "retired_t", t["tonnes"].format(t=_number(int(claim["retired_t"]))))
    page.heading(t["section_retirements"])
    for r in records.retirements:
        page.row(t["retirement"].format(n=r["id"]), "serial",
                 f"{r['serial']} · {t['tonnes'].format(t=_number(int(r['quantity_t'])))} · "
                 f"{_utc(int(r['time_s']))}", mono=True)  # fmt: skip
    page.heading(t["section_statement"])
    statement = claim.get("statement")
    if statement is None:
        page.row(t["verifier"], None, t["none"])
    else:
        page.row(t["verifier"], "verifier", f"{statement['verifier']} ({statement['org']})")
        page.row(t["opinion"], "opinion", str(statement["opinion"]))
        page.row(t["statement"], "statement", str(statement["statement"]))
    page.heading(t["section_ledger"])
    page.row(t["chain"], "chain_id", str(header["chain_id"]))
    page.row(t["height"], "height", str(records.height))
    page.row(t["block_hash"], "block_hash", records.block_hash, mono=True)
    page.row(t["state_root"], "state_root", str(header["state_root"]), mono=True)
    page.row(t["proposer"], "proposer", str(header["proposer"]))
    page.draw_footer()
    canvas.showPage()
    canvas.save()
    return out.getvalue()
