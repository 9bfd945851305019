"""Sign, submit and settle batches of readings, and report what became of each reading.

:class:`ReadingSubmitter` is what both gateways (MQTT and file import) hand their readings to.
For each batch it signs one ``metering.submit`` transaction, makes sure the node has it, waits
for the receipt, and turns the receipt's events into one :class:`Outcome` per reading:

* ``accepted``: stored on the chain;
* ``duplicate``: the chain already holds a reading for that meter and interval
  (``metering.duplicate_reading``): a redelivered or re-imported reading, already delivered;
* ``refused``: refused with a code (``metering.unknown_meter``, ``metering.implausible``...),
  nothing stored.

Failures are sorted by what can fix them:

* the **node or the network** (unreachable, a timeout, a halted node, an account not yet
  registered or suspended, a wrong key): retried with backoff, never dropped; the same signed
  transaction is resent, so a batch the node did receive is not submitted twice;
* a **nonce** taken meanwhile (``tx.nonce_replayed``): signed again with a fresh nonce;
* the **content** (``tx.oversize``, a body the node refuses): the batch is split in halves
  until the reading at fault stands alone, and only that one is refused.

Everything is logged as structured JSON (``extra`` fields, see ``gridledger.cli.logs``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from gridledger.core.crypto import SigningKey
from gridledger.core.types import Transaction
from gridledger.ingest.readings import Reading
from gridledger.sdk import ApiError, Client, Committed, ReceiptTimeout, SdkError
from gridledger.sdk.metering import sign_readings

log = logging.getLogger("gridledger.ingest")

Status = Literal["accepted", "duplicate", "refused"]
T = TypeVar("T")

DEFAULT_BATCH = 1000
DUPLICATE = "metering.duplicate_reading"
DEFAULT_MAX_TX_BYTES = 64 * 1024
"""Used when the node's ``chain/params`` cannot be read."""

# Codes that say the batch itself is wrong: resending it cannot help, splitting it can.
_CONTENT_CODES = frozenset(
    {
        "tx.oversize",
        "tx.invalid_body",
        "tx.non_integer_number",
        "tx.integer_out_of_range",
        "tx.malformed",
    }
)
_NONCE_ATTEMPTS = 5


def _is_content(code: str | None) -> bool:
    return code is not None and (code in _CONTENT_CODES or code.startswith("metering."))


