"""Finality checked with the consortium's keys alone: the keys file, the SDK's verifier and
the command line, against a real node.

The node is an embedded one whose chain grows into a consortium through governance: the
operator adds utility-b (both propose from the next height, quorum 2 of 2) and the two rotate
utility-b's node key. Its proofs carry ``"final": true`` (an embedded node holds every block
final) and no attestations, so once two organisations propose, a verifier with the keys file
must refuse that claim until utility-b's attestation is added, signed with the key it has at
that height. ``tests/vectors/attestations.json`` covers every rule one case at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from fixtures_node import PASSPHRASE, Chain, derived_key, running_chain
from gridledger.api.server import ApiServer
from gridledger.cli.main import app
from gridledger.core.crypto import SigningKey
from gridledger.core.types import Attestation
from gridledger.sdk import (
    Client,
    ConsortiumKeys,
    FinalityError,
    KeysFileError,
    ProofError,
    export_keys,
    keys_from_genesis,
    load_keys,
    parse_keys,
    proof_finality,
    verify_finality,
    verify_state_proof,
    verify_tx_proof,
)
from gridledger.sdk.consortium_keys import KEYS_FORMAT

ENV = {"GRIDLEDGER_PASSPHRASE": PASSPHRASE, "GRIDLEDGER_HOME": None, "GRIDLEDGER_NODE": None}
NODE_B, NODE_B2 = derived_key("node-b"), derived_key("node-b-2")


def run(*args: str | Path, code: int = 0) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args], env=ENV)
    assert result.exit_code == code, (result.output, result.exception)
    return result


@dataclass
class Consortium:
    chain: Chain
    url: str
    before: ConsortiumKeys
    """The keys file while the operator proposed alone (exported before utility-b joined)."""
    single_proof: dict[str, Any]
    """A state proof of a block the operator alone could propose."""
    joined: int
    """The first height utility-b proposes at."""
    rotated: int
    """The first height utility-b signs with ``NODE_B2``."""


def _send(client: Client, chain: Chain, sender: str, kind: str, body: dict[str, Any]) -> int:
    result = client.send(chain.keys[sender], sender, kind, body, wait=10)
    assert result.ok, result.message
    return result.height


@pytest.fixture(scope="module")
def consortium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Consortium]:
    with (
        running_chain(tmp_path_factory.mktemp("finality") / "home") as chain,
        ApiServer(chain.node) as server,
        Client(server.url, timeout=10) as client,
    ):
        _send(client, chain, "alice", "funds.transfer", {"to": "bob", "amount": 5})
        before = export_keys(client)
        single_proof = client.state_proof("funds/balance/bob")
        added = _send(client, chain, "operator", "consortium.propose", {"action": {
            "type": "add_organisation", "org": "utility-b", "name": "Utility B",
            "roles": ["operator", "producer"], "node_key": NODE_B.public_key,
            "etcd_peer_url": "https://b.example:2380", "etcd_client_url": "https://b.example:2379",
            "api_url": "https://b.example:8443"}})  # fmt: skip
        chain.keys["operator-b"] = derived_key("operator-b")
        _send(client, chain, "operator", "registry.add_account", {
            "account": "operator-b", "org": "utility-b", "roles": ["operator"],
            "public_key": chain.keys["operator-b"].public_key})  # fmt: skip
        action = {"type": "rotate_node_key", "org": "utility-b", "node_key": NODE_B2.public_key}
        _send(client, chain, "operator", "consortium.propose", {"action": action})
        proposal = client._get("/v1/consortium/proposals")["proposals"][-1]["proposal"]["id"]
        rotated = _send(client, chain, "operator-b", "consortium.approve", {"proposal": proposal})
        _send(client, chain, "alice", "funds.transfer", {"to": "bob", "amount": 7})
        yield Consortium(chain, server.url, before, single_proof, added + 1, rotated + 1)


def attest(proof: dict[str, Any], org: str, key: SigningKey) -> dict[str, Any]:
    """``org``'s attestation of the proof's block, signed with ``key``."""
    header = proof["header"]
    att = Attestation(header["chain_id"], header["height"], proof["block_hash"],
                      header["state_root"], org)  # fmt: skip
    att.signature = key.sign(att.signing_bytes())
    return {"chain_id": att.chain_id, "height": att.height, "block_hash": att.block_hash,
            "state_root": att.state_root, "org": att.org, "signature": att.signature}  # fmt: skip


# the keys file ---------------------------------------------------------------------------------
def test_exported_keys_follow_membership_and_rotation(consortium: Consortium) -> None:
    with Client(consortium.url) as client:
        keys = export_keys(client)
        tip = client.status()["height"]
    assert keys.up_to_height == tip + 1
    assert keys.proposers_at(consortium.joined - 1) == ["operator"]
    assert keys.proposers_at(consortium.joined) == ["operator", "utility-b"]
    assert keys.node_key_at("utility-b", consortium.joined - 1) is None
    assert keys.node_key_at("utility-b", consortium.rotated - 1) == NODE_B.public_key
    assert keys.node_key_at("utility-b", consortium.rotated) == NODE_B2.public_key
    assert keys.node_key_at("operator", 0) == consortium.chain.node_key()
    # what the file says is what the file reads back as
    assert parse_keys(json.loads(keys.dumps())) == keys
    assert json.loads(keys.dumps())["format"] == KEYS_FORMAT
    # the earlier export knew one organisation, exactly up to its own height
    assert sorted(consortium.before.node_keys) == ["operator"]
    assert consortium.before.up_to_height < consortium.joined


def test_keys_from_genesis_are_exact_up_to_height_one(consortium: Consortium) -> None:
    from gridledger.contracts.genesis import load as load_genesis

    genesis = load_genesis((consortium.chain.home / "genesis.json").read_bytes())
    keys = keys_from_genesis(genesis)
    assert keys.up_to_height == 1
    assert keys.proposers_at(1) == ["operator"]
    assert keys.node_key_at("operator", 0) == consortium.chain.node_key()
    assert keys.proposers_at(0) == []


def test_load_keys_refuses_what_is_not_a_keys_file(tmp_path: Path) -> None:
    with pytest.raises(KeysFileError) as err:
        load_keys(tmp_path / "missing.json")
    assert err.value.code == "keys.invalid"
    (tmp_path / "not.json").write_text("{nope")
    with pytest.raises(KeysFileError, match="not JSON"):
        load_keys(tmp_path / "not.json")
    with pytest.raises(KeysFileError, match="format"):
        load_keys(b'{"format":"x","chain_id":"c","up_to_height":1,"organisations":[],'
                  b'"proposers":[]}')  # fmt: skip


# proofs with the keys --------------------------------------------------------------------------
def test_a_single_organisations_block_is_final_by_its_signature(consortium: Consortium) -> None:
    proof = consortium.single_proof
    assert proof["final"] is True
    assert proof["attestations"] == []
    assert verify_state_proof(proof, keys=consortium.before) is not None
    result = proof_finality(proof, consortium.before)
    assert (result.final, result.attested, result.quorum) == (True, ["operator"], 1)
    assert result.proposer_signed
    assert not result.beyond_keys
    # the same block with the later file: history does not change
    with Client(consortium.url) as client:
        assert proof_finality(proof, export_keys(client)).final


def test_a_final_claim_needs_the_quorum_of_its_height(consortium: Consortium) -> None:
    with Client(consortium.url) as client:
        keys = export_keys(client)
        proof = client.state_proof("funds/balance/bob")
        tx_proof = client.tx_proof(client.latest_block()["txs"][0]["hash"])
    assert proof["height"] >= consortium.rotated
    # with two proposers and no attestations the node no longer holds its blocks final
    assert (proof["final"], proof["attestations"]) == (False, [])
    assert verify_state_proof(proof, keys=keys) is not None
    result = proof_finality(proof, keys)
    assert (result.final, result.attested, result.quorum) == (False, ["operator"], 2)
    # a file claiming final on the proposer's signature alone (1 of 2) is refused
    claimed = {**proof, "final": True}
    with pytest.raises(FinalityError) as err:
        verify_state_proof(claimed, keys=keys)
    assert err.value.reason == "final_without_quorum"
    assert "1 of the 2" in err.value.message
    # the old behaviour is kept without keys
    assert verify_state_proof(claimed) is not None
    assert verify_state_proof(claimed, node_key=consortium.chain.node_key()) is not None
    # utility-b's attestation with its key at that height makes it so
    good = {**claimed, "attestations": [attest(proof, "utility-b", NODE_B2)]}
    assert verify_state_proof(good, keys=keys) is not None
    result = proof_finality(good, keys)
    assert (result.final, result.attested, result.quorum) == (True, ["operator", "utility-b"], 2)
    # the key it had before the rotation no longer counts
    stale = {**claimed, "attestations": [attest(proof, "utility-b", NODE_B)]}
    with pytest.raises(FinalityError):
        verify_state_proof(stale, keys=keys)
    assert [r.reason for r in proof_finality({**stale, "final": False}, keys).rejected] == [
        "bad_signature"
    ]
    tx_good = {**tx_proof, "final": True,
               "attestations": [attest(tx_proof, "utility-b", NODE_B2)]}  # fmt: skip
    assert verify_tx_proof(tx_good, keys=keys.to_json()).kind == "funds.transfer"
    with pytest.raises(FinalityError):
        verify_tx_proof({**tx_proof, "final": True}, keys=keys)
    with pytest.raises(ValueError, match="not both"):
        verify_tx_proof(tx_proof, keys=keys, node_key=consortium.chain.node_key())


def test_genesis_keys_do_not_know_a_later_member(consortium: Consortium) -> None:
    from gridledger.contracts.genesis import load as load_genesis

    genesis = keys_from_genesis(load_genesis((consortium.chain.home / "genesis.json").read_bytes()))
    with Client(consortium.url) as client:
        proof = client.state_proof("funds/balance/bob")
    att = attest(proof, "utility-b", NODE_B2)
    result = verify_finality(proof["header"], proof["block_hash"], [att], genesis,
                             signature=proof["signature"])  # fmt: skip
    # by the genesis keys the operator is the only proposer: final, and flagged as beyond them
    assert (result.final, result.attested, result.beyond_keys) == (True, ["operator"], True)
    assert [r.reason for r in result.rejected] == ["not_a_proposer"]


def test_a_proof_of_another_chain_or_the_genesis_block_is_refused(consortium: Consortium) -> None:
    keys = consortium.before
    other = {**keys.to_json(), "chain_id": "another"}
    with pytest.raises(FinalityError) as err:
        proof_finality(consortium.single_proof, other)
    assert err.value.reason == "other_chain"
    with Client(consortium.url) as client:
        genesis = client.header(0)
    with pytest.raises(FinalityError) as err:
        verify_finality(genesis["header"], genesis["hash"], [], keys, signature="")
    assert err.value.reason == "genesis"
    with pytest.raises(ProofError):
        proof_finality({**consortium.single_proof, "final": "yes"}, keys)


# the command line ------------------------------------------------------------------------------
def test_cli_exports_keys_and_checks_proofs_with_them(consortium: Consortium, tmp_path: Path
                                                      ) -> None:  # fmt: skip
    home, url = consortium.chain.home, consortium.url
    printed = run("query", "consortium-keys", "--home", home, "--node", url).stdout
    keys = parse_keys(json.loads(printed))
    assert keys.proposers_at(consortium.joined) == ["operator", "utility-b"]
    path = tmp_path / "keys.json"
    written = run("query", "consortium-keys", "--out", path, "--home", home, "--node", url)
    assert f"wrote {path}" in written.stdout.replace("\n", "")
    assert load_keys(path).node_key_at("utility-b", consortium.rotated) == NODE_B2.public_key

    # the node's tip: valid, and not final with one of two organisations
    fetched = json.loads(run("query", "state", "funds/balance/bob", "--proof", "--keys", path,
                             "--home", home, "--node", url, "--json").stdout)  # fmt: skip
    assert fetched["proof_valid"] is True
    assert fetched["finality"]["final"] is False
    assert fetched["finality"]["attested"] == ["operator"]
    table = run("query", "state", "funds/balance/bob", "--proof", "--keys", path, "--home", home,
                "--node", url).stdout  # fmt: skip
    assert "1 of 2 organisations" in table
    run("query", "state", "funds/balance/bob", "--keys", path, "--home", home, "--node", url,
        code=2)  # fmt: skip

    # a saved proof with utility-b's attestation checks offline
    with Client(url) as client:
        proof = client.state_proof("funds/balance/bob")
        early = client.tx_proof(client.block(consortium.joined - 1)["txs"][0]["hash"])
    saved = tmp_path / "proof.json"
    good = [attest(proof, "utility-b", NODE_B2)]
    saved.write_text(json.dumps({**proof, "final": True, "attestations": good}))
    checked = json.loads(run("verify-proof", saved, "--keys", path, "--json").stdout)
    assert checked["proof_valid"] is True
    assert checked["kind"] == "state"
    assert checked["finality"]["final"] is True
    assert checked["finality"]["attested"] == ["operator", "utility-b"]
    shown = run("verify-proof", saved, "--keys", path).stdout
    assert "final" in shown
    assert "2 of 2 organisations" in shown

    # a block of the time the operator proposed alone: the genesis keys suffice (home given)
    early_file = tmp_path / "early.json"
    early_file.write_text(json.dumps(early))
    by_genesis = json.loads(run("verify-proof", early_file, "--home", home, "--json").stdout)
    assert by_genesis["kind"] == "tx"
    assert by_genesis["finality"]["attested"] == ["operator"]
    assert by_genesis["keys_source"].endswith("(keys as at genesis)")
    # without any keys only the Merkle part is checked
    bare = json.loads(run("verify-proof", early_file, "--home", tmp_path, "--json").stdout)
    assert (bare["signature_checked"], bare["finality_checked"]) == (False, False)

    # tampered files
    stale_atts = [attest(proof, "utility-b", NODE_B)]
    saved.write_text(json.dumps({**proof, "final": True, "attestations": stale_atts}))
    stale = json.loads(run("verify-proof", saved, "--keys", path, "--json", code=1).stdout)
    assert "claims block" in stale["error"]["message"]
    (tmp_path / "bad-keys.json").write_text('{"format": "nope"}')
    bad = json.loads(run("verify-proof", saved, "--keys", tmp_path / "bad-keys.json", "--json",
                         code=1).stdout)  # fmt: skip
    assert bad["error"]["code"] == "keys.invalid"
    (tmp_path / "junk.json").write_text('{"hello": 1}')
    run("verify-proof", tmp_path / "junk.json", "--keys", path, code=1)


def test_cli_refuses_keys_that_disagree_with_the_local_genesis(consortium: Consortium,
                                                               tmp_path: Path) -> None:  # fmt: skip
    genesis = json.loads((consortium.chain.home / "genesis.json").read_text())
    genesis["organisations"][0]["node_key"] = derived_key("someone-else").public_key
    (tmp_path / "genesis.json").write_text(json.dumps(genesis))
    refused = run("query", "consortium-keys", "--home", tmp_path, "--node", consortium.url,
                  "--json", code=1)  # fmt: skip
    assert json.loads(refused.stdout)["error"]["code"] == "keys.disagrees_with_genesis"
