"""What every contract shares: stored records, the execution context, the table of kinds.

A contract declares its transaction kinds with :func:`kind`: the typed body (a msgspec
Struct), the roles allowed to send it, and ``apply(state, ctx, body)``. ``apply`` is pure: it
reads and writes only ``state``, takes time only from ``ctx.time_ms`` (the block header's),
iterates in sorted order, and raises an ``InvalidTransaction`` subclass to refuse (the
executor then rolls back).

Every value a contract stores is a :class:`Record` (or a bare integer: balances, nonces,
counters) under a key that only that contract builds, in its one keys module; queries return
records, and the API derives its response schemas from them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

import msgspec

from gridledger.contracts.rules import Rules
from gridledger.core.encoding import INT_MAX, INT_MIN, check_values
from gridledger.core.errors import InvalidBody, UnknownKind
from gridledger.state.state import StateReader, StateWriter, decode_record

# Roles of organisations and accounts. Contracts authorise by role, never by name.
ROLES = (
    "operator",
    "producer",
    "consumer",
    "certifier",
    "carbon_verifier",
    "grid_operator",
    "regulator",
)

B = TypeVar("B", bound="Body")
T = TypeVar("T")
R = TypeVar("R", bound="Record")

Int64 = Annotated[int, msgspec.Meta(ge=INT_MIN, le=INT_MAX)]
"""Every integer in a body: the signed 64-bit range that every client language can hold.
Body types use only typed fields (never ``Any``), so a float can never slip through."""


class Record(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every stored record: a typed struct whose field names carry their unit
    (``energy_wh``, ``price_fen_per_kwh``, ``amount_fen``, ``time_ms``, ``start_s``).

    ``fen`` is the chain currency's minor unit (0.01 CNY by default: see the genesis
    ``currency``). Stored as canonical JSON (:func:`gridledger.core.encoding.canonical`); the
    bulk records of a contract may be ``array_like`` to encode faster, which changes their
    stored bytes, never their fields.
    """


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing in id order.

    Attributes:
        items: the records of the page.
        next: the ``after`` of the next page; ``None`` after the last.
    """

    items: list[T]
    next: str | None


def page_of(
    view: StateReader,
    prefix: bytes,
    record_type: type[R],
    after: str | None = None,
    limit: int | None = None,
    keep: Callable[[R], bool] | None = None,
) -> Page[R]:
    """The records under ``prefix`` (keyed ``prefix + id``) with an id after ``after`` that
    ``keep`` accepts, in id order, at most ``limit`` (``None``: all)."""
    # ids never hold a NUL byte, so "after + NUL" is the first key past "after"
    start = b"" if after is None else after.encode() + b"\x00"
    # unfiltered, a page reads one record past its end, not the rest of the listing
    bound = limit + 1 if keep is None and limit is not None else None
    items: list[R] = []
    last = b""
    for k, raw in view.scan_range(prefix, start, limit=bound):
        record = decode_record(raw, record_type)
        if keep is not None and not keep(record):
            continue
        if limit is not None and len(items) == limit:
            return Page(items, last[len(prefix) :].decode())
        items.append(record)
        last = k
    return Page(items, None)


@dataclass
class Context:
    """What a transaction may know besides state: its block, its sender, and its events."""

    height: int
    time_ms: int
    """Block time from the header, milliseconds since the Unix epoch (UTC)."""
    sender: str
    sender_roles: tuple[str, ...]
    tx_hash: str
    rules: Rules = field(default_factory=Rules)
    """The chain rules in force at this height."""
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def time_s(self) -> int:
        """Block time in whole seconds since the Unix epoch (UTC), rounded down."""
        return self.time_ms // 1000

    def emit(self, type_: str, **attrs: Any) -> None:
        self.events.append({"type": type_, **attrs})


class Body(msgspec.Struct, forbid_unknown_fields=True):
    """Base of every typed transaction body.

    ``check`` holds stateless rules (positive amounts, lengths) and ``check_rules`` those that
    depend on the chain rules at the height (a batch's size): admission enforces both at once,
    block import refuses a block that breaks them, and the executor runs ``check`` again
    before ``apply``; stateful rules belong in ``apply``.
    """

    def check(self) -> None:
        return None

    def check_rules(self, rules: Rules) -> None:  # noqa: ARG002 - most kinds need no rule
        return None


@dataclass(frozen=True)
class Kind(Generic[B]):
    """One transaction kind: its name, body type, allowed roles, and state transition."""

    name: str
    body_type: type[B]
    roles: tuple[str, ...]
    """Roles of which the sender needs one; empty means any registered account."""
    apply: Callable[[StateWriter, Context, B], None]
    doc: str = ""
    precheck: Callable[[StateReader, Context, B], None] | None = None
    """Admission-time check against committed state, for facts pending transactions cannot
    change (an account that does not exist); execution checks everything again."""

    def parse_body(self, body: dict[str, Any], rules: Rules | None = None) -> B:
        """Typed body from the transaction's JSON body, checked against ``rules`` when given.

        Raises:
            NonIntegerNumber, IntegerOutOfRange: numbers that are not 64-bit integers.
            InvalidBody: the body does not match the kind's schema.
            InvalidTransaction: a stateless rule of the kind failed.
        """
        try:
            parsed = msgspec.convert(body, self.body_type, strict=True)
        except msgspec.ValidationError as exc:
            check_values(body, "$.body")  # floats and huge ints get their own, clearer codes
            raise InvalidBody(f"{self.name}: {exc}".replace("`$", "`$.body")) from None
        parsed.check()
        if rules is not None:
            parsed.check_rules(rules)
        return parsed


KINDS: dict[str, Kind[Any]] = {}


Apply = Callable[[StateWriter, Context, B], None]


def kind(
    name: str,
    body_type: type[B],
    roles: tuple[str, ...] = (),
    precheck: Callable[[StateReader, Context, B], None] | None = None,
) -> Callable[[Apply[B]], Apply[B]]:
    """Register ``apply`` as the state transition of transaction kind ``name``."""

    def register(fn: Apply[B]) -> Apply[B]:
        if name in KINDS:
            raise ValueError(f"transaction kind {name} registered twice")
        KINDS[name] = Kind(name, body_type, roles, fn, (fn.__doc__ or "").strip(), precheck)
        return fn

    return register


def get_kind(name: str) -> Kind[Any]:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKind(f"no contract handles kind {name!r}") from None
