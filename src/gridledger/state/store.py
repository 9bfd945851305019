"""The block store: SQLite in WAL mode, one SQLite transaction per block.

Tables, written append-only on the hot path (SQLite writes few large rows far faster than
many small ones):

* ``blocks``     height -> header (canonical bytes), hash, proposer signature, and the body:
                 MessagePack ``[[canonical tx, canonical receipt], ...]`` in block order
* ``tx_index``   transaction hash -> (height, index), for look-ups by hash
* ``state_diff`` height -> MessagePack ``[[key, value or nil], ...]``: the block's state writes
  (what read models are rebuilt from)
* the state itself, its history and its tree: ``state/disk.py``
* ``state_snapshot`` only in homes from before the state moved to disk (read once, when such a
  home is converted)
* ``meta``       genesis document, chain id, state layout

A block, its transactions, receipts, state values and tree nodes are written in one SQLite
transaction with ``synchronous=FULL``, so after a crash (even SIGKILL or power loss) a block is
either all there or not at all, and the node resumes at the last committed block.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import msgspec

from gridledger.state.disk import STATE_SCHEMA

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    height INTEGER PRIMARY KEY,
    hash BLOB NOT NULL,
    header BLOB NOT NULL,
    signature TEXT NOT NULL,
    tx_count INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS blocks_by_hash ON blocks(hash);
CREATE TABLE IF NOT EXISTS tx_index (
    hash BLOB PRIMARY KEY,
    height INTEGER NOT NULL,
    idx INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state_diff (height INTEGER PRIMARY KEY, changes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS state_snapshot (key BLOB PRIMARY KEY, value BLOB NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS attestations (
    height INTEGER NOT NULL,
    org TEXT NOT NULL,
    block_hash BLOB NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (height, org)
) WITHOUT ROWID;
"""
    + STATE_SCHEMA
)

_pack = msgspec.msgpack.Encoder().encode
_unpack_pairs = msgspec.msgpack.Decoder(list[tuple[bytes, bytes]]).decode
_unpack_changes = msgspec.msgpack.Decoder(list[tuple[bytes, bytes | None]]).decode


class _HeaderTime(msgspec.Struct):
    time: int


class StoreCorrupt(Exception):
    """A stored row cannot be decoded (the file was damaged or altered)."""


@dataclass(frozen=True)
class StoredBlock:
    height: int
    hash: bytes
    header: bytes
    signature: str
    tx_count: int
    body: bytes

    def txs(self) -> list[StoredTx]:
        """The block's transactions and receipts, in order."""
        try:
            pairs = _unpack_pairs(self.body)
        except msgspec.MsgspecError as exc:
            raise StoreCorrupt(f"block {self.height} body does not decode: {exc}") from None
        return [StoredTx(self.height, i, raw, receipt) for i, (raw, receipt) in enumerate(pairs)]


@dataclass(frozen=True)
class StoredTx:
    height: int
    index: int
    raw: bytes
    """Canonical bytes of the signed transaction (its SHA-256 is the transaction hash)."""
    receipt: bytes
    """Canonical bytes of the receipt."""


_BLOCK_COLS = "height, hash, header, signature, tx_count, body"


