"""The genesis document: who runs the chain and what state it starts from.

``genesis.json`` is written once by ``gridledger init`` and never changes; its canonical hash is
part of the genesis block, so two nodes with different genesis documents never agree on a block.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from gridledger.contracts import chain, consortium, funds, layout, market, registry
from gridledger.contracts.base import KINDS
from gridledger.contracts.rules import Rules
from gridledger.core.crypto import sha256
from gridledger.core.encoding import INT_MAX, canonical
from gridledger.core.localtime import check_zone
from gridledger.state.state import StateWriter


class GenesisNetwork(msgspec.Struct, forbid_unknown_fields=True):
    """Where a founding organisation of a consortium runs its etcd member and node."""

    etcd_peer_url: str
    etcd_client_url: str
    api_url: str


class GenesisOrganisation(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    name: str
    roles: list[str]
    node_key: str | None = None
    """The public key that signs this organisation's blocks and attestations."""
    network: GenesisNetwork | None = None
    """A consortium member's etcd member and node addresses; absent (and left out of the
    document, so older documents keep their hash) otherwise."""


class GenesisAccount(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    org: str
    public_key: str
    roles: list[str] = []
    balance: Annotated[int, msgspec.Meta(ge=0, le=INT_MAX)] = 0
    """Opening balance in minor units."""


class Currency(msgspec.Struct, forbid_unknown_fields=True):
    code: str = "CNY"
    minor_units: int = 2
    """Digits after the decimal point: 2 means balances count fen (0.01 CNY)."""


class Genesis(msgspec.Struct, forbid_unknown_fields=True):
    chain_id: str
    genesis_time: Annotated[int, msgspec.Meta(ge=0, le=INT_MAX)]
    """Milliseconds since the Unix epoch; the first block's time is not earlier."""
    organisations: list[GenesisOrganisation]
    accounts: list[GenesisAccount]
    hash_alg: str = "sha256"
    currency: Currency = msgspec.field(default_factory=Currency)
    rules: Rules = msgspec.field(default_factory=Rules)
    """The chain rules from height 1 until the first upgrade (see ``contracts/rules.py``)."""
    readings_log: bool | None = None
    """Keep meter readings in the append-only log, one seal per block in the state tree,
    instead of a tree leaf per reading (``docs/formats.md`` §5a). ``gridledger init`` sets it
    for every new chain; absent (left out of the document, so older documents keep their
    hash), readings are leaves as on the chains created before."""
    market_rules: Annotated[int, msgspec.Meta(ge=1, le=market.RULES_VERSION)] = market.RULES_VERSION
    """The version of the market's rules the chain runs (``market.RULES_VERSION``): new
    documents name the latest; a document without it (made before versions) runs version 1,
    and leaves it out, so it keeps its hash."""
    time_zone: str | None = None
    """The IANA time zone of the people the chain serves (``Asia/Shanghai``): pages, charts,
    summaries and exports show days and hours in it. No rule depends on it; absent (and left
    out of the document, so older documents keep their hash) means UTC."""

    def __post_init__(self) -> None:
        if self.time_zone is not None:
            check_zone(self.time_zone)

    def encode(self) -> bytes:
        """Canonical JSON; an organisation without ``network`` has no such member, a document
        without ``time_zone`` or ``readings_log`` no such member either."""
        doc = msgspec.to_builtins(self)
        for org in doc["organisations"]:
            if org.get("network") is None:
                org.pop("network", None)
        if doc.get("readings_log") is None:
            doc.pop("readings_log", None)
        if doc.get("time_zone") is None:
            doc.pop("time_zone", None)
        if doc.get("market_rules") == 1:
            doc.pop("market_rules", None)
        return canonical(doc)

    def hash(self) -> bytes:
        return sha256(self.encode())


def load(data: bytes) -> Genesis:
    doc = msgspec.json.decode(data)
    if isinstance(doc, dict):
        # a document made before market rules had versions runs the first ones
        doc.setdefault("market_rules", 1)
    return msgspec.convert(doc, type=Genesis)


def resolved_rules(genesis: Genesis) -> Rules:
    """The genesis rules with their defaults made explicit: every kind this software knows,
    and every genesis organisation with a node key as a proposer."""
    rules = genesis.rules
    kinds = rules.kinds or sorted(KINDS)
    proposers = rules.proposers or sorted(o.id for o in genesis.organisations if o.node_key)
    return msgspec.structs.replace(rules, kinds=sorted(kinds), proposers=sorted(proposers))


def apply_genesis(state: StateWriter, genesis: Genesis) -> None:
    """Write the genesis organisations, accounts, balances and rules into ``state``.

    Raises:
        ValueError: the document cannot start a chain (it names no proposer, unknown kinds, a
            hash algorithm other than SHA-256, or balances beyond the 64-bit range).
    """
    if genesis.hash_alg != "sha256":
        raise ValueError(f"hash algorithm {genesis.hash_alg!r} is not supported")
    for org in genesis.organisations:
        registry.put_organisation(state, org.id, org.name, org.roles, org.node_key)
        if org.network is not None:
            consortium.put_network(state, org.id, org.network.etcd_peer_url,
                                   org.network.etcd_client_url, org.network.api_url,
                                   height=0)  # fmt: skip
    supply = 0
    for acct in genesis.accounts:
        registry.put_account(state, acct.id, acct.org, acct.public_key, acct.roles)
        if acct.balance:
            funds.credit(state, acct.id, acct.balance)
            supply += acct.balance
    if supply > INT_MAX:
        raise ValueError("genesis balances exceed the 64-bit range")
    if supply:
        state.set_int(funds.SUPPLY_KEY, supply)
    if genesis.readings_log:
        layout.keep_readings_in_log(state)
    rules = resolved_rules(genesis)
    try:
        chain.check_rules(state, rules)
    except chain.InvalidRules as exc:
        raise ValueError(f"genesis rules: {exc.message}") from None
    chain.write_genesis(state, genesis.hash().hex(), rules)
    market.set_rules_version(state, genesis.market_rules)
