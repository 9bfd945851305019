"""The products endpoints and SDK calls on a real node, and their proof files checked offline.

The node is :mod:`products_node`'s: ingots of ``homes`` (batch ``L1``) made into wheel rims
by ``solar`` (batch ``R1``, items ``S1`` and ``S2``, ``S2`` now at ``homes``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cert_node import CertChain
from fixtures_node import check
from gridledger.api import create_app
from gridledger.api.routes.products import BatchList, BatchView, ItemView, TypeList
from gridledger.api.schemas import ErrorResponse
from gridledger.contracts.products import gs1
from gridledger.documents.passport import render_passport_pdf
from gridledger.sdk import Client
from gridledger.sdk.cbam_proofs import CbamProofError, verify_cbam_proof
from gridledger.sdk.consortium_keys import export_keys
from gridledger.sdk.product_proofs import ProductProofError, verify_product_proof
from market_node import PARTIES, node_cli
from products_node import INGOT, RIM, products_chain

pytestmark = [
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`"),
    pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument"),
]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CertChain]:
    with products_chain(tmp_path_factory.mktemp("products-api") / "home") as c:
        yield c


@pytest.fixture(scope="module")
def http(chain: CertChain) -> Iterator[httpx.Client]:
    from starlette.testclient import TestClient

    with TestClient(create_app(chain.node, web=False)) as c:
        yield c


@pytest.fixture(scope="module")
def client(http: httpx.Client) -> Client:
    return Client(str(http.base_url).rstrip("/"), http=http)


@pytest.fixture(scope="module")
def keys(client: Client) -> dict[str, Any]:
    return export_keys(client).to_json()


def test_types_batches_and_custody(http: httpx.Client, client: Client) -> None:
    types = check(TypeList, http.get("/v1/products/types"))
    assert [(t["gtin"], t["org"]) for t in types["types"]] == [(INGOT, "homes"), (RIM, "solar")]
    assert client.products.types(org="solar")["types"] == types["types"][1:]
    batches = check(BatchList, http.get(f"/v1/products/{INGOT}/batches"))
    assert [b["lot"] for b in batches["batches"]] == ["L1"]
    view = check(BatchView, http.get(f"/v1/products/{INGOT}/batches/L1"))
    assert view["custody"]["holdings"] == {"homes": 600, "solar": 40}
    assert view["custody"]["used_in"] == [{"gtin": RIM, "lot": "R1", "quantity": 360}]
    assert view["digital_link"] == f"https://id.gs1.org/01/{INGOT}/10/L1"
    fp = view["footprint"]
    assert fp["electricity"]["consumption_wh"] == 10_000
    assert fp["total_location_g"] > 0
    assert client.products.batch("6950000000019", "L1") == view
    item = check(ItemView, http.get(f"/v1/products/{RIM}/items/S2"))
    assert [e["type"] for e in item["events"]] == ["registered", "shipped", "received"]


def test_unknown_records_are_404(http: httpx.Client) -> None:
    for path in (f"/v1/products/{RIM[:-1]}8", f"/v1/products/{RIM}/batches/R9",
                 f"/v1/products/{RIM}/batches/R9/proof", f"/v1/products/{RIM}/items/S9",
                 f"/v1/products/{RIM}/items/S9/proof",
                 "/v1/products/cbam?site=nope&start=0&end=9"):  # fmt: skip
        body = check(ErrorResponse, http.get(path), 404)
        assert body["error"]["code"] == "not_found", path
    check(ErrorResponse, http.get("/v1/products/verify?link=https://x/01/123"), 400)


def test_scanning_a_serial(http: httpx.Client, client: Client) -> None:
    found = client.products.verify(RIM, "S2", seen_at="homes")
    assert (found["verdict"], found["holder"], found["manufacturer"]) == ("genuine", "homes",
                                                                        "solar")  # fmt: skip
    link = gs1.digital_link(RIM, serial="S2")
    assert client.products.verify(link=link, seen_at="solar")["reasons"] == ["two_holders"]
    assert client.products.verify(RIM, "S7")["reasons"] == ["unknown_serial"]


def test_a_batch_passport_checks_out_offline(client: Client, keys: dict[str, Any]) -> None:
    proof = client.products.batch_proof(RIM, "R1")
    summary = verify_product_proof(proof, keys)
    assert summary.footprint is not None
    (share,) = summary.footprint.inputs
    assert (share.gtin, share.consumed) == (INGOT, 360)
    assert summary.final
    pact = client.products.passport(RIM, "R1")
    assert pact["specVersion"] == "2.2.0"
    assert pact["companyName"] == summary.manufacturer.name
    assert pact["productIds"][0] == f"urn:gtin:{RIM}"
    assert all(i.startswith("urn:") for i in [*pact["productIds"], *pact["companyIds"]])
    assert pact["extensions"][0]["data"]["digitalLink"] == gs1.digital_link(RIM, "R1")
    assert pact["pcf"]["declaredUnit"] == "kilogram"
    assert pact["pcf"]["unitaryProductAmount"] == "9"
    mass = 40 * 9000
    data = pact["extensions"][0]["data"]
    assert data["totalMarketG"] == summary.footprint.total_market_g
    assert float(pact["pcf"]["pCfExcludingBiogenic"]) == pytest.approx(
        summary.footprint.total_market_g / mass, abs=1e-6)  # fmt: skip
    pdf = client.products.passport_pdf(RIM, "R1")
    assert pdf.startswith(b"%PDF")
    assert pdf == render_passport_pdf(proof)
    tampered = {**proof, "records": [dict(r) for r in proof["records"]]}
    fp = next(r for r in tampered["records"] if r["key"].startswith("products/footprint/"))
    fp["value"] = fp["value"].replace('"total_market_g":', '"total_market_g":1', 1)
    with pytest.raises(ProductProofError) as err:
        verify_product_proof(tampered, keys)
    assert err.value.reason == "state_proof"


def test_an_item_proof_carries_its_custody_chain(client: Client, keys: dict[str, Any]) -> None:
    summary = verify_product_proof(client.products.item_proof(RIM, "S2"), keys, seen_at="homes")
    assert summary.verdict == "genuine"
    assert [e.type for e in summary.events] == ["registered", "shipped", "received"]
    other = verify_product_proof(client.products.item_proof(RIM, "S2"), keys, seen_at="solar")
    assert (other.verdict, other.reasons) == ("suspicious", ["two_holders"])


def test_cbam_report(client: Client, chain: CertChain) -> None:
    report = client.products.cbam("s-sun", 0, chain.clock.ms // 1000 + 1)
    (goods,) = report["goods"]
    assert (goods["cn_code"], goods["batches"], goods["mass_g"]) == ("87087010", 1, 360_000)
    (pre,) = goods["precursors"]
    assert (pre["gtin"], pre["mass_g"], pre["cn_code"]) == (INGOT, 360_000, "76011000")
    assert goods["indirect_g"] == pre["indirect_g"]  # the rims' own site metered nothing
    assert (
        goods["see_total_t_per_t"] == f"{(goods['direct_g'] + goods['indirect_g']) / 360_000:.6f}"
    )
    pdf = client.products.cbam_pdf("s-sun", 0, chain.clock.ms // 1000 + 1)
    assert pdf.startswith(b"%PDF")


def test_the_cli_moves_items_and_checks_proofs_offline(
    chain: CertChain, keys: dict[str, Any], tmp_path: Path
) -> None:
    with node_cli(chain, PARTIES) as cli:
        shown = json.loads(cli.run("products", "batch", "6950000000019", "L1").stdout)
        assert shown["custody"]["holdings"]["homes"] == 600
        cli.events("products", "items", "--from", "sun", "--gtin", RIM, "--serial", "S3")
        assert cli.failed("products", "items", "--from", "sun", "--gtin", RIM,
                          "--serial", "S3") == "products.serial_exists"  # fmt: skip
        assert cli.failed("products", "ship", "--from", "ann", "--gtin", RIM, "--serial", "S3",
                          "--to", "homes") == "products.not_holder"  # fmt: skip
        cli.events("products", "ship", "--from", "sun", "--gtin", RIM, "--serial", "S3",
                   "--to", "homes")  # fmt: skip
        scanned = json.loads(cli.run("products", "scan", "--gtin", RIM, "--serial", "S3",
                                     "--seen-at", "homes").stdout)  # fmt: skip
        assert scanned["reasons"] == ["custody_gap"]
        proof, key_file = tmp_path / "r1.json", tmp_path / "keys.json"
        key_file.write_text(json.dumps(keys))
        cli.run("products", "export", RIM, "--lot", "R1", "--out", proof)
        checked = json.loads(cli.run("products", "verify", proof, "--keys", key_file,
                                     "--json").stdout)  # fmt: skip
        assert (checked["valid"], checked["lot"]) == (True, "R1")
        doc = json.loads(proof.read_text())
        doc["header"]["height"] += 1
        proof.write_text(json.dumps(doc))
        bad = cli.run("products", "verify", proof, "--keys", key_file, code=1)
        assert "product.header_hash" in bad.output
        pdf = tmp_path / "r1.pdf"
        cli.run("products", "passport", RIM, "R1", "--out", pdf)
        assert pdf.read_bytes().startswith(b"%PDF")


def test_a_cbam_report_checks_out_offline(
    client: Client, chain: CertChain, keys: dict[str, Any]
) -> None:
    doc = client.products.cbam_proof("s-sun", 0, chain.clock.ms // 1000 + 1)
    assert [p["subject"] for p in doc["passports"]] == [{"gtin": RIM, "lot": "R1"}]
    report = verify_cbam_proof(doc, keys)
    assert report["goods"][0]["lots"] == [f"{RIM}/R1"]
    forged = json.loads(json.dumps(doc))
    forged["report"]["goods"][0]["direct_g"] += 1
    with pytest.raises(CbamProofError) as err:
        verify_cbam_proof(forged, keys)
    assert err.value.reason == "figures"
    emptied = {**doc, "passports": []}
    with pytest.raises(CbamProofError) as err:
        verify_cbam_proof(emptied, keys)
    assert err.value.reason == "figures"
    other = client.products.cbam_proof("s-ann", 0, chain.clock.ms // 1000 + 1)
    with pytest.raises(CbamProofError) as err:
        verify_cbam_proof({**doc, "passports": other["passports"]}, keys)
    assert err.value.reason == "not_counted"
