"""The certificate registry's index beside the chain: every bundle by holder, status,
beneficiary, device and production time, so the registry views find bundles without scanning
the state.

The state keeps bundles by device (``certificates/bundle/<device>/...``) and claims by
beneficiary, which is what the contract's rules need; holders and statuses change with every
transfer, cancellation or claim, and no rule looks bundles up by them, so that index lives
here, out of the state root. Each committed block's changes under the contract's bundle prefix
(:func:`gridledger.contracts.certificates.keys.bundles`) are decoded with the contract's own
decoder, and each bundle written replaces its row (a split writes the parent's key again and
adds its children's); a deleted key deletes its row (no rule deletes a bundle today).

Table ``certificates_bundles(device, range_start, key, owner, status, beneficiary,
production_start_s, expires_s, quantity_wh)``: one row per stored bundle, keyed by its device
and range start (its id); ``key`` is its state key, ``status`` the stored one (a live bundle
past ``expires_s`` reads expired: queries take the time to read statuses at), ``beneficiary``
the account it was cancelled for (null before). Indexed by holder (and holder and status),
status, beneficiary and production start.

Queries return bundle ids in ``(device, range_start)`` order; callers read the bundles
themselves from the state, which stays the authority on every field.
"""

from __future__ import annotations

import sqlite3
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice

from gridledger.contracts.base import Record
from gridledger.contracts.certificates import LIVE, Status, bundles, keys
from gridledger.state.readmodels import BlockFacts


@dataclass(frozen=True)
class BundleFilter:
    """Which bundles a query wants; ``None`` matches anything.

    Attributes:
        device: Bundles of this device.
        owner: Held by this account.
        beneficiary: Cancelled (or claimed) for this account.
        statuses: In one of these statuses at ``time_s``.
        start_s: Production starting at or after this, Unix seconds UTC.
        end_s: Production starting before this.
        time_s: When statuses are read (a live bundle past its expiry is expired).
    """

    device: str | None = None
    owner: str | None = None
    beneficiary: str | None = None
    statuses: Sequence[Status] | None = None
    start_s: int | None = None
    end_s: int | None = None
    time_s: int = 0


class CertificateIndex:
    """The read model of :mod:`gridledger.readmodels.certificates`."""

    name: str = "certificates"
    version: int = 1
    table_names: tuple[str, ...] = ("certificates_bundles",)
    tables: tuple[str, ...] = (
        "CREATE TABLE IF NOT EXISTS certificates_bundles (device TEXT NOT NULL, "
        "range_start INTEGER NOT NULL, key BLOB NOT NULL, owner TEXT NOT NULL, "
        "status TEXT NOT NULL, beneficiary TEXT, production_start_s INTEGER NOT NULL, "
        "expires_s INTEGER NOT NULL, quantity_wh INTEGER NOT NULL, "
        "PRIMARY KEY (device, range_start)) WITHOUT ROWID",
        "CREATE INDEX IF NOT EXISTS certificates_bundles_by_owner "
        "ON certificates_bundles (owner, device, range_start)",
        "CREATE INDEX IF NOT EXISTS certificates_bundles_by_owner_status "
        "ON certificates_bundles (owner, status, device, range_start)",
        "CREATE INDEX IF NOT EXISTS certificates_bundles_by_status "
        "ON certificates_bundles (status, device, range_start)",
        # most bundles were never cancelled: only those that were are indexed
        "CREATE INDEX IF NOT EXISTS certificates_bundles_by_beneficiary "
        "ON certificates_bundles (beneficiary, device, range_start) "
        "WHERE beneficiary IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS certificates_bundles_by_time "
        "ON certificates_bundles (production_start_s)",
    )

    def apply(self, conn: sqlite3.Connection, facts: BlockFacts) -> None:
        prefix = keys.bundles()
        # the changes come in key order: only the bundles' own range is walked
        ordered = list(facts.changes)
        rows = []
        gone = []
        for k in islice(ordered, bisect_left(ordered, prefix), None):
            if not k.startswith(prefix):
                break
            raw = facts.changes[k]
            if raw is None:
                gone.append((k,))
                continue
            b = bundles.decode(raw)
            beneficiary = None if b.cancellation is None else b.cancellation.beneficiary
            rows.append(
                (k, b.device, b.range_start, b.owner, b.status, beneficiary,
                 b.production_start_s, b.expires_s, b.quantity_wh)
            )  # fmt: skip
        if gone:  # no rule deletes a bundle: finding the row by its key may scan the table
            conn.executemany("DELETE FROM certificates_bundles WHERE key = ?", gone)
        if rows:
            conn.executemany(
                "INSERT INTO certificates_bundles (key, device, range_start, owner, status, "
                "beneficiary, production_start_s, expires_s, quantity_wh) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device, range_start) "
                "DO UPDATE SET owner = excluded.owner, status = excluded.status, "
                "beneficiary = excluded.beneficiary, production_start_s = "
                "excluded.production_start_s, expires_s = excluded.expires_s, "
                "quantity_wh = excluded.quantity_wh",
                rows,
            )


