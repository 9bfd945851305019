"""Certificates as verifiable documents: proof files, QR payloads, PDFs, the API and the CLI.

* every case of ``tests/vectors/certificates.json`` replayed against the Python verifier, and
  every byte class of a genuine file altered one at a time and refused;
* the verifier's bundle hash and key layout, written from the documentation, agree with the
  contract's on bundles the contract made (issued, split, transferred, claimed);
* the QR payload's size and symbol, decoded by an independent reader (zxing-cpp) from segno's
  image and from the rectangles the PDF draws; the PDF's structure, fonts and text in both
  languages, read back from its content streams;
* a real node in a subprocess: the API's proof, PDF and QR answers and their refusals, and
  ``gridledger cert export`` / ``cert verify`` end to end, a withdrawal shown by a later file.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import zxingcpp
from PIL import Image, ImageDraw
from typer.testing import CliRunner, Result

from certificates_support import DAY0, HOUR, CertLedger
from fixtures_node import PASSPHRASE, derived_key, free_port
from gridledger.cli.main import app
from gridledger.contracts.certificates import IMMUTABLE_FIELDS as CONTRACT_FIELDS
from gridledger.contracts.certificates import Bundle, bundle_hash, keys
from gridledger.contracts.genesis import GenesisAccount
from gridledger.contracts.registry import keys as registry_keys
from gridledger.core.encoding import decode_json
from gridledger.core.localtime import LocalTime
from gridledger.core.types import Transaction
from gridledger.documents.pdf import render_pdf
from gridledger.documents.qr import PAPER_VERSION, qr_code
from gridledger.node.home import init_home, open_node
from gridledger.sdk import Client, sign_tx
from gridledger.sdk.certificate_proofs import (
    IMMUTABLE_FIELDS,
    CertificateProofError,
    QrPayload,
    bundle_hash_of,
    bundle_state_key,
    check_records,
    device_state_key,
    parse_qr_payload,
    qr_payload_of,
    verify_certificate_proof,
    verify_qr_payload,
)
from ledger_support import PRODUCER

VECTORS = Path(__file__).with_name("vectors") / "certificates.json"


@cache
def vectors() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return found


def file_of(delta: dict[str, Any]) -> dict[str, Any]:
    """A vector case's file: its base proof file, ``change`` set, ``remove`` taken out."""
    file = {**copy.deepcopy(vectors()["proofs"][delta["base"]]), **copy.deepcopy(delta["change"])}
    for name in delta["remove"]:
        file.pop(name, None)
    return file


def genuine() -> dict[str, Any]:
    return copy.deepcopy(vectors()["proofs"]["claimed"])


# the vectors -----------------------------------------------------------------------------------
@pytest.mark.parametrize("case", vectors()["cases"], ids=lambda c: c["name"])
def test_certificate_vector(case: dict[str, Any]) -> None:
    keys_file = case.get("keys", vectors()["keys"])
    file = file_of(case["file"])
    later = None if case["later"] is None else file_of(case["later"])
    expect = case["expect"]
    if not expect["valid"]:
        with pytest.raises(CertificateProofError) as refused:
            verify_certificate_proof(file, keys_file, later=later)
        assert refused.value.reason == expect["reason"]
        assert refused.value.code == f"certificate.{expect['reason']}"
        assert refused.value.message  # a sentence for people, never empty
        return
    summary = verify_certificate_proof(file, keys_file, later=later)
    shown = summary.to_json()
    for name, value in expect.items():
        if name == "valid":
            assert shown["valid"] is True
        elif name == "attested":
            assert summary.finality.attested == value
        elif name == "later":
            assert summary.later is not None
            assert {"height": summary.later.height, "status": summary.later.status,
                    "split_since": summary.later.split_since} == value  # fmt: skip
        else:
            assert shown[name] == value, name


