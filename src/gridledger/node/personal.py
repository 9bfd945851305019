"""Households' personal details, kept off the chain in the node's own database.

Names, addresses and contact details are personal information (China's Personal Information
Protection Law): the chain, replicated to every organisation and kept for good, holds only
pseudonymous ids (accounts, sites, meters) and never any of them. This node keeps them in
``HOME/personal.sqlite``, a file of its own beside the block store, entered by or for the
household for one stated purpose, shown only to the household's member signed in and to the
node's operator, exportable by the household as JSON and erased on request (deleted rows are
overwritten: ``secure_delete``). Nothing here is hashed into a block or the state, so an
erasure never touches the chain and the chain never needs it.

Table ``personal_details(account, name, address, phone, email, purpose, recorded_s,
updated_s)``: one row per consumer account; times are Unix seconds of this machine's clock
(not block time: this is no ledger record).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PERSONAL_NAME = "personal.sqlite"
PURPOSE = "contact about the household's community energy account"
"""The one purpose the details are kept for (what the household consents to when entering
them)."""
EXPORT_FORMAT = "gridledger/personal-details/v1"
LIMITS = {"name": 128, "address": 256, "phone": 32, "email": 128}
"""Most characters of each field."""


class PersonalError(ValueError):
    """A detail that cannot be kept (too long, or holding control characters)."""


@dataclass(frozen=True)
class Details:
    """What the node keeps about a household's member; every field is optional.

    Attributes:
        name: How the household is addressed.
        address: Postal address of the flat.
        phone: Phone number.
        email: Email address.
    """

    name: str = ""
    address: str = ""
    phone: str = ""
    email: str = ""

    def check(self) -> None:
        for field, most in LIMITS.items():
            value = getattr(self, field)
            if len(value) > most:
                raise PersonalError(f"{field}: at most {most} characters")
            if any(ord(c) < 32 or ord(c) == 127 for c in value):
                raise PersonalError(f"{field}: no control characters")

    def values(self) -> list[str]:
        """The non-empty details (what must never reach a public page)."""
        return [v for v in asdict(self).values() if v]


def personal_path(home: Path) -> Path:
    return Path(home) / PERSONAL_NAME


class PersonalStore:
    """``HOME/personal.sqlite``: opened lazily, one connection guarded by a lock."""

    def __init__(self, home: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = personal_path(home)
        self.clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS personal_details (account TEXT PRIMARY KEY, "
                "name TEXT NOT NULL, address TEXT NOT NULL, phone TEXT NOT NULL, "
                "email TEXT NOT NULL, purpose TEXT NOT NULL, recorded_s INTEGER NOT NULL, "
                "updated_s INTEGER NOT NULL) WITHOUT ROWID"
            )
            self.path.chmod(0o600)
            self._conn = conn
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def put(self, account: str, details: Details) -> None:
        """Keep (or replace) ``account``'s details."""
        details.check()
        now = int(self.clock())
        with self._lock:
            self._db().execute(
                "INSERT INTO personal_details VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (account) DO UPDATE SET name = excluded.name, "
                "address = excluded.address, phone = excluded.phone, email = excluded.email, "
                "updated_s = excluded.updated_s",
                (account, details.name, details.address, details.phone, details.email,
                 PURPOSE, now, now),
            )  # fmt: skip

    def get(self, account: str) -> Details | None:
        with self._lock:
            row = (
                self._db()
                .execute(
                    "SELECT name, address, phone, email FROM personal_details WHERE account = ?",
                    (account,),
                )
                .fetchone()
            )
        return None if row is None else Details(*row)

    def export(self, account: str) -> dict[str, Any]:
        """Everything kept about ``account``, as the JSON a household downloads."""
        with self._lock:
            row = (
                self._db()
                .execute(
                    "SELECT name, address, phone, email, purpose, recorded_s, updated_s "
                    "FROM personal_details WHERE account = ?",
                    (account,),
                )
                .fetchone()
            )
        out: dict[str, Any] = {"format": EXPORT_FORMAT, "account": account, "kept": row is not None}
        if row is not None:
            name, address, phone, email, purpose, recorded, updated = row
            out.update(
                details={"name": name, "address": address, "phone": phone, "email": email},
                purpose=purpose, recorded_s=recorded, updated_s=updated,
            )  # fmt: skip
        out["where"] = "this node's personal.sqlite, never the chain"
        return out

    def erase(self, account: str) -> bool:
        """Delete ``account``'s details; whether there were any."""
        with self._lock:
            cur = self._db().execute("DELETE FROM personal_details WHERE account = ?", (account,))
        return cur.rowcount > 0

    def accounts(self) -> list[str]:
        with self._lock:
            rows = self._db().execute("SELECT account FROM personal_details ORDER BY account")
            return [str(a) for (a,) in rows.fetchall()]

    def every_value(self) -> list[str]:
        """Every detail kept (for tests that public pages show none)."""
        with self._lock:
            rows = (
                self._db()
                .execute(
                    "SELECT name, address, phone, email FROM personal_details ORDER BY account"
                )
                .fetchall()
            )
        return [v for row in rows for v in row if v]