# queries ---------------------------------------------------------------------------------------
def _text(value: object) -> str:
    """A TEXT column (the store's connections return TEXT as bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _status_clause(status: Status, time_s: int) -> tuple[str, list[object]]:
    """SQL for "in ``status`` at ``time_s``" (live bundles past expiry count as expired)."""
    live = ", ".join("?" * len(LIVE))
    if status in LIVE:
        return "(status = ? AND expires_s > ?)", [status, time_s]
    if status == "expired":
        return (
            f"(status = 'expired' OR (status IN ({live}) AND expires_s <= ?))",
            [*LIVE, time_s],
        )
    return "status = ?", [status]


def _where(f: BundleFilter) -> tuple[str, list[object]]:
    clauses: list[str] = []
    args: list[object] = []
    for column, value in (("device", f.device), ("owner", f.owner),
                          ("beneficiary", f.beneficiary)):  # fmt: skip
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if f.statuses is not None:
        parts = [_status_clause(s, f.time_s) for s in f.statuses]
        clauses.append("(" + " OR ".join(p[0] for p in parts) + ")" if parts else "0")
        for _, more in parts:
            args.extend(more)
    if f.start_s is not None:
        clauses.append("production_start_s >= ?")
        args.append(f.start_s)
    if f.end_s is not None:
        clauses.append("production_start_s < ?")
        args.append(f.end_s)
    return (" AND ".join(clauses) or "1"), args


def bundle_ids(
    conn: sqlite3.Connection,
    f: BundleFilter,
    after: tuple[str, int] | None = None,
    limit: int = 100,
) -> list[str]:
    """Ids of the bundles ``f`` matches, in ``(device, range_start)`` order, after the bundle
    ``after`` (its device and range start), at most ``limit``."""
    where, args = _where(f)
    if after is not None:
        where += " AND (device > ? OR (device = ? AND range_start > ?))"
        args.extend([after[0], after[0], after[1]])
    rows = conn.execute(
        f"SELECT device, range_start FROM certificates_bundles WHERE {where} "  # noqa: S608
        "ORDER BY device, range_start LIMIT ?",
        [*args, limit],
    ).fetchall()
    return [bundles.bundle_id(_text(d), int(s)) for d, s in rows]


class StatusTotal(Record):
    """Bundles and Wh in one status.

    Attributes:
        status: The status (at the query's time).
        bundles: How many bundles.
        quantity_wh: Their Wh.
    """

    status: str
    bundles: int
    quantity_wh: int


def totals(conn: sqlite3.Connection, f: BundleFilter) -> list[StatusTotal]:
    """Bundles and Wh per status (at ``f.time_s``) among those ``f`` matches, by status name;
    ``f.statuses`` is ignored."""
    where, args = _where(BundleFilter(f.device, f.owner, f.beneficiary, None, f.start_s, f.end_s))
    live = ", ".join("?" * len(LIVE))
    rows = conn.execute(
        f"SELECT CASE WHEN status IN ({live}) AND expires_s <= ? THEN 'expired' "  # noqa: S608
        f"ELSE status END AS now, COUNT(*), SUM(quantity_wh) FROM certificates_bundles "
        f"WHERE {where} GROUP BY now ORDER BY now",
        [*LIVE, f.time_s, *args],
    ).fetchall()
    return [StatusTotal(status=_text(s), bundles=int(n), quantity_wh=int(wh)) for s, n, wh in rows]
