"""A household's monthly clean-power card: a PDF page (ReportLab, like the certificate) and a
PNG image (Pillow) in English or Chinese, with a QR code pointing at its proof file.

The card is a rendering, not evidence: its record card proof file
(``gridledger/record-card/v1``) is. The file's records are checked (shape, header hash, state
proofs, figures; not the signatures, which need the keys) before anything is drawn, and every
ledger figure on the card is the checked file's. The streak is the only figure the file does
not prove (it needs the household's meter readings): the card says so beside it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib import colors
from reportlab.pdfgen.canvas import Canvas

from gridledger.documents.pdf import ACCENT, EXPLAINED, LANGS, Lang, _bold, _font, _number, wrap
from gridledger.documents.qr import QUIET_ZONE, qr_code
from gridledger.sdk.card_proofs import CardSummary, check_card_records

QR_PREFIX = "GLRC1:"
CARD_W, CARD_H = 420.0, 595.0  # points: A5 portrait
PNG_W, PNG_H = 840, 1190
CJK_TTF = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
LATIN_TTF = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
LATIN_BOLD_TTF = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")

TEXTS: dict[Lang, dict[str, str]] = {
    "en": {
        "title": "Clean power record",
        "month": "{month} · household {account}",
        "claimed": "Certified clean power claimed",
        "hours": "Hours of clean power",
        "avoided": "CO2 avoided",
        "streak": "Clean-day streak",
        "streak_note": "days (from the node's record; not in the proof file)",
        "certifier": "Certified by",
        "block": "Ledger block {height}, {hash}…",
        "qr": "Scan: where to fetch this card's proof file",
        "footer": "Check it with the consortium keys: gridledger community card verify FILE "
        "--keys KEYS.json (docs/formats.md §6f).",
        "kwh": "{v} kWh",
        "kg": "{v} kg",
        "none": "none this month",
    },
    "zh": {
        "title": "绿色电力记录",
        "month": "{month} · 家庭 {account}",
        "claimed": "已认领的认证绿电",
        "hours": "绿电小时数",
        "avoided": "避免的二氧化碳",
        "streak": "连续绿色天数",
        "streak_note": "天（节点记录所得，不在证明文件中）",
        "certifier": "认证机构",
        "block": "账本区块 {height}，{hash}…",
        "qr": "扫码：获取本卡证明文件之处",
        "footer": "请用联盟公钥核验：gridledger community card verify FILE --keys KEYS.json"
        "（格式见 docs/formats.md §6f）。",
        "kwh": "{v} 千瓦时",
        "kg": "{v} 千克",
        "none": "本月无",
    },
}


def qr_text(proof: Mapping[str, Any]) -> str:
    """What a card's QR code carries: ``GLRC1:<chain>/<account>/<month>/<height>/<block
    hash>``, a pointer to the proof file (it proves nothing by itself)."""
    return (f"{QR_PREFIX}{proof['header']['chain_id']}/{proof['account']}/{proof['month']}/"
            f"{proof['height']}/{proof['block_hash']}")  # fmt: skip


def _kwh(wh: int) -> str:
    return f"{_number(wh // 1000)}.{wh % 1000 // 100}"


def _kg(g: int) -> str:
    return f"{_number(g // 1000)}.{g % 1000 // 100}"


@dataclass(frozen=True)
class CardLines:
    """The card's text, in drawing order: (label, value) rows."""

    title: str
    subtitle: str
    rows: list[tuple[str, str]]
    block: str
    qr_caption: str
    footer: str
    qr: str


def card_lines(proof: Mapping[str, Any], lang: Lang, streak: int | None) -> CardLines:
    """Check the file's records and lay out what the card says.

    Raises:
        CardProofError: the file's records do not hold.
        ValueError: an unknown language.
    """
    if lang not in LANGS:
        raise ValueError(f"language {lang!r}: en or zh")
    s: CardSummary = check_card_records(proof)
    t = TEXTS[lang]
    certifiers = ", ".join(c.name for c in s.certifiers) or t["none"]
    rows = [
        (t["claimed"], t["kwh"].format(v=_kwh(s.claimed_wh))),
        (t["hours"], _number(s.hours)),
        (t["avoided"], t["kg"].format(v=_kg(s.avoided_g))),
    ]
    if streak is not None:
        rows.append((t["streak"], f"{streak} {t['streak_note']}"))
    rows.append((t["certifier"], certifiers))
    return CardLines(
        title=t["title"],
        subtitle=t["month"].format(month=s.month, account=s.account),
        rows=rows,
        block=t["block"].format(height=s.height, hash=s.block_hash[:16]),
        qr_caption=t["qr"],
        footer=t["footer"],
        qr=qr_text(proof),
    )


