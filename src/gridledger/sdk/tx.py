"""Building and signing transactions on the client side."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gridledger.core.crypto import SigningKey
from gridledger.core.encoding import INT_MAX, check_values
from gridledger.core.errors import GridLedgerError
from gridledger.core.types import Transaction
from gridledger.sdk.errors import InvalidInput


def sign_tx(
    key: SigningKey,
    chain_id: str,
    kind: str,
    sender: str,
    nonce: int,
    body: Mapping[str, Any],
) -> Transaction:
    """A transaction signed by ``key``, ready to submit.

    Args:
        key: the sender's signing key (its public key must be the one registered for ``sender``).
        chain_id: the chain the transaction is for (``Client.status()["chain_id"]``).
        kind: ``"<contract>.<action>"``, e.g. ``"funds.transfer"``.
        sender: the registered account id that signs.
        nonce: above the sender's last used nonce (``Client.account(id)["next_nonce"]``).
        body: the action's parameters; integers only (Wh, gCO2e, minor currency units).

    Raises:
        InvalidInput: a float or out-of-range integer in ``body``, or a bad nonce; the code
            is the one the node would answer with (``tx.non_integer_number`` etc.).
    """
    if isinstance(nonce, bool) or not isinstance(nonce, int) or not 0 <= nonce <= INT_MAX:
        raise InvalidInput("tx.invalid_nonce", f"nonce {nonce!r} must be an integer 0..2^63-1")
    if not isinstance(body, Mapping):
        raise InvalidInput("tx.invalid_body", "the body must be a JSON object (a mapping)")
    plain = dict(body)
    try:
        check_values(plain, "$.body")
    except GridLedgerError as exc:
        raise InvalidInput(exc.code, exc.message) from None
    tx = Transaction(chain_id=chain_id, kind=kind, sender=sender, nonce=nonce, body=plain)
    tx.signature = key.sign(tx.signing_bytes())
    return tx
