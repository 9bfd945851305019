"""The genesis document: who runs the chain and what state it starts from.

``genesis.json`` is written once by ``gridledger init`` and never changes; its canonical hash is
part of the genesis block, so two nodes with different genesis documents never agree on a block.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from gridledger.contracts import funds, registry
from gridledger.core.crypto import sha256
from gridledger.core.encoding import INT_MAX, canonical
from gridledger.state.state import StateWriter

PosInt = Annotated[int, msgspec.Meta(ge=1, le=INT_MAX)]


class GenesisOrganisation(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    name: str
    roles: list[str]
    node_key: str | None = None
    """The public key that signs this organisation's blocks and attestations."""


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


class ChainParams(msgspec.Struct, forbid_unknown_fields=True):
    max_tx_bytes: PosInt = 1024 * 1024
    """A gateway's batch of 5,000 readings fits."""
    block_max_txs: PosInt = 2000
    block_interval_ms: PosInt = 200


class Genesis(msgspec.Struct, forbid_unknown_fields=True):
    chain_id: str
    genesis_time: Annotated[int, msgspec.Meta(ge=0, le=INT_MAX)]
    """Milliseconds since the Unix epoch; the first block's time is not earlier."""
    organisations: list[GenesisOrganisation]
    accounts: list[GenesisAccount]
    hash_alg: str = "sha256"
    currency: Currency = msgspec.field(default_factory=Currency)
    params: ChainParams = msgspec.field(default_factory=ChainParams)

    def encode(self) -> bytes:
        return canonical(self)

    def hash(self) -> bytes:
        return sha256(self.encode())


def load(data: bytes) -> Genesis:
    return msgspec.json.decode(data, type=Genesis)


def apply_genesis(state: StateWriter, genesis: Genesis) -> None:
    """Write the genesis organisations, accounts and balances into ``state``."""
    if genesis.hash_alg != "sha256":
        raise ValueError(f"hash algorithm {genesis.hash_alg!r} is not supported")
    for org in genesis.organisations:
        registry.put_organisation(state, org.id, org.name, org.roles, org.node_key)
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
