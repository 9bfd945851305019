"""The HTTP API, one suite run twice: in process (ASGI) and against uvicorn on 127.0.0.1.

Every test leaves no transaction pending, so each can compare the chain before and after.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from fixtures_node import CHAIN_ID, Chain, check, derived_key, running_chain
from gridledger.api import ApiServer, create_app
from gridledger.api.schemas import (
    Account,
    AccountPage,
    BatchItem,
    BlockEvent,
    BlockPage,
    BlockView,
    ChainRules,
    Committed,
    Device,
    DevicePage,
    ErrorResponse,
    HeaderView,
    Meter,
    MeterPage,
    Organisations,
    ReadingPage,
    ReadingProof,
    Site,
    SitePage,
    StateProofView,
    StateValue,
    Status,
    Totals,
    TxProof,
    TxView,
)
from gridledger.contracts.rules import Rules
from gridledger.core.types import Transaction
from gridledger.sdk import ApiError, Client, ProofError, verify_state_proof, verify_tx_proof

# starlette's TestClient warns that it will move to the httpx2 package; this project uses httpx
pytestmark = [
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`"),
    # per-request timeouts (which the SDK always sets, for real servers) mean nothing in process
    pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument"),
]

HEX64 = "0" * 64


def check_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    body = check(ErrorResponse, response, status)
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def snapshot(chain: Chain) -> tuple[Any, ...]:
    node = chain.node
    return (
        node.tip.height,
        node.tip.state_root,
        node.pending,
        tuple(chain.balance(a) for a in ("operator", "alice", "bob", "carol")),
        tuple(node.next_nonce(a) for a in ("operator", "alice", "bob", "carol")),
    )


@pytest.fixture(scope="class")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    with running_chain(tmp_path_factory.mktemp("api") / "home") as c:
        yield c


def _oversize(chain: Chain) -> bytes:
    return chain.sign(
        "alice",
        "funds.transfer",
        {"to": "bob", "amount": 1, "memo": "x" * (Rules().max_tx_bytes + 1)},
    ).encode()


def _resubmitted(chain: Chain) -> bytes:
    tx = chain.sign("alice", "funds.transfer", {"to": "bob", "amount": 1})
    assert chain.node.wait_receipt(chain.node.submit(tx.encode()), 10) is not None
    return tx.encode()


def _replayed(chain: Chain) -> bytes:
    tx = chain.sign("alice", "funds.transfer", {"to": "bob", "amount": 1})
    assert chain.node.wait_receipt(chain.node.submit(tx.encode()), 10) is not None
    other = chain.sign("alice", "funds.transfer", {"to": "bob", "amount": 2}, nonce=tx.nonce)
    return other.encode()


def _unsigned(chain: Chain) -> bytes:
    tx = chain.sign("alice", "funds.transfer", {"to": "bob", "amount": 1})
    tx.signature = ""
    return tx.encode()


def _foreign_algorithm(chain: Chain) -> bytes:
    tx = chain.sign("alice", "funds.transfer", {"to": "bob", "amount": 1})
    tx.signature = "rsa:" + "00" * 64
    return tx.encode()


def _float_amount(chain: Chain) -> bytes:
    tx = chain.sign("alice", "funds.transfer", {"to": "bob", "amount": 1})
    return tx.encode().replace(b'"amount":1,', b'"amount":1.5,')


REFUSALS: list[tuple[str, Callable[[Chain], bytes], int, str]] = [
    ("malformed json", lambda c: b'{"chain_id": ', 400, "tx.malformed"),
    ("empty body", lambda c: b"", 400, "tx.malformed"),
    ("not a transaction", lambda c: b'{"kind": "funds.transfer"}', 400, "tx.malformed"),
    ("json array", lambda c: b"[]", 400, "tx.malformed"),
    (
        "invalid utf-8",
        lambda c: (
            c.sign("alice", "funds.transfer", {"to": "bob", "amount": 1})
            .encode()
            .replace(b'"bob"', b'"b\xff\xfeb"')
        ),
        400,
        "tx.malformed",
    ),
    (
        "nested 1,000 levels",
        lambda c: (
            b'{"chain_id":"x","kind":"funds.transfer","sender":"alice","nonce":1,"body":'
            + b'{"a":' * 1000
            + b"1"
            + b"}" * 1000
            + b',"signature":""}'
        ),
        400,
        "tx.malformed",
    ),
    (
        "wrong chain id",
        lambda c: c.sign(
            "alice", "funds.transfer", {"to": "bob", "amount": 1}, chain_id="other-chain"
        ).encode(),
        400,
        "tx.wrong_chain",
    ),
    (
        "bad signature",
        lambda c: c.sign(
            "alice", "funds.transfer", {"to": "bob", "amount": 1}, key=c.keys["bob"]
        ).encode(),
        400,
        "tx.bad_signature",
    ),
    ("missing signature", _unsigned, 400, "tx.missing_signature"),
    ("unsupported algorithm", _foreign_algorithm, 400, "tx.unsupported_algorithm"),
    ("replayed nonce", _replayed, 409, "tx.nonce_replayed"),
    ("resubmitted transaction", _resubmitted, 409, "tx.duplicate"),
    (
        "nonce zero",
        lambda c: c.sign("alice", "funds.transfer", {"to": "bob", "amount": 1}, nonce=0).encode(),
        409,
        "tx.nonce_replayed",
    ),
    (
        "unknown kind",
        lambda c: c.sign("alice", "funds.steal", {"to": "bob", "amount": 1}).encode(),
        400,
        "tx.unknown_kind",
    ),
    ("oversize", _oversize, 413, "tx.oversize"),
    ("float amount", _float_amount, 400, "tx.non_integer_number"),
    (
        "negative amount",
        lambda c: c.sign("alice", "funds.transfer", {"to": "bob", "amount": -5}).encode(),
        400,
        "funds.invalid_amount",
    ),
    (
        "amount as text",
        lambda c: c.sign("alice", "funds.transfer", {"to": "bob", "amount": "5"}).encode(),
        400,
        "tx.invalid_body",
    ),
    (
        "integer out of range",
        lambda c: c.sign("alice", "funds.transfer", {"to": "bob", "amount": 2**64}).encode(),
        400,
        "tx.integer_out_of_range",
    ),
    (
        "unknown sender",
        lambda c: c.sign(
            "mallory", "funds.transfer", {"to": "bob", "amount": 1}, key=derived_key("mallory")
        ).encode(),
        400,
        "tx.unknown_sender",
    ),
    (
        "unknown recipient",
        lambda c: c.sign("alice", "funds.transfer", {"to": "nobody", "amount": 1}).encode(),
        400,
        "registry.unknown_account",
    ),
    (
        "forbidden role",
        lambda c: c.sign("alice", "funds.mint", {"to": "alice", "amount": 1000}).encode(),
        403,
        "auth.forbidden",
    ),
]


@dataclass(frozen=True)
class Assets:
    chain: Chain
    base: int
    """Start of the first reading: a whole hour, four hours before the fixture ran."""


def _committed(chain: Chain, tx: Transaction) -> None:
    stored = chain.node.wait_receipt(chain.node.submit(tx.encode()), 10)
    assert stored is not None
    receipt = json.loads(stored.receipt)
    assert receipt["status"] == "ok", receipt


def make_assets(chain: Chain) -> Assets:
    """pv-1 (alice's 10 kW PV: meters m-gen, 15 min, and m-gen2, 1 h), pv-2 (no meter) and
    home-1 (meter m-con, 1 h), all reported by bob; the operator corrects one reading."""
    for role in ("grid_operator", "producer"):
        _committed(chain, chain.sign("operator", "registry.grant_role",
                                     {"account": "operator", "role": role}))  # fmt: skip
    device = {"name": "Roof PV", "technology": "solar_pv", "fuel": "solar", "capacity_w": 10_000,
              "commissioned": "2024-01-01", "country": "CN", "grid_region": "CN-GD"}  # fmt: skip
    _committed(
        chain, chain.sign("operator", "registry.register_device", {"device": "pv-1", **device})
    )
    wind = {**device, "device": "pv-2", "technology": "wind_onshore"}
    _committed(chain, chain.sign("operator", "registry.register_device", wind))
    site = {"site": "home-1", "name": "Flat 3", "country": "CN", "grid_region": "CN-GD",
            "max_wh_per_hour": 5_000}  # fmt: skip
    _committed(chain, chain.sign("operator", "registry.register_site", site))
    for meter, binding, interval in (
        ("m-gen", {"kind": "generation", "device": "pv-1"}, 900),
        ("m-gen2", {"kind": "generation", "device": "pv-1"}, 3600),
        ("m-con", {"kind": "consumption", "site": "home-1"}, 3600),
    ):
        body = {"meter": meter, "gateway": "bob", "interval_s": interval, **binding}
        _committed(chain, chain.sign("operator", "registry.register_meter", body))
    base = (int(time.time()) // 3600 - 4) * 3600
    readings = [
        *({"meter": "m-gen", "start": base + i * 900, "length_s": 900, "energy_wh": 100 + i}
          for i in range(8)),
        *({"meter": "m-gen2", "start": base + i * 3600, "length_s": 3600, "energy_wh": 1000 + i}
          for i in range(2)),
        *({"meter": "m-con", "start": base + i * 3600, "length_s": 3600, "energy_wh": 200 + i}
          for i in range(3)),
    ]  # fmt: skip
    _committed(chain, chain.sign("bob", "metering.submit", {"readings": readings}))
    correction = {"meter": "m-gen", "start": base, "energy_wh": 50, "reason": "meter swap"}
    _committed(chain, chain.sign("operator", "metering.correct", correction))
    return Assets(chain, base)


class ApiSuite:
    """Every endpoint's happy path and refusals; subclasses say how requests reach the app."""

    @pytest.fixture(scope="class")
    @classmethod
    def http(cls, chain: Chain) -> Iterator[httpx.Client]:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def client(cls, http: httpx.Client) -> Client:
        return Client(str(http.base_url).rstrip("/"), http=http)

    def commit(self, http: httpx.Client, tx: Transaction) -> dict[str, Any]:
        body: dict[str, Any] = check(
            Committed, http.post("/v1/txs", params={"wait": 10}, content=tx.encode())
        )
        return body

    # node ----------------------------------------------------------------------------------
    def test_status_health_metrics_openapi(self, http: httpx.Client, chain: Chain) -> None:
        status = check(Status, http.get("/v1/status"))
        assert status["chain_id"] == CHAIN_ID
        assert status["height"] == chain.node.tip.height
        assert check(None, http.get("/healthz")) == {"ok": True, "height": status["height"]}
        metrics = http.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        assert f"gridledger_height {float(chain.node.tip.height)}" in metrics.text
        spec = http.get("/openapi.json").json()
        for path in ("/v1/txs", "/v1/txs/batch", "/v1/state/{key}/proof", "/v1/events"):
            assert path in spec["paths"]
        assert http.get("/docs").status_code == 200

    def test_chain_rules_by_height(self, http: httpx.Client, chain: Chain) -> None:
        now = check(ChainRules, http.get("/v1/chain/rules"))
        assert now["height"] == chain.node.tip.height + 1
        assert now["rules"]["max_tx_bytes"] == Rules().max_tx_bytes
        assert now["rules"]["proposers"] == ["operator"]
        assert "funds.transfer" in now["rules"]["kinds"]
        spec = http.get("/openapi.json").json()
        schema = spec["components"]["schemas"]["Rules"]["properties"]["max_tx_bytes"]
        assert "largest canonical transaction" in schema["description"]
        at = check(ChainRules, http.get("/v1/chain/rules", params={"height": 1}))
        assert at["height"] == 1
        check_error(http.get("/v1/chain/rules", params={"height": 0}), 400, "api.invalid_request")

    # submitting ----------------------------------------------------------------------------
    def test_submit_and_wait_returns_receipt(self, http: httpx.Client, chain: Chain) -> None:
        before = chain.balance("alice")
        tx = chain.sign("operator", "funds.mint", {"to": "alice", "amount": 500})
        body = self.commit(http, tx)
        assert body["hash"] == tx.hash().hex()
        assert body["receipt"]["status"] == "ok"
        assert body["receipt"]["events"] == [{"type": "funds.minted", "to": "alice", "amount": 500}]
        assert chain.balance("alice") == before + 500
        located = chain.node.store.locate_tx(tx.hash())
        assert located == (body["height"], body["index"])

    def test_submit_is_accepted_then_receipt_waits(self, http: httpx.Client, chain: Chain) -> None:
        tx = chain.sign("bob", "funds.transfer", {"to": "carol", "amount": 7, "memo": "tea"})
        accepted = check(None, http.post("/v1/txs", content=tx.encode()), 202)
        assert accepted == {"hash": tx.hash().hex()}
        got = check(Committed, http.get(f"/v1/txs/{accepted['hash']}/receipt?wait=10"))
        assert got["receipt"]["status"] == "ok"
        assert check(Committed, http.get(f"/v1/txs/{accepted['hash']}/receipt")) == got

    def test_receipt_of_unknown_tx_is_404_after_wait(self, http: httpx.Client) -> None:
        start = time.monotonic()
        check_error(http.get(f"/v1/txs/{HEX64}/receipt", params={"wait": 0.3}), 404, "not_found")
        assert time.monotonic() - start >= 0.25
        check_error(http.get(f"/v1/txs/{HEX64}"), 404, "not_found")
        check_error(http.get(f"/v1/txs/{HEX64}/proof"), 404, "not_found")

    def test_failed_execution_is_a_receipt_not_a_refusal(
        self, http: httpx.Client, chain: Chain
    ) -> None:
        # admitted (balances are only known at execution), then failed; only the nonce moves
        before = chain.balance("carol"), chain.balance("bob")
        tx = chain.sign("carol", "funds.transfer", {"to": "bob", "amount": 10**12})
        body = self.commit(http, tx)
        assert body["receipt"]["status"] == "failed"
        assert body["receipt"]["code"] == "funds.insufficient_balance"
        assert (chain.balance("carol"), chain.balance("bob")) == before
        assert chain.node.next_nonce("carol") == tx.nonce + 1

    def test_batch_items_with_undecodable_bytes_are_judged_alone(
        self, http: httpx.Client, chain: Chain
    ) -> None:
        """Invalid UTF-8 or nesting too deep in one item refuses that item, not the batch."""
        good = chain.sign("alice", "funds.transfer", {"to": "bob", "amount": 2})
        bad = good.encode().replace(b'"bob"', b'"b\xff\xfeb"')
        deep = b"[" * 1000 + b"]" * 1000
        body = b"[" + bad + b", " + deep + b",\n" + good.encode() + b"]"
        results = check(BatchItem, http.post("/v1/txs/batch", content=body))
        assert [r.get("error", {}).get("code") for r in results] == [
            "tx.malformed", "tx.malformed", None,
        ]  # fmt: skip
        assert results[2] == {"hash": good.hash().hex()}
        check(Committed, http.get(f"/v1/txs/{good.hash().hex()}/receipt", params={"wait": 10}))
        for not_a_batch in (b"{}", b"[1,,2]", b"[[]", b"\xff"):
            check_error(http.post("/v1/txs/batch", content=not_a_batch), 400,
                        "api.invalid_request")  # fmt: skip

    @pytest.mark.parametrize(
        ("case", "build", "status", "code"), REFUSALS, ids=[r[0] for r in REFUSALS]
    )
    def test_refusal_changes_nothing(
        self,
        http: httpx.Client,
        chain: Chain,
        case: str,
        build: Callable[[Chain], bytes],
        status: int,
        code: str,
    ) -> None:
        raw = build(chain)
        before = snapshot(chain)
        check_error(http.post("/v1/txs", content=raw, params={"wait": 1}), status, code)
        if raw and case != "malformed json":
            # the same refusal as an item of a batch (which the two above cannot be)
            batch = http.post("/v1/txs/batch", content=b"[" + raw + b"]")
            [item] = check(BatchItem, batch)
            assert item["error"]["code"] == code
        time.sleep(0.05)  # more than a block interval: a wrongly admitted tx would commit now
        assert snapshot(chain) == before

    def test_batch_mixes_results_in_order(self, http: httpx.Client, chain: Chain) -> None:
        good = [
            chain.sign("alice", "funds.transfer", {"to": "bob", "amount": 3}),
            chain.sign("bob", "funds.transfer", {"to": "alice", "amount": 2}),
        ]
        bad = chain.sign("alice", "funds.mint", {"to": "alice", "amount": 1})
        body = b"[" + b",".join([good[0].encode(), bad.encode(), b"42", good[1].encode()]) + b"]"
        results = check(BatchItem, http.post("/v1/txs/batch", content=body))
        assert results[0] == {"hash": good[0].hash().hex()}
        assert results[1]["error"]["code"] == "auth.forbidden"
        assert results[2]["error"]["code"] == "tx.malformed"
        assert results[3] == {"hash": good[1].hash().hex()}
        for tx in good:
            got = check(Committed, http.get(f"/v1/txs/{tx.hash().hex()}/receipt?wait=10"))
            assert got["receipt"]["status"] == "ok"

    def test_batch_refusals(self, http: httpx.Client, chain: Chain) -> None:
        before = snapshot(chain)
        check_error(http.post("/v1/txs/batch", content=b'{"a": 1}'), 400, "api.invalid_request")
        check_error(http.post("/v1/txs/batch", content=b"[{"), 400, "api.invalid_request")
        too_many = b"[" + b",".join([b"{}"] * 10_001) + b"]"
        check_error(http.post("/v1/txs/batch", content=too_many), 413, "api.batch_too_large")
        assert check(BatchItem, http.post("/v1/txs/batch", content=b"[]")) == []
        assert snapshot(chain) == before

    # transactions and proofs -------------------------------------------------------------
    def test_tx_and_its_proof(self, http: httpx.Client, client: Client, chain: Chain) -> None:
        # three senders in one batch land in one block, so the audit path is not empty
        txs = [
            chain.sign(s, "funds.transfer", {"to": "carol", "amount": 1}) for s in ("alice", "bob")
        ]
        txs.append(chain.sign("operator", "funds.mint", {"to": "bob", "amount": 1}))
        client.submit_many(txs)
        for tx in txs:
            client.receipt(tx.hash().hex(), wait=10)
        target = txs[1].hash().hex()
        view = check(TxView, http.get(f"/v1/txs/{target}"))
        assert view["tx"] == json.loads(txs[1].encode())
        assert view["receipt"]["status"] == "ok"

        proof = check(TxProof, http.get(f"/v1/txs/{target}/proof"))
        assert proof["audit_path"]
        header = check(HeaderView, http.get(f"/v1/blocks/{proof['height']}/header"))
        proven = verify_tx_proof(proof, header=header["header"], node_key=chain.node_key())
        assert proven.hash() == txs[1].hash()

        def refused(**changes: Any) -> None:
            with pytest.raises(ProofError):
                verify_tx_proof({**proof, **changes}, node_key=chain.node_key())

        tampered = bytearray(bytes.fromhex(proof["tx_hex"]))
        tampered[-5] ^= 1
        refused(tx_hex=tampered.hex())
        refused(index=(proof["index"] + 1) % proof["tree_size"])
        refused(audit_path=[*reversed(proof["audit_path"]), HEX64])
        refused(tx={**proof["tx"], "nonce": proof["tx"]["nonce"] + 1})
        refused(header={**proof["header"], "tx_root": HEX64})
        refused(signature=chain.keys["alice"].sign(b"not a header"))
        with pytest.raises(ProofError):
            verify_tx_proof(proof, node_key=chain.keys["alice"].public_key)
        genesis = check(HeaderView, http.get("/v1/blocks/0/header"))
        with pytest.raises(ProofError):
            verify_tx_proof(proof, header=genesis["header"])

    # blocks --------------------------------------------------------------------------------
    def test_blocks(self, http: httpx.Client, client: Client, chain: Chain) -> None:
        client.send(chain.keys["alice"], "alice", "funds.transfer", {"to": "bob", "amount": 1})
        tip = chain.node.tip.height
        assert tip >= 1
        page = check(BlockPage, http.get("/v1/blocks", params={"limit": 2}))
        assert [b["height"] for b in page["blocks"]] == [tip, tip - 1]
        assert page["next"] == (tip - 2 if tip >= 2 else None)
        asc = check(
            BlockPage, http.get("/v1/blocks", params={"from": 0, "order": "asc", "limit": 2})
        )
        assert [b["height"] for b in asc["blocks"]] == [0, 1]
        assert asc["next"] == (2 if tip >= 2 else None)
        last = check(BlockPage, http.get("/v1/blocks", params={"from": tip, "order": "asc"}))
        assert [b["height"] for b in last["blocks"]] == [tip]
        assert last["next"] is None
        past = check(BlockPage, http.get("/v1/blocks", params={"from": tip + 5, "order": "asc"}))
        assert past == {"blocks": [], "next": None}

        latest = check(BlockView, http.get("/v1/blocks/latest"))
        assert latest["height"] == tip
        assert latest["header"]["tx_count"] == latest["tx_count"] == len(latest["txs"])
        same = check(BlockView, http.get(f"/v1/blocks/{tip}"))
        assert same == latest
        header = check(HeaderView, http.get(f"/v1/blocks/{tip}/header"))
        assert header["hash"] == latest["hash"] == chain.node.tip_hash.hex()
        genesis = check(BlockView, http.get("/v1/blocks/0"))
        assert genesis["txs"] == []
        assert genesis["signature"] == ""
        check_error(http.get(f"/v1/blocks/{tip + 1}"), 404, "not_found")
        check_error(http.get(f"/v1/blocks/{tip + 1}/header"), 404, "not_found")

    # state ---------------------------------------------------------------------------------
    def test_state_value_and_proof(self, http: httpx.Client, chain: Chain) -> None:
        value = check(StateValue, http.get("/v1/state/funds/balance/alice"))
        assert value["value"] == chain.balance("alice")
        assert bytes.fromhex(value["value_hex"]) == str(chain.balance("alice")).encode()
        record = check(StateValue, http.get("/v1/state/registry/account/bob"))
        assert record["value"]["public_key"] == chain.keys["bob"].public_key
        check_error(http.get("/v1/state/funds/balance/nobody"), 404, "not_found")

        proof = check(StateProofView, http.get("/v1/state/funds/balance/alice/proof"))
        proven = verify_state_proof(proof, node_key=chain.node_key())
        assert proven == bytes.fromhex(value["value_hex"])

        def refused(**changes: Any) -> None:
            with pytest.raises(ProofError):
                verify_state_proof({**proof, **changes})

        forged = str(proof["value"] + 1)
        refused(value_hex=forged.encode().hex(), value=proof["value"] + 1)
        refused(value=proof["value"] + 1)
        refused(key="funds/balance/bob")
        refused(value_hex=None, value=None)
        refused(header={**proof["header"], "state_root": HEX64})
        refused(proof={"levels": [[None] * 16], "terminal": None})
        with pytest.raises(ProofError):
            verify_state_proof(proof, node_key=chain.keys["bob"].public_key)

        absent = check(StateProofView, http.get("/v1/state/funds/balance/nobody/proof"))
        assert absent["value_hex"] is None
        assert verify_state_proof(absent) is None
        with pytest.raises(ProofError):
            verify_state_proof({**absent, "value_hex": "31", "value": 1})

    # accounts ------------------------------------------------------------------------------
    def test_accounts_and_organisations(self, http: httpx.Client, chain: Chain) -> None:
        alice = check(Account, http.get("/v1/accounts/alice"))
        assert alice["org"] == "operator"
        assert alice["public_key"] == chain.keys["alice"].public_key
        assert alice["balance"] == chain.balance("alice")
        assert alice["next_nonce"] == alice["nonce"] + 1 == chain.node.next_nonce("alice")
        carol = check(Account, http.get("/v1/accounts/carol"))
        assert carol["roles"] == ["consumer"]
        check_error(http.get("/v1/accounts/nobody"), 404, "not_found")
        check_error(http.get("/v1/accounts/Not-An-Id"), 400, "api.invalid_request")

        everyone = check(AccountPage, http.get("/v1/accounts"))
        ids = [a["id"] for a in everyone["accounts"]]
        assert ids == sorted(ids) == ["alice", "bob", "carol", "operator"]
        first = check(AccountPage, http.get("/v1/accounts", params={"limit": 2}))
        assert [a["id"] for a in first["accounts"]] == ["alice", "bob"]
        assert first["next"] == "bob"
        rest = check(AccountPage, http.get("/v1/accounts", params={"after": "bob"}))
        assert [a["id"] for a in rest["accounts"]] == ["carol", "operator"]
        assert rest["next"] is None
        none = check(AccountPage, http.get("/v1/accounts", params={"org": "elsewhere"}))
        assert none["accounts"] == []

        orgs = check(Organisations, http.get("/v1/organisations"))["organisations"]
        assert [o["id"] for o in orgs] == ["operator"]
        assert orgs[0]["node_key"] == chain.node_key()

    # bad requests ------------------------------------------------------------------------
    @pytest.mark.parametrize(
        ("method", "url", "status", "code"),
        [
            ("GET", "/v1/txs/ABCDEF" + "0" * 58, 400, "api.invalid_request"),
            ("GET", "/v1/txs/1234", 400, "api.invalid_request"),
            ("GET", f"/v1/txs/{HEX64}/receipt?wait=abc", 400, "api.invalid_request"),
            ("GET", f"/v1/txs/{HEX64}/receipt?wait=61", 400, "api.invalid_request"),
            ("GET", f"/v1/txs/{HEX64}/receipt?wait=nan", 400, "api.invalid_request"),
            ("POST", "/v1/txs?wait=-1", 400, "api.invalid_request"),
            ("GET", "/v1/blocks?limit=0", 400, "api.invalid_request"),
            ("GET", "/v1/blocks?limit=101", 400, "api.invalid_request"),
            ("GET", "/v1/blocks?order=sideways", 400, "api.invalid_request"),
            ("GET", "/v1/blocks?from=-3", 400, "api.invalid_request"),
            ("GET", "/v1/blocks/abc", 400, "api.invalid_request"),
            ("GET", "/v1/blocks/-1", 400, "api.invalid_request"),
            ("GET", f"/v1/blocks/{2**70}", 400, "api.invalid_request"),
            ("GET", "/v1/accounts?limit=0", 400, "api.invalid_request"),
            ("GET", "/v1/events?from_height=-1", 400, "api.invalid_request"),
            ("GET", "/v1/state/", 400, "api.invalid_request"),
            ("GET", "/v1/nothing-here", 404, "api.not_found"),
            ("DELETE", "/v1/status", 405, "api.method_not_allowed"),
            ("PUT", "/v1/txs", 405, "api.method_not_allowed"),
        ],
    )
    def test_bad_requests_get_a_code(
        self, http: httpx.Client, method: str, url: str, status: int, code: str
    ) -> None:
        check_error(http.request(method, url), status, code)

    def test_bad_last_event_id(self, http: httpx.Client) -> None:
        response = http.get("/v1/events", headers={"last-event-id": "yesterday"})
        check_error(response, 400, "api.invalid_request")

    # events --------------------------------------------------------------------------------
    def test_events_deliver_committed_blocks(self, client: Client, chain: Chain) -> None:
        listeners = len(chain.node._listeners)
        start = chain.node.tip.height + 1
        got: queue.Queue[dict[str, Any] | BaseException] = queue.Queue()

        def follow() -> None:
            events = client.events(from_height=start)
            try:
                for event in events:
                    got.put(event)
                    if event["tx_count"]:
                        return
            except BaseException as exc:
                got.put(exc)
            finally:
                events.close()

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        result = client.send(
            chain.keys["alice"], "alice", "funds.transfer", {"to": "bob", "amount": 2}
        )
        event = got.get(timeout=10)
        assert not isinstance(event, BaseException), event
        BlockEvent.model_validate(event)
        assert event["height"] == start == result.height
        assert event["txs"] == [{"hash": result.hash, "status": "ok"}]
        assert event["hash"] == chain.node.store.block(result.height).hash.hex()  # type: ignore[union-attr]
        reader.join(10)
        assert not reader.is_alive()
        deadline = time.monotonic() + 5
        while len(chain.node._listeners) > listeners and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(chain.node._listeners) == listeners

    def test_events_replay_with_last_event_id(self, http: httpx.Client, chain: Chain) -> None:
        if chain.node.tip.height < 1:
            self.commit(http, chain.sign("bob", "funds.transfer", {"to": "alice", "amount": 1}))
        tip = chain.node.tip.height
        lines: list[str] = []
        with http.stream(
            "GET", "/v1/events", headers={"last-event-id": str(tip - 1)}, timeout=10
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                lines.append(line)
                if line.startswith("data:") and json.loads(line[5:])["height"] == tip:
                    break
        assert lines[:2] == [f"id: {tip}", "event: block"]
        event = json.loads(lines[2].removeprefix("data: "))
        BlockEvent.model_validate(event)
        assert event["hash"] == chain.node.tip_hash.hex()

    # registry of assets and meter data ---------------------------------------------------
    @pytest.fixture(scope="class")
    @classmethod
    def assets(cls, chain: Chain) -> Assets:
        """A device with two meters and a site with one, reported by bob; one correction."""
        return make_assets(chain)

    def test_devices_sites_and_meters(
        self, http: httpx.Client, client: Client, assets: Assets
    ) -> None:
        devices = check(DevicePage, http.get("/v1/devices"))
        assert [d["id"] for d in devices["devices"]] == ["pv-1", "pv-2"]
        assert devices["devices"][0]["meters"] == ["m-gen", "m-gen2"]
        spec = http.get("/openapi.json").json()["paths"]
        for path in ("/v1/devices/{device}", "/v1/sites/{site}/readings", "/v1/totals",
                     "/v1/meters/{meter}/readings/{start}/proof"):  # fmt: skip
            assert path in spec
        assert devices["devices"][1]["meters"] == []
        assert devices["next"] is None
        first = check(DevicePage, http.get("/v1/devices", params={"limit": 1}))
        assert ([d["id"] for d in first["devices"]], first["next"]) == (["pv-1"], "pv-1")
        rest = check(DevicePage, http.get("/v1/devices", params={"after": "pv-1"}))
        assert [d["id"] for d in rest["devices"]] == ["pv-2"]
        wind = check(DevicePage, http.get("/v1/devices", params={"technology": "wind_onshore"}))
        assert [d["id"] for d in wind["devices"]] == ["pv-2"]
        assert (
            check(DevicePage, http.get("/v1/devices", params={"owner_org": "x"}))["devices"] == []
        )

        device = check(Device, http.get("/v1/devices/pv-1"))
        assert device == client.device("pv-1")
        assert (device["owner_org"], device["capacity_w"]) == ("operator", 10_000)
        assert device == {**assets.chain.node.state.view.get_json(b"registry/device/pv-1"),
                          "meters": ["m-gen", "m-gen2"]}  # fmt: skip

        sites = check(SitePage, http.get("/v1/sites"))
        assert [(s["id"], s["meters"]) for s in sites["sites"]] == [("home-1", ["m-con"])]
        assert check(Site, http.get("/v1/sites/home-1"))["max_wh_per_hour"] == 5_000
        assert client.sites(owner_org="operator")["sites"] == sites["sites"]

        meters = check(MeterPage, http.get("/v1/meters"))
        assert [m["id"] for m in meters["meters"]] == ["m-con", "m-gen", "m-gen2"]
        of_device = check(MeterPage, http.get("/v1/meters", params={"device": "pv-1"}))
        assert [m["id"] for m in of_device["meters"]] == ["m-gen", "m-gen2"]
        assert [m["id"] for m in client.meters(site="home-1")["meters"]] == ["m-con"]
        assert client.meters(gateway="alice")["meters"] == []
        assert client.meters(limit=2)["next"] == "m-gen"
        meter = check(Meter, http.get("/v1/meters/m-gen"))
        assert meter == {
            "id": "m-gen",
            "kind": "generation",
            "device": "pv-1",
            "gateway": "bob",
            "interval_s": 900,
            "registered_height": meter["registered_height"],
        }
        assert client.meter("m-con")["site"] == "home-1"
        assert client.devices(limit=1)["next"] == "pv-1"

    def test_meter_readings_with_corrections(
        self, http: httpx.Client, client: Client, assets: Assets
    ) -> None:
        base = assets.base
        page = check(ReadingPage, http.get("/v1/meters/m-gen/readings"))
        assert [r["start_s"] for r in page["readings"]] == [base + i * 900 for i in range(8)]
        assert (page["meter"], page["meters"], page["next"]) == ("m-gen", ["m-gen"], None)
        corrected = page["readings"][0]
        assert (corrected["energy_wh"], corrected["corrected_wh"]) == (100, 50)
        assert corrected["correction"]["original_wh"] == 100
        assert corrected["correction"]["by"] == "operator"
        assert page["readings"][1]["correction"] is None
        assert page["readings"][1]["corrected_wh"] is None

        params = {"from": base + 900, "to": base + 2700}
        window = check(ReadingPage, http.get("/v1/meters/m-gen/readings", params=params))
        assert [r["energy_wh"] for r in window["readings"]] == [101, 102]
        pages, start = [], None
        while True:
            got = client.readings("m-gen", start=start, limit=3)
            pages.append([r["start_s"] for r in got["readings"]])
            if got["next"] is None:
                break
            start = got["next"]
        assert pages == [[base, base + 900, base + 1800], [base + 2700, base + 3600, base + 4500],
                         [base + 5400, base + 6300]]  # fmt: skip
        assert list(client.iter_readings("m-gen", page_size=2)) == page["readings"]
        assert client.readings("m-gen", start=base + 8 * 900)["readings"] == []

    def test_device_and_site_readings(
        self, http: httpx.Client, client: Client, assets: Assets
    ) -> None:
        base = assets.base
        whole = check(ReadingPage, http.get("/v1/devices/pv-1/readings"))
        assert (whole["device"], whole["meters"]) == ("pv-1", ["m-gen", "m-gen2"])
        keys = [(r["start_s"], r["meter"]) for r in whole["readings"]]
        assert keys == sorted(keys)
        assert len(keys) == 10
        assert keys[:3] == [(base, "m-gen"), (base, "m-gen2"), (base + 900, "m-gen")]
        for size in (1, 2, 3):
            walked = list(client.iter_readings(device="pv-1", page_size=size))
            assert walked == whole["readings"], size
        one = client.readings(device="pv-1", limit=1)  # one interval is never split
        assert [r["meter"] for r in one["readings"]] == ["m-gen", "m-gen2"]
        assert one["next"] == base + 1
        site = check(ReadingPage, http.get("/v1/sites/home-1/readings", params={"to": base + 7200}))
        assert (site["site"], [r["energy_wh"] for r in site["readings"]]) == ("home-1", [200, 201])
        empty = check(ReadingPage, http.get("/v1/devices/pv-2/readings"))
        assert (empty["meters"], empty["readings"], empty["next"]) == ([], [], None)

    def test_totals(self, http: httpx.Client, client: Client, assets: Assets) -> None:
        base = assets.base
        window = {"from": base, "to": base + 3 * 3600}
        hourly = check(
            Totals, http.get("/v1/totals", params={**window, "meter": ["m-gen", "m-con"]})
        )
        assert hourly["meters"] == ["m-con", "m-gen"]
        assert hourly["totals"] == [
            {"start_s": base, "energy_wh": 200 + 50 + 101 + 102 + 103},
            {"start_s": base + 3600, "energy_wh": 201 + 104 + 105 + 106 + 107},
            {"start_s": base + 7200, "energy_wh": 202},
        ]
        assert hourly["energy_wh"] == sum(b["energy_wh"] for b in hourly["totals"])
        assert (hourly["from"], hourly["to"], hourly["interval_s"]) == (base, base + 10800, 3600)
        device = client.totals(base, base + 86_400, device="pv-1", interval_s=86_400)
        day = base - base % 86_400
        assert device["meters"] == ["m-gen", "m-gen2"]
        assert sum(b["energy_wh"] for b in device["totals"]) == 50 + sum(range(101, 108)) + 2001
        assert device["totals"][0]["start_s"] in {day, day + 86_400}
        quarters = client.totals(base, base + 1800, meters=["m-gen"], interval_s=900)
        assert quarters["totals"] == [{"start_s": base, "energy_wh": 50},
                                      {"start_s": base + 900, "energy_wh": 101}]  # fmt: skip
        site = client.totals(base, base + 3600, site="home-1")
        assert site["totals"] == [{"start_s": base, "energy_wh": 200}]
        nothing = client.totals(0, 3600, meters=["m-gen"])
        assert (nothing["totals"], nothing["energy_wh"]) == ([], 0)

    def test_reading_proof(self, http: httpx.Client, client: Client, assets: Assets) -> None:
        base = assets.base
        proof = check(ReadingProof, http.get(f"/v1/meters/m-gen/readings/{base}/proof"))
        assert (proof["meter"], proof["start_s"]) == ("m-gen", base)
        assert proof["key"] == f"metering/reading/m-gen/{base:010d}"
        value = verify_state_proof(proof, node_key=assets.chain.node_key())
        assert value is not None
        assert json.loads(value)["energy_wh"] == 100  # the original; the correction is beside it
        assert client.reading_proof("m-gen", base)["value"] == proof["value"]
        with pytest.raises(ProofError):
            verify_state_proof({**proof, "value_hex": b'{"energy_wh":1}'.hex(), "value": None})
        with pytest.raises(ProofError):
            verify_state_proof({**proof, "key": f"metering/reading/m-gen/{base + 900:010d}"})
        # the reading is in its block's log, and that block's seal in the state
        log = proof["log"]
        assert log["seal_key"] == f"metering/log/{log['height']:020d}"
        assert 0 <= log["index"] < log["count"]
        for tampered in (
            {**log, "index": (log["index"] + 1) % log["count"]} if log["count"] > 1 else None,
            {**log, "count": log["count"] + 1},
            {**log, "seal_key": f"metering/log/{log['height'] + 1:020d}"},
            {**log, "audit_path": [*log["audit_path"], "00" * 32]},
        ):
            if tampered is not None:
                with pytest.raises(ProofError):
                    verify_state_proof({**proof, "log": tampered})
        with pytest.raises(ProofError):  # a log proof never shows a reading absent
            verify_state_proof({**proof, "value_hex": None, "value": None})
        absent = http.get(f"/v1/meters/m-gen/readings/{base + 60}/proof")
        assert absent.status_code == 404
        assert absent.json()["error"]["code"] == "not_found"
        # as of the block before the reading's, the log did not hold it yet
        before = http.get(f"/v1/meters/m-gen/readings/{base}/proof?height={log['height'] - 1}")
        assert before.status_code == 404
        then = check(ReadingProof, http.get(
            f"/v1/meters/m-gen/readings/{base}/proof?height={log['height']}"))  # fmt: skip
        assert then["height"] == log["height"]
        assert verify_state_proof(then, node_key=assets.chain.node_key()) == value

    @pytest.mark.parametrize(
        ("url", "status", "code"),
        [
            ("/v1/devices/pv-404", 404, "not_found"),
            ("/v1/devices/PV-1", 400, "api.invalid_request"),
            ("/v1/devices?limit=0", 400, "api.invalid_request"),
            ("/v1/devices?limit=1001", 400, "api.invalid_request"),
            ("/v1/sites/home-404", 404, "not_found"),
            ("/v1/sites/home-404/readings", 404, "not_found"),
            ("/v1/meters/m-404", 404, "not_found"),
            ("/v1/meters/m%20gen", 400, "api.invalid_request"),
            ("/v1/meters/m-404/readings", 404, "not_found"),
            ("/v1/devices/pv-404/readings", 404, "not_found"),
            ("/v1/meters/m-gen/readings?from=-1", 400, "api.invalid_request"),
            ("/v1/meters/m-gen/readings?from=abc", 400, "api.invalid_request"),
            ("/v1/meters/m-gen/readings?to=10000000000", 400, "api.invalid_request"),
            ("/v1/meters/m-gen/readings?from=3600&to=3600", 400, "api.invalid_request"),
            ("/v1/meters/m-gen/readings?limit=0", 400, "api.invalid_request"),
            ("/v1/meters/m-gen/readings?limit=1001", 400, "api.invalid_request"),
            ("/v1/meters/m-404/readings/900/proof", 404, "not_found"),
            ("/v1/meters/m-gen/readings/-900/proof", 400, "api.invalid_request"),
            ("/v1/meters/m-gen/readings/later/proof", 400, "api.invalid_request"),
            ("/v1/totals?meter=m-gen&to=3600", 400, "api.invalid_request"),
            ("/v1/totals?meter=m-gen&from=0", 400, "api.invalid_request"),
            ("/v1/totals?from=0&to=3600", 400, "api.invalid_request"),
            ("/v1/totals?from=0&to=3600&meter=m-gen&site=home-1", 400, "api.invalid_request"),
            ("/v1/totals?from=0&to=3600&meter=m-gen&interval=60", 400, "api.invalid_request"),
            ("/v1/totals?from=0&to=3600&meter=m-gen&interval=hourly", 400, "api.invalid_request"),
            ("/v1/totals?from=0&to=31708801&meter=m-gen", 400, "api.invalid_request"),
            ("/v1/totals?from=3600&to=0&meter=m-gen", 400, "api.invalid_request"),
            ("/v1/totals?from=0&to=3600&meter=Bad%20Id", 400, "api.invalid_request"),
            ("/v1/totals?from=0&to=3600&meter=m-gen&meter=m-404", 404, "not_found"),
            ("/v1/totals?from=0&to=3600&device=pv-404", 404, "not_found"),
            ("/v1/totals?from=0&to=3600&site=home-404", 404, "not_found"),
        ],
    )
    def test_asset_and_reading_refusals(
        self, http: httpx.Client, assets: Assets, url: str, status: int, code: str
    ) -> None:
        check_error(http.get(url), status, code)


class TestInProcess(ApiSuite):
    """Requests go straight into the ASGI app (starlette's TestClient)."""

    @pytest.fixture(scope="class")
    @classmethod
    def http(cls, chain: Chain) -> Iterator[httpx.Client]:
        from starlette.testclient import TestClient

        with TestClient(create_app(chain.node)) as c:
            yield c


class TestLiveServer(ApiSuite):
    """Requests go over TCP to uvicorn on a free port of 127.0.0.1."""

    @pytest.fixture(scope="class")
    @classmethod
    def http(cls, chain: Chain) -> Iterator[httpx.Client]:
        with ApiServer(chain.node) as server, httpx.Client(base_url=server.url, timeout=15) as c:
            yield c


def test_live_server_stops_and_frees_its_port(tmp_path: Any) -> None:
    with running_chain(tmp_path / "home", start=False) as chain:
        server = ApiServer(chain.node)
        server.start()
        assert httpx.get(server.url + "/healthz").status_code == 200
        server.stop()
        with pytest.raises(httpx.ConnectError):
            httpx.get(server.url + "/healthz", timeout=2)
        again = ApiServer(chain.node, port=server.port)
        again.start()
        assert httpx.get(again.url + "/healthz").status_code == 200
        again.stop()


def test_halted_node_is_unhealthy(tmp_path: Any) -> None:
    from starlette.testclient import TestClient

    with (
        running_chain(tmp_path / "home", start=False) as chain,
        TestClient(create_app(chain.node)) as http,
    ):
        chain.node.halted = "OSError: disk full"
        check_error(http.get("/healthz"), 503, "node.halted")
        tx = chain.sign("alice", "funds.transfer", {"to": "bob", "amount": 1})
        error = check_error(http.post("/v1/txs", content=tx.encode()), 503, "node.halted")
        assert "disk full" in error["message"]
        check_error(http.post("/v1/txs/batch", content=b"[]"), 503, "node.halted")


def test_submit_raises_api_error_with_code(tmp_path: Any) -> None:
    from starlette.testclient import TestClient

    with (
        running_chain(tmp_path / "home", start=False) as chain,
        TestClient(create_app(chain.node)) as http,
    ):
        client = Client("http://testserver", http=http)
        tx = chain.sign("alice", "funds.mint", {"to": "alice", "amount": 1})
        with pytest.raises(ApiError) as err:
            client.submit(tx)
        assert (err.value.code, err.value.status) == ("auth.forbidden", 403)


def test_every_error_code_has_its_status() -> None:
    # importing gridledger.api (above) defined every error class: core, contracts and api
    from gridledger.api.errors import status_for
    from gridledger.core.errors import all_error_classes

    expected = {"auth.forbidden": 403, "tx.nonce_replayed": 409, "tx.duplicate": 409,
                "tx.oversize": 413, "tx.rate_limited": 429, "not_found": 404,
                "api.busy": 503, "api.body_timeout": 408}  # fmt: skip
    for cls in all_error_classes():
        status = status_for(cls())
        if cls.code in expected:
            assert status == expected[cls.code], cls.code
        elif cls.code.startswith(("tx.", "funds.", "registry.")):
            assert status == 400, cls.code
        elif cls.code.startswith("node."):
            assert status == 503, cls.code
        assert 400 <= status < 600