@pytest.mark.parametrize("case", vectors()["qr"], ids=lambda c: c["name"])
def test_qr_vector(case: dict[str, Any]) -> None:
    proof = None if case["proof"] is None else vectors()["proofs"][case["proof"]]
    expect = case["expect"]
    if not expect["valid"]:
        with pytest.raises(CertificateProofError) as refused:
            verify_qr_payload(case["payload"], vectors()["keys"], proof=proof)
        assert refused.value.reason == expect["reason"]
        return
    shown = verify_qr_payload(case["payload"], vectors()["keys"], proof=proof).to_json()
    assert {k: shown[k] for k in ("proven", "claims", "claims_checked")} == {
        k: expect[k] for k in ("proven", "claims", "claims_checked")
    }


def test_the_vectors_cover_every_refusal_reason() -> None:
    reasons = {c["expect"].get("reason") for c in vectors()["cases"]} - {None}
    assert reasons == {
        "malformed", "bad_id", "header_hash", "bad_block_signature", "other_chain",
        "final_without_quorum", "wrong_key", "state_proof", "record_malformed",
        "record_mismatch", "bad_quantity", "bundle_hash", "device_mismatch", "withdrawn",
        "expired", "later_invalid", "later_mismatch", "later_not_later", "withdrawn_later",
        "expired_later",
    }  # fmt: skip
    qr = {c["expect"].get("reason") for c in vectors()["qr"]} - {None}
    assert qr == {"qr_malformed", "qr_mismatch", "bad_block_signature", "proposer_not_allowed",
                  "genesis", "other_chain"}  # fmt: skip


def test_the_documented_hash_bytes() -> None:
    example = vectors()["bundle_hash"]
    record = json.loads(example["record"])
    text = example["hashed_text"]
    assert text.startswith("gridledger/certificate/v1\n{")
    immutable = json.loads(text.split("\n", 1)[1])
    assert list(immutable) == sorted(IMMUTABLE_FIELDS)  # canonical: sorted keys
    assert immutable == {f: record.get(f) for f in IMMUTABLE_FIELDS}
    import hashlib

    assert hashlib.sha256(text.encode()).hexdigest() == example["hash"] == record["hash"]


# every byte ------------------------------------------------------------------------------------
def _leaves(obj: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, (*path, i))
    else:
        yield path, obj


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    changed = copy.deepcopy(obj)
    node = changed
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return changed


def _other_char(ch: str) -> str:
    return "0" if ch != "0" else "1"