@dataclass(frozen=True)
class Outcome:
    """What the chain did with one reading."""

    reading: Reading
    status: Status
    code: str | None = None
    """The refusal code (``metering.*``, ``tx.*``, or ``ingest.*`` for readings never sent)."""
    message: str | None = None
    tx_hash: str | None = None
    """The transaction that carried the reading (None if it was never sent)."""
    height: int | None = None
    """The block that holds that transaction."""

    @property
    def delivered(self) -> bool:
        """On the chain now, by this batch or an earlier one."""
        return self.status in {"accepted", "duplicate"}


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for failures of the node or the network.

    Attributes:
        attempts: tries before giving up; ``None`` retries for ever (a long-running gateway).
        first_delay_s: the first pause; each further pause doubles, up to ``max_delay_s``.
        max_delay_s: the longest pause.
    """

    attempts: int | None = None
    first_delay_s: float = 0.5
    max_delay_s: float = 30.0

    def delays(self) -> Iterator[float]:
        """Pauses between tries; ends when the attempts are used up."""
        delay = self.first_delay_s
        tries = 1
        while self.attempts is None or tries < self.attempts:
            yield delay
            delay = min(delay * 2, self.max_delay_s)
            tries += 1


class SubmitAborted(Exception):
    """A batch could not be delivered: retries used up, or the gateway is stopping.

    Nothing is lost: the readings of that batch have no outcome, and their sources (MQTT
    messages, file rows) have not been acknowledged.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class _Refused(Exception):
    """The node refused a batch for its content (see ``_CONTENT_CODES``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


class _NonceTaken(Exception):
    """Another transaction of the gateway used the nonce first."""


class ReadingSubmitter:
    """Submits readings in signed batches for one gateway account.

    Args:
        client: the node's API.
        key: the gateway's signing key.
        gateway: the gateway's account id.
        batch_size: readings per transaction at most (1-5000); batches are also kept under
            the chain's ``max_tx_bytes``.
        wait_s: seconds to wait for a receipt per request (at most 60).
        retry: backoff for node and network failures.
        stop: set it to make a waiting submitter give up at once (:class:`SubmitAborted`).
        max_tx_bytes: the chain's size limit; read from the node's chain rules when None
            (with the most readings a batch may hold).
        log_readings: log each refused or duplicate reading (a caller that reports every
            reading itself, like the file import, turns it off).
    """

    def __init__(
        self,
        client: Client,
        key: SigningKey,
        gateway: str,
        *,
        batch_size: int = DEFAULT_BATCH,
        wait_s: float = 30.0,
        retry: RetryPolicy | None = None,
        stop: threading.Event | None = None,
        max_tx_bytes: int | None = None,
        log_readings: bool = True,
    ) -> None:
        if not 1 <= batch_size <= 5000:
            raise ValueError("batch_size is 1 to 5000 readings")
        self.client = client
        self.key = key
        self.gateway = gateway
        self.batch_size = batch_size
        self.wait_s = wait_s
        self.retry = retry or RetryPolicy()
        self.stop = stop or threading.Event()
        self._max_tx_bytes = max_tx_bytes
        self.log_readings = log_readings
        self._nonce: int | None = None

    # public ------------------------------------------------------------------------------
    def submit(self, readings: Sequence[Reading]) -> list[Outcome]:
        """Deliver ``readings``; one outcome per reading, in the same order.

        Raises:
            SubmitAborted: a batch could not be delivered (retries used up, or stopping);
                earlier batches of this call are on the chain but not reported.
        """
        outcomes: list[Outcome] = []
        self.max_tx_bytes  # noqa: B018 - reads the chain rules once, which may cap batch_size
        for first in range(0, len(readings), self.batch_size):
            outcomes.extend(self._deliver(list(readings[first : first + self.batch_size])))
        return outcomes

    @property
    def max_tx_bytes(self) -> int:
        """The chain's transaction size limit for the next block (asked once)."""
        if self._max_tx_bytes is None:
            self._max_tx_bytes = DEFAULT_MAX_TX_BYTES
            try:
                rules = self.client.rules()["rules"]
                self._max_tx_bytes = int(rules["max_tx_bytes"])
                # a batch never holds more readings than the chain takes in one
                self.batch_size = min(self.batch_size, int(rules["max_readings_per_batch"]))
            except (SdkError, KeyError, TypeError, ValueError) as exc:
                log.warning(
                    "chain rules unreadable; assuming the default size limit",
                    extra={"reason": str(exc), "max_tx_bytes": DEFAULT_MAX_TX_BYTES},
                )
        return self._max_tx_bytes

    # one batch ---------------------------------------------------------------------------
    def _deliver(self, readings: list[Reading]) -> list[Outcome]:
        """Deliver one batch, splitting it when its size or content is refused."""
        delays = self.retry.delays()
        nonce_tries = 0
        while True:
            tx = self._sign(readings)
            size = len(tx.encode())
            if size > self.max_tx_bytes and len(readings) > 1:
                return self._split(readings)
            try:
                result = self._settle(tx)
            except _NonceTaken:
                nonce_tries += 1
                self._nonce = None
                if nonce_tries >= _NONCE_ATTEMPTS:
                    self._pause(
                        delays, "tx.nonce_replayed", "the gateway's nonces keep being taken"
                    )
                continue
            except _Refused as exc:
                return self._refused_batch(readings, exc.code, exc.message, None, None)
            if result.ok:
                return self._outcomes(readings, result)
            if _is_content(result.code):
                return self._refused_batch(
                    readings, result.code or "tx.failed", result.message, result.hash,
                    result.height,
                )  # fmt: skip
            # failed for a reason that may pass (a role revoked, a gateway suspended): the
            # nonce is spent, so sign again after a pause
            self._pause(delays, result.code or "tx.failed", result.message or "failed")

    def _refused_batch(
        self,
        readings: list[Reading],
        code: str,
        message: str | None,
        tx_hash: str | None,
        height: int | None,
    ) -> list[Outcome]:
        if len(readings) > 1:
            log.info(
                "batch refused; splitting it to find the readings at fault",
                extra={"code": code, "readings": len(readings)},
            )
            return self._split(readings)
        outcome = Outcome(readings[0], "refused", code, message, tx_hash, height)
        self._log_outcome(outcome)
        return [outcome]

    def _split(self, readings: list[Reading]) -> list[Outcome]:
        half = len(readings) // 2
        return self._deliver(readings[:half]) + self._deliver(readings[half:])

    def _sign(self, readings: list[Reading]) -> Transaction:
        if self._nonce is None:
            self._nonce = self.with_retry(lambda: self.client.next_nonce(self.gateway))
        else:
            self._nonce += 1
        return sign_readings(
            self.key, self.with_retry(lambda: self.client.chain_id), self.gateway,
            self._nonce, readings,
        )  # fmt: skip

    def _settle(self, tx: Transaction) -> Committed:
        """Get ``tx`` committed: resend the same bytes until the node has it, then wait.

        Resending the very same transaction is what makes retries safe: if the node did
        receive it, it answers ``tx.duplicate`` and the receipt is awaited instead.
        """
        tx_hash = tx.hash().hex()
        delays = self.retry.delays()
        admitted = False
        while True:
            self._check_stop()
            try:
                if admitted:
                    return self.client.receipt(tx_hash, wait=self.wait_s)
                return self.client.submit_and_wait(tx, self.wait_s)
            except ReceiptTimeout:
                admitted = True
                continue
            except ApiError as exc:
                if exc.code == "tx.duplicate":
                    admitted = True
                    continue
                if admitted and exc.code == "not_found":
                    # not committed within the wait: still pending, or lost with a restarted
                    # node's memory; resending tells which (tx.duplicate) or re-admits it
                    admitted = False
                    self._pause(delays, exc.code, f"transaction {tx_hash} not committed yet")
                    continue
                if exc.code == "tx.nonce_replayed":
                    raise _NonceTaken from None
                if _is_content(exc.code):
                    raise _Refused(exc.code, exc.message) from None
                self._pause(delays, exc.code, exc.message)
            except SdkError as exc:
                self._pause(delays, exc.code, exc.message)

    def with_retry(self, call: Callable[[], T]) -> T:
        """``call()``, retried under this submitter's policy while the node fails.

        Raises:
            SubmitAborted: the retries are used up, or the submitter is stopping.
        """
        delays = self.retry.delays()
        while True:
            self._check_stop()
            try:
                return call()
            except SdkError as exc:
                self._pause(delays, exc.code, exc.message)

    # waiting -----------------------------------------------------------------------------
    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise SubmitAborted("ingest.stopped", "the gateway is stopping")

    def _pause(self, delays: Iterator[float], code: str, message: str) -> None:
        """Wait before the next try, or give up when the policy says so."""
        delay = next(delays, None)
        if delay is None:
            raise SubmitAborted(code, message)
        log.warning(
            "node unavailable or refusing; retrying",
            extra={"code": code, "error": message, "retry_in_s": delay, "gateway": self.gateway},
        )
        if self.stop.wait(delay):
            raise SubmitAborted("ingest.stopped", "the gateway is stopping")

    # outcomes ----------------------------------------------------------------------------
    def _outcomes(self, readings: list[Reading], result: Committed) -> list[Outcome]:
        refused: dict[int, dict[str, Any]] = {}
        whole: dict[str, Any] | None = None
        for event in result.events:
            if event.get("type") == "metering.reading_refused":
                refused[int(event["index"])] = event
            elif event.get("type") == "metering.batch_refused":
                whole = _whole_batch(event)
        outcomes = []
        for i, reading in enumerate(readings):
            refusal = refused.get(i, whole)
            if refusal is None:
                outcome = Outcome(reading, "accepted", None, None, result.hash, result.height)
            else:
                code = str(refusal.get("code"))
                status: Status = "duplicate" if code == DUPLICATE else "refused"
                message = str(refusal.get("message"))
                outcome = Outcome(reading, status, code, message, result.hash, result.height)
            outcomes.append(outcome)
            self._log_outcome(outcome)
        accepted = sum(o.status == "accepted" for o in outcomes)
        duplicates = sum(o.status == "duplicate" for o in outcomes)
        log.info(
            "batch committed",
            extra={
                "gateway": self.gateway,
                "tx_hash": result.hash,
                "height": result.height,
                "readings": len(readings),
                "accepted": accepted,
                "duplicates": duplicates,
                "refused": len(readings) - accepted - duplicates,
                "energy_wh": sum(o.reading.energy_wh for o in outcomes if o.status == "accepted"),
            },
        )
        return outcomes

    def _log_outcome(self, outcome: Outcome) -> None:
        if not self.log_readings:
            return
        r = outcome.reading
        fields = {
            "meter": r.meter,
            "start": r.start,
            "length_s": r.length_s,
            "energy_wh": r.energy_wh,
            "status": outcome.status,
            "code": outcome.code,
            "tx_hash": outcome.tx_hash,
        }
        if outcome.status == "accepted":
            log.debug("reading accepted", extra=fields)
        elif outcome.status == "duplicate":
            log.info("reading already on chain", extra={**fields, "error": outcome.message})
        else:
            log.warning("reading refused", extra={**fields, "error": outcome.message})


def _whole_batch(event: dict[str, Any]) -> dict[str, Any]:
    """What a ``metering.batch_refused`` event says of each reading: its code when the whole
    batch was refused for one reason, else ``metering.refused`` with the counts by code."""
    codes = [(str(code), int(n)) for code, n in event.get("codes", [])]
    if len(codes) == 1:
        return {"code": codes[0][0], "message": f"every reading: {event.get('message')}"}
    counted = ", ".join(f"{n} {code}" for code, n in codes)
    return {"code": "metering.refused", "message": f"every reading was refused ({counted})"}
