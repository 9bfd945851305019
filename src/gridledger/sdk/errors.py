"""The SDK's errors.

Every one carries a stable ``code`` to branch on and a ``message`` for people::

    SdkError                  base of everything the SDK raises
    ├── ApiError              the node refused or failed: its code, message and HTTP status
    ├── TransportError        the node could not be reached or did not answer in time
    ├── ReceiptTimeout        the transaction was admitted, its receipt did not come in time
    ├── TransactionFailed     it committed with a failed receipt (``raise_for_status``)
    ├── InvalidInput          refused before sending (a float amount, a bad nonce)
    ├── ProofError            a proof, header or signature does not check out
    │   └── FinalityError         ... in a way that names a finality rule (``reason``)
    └── KeysFileError         a consortium keys file breaks its format
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from gridledger.sdk.client import Committed


class SdkError(Exception):
    """Base of every error the SDK raises."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ApiError(SdkError):
    """The node answered with an error (``{"error": {"code", "message"}}``).

    Attributes:
        code: the stable error code, e.g. ``tx.nonce_replayed`` or ``funds.invalid_amount``.
        message: what went wrong and what to do.
        status: the HTTP status (``None`` for an item of a batch).
    """

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(code, message)
        self.status = status

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        """Read the error body of a failed response (tolerating a proxy's non-JSON page)."""
        try:
            body: Any = response.json()
            err = body["error"]
            return cls(str(err["code"]), str(err["message"]), response.status_code)
        except (ValueError, KeyError, TypeError):
            text = response.text.strip()[:200] or response.reason_phrase
            return cls(f"http.{response.status_code}", text, response.status_code)

    def __repr__(self) -> str:
        return f"ApiError(code={self.code!r}, message={self.message!r}, status={self.status})"


class TransportError(SdkError):
    """No answer from the node: ``sdk.unreachable`` or ``sdk.timeout``."""


class ReceiptTimeout(SdkError):
    """The node admitted the transaction, but it did not commit within the wait.

    It may still commit: look it up later with ``Client.receipt(err.tx_hash)``.
    """

    def __init__(self, tx_hash: str, waited: float) -> None:
        super().__init__(
            "sdk.receipt_timeout",
            f"transaction {tx_hash} was admitted but not committed within {waited:g} s; "
            "look up its receipt later",
        )
        self.tx_hash = tx_hash


class TransactionFailed(SdkError):
    """A committed transaction whose receipt says ``failed``; ``result`` holds it all."""

    def __init__(self, result: Committed) -> None:
        super().__init__(result.code or "tx.failed", result.message or "the transaction failed")
        self.result = result


class InvalidInput(SdkError):
    """The SDK refused to build or send a request (the code matches the node's, if any)."""


class ProofError(SdkError):
    """A proof does not tie the claimed record to the header, or a signature is wrong."""

    def __init__(self, message: str) -> None:
        super().__init__("proof.invalid", message)


class FinalityError(ProofError):
    """A header, its signature or a finality claim fails a rule of ``docs/formats.md`` §6b.

    Attributes:
        reason: the rule, as the test vectors name it (``other_chain``, ``header_hash``,
            ``genesis``, ``proposer_not_allowed``, ``bad_block_signature``, ``malformed``,
            ``final_without_quorum``).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class KeysFileError(SdkError):
    """A consortium keys file that cannot be used (``keys.invalid``): not JSON, or breaking
    the format of ``docs/formats.md`` §6b."""

    def __init__(self, message: str) -> None:
        super().__init__("keys.invalid", message)
