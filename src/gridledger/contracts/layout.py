"""How the chain commits to its state: which keys are tree leaves and which are appended to
the readings log (``docs/formats.md`` §5a).

Meter readings are immutable records: the rules only ask whether one was reported already
and read their energy. A chain whose genesis sets ``readings_log`` keeps them out of the state
tree: each block that accepts readings gets one state entry, ``metering/log/<height>``, the
count and RFC 6962 root of that block's readings in key order. Their values are stored and
read like any other state (the same keys, the same queries); only the commitment differs, so
a reading's proof is its audit path in its block's log plus the state proof of that block's
seal. Chains created before keep a leaf per reading, unchanged.
"""

from __future__ import annotations

from gridledger.contracts.credits import keys as credits_keys
from gridledger.contracts.metering import keys as metering_keys
from gridledger.contracts.registry import keys as registry_keys
from gridledger.state.state import AppendLog, StateReader, StateWriter

FIELD_INDEXES: list[tuple[bytes, str]] = [
    (registry_keys.accounts(), "org"),
    (credits_keys.projects(), "org"),
    (credits_keys.retirements(), "beneficiary"),
    (credits_keys.retirements(), "project"),
]
"""Fields of records that queries look records up by, which a state on disk keeps indexed
(accounts by organisation, credit projects by organisation, retirements by beneficiary and by
project): such a query reads the matching records only."""

_READINGS_LOG = b"chain/layout/readings_log"

READINGS_LOG = AppendLog(prefixes=(metering_keys.all_readings(),), seal_key=metering_keys.log_seal)


def keep_readings_in_log(state: StateWriter) -> None:
    """Genesis only: this chain appends readings to the log."""
    state.set(_READINGS_LOG, b"1")


def append_log(view: StateReader) -> AppendLog | None:
    """The keys this chain appends to the log instead of the tree (``None``: none)."""
    return READINGS_LOG if view.get(_READINGS_LOG) is not None else None
