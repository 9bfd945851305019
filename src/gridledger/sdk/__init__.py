"""The Python SDK: talk to a node's API, sign transactions, check proofs without a node.

* :class:`Client` — every API call, plus :meth:`Client.send` (sign, submit, wait);
* :func:`sign_tx` — build and sign a transaction offline;
* :func:`submit_readings` — sign and submit a gateway's batch of meter readings;
* :class:`Market` (``Client.market``) — the clean-power market's reads and transactions;
* :mod:`gridledger.sdk.proofs` — check state and transaction proofs, header signatures, and
  attestations and finality (:func:`verify_finality`) with the consortium keys file;
* :mod:`gridledger.sdk.consortium_keys` — that file: load, check, export from a node, derive
  from a genesis document;
* errors: :class:`SdkError` and its subclasses, each with a stable ``code``.
"""

from gridledger.core.crypto import SigningKey
from gridledger.core.types import Receipt, Transaction
from gridledger.sdk.client import DEFAULT_URL, Client, Committed
from gridledger.sdk.consortium_keys import (
    ConsortiumKeys,
    export_keys,
    keys_from_genesis,
    load_keys,
    parse_keys,
)
from gridledger.sdk.errors import (
    ApiError,
    FinalityError,
    InvalidInput,
    KeysFileError,
    ProofError,
    ReceiptTimeout,
    SdkError,
    TransactionFailed,
    TransportError,
)
from gridledger.sdk.market import MARKET_KINDS, Market, market_body
from gridledger.sdk.metering import readings_body, sign_readings, submit_readings
from gridledger.sdk.proofs import (
    FinalityResult,
    RejectedAttestation,
    header_from_json,
    proof_finality,
    verify_finality,
    verify_header_signature,
    verify_log_entry,
    verify_state_proof,
    verify_tx_proof,
)
from gridledger.sdk.tx import sign_tx

__all__ = [
    "DEFAULT_URL",
    "MARKET_KINDS",
    "ApiError",
    "Client",
    "Committed",
    "ConsortiumKeys",
    "FinalityError",
    "FinalityResult",
    "InvalidInput",
    "KeysFileError",
    "Market",
    "ProofError",
    "Receipt",
    "ReceiptTimeout",
    "RejectedAttestation",
    "SdkError",
    "SigningKey",
    "Transaction",
    "TransactionFailed",
    "TransportError",
    "export_keys",
    "header_from_json",
    "keys_from_genesis",
    "load_keys",
    "market_body",
    "parse_keys",
    "proof_finality",
    "readings_body",
    "sign_readings",
    "sign_tx",
    "submit_readings",
    "verify_finality",
    "verify_header_signature",
    "verify_log_entry",
    "verify_state_proof",
    "verify_tx_proof",
]
