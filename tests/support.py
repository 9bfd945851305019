"""Shared helpers of the core's tests: deterministic keys, a small genesis, signed transactions.

Everything here is deterministic (keys come from fixed seeds), so a failing example can be
replayed and the crash-load script builds exactly the transactions the tests expect.
"""

from __future__ import annotations

from typing import Any

from gridledger.contracts import chain
from gridledger.contracts.base import ROLES
from gridledger.contracts.genesis import Genesis, GenesisAccount, GenesisOrganisation
from gridledger.contracts.rules import Rules
from gridledger.core.crypto import SigningKey, sha256
from gridledger.core.types import BlockHeader, Transaction
from gridledger.node.executor import Prepared, prepare
from gridledger.node.transition import Proposal, genesis_state, propose_block
from gridledger.state.state import State

CHAIN_ID = "gridledger-test"
GENESIS_TIME_MS = 1_700_000_000_000
PASSPHRASE = "test passphrase"

OPERATOR = "operator"
OPERATOR_ORG = "operator"
HOUSEHOLDS_ORG = "households"
HOUSEHOLD_ROLES = ["consumer", "producer"]


def key(name: str) -> SigningKey:
    """The fixed test key of ``name`` (its seed is SHA-256 of a label)."""
    return SigningKey.from_seed(sha256(b"gridledger-test-key/" + name.encode()))


def households(count: int) -> list[str]:
    """Ids of ``count`` household accounts: ``house-00``, ``house-01``, ..."""
    return [f"house-{i:02d}" for i in range(count)]


def make_genesis(
    accounts: int = 4,
    balance: int = 1_000_000,
    rules: Rules | None = None,
    node_key: SigningKey | None = None,
) -> Genesis:
    """A genesis of an operator organisation and a households organisation.

    The operator account holds the ``operator`` role; ``accounts`` household accounts hold
    ``consumer`` and ``producer`` and open with ``balance`` minor units each.
    """
    return Genesis(
        chain_id=CHAIN_ID,
        genesis_time=GENESIS_TIME_MS,
        organisations=[
            GenesisOrganisation(
                id=OPERATOR_ORG,
                name="Network operator",
                roles=list(ROLES),
                node_key=(node_key or key("node")).public_key,
            ),
            GenesisOrganisation(id=HOUSEHOLDS_ORG, name="Households", roles=HOUSEHOLD_ROLES),
        ],
        accounts=[
            GenesisAccount(
                id=OPERATOR,
                org=OPERATOR_ORG,
                public_key=key(OPERATOR).public_key,
                roles=["operator"],
            ),
            *household_accounts(accounts, balance),
        ],
        rules=rules or Rules(),
    )


def household_accounts(count: int, balance: int, org: str = HOUSEHOLDS_ORG) -> list[GenesisAccount]:
    """Household accounts with the consumer and producer roles and an opening balance."""
    return [
        GenesisAccount(
            id=name,
            org=org,
            public_key=key(name).public_key,
            roles=HOUSEHOLD_ROLES,
            balance=balance,
        )
        for name in households(count)
    ]


def committed_genesis_state(genesis: Genesis) -> State:
    """The state after the genesis block, with the genesis writes committed."""
    state = genesis_state(genesis)
    state.compute_root()
    state.finish_block()
    return state


def signed(
    sender: str,
    nonce: int,
    kind: str,
    body: dict[str, Any],
    chain_id: str = CHAIN_ID,
    signer: SigningKey | None = None,
) -> Transaction:
    """A transaction signed with the sender's test key (or ``signer``)."""
    tx = Transaction(chain_id=chain_id, kind=kind, sender=sender, nonce=nonce, body=body)
    tx.signature = (signer or key(sender)).sign(tx.signing_bytes())
    return tx


def transfer(sender: str, nonce: int, to: str, amount: int, memo: str = "") -> Transaction:
    body: dict[str, Any] = {"to": to, "amount": amount}
    if memo:
        body["memo"] = memo
    return signed(sender, nonce, "funds.transfer", body)


def mint(nonce: int, to: str, amount: int, sender: str = OPERATOR) -> Transaction:
    return signed(sender, nonce, "funds.mint", {"to": to, "amount": amount})


def prepared(*txs: Transaction) -> list[Prepared]:
    return [prepare(tx) for tx in txs]


def propose(
    state: State,
    parent: BlockHeader,
    txs: list[Transaction] | list[Prepared],
    time_ms: int,
    proposer: str = OPERATOR_ORG,
    signer: SigningKey | None = None,
) -> Proposal:
    """The block after ``parent`` built by ``proposer`` (signed with the test node key) from
    ``txs``, executed on ``state`` and left uncommitted (``state.finish_block()`` commits)."""
    batch = [t if isinstance(t, Prepared) else prepare(t) for t in txs]
    rules = chain.rules_at(state.view, parent.height + 1)
    sign = (signer or key("node")).sign
    return propose_block(state, rules, parent, batch, time_ms, proposer, sign)


def domain_state(state: State) -> dict[bytes, bytes]:
    """The committed state without the nonce records (what contracts own)."""
    return {k: v for k, v in state.committed.items() if not k.startswith(b"nonce/")}
