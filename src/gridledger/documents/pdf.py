"""The printable certificate: one A4 page in English or Chinese, drawn with ReportLab.

It shows what a certificate proof file proves, with the EnergyTag registry API's field names
beside each value, the hashes, the block it was proven against, and the QR code of its payload.
Chinese uses ReportLab's built-in CID font STSong-Light (Adobe-GB1), so no font file is needed.

The page is a rendering, not evidence: the proof file is. Its footer says how to check one.
The records are checked before anything is printed (:func:`~gridledger.sdk.
certificate_proofs.check_records`), so a file whose records do not hold renders nothing.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from typing import Any, Literal

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from gridledger.core.localtime import UTC, LocalTime
from gridledger.documents.qr import QUIET_ZONE, qr_code
from gridledger.sdk.certificate_proofs import (
    CheckedRecords,
    check_records,
    qr_payload_of,
    status_at,
)

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")
CJK_FONT = "STSong-Light"
MONO = "Courier"
MARGIN = 42.0
QR_SIDE = 150.0
"""Points the QR symbol (with its quiet zone) takes on the page: about 53 mm."""

TEXTS: dict[Lang, dict[str, str]] = {
    "en": {
        "title": "Granular Energy Certificate",
        "subtitle": "EnergyTag Granular Certificate Scheme · {scheme}",
        "headline": "{quantity} of electricity from {device}",
        "interval": "produced {start} – {end} {zone}",
        "status": "Status at block {height}: {status}",
        "section_certificate": "Certificate",
        "section_device": "Production device",
        "section_claim": "Cancellation and claim",
        "section_ledger": "Ledger evidence",
        "bundle_id": "Certificate bundle",
        "issuance_id": "Issuance",
        "range": "Certificate ids (inclusive)",
        "quantity": "Quantity",
        "face_value": "Face value",
        "energy_carrier": "Energy carrier",
        "energy_source": "Energy source",
        "production_start": "Production start",
        "production_end": "Production end",
        "issued": "Issued",
        "expires": "Expires unless cancelled",
        "issuing_body": "Issuing body",
        "issuer": "Issued by account",
        "country": "Country",
        "grid_zone": "Grid zone",
        "support": "Support received",
        "scheme": "Scheme",
        "bundle_type": "Certificate type",
        "certificate_status": "Status",
        "owner": "Held by account",
        "device_id": "Device",
        "device_name": "Device name",
        "technology": "Technology",
        "capacity": "Capacity",
        "commissioned": "Commissioned",
        "location": "Location",
        "device_owner": "Device owner",
        "beneficiary": "Beneficiary",
        "site": "Consumption site",
        "period": "Consumption period",
        "claimed_height": "Claimed in block",
        "withdrawal": "Withdrawn",
        "hash": "Certificate hash",
        "parent_hash": "Split from (hash)",
        "chain": "Chain",
        "height": "Block",
        "block_hash": "Block hash",
        "state_root": "State root",
        "proposer": "Block signed by",
        "final": "Final (as the node said)",
        "yes": "yes",
        "no": "no",
        "qr_caption": "QR: {org} signed block {height} ({hash}…). The certificate "
        "itself is proven by its proof file.",
        "footer": "This page renders proof file gridledger/certificate-proof/v1 of bundle {id} "
        "at block {height}. It is evidence only with that file: check it with the consortium "
        "keys (gridledger cert verify FILE --keys KEYS.json, or the explorer's Verify page). "
        "Formats: docs/formats.md.",
        "wh": "{value} Wh",
        "kwh": "{value} kWh",
    },
    "zh": {
        "title": "颗粒度绿色电力证书",
        "subtitle": "EnergyTag 颗粒度证书方案（{scheme}）",
        "headline": "{device} 发电 {quantity}",
        "interval": "生产时段 {start} 至 {end}（{zone}）",
        "status": "区块 {height} 时的状态：{status}",
        "section_certificate": "证书",
        "section_device": "发电设备",
        "section_claim": "注销与申领",
        "section_ledger": "账本证据",
        "bundle_id": "证书包编号",
        "issuance_id": "签发编号",
        "range": "证书编号区间（含两端）",
        "quantity": "数量",
        "face_value": "面值",
        "energy_carrier": "能源载体",
        "energy_source": "能源类型",
        "production_start": "生产开始",
        "production_end": "生产结束",
        "issued": "签发时间",
        "expires": "到期时间（未注销时）",
        "issuing_body": "签发机构",
        "issuer": "签发账户",
        "country": "国家或地区",
        "grid_zone": "电网区域",
        "support": "所获补贴",
        "scheme": "认证规则",
        "bundle_type": "证书类型",
        "certificate_status": "状态",
        "owner": "持有账户",
        "device_id": "设备编号",
        "device_name": "设备名称",
        "technology": "技术类型",
        "capacity": "装机容量",
        "commissioned": "投运日期",
        "location": "位置",
        "device_owner": "设备所属机构",
        "beneficiary": "受益人",
        "site": "用电场所",
        "period": "用电时段",
        "claimed_height": "申领区块",
        "withdrawal": "撤销",
        "hash": "证书哈希",
        "parent_hash": "拆分自（哈希）",
        "chain": "链",
        "height": "区块",
        "block_hash": "区块哈希",
        "state_root": "状态根",
        "proposer": "区块签署机构",
        "final": "最终确认（节点所述）",
        "yes": "是",
        "no": "否",
        "qr_caption": "二维码：{org} 签署了区块 {height}（{hash}…）。证书本身须以证明文件核验。",
        "footer": "本页呈现证书包 {id} 在区块 {height} 的证明文件"
        "（gridledger/certificate-proof/v1），须与该文件一并方为凭证：请用联盟公钥核验"
        "（gridledger cert verify 文件 --keys 公钥文件.json，或浏览器的核验页面）。"
        "格式见 docs/formats.md。",
        "wh": "{value} 瓦时",
        "kwh": "{value} 千瓦时",
    },
}
STATUS_NAMES: dict[Lang, dict[str, str]] = {
    "en": {
        "active": "active",
        "locked": "locked",
        "cancelled": "cancelled",
        "claimed": "claimed",
        "withdrawn": "withdrawn",
        "expired": "expired",
        "storage_charged": "charged into storage",
        "gec_exported": "exported as GEC",
    },
    "zh": {
        "active": "有效",
        "locked": "已锁定",
        "cancelled": "已注销",
        "claimed": "已申领",
        "withdrawn": "已撤销",
        "expired": "已过期",
        "storage_charged": "已充入储能",
        "gec_exported": "已转为绿证",
    },
}
TYPE_NAMES: dict[Lang, dict[str, str]] = {
    "en": {
        "production": "production",
        "storage_discharge": "storage discharge",
        "gec_conversion": "converted from a China GEC",
    },
    "zh": {"production": "发电", "storage_discharge": "储能放电", "gec_conversion": "由绿证转换"},
}
TECHNOLOGY_NAMES_ZH = {
    "solar_pv": "光伏",
    "wind_onshore": "陆上风电",
    "wind_offshore": "海上风电",
    "hydro": "水电",
    "biomass": "生物质",
    "geothermal": "地热",
    "storage": "储能",
    "other": "其他",
}
EXPLAINED = colors.HexColor("#5b6770")
LINE = colors.HexColor("#c9d1d8")
ACCENT = colors.HexColor("#1d6b45")


def _font(lang: Lang) -> str:
    if lang == "zh":
        if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
        return CJK_FONT
    return "Helvetica"


def _bold(lang: Lang) -> str:
    return CJK_FONT if lang == "zh" else "Helvetica-Bold"


def _utc(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M")


def zone_label(local: LocalTime, seconds: int) -> str:
    """The zone as people read it at ``seconds``: ``UTC+08:00 Asia/Shanghai``, or ``UTC``."""
    if local.name == "UTC":
        return "UTC"
    offset = local.datetime(seconds).strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]} {local.name}"


def stamp(local: LocalTime, seconds: int) -> str:
    """A time in the chain's zone, named, with UTC beside it:
    ``2026-06-21 12:00 UTC+08:00 Asia/Shanghai (04:00 UTC)``; in a UTC chain only
    ``2026-06-21 04:00 UTC``."""
    if local.name == "UTC":
        return f"{_utc(seconds)} UTC"
    at_utc = dt.datetime.fromtimestamp(seconds, dt.UTC)
    same_day = at_utc.date() == local.datetime(seconds).date()
    utc_part = at_utc.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M")
    return f"{local.format(seconds)} {zone_label(local, seconds)} ({utc_part} UTC)"


def _number(value: int) -> str:
    return f"{value:,}"


def _energy(lang: Lang, wh: int) -> str:
    t = TEXTS[lang]
    kwh = f"{wh / 1000:,.3f}".rstrip("0").rstrip(".")
    return f"{t['wh'].format(value=_number(wh))} ({t['kwh'].format(value=kwh)})"


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """``text`` broken into lines no wider than ``width``: at spaces where it can, else between
    any two characters (Chinese has no spaces; hashes are one long word)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if pdfmetrics.stringWidth(candidate, font, size) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            for ch in word:
                if pdfmetrics.stringWidth(line + ch, font, size) > width and line:
                    lines.append(line)
                    line = ""
                line += ch
        lines.append(line)
    return lines


