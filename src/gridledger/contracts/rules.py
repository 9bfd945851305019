"""The chain rules: what a block and its transactions may be at a given height.

A chain starts with the rules of its genesis document and changes them only by upgrades
scheduled on the chain for a future height (``chain.schedule_upgrade``, see
:mod:`gridledger.contracts.chain`). The rules in force at a height are the genesis rules with
every upgrade activated at or below it applied in height order, so re-executing an old block
always uses the rules it was made under: a later change never makes history fail ``verify``.

Units are in the field names (bytes, milliseconds).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from gridledger.core.encoding import INT_MAX

PosInt = Annotated[int, msgspec.Meta(ge=1, le=INT_MAX)]

DEFAULT_MAX_TX_BYTES = 1024 * 1024
DEFAULT_BLOCK_MAX_BYTES = 1_400_000
"""A block's transactions stay under etcd's default request limit (1.5 MiB) with room for the
header, the signature and the encoding of a proposal."""
DEFAULT_BLOCK_MAX_TXS = 2000
DEFAULT_MAX_FUTURE_MS = 15_000
DEFAULT_MAX_READINGS = 5000


class Rules(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The rule set in force at a height.

    Attributes:
        max_tx_bytes: largest canonical transaction, in bytes.
        block_max_bytes: largest sum of a block's canonical transactions, in bytes.
        block_max_txs: most transactions in one block.
        max_future_ms: how far a block's time may be after the importing node's clock, in ms.
        proposers: organisations allowed to propose blocks (each signs with its registered
            node key); empty at genesis means every genesis organisation with a node key.
        kinds: the transaction kinds a block may carry, sorted; empty at genesis means every
            kind this software knows when the chain is created (``gridledger init`` writes
            them out, so a chain never gains a kind without an upgrade).
        max_readings_per_batch: most readings in one ``metering.submit``.
    """

    max_tx_bytes: PosInt = DEFAULT_MAX_TX_BYTES
    block_max_bytes: PosInt = DEFAULT_BLOCK_MAX_BYTES
    block_max_txs: PosInt = DEFAULT_BLOCK_MAX_TXS
    max_future_ms: PosInt = DEFAULT_MAX_FUTURE_MS
    proposers: list[str] = msgspec.field(default_factory=list)
    kinds: list[str] = msgspec.field(default_factory=list)
    max_readings_per_batch: PosInt = DEFAULT_MAX_READINGS

    def allows_kind(self, kind: str) -> bool:
        """Whether a block at this height may carry a transaction of ``kind``."""
        return kind in self.kinds


class RuleChanges(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """What an upgrade changes; fields left out keep their value."""

    max_tx_bytes: PosInt | None = None
    block_max_bytes: PosInt | None = None
    block_max_txs: PosInt | None = None
    max_future_ms: PosInt | None = None
    proposers: list[str] | None = None
    kinds: list[str] | None = None
    max_readings_per_batch: PosInt | None = None


def changed(rules: Rules, changes: RuleChanges) -> Rules:
    """``rules`` with ``changes`` applied (lists are taken whole and sorted)."""
    updates = {
        f: sorted(v) if isinstance(v, list) else v
        for f in changes.__struct_fields__
        if (v := getattr(changes, f)) is not None
    }
    return msgspec.structs.replace(rules, **updates)
