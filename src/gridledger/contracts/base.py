"""What every contract shares: the execution context and the table of transaction kinds.

A contract module declares its transaction kinds with :func:`kind`: the typed body (a msgspec
Struct), the roles allowed to send it, and ``apply(state, ctx, body)``. ``apply`` is pure: it
reads and writes only ``state``, takes time only from ``ctx.block_time``, iterates in sorted
order, and raises an ``InvalidTransaction`` subclass to refuse (the executor then rolls back).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

import msgspec

from gridledger.core.encoding import INT_MAX, INT_MIN, check_values
from gridledger.core.errors import InvalidBody, UnknownKind
from gridledger.state.state import StateReader, StateWriter

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

Int64 = Annotated[int, msgspec.Meta(ge=INT_MIN, le=INT_MAX)]
"""Every integer in a body: the signed 64-bit range that every client language can hold.
Body types use only typed fields (never ``Any``), so a float can never slip through."""


@dataclass
class Context:
    """What a transaction may know besides state: its block, its sender, and its events."""

    height: int
    block_time: int
    """Block time in milliseconds since the Unix epoch (UTC)."""
    sender: str
    sender_roles: tuple[str, ...]
    tx_hash: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def emit(self, type_: str, **attrs: Any) -> None:
        self.events.append({"type": type_, **attrs})


class Body(msgspec.Struct, forbid_unknown_fields=True):
    """Base of every typed transaction body.

    ``check`` holds stateless rules (positive amounts, lengths) that admission enforces at
    once and the executor enforces again before ``apply``; stateful rules belong in ``apply``.
    """

    def check(self) -> None:
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

    def parse_body(self, body: dict[str, Any]) -> B:
        """Typed body from the transaction's JSON body.

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