class _Page:
    """A cursor down the page: headings, and rows of a label, a value and the EnergyTag
    registry field name it fills; a new page when one is full."""

    LINE_H = 10.8
    BOTTOM = MARGIN + 34  # the footer's room

    def __init__(self, canvas: Canvas, lang: Lang, footer: str) -> None:
        self.c = canvas
        self.lang = lang
        self.font = _font(lang)
        self.footer = footer
        self.width, self.height = A4
        self.y = self.height - MARGIN
        self.value_x = MARGIN + 138
        self.name_x = self.width - MARGIN - 128
        self.pages = 1

    def font_for(self, value: str) -> str:
        """Latin text in Helvetica even on a Chinese page: STSong-Light's Latin is poor."""
        return "Helvetica" if value.isascii() else self.font

    def text(
        self, x: float, y: float, value: str, font: str | None = None, size: float = 8.6
    ) -> None:
        self.c.setFont(font or self.font_for(value), size)
        self.c.drawString(x, y, value)

    def draw_footer(self) -> None:
        self.c.setFillColor(EXPLAINED)
        lines = wrap(self.footer, self.font, 6.6, self.width - 2 * MARGIN)
        for i, line in enumerate(lines):
            self.text(MARGIN, MARGIN + 8 * (len(lines) - 1 - i), line, self.font, 6.6)
        self.c.setFillColor(colors.black)

    def room(self, height: float) -> None:
        if self.y - height >= self.BOTTOM:
            return
        self.draw_footer()
        self.c.showPage()
        self.pages += 1
        self.y = self.height - MARGIN

    def heading(self, title: str) -> None:
        self.room(40)
        self.y -= 12
        self.c.setFillColor(ACCENT)
        self.text(MARGIN, self.y, title, _bold(self.lang), 10.5)
        self.c.setFillColor(colors.black)
        self.y -= 4
        self.c.setStrokeColor(LINE)
        self.c.line(MARGIN, self.y, self.width - MARGIN, self.y)
        self.y -= 10

    def row(self, label: str, name: str | None, value: str, mono: bool = False) -> None:
        font = MONO if mono else self.font_for(value)
        size = 7.4 if mono else 8.6
        right = (self.name_x - 6) if name else (self.width - MARGIN)
        lines = wrap(value, font, size, right - self.value_x)
        self.room(self.LINE_H * len(lines))
        self.text(MARGIN, self.y, label)
        for i, line in enumerate(lines):
            self.text(self.value_x, self.y - self.LINE_H * i, line, font, size)
        if name:
            self.c.setFillColor(EXPLAINED)
            self.text(self.name_x, self.y, name, MONO, 6.2)
            self.c.setFillColor(colors.black)
        self.y -= self.LINE_H * len(lines) + 1.6