def test_altering_any_byte_of_a_genuine_file_is_refused() -> None:
    """Every string of the file changed at its first, middle and last character, every integer
    moved by one, every boolean flipped: each is refused, with a reason. (Turning ``final``
    from true to false is the one change that is no forgery: the file then claims less.)"""
    base, keys_file = genuine(), vectors()["keys"]
    verify_certificate_proof(base, keys_file)
    tried = 0
    reasons: set[str] = set()
    for path, value in _leaves(base):
        variants: list[Any] = []
        if isinstance(value, str):
            for at in sorted({0, len(value) // 2, len(value) - 1}):
                variants.append(value[:at] + _other_char(value[at]) + value[at + 1 :])
            if re.fullmatch(r"[0-9a-f]{64}", value):
                variants.append(value.upper())  # the same bytes in other letters
        elif isinstance(value, bool):
            if path == ("final",):
                continue
            variants.append(not value)
        elif isinstance(value, int):
            variants += [value + 1, value - 1]
        for variant in variants:
            tried += 1
            with pytest.raises(CertificateProofError) as refused:
                verify_certificate_proof(_set(base, path, variant), keys_file)
            reasons.add(refused.value.reason)
    assert tried > 200
    assert {"state_proof", "header_hash", "bad_block_signature", "malformed",
            "final_without_quorum", "wrong_key"} <= reasons  # fmt: skip


def test_the_final_flag_set_false_is_a_smaller_claim_not_a_forgery() -> None:
    summary = verify_certificate_proof({**genuine(), "final": False}, vectors()["keys"])
    assert summary.final  # the attestations in the file still make it final


# the verifier agrees with the contract -----------------------------------------------------------
def test_hash_and_keys_agree_with_the_contract() -> None:
    assert IMMUTABLE_FIELDS == CONTRACT_FIELDS
    ledger = CertLedger().plant().home()
    hour = DAY0 + 10 * HOUR
    ledger.generate("m-gen", hour, [1200, 1300, 1250, 1100])
    ledger.generate("m-gen", hour + HOUR, [900, 800, 700, 600])
    ledger.issue("pv-1", [hour, hour + HOUR])
    first = ledger.bundles()[0]["id"]
    ledger.ok(PRODUCER, "certificates.split", {"bundle": first, "quantities": [1000, 3850]})
    records = ledger.bundles()
    assert len(records) == 3
    assert any(r.get("parent_hash") for r in records)
    for record in records:
        contract = bundle_hash(msgspec.convert(record, Bundle))
        assert bundle_hash_of(record) == contract == record["hash"]
        assert bundle_state_key(record["id"]).encode() == keys.bundle(
            record["device"], record["range_start"]
        )
    assert device_state_key("pv-1").encode() == registry_keys.device("pv-1")
    assert bundle_state_key("pv-1:12").endswith("/0000000000000000012")


# the QR code -----------------------------------------------------------------------------------
def _decode(image: Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image)]


def test_the_payload_is_small_and_its_qr_code_scans() -> None:
    payload = qr_payload_of(genuine())
    text = payload.text()
    assert text == vectors()["qr_payload"]["text"]
    assert len(text) < 300
    assert parse_qr_payload(text) == payload  # round trip
    code = qr_code(payload)
    assert code.version <= PAPER_VERSION
    assert code.version <= 12
    assert code.error in {"M", "Q", "H"}
    assert code.modules == 17 + 4 * code.version == len(code.matrix)
    image = Image.open(io.BytesIO(code.png(scale=6))).convert("L")
    assert _decode(image) == [text]
    svg = code.svg()
    assert svg.startswith("<svg")
    assert "</svg>" in svg


def _payload(id_chars: int, quantity: int, range_start: int, height: int, start: int) -> Any:
    return QrPayload(
        chain_id="c" * id_chars, bundle_id=f"{'d' * id_chars}:{range_start}",
        proposer="o" * id_chars, quantity_wh=quantity, production_start_s=start, height=height,
        bundle_hash="ab" * 32, block_hash="cd" * 32, signature="ed25519:" + "ef" * 64,
    )  # fmt: skip


def test_the_payload_sizes_the_formats_document() -> None:
    """ids of 24 characters with 12-digit Wh ids, 7-digit quantities and 10-digit heights stay
    under 300 characters (version 13); the longest the formats allow needs version 17, and
    still scans."""
    ordinary = qr_code(_payload(24, 9_999_999, 10**12 - 1, 10**10 - 1, 4_102_444_800))
    assert len(ordinary.text) < 300
    assert ordinary.version <= 13
    longest = qr_code(_payload(64, 2**63 - 1, 2**63 - 1, 2**63 - 1, 2**63 - 1))
    assert len(longest.text) == 454
    assert longest.version == 17
    assert _decode(Image.open(io.BytesIO(longest.png(scale=4))).convert("L")) == [longest.text]
    assert parse_qr_payload(longest.text).text() == longest.text


# the PDF ---------------------------------------------------------------------------------------
_STREAM = re.compile(rb"/Filter \[ /ASCII85Decode /FlateDecode \] /Length (\d+)\s*>>\s*stream\r?\n")
_RECT = re.compile(rb"n ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) re f\*")
_TOKEN = re.compile(rb"/(?P<font>F\d+) [\d.]+ Tf|\((?P<text>(?:\\.|[^\\)])*)\) Tj", re.S)


def _content(pdf: bytes) -> list[bytes]:
    """The page content streams: ASCII85, then zlib (what ReportLab writes)."""
    out = []
    for m in _STREAM.finditer(pdf):
        raw = pdf[m.end() : m.end() + int(m.group(1))].strip().removesuffix(b"~>")
        out.append(zlib.decompress(base64.a85decode(raw)))
    return out


def _unescape(literal: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(literal):
        c = literal[i]
        if c == 0x5C:  # backslash
            nxt = literal[i + 1 : i + 4]
            octal = re.match(rb"[0-7]{1,3}", nxt)
            if octal:
                out.append(int(octal.group(), 8))
                i += 1 + len(octal.group())
                continue
            out += {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(literal[i + 1 : i + 2],
                                                               literal[i + 1 : i + 2])  # fmt: skip
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


def _fonts(pdf: bytes) -> dict[bytes, bytes]:
    """Each font resource name (``F1``) and its base font (``Helvetica``, ``STSong-Light``)."""
    found = {}
    for m in re.finditer(rb"\d+ 0 obj(.*?)endobj", pdf, re.S):
        base, name = (
            re.search(rb"/BaseFont /(\S+)", m.group(1)),
            re.search(rb"/Name /(F\d+)", m.group(1)),
        )
        if base and name:
            found[name.group(1)] = base.group(1)
    return found


def _texts(pdf: bytes, streams: list[bytes]) -> str:
    """Every string drawn, decoded by its font: UTF-16BE for the CID font (UniGB-UCS2-H),
    Latin-1 for the standard ones."""
    fonts, found, font = _fonts(pdf), [], b""
    for m in _TOKEN.finditer(b"\n".join(streams)):
        if m.group("font"):
            font = fonts[m.group("font")]
            continue
        raw = _unescape(m.group("text"))
        found.append(raw.decode("utf-16-be") if font == b"STSong-Light" else raw.decode("latin-1"))
    return "\n".join(found)


def _qr_from_rects(stream: bytes) -> Image.Image:
    """The QR code as drawn: its unit squares' runs, rasterised at 8 px a module."""
    rects = [tuple(float(v) for v in m.groups()) for m in _RECT.finditer(stream)]
    unit = min(h for *_, h in rects)
    qr = [r for r in rects if abs(r[3] - unit) < 1e-6]
    left, bottom = min(r[0] for r in qr), min(r[1] for r in qr)
    top = max(r[1] + r[3] for r in qr)
    size = round((top - bottom) / unit) + 8
    image = Image.new("L", (size * 8, size * 8), 255)
    draw = ImageDraw.Draw(image)
    for x, y, w, _h in qr:
        col, row = round((x - left) / unit) + 4, round((top - y) / unit) - 1 + 4
        draw.rectangle([col * 8, row * 8, (col + round(w / unit)) * 8 - 1, row * 8 + 7], fill=0)
    return image


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_pdf_certificate(lang: str) -> None:
    proof = genuine()
    pdf = render_pdf(proof, lang)  # type: ignore[arg-type]
    assert pdf.startswith(b"%PDF-1.")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert b"/Count 1 /Kids" in pdf  # one page
    assert render_pdf(proof, lang) == pdf  # the same file, the same bytes  # type: ignore[arg-type]
    fonts = set(re.findall(rb"/BaseFont /([A-Za-z-]+)", pdf))
    assert (b"STSong-Light" in fonts) == (lang == "zh")
    streams = _content(pdf)
    text = _texts(pdf, streams)
    record = json.loads(proof["bundle"]["value"])
    for shown in ("pv-a:1", record["hash"], proof["block_hash"], "house-b", "tuv-shenzhen",
                  "2025-06-01 10:00 UTC", "production_starting_interval"):  # fmt: skip
        assert shown in text, shown
    if lang == "zh":
        assert "颗粒度绿色电力证书" in text
        assert "已申领" in text
        assert "1,000 瓦时" in text
    else:
        assert "Granular Energy Certificate" in text
        assert "claimed" in text
    # the QR code the page draws scans to the payload
    assert _decode(_qr_from_rects(streams[0])) == [qr_payload_of(proof).text()]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_pdf_certificate_prints_the_chains_local_time(lang: str) -> None:
    """A chain in Asia/Shanghai: every date and hour in its time, the zone named, UTC beside
    it; the proof file it renders keeps Unix seconds."""
    proof = genuine()
    before = json.dumps(proof, sort_keys=True)
    pdf = render_pdf(proof, lang, LocalTime("Asia/Shanghai"))  # type: ignore[arg-type]
    assert json.dumps(proof, sort_keys=True) == before
    text = " ".join(_texts(pdf, _content(pdf)).split())
    record = json.loads(proof["bundle"]["value"])
    assert record["production_start_s"] == 1_748_772_000  # 2025-06-01 10:00 UTC
    assert "2025-06-01 18:00 UTC+08:00 Asia/Shanghai (10:00 UTC)" in text
    # the headline's interval (the page's text extractor drops the en dash)
    if lang == "en":
        assert "produced 2025-06-01 18:00" in text
        assert "19:00 UTC+08:00 Asia/Shanghai Status at block" in text
    else:
        assert "2025-06-01 18:00 至 19:00（UTC+08:00 Asia/Shanghai）" in text
    assert "2025-06-01 10:00 UTC" not in text  # no time in UTC alone
    assert render_pdf(proof, lang) != pdf  # type: ignore[arg-type]


def test_a_pdf_is_not_rendered_from_a_file_whose_records_do_not_hold() -> None:
    forged = genuine()
    forged["bundle"]["value"] = forged["bundle"]["value"].replace('"house-b"', '"house-c"', 1)
    with pytest.raises(CertificateProofError) as refused:
        render_pdf(forged, "en")
    assert refused.value.reason == "state_proof"
    with pytest.raises(ValueError, match="language"):
        render_pdf(genuine(), "fr")  # type: ignore[arg-type]
    assert check_records(genuine()).bundle["id"] == "pv-a:1"


# a real node -----------------------------------------------------------------------------------
ENV = {"GRIDLEDGER_PASSPHRASE": PASSPHRASE, "GRIDLEDGER_HOME": None, "GRIDLEDGER_NODE": None}
ACCOUNTS = {"solar": ["producer"], "grid": ["grid_operator"], "gw": [], "tuv": ["certifier"],
            "flat": ["consumer"]}  # fmt: skip


def run(*args: str | Path, code: int = 0) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args], env=ENV)
    assert result.exit_code == code, (result.output, result.exception)
    return result


def _command() -> list[str]:
    script = Path(sys.executable).with_name("gridledger")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gridledger.cli"]


@dataclass
class CertNode:
    home: Path
    url: str
    chain_id: str
    bundle: str
    second: str
    hour: int


def _submit(node: Any, chain_id: str, sender: str, kind: str, body: dict[str, Any]) -> None:
    tx = Transaction(chain_id=chain_id, kind=kind, sender=sender,
                     nonce=node.next_nonce(sender), body=body)  # fmt: skip
    tx.signature = derived_key(sender).sign(tx.signing_bytes())
    stored = node.wait_receipt(node.submit_tx(tx), 10)
    assert stored is not None
    receipt = decode_json(stored.receipt)
    assert receipt["status"] == "ok", receipt


@pytest.fixture(scope="module")
def cert_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CertNode]:
    """A chain whose certifier issued two hours of a plant, served by ``gridledger node``."""
    home = tmp_path_factory.mktemp("certs") / "home"
    port = free_port()
    init_home(
        home, PASSPHRASE, chain_id="cert-docs", api=f"127.0.0.1:{port}",
        accounts=[GenesisAccount(id=a, org="operator", public_key=derived_key(a).public_key,
                                 roles=r) for a, r in ACCOUNTS.items()],
    )  # fmt: skip
    hour = int(time.time()) // 3600 * 3600 - 4 * 3600
    node = open_node(home, PASSPHRASE, verify_workers=0, block_interval_ms=20)
    try:
        node.start()
        submit = lambda s, k, b: _submit(node, "cert-docs", s, k, b)  # noqa: E731
        submit("solar", "registry.register_device", {
            "device": "pv-x", "name": "Nanshan school roof", "technology": "solar_pv",
            "fuel": "solar", "capacity_w": 5000, "commissioned": "2024-01-01", "country": "CN",
            "grid_region": "CN-GD", "support": "none"})  # fmt: skip
        submit("grid", "registry.register_meter", {"meter": "m-x", "kind": "generation",
                                                   "device": "pv-x", "gateway": "gw",
                                                   "interval_s": 900})  # fmt: skip
        submit("gw", "metering.submit", {"readings": [
            {"meter": "m-x", "start": hour + 900 * i, "length_s": 900, "energy_wh": 1000 + i}
            for i in range(8)]})  # fmt: skip
        submit("tuv", "certificates.issue", {"device": "pv-x", "to": "solar",
                                             "starts": [hour, hour + 3600]})  # fmt: skip
    finally:
        node.close()
    log = home / "node.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [*_command(), "node", "--home", str(home), "--workers", "0",
             "--block-interval-ms", "20"],
            env={**os.environ, "GRIDLEDGER_PASSPHRASE": PASSPHRASE},
            stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield CertNode(home, url, "cert-docs", "pv-x:1", f"pv-x:{1 + sum(range(1000, 1004))}",
                       hour)  # fmt: skip
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_api_serves_proof_pdf_and_qr(cert_node: CertNode) -> None:
    with httpx.Client(base_url=cert_node.url, timeout=30) as http:
        proof = http.get(f"/v1/certificates/{cert_node.bundle}/proof").json()
        assert proof["format"] == "gridledger/certificate-proof/v1"
        assert proof["bundle_id"] == cert_node.bundle
        assert proof["final"] is True
        genesis_keys = json.loads(run("query", "consortium-keys", "--home", cert_node.home,
                                      "--node", cert_node.url).stdout)  # fmt: skip
        summary = verify_certificate_proof(proof, genesis_keys)
        assert summary.bundle["quantity_wh"] == 1000 + 1001 + 1002 + 1003
        assert summary.bundle["issuing_body"] == "operator"
        assert summary.status == "active"

        pdf = http.get(f"/v1/certificates/{cert_node.bundle}/pdf", params={"lang": "zh"})
        assert pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF-")
        assert b"STSong-Light" in pdf.content

        qr = http.get(f"/v1/certificates/{cert_node.bundle}/qr").json()
        assert qr["payload"].startswith("GLC1:cert-docs/pv-x:1/operator/4006/")
        assert qr["characters"] == len(qr["payload"]) < 300
        assert qr["qr_version"] <= PAPER_VERSION
        assert qr["svg"].startswith("<svg")
        assert verify_qr_payload(qr["payload"], genesis_keys, proof=proof).claims_checked

        for path, status, code in (
            ("/v1/certificates/pv-x:99/proof", 404, "not_found"),
            ("/v1/certificates/nope:1/pdf", 404, "not_found"),
            ("/v1/certificates/pv-x:0/qr", 400, "api.invalid_request"),
            ("/v1/certificates/pv-x:01/proof", 400, "api.invalid_request"),
            ("/v1/certificates/PV-X:1/proof", 400, "api.invalid_request"),
            ("/v1/certificates/pv-x:99999999999999999999/proof", 400, "api.invalid_request"),
            (f"/v1/certificates/{cert_node.bundle}/pdf?lang=fr", 400, "api.invalid_request"),
        ):
            answer = http.get(path)
            assert answer.status_code == status, (path, answer.text)
            assert answer.json()["error"]["code"] == code, path


