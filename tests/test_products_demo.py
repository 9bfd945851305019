"""The supply-chain demo (``gridledger products demo``): ingot -> rim -> car on metered
energy, where the rim maker's clean power lowers the car's market-based footprint by what the
rims saved, and nothing else; and its chain serves the passport and scan pages."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from typer.testing import CliRunner

from gridledger.cli.main import app
from gridledger.sim.supply_chain import CAR, PASSPHRASE_DEFAULT, RIM


def test_the_clean_rims_lower_the_cars_footprint(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # the passphrase is given: make test exports GRIDLEDGER_PASSPHRASE for the community demo
    demo = ["products", "demo", "--home", str(home), "--passphrase", PASSPHRASE_DEFAULT]
    out = CliRunner().invoke(app, [*demo, "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    fps = result["footprints"]
    grey_rims, clean_rims = fps[f"{RIM}/R-GREY"], fps[f"{RIM}/R-CLEAN"]
    assert clean_rims["covered_wh"] == 40_000
    assert clean_rims["electricity_market_g"] == 0 < grey_rims["electricity_market_g"]
    grey_car, clean_car = fps[f"{CAR}/C-GREY"], fps[f"{CAR}/C-CLEAN"]
    saved = grey_rims["total_market_g"] - clean_rims["total_market_g"]
    assert result["car_saving_market_g"] == grey_car["total_market_g"] - clean_car[
        "total_market_g"] == saved > 0  # fmt: skip
    assert grey_car["total_location_g"] == clean_car["total_location_g"]
    again = CliRunner().invoke(app, demo)
    assert again.exit_code == 1
    # the demo's chain opens in a node and serves its pages
    from gridledger.api import ApiServer
    from gridledger.node.home import open_node

    node = open_node(home, PASSPHRASE_DEFAULT, verify_workers=0)
    try:
        with ApiServer(node) as server, httpx.Client(base_url=server.url, timeout=30) as http:
            page = http.get(grey_car["passport"])
            assert page.status_code == 200
            assert "Passenger car" in page.text
            scan = http.get("/products/scan", params={"link": result["scan"],
                                                      "seen_at": "carco"})  # fmt: skip
            assert 'data-verdict="genuine"' in scan.text
            assert f"{CAR}/" in scan.text  # installed in the clean car
    finally:
        node.close()
