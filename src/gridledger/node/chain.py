"""Executing a block and summarising it in a header: shared by the node and ``verify``.

Both the node that proposes a block and anyone who re-executes it run :func:`run_block`, so
the roots they compare come from one piece of code.
"""

from __future__ import annotations

from dataclasses import dataclass

from gridledger.contracts.genesis import Genesis, apply_genesis
from gridledger.core import merkle
from gridledger.core.crypto import ZERO_HASH
from gridledger.core.encoding import canonical
from gridledger.core.types import BlockHeader, Receipt
from gridledger.node.executor import Prepared, execute_block
from gridledger.state.state import CommittedView, Scratch, State

GENESIS_HASH_KEY = b"chain/genesis"
PARAMS_KEY = b"chain/params"


@dataclass
class BlockResult:
    header: BlockHeader
    receipts: list[Receipt]
    receipt_bytes: list[bytes]
    changes: dict[bytes, bytes | None]


def genesis_state(genesis: Genesis) -> State:
    """The state at height 0: the genesis document applied to an empty state.

    The writes are collected first and the tree is built from them in one pass, which is far
    cheaper than inserting a large genesis (a million accounts) key by key.
    """
    scratch = Scratch(CommittedView({}))
    apply_genesis(scratch, genesis)
    scratch.set(GENESIS_HASH_KEY, genesis.hash().hex().encode())
    scratch.set(PARAMS_KEY, canonical(genesis.params))
    return State({k: v for k, v in sorted(scratch.writes().items()) if v is not None})


def genesis_header(genesis: Genesis, state_root: bytes) -> BlockHeader:
    proposer = genesis.organisations[0].id if genesis.organisations else ""
    return BlockHeader(
        chain_id=genesis.chain_id,
        height=0,
        prev_hash=ZERO_HASH.hex(),
        time=genesis.genesis_time,
        tx_root=merkle.EMPTY_ROOT.hex(),
        receipt_root=merkle.EMPTY_ROOT.hex(),
        state_root=state_root.hex(),
        proposer=proposer,
        tx_count=0,
    )


def run_block(
    state: State,
    chain_id: str,
    parent: BlockHeader,
    parent_hash: bytes,
    block_time: int,
    proposer: str,
    txs: list[Prepared],
) -> BlockResult:
    """Execute ``txs`` as the block after ``parent`` and build its header.

    The state's block layer holds the changes afterwards; the caller commits them
    (``state.finish_block()``) once the block is durable, or discards them.
    """
    height = parent.height + 1
    receipts = execute_block(state, txs, height, block_time)
    receipt_raw = [canonical(r) for r in receipts]
    changes = state.block_changes()
    state_root = state.compute_root()
    header = BlockHeader(
        chain_id=chain_id,
        height=height,
        prev_hash=parent_hash.hex(),
        time=block_time,
        tx_root=merkle.root([p.raw for p in txs]).hex(),
        receipt_root=merkle.root(receipt_raw).hex(),
        state_root=state_root.hex(),
        proposer=proposer,
        tx_count=len(txs),
    )
    return BlockResult(header, receipts, receipt_raw, changes)
