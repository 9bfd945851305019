"""A small running chain for the API, SDK and CLI tests.

Genesis: the operator (all roles through its organisation), ``alice`` and ``bob`` with funds,
and ``carol`` with none; every account key is derived from its name, so tests can sign as
anyone without unlocking keystores.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from gridledger.contracts.funds import balance_of
from gridledger.contracts.genesis import GenesisAccount
from gridledger.core.crypto import SigningKey, sha256
from gridledger.core.keystore import load_key
from gridledger.core.types import Transaction
from gridledger.node.home import init_home, key_path, open_node
from gridledger.node.node import Node

PASSPHRASE = "test-passphrase"
CHAIN_ID = "gridledger-test"
OPENING_BALANCE = 1_000_000


def check(model: type[BaseModel] | None, response: httpx.Response, status: int = 200) -> Any:
    """Assert the status, validate the body (or each item of a list) against the documented
    model, return the JSON."""
    assert response.status_code == status, response.text
    body = response.json()
    if model is None:
        return body
    if isinstance(body, list):
        for item in body:
            model.model_validate(item)
    else:
        model.model_validate(body)
    return body


def ok(result: Any) -> list[dict[str, Any]]:
    """The events of a committed transaction that must have succeeded."""
    assert result.ok, (result.code, result.message)
    events: list[dict[str, Any]] = result.events
    return events


def derived_key(name: str) -> SigningKey:
    return SigningKey.from_seed(sha256(b"gridledger-test-key/" + name.encode()))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Chain:
    home: Path
    node: Node
    keys: dict[str, SigningKey]

    def sign(
        self,
        sender: str,
        kind: str,
        body: dict[str, Any],
        nonce: int | None = None,
        chain_id: str = CHAIN_ID,
        key: SigningKey | None = None,
    ) -> Transaction:
        """A transaction signed by ``sender``'s key (or ``key``), at its next nonce."""
        tx = Transaction(
            chain_id=chain_id,
            kind=kind,
            sender=sender,
            nonce=self.node.next_nonce(sender) if nonce is None else nonce,
            body=body,
        )
        tx.signature = (key or self.keys[sender]).sign(tx.signing_bytes())
        return tx

    def balance(self, account: str) -> int:
        return balance_of(self.node.state.view, account)

    def node_key(self) -> str:
        """The operator organisation's node key, as a verifier would take it from genesis."""
        genesis = json.loads((self.home / "genesis.json").read_text())
        key: str = genesis["organisations"][0]["node_key"]
        return key


def make_home(home: Path) -> dict[str, SigningKey]:
    """Initialise ``home`` with the test genesis; returns every account's key."""
    keys = {name: derived_key(name) for name in ("alice", "bob", "carol")}
    accounts = [
        GenesisAccount(id="alice", org="operator", public_key=keys["alice"].public_key,
                       balance=OPENING_BALANCE),
        GenesisAccount(id="bob", org="operator", public_key=keys["bob"].public_key,
                       balance=OPENING_BALANCE),
        GenesisAccount(id="carol", org="operator", public_key=keys["carol"].public_key,
                       roles=["consumer"]),
    ]  # fmt: skip
    init_home(home, PASSPHRASE, chain_id=CHAIN_ID, accounts=accounts)
    keys["operator"] = load_key(key_path(home, "operator"), PASSPHRASE)
    return keys


@contextmanager
def running_chain(home: Path, start: bool = True) -> Iterator[Chain]:
    """A fast node (inline signature checks, 20 ms blocks) on a fresh home; closed after."""
    keys = make_home(home)
    node = open_node(home, PASSPHRASE, verify_workers=0, block_interval_ms=20)
    try:
        if start:
            node.start()
        yield Chain(home, node, keys)
    finally:
        node.close()
