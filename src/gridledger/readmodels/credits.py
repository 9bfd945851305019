"""The credit registry's totals beside the chain: each project's tonnes by state, so the
registry's pages show them without reading every serial block of every project.

The state keeps a project's blocks in serial order (``credits/block/<number>/<first>``), which
is what the contract's rules need; no rule sums them by state, so the sums live here, out of
the state root. Each committed block's changes under the contract's block prefix
(:func:`gridledger.contracts.credits.keys.blocks`) are decoded as
:class:`~gridledger.contracts.credits.SerialBlock`; a block written replaces its row (a split
writes the parent's key again and adds the parts'), and the project's totals move by the
difference between the old row and the new one.

Tables: ``credits_blocks(key, project, status, quantity_t)``, one row per stored block, keyed
by its state key; ``credits_totals(project, status, quantity_t)``, the tonnes of the
project's blocks in each state (active, locked, buffer, retired, cancelled).
"""

from __future__ import annotations

import sqlite3
from bisect import bisect_left
from itertools import islice

from gridledger.contracts.credits import ProjectTotals, SerialBlock, keys
from gridledger.state.readmodels import BlockFacts
from gridledger.state.state import decode_record


class CreditTotals:
    """The read model of :mod:`gridledger.readmodels.credits`."""

    name: str = "credits"
    version: int = 1
    table_names: tuple[str, ...] = ("credits_blocks", "credits_totals")
    tables: tuple[str, ...] = (
        "CREATE TABLE IF NOT EXISTS credits_blocks (key BLOB PRIMARY KEY, "
        "project TEXT NOT NULL, status TEXT NOT NULL, quantity_t INTEGER NOT NULL) "
        "WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS credits_totals (project TEXT NOT NULL, "
        "status TEXT NOT NULL, quantity_t INTEGER NOT NULL, PRIMARY KEY (project, status)) "
        "WITHOUT ROWID",
    )

    def apply(self, conn: sqlite3.Connection, facts: BlockFacts) -> None:
        prefix = keys.blocks()
        # the changes come in key order: only the blocks' own range is walked
        ordered = list(facts.changes)
        moved: dict[tuple[str, str], int] = {}
        for k in islice(ordered, bisect_left(ordered, prefix), None):
            if not k.startswith(prefix):
                break
            old = conn.execute(
                "SELECT project, status, quantity_t FROM credits_blocks WHERE key = ?", (k,)
            ).fetchone()
            if old is not None:
                was = (_text(old[0]), _text(old[1]))
                moved[was] = moved.get(was, 0) - int(old[2])
            raw = facts.changes[k]
            if raw is None:
                conn.execute("DELETE FROM credits_blocks WHERE key = ?", (k,))
                continue
            block = decode_record(raw, SerialBlock)
            conn.execute(
                "INSERT INTO credits_blocks (key, project, status, quantity_t) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET project = "
                "excluded.project, status = excluded.status, quantity_t = excluded.quantity_t",
                (k, block.project, block.status, block.quantity_t),
            )
            now = (block.project, block.status)
            moved[now] = moved.get(now, 0) + block.quantity_t
        rows = [(p, s, t) for (p, s), t in sorted(moved.items()) if t]
        if rows:
            conn.executemany(
                "INSERT INTO credits_totals (project, status, quantity_t) VALUES (?, ?, ?) "
                "ON CONFLICT (project, status) DO UPDATE SET "
                "quantity_t = quantity_t + excluded.quantity_t",
                rows,
            )


def _text(value: object) -> str:
    """A TEXT column (the store's connections return TEXT as bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def project_totals(conn: sqlite3.Connection, project_id: str) -> ProjectTotals:
    """The project's tonnes by state as of the last block folded in (zeros for a project
    without credits), what :func:`gridledger.contracts.credits.project_totals` adds up from
    the state."""
    sums = {"active": 0, "locked": 0, "buffer": 0, "retired": 0, "cancelled": 0}
    for status, tonnes in conn.execute(
        "SELECT status, quantity_t FROM credits_totals WHERE project = ?", (project_id,)
    ):
        sums[_text(status)] = int(tonnes)
    return ProjectTotals(
        project=project_id, issued_t=sum(sums.values()), active_t=sums["active"],
        buffer_t=sums["buffer"], retired_t=sums["retired"], cancelled_t=sums["cancelled"],
        locked_t=sums["locked"],
    )  # fmt: skip
