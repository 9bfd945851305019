"""Gateways' pure parts: device messages and file rows into readings, the SDK's batch body,
and the submitter's retry, split and outcome rules against a scripted node."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from fixtures_node import CHAIN_ID, derived_key
from gridledger.core import crypto
from gridledger.core.types import Receipt, Transaction
from gridledger.ingest.batching import Outcome, ReadingSubmitter, RetryPolicy, SubmitAborted
from gridledger.ingest.files import parse_row
from gridledger.ingest.readings import Reading, ReadingError, parse_message, parse_record
from gridledger.sdk import (
    ApiError,
    Committed,
    InvalidInput,
    ReceiptTimeout,
    TransportError,
    readings_body,
    sign_readings,
)

START = 1_782_036_000  # 2026-06-21T10:00:00Z
ISO = "2026-06-21T10:00:00Z"


def reading(meter: str = "m-1", start: int = START, energy: int = 1250) -> Reading:
    return Reading(meter=meter, start=start, length_s=900, energy_wh=energy)


# device messages ---------------------------------------------------------------------------
def test_iso_start_and_unix_seconds_give_the_same_reading() -> None:
    assert dt.datetime.fromisoformat(ISO).timestamp() == START
    forms: list[dict[str, Any]] = [
        {"meter": "m-1", "start": ISO, "length_s": 900, "energy_wh": 1250},
        {"meter": "m-1", "start": START, "length_s": 900, "energy_wh": 1250},
        {"meter": "m-1", "start": str(START), "interval_minutes": 15, "energy_wh": "1250"},
        {"meter": "m-1", "start": "2026-06-21T10:00:00+00:00", "length_s": 900, "energy_wh": 1250},
        {"meter": "m-1", "start": "2026-06-21T18:00:00+08:00", "length_s": 900, "energy_wh": 1250},
        {"meter": "m-1", "interval_start": ISO, "length_s": 900, "interval_minutes": 15,
         "energy_wh": 1250, "firmware": "2.1"},
    ]  # fmt: skip
    for form in forms:
        assert parse_record(form) == reading(), form


def test_a_message_may_be_one_object_or_a_list() -> None:
    one = parse_message(b'{"meter": "m-1", "start": 1782036000, "length_s": 900, "energy_wh": 1}')
    assert one.readings == [reading(energy=1)]
    assert one.errors == []
    many = msgspec.json.encode(
        [{"meter": f"m-{i}", "start": ISO, "length_s": 900, "energy_wh": i} for i in range(3)]
    )
    assert parse_message(many).readings == [reading(f"m-{i}", energy=i) for i in range(3)]


def test_a_bad_item_does_not_spoil_the_rest_of_its_message() -> None:
    payload = msgspec.json.encode(
        [
            {"meter": "m-1", "start": ISO, "length_s": 900, "energy_wh": 5},
            {"meter": "m-2", "start": ISO, "length_s": 900, "energy_wh": 1.5},
            "not an object",
        ]
    )
    parsed = parse_message(payload)
    assert parsed.readings == [reading(energy=5)]
    assert [(i, e.code) for i, e in parsed.errors] == [
        (1, "ingest.non_integer_energy"),
        (2, "ingest.not_a_reading"),
    ]


GOOD: dict[str, Any] = {"meter": "m-1", "start": ISO, "length_s": 900, "energy_wh": 1250}


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"meter": None}, "ingest.missing_field", "meter is missing"),
        ({"start": None}, "ingest.missing_field", "start is missing"),
        ({"energy_wh": None}, "ingest.missing_field", "energy_wh is missing"),
        ({"length_s": None}, "ingest.missing_field", "length_s"),
        ({"meter": "Meter 1"}, "ingest.invalid_meter", "not a meter id"),
        ({"meter": 7}, "ingest.invalid_meter", "not a meter id"),
        ({"energy_wh": 1.5}, "ingest.non_integer_energy", "wrong units"),
        ({"energy_wh": 12.0}, "ingest.non_integer_energy", "whole number of Wh"),
        ({"energy_wh": "1.25"}, "ingest.non_integer_energy", "1250 Wh"),
        ({"energy_wh": "1e3"}, "ingest.non_integer_energy", "wrong units"),
        ({"energy_wh": -1}, "ingest.negative_energy", "negative"),
        ({"energy_wh": True}, "ingest.invalid_energy", "not a number"),
        ({"energy_wh": "lots"}, "ingest.invalid_energy", "whole number"),
        ({"energy_wh": 2**63}, "ingest.invalid_energy", "out of range"),
        ({"length_s": 600}, "ingest.invalid_length", "900, 3600 or 86400"),
        ({"length_s": None, "interval_minutes": 30}, "ingest.invalid_length", "15, 60 or 1440"),
        ({"interval_minutes": 60}, "ingest.invalid_length", "disagree"),
        ({"start": "2026-06-21T10:07:00Z"}, "ingest.misaligned", "not aligned to 900 s"),
        ({"start": START + 1}, "ingest.misaligned", "not aligned"),
        ({"start": "2026-06-21T10:00:00"}, "ingest.invalid_start", "no UTC offset"),
        ({"start": "21/06/2026 10:00"}, "ingest.invalid_start", "ISO 8601"),
        ({"start": 1782036000.0}, "ingest.invalid_start", "whole Unix seconds"),
        ({"start": "2026-06-21T10:00:00.5Z"}, "ingest.invalid_start", "fraction of a second"),
        ({"start": -900}, "ingest.invalid_start", "out of range"),
        ({"start": 10_000_000_800}, "ingest.invalid_start", "1970 to 2286"),
    ],
)
def test_invalid_readings_are_refused_with_a_code_and_a_reason(
    change: dict[str, Any], code: str, words: str
) -> None:
    record = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(ReadingError) as err:
        parse_record(record)
    assert err.value.code == code
    assert words in err.value.message


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b'{"meter": "m-1", "start": ', "ingest.malformed_json"),
        (b"\xff\xfe", "ingest.malformed_json"),
        (b"[]", "ingest.empty_message"),
        (b"42", "ingest.not_a_reading"),
    ],
)
def test_messages_that_hold_no_reading(payload: bytes, code: str) -> None:
    parsed = parse_message(payload)
    assert parsed.readings == []
    assert [e.code for _, e in parsed.errors] == [code]


# file rows ---------------------------------------------------------------------------------
def test_csv_rows_are_text_and_parquet_rows_typed() -> None:
    csv_row = {"meter": " m-1 ", "interval_start": ISO, "interval_minutes": "15",
               "energy_wh": "1250", "note": "x"}  # fmt: skip
    assert parse_row(csv_row) == reading()
    utc = dt.datetime(2026, 6, 21, 10, tzinfo=dt.UTC)
    parquet_row = {"meter": "m-1", "interval_start": utc, "interval_minutes": 15, "energy_wh": 1250}
    assert parse_row(parquet_row) == reading()
    with pytest.raises(ReadingError, match="no UTC offset"):
        parse_row({**parquet_row, "interval_start": utc.replace(tzinfo=None)})
    with pytest.raises(ReadingError, match="15, 60 or 1440"):
        parse_row({**csv_row, "interval_minutes": "900"})
    with pytest.raises(ReadingError) as err:
        parse_row({**csv_row, "energy_wh": "1.25"})
    assert err.value.code == "ingest.non_integer_energy"


# the SDK's batch -------------------------------------------------------------------------
def test_readings_body_takes_the_four_fields_of_structs_and_mappings() -> None:
    body = readings_body([reading(), {**msgspec.to_builtins(reading("m-2")), "row": 7}])
    assert body == {
        "readings": [
            {"meter": "m-1", "start": START, "length_s": 900, "energy_wh": 1250},
            {"meter": "m-2", "start": START, "length_s": 900, "energy_wh": 1250},
        ]
    }
    key = derived_key("gw-1")
    tx = sign_readings(key, CHAIN_ID, "gw-1", 3, [reading()])
    assert (tx.kind, tx.sender, tx.nonce) == ("metering.submit", "gw-1", 3)
    assert crypto.verify(key.public_key, tx.signing_bytes(), tx.signature)


@pytest.mark.parametrize(
    ("readings", "words"),
    [
        ([], "1 to 5000"),
        ([reading(start=START + 900 * i) for i in range(5001)], "1 to 5000"),
        ([{"meter": "m-1", "start": START, "length_s": 900}], "'energy_wh'"),
    ],
)
def test_readings_body_refuses_what_the_node_would(readings: list[Any], words: str) -> None:
    with pytest.raises(InvalidInput) as err:
        readings_body(readings)
    assert err.value.code == "tx.invalid_body"
    assert words in err.value.message


def test_sign_readings_refuses_a_float_before_sending() -> None:
    with pytest.raises(InvalidInput) as err:
        sign_readings(derived_key("gw-1"), CHAIN_ID, "gw-1", 1, [{**GOOD, "energy_wh": 1.5}])
    assert err.value.code == "tx.non_integer_number"


# the submitter, against a scripted node --------------------------------------------------
def test_retry_policy_doubles_up_to_its_ceiling_and_counts_attempts() -> None:
    assert list(RetryPolicy(attempts=5, first_delay_s=1, max_delay_s=3).delays()) == [1, 2, 3, 3]
    assert list(RetryPolicy(attempts=1).delays()) == []


Script = Callable[[Transaction], Committed | Exception]


class ScriptedNode:
    """Stands in for :class:`gridledger.sdk.Client`: answers submissions from a script.

    Each submission pops the next answer; with the script empty, the batch commits with every
    reading accepted except those whose energy is 666 (refused as implausible).
    """

    def __init__(self, answers: list[Any] | None = None, max_tx_bytes: int = 64 * 1024) -> None:
        self.answers = list(answers or [])
        self.sent: list[Transaction] = []
        self.receipts: dict[str, Committed] = {}
        self.nonce = 0
        self.chain_id = CHAIN_ID
        self.max_tx_bytes = max_tx_bytes
        self.height = 0

    def rules(self) -> dict[str, Any]:
        return {"rules": {"max_tx_bytes": self.max_tx_bytes, "max_readings_per_batch": 5000}}

    def next_nonce(self, _account: str) -> int:
        return self.nonce + 1

    def commit(self, tx: Transaction) -> Committed:
        self.height += 1
        self.nonce = max(self.nonce, tx.nonce)
        events: list[dict[str, Any]] = []
        for i, r in enumerate(tx.body["readings"]):
            if r["energy_wh"] == 666:
                events.append({"type": "metering.reading_refused", "index": i,
                               "meter": r["meter"], "start": r["start"],
                               "code": "metering.implausible", "message": "too much"})  # fmt: skip
        events.append({"type": "metering.readings_accepted", "count": 0, "energy_wh": 0})
        receipt = Receipt(tx_hash=tx.hash().hex(), status="ok", events=events)
        done = Committed(tx.hash().hex(), self.height, 0, receipt)
        self.receipts[done.hash] = done
        return done

    def submit_and_wait(self, tx: Transaction, _wait: float) -> Committed:
        self.sent.append(tx)
        answer = self.answers.pop(0) if self.answers else None
        if callable(answer):
            answer = answer(tx)
        if isinstance(answer, Exception):
            raise answer
        return answer if isinstance(answer, Committed) else self.commit(tx)

    def receipt(self, tx_hash: str, wait: float = 0.0) -> Committed:
        del wait
        if tx_hash in self.receipts:
            return self.receipts[tx_hash]
        raise ApiError("not_found", "not committed", 404)


def submitter(node: ScriptedNode, **kwargs: Any) -> ReadingSubmitter:
    retry = kwargs.pop("retry", RetryPolicy(attempts=4, first_delay_s=0.001, max_delay_s=0.002))
    return ReadingSubmitter(
        node,  # type: ignore[arg-type]
        derived_key("gw-1"),
        "gw-1",
        retry=retry,
        **kwargs,
    )


def statuses(outcomes: list[Outcome]) -> list[tuple[str, str | None]]:
    return [(o.status, o.code) for o in outcomes]


def test_outcomes_follow_the_receipt_events_reading_by_reading() -> None:
    node = ScriptedNode()
    batch = [reading(start=START + 900 * i, energy=666 if i == 1 else 5) for i in range(3)]
    outcomes = submitter(node).submit(batch)
    assert statuses(outcomes) == [
        ("accepted", None),
        ("refused", "metering.implausible"),
        ("accepted", None),
    ]
    assert [o.reading for o in outcomes] == batch
    assert {o.tx_hash for o in outcomes} == {node.sent[0].hash().hex()}
    assert outcomes[1].message == "too much"


def test_duplicate_readings_count_as_delivered() -> None:
    def duplicate(tx: Transaction) -> Committed:
        receipt = Receipt(
            tx_hash=tx.hash().hex(),
            status="ok",
            events=[{"type": "metering.reading_refused", "index": 0, "meter": "m-1",
                     "start": START, "code": "metering.duplicate_reading", "message": "again"}],
        )  # fmt: skip
        return Committed(tx.hash().hex(), 1, 0, receipt)

    outcomes = submitter(ScriptedNode([duplicate])).submit([reading()])
    assert statuses(outcomes) == [("duplicate", "metering.duplicate_reading")]
    assert outcomes[0].delivered


def test_batches_are_cut_by_count_and_nonces_counted_locally() -> None:
    node = ScriptedNode()
    outcomes = submitter(node, batch_size=2).submit(
        [reading(start=START + 900 * i) for i in range(5)]
    )
    assert [len(tx.body["readings"]) for tx in node.sent] == [2, 2, 1]
    assert [tx.nonce for tx in node.sent] == [1, 2, 3]
    assert all(o.status == "accepted" for o in outcomes)


def test_an_unreachable_node_gets_the_same_transaction_again() -> None:
    node = ScriptedNode(
        [TransportError("sdk.unreachable", "down"), ApiError("node.halted", "halted", 503)]
    )
    outcomes = submitter(node).submit([reading()])
    assert statuses(outcomes) == [("accepted", None)]
    assert len({tx.hash() for tx in node.sent}) == 1  # resent, never re-signed
    assert len(node.sent) == 3


def test_a_transaction_the_node_already_has_is_awaited_not_resubmitted() -> None:
    node = ScriptedNode()

    def admitted_then_lost_answer(tx: Transaction) -> Exception:
        node.commit(tx)  # it did reach the node; only the answer was lost
        return TransportError("sdk.timeout", "no answer")

    node.answers = [admitted_then_lost_answer, ApiError("tx.duplicate", "already pending", 409)]
    outcomes = submitter(node).submit([reading()])
    assert statuses(outcomes) == [("accepted", None)]
    assert len(node.sent) == 2
    assert node.height == 1


def test_a_receipt_timeout_waits_for_the_receipt_by_hash() -> None:
    node = ScriptedNode()

    def slow(tx: Transaction) -> Exception:
        node.commit(tx)
        return ReceiptTimeout(tx.hash().hex(), 1.0)

    node.answers = [slow]
    assert statuses(submitter(node).submit([reading()])) == [("accepted", None)]
    assert len(node.sent) == 1


def test_a_taken_nonce_is_replaced_by_a_fresh_one() -> None:
    node = ScriptedNode()

    def taken(tx: Transaction) -> Exception:
        node.nonce = tx.nonce + 10  # another process of the gateway used nonces meanwhile
        return ApiError("tx.nonce_replayed", "nonce is not above", 409)

    node.answers = [taken]
    assert statuses(submitter(node).submit([reading()])) == [("accepted", None)]
    assert [tx.nonce for tx in node.sent] == [1, 12]


def test_a_refused_batch_is_split_until_the_reading_at_fault_stands_alone() -> None:
    def refuse_if_holding_energy_7(tx: Transaction) -> Exception | None:
        if any(r["energy_wh"] == 7 for r in tx.body["readings"]):
            return ApiError("tx.invalid_body", "reading 3 is wrong", 400)
        return None

    node = ScriptedNode([refuse_if_holding_energy_7] * 10)
    batch = [reading(start=START + 900 * i, energy=7 if i == 3 else 1) for i in range(8)]
    outcomes = submitter(node).submit(batch)
    assert (
        statuses(outcomes)
        == [("accepted", None)] * 3 + [("refused", "tx.invalid_body")] + [("accepted", None)] * 4
    )
    assert outcomes[3].tx_hash is None


def test_batches_are_kept_under_the_chains_size_limit() -> None:
    node = ScriptedNode(max_tx_bytes=2000)
    outcomes = submitter(node).submit([reading(start=START + 900 * i) for i in range(40)])
    assert all(o.status == "accepted" for o in outcomes)
    assert len(node.sent) > 1
    assert all(len(tx.encode()) <= 2000 for tx in node.sent)
    assert sum(len(tx.body["readings"]) for tx in node.sent) == 40


def test_retries_end_in_submit_aborted_and_stop_is_prompt() -> None:
    down = [TransportError("sdk.unreachable", "down")] * 10
    with pytest.raises(SubmitAborted) as err:
        submitter(ScriptedNode(list(down))).submit([reading()])
    assert err.value.code == "sdk.unreachable"

    stop = threading.Event()
    stop.set()
    with pytest.raises(SubmitAborted) as err:
        submitter(ScriptedNode(list(down)), stop=stop, retry=RetryPolicy()).submit([reading()])
    assert err.value.code == "ingest.stopped"


def test_a_failed_receipt_for_a_passing_reason_is_signed_again() -> None:
    node = ScriptedNode()

    def forbidden(tx: Transaction) -> Committed:
        receipt = Receipt(
            tx_hash=tx.hash().hex(), status="failed", code="tx.sender_suspended", message="s"
        )
        return Committed(tx.hash().hex(), 1, 0, receipt)

    node.answers = [forbidden]
    assert statuses(submitter(node).submit([reading()])) == [("accepted", None)]
    assert [tx.nonce for tx in node.sent] == [1, 2]