def render_card_pdf(
    proof: Mapping[str, Any], lang: Lang = "en", streak: int | None = None
) -> bytes:
    """The card as a one-page PDF (A5)."""
    lines = card_lines(proof, lang, streak)
    code = qr_code(lines.qr)
    out = io.BytesIO()
    c = Canvas(out, pagesize=(CARD_W, CARD_H), invariant=1, pageCompression=1)
    c.setTitle(f"{lines.title} {lines.subtitle}")
    c.setSubject(lines.qr)
    c.setCreator("GridLedger")
    font, bold = _font(lang), _bold(lang)
    margin, y = 32.0, CARD_H - 52
    c.setFillColor(ACCENT)
    c.setFont(bold, 22)
    c.drawString(margin, y, lines.title)
    c.setFillColor(EXPLAINED)
    c.setFont(font, 10)
    y -= 20
    c.drawString(margin, y, lines.subtitle)
    y -= 34
    for label, value in lines.rows:
        c.setFillColor(EXPLAINED)
        c.setFont(font, 9)
        c.drawString(margin, y, label)
        c.setFillColor(colors.black)
        for part in wrap(value, bold, 15, CARD_W - 2 * margin):
            y -= 18
            c.setFont(bold, 15)
            c.drawString(margin, y, part)
        y -= 20
    side = 150.0
    module = side / (code.modules + 2 * QUIET_ZONE)
    left, top = margin, y
    for row, col, length in code.runs():
        c.rect(left + (QUIET_ZONE + col) * module, top - (QUIET_ZONE + row + 1) * module,
               length * module, module, stroke=0, fill=1)  # fmt: skip
    c.setFillColor(EXPLAINED)
    c.setFont(font, 8)
    c.drawString(left + side + 8, top - 40, lines.qr_caption)
    c.drawString(left + side + 8, top - 54, lines.block)
    for i, part in enumerate(wrap(lines.footer, font, 7, CARD_W - 2 * margin)):
        c.drawString(margin, 40 - 9 * i, part)
    c.showPage()
    c.save()
    return out.getvalue()


def _ttf(
    lang: Lang, size: int, heavy: bool = False
) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = CJK_TTF if lang == "zh" else (LATIN_BOLD_TTF if heavy else LATIN_TTF)
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        return ImageFont.load_default(size)


def render_card_png(
    proof: Mapping[str, Any], lang: Lang = "en", streak: int | None = None
) -> bytes:
    """The card as a PNG image (840 by 1190 pixels), for sharing where a PDF does not fit."""
    lines = card_lines(proof, lang, streak)
    image = Image.new("RGB", (PNG_W, PNG_H), "white")
    draw = ImageDraw.Draw(image)
    accent, grey = "#1d6b45", "#5b6770"
    x, y = 64, 64
    draw.text((x, y), lines.title, font=_ttf(lang, 44, True), fill=accent)
    y += 64
    draw.text((x, y), lines.subtitle, font=_ttf(lang, 20), fill=grey)
    y += 64
    for label, value in lines.rows:
        draw.text((x, y), label, font=_ttf(lang, 18), fill=grey)
        y += 28
        draw.text((x, y), value, font=_ttf(lang, 30, True), fill="black")
        y += 58
    qr = Image.open(io.BytesIO(qr_code(lines.qr).png(scale=6))).convert("RGB")
    image.paste(qr, (x, y))
    draw.text((x + qr.width + 16, y + 60), lines.qr_caption, font=_ttf(lang, 16), fill=grey)
    draw.text((x + qr.width + 16, y + 88), lines.block, font=_ttf(lang, 16), fill=grey)
    small = _ttf(lang, 14)
    rows: list[str] = []
    # wrap by measured width: English at spaces, Chinese anywhere (it has no spaces)
    pieces = list(lines.footer) if lang == "zh" else [w + " " for w in lines.footer.split(" ")]
    for piece in pieces:
        if rows and draw.textlength(rows[-1] + piece, font=small) <= PNG_W - 2 * x:
            rows[-1] += piece
        else:
            rows.append(piece.lstrip())
    for i, row in enumerate(rows):
        draw.text((x, PNG_H - 40 - 22 * (len(rows) - i)), row, font=small, fill=grey)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()
