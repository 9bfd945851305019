"""Charts drawn twice: as inline SVG on the server, and by uPlot in the browser.

The server draws every chart as SVG: no script needed, readable offline, with a title and
description for screen readers (pages also show the numbers in a table). Every bar and every
point of a line carries its label and value as a ``<title>``, which ``app.js`` shows as a
tooltip on hover or tap. On a phone the stylesheet keeps an SVG chart at least 500 px wide (it
scrolls sideways in its own box), draws its text larger and hides every other label of the
time axis (class ``minor``).

The SVG sits in a ``<div class="plot" data-plot="...">`` whose JSON holds the same labels and
series (and, for charts over time, each label's Unix seconds). Where scripts run, ``plot.js``
draws the chart with uPlot (vendored under ``static/vendor/uplot``, served by the node itself,
nothing from a CDN) at the box's own width: axes whose labels thin out to stay legible at
375 px, a tooltip at the pointer or finger naming the label, each series' value and the UTC
time, and the SVG hidden. Without the script or the library the SVG stays.

Values are plain numbers (kWh, CNY, per cent); the caller labels the axes in the page's
language and gives labels in the chain's local time. Coordinates are rounded to 0.1 so the
markup stays small.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 720, 240
PAD_L, PAD_R, PAD_T, PAD_B = 56, 12, 12, 28


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | int | None]
    color: str
    """A CSS colour, e.g. ``var(--clean)``."""


def _scale(top: float) -> float:
    """A round upper bound for the axis (1, 2 or 5 times a power of ten)."""
    if top <= 0:
        return 1.0
    power = 1.0
    while power * 10 <= top:
        power *= 10
    while power > top:
        power /= 10
    for step in (1, 2, 5, 10):
        if step * power >= top:
            return step * power
    return 10 * power


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10 or value == int(value):
        return f"{value:,.1f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def _frame(title: str, desc: str, labels: Sequence[str], top: float) -> list[str]:
    plot_h = HEIGHT - PAD_T - PAD_B
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>",
    ]
    for k in range(5):
        y = PAD_T + plot_h * k / 4
        value = top * (4 - k) / 4
        parts.append(
            f'<line x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#dde2e8" stroke-width="1"/>'
            f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#5b6675">{_fmt(value)}</text>'
        )
    n = max(len(labels), 1)
    every = max(n // 8, 1)
    step = (WIDTH - PAD_L - PAD_R) / n
    for i, label in enumerate(labels):
        if i % every == 0:
            x = PAD_L + step * (i + 0.5)
            minor = ' class="minor"' if (i // every) % 2 else ""
            parts.append(
                f'<text{minor} x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle" font-size="11" '
                f'fill="#5b6675">{escape(label)}</text>'
            )
    return parts


def _plot(
    svg: str,
    kind: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    stacked: bool,
    times: Sequence[int] | None,
) -> str:
    """``svg`` in the box ``plot.js`` draws the same chart in (see the module's docstring)."""
    spec = {
        "kind": kind,
        "title": title,
        "stacked": stacked,
        "labels": list(labels),
        "times": None if times is None else list(times),
        "series": [
            {"name": s.name, "color": s.color,
             "values": [None if v is None else round(float(v), 4) for v in s.values]}
            for s in series
        ],
    }  # fmt: skip
    data = escape(json.dumps(spec, ensure_ascii=False, separators=(",", ":")), quote=True)
    return f'<div class="plot" data-plot="{data}">{svg}</div>'


def bars(
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    stacked: bool = False,
    times: Sequence[int] | None = None,
) -> str:
    """Grouped (or stacked) bars, one group per label (``times``: each label's start, Unix
    seconds, for the tooltip's UTC time)."""
    n = len(labels)
    if stacked:
        top = max((sum(float(s.values[i] or 0) for s in series) for i in range(n)), default=0)
    else:
        top = max((float(v or 0) for s in series for v in s.values), default=0)
    top = _scale(top)
    parts = _frame(title, desc, labels, top)
    plot_h = HEIGHT - PAD_T - PAD_B
    step = (WIDTH - PAD_L - PAD_R) / max(n, 1)
    width = step * 0.8 / (1 if stacked else max(len(series), 1))
    for i in range(n):
        base = 0.0
        for k, s in enumerate(series):
            value = float(s.values[i] or 0)
            h = plot_h * value / top
            x = PAD_L + step * i + step * 0.1 + (0 if stacked else width * k)
            y = PAD_T + plot_h - h - (plot_h * base / top if stacked else 0)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{h:.1f}" '
                f'fill="{s.color}"><title>{escape(labels[i])} {escape(s.name)}: '
                f"{_fmt(value)}</title></rect>"
            )
            if stacked:
                base += value
    parts.append("</svg>")
    return _plot("".join(parts), "bars", title, labels, series, stacked, times)


def lines(
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    times: Sequence[int] | None = None,
) -> str:
    """One line per series; ``None`` values leave a gap (``times`` as for :func:`bars`)."""
    n = len(labels)
    top = _scale(max((float(v) for s in series for v in s.values if v is not None), default=0))
    parts = _frame(title, desc, labels, top)
    plot_h = HEIGHT - PAD_T - PAD_B
    step = (WIDTH - PAD_L - PAD_R) / max(n, 1)
    for s in series:
        path: list[str] = []
        for i, v in enumerate(s.values):
            if v is None:
                path.append("")
                continue
            x = PAD_L + step * (i + 0.5)
            y = PAD_T + plot_h - plot_h * float(v) / top
            path.append(f"{x:.1f},{y:.1f}")
        for run in " ".join(path).split("  "):
            if run.strip():
                parts.append(
                    f'<polyline points="{run.strip()}" fill="none" stroke="{s.color}" '
                    'stroke-width="2"/>'
                )
        for i, point in enumerate(path):
            if point:
                cx, cy = point.split(",")
                parts.append(
                    f'<circle cx="{cx}" cy="{cy}" r="3" fill="{s.color}"><title>'
                    f"{escape(labels[i])} {escape(s.name)}: {_fmt(float(s.values[i] or 0))}"
                    "</title></circle>"
                )
    parts.append("</svg>")
    return _plot("".join(parts), "lines", title, labels, series, False, times)
