"""Committed state on disk: values and tree nodes in the node's SQLite file, bounded caches.

Why SQLite (not LMDB): the chain's blocks, receipts and read models already live in one SQLite
file, so a block, its state values and its tree nodes are written in **one transaction**: after
a crash (even SIGKILL or power loss) the state on disk is exactly that of the last committed
block, with no second store to reconcile. WAL lets the API's readers run beside the writer, and
each read statement sees one committed block.

Tables (written in the block's transaction):

* ``state_values``  key -> (value, height written, height created): the current value; a
  deleted key keeps a tombstone (``NULL`` value) until pruning;
* ``state_undo``    (key, height, value before that height): written when a block overwrites or
  deletes a key that existed, so the value as of any retained height can be read back;
* ``state_tombstones`` (height, key): deletions, so pruning finds their tombstones;
* ``state_retention`` the lowest height still provable once pruning started;
* ``tree_nodes``    see :mod:`gridledger.state.disktree`.

The value of a key **as of height H** (``H`` retained): the current row if it was written at or
before ``H`` (a tombstone: absent); absent if its row was created after ``H``; otherwise the
value of the first undo row above ``H``.

Retention: an **archive** node keeps every version; a **pruned** node keeps the heights
``>= tip - keep + 1`` and removes older versions in the background (:meth:`DiskState.prune`),
in small transactions between blocks.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from hashlib import sha256
from typing import Any

from sortedcontainers import SortedList

from gridledger.core.errors import HeightNotRetained
from gridledger.state.disktree import TREE_SCHEMA, DiskTree
from gridledger.state.tree import StateProof

STATE_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS state_values (
    key BLOB PRIMARY KEY,
    value BLOB,
    height INTEGER NOT NULL,
    created INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state_undo (key BLOB NOT NULL, height INTEGER NOT NULL, value BLOB);
CREATE INDEX IF NOT EXISTS state_undo_by_key ON state_undo (key, height);
CREATE TABLE IF NOT EXISTS state_tombstones (height INTEGER NOT NULL, key BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS state_checkpoints (height INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS state_retention (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    horizon INTEGER NOT NULL
);
"""
    + TREE_SCHEMA
)

_MISS = object()
_PREFETCH = 500
"""Keys per prefetch statement (SQLite allows 32,766 parameters; a few hundred keep each
statement's plan and memory small)."""
_GET = "SELECT value FROM state_values WHERE key = ?"