class BlockStore:
    """Durable storage of blocks, transactions, receipts and state changes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._write = self._connect()
        self._write.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute("PRAGMA busy_timeout=10000")
        # TEXT comes back as bytes: a damaged row must be reported, not crash the reader
        conn.text_factory = bytes
        return conn

    @property
    def _read(self) -> sqlite3.Connection:
        """One read connection per thread (WAL lets readers run beside the writer)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def reader(self) -> sqlite3.Connection:
        """This thread's read connection (what the state on disk reads through)."""
        return self._read

    def close(self) -> None:
        self._write.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # meta ------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> bytes | None:
        row = self._read.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def tip_height(self) -> int:
        """Height of the last committed block, -1 when there is none."""
        row = self._read.execute("SELECT max(height) FROM blocks").fetchone()
        return -1 if row[0] is None else int(row[0])

    # writing ---------------------------------------------------------------------------------
    def commit_block(
        self,
        height: int,
        block_hash: bytes,
        header: bytes,
        signature: str,
        txs: list[tuple[bytes, bytes, bytes]],
        changes: dict[bytes, bytes | None],
        meta: dict[str, bytes] | None = None,
        also: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        """Write one block atomically.

        Args:
            txs: ``(hash, canonical tx, canonical receipt)`` in block order.
            changes: the block's net state changes (``None`` deletes), in sorted key order.
            meta: extra meta entries to write in the same transaction (genesis only).
            also: more writes for the same transaction (the read models' rows).
        """
        body = _pack([(raw, receipt) for _, raw, receipt in txs])
        diff = _pack(list(changes.items()))
        conn = self._write
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                f"INSERT INTO blocks ({_BLOCK_COLS}) VALUES (?, ?, ?, ?, ?, ?)",  # noqa: S608
                (height, block_hash, header, signature, len(txs), body),
            )
            conn.executemany(
                "INSERT INTO tx_index (hash, height, idx) VALUES (?, ?, ?)",
                [(h, height, i) for i, (h, _, _) in enumerate(txs)],
            )
            conn.execute("INSERT INTO state_diff (height, changes) VALUES (?, ?)", (height, diff))
            for k, v in (meta or {}).items():
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (k, v))
            if also is not None:
                also(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # a failed COMMIT (disk full) rolled back already
                conn.execute("ROLLBACK")
            raise

    def add_attestations(
        self, rows: list[tuple[int, str, bytes, bytes]], final_height: int | None = None
    ) -> None:
        """Keep verified attestations ``(height, org, block hash, canonical attestation)``
        (an organisation's first one for a height stays) and, when given, the final height."""
        conn = self._write
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT OR IGNORE INTO attestations (height, org, block_hash, body) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )
            if final_height is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('final_height', ?)",
                    (str(final_height).encode(),),
                )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # a failed COMMIT (disk full) rolled back already
                conn.execute("ROLLBACK")
            raise

    def attestations(self, height: int) -> list[bytes]:
        """The canonical attestations kept for ``height``, by organisation id."""
        rows = self._read.execute(
            "SELECT body FROM attestations WHERE height = ? ORDER BY org", (height,)
        ).fetchall()
        return [_bytes(r[0]) for r in rows]

    def final_height(self) -> int:
        """The highest block known final (0, genesis, when none is)."""
        value = self.get_meta("final_height")
        return 0 if value is None else int(value)

    # reading ---------------------------------------------------------------------------------
    def snapshot_height(self) -> int:
        raw = self.get_meta("snapshot_height")
        return -1 if raw is None else int(raw)

    def diffs(self, after: int, upto: int) -> Iterator[tuple[int, dict[bytes, bytes | None]]]:
        """The state diffs of the blocks ``after < height <= upto``, in height order."""
        return self._diffs(after, upto)

    def _diffs(self, after: int, upto: int) -> Iterator[tuple[int, dict[bytes, bytes | None]]]:
        rows = self._read.execute(
            "SELECT height, changes FROM state_diff WHERE height > ? AND height <= ? "
            "ORDER BY height",
            (after, upto),
        )
        for height, blob in rows:
            try:
                yield int(height), dict(_unpack_changes(_bytes(blob)))
            except msgspec.MsgspecError as exc:
                raise StoreCorrupt(f"state diff of block {height} does not decode: {exc}") from None

    def load_state(self) -> dict[bytes, bytes]:
        """The state after the last committed block, replayed from the snapshot (homes from
        before the state moved to disk) and the diffs, all in memory: only for converting such
        a home, once, and for tests."""
        since = self.snapshot_height()
        state = {
            bytes(k): bytes(v)
            for k, v in self._read.execute("SELECT key, value FROM state_snapshot")
        }
        for _, changes in self._diffs(since, 1 << 62):
            for k, v in changes.items():
                if v is None:
                    state.pop(k, None)
                else:
                    state[k] = v
        return state

    def extra_connection(self) -> sqlite3.Connection:
        """A connection of its own (background work such as pruning); the caller closes it."""
        return self._connect()

    def write_connection(self) -> sqlite3.Connection:
        """The writer's connection, for the read models' own tables (never while a node is
        committing blocks through this store)."""
        return self._write

    def read_connection(self) -> sqlite3.Connection:
        """This thread's reader, for queries of the read models' tables."""
        return self._read

    def iter_block_changes(
        self, start: int = 0
    ) -> Iterator[tuple[int, int, dict[bytes, bytes | None]]]:
        """``(height, header time in ms, state changes)`` of every stored block from
        ``start``, in height order (what the read models are rebuilt from)."""
        rows = self._read.execute(
            "SELECT b.height, b.header, d.changes FROM blocks b JOIN state_diff d "
            "ON d.height = b.height WHERE b.height >= ? ORDER BY b.height",
            (start,),
        )
        for height, header, blob in rows:
            try:
                time_ms = msgspec.json.decode(_bytes(header), type=_HeaderTime).time
                changes = dict(_unpack_changes(_bytes(blob)))
            except msgspec.MsgspecError as exc:
                raise StoreCorrupt(f"block {height} does not decode: {exc}") from None
            yield _int(height), time_ms, changes

    def state_changes(self, height: int) -> dict[bytes, bytes | None]:
        for _, changes in self._diffs(height - 1, height):
            return changes
        return {}

    def block(self, height: int) -> StoredBlock | None:
        row = self._read.execute(
            f"SELECT {_BLOCK_COLS} FROM blocks WHERE height = ?",  # noqa: S608
            (height,),
        ).fetchone()
        return None if row is None else _block(row)

    def block_by_hash(self, block_hash: bytes) -> StoredBlock | None:
        row = self._read.execute(
            f"SELECT {_BLOCK_COLS} FROM blocks WHERE hash = ?",  # noqa: S608
            (block_hash,),
        ).fetchone()
        return None if row is None else _block(row)

    def blocks(self, start: int, end: int) -> list[StoredBlock]:
        """Blocks with ``start <= height < end``, ascending."""
        rows = self._read.execute(
            f"SELECT {_BLOCK_COLS} FROM blocks WHERE height >= ? AND height < ? "  # noqa: S608
            "ORDER BY height",
            (start, end),
        )
        return [_block(r) for r in rows]

    def locate_tx(self, tx_hash: bytes) -> tuple[int, int] | None:
        """(height, index) of a committed transaction, by hash."""
        row = self._read.execute(
            "SELECT height, idx FROM tx_index WHERE hash = ?", (tx_hash,)
        ).fetchone()
        return None if row is None else (_int(row[0]), _int(row[1]))

    def tx(self, tx_hash: bytes) -> StoredTx | None:
        """A committed transaction with its receipt, by hash."""
        row = self.locate_tx(tx_hash)
        if row is None:
            return None
        blk = self.block(row[0])
        if blk is None:
            raise StoreCorrupt(f"tx index points at missing block {row[0]}")
        txs = blk.txs()
        idx = row[1]
        if idx >= len(txs):
            raise StoreCorrupt(f"tx index points past the end of block {blk.height}")
        return txs[idx]

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """Reads of this thread inside the block all see one committed snapshot (WAL), however
        many blocks a running node commits meanwhile."""
        conn = self._read
        if conn.in_transaction:  # already inside one: it goes on
            yield
            return
        conn.execute("BEGIN")
        try:
            conn.execute("SELECT 1 FROM meta LIMIT 1").fetchall()  # starts the snapshot
            yield
        finally:
            conn.execute("COMMIT")

    def iter_blocks(self, start: int = 0) -> Iterator[StoredBlock]:
        """Every block from ``start``, streamed in height order (for verification)."""
        for row in self._read.execute(
            f"SELECT {_BLOCK_COLS} FROM blocks WHERE height >= ? ORDER BY height",  # noqa: S608
            (start,),
        ):
            yield _block(row)

    def iter_tx_index(self) -> Iterator[tuple[bytes, int, int]]:
        """Every (hash, height, index) of the transaction index (for verification)."""
        for h, height, idx in self._read.execute("SELECT hash, height, idx FROM tx_index"):
            yield _bytes(h), _int(height), _int(idx)

    def tx_count(self) -> int:
        row = self._read.execute("SELECT count(*) FROM tx_index").fetchone()
        return int(row[0])


def _bytes(value: object) -> bytes:
    """A BLOB column as bytes (a damaged row may hold TEXT; keep its bytes for the checks)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise ValueError(f"stored value {value!r} is not an integer")
    return value


def _block(row: tuple[object, ...]) -> StoredBlock:
    height, h, header, sig, count, body = row
    signature = _bytes(sig).decode("utf-8", "replace")
    return StoredBlock(
        _int(height), _bytes(h), _bytes(header), signature, _int(count), _bytes(body)
    )
