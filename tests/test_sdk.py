"""The SDK: signing, the client's calls and errors, and proof checks without a node."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest

from fixtures_node import CHAIN_ID, Chain, derived_key, free_port, running_chain
from gridledger.api import create_app
from gridledger.core import crypto
from gridledger.core.types import BlockHeader
from gridledger.sdk import (
    ApiError,
    Client,
    Committed,
    InvalidInput,
    ProofError,
    ReceiptTimeout,
    SdkError,
    TransactionFailed,
    TransportError,
    header_from_json,
    sign_tx,
    verify_header_signature,
    verify_state_proof,
    verify_tx_proof,
)

pytestmark = [
    # starlette's TestClient warns that it moves to the httpx2 package, and that per-request
    # timeouts (which the SDK always sets, for real servers) mean nothing in process
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`"),
    pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument"),
]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    with running_chain(tmp_path_factory.mktemp("sdk") / "home") as c:
        yield c


@pytest.fixture(scope="module")
def client(chain: Chain) -> Iterator[Client]:
    from starlette.testclient import TestClient

    with TestClient(create_app(chain.node)) as http, Client("http://testserver", http=http) as c:
        yield c


# signing ---------------------------------------------------------------------------------
def test_sign_tx_signs_the_canonical_unsigned_form() -> None:
    key = derived_key("alice")
    tx = sign_tx(key, CHAIN_ID, "funds.transfer", "alice", 7, {"to": "bob", "amount": 5})
    assert (tx.chain_id, tx.kind, tx.sender, tx.nonce) == (CHAIN_ID, "funds.transfer", "alice", 7)
    assert crypto.verify(key.public_key, tx.signing_bytes(), tx.signature)
    assert not crypto.verify(derived_key("bob").public_key, tx.signing_bytes(), tx.signature)


@pytest.mark.parametrize(
    ("nonce", "body", "code"),
    [
        (1, {"to": "bob", "amount": 1.5}, "tx.non_integer_number"),
        (1, {"to": "bob", "amounts": [1, 2**63]}, "tx.integer_out_of_range"),
        (-1, {"to": "bob", "amount": 1}, "tx.invalid_nonce"),
        (True, {"to": "bob", "amount": 1}, "tx.invalid_nonce"),
        (2**63, {"to": "bob", "amount": 1}, "tx.invalid_nonce"),
        (1, ["not", "a", "mapping"], "tx.invalid_body"),
    ],
)
def test_sign_tx_refuses_what_the_node_would(nonce: Any, body: Any, code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        sign_tx(derived_key("alice"), CHAIN_ID, "funds.transfer", "alice", nonce, body)
    assert err.value.code == code
    assert isinstance(err.value, SdkError)


# the client ------------------------------------------------------------------------------
def test_send_signs_submits_and_waits(client: Client, chain: Chain) -> None:
    before = chain.balance("bob")
    result = client.send(
        chain.keys["alice"], "alice", "funds.transfer", {"to": "bob", "amount": 25}, wait=10
    )
    assert isinstance(result, Committed)
    assert result.ok
    assert result.status == "ok"
    assert result.code is None
    assert result.events == [
        {"type": "funds.transferred", "sender": "alice", "to": "bob", "amount": 25}
    ]
    assert result.raise_for_status() is result
    assert chain.balance("bob") == before + 25
    assert client.receipt(result.hash) == result
    assert client.tx(result.hash)["height"] == result.height
    assert Committed.from_json(result.to_json()) == result


def test_send_returns_failed_receipts_and_raise_for_status(client: Client, chain: Chain) -> None:
    result = client.send(
        chain.keys["carol"], "carol", "funds.transfer", {"to": "bob", "amount": 10**15}
    )
    assert not result.ok
    assert result.code == "funds.insufficient_balance"
    with pytest.raises(TransactionFailed) as err:
        result.raise_for_status()
    assert err.value.code == "funds.insufficient_balance"
    assert err.value.result is result


def test_refusals_raise_api_error_with_code_and_status(client: Client, chain: Chain) -> None:
    with pytest.raises(ApiError) as err:
        client.send(chain.keys["alice"], "alice", "funds.mint", {"to": "alice", "amount": 1})
    assert (err.value.code, err.value.status) == ("auth.forbidden", 403)
    assert "operator" in err.value.message

    used = client.send(chain.keys["bob"], "bob", "funds.transfer", {"to": "alice", "amount": 1})
    tx = client.tx(used.hash)["tx"]
    with pytest.raises(ApiError) as err:
        client.send(
            chain.keys["bob"],
            "bob",
            "funds.transfer",
            {"to": "alice", "amount": 2},
            nonce=tx["nonce"],
        )
    assert (err.value.code, err.value.status) == ("tx.nonce_replayed", 409)

    with pytest.raises(ApiError) as err:
        client.account("nobody")
    assert (err.value.code, err.value.status) == ("not_found", 404)
    with pytest.raises(ApiError) as err:
        client.receipt("0" * 64, wait=0.1)
    assert err.value.code == "not_found"
    with pytest.raises(ApiError) as err:
        client.tx("not-a-hash")
    assert (err.value.code, err.value.status) == ("api.invalid_request", 400)


def test_send_refuses_bad_input_before_sending(client: Client, chain: Chain) -> None:
    with pytest.raises(InvalidInput) as err:
        client.send(chain.keys["alice"], "alice", "funds.transfer", {"to": "bob", "amount": 0.5})
    assert err.value.code == "tx.non_integer_number"
    with pytest.raises(InvalidInput) as err:
        client.send(chain.keys["alice"], "alice", "funds.transfer", {"to": "bob"}, wait=61)
    assert err.value.code == "sdk.invalid_wait"


def test_submit_many_reports_each_item(client: Client, chain: Chain) -> None:
    good = chain.sign("alice", "funds.transfer", {"to": "carol", "amount": 1})
    forged = chain.sign("bob", "funds.transfer", {"to": "carol", "amount": 1}, key=derived_key("x"))
    results = client.submit_many([good, json.loads(forged.encode()), b"not json"])
    assert results[0] == good.hash().hex()
    assert isinstance(results[1], ApiError)
    assert results[1].code == "tx.bad_signature"
    assert results[1].status is None
    assert isinstance(results[2], ApiError)
    assert results[2].code == "tx.malformed"
    assert client.receipt(good.hash().hex(), wait=10).ok


def test_queries(client: Client, chain: Chain) -> None:
    status = client.status()
    assert status["chain_id"] == client.chain_id == CHAIN_ID
    assert client.health()["ok"] is True
    assert "gridledger_height" in client.metrics()
    latest = client.latest_block()
    assert client.block(latest["height"]) == latest
    assert client.header(latest["height"])["hash"] == latest["hash"]
    page = client.blocks(from_height=0, limit=1, order="asc")
    assert [b["height"] for b in page["blocks"]] == [0]
    alice = client.account("alice")
    assert alice["next_nonce"] == client.next_nonce("alice") == chain.node.next_nonce("alice")
    assert [a["id"] for a in client.accounts(org="operator", limit=2)["accounts"]] == [
        "alice",
        "bob",
    ]
    assert [o["id"] for o in client.organisations()] == ["operator"]
    assert client.state("funds/balance/alice")["value"] == chain.balance("alice")


def test_state_keys_are_sent_exactly(client: Client) -> None:
    # characters that mean something in a URL must reach the node as part of the key
    for key in ("a b?c#d%e", "x/../y", "funds/./balance"):
        proof = client.state_proof(key)
        assert proof["key"] == key
        assert verify_state_proof(proof) is None
        with pytest.raises(ApiError) as err:
            client.state(key)
        assert err.value.code == "not_found"


def test_proofs_from_the_client_verify(client: Client, chain: Chain) -> None:
    result = client.send(chain.keys["alice"], "alice", "funds.transfer", {"to": "bob", "amount": 3})
    node_key = chain.node_key()
    tx = verify_tx_proof(client.tx_proof(result.hash), node_key=node_key)
    assert tx.hash().hex() == result.hash
    value = verify_state_proof(client.state_proof("funds/balance/alice"), node_key=node_key)
    assert value == str(chain.balance("alice")).encode()


def test_events_iterate_blocks(client: Client, chain: Chain) -> None:
    result = client.send(chain.keys["bob"], "bob", "funds.transfer", {"to": "carol", "amount": 1})
    events = client.events(from_height=result.height)
    try:
        first = next(events)
    finally:
        events.close()
    assert first["height"] == result.height
    assert {"hash": result.hash, "status": "ok"} in first["txs"]


# without a node --------------------------------------------------------------------------
def test_unreachable_node_is_a_transport_error() -> None:
    with Client(f"http://127.0.0.1:{free_port()}", timeout=2) as client:
        with pytest.raises(TransportError) as err:
            client.status()
        assert err.value.code == "sdk.unreachable"
        with pytest.raises(TransportError):
            next(client.events())


def test_client_refuses_a_non_http_url() -> None:
    with pytest.raises(InvalidInput) as err:
        Client("ftp://example.org")
    assert err.value.code == "sdk.invalid_url"


def test_api_error_from_a_non_json_answer() -> None:
    response = httpx.Response(502, text="<html>bad gateway</html>")
    err = ApiError.from_response(response)
    assert (err.code, err.status) == ("http.502", 502)
    assert "bad gateway" in err.message


def test_committed_from_a_bad_response() -> None:
    with pytest.raises(SdkError) as err:
        Committed.from_json({"hash": "x", "height": 1})
    assert err.value.code == "sdk.bad_response"


def test_receipt_timeout_when_the_node_does_not_commit(tmp_path: Any) -> None:
    from starlette.testclient import TestClient

    # a node that admits but is not started never cuts a block
    with (
        running_chain(tmp_path / "home", start=False) as idle,
        TestClient(create_app(idle.node)) as http,
    ):
        client = Client("http://testserver", http=http)
        with pytest.raises(ReceiptTimeout) as err:
            client.send(idle.keys["alice"], "alice", "funds.transfer", {"to": "bob", "amount": 1},
                        wait=0.2)  # fmt: skip
        assert err.value.code == "sdk.receipt_timeout"
        assert len(err.value.tx_hash) == 64
        assert idle.node.pending == 1
        # the next send picks the nonce after the pending one
        with pytest.raises(ReceiptTimeout):
            client.send(idle.keys["alice"], "alice", "funds.transfer", {"to": "bob", "amount": 1},
                        wait=0.1)  # fmt: skip
        assert idle.node.pending == 2
        assert client.next_nonce("alice") == 3


def test_header_helpers(client: Client, chain: Chain) -> None:
    view = client.header(1)
    header = header_from_json(view["header"])
    assert isinstance(header, BlockHeader)
    assert header.hash().hex() == view["hash"]
    assert header_from_json(header) is header
    verify_header_signature(view["header"], view["signature"], chain.node_key())
    with pytest.raises(ProofError):
        verify_header_signature(view["header"], view["signature"], derived_key("x").public_key)
    with pytest.raises(ProofError):
        verify_header_signature({**view["header"], "height": 99}, view["signature"],
                                chain.node_key())  # fmt: skip
    for bad in ({"height": 1}, {**view["header"], "height": -1}, {**view["header"], "time": 1.5}):
        with pytest.raises(ProofError):
            header_from_json(bad)


@pytest.mark.parametrize(
    "damage",
    [
        {"tx_hex": "zz"},
        {"tx_hex": "AB"},
        {"audit_path": "not a list"},
        {"audit_path": ["xyz"]},
        {"tree_size": True},
        {"header": None},
        {"block_hash": None},
    ],
)
def test_tx_proof_with_malformed_parts_is_refused(
    client: Client, chain: Chain, damage: dict[str, Any]
) -> None:
    result = client.send(chain.keys["alice"], "alice", "funds.transfer", {"to": "bob", "amount": 1})
    proof = client.tx_proof(result.hash)
    verify_tx_proof(proof)
    with pytest.raises(ProofError):
        verify_tx_proof({**proof, **damage})


@pytest.mark.parametrize(
    "damage",
    [
        {"proof": {"levels": "x", "terminal": None}},
        {"proof": {"levels": [["zz"] * 16], "terminal": None}},
        {"proof": {"levels": [], "terminal": {"path": "00", "leaf_hash": "00"}}},
        {"value_hex": "not hex"},
        {"key": 5},
    ],
)
def test_state_proof_with_malformed_parts_is_refused(
    client: Client, damage: dict[str, Any]
) -> None:
    proof = client.state_proof("funds/balance/alice")
    assert verify_state_proof(proof) is not None
    with pytest.raises(ProofError):
        verify_state_proof({**proof, **damage})


def test_proof_json_round_trips_through_files(client: Client, tmp_path: Any) -> None:
    # a proof exported to a file and read back elsewhere still checks
    proof = client.state_proof("registry/account/alice")
    path = tmp_path / "proof.json"
    path.write_bytes(msgspec.json.encode(proof))
    assert verify_state_proof(json.loads(path.read_text())) is not None


def test_community_consent_through_the_sdk(client: Client, chain: Chain) -> None:
    from gridledger.contracts import community
    from gridledger.sdk.errors import ApiError, InvalidInput

    key = chain.keys["carol"]
    assert client.community.opt_in(key, "carol", pseudonym="Quiet Roof").ok
    (found,) = community.ranked(chain.node.state.view)
    assert (found.account, found.pseudonym) == ("carol", "Quiet Roof")
    with pytest.raises(InvalidInput) as refused:  # refused before anything is sent
        client.community.opt_in(key, "carol", pseudonym="x")
    assert refused.value.code == "community.invalid_pseudonym"
    assert client.community.set_streak_share(key, "carol", share_permille=700).ok
    assert client.community.revoke(key, "carol").ok
    assert community.ranked(chain.node.state.view) == []
    # alice is no consumer: the node refuses at admission
    with pytest.raises(ApiError) as forbidden:
        client.community.revoke(chain.keys["alice"], "alice")
    assert forbidden.value.code == "auth.forbidden"