class DiskState:
    """The committed state on disk, read through bounded caches.

    Blocks are not written to the state tables one by one: a committed block's changes join an
    in-memory **overlay** (and its tree nodes stay dirty), and every ``checkpoint_every``
    blocks, or sooner when the overlay holds ``checkpoint_keys`` keys, the block's transaction
    writes the overlay and the dirty nodes as a **checkpoint** (a key changed by many blocks
    is written once). The blocks' own state diffs (``state_diff``, written with every block)
    hold everything in between: after a crash or a restart the node replays the diffs since
    the last checkpoint (:meth:`replay`, at most ``checkpoint_every`` blocks), so it still
    starts without reading its state and never loses a committed block.

    ``conn`` gives the calling thread's read connection. Single values are read from the
    overlay, then a cache of checkpointed values (a generation counter keeps a read that raced
    a checkpoint from caching a stale value), then the table; scans merge the table's range
    with the overlay's keys in it.
    """

    def __init__(
        self,
        conn: Callable[[], sqlite3.Connection],
        *,
        cache_values: int = 200_000,
        cache_nodes: int = 200_000,
        checkpoint_every: int = 32,
        checkpoint_keys: int = 200_000,
    ) -> None:
        self._conn = conn
        self.tree = DiskTree(conn, cache_nodes)
        self._cache: dict[bytes, bytes | None] = {}
        self._cache_max = max(cache_values, 64)
        self._gen = 0
        self._lock = threading.Lock()
        self._overlay: dict[bytes, bytes | None] = {}
        self._overlay_keys: SortedList = SortedList()
        self._appended_at: dict[bytes, int] = {}
        """The block that appended each log key of the overlay."""
        self.checkpoint_every = max(checkpoint_every, 1)
        self.checkpoint_keys = max(checkpoint_keys, 1)
        self.log_prefixes: tuple[bytes, ...] = ()
        self.diffs: Callable[[int, int], Iterator[tuple[int, dict[bytes, bytes | None]]]] | None
        self.diffs = None
        """The blocks' state diffs with ``after < height <= upto`` (from the block store), which
        proofs at heights between checkpoints replay."""
        """Keys of the append-only log: values like any other, never tree leaves."""
        self._writing = False
        self.field_indexes: set[tuple[bytes, str]] = set()
        row = conn().execute("SELECT max(height) FROM state_checkpoints").fetchone()
        self.checkpoint = -1 if row is None or row[0] is None else int(row[0])
        """The height of the last checkpoint written (-1: none yet)."""

    # reading ---------------------------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        value = self._overlay.get(key, _MISS)
        if value is not _MISS:
            return value  # type: ignore[return-value]
        value = self._cache.get(key, _MISS)
        if value is not _MISS:
            return value  # type: ignore[return-value]
        gen = self._gen
        row = self._conn().execute(_GET, (key,)).fetchone()
        found = None if row is None or row[0] is None else bytes(row[0])
        with self._lock:
            if gen == self._gen and key not in self._overlay:
                self._put(key, found)
        return found

    def prefetch(self, keys: Iterable[bytes]) -> None:
        """Read the values of ``keys`` not cached yet into the cache, a few hundred per
        statement (absent ones too)."""
        cache, overlay = self._cache, self._overlay
        missing = [k for k in dict.fromkeys(keys) if k not in cache and k not in overlay]
        if not missing:
            return
        gen = self._gen
        conn = self._conn()
        found: dict[bytes, bytes | None] = dict.fromkeys(missing)
        for i in range(0, len(missing), _PREFETCH):
            chunk = missing[i : i + _PREFETCH]
            marks = ",".join("?" * len(chunk))
            for k, v in conn.execute(
                f"SELECT key, value FROM state_values WHERE key IN ({marks})",  # noqa: S608
                chunk,
            ):
                found[bytes(k)] = None if v is None else bytes(v)
        with self._lock:
            if gen == self._gen:
                for k, v in found.items():
                    if k not in overlay:
                        self._put(k, v)

    def _put(self, key: bytes, value: bytes | None) -> None:
        cache = self._cache
        cache[key] = value
        if len(cache) > self._cache_max:
            for k in list(cache)[: len(cache) - self._cache_max * 9 // 10]:
                del cache[k]

    def _overlay_range(self, lo: bytes, hi: bytes | None) -> dict[bytes, bytes | None]:
        with self._lock:
            keys = list(self._overlay_keys.irange(lo, hi, inclusive=(True, False)))
            overlay = self._overlay
            return {k: overlay[k] for k in keys}

    def _overlay_window(self, lo: bytes, hi: bytes | None, live: int) -> dict[bytes, bytes | None]:
        """The overlay's entries from ``lo`` (below ``hi``) up to its ``live``-th value that is
        not a deletion: all of it that can be among the first ``live`` pairs of a forward
        scan."""
        out: dict[bytes, bytes | None] = {}
        seen = 0
        with self._lock:
            overlay = self._overlay
            for k in self._overlay_keys.irange(lo, hi, inclusive=(True, False)):
                value = overlay[k]
                out[k] = value
                if value is not None:
                    seen += 1
                    if seen >= live:
                        break
        return out

    def scan_range(
        self,
        prefix: bytes,
        start: bytes = b"",
        end: bytes | None = None,
        limit: int | None = None,
        *,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Committed pairs under ``prefix`` whose rest of key is in ``[start, end)``, sorted:
        one statement over the key index, merged with the overlay's keys in the range (a
        forward page with a limit reads the overlay only up to the page's end)."""
        lo = prefix + start
        hi = prefix + end if end is not None else _after_prefix(prefix)
        if limit is not None and not reverse:
            written = self._overlay_window(lo, hi, limit)
        else:
            written = self._overlay_range(lo, hi)
        order = "DESC" if reverse else "ASC"
        sql = "SELECT key, value FROM state_values WHERE key >= ? AND value IS NOT NULL"
        args: list[Any] = [lo]
        if hi is not None:
            sql += " AND key < ?"
            args.append(hi)
        sql += f" ORDER BY key {order}"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit + sum(1 for v in written.values() if v is None))
        rows = [(bytes(k), bytes(v)) for k, v in self._conn().execute(sql, args)]
        if written:
            merged: dict[bytes, bytes | None] = dict(rows)
            merged.update(written)
            rows = [(k, v) for k in sorted(merged, reverse=reverse) if (v := merged[k]) is not None]
        return iter(rows if limit is None else rows[:limit])

    def count(self, prefix: bytes = b"") -> int:
        hi = _after_prefix(prefix)
        sql = "SELECT count(*) FROM state_values WHERE key >= ? AND value IS NOT NULL"
        args: list[Any] = [prefix]
        if hi is not None:
            sql += " AND key < ?"
            args.append(hi)
        conn = self._conn()
        total = int(conn.execute(sql, args).fetchone()[0])
        for k, v in self._overlay_range(prefix, hi).items():
            row = conn.execute(_GET, (k,)).fetchone()
            stored = row is not None and row[0] is not None
            total += (v is not None) - stored
        return total

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every committed pair in key order, streamed (the overlay merged in)."""
        written = self._overlay_range(b"", None)
        extra = iter(sorted(written))
        pending = next(extra, None)
        for k, v in self._conn().execute(
            "SELECT key, value FROM state_values WHERE value IS NOT NULL ORDER BY key"
        ):
            key = bytes(k)
            while pending is not None and pending < key:
                if (w := written[pending]) is not None:
                    yield pending, w
                pending = next(extra, None)
            if pending == key:
                if (w := written[pending]) is not None:
                    yield pending, w
                pending = next(extra, None)
                continue
            yield key, bytes(v)
        while pending is not None:
            if (w := written[pending]) is not None:
                yield pending, w
            pending = next(extra, None)

    def _checkpointed_at(self, key: bytes, height: int) -> bytes | None:
        """The value of ``key`` as of checkpoint ``height`` (its rows and undo rows)."""
        conn = self._conn()
        row = conn.execute(
            "SELECT value, height, created FROM state_values WHERE key = ?", (key,)
        ).fetchone()
        if row is None or row[2] > height:
            return None
        if row[1] <= height:
            return None if row[0] is None else bytes(row[0])
        undo = conn.execute(
            "SELECT value FROM state_undo WHERE key = ? AND height > ? ORDER BY height LIMIT 1",
            (key, height),
        ).fetchone()
        if undo is None:
            raise HeightNotRetained(f"the value of {key!r} at height {height} was pruned")
        return None if undo[0] is None else bytes(undo[0])

    def checkpoint_at_or_below(self, height: int) -> int:
        row = (
            self._conn()
            .execute("SELECT max(height) FROM state_checkpoints WHERE height <= ?", (height,))
            .fetchone()
        )
        if row is None or row[0] is None:
            raise HeightNotRetained(f"no state is kept as of height {height}")
        return int(row[0])

    def horizon(self) -> int:
        """The lowest height whose state can still be read back (0 until pruning ran)."""
        row = self._conn().execute("SELECT horizon FROM state_retention").fetchone()
        return 0 if row is None else int(row[0])

    # indexes of record fields ----------------------------------------------------------------
    def ensure_index(self, conn: sqlite3.Connection, prefix: bytes, field: str) -> None:
        """Keep an index of ``field`` of the JSON records under ``prefix`` (a partial expression
        index SQLite maintains with every checkpoint; built once when first asked for)."""
        hi = _after_prefix(prefix)
        if hi is None or not field.isidentifier():
            raise ValueError("an index needs a bounded prefix and a plain field name")
        name = "state_by_" + sha256(prefix + b"\x00" + field.encode()).hexdigest()[:16]
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON state_values "
            f"(json_extract(CAST(value AS TEXT), '$.{field}'), key) "
            f"WHERE key >= x'{prefix.hex()}' AND key < x'{hi.hex()}'"
        )
        self.field_indexes.add((prefix, field))

    def scan_where(
        self, prefix: bytes, field: str, value: str, start: bytes = b"", limit: int | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Pairs under ``prefix`` (rest of key from ``start``) whose record's ``field`` is
        ``value``, sorted, through the index (:meth:`ensure_index`), the overlay merged in."""
        hi = _after_prefix(prefix)
        assert hi is not None
        assert (prefix, field) in self.field_indexes
        lo = prefix + start
        changed = self._overlay_range(lo, hi)
        sql = (
            f"SELECT key, value FROM state_values WHERE key >= x'{prefix.hex()}' "  # noqa: S608
            f"AND key < x'{hi.hex()}' AND json_extract(CAST(value AS TEXT), '$.{field}') = ? "
            "AND key >= ? ORDER BY key"
        )
        args: list[Any] = [value, lo]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit + len(changed))
        found = {bytes(k): bytes(v) for k, v in self._conn().execute(sql, args)}
        for k, v in changed.items():  # the overlay decides for the keys it holds
            if v is not None and field_of(v, field) == value:
                found[k] = v
            else:
                found.pop(k, None)
        out = sorted(found.items())
        return iter(out if limit is None else out[:limit])

    # proofs ----------------------------------------------------------------------------------
    @property
    def root(self) -> bytes:
        return self.tree.root

    def prove(self, key: bytes, height: int | None = None) -> tuple[bytes | None, StateProof]:
        """The value of ``key`` and its proof against the committed root, or against the root
        as of ``height`` (call inside a read snapshot): the tree of the checkpoint at or
        below ``height`` with the blocks' ``diffs`` after it replayed on a scratch tree.

        Raises:
            HeightNotRetained: ``height`` is below what pruning kept.
        """
        if height is None:
            proof, other = self.tree.prove(key)
            value = self.get(key)
            other_value = None if other is None else self.get(other)
        else:
            if height < self.horizon():
                raise HeightNotRetained(
                    f"height {height} was pruned: the state is kept from height {self.horizon()}"
                )
            if self.diffs is None:
                raise ValueError("a proof at a height needs the blocks' diffs")
            base = self.checkpoint_at_or_below(height)
            later: dict[bytes, bytes | None] = {}
            for _, changes in self.diffs(base, height):
                later.update(changes)
            scratch = DiskTree(self._conn, 4096, at=base)
            prefixes = self.log_prefixes
            scratch.update({k: v for k, v in later.items() if not k.startswith(prefixes)})
            proof, other = scratch.prove(key, pending=True)

            def value_at(k: bytes) -> bytes | None:
                return later[k] if k in later else self._checkpointed_at(k, base)

            value = value_at(key)
            other_value = None if other is None else value_at(other)
        if other is not None:
            if other_value is None:
                raise HeightNotRetained(f"the leaf of {other!r} has no value at that height")
            proof = StateProof(proof.levels, proof.terminal, other_value)
        return value, proof

    # blocks ----------------------------------------------------------------------------------
    def stage(self, changes: Mapping[bytes, bytes | None]) -> bytes:
        """Fold a block's changes into the tree (pending); the new root."""
        return self.tree.update(changes)

    def checkpoint_due(self, height: int, changes: int) -> bool:
        return (
            height - self.checkpoint >= self.checkpoint_every
            or len(self._overlay) + changes >= self.checkpoint_keys
        )

    def write(
        self,
        conn: sqlite3.Connection,
        height: int,
        changes: Mapping[bytes, bytes | None],
        appended: Mapping[bytes, bytes] | None = None,
        *,
        force: bool = False,
    ) -> None:
        """Inside the block's transaction: write a checkpoint when one is due (or ``force``):
        every value changed since the last one, with undo rows for those that existed, and
        every dirty tree node. Otherwise nothing: the block's diff is stored with it.

        ``appended`` are the block's new keys of the append-only log (never there before: no
        undo row, and a second write of one fails the block).
        """
        count = len(changes) + len(appended or ())
        self._writing = force or self.checkpoint_due(height, count)
        if not self._writing:
            return
        overlay = self._overlay
        kept = {k: v for k, v in overlay.items() if k not in self._appended_at}
        kept.update(changes)
        logged = [(k, overlay[k], h) for k, h in self._appended_at.items()]
        logged += [(k, v, height) for k, v in (appended or {}).items()]
        if logged:
            conn.executemany(
                "INSERT INTO state_values (key, value, height, created) VALUES (?, ?, ?, ?)",
                [(k, v, h, h) for k, v, h in sorted(logged)],
            )
        ordered = sorted(kept.items())
        conn.executemany(
            "INSERT INTO state_undo (key, height, value) "
            "SELECT key, ?, value FROM state_values WHERE key = ?",
            [(height, k) for k, _ in ordered],
        )
        conn.executemany(
            "INSERT INTO state_values (key, value, height, created) VALUES (?1, ?2, ?3, ?3) "
            "ON CONFLICT (key) DO UPDATE SET value = ?2, height = ?3",
            [(k, v, height) for k, v in ordered],
        )
        deleted = [(height, k) for k, v in ordered if v is None]
        if deleted:
            conn.executemany("INSERT INTO state_tombstones (height, key) VALUES (?, ?)", deleted)
        conn.executemany(
            "INSERT OR REPLACE INTO tree_nodes (path, height, body) VALUES (?, ?, ?)",
            self.tree.rows(height),
        )
        conn.execute("INSERT OR REPLACE INTO state_checkpoints (height) VALUES (?)", (height,))

    def created_at(self, key: bytes) -> int | None:
        """The height that appended log key ``key`` (or first wrote another), or ``None``."""
        at = self._appended_at.get(key)
        if at is not None:
            return at
        if key in self._overlay:
            return None
        row = (
            self._conn()
            .execute("SELECT created FROM state_values WHERE key = ? AND value IS NOT NULL", (key,))
            .fetchone()
        )
        return None if row is None else int(row[0])

    def commit(self, height: int, changes: Mapping[bytes, bytes | None]) -> None:
        """The block was committed: its values are the committed ones now (written, when it
        was a checkpoint; in the overlay, otherwise)."""
        prefixes = self.log_prefixes
        with self._lock:
            if self._writing:
                self.tree.flush()
                merged = self._overlay
                merged.update(changes)
                for k, v in merged.items():
                    self._put(k, v)
                self._overlay = {}
                self._overlay_keys = SortedList()
                self._appended_at = {}
                self.checkpoint = height
                self._gen += 1
            else:
                self.tree.commit()
                overlay = self._overlay
                fresh = [k for k in changes if k not in overlay]
                overlay.update(changes)
                self._overlay_keys.update(fresh)
                if prefixes:
                    for k in changes:
                        if k.startswith(prefixes):
                            self._appended_at[k] = height
            self._writing = False

    def discard_staged(self, changes: Mapping[bytes, bytes | None]) -> None:  # noqa: ARG002
        """Forget the staged block (its tree changes; the values were never touched)."""
        self.tree.discard()
        self._writing = False

    def replay(self, diffs: Iterator[tuple[int, dict[bytes, bytes | None]]]) -> int:
        """Bring the state from its last checkpoint to the last committed block with the
        blocks' diffs after the checkpoint (at start); the blocks replayed."""
        replayed = 0
        prefixes = self.log_prefixes
        for height, changes in diffs:
            self.stage({k: v for k, v in changes.items() if not k.startswith(prefixes)})
            self.commit(height, changes)
            replayed += 1
        return replayed

    # retention -------------------------------------------------------------------------------
    def prune(self, conn: sqlite3.Connection, horizon: int, batch: int = 5000) -> int:
        """Remove versions no view at ``horizon`` or later needs, ``batch`` rows per call; the
        rows removed (0 when done). Runs on its own connection between blocks."""
        removed = 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            # the horizon first: from now on nobody reads below it
            conn.execute(
                "INSERT INTO state_retention (id, horizon) VALUES (0, ?) ON CONFLICT (id) "
                "DO UPDATE SET horizon = max(horizon, excluded.horizon)",
                (horizon,),
            )
            cur = conn.execute(
                "DELETE FROM state_undo WHERE rowid IN (SELECT rowid FROM state_undo "
                "WHERE height <= ? ORDER BY rowid LIMIT ?)",
                (horizon, batch),
            )
            removed += cur.rowcount
            stones = conn.execute(
                "SELECT rowid, height, key FROM state_tombstones WHERE height <= ? "
                "ORDER BY rowid LIMIT ?",
                (horizon, batch),
            ).fetchall()
            for rowid, h, key in stones:
                conn.execute(
                    "DELETE FROM state_values WHERE key = ? AND value IS NULL AND height = ?",
                    (key, h),
                )
                conn.execute("DELETE FROM state_tombstones WHERE rowid = ?", (rowid,))
            removed += len(stones)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # a failed COMMIT (disk full) rolled back already
                conn.execute("ROLLBACK")
            raise
        return removed

    def prune_nodes(
        self, conn: sqlite3.Connection, horizon: int, lo: bytes, hi: bytes | None
    ) -> int:
        """Remove the node versions under paths ``[lo, hi)`` that a newer version at or below
        ``horizon`` replaced, and deletion rows nothing older needs; rows removed."""
        if horizon > self.horizon():
            raise ValueError("prune values first: it moves the horizon nodes are pruned to")
        span = "path >= ?" + ("" if hi is None else " AND path < ?")
        args: list[Any] = [lo] if hi is None else [lo, hi]
        conn.execute("BEGIN IMMEDIATE")
        try:
            removed = conn.execute(
                f"DELETE FROM tree_nodes AS t WHERE {span} AND height < ? AND EXISTS ("  # noqa: S608
                "SELECT 1 FROM tree_nodes AS n WHERE n.path = t.path AND n.height > t.height "
                "AND n.height <= ?)",
                [*args, horizon, horizon],
            ).rowcount
            removed += conn.execute(
                f"DELETE FROM tree_nodes AS t WHERE {span} AND body IS NULL AND height <= ? "  # noqa: S608
                "AND NOT EXISTS (SELECT 1 FROM tree_nodes AS n WHERE n.path = t.path "
                "AND n.height < t.height)",
                [*args, horizon],
            ).rowcount
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # a failed COMMIT (disk full) rolled back already
                conn.execute("ROLLBACK")
            raise
        return removed


def field_of(raw: bytes, field: str) -> object:
    """``field`` of the JSON record ``raw`` (``None`` when it has none or is not JSON)."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc.get(field) if isinstance(doc, dict) else None


def _after_prefix(prefix: bytes) -> bytes | None:
    """The smallest key above every key starting with ``prefix`` (``None``: no bound)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes((stripped[-1] + 1,))
