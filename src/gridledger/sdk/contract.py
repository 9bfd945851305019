"""What the client of each contract (``Client.market``, ``Client.certificates``,
``Client.carbon``) shares: the contract's transaction kinds, checking a body against the kind's
stateless rules before it is signed, reading under the contract's API path, and sending.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from gridledger.contracts import KINDS
from gridledger.core.errors import GridLedgerError
from gridledger.sdk.errors import InvalidInput

if TYPE_CHECKING:
    from gridledger.core.crypto import SigningKey
    from gridledger.sdk.client import Client, Committed


def contract_kinds(contract: str) -> tuple[str, ...]:
    """Every transaction kind of ``contract`` (``"market"`` gives ``market.clear``, ...),
    sorted."""
    return tuple(sorted(k for k in KINDS if k.startswith(f"{contract}.")))


def checked_body(kinds: tuple[str, ...], kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` for the transaction ``kind``, one of ``kinds``, without its None values, after
    the kind's stateless checks (what the node checks at admission before any state).

    Raises:
        InvalidInput: ``kind`` not one of ``kinds`` (``tx.unknown_kind``), or a body the node
            would refuse, with its code (``tx.invalid_body``, or the contract's own).
    """
    if kind not in kinds:
        raise InvalidInput("tx.unknown_kind", f"{kind!r} is not one of {', '.join(kinds)}")
    plain = {k: v for k, v in body.items() if v is not None}
    try:
        KINDS[kind].parse_body(plain)
    except GridLedgerError as exc:
        raise InvalidInput(exc.code, exc.message) from None
    return plain


def api_path(*parts: str | int) -> str:
    """An API path from its parts, each quoted whole (an id with ``/`` or ``:`` stays one
    part): ``api_path("v1", "certificates", "pv-1:1")``."""
    return "/" + "/".join(quote(str(p), safe="") for p in parts)


class ContractClient:
    """One contract's endpoints and transactions on one node, through ``client``."""

    kinds: ClassVar[tuple[str, ...]]
    """The contract's transaction kinds: :meth:`send` takes no other."""
    path: ClassVar[tuple[str | int, ...]]
    """The API path the contract's reads are under, e.g. ``("v1", "market")``."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def _get(self, *parts: str | int, **params: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.client._get(api_path(*self.path, *parts), **params)
        return result

    def send(
        self,
        key: SigningKey,
        sender: str,
        kind: str,
        body: Mapping[str, Any],
        wait: float = 10.0,
        *,
        nonce: int | None = None,
    ) -> Committed:
        """Check ``body`` with :func:`checked_body` (one of the contract's ``kinds``), then
        sign, submit and wait (:meth:`Client.send`)."""
        plain = checked_body(self.kinds, kind, body)
        return self.client.send(key, sender, kind, plain, wait, nonce=nonce)
