"""Charts: the server's SVG and the data uPlot draws from, and the library shipped with the
package (served by the node, nothing from a CDN). The browser side is in test_web_live.py."""

from __future__ import annotations

import html
import json
import re
import tomllib
from pathlib import Path

import httpx

from gridledger.web.charts import Series, bars, lines
from web_support import WebSite

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "src" / "gridledger" / "web"
UPLOT = WEB / "static" / "vendor" / "uplot"


def _spec(markup: str) -> dict:
    found = re.search(r'<div class="plot" data-plot="([^"]*)">', markup)
    assert found is not None
    return json.loads(html.unescape(found.group(1)))


def test_a_chart_carries_its_svg_and_the_data_for_the_library() -> None:
    markup = bars(
        "Plant <pv-01>",
        "kWh per hour",
        ["08:00", "09:00"],
        [Series("Generated", [1.5, 2], "var(--clean)"), Series("Sold", [None, 1], "#e0a100")],
        times=[1_780_000_000, 1_780_003_600],
    )
    assert markup.endswith("</svg></div>")
    assert markup.count('<svg viewBox="0 0 720 240" role="img"') == 1
    assert "<title>Plant &lt;pv-01&gt;</title>" in markup
    spec = _spec(markup)
    assert spec == {
        "kind": "bars",
        "title": "Plant <pv-01>",
        "stacked": False,
        "labels": ["08:00", "09:00"],
        "times": [1_780_000_000, 1_780_003_600],
        "series": [
            {"name": "Generated", "color": "var(--clean)", "values": [1.5, 2.0]},
            {"name": "Sold", "color": "#e0a100", "values": [None, 1.0]},
        ],
    }
    shares = _spec(lines("Share", "per day", ["12-06"], [Series("Clean", [None], "red")]))
    assert (shares["kind"], shares["times"], shares["series"][0]["values"]) == (
        "lines",
        None,
        [None],
    )


def test_the_chart_library_ships_with_the_package_and_its_licence() -> None:
    """uPlot's release files with their MIT licence, and pyproject's package-data names every
    file the pages need, so an installed node serves them."""
    script = (UPLOT / "uPlot.iife.min.js").read_text(encoding="utf-8")
    assert script.startswith("/*! https://github.com/leeoniya/uPlot (v1.6.32) */")
    assert "MIT License" in (UPLOT / "LICENSE").read_text(encoding="utf-8")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["gridledger.web"]
    shipped = [
        p.relative_to(WEB).as_posix()
        for p in WEB.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    assert "static/vendor/uplot/uPlot.iife.min.js" in shipped
    # setuptools expands each pattern as a glob under the package
    matched = {p.relative_to(WEB).as_posix() for pattern in patterns for p in WEB.glob(pattern)}
    assert sorted(set(shipped) - matched) == []


def test_the_node_serves_the_library_and_pages_name_no_other_host(web_site: WebSite) -> None:
    with httpx.Client(base_url=web_site.url, timeout=30) as http:
        for name in ("uPlot.iife.min.js", "uPlot.min.css"):
            answer = http.get(f"/static/vendor/uplot/{name}")
            assert answer.status_code == 200
            assert answer.content == (UPLOT / name).read_bytes()
        page = http.get("/").text
        assert '<script src="/static/plot.js" defer></script>' in page
        assert not re.search(r'(src|href)="(https?:)?//', page)
