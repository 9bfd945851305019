"""Read models: tables beside the chain that only pages and queries read, never hashed.

Totals a dashboard shows (what an account consumed and paid, what a plant sold to whom) are not
needed by any rule, so they stay out of the state and its root: changing how a page counts can
then never fork a chain. Each read model is a projection of committed blocks: it turns a
block's net state changes into rows of its own SQLite tables, written in the **same SQLite
transaction** as the block (so after a crash the tables match the last committed block), and it
can be rebuilt from genesis at any time from the stored state diffs
(``gridledger readmodels rebuild``), which is also what happens by itself when a new version of
a model's rules ships.

A model decodes the contract records it needs through the contract's own functions (only
``contracts/`` knows the keys); this module knows nothing of any contract.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from gridledger.state.store import BlockStore

META_PREFIX = "readmodel/"


@dataclass(frozen=True)
class BlockFacts:
    """What a read model sees of a committed block."""

    height: int
    time_ms: int
    """The block's header time, milliseconds since the Unix epoch (UTC)."""
    changes: dict[bytes, bytes | None]
    """The block's net state changes (``None`` deletes), in sorted key order."""


class ReadModel(Protocol):
    """A projection of committed blocks into tables of its own."""

    name: str
    """Unique, also the prefix of its tables."""
    version: int
    """Raise it whenever the tables or how they are computed change: the node then drops and
    rebuilds the model from genesis when it opens the chain."""
    tables: tuple[str, ...]
    """``CREATE TABLE`` statements (``IF NOT EXISTS``)."""
    table_names: tuple[str, ...]

    def apply(self, conn: sqlite3.Connection, facts: BlockFacts) -> None:
        """Fold one block into the tables (called inside the block's SQLite transaction)."""


class ReadModels:
    """The read models of a chain database: kept current block by block, rebuilt on demand."""

    def __init__(self, store: BlockStore, models: Iterable[ReadModel]) -> None:
        self.store = store
        self.models = tuple(models)
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"read model names repeat: {names}")

    def reader(self) -> sqlite3.Connection:
        """This thread's connection for reading the models' tables (beside the writer)."""
        return self.store.read_connection()

    # writing with a block ------------------------------------------------------------------
    def folder(self, facts: BlockFacts) -> Callable[[sqlite3.Connection], None]:
        """What :meth:`BlockStore.commit_block` runs inside the block's transaction."""

        def fold(conn: sqlite3.Connection) -> None:
            for model in self.models:
                model.apply(conn, facts)
                _mark(conn, model, facts.height)

        return fold

    # opening and rebuilding ----------------------------------------------------------------
    def open(self) -> list[str]:
        """Bring every model up to the chain's tip: create missing tables, rebuild a model
        whose version changed, and fold in blocks committed without it. Returns the names of
        the models that had to be rebuilt or caught up."""
        tip = self.store.tip_height()
        touched = []
        for model in self.models:
            version, height = self._state(model)
            if version != model.version:
                self.rebuild([model.name])
                touched.append(model.name)
            elif height < tip:
                self._replay(model, height + 1)
                touched.append(model.name)
        return touched

    def rebuild(self, names: Iterable[str] | None = None) -> int:
        """Drop and rebuild the named models (all by default) from genesis; returns the
        number of blocks folded in."""
        chosen = [m for m in self.models if names is None or m.name in set(names)]
        conn = self.store.write_connection()
        folded = 0
        for model in chosen:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for table in model.table_names:
                    conn.execute(f"DROP TABLE IF EXISTS {table}")
                for ddl in model.tables:
                    conn.execute(ddl)
                conn.execute("DELETE FROM meta WHERE key = ?", (META_PREFIX + model.name,))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # a failed COMMIT (disk full) rolled back already
                    conn.execute("ROLLBACK")
                raise
            folded = self._replay(model, 0)
        return folded

    def _replay(self, model: ReadModel, start: int) -> int:
        """Fold the stored blocks from ``start`` into ``model`` (in batches of blocks, each
        batch one SQLite transaction)."""
        conn = self.store.write_connection()
        for ddl in model.tables:
            conn.execute(ddl)
        count = 0
        batch: list[BlockFacts] = []

        def flush() -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for facts in batch:
                    model.apply(conn, facts)
                _mark(conn, model, batch[-1].height)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # a failed COMMIT (disk full) rolled back already
                    conn.execute("ROLLBACK")
                raise
            batch.clear()

        for height, time_ms, changes in self.store.iter_block_changes(start):
            batch.append(BlockFacts(height, time_ms, changes))
            count += 1
            if len(batch) >= 256:
                flush()
        if batch:
            flush()
        return count

    def _state(self, model: ReadModel) -> tuple[int | None, int]:
        raw = self.store.get_meta(META_PREFIX + model.name)
        if raw is None:
            return None, -1
        version, _, height = raw.decode().partition(":")
        return int(version), int(height)

    def status(self) -> list[dict[str, int | str | None]]:
        """Each model's name, version in the code, version and height stored."""
        out: list[dict[str, int | str | None]] = []
        for model in self.models:
            version, height = self._state(model)
            out.append(
                {"name": model.name, "version": model.version, "stored_version": version,
                 "height": height}
            )  # fmt: skip
        return out


def _mark(conn: sqlite3.Connection, model: ReadModel, height: int) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
        (META_PREFIX + model.name, f"{model.version}:{height}".encode()),
    )
