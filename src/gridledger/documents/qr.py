"""The QR code printed on a certificate: its payload drawn with segno.

The symbol is a QR code (never a Micro QR) at error correction level M or better: segno raises
the level when that fits in the same version, so a smudged print still scans. A payload of
about 240 characters makes a version 11 symbol (61 x 61 modules), which a phone reads from
3.5 cm of paper at 0.5 mm a module; ids of up to 24 characters keep it within version 13, and
the longest payload the formats allow (64-character ids, 19-digit numbers) needs version 17.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import segno

from gridledger.sdk.certificate_proofs import QrPayload

PAPER_VERSION = 15
"""The largest symbol (77 x 77 modules) a payload with ids of ordinary length needs."""
QUIET_ZONE = 4
"""Modules of white border the QR standard asks for around a symbol."""


@dataclass(frozen=True)
class QrCode:
    """A certificate's QR code.

    Attributes:
        text: the payload it encodes.
        version: the QR version (1-40; the symbol is ``17 + 4 * version`` modules wide).
        error: the error correction level, ``M``, ``Q`` or ``H``.
        matrix: the modules, row by row, ``True`` for dark (without the quiet zone).
    """

    text: str
    version: int
    error: str
    matrix: tuple[tuple[bool, ...], ...]

    @property
    def modules(self) -> int:
        """Modules across the symbol (without the quiet zone)."""
        return len(self.matrix)

    def _symbol(self) -> segno.QRCode:
        return _make(self.text)

    def svg(self, scale: int = 4) -> str:
        """The symbol as an SVG document, ``scale`` pixels a module, with its quiet zone."""
        out = io.BytesIO()
        self._symbol().save(
            out, kind="svg", scale=scale, border=QUIET_ZONE, xmldecl=False, title=self.text
        )
        return out.getvalue().decode("utf-8")

    def png(self, scale: int = 8) -> bytes:
        """The symbol as a PNG image, ``scale`` pixels a module, with its quiet zone."""
        out = io.BytesIO()
        self._symbol().save(out, kind="png", scale=scale, border=QUIET_ZONE)
        return out.getvalue()

    def runs(self) -> list[tuple[int, int, int]]:
        """The dark modules as horizontal runs ``(row, first column, length)``: what a vector
        renderer draws as rectangles."""
        found = []
        for y, row in enumerate(self.matrix):
            x = 0
            while x < len(row):
                if row[x]:
                    start = x
                    while x < len(row) and row[x]:
                        x += 1
                    found.append((y, start, x - start))
                else:
                    x += 1
        return found


def _make(text: str) -> segno.QRCode:
    return segno.make(text, error="m", micro=False, boost_error=True)


def qr_code(payload: QrPayload | str) -> QrCode:
    """The QR code of a payload, in the smallest version that holds it at level M."""
    text = payload if isinstance(payload, str) else payload.text()
    symbol = _make(text)
    version = int(symbol.version)
    matrix = tuple(tuple(bool(m) for m in row) for row in symbol.matrix)
    return QrCode(text=text, version=version, error=str(symbol.error), matrix=matrix)