def test_cli_exports_and_verifies_offline(cert_node: CertNode, tmp_path: Path) -> None:
    node = ("--home", cert_node.home, "--node", cert_node.url)
    pdf, proof_path = tmp_path / "cert.pdf", tmp_path / "cert.json"
    shown = run("cert", "export", cert_node.bundle, "--out", pdf, "--lang", "zh", *node).stdout
    assert f"wrote {pdf}" in shown
    assert "PDF certificate (zh)" in shown
    assert pdf.read_bytes().startswith(b"%PDF-")
    run("cert", "export", cert_node.bundle, "--json", "--out", proof_path, *node)
    assert json.loads(proof_path.read_text())["bundle_id"] == cert_node.bundle

    # offline: the keys of HOME/genesis.json, then a keys file taken from the node
    ok = run("cert", "verify", proof_path, "--home", cert_node.home).stdout
    assert f"{cert_node.bundle}: valid" in ok
    assert "4006 Wh" in ok
    assert "active at block" in ok
    keys_file = tmp_path / "keys.json"
    run("query", "consortium-keys", "--out", keys_file, *node)
    found = json.loads(run("cert", "verify", proof_path, "--keys", keys_file, "--json").stdout)
    assert found["valid"] is True
    assert found["quantity_wh"] == 4006
    assert found["final"] is True
    # the genesis document itself serves as keys
    run("cert", "verify", proof_path, "--keys", cert_node.home / "genesis.json")

    # one byte changed: refused with its reason
    text = proof_path.read_text()
    tampered = tmp_path / "tampered.json"
    tampered.write_text(text.replace('\\"quantity_wh\\":4006', '\\"quantity_wh\\":4007', 1))
    assert tampered.read_text() != text
    refused = json.loads(run("cert", "verify", tampered, "--keys", keys_file, "--json",
                             code=1).stdout)  # fmt: skip
    assert refused["error"]["code"] == "certificate.state_proof"
    # keys of another consortium
    other = json.loads(keys_file.read_text())
    other["organisations"][0]["node_keys"][0]["node_key"] = derived_key("x").public_key
    (tmp_path / "other.json").write_text(json.dumps(other))
    refused = run("cert", "verify", proof_path, "--keys", tmp_path / "other.json", code=1)
    assert "certificate.bad_block_signature" in refused.output
    # no keys at all
    missing = run("cert", "verify", proof_path, "--home", tmp_path / "nowhere", code=1)
    assert "keys.missing" in missing.output

    # the QR payload: alone, and against the proof file
    payload = httpx.get(f"{cert_node.url}/v1/certificates/{cert_node.bundle}/qr").json()["payload"]
    alone = run("cert", "verify", payload, "--keys", keys_file).stdout
    assert "valid signature" in alone
    assert "not checked" in alone
    (tmp_path / "payload.txt").write_text(payload + "\n")
    both = json.loads(run("cert", "verify", tmp_path / "payload.txt", "--keys", keys_file,
                          "--proof", proof_path, "--json").stdout)  # fmt: skip
    assert both["claims_checked"] is True
    assert both["proof"]["bundle_id"] == cert_node.bundle
    broken = payload[:-3] + ("AAA" if not payload.endswith("AAA") else "BBB")
    refused = run("cert", "verify", broken, "--keys", keys_file, code=1)
    assert "certificate." in refused.output
    run("cert", "verify", "not-a-file-nor-payload", "--keys", keys_file, code=1)
    run("cert", "export", "pv-x:01", "--out", tmp_path / "x.pdf", *node, code=1)
    run("cert", "export", "pv-x:77", "--out", tmp_path / "x.pdf", *node, code=1)


def test_a_later_file_shows_the_certificate_withdrawn(cert_node: CertNode, tmp_path: Path) -> None:
    node = ("--home", cert_node.home, "--node", cert_node.url)
    before = tmp_path / "before.json"
    run("cert", "export", cert_node.second, "--json", "--out", before, *node)
    with Client(cert_node.url) as client:
        nonce = client.next_nonce("tuv")
        tx = sign_tx(derived_key("tuv"), cert_node.chain_id, "certificates.withdraw", "tuv", nonce,
                     {"bundle": cert_node.second, "reason": "meter replaced"})  # fmt: skip
        assert client.submit_and_wait(tx).ok
    after = tmp_path / "after.json"
    run("cert", "export", cert_node.second, "--json", "--out", after, *node)
    run("cert", "verify", before, "--home", cert_node.home)
    refused = run("cert", "verify", before, "--later", after, "--home", cert_node.home, code=1)
    assert "certificate.withdrawn_later" in refused.output
    assert "meter replaced" in refused.output
    refused = run("cert", "verify", after, "--home", cert_node.home, code=1)
    assert "certificate.withdrawn" in refused.output