def render_pdf(proof: Mapping[str, Any], lang: Lang = "en", local: LocalTime = UTC) -> bytes:
    """The PDF certificate of a certificate proof file.

    Args:
        proof: a decoded ``gridledger/certificate-proof/v1`` file.
        lang: ``en`` or ``zh`` (simplified Chinese).
        local: the chain's time zone (its genesis ``time_zone``): dates and hours are printed
            in it, the zone named and UTC beside them. The proof file keeps Unix seconds.

    Returns:
        The PDF's bytes; the same file gives the same bytes.

    Raises:
        CertificateProofError: the file's records do not hold.
        ValueError: an unknown language.
    """
    if lang not in LANGS:
        raise ValueError(f"language {lang!r}: en or zh")
    records = check_records(proof)
    payload = qr_payload_of(proof)
    code = qr_code(payload)
    bundle, device, header = records.bundle, records.device, records.header
    t = TEXTS[lang]
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setTitle(f"{t['title']} {bundle['id']}")
    canvas.setAuthor(str(bundle["issuing_body"]))
    canvas.setSubject(f"{bundle['hash']} @ {records.height}:{records.block_hash}")
    canvas.setCreator("GridLedger")
    footer = t["footer"].format(id=bundle["id"], height=records.height)
    page = _Page(canvas, lang, footer)
    status_code = status_at(bundle, records.time_s)
    status = STATUS_NAMES[lang].get(status_code, status_code)

    # the QR code, top right, with its quiet zone and caption
    side = QR_SIDE
    module = side / (code.modules + 2 * QUIET_ZONE)
    left, top = page.width - MARGIN - side + QUIET_ZONE * module, page.height - MARGIN + 10
    canvas.setFillColor(colors.black)
    for row, col, length in code.runs():
        x = left + (QUIET_ZONE + col) * module
        y = top - (QUIET_ZONE + row + 1) * module
        canvas.rect(x, y, length * module, module, stroke=0, fill=1)
    caption = t["qr_caption"].format(
        org=header["proposer"], height=records.height, hash=records.block_hash[:12]
    )
    canvas.setFillColor(EXPLAINED)
    caption_x = left + QUIET_ZONE * module
    caption_w = side - 2 * QUIET_ZONE * module
    for i, line in enumerate(wrap(caption, page.font, 6.4, caption_w)):
        page.text(caption_x, top - side + 2 - 8 * i, line, page.font, 6.4)
    canvas.setFillColor(colors.black)

    # the headline, left of the QR code
    head_w = left - MARGIN - 6
    page.text(MARGIN, page.y - 14, t["title"], _bold(lang), 19)
    page.y -= 29
    canvas.setFillColor(EXPLAINED)
    page.text(MARGIN, page.y, t["subtitle"].format(scheme=bundle["scheme"]), page.font, 9)
    canvas.setFillColor(colors.black)
    page.y -= 24
    headline = t["headline"].format(
        quantity=_energy(lang, int(bundle["quantity_wh"])), device=device["name"]
    )
    for line in wrap(headline, _bold(lang), 13, head_w):
        page.text(MARGIN, page.y, line, _bold(lang), 13)
        page.y -= 16
    start_s, end_s = int(bundle["production_start_s"]), int(bundle["production_end_s"])
    interval = t["interval"].format(
        start=local.format(start_s),
        end=local.format(
            end_s, "%H:%M" if local.day_of(start_s) == local.day_of(end_s - 1) else "%Y-%m-%d %H:%M"
        ),
        zone=zone_label(local, start_s),
    )
    page.text(MARGIN, page.y, interval, page.font, 10)
    page.y -= 15
    canvas.setFillColor(ACCENT)
    page.text(
        MARGIN, page.y, t["status"].format(height=records.height, status=status), page.font, 10
    )
    canvas.setFillColor(colors.black)
    page.y = min(page.y - 4, top - side - 16)

    _sections(page, t, status_code, records, local, final=proof.get("final") is True)
    page.draw_footer()
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _sections(
    page: _Page,
    t: Mapping[str, str],
    status: str,
    records: CheckedRecords,
    local: LocalTime,
    *,
    final: bool,
) -> None:
    lang = page.lang
    bundle, device, header = records.bundle, records.device, records.header
    sep = "，" if lang == "zh" else " · "
    technology = str(bundle["technology"])
    if lang == "zh":
        technology = f"{TECHNOLOGY_NAMES_ZH.get(technology, technology)} ({technology})"
    wh_1 = TEXTS[lang]["wh"].format(value=1)
    page.heading(t["section_certificate"])
    page.row(t["bundle_id"], None, str(bundle["id"]))
    page.row(t["issuance_id"], "issuance_id", str(bundle["issuance"]))
    page.row(
        t["range"],
        "certificate_bundle_id_range_*",
        f"{_number(int(bundle['range_start']))} … {_number(int(bundle['range_end']))}",
    )
    page.row(
        t["quantity"],
        "bundle_quantity",
        f"{_energy(lang, int(bundle['quantity_wh']))}{sep}{t['face_value']} {wh_1}",
    )
    page.row(
        t["energy_source"],
        "energy_source",
        f"{bundle['fuel']}{sep}{t['energy_carrier']}: {'electricity' if lang == 'en' else '电力'}",
    )
    page.row(
        t["bundle_type"],
        "device_type",
        TYPE_NAMES[lang].get(str(bundle["bundle_type"]), str(bundle["bundle_type"])),
    )
    page.row(
        t["production_start"],
        "production_starting_interval",
        stamp(local, int(bundle["production_start_s"])),
    )
    page.row(
        t["production_end"],
        "production_ending_interval",
        stamp(local, int(bundle["production_end_s"])),
    )
    page.row(
        t["issued"],
        "issuance_datestamp",
        f"{stamp(local, int(bundle['issued_s']))}{sep}{t['height']} {bundle['issued_height']}",
    )
    page.row(t["expires"], "expiry_datestamp", stamp(local, int(bundle["expires_s"])))
    page.row(
        t["issuing_body"],
        "issuing_body",
        f"{bundle['issuing_body']}{sep}{t['issuer']} {bundle['issuer']}",
    )
    page.row(t["scheme"], "quality_scheme_reference", str(bundle["scheme"]))
    page.row(t["country"], "country_of_issuance", str(bundle["country"]))
    page.row(t["grid_zone"], "connected_grid_identification", str(bundle["grid_zone"]))
    page.row(t["support"], "support_received", str(bundle["support"]))
    page.row(
        t["certificate_status"],
        "certificate_bundle_status",
        STATUS_NAMES[lang].get(status, status),
    )
    page.row(t["owner"], "account_id", str(bundle["owner"]))

    cancellation = bundle.get("cancellation")
    withdrawal = bundle.get("withdrawal")
    if cancellation or withdrawal:
        page.heading(t["section_claim"])
    if cancellation:
        page.row(t["beneficiary"], "beneficiary", str(cancellation.get("beneficiary")))
        page.row(t["site"], None, str(cancellation.get("site")))
        page.row(
            t["period"],
            None,
            f"{stamp(local, int(cancellation['period_start_s']))}"
            f"{' 至 ' if lang == 'zh' else ' – '}"
            f"{stamp(local, int(cancellation['period_end_s']))}",
        )
        if bundle.get("claimed_height") is not None:
            page.row(t["claimed_height"], None, str(bundle["claimed_height"]))
    if withdrawal:
        page.row(
            t["withdrawal"],
            None,
            f"{withdrawal.get('reason')}{sep}{withdrawal.get('by')}{sep}"
            f"{t['height']} {withdrawal.get('height')}",
        )

    page.heading(t["section_device"])
    page.row(t["device_id"], "device_id", str(device["id"]))
    page.row(
        t["device_name"],
        "device_name",
        f"{device['name']}{sep}{t['device_owner']} {device['owner_org']}",
    )
    page.row(t["technology"], "device_technology_type", technology)
    page.row(t["capacity"], "device_capacity", f"{_number(int(device['capacity_w']))} W")
    page.row(t["commissioned"], "device_production_start_date", str(device["commissioned"]))
    lat, lon = device.get("latitude_udeg"), device.get("longitude_udeg")
    if isinstance(lat, int) and isinstance(lon, int) and (lat or lon):
        page.row(t["location"], "device_location", f"{lat / 1e6:.6f}, {lon / 1e6:.6f}")

    page.heading(t["section_ledger"])
    page.row(t["hash"], None, str(bundle["hash"]), mono=True)
    if bundle.get("parent_hash"):
        page.row(t["parent_hash"], None, str(bundle["parent_hash"]), mono=True)
    block_time = stamp(local, int(header["time"]) // 1000)
    page.row(
        t["height"],
        None,
        f"{records.height}{sep}{t['chain']} {header['chain_id']}{sep}{block_time}",
    )
    page.row(t["block_hash"], None, str(records.block_hash), mono=True)
    page.row(t["state_root"], None, str(header["state_root"]), mono=True)
    page.row(
        t["proposer"],
        None,
        f"{header['proposer']}{sep}{t['final']}: {t['yes'] if final else t['no']}",
    )
