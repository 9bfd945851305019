"""A node's home directory: genesis, keys, configuration and the chain database.

<home>/genesis.json      the chain's genesis document (never changes)
<home>/node.json         this node's settings: organisation, API address
<home>/keys/node.json    the organisation's block-signing key (encrypted)
<home>/keys/<name>.json  account keys (encrypted), e.g. the operator's
<home>/chain.db          blocks, transactions, receipts, state (SQLite, WAL)
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from gridledger.contracts.base import ROLES
from gridledger.contracts.genesis import (
    Genesis,
    GenesisAccount,
    GenesisOrganisation,
    resolved_rules,
)
from gridledger.contracts.genesis import load as load_genesis
from gridledger.contracts.rules import Rules
from gridledger.core.crypto import SigningKey
from gridledger.core.keystore import load_key, save_key
from gridledger.core.localtime import DEFAULT_ZONE, LocalTime
from gridledger.node.node import GENESIS_NAME, Node, NodeConfig, wall_clock_ms
from gridledger.node.ordering import OrderingBackend

DEFAULT_HOME = Path(".gridledger")
DEFAULT_API = "127.0.0.1:8645"


class HomeError(Exception):
    """The home directory is missing, incomplete, or already initialised."""


def key_path(home: Path, name: str) -> Path:
    return home / "keys" / f"{name}.json"


def init_home(
    home: Path,
    passphrase: str,
    chain_id: str | None = None,
    org: str = "operator",
    org_name: str = "Network operator",
    operator: str = "operator",
    genesis_time: int | None = None,
    accounts: list[GenesisAccount] | None = None,
    rules: Rules | None = None,
    api: str = DEFAULT_API,
    time_zone: str | None = None,
) -> Genesis:
    """Create a home with a genesis of one organisation, its operator and node keys
    (``time_zone``: the IANA zone its pages show time in, UTC if None)."""
    if (home / GENESIS_NAME).exists():
        raise HomeError(f"{home} already holds a chain (genesis.json exists)")
    home.mkdir(parents=True, exist_ok=True)
    node_key = SigningKey.generate()
    operator_key = SigningKey.generate()
    save_key(key_path(home, "node"), "node", node_key, passphrase)
    save_key(key_path(home, operator), operator, operator_key, passphrase)
    genesis = Genesis(
        chain_id=chain_id or f"gridledger-{secrets.token_hex(4)}",
        genesis_time=wall_clock_ms() if genesis_time is None else genesis_time,
        organisations=[
            GenesisOrganisation(
                id=org, name=org_name, roles=list(ROLES), node_key=node_key.public_key
            )
        ],
        accounts=[
            GenesisAccount(
                id=operator, org=org, public_key=operator_key.public_key, roles=["operator"]
            ),
            *(accounts or []),
        ],
        rules=rules or Rules(),
        readings_log=True,
        time_zone=time_zone,
    )
    # Write the resolved kinds and proposers into the document: a later version of this
    # software that knows more kinds must not change what this chain allows without an upgrade.
    genesis.rules = resolved_rules(genesis)
    (home / GENESIS_NAME).write_bytes(genesis.encode())
    (home / "node.json").write_text(json.dumps({"org": org, "api": api}, indent=2))
    return genesis


def local_time(home: Path) -> LocalTime:
    """The time zone the chain in ``home`` names in its genesis (UTC if none), for people."""
    genesis = load_genesis((home / GENESIS_NAME).read_bytes())
    return LocalTime(genesis.time_zone or DEFAULT_ZONE)


def read_settings(home: Path) -> dict[str, Any]:
    try:
        settings: dict[str, Any] = json.loads((home / "node.json").read_text())
    except FileNotFoundError:
        raise HomeError(f"{home} holds no chain; run 'gridledger init --home {home}'") from None
    return settings


def open_node(
    home: Path, passphrase: str, ordering: OrderingBackend | None = None, **overrides: Any
) -> Node:
    """Open (and on first use, create from genesis) the chain in ``home``."""
    settings = read_settings(home)
    node_key = load_key(key_path(home, "node"), passphrase)
    config = NodeConfig(home=home, org=settings["org"], node_key=node_key, **overrides)
    return Node(config, ordering)
