"""The certificates contract through the executor: issuance, the lifecycle, storage, GECs,
market pairings, matching and statements.

Every refusal runs alone in a block and must leave every key but the sender's nonce as it was
(``Ledger.refused``), with its own error code. After the flows, :func:`check_invariants`
recomputes from the stored records that the bundles of every device tile its Wh ids and that
no interval stands certified beyond what its meters measure.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from certificates_support import (
    CERTIFIER,
    CONSUMER,
    DAY,
    DAY0,
    GRID,
    HOUR,
    OPERATOR,
    PRODUCER,
    TWO_YEARS_S,
    CertLedger,
    CertMarket,
    check_invariants,
)
from gridledger.contracts import KINDS, certificates, market
from gridledger.contracts.certificates import Bundle, bundle_hash, device_ledger, issuance_of
from gridledger.contracts.certificates.keys import charge, gec_export, storage
from gridledger.contracts.certificates.records import GecExport, StorageCharge, StorageLedger
from ledger_support import OTHER_HOUSE, device_body, site_body
from market_support import H1, at
from support import OPERATOR_ORG

NOON = DAY0 + 12 * HOUR
"""2025-06-15 12:00 UTC."""
NOON_WH = [1000, 1100, 1200, 1300]
ISSUE = "certificates.issue"
MAY = 1_746_057_600
"""2025-05-01 00:00 UTC."""
JUNE = 1_748_736_000
JULY = 1_751_328_000
BIG = 5_000_000
"""A 5 MW plant: a few of its hours make more than one GEC (1 MWh)."""


@pytest.fixture
def led() -> CertLedger:
    """pv-1 and home-1 registered; pv-1 metered 4,600 Wh at noon and 2,000 Wh at 13:00."""
    ledger = CertLedger().plant().home()
    ledger.generate("m-gen", NOON, NOON_WH)
    ledger.generate("m-gen", NOON + HOUR, [500, 500, 500, 500])
    return ledger


def issue_body(starts: list[int], device: str = "pv-1", to: str = PRODUCER, **extra: Any) -> Any:
    return {"device": device, "to": to, "starts": starts, **extra}


def only(led: CertLedger, device: str = "pv-1") -> Bundle:
    (b,) = certificates.bundles_of_device(led.state, device).items
    return b


def held(led: CertLedger, device: str = "pv-1") -> list[tuple[str, int, str, str]]:
    """(id, Wh, owner, status) of every bundle of the device, in id order."""
    return [(b["id"], b["quantity_wh"], b["owner"], b["status"]) for b in led.bundles(device)]


# issuance --------------------------------------------------------------------------------------
def test_issue_hands_out_contiguous_ranges_with_the_device_attributes(led: CertLedger) -> None:
    receipt = led.issue("pv-1", [NOON + HOUR, NOON])
    assert receipt.events == [
        {
            "type": "certificates.issued",
            "device": "pv-1",
            "to": PRODUCER,
            "intervals": 2,
            "quantity_wh": 6600,
        }
    ]
    # intervals are issued in time order: the noon hour takes ids 1..4600
    first, second = (led.bundle("pv-1:1"), led.bundle("pv-1:4601"))
    assert (first.range_start, first.range_end, first.quantity_wh) == (1, 4600, 4600)
    assert (second.range_start, second.range_end, second.quantity_wh) == (4601, 6600, 2000)
    assert (first.production_start_s, first.production_end_s) == (NOON, NOON + HOUR)
    assert second.issuance == f"pv-1:{NOON + HOUR}"
    issued_height = led.height
    led.generate("m-gen", NOON + 2 * HOUR, [10, 20, 30, 40])
    led.issue("pv-1", [NOON + 2 * HOUR])
    third = led.bundle("pv-1:6601")
    assert (third.range_start, third.range_end, third.quantity_wh) == (6601, 6700, 100)

    for b in (first, second, third):
        assert b.hash == bundle_hash(b)
        assert b.quantity_wh == b.range_end - b.range_start + 1
        assert b.parent_hash is None
        assert b.origin is None
        assert (b.bundle_type, b.status, b.owner) == ("production", "active", PRODUCER)
        assert (b.issuer, b.issuing_body, b.scheme) == (CERTIFIER, "operator", "energytag-gc/2024")
        assert b.expires_s == b.issued_s + TWO_YEARS_S == led.block_time_ms // 1000 + TWO_YEARS_S
        attrs = device_body("pv-1")
        assert (b.technology, b.fuel, b.capacity_w, b.commissioned, b.support, b.country) == (
            attrs["technology"],
            attrs["fuel"],
            attrs["capacity_w"],
            attrs["commissioned"],
            attrs["support"],
            attrs["country"],
        )
        assert b.grid_zone == attrs["grid_region"]
    assert first.issued_height == issued_height
    # the hash covers the immutable fields: any change to one shows
    forged = msgspec.structs.replace(first, quantity_wh=4599, range_end=4599)
    assert bundle_hash(forged) != first.hash
    ledger = device_ledger(led.state, "pv-1")
    assert (ledger.last_id, ledger.issued_wh, ledger.withdrawn_wh, ledger.intervals) == (
        6700,
        6700,
        0,
        3,
    )
    item = issuance_of(led.state, "pv-1", NOON)
    assert item is not None
    assert (item.range_start, item.quantity_wh, item.metered_wh, item.length_s) == (
        1,
        4600,
        4600,
        HOUR,
    )
    assert [i.start_s for i in certificates.issuances(led.state, "pv-1", DAY0, DAY0 + DAY)] == [
        NOON,
        NOON + HOUR,
        NOON + 2 * HOUR,
    ]
    check_invariants(led.state)


def test_quarter_hour_bundles(led: CertLedger) -> None:
    starts = [NOON + 900 * i for i in range(4)]
    receipt = led.ok(CERTIFIER, ISSUE, issue_body(starts, length_s=900))
    assert receipt.events[0]["quantity_wh"] == sum(NOON_WH)
    assert held(led) == [
        ("pv-1:1", 1000, PRODUCER, "active"),
        ("pv-1:1001", 1100, PRODUCER, "active"),
        ("pv-1:2101", 1200, PRODUCER, "active"),
        ("pv-1:3301", 1300, PRODUCER, "active"),
    ]
    last = led.bundle("pv-1:3301")
    assert (last.production_start_s, last.production_end_s) == (NOON + 2700, NOON + HOUR)
    # a scheme of quarter-hour bundles refuses hours
    led.set_params(bundle_s=900)
    led.refuse(CERTIFIER, ISSUE, issue_body([NOON + HOUR]), "certificates.interval_too_long")
    led.ok(CERTIFIER, ISSUE, issue_body([NOON + HOUR], length_s=900))
    check_invariants(led.state)


def test_issuance_after_a_meter_correction_uses_the_corrected_value(led: CertLedger) -> None:
    led.correct("m-gen", NOON + 900, 100)
    led.issue("pv-1", [NOON])
    assert only(led).quantity_wh == 1000 + 100 + 1200 + 1300
    item = issuance_of(led.state, "pv-1", NOON)
    assert item is not None
    assert item.metered_wh == 3600


def test_issue_refusals(led: CertLedger) -> None:
    def refuse(body: Any, code: str, sender: str = CERTIFIER, **run: Any) -> str:
        return led.refuse(sender, ISSUE, body, code, **run)

    refuse(issue_body([NOON]), "auth.forbidden", sender=PRODUCER)
    refuse(issue_body([NOON], device="pv-9"), "certificates.unknown_device")
    # to an account of another organisation, or to no account
    refuse(issue_body([NOON], to=GRID), "auth.forbidden")
    refuse(issue_body([NOON], to="nobody"), "certificates.unknown_account")
    # misaligned start, a length other than 900 / 3600
    refuse(issue_body([NOON + 900]), "certificates.misaligned")
    refuse(issue_body([NOON], length_s=1800), "certificates.misaligned")
    refuse(issue_body([-HOUR]), "certificates.misaligned")
    # not final: block time before the interval's end + finality_s
    before = (NOON + 2 * HOUR - 1) * 1000
    message = refuse(issue_body([NOON]), "certificates.not_final", block_time_ms=before)
    assert str(NOON + 2 * HOUR) in message
    led.ok(CERTIFIER, ISSUE, issue_body([NOON]), block_time_ms=before + 1000)
    # unmetered: an hour with a quarter missing, an hour with no readings at all
    led.generate("m-gen", DAY0, [10, 10, 10])
    refuse(issue_body([DAY0]), "certificates.not_metered")
    refuse(issue_body([DAY0 + 5 * HOUR]), "certificates.not_metered")
    # zero generation
    led.generate("m-gen", DAY0 + 3 * HOUR, [0, 0, 0, 0])
    refuse(issue_body([DAY0 + 3 * HOUR]), "certificates.zero_generation")
    # a device without a meter
    led.ok(PRODUCER, "registry.register_device", device_body("pv-2"))
    refuse(issue_body([NOON], device="pv-2"), "certificates.not_metered")
    # one bad interval refuses the whole request
    refuse(issue_body([NOON + HOUR, DAY0]), "certificates.not_metered")
    refuse(issue_body([NOON + HOUR, NOON + HOUR]), "certificates.duplicate_interval")
    refuse(issue_body([]), "certificates.bad_count")
    refuse(issue_body(list(range(NOON - 745 * HOUR, NOON, HOUR))), "certificates.bad_count")
    # issued before, whatever the request looks like
    refuse(issue_body([NOON]), "certificates.already_issued")
    refuse(issue_body([NOON + HOUR, NOON]), "certificates.already_issued")
    refuse(issue_body([NOON + 900], length_s=900), "certificates.already_issued")
    # a storage device gets certificates for its discharge only
    led.storage()
    led.generate("m-bat", NOON, [100, 100, 100, 100])
    refuse(issue_body([NOON], device="bat-1"), "certificates.storage_device")
    assert held(led) == [("pv-1:1", 4600, PRODUCER, "active")]
    check_invariants(led.state)


def test_quarter_hours_and_hours_never_overlap(led: CertLedger) -> None:
    led.ok(CERTIFIER, ISSUE, issue_body([NOON + 2700], length_s=900))
    led.refuse(CERTIFIER, ISSUE, issue_body([NOON]), "certificates.already_issued")
    led.issue("pv-1", [NOON + HOUR])
    for quarter in range(4):
        body = issue_body([NOON + HOUR + 900 * quarter], length_s=900)
        led.refuse(CERTIFIER, ISSUE, body, "certificates.already_issued")
    # the other quarters of the noon hour are still open
    led.ok(CERTIFIER, ISSUE, issue_body([NOON, NOON + 900, NOON + 1800], length_s=900))
    assert sum(b["quantity_wh"] for b in led.bundles()) == 4600 + 2000
    check_invariants(led.state)


def test_repeated_requests_in_one_block_issue_once(led: CertLedger) -> None:
    first = led.tx(CERTIFIER, ISSUE, issue_body([NOON]))
    again = led.tx(CERTIFIER, ISSUE, issue_body([NOON], to=OTHER_HOUSE))
    quarter = led.tx(CERTIFIER, ISSUE, issue_body([NOON + 1800], length_s=900))
    receipts = led.run(first, again, quarter)
    assert [(r.status, r.code) for r in receipts] == [
        ("ok", None),
        ("failed", "certificates.already_issued"),
        ("failed", "certificates.already_issued"),
    ]
    assert held(led) == [("pv-1:1", 4600, PRODUCER, "active")]
    check_invariants(led.state)


@pytest.mark.parametrize("then", ["split", "claim", "withdraw", "transfer"])
def test_an_interval_is_issued_once_whatever_became_of_its_bundles(
    led: CertLedger, then: str
) -> None:
    led.issue("pv-1", [NOON])
    if then == "split":
        led.ok(PRODUCER, "certificates.split", {"bundle": "pv-1:1", "quantities": [600, 4000]})
    elif then == "claim":
        cancel(led, "pv-1:1")
        led.ok(PRODUCER, "certificates.claim", {"bundle": "pv-1:1"})
    elif then == "withdraw":
        led.ok(CERTIFIER, "certificates.withdraw", {"bundle": "pv-1:1", "reason": "audit"})
    else:
        led.ok(PRODUCER, "certificates.transfer", {"bundle": "pv-1:1", "to": CONSUMER})
    led.refuse(CERTIFIER, ISSUE, issue_body([NOON]), "certificates.already_issued")
    led.refuse(CERTIFIER, ISSUE, issue_body([NOON], to=OTHER_HOUSE), "certificates.already_issued")
    check_invariants(led.state)


# the lifecycle -------------------------------------------------------------------------------
def cancel(led: CertLedger, bundle: str, sender: str = PRODUCER, **extra: Any) -> Any:
    body = {
        "bundle": bundle,
        "beneficiary": CONSUMER,
        "site": "home-1",
        "period_start_s": NOON,
        "period_end_s": NOON + HOUR,
        **extra,
    }
    return led.ok(sender, "certificates.cancel", body)


def test_split_into_consecutive_children_carrying_the_parent_hash(led: CertLedger) -> None:
    led.issue("pv-1", [NOON])
    parent = led.bundle("pv-1:1")
    split = "certificates.split"
    for quantities in ([1000, 3000], [1000, 3601], [4600], [0, 4600], [-1, 4601]):
        led.refuse(
            PRODUCER,
            split,
            {"bundle": "pv-1:1", "quantities": quantities},
            "certificates.bad_split",
        )
    led.refuse(
        CONSUMER, split, {"bundle": "pv-1:1", "quantities": [1, 4599]}, "certificates.not_owner"
    )
    led.refuse(
        PRODUCER,
        split,
        {"bundle": "pv-1:9", "quantities": [1, 4599]},
        "certificates.unknown_bundle",
    )
    receipt = led.ok(PRODUCER, split, {"bundle": "pv-1:1", "quantities": [100, 500, 4000]})
    assert receipt.events[0]["into"] == ["pv-1:1", "pv-1:101", "pv-1:601"]
    children = [led.bundle(i) for i in ("pv-1:1", "pv-1:101", "pv-1:601")]
    assert [(c.range_start, c.range_end, c.quantity_wh) for c in children] == [
        (1, 100, 100),
        (101, 600, 500),
        (601, 4600, 4000),
    ]
    for c in children:
        assert c.parent_hash == parent.hash
        assert c.hash == bundle_hash(c) != parent.hash
        assert (c.issuance, c.production_start_s, c.issued_s, c.expires_s, c.owner) == (
            parent.issuance,
            parent.production_start_s,
            parent.issued_s,
            parent.expires_s,
            parent.owner,
        )
    # the first child keeps the id but is a new version: its hash names it
    assert children[0].id == parent.id
    assert children[0].hash != parent.hash
    led.ok(PRODUCER, split, {"bundle": "pv-1:601", "quantities": [1, 3999]})
    assert led.bundle("pv-1:602").parent_hash == children[2].hash
    assert sum(b["quantity_wh"] for b in led.bundles()) == 4600
    check_invariants(led.state)


def test_transfer_to_accounts_that_accept_the_sender(led: CertLedger) -> None:
    led.issue("pv-1", [NOON])
    transfer = "certificates.transfer"
    led.refuse(
        CONSUMER, transfer, {"bundle": "pv-1:1", "to": OTHER_HOUSE}, "certificates.not_owner"
    )
    led.refuse(
        PRODUCER, transfer, {"bundle": "pv-1:1", "to": PRODUCER}, "certificates.transfer_refused"
    )
    led.refuse(
        PRODUCER, transfer, {"bundle": "pv-1:1", "to": "nobody"}, "certificates.unknown_account"
    )
    led.refuse(
        PRODUCER,
        transfer,
        {"bundle": "pv-1:1", "to": CONSUMER, "quantity_wh": 4601},
        "certificates.bad_quantity",
    )
    led.refuse(
        PRODUCER,
        transfer,
        {"bundle": "pv-1:1", "to": CONSUMER, "quantity_wh": 0},
        "certificates.bad_quantity",
    )
    # part of a bundle: the first Wh ids go, the rest stays under a new id
    receipt = led.ok(PRODUCER, transfer, {"bundle": "pv-1:1", "to": CONSUMER, "quantity_wh": 600})
    assert receipt.events[0] == {
        "type": "certificates.transferred",
        "bundle": "pv-1:1",
        "to": CONSUMER,
        "quantity_wh": 600,
    }
    assert held(led) == [
        ("pv-1:1", 600, CONSUMER, "active"),
        ("pv-1:601", 4000, PRODUCER, "active"),
    ]
    # the consumer accepts only listed senders: an account, or an organisation
    acceptance = "certificates.set_acceptance"
    led.ok(CONSUMER, acceptance, {"mode": "listed", "senders": [GRID]})
    led.refuse(
        PRODUCER,
        transfer,
        {"bundle": "pv-1:601", "to": CONSUMER, "quantity_wh": 10},
        "certificates.transfer_refused",
    )
    led.ok(CONSUMER, acceptance, {"mode": "listed", "senders": ["households"]})
    led.ok(PRODUCER, transfer, {"bundle": "pv-1:601", "to": CONSUMER, "quantity_wh": 10})
    led.ok(CONSUMER, acceptance, {"mode": "listed", "senders": [PRODUCER]})
    led.ok(PRODUCER, transfer, {"bundle": "pv-1:611", "to": CONSUMER, "quantity_wh": 10})
    led.ok(CONSUMER, acceptance, {"mode": "nobody"})
    led.refuse(
        PRODUCER, transfer, {"bundle": "pv-1:621", "to": CONSUMER}, "certificates.transfer_refused"
    )
    for bad in (
        {"mode": "listed"},
        {"mode": "nobody", "senders": [PRODUCER]},
        {"mode": "listed", "senders": [PRODUCER, PRODUCER]},
    ):
        led.refuse(CONSUMER, acceptance, bad, "certificates.bad_acceptance")
    led.ok(CONSUMER, acceptance, {"mode": "anyone"})
    led.ok(PRODUCER, transfer, {"bundle": "pv-1:621", "to": CONSUMER})
    assert held(led) == [
        ("pv-1:1", 600, CONSUMER, "active"),
        ("pv-1:601", 10, CONSUMER, "active"),
        ("pv-1:611", 10, CONSUMER, "active"),
        ("pv-1:621", 3980, CONSUMER, "active"),
    ]
    check_invariants(led.state)


def test_a_locked_bundle_moves_only_to_the_account_it_is_locked_for(led: CertLedger) -> None:
    led.issue("pv-1", [NOON])
    lock = {"bundle": "pv-1:1", "for_account": CONSUMER, "quantity_wh": 1000}
    led.refuse(
        PRODUCER,
        "certificates.lock",
        {**lock, "for_account": "nobody"},
        "certificates.unknown_account",
    )
    led.refuse(CONSUMER, "certificates.lock", lock, "certificates.not_owner")
    receipt = led.ok(PRODUCER, "certificates.lock", lock)
    assert receipt.events[0]["quantity_wh"] == 1000
    locked = led.bundle("pv-1:1")
    assert (locked.status, locked.locked_for, locked.quantity_wh) == ("locked", CONSUMER, 1000)
    assert led.bundle("pv-1:1001").status == "active"
    code = "certificates.locked"
    led.refuse(PRODUCER, "certificates.transfer", {"bundle": "pv-1:1", "to": OTHER_HOUSE}, code)
    led.refuse(PRODUCER, "certificates.split", {"bundle": "pv-1:1", "quantities": [1, 999]}, code)
    led.refuse(PRODUCER, "certificates.lock", {**lock, "for_account": OTHER_HOUSE}, code)
    with_site = {
        "bundle": "pv-1:1",
        "beneficiary": CONSUMER,
        "site": "home-1",
        "period_start_s": NOON,
        "period_end_s": NOON + HOUR,
    }
    led.refuse(PRODUCER, "certificates.cancel", with_site, code)
    led.refuse(PRODUCER, "certificates.unlock", {"bundle": "pv-1:1001"}, "certificates.not_locked")
    led.refuse(CONSUMER, "certificates.unlock", {"bundle": "pv-1:1"}, "certificates.not_owner")
    # unlock, lock again, and the account it was locked for receives it
    led.ok(PRODUCER, "certificates.unlock", {"bundle": "pv-1:1"})
    assert (led.bundle("pv-1:1").status, led.bundle("pv-1:1").locked_for) == ("active", None)
    led.ok(PRODUCER, "certificates.lock", {**lock, "quantity_wh": None})
    led.ok(PRODUCER, "certificates.transfer", {"bundle": "pv-1:1", "to": CONSUMER})
    moved = led.bundle("pv-1:1")
    assert (moved.owner, moved.status, moved.locked_for) == (CONSUMER, "active", None)
    check_invariants(led.state)


def test_cancel_and_claim(led: CertLedger) -> None:
    led.issue("pv-1", [NOON])
    body = {
        "bundle": "pv-1:1",
        "beneficiary": CONSUMER,
        "site": "home-1",
        "period_start_s": NOON,
        "period_end_s": NOON + HOUR,
        "quantity_wh": 1000,
    }
    cancel_kind = "certificates.cancel"
    led.refuse(CONSUMER, cancel_kind, body, "certificates.not_owner")
    led.refuse(
        PRODUCER, cancel_kind, {**body, "beneficiary": "nobody"}, "certificates.unknown_account"
    )
    led.refuse(PRODUCER, cancel_kind, {**body, "site": "home-9"}, "certificates.unknown_site")
    # a site of another organisation than the beneficiary's
    led.ok(GRID, "registry.register_site", site_body("substation-1", owner_org=OPERATOR_ORG))
    led.refuse(PRODUCER, cancel_kind, {**body, "site": "substation-1"}, "certificates.foreign_site")
    for start, end in ((NOON, NOON), (NOON + 1, NOON), (-1, NOON), (NOON, NOON + 367 * DAY)):
        led.refuse(
            PRODUCER,
            cancel_kind,
            {**body, "period_start_s": start, "period_end_s": end},
            "certificates.bad_period",
        )
    led.refuse(PRODUCER, cancel_kind, {**body, "quantity_wh": 4601}, "certificates.bad_quantity")
    # claim only what was cancelled
    led.refuse(PRODUCER, "certificates.claim", {"bundle": "pv-1:1"}, "certificates.not_cancelled")
    receipt = led.ok(PRODUCER, cancel_kind, body)
    assert receipt.events[0] == {
        "type": "certificates.cancelled",
        "bundle": "pv-1:1",
        "beneficiary": CONSUMER,
        "site": "home-1",
        "quantity_wh": 1000,
    }
    cancelled = led.bundle("pv-1:1")
    assert cancelled.status == "cancelled"
    assert cancelled.cancellation is not None
    assert (cancelled.cancellation.beneficiary, cancelled.cancellation.site) == (CONSUMER, "home-1")
    assert (cancelled.cancellation.period_start_s, cancelled.cancellation.period_end_s) == (
        NOON,
        NOON + HOUR,
    )
    # a cancelled bundle no longer moves, and only its holder or beneficiary claims it
    led.refuse(
        PRODUCER,
        "certificates.transfer",
        {"bundle": "pv-1:1", "to": CONSUMER},
        "certificates.not_live",
    )
    led.refuse(
        OTHER_HOUSE, "certificates.claim", {"bundle": "pv-1:1"}, "certificates.not_beneficiary"
    )
    receipt = led.ok(CONSUMER, "certificates.claim", {"bundle": "pv-1:1"})
    assert receipt.events[0]["quantity_wh"] == 1000
    claimed = led.bundle("pv-1:1")
    assert (claimed.status, claimed.claimed_height) == ("claimed", led.height)
    assert claimed.cancellation == cancelled.cancellation
    led.refuse(CONSUMER, "certificates.claim", {"bundle": "pv-1:1"}, "certificates.not_cancelled")
    # the holder claims too
    cancel(led, "pv-1:1001", quantity_wh=600)
    led.ok(PRODUCER, "certificates.claim", {"bundle": "pv-1:1001"})
    stated = certificates.statement(led.state, CONSUMER, NOON, NOON + HOUR)
    assert (stated.claimed_wh, stated.by_site) == (1600, {"home-1": 1600})
    assert [b.id for b in stated.bundles] == ["pv-1:1", "pv-1:1001"]
    assert certificates.statement(led.state, CONSUMER, NOON + HOUR, NOON + 2 * HOUR).claimed_wh == 0
    check_invariants(led.state)


@pytest.mark.parametrize("status", ["claimed", "withdrawn", "expired", "storage_charged"])
def test_final_bundles_never_move(status: str) -> None:
    led = CertLedger(block_time_ms=(NOON + 2 * HOUR) * 1000).plant().home()
    led.generate("m-gen", NOON, NOON_WH)
    led.set_params(expiry_s=DAY)
    led.issue("pv-1", [NOON])
    led.ok(PRODUCER, "certificates.split", {"bundle": "pv-1:1", "quantities": [1000, 3600]})
    run: dict[str, Any] = {}
    code = "certificates.not_live"
    if status == "claimed":
        cancel(led, "pv-1:1")
        led.ok(CONSUMER, "certificates.claim", {"bundle": "pv-1:1"})
    elif status == "withdrawn":
        led.ok(CERTIFIER, "certificates.withdraw", {"bundle": "pv-1:1", "reason": "audit"})
    elif status == "expired":
        run = {"block_time_ms": (NOON + 2 * HOUR + DAY) * 1000}
        led.ok(PRODUCER, "certificates.expire", {"bundles": ["pv-1:1"]}, **run)
        code = "certificates.expired"
    else:
        led.storage()
        led.ok(PRODUCER, "certificates.charge_storage", {"storage": "bat-1", "bundles": ["pv-1:1"]})
    assert led.bundle("pv-1:1").status == status
    moves: list[tuple[str, dict[str, Any]]] = [
        ("certificates.transfer", {"bundle": "pv-1:1", "to": CONSUMER}),
        ("certificates.transfer", {"bundle": "pv-1:1", "to": CONSUMER, "quantity_wh": 1}),
        ("certificates.split", {"bundle": "pv-1:1", "quantities": [1, 999]}),
        ("certificates.lock", {"bundle": "pv-1:1", "for_account": CONSUMER}),
        ("certificates.unlock", {"bundle": "pv-1:1"}),
        (
            "certificates.cancel",
            {
                "bundle": "pv-1:1",
                "beneficiary": CONSUMER,
                "site": "home-1",
                "period_start_s": NOON,
                "period_end_s": NOON + HOUR,
            },
        ),
        ("certificates.charge_storage", {"storage": "bat-1", "bundles": ["pv-1:1"]}),
    ]
    if status != "storage_charged":
        moves.pop()
    owner = led.bundle("pv-1:1").owner
    for kind, body in moves:
        led.refuse(owner, kind, body, code, **run)
    led.refuse(
        owner, "certificates.claim", {"bundle": "pv-1:1"}, "certificates.not_cancelled", **run
    )
    led.refuse(
        CERTIFIER,
        "certificates.withdraw",
        {"bundle": "pv-1:1", "reason": "audit"},
        "certificates.not_live",
        **run,
    )
    led.refuse(
        owner, "certificates.expire", {"bundles": ["pv-1:1"]}, "certificates.not_live", **run
    )
    check_invariants(led.state)


def test_expiry_by_block_time() -> None:
    led = CertLedger(block_time_ms=(NOON + 2 * HOUR) * 1000).plant().home()
    led.generate("m-gen", NOON, NOON_WH)
    led.set_params(expiry_s=DAY)
    led.issue("pv-1", [NOON])
    expires = NOON + 2 * HOUR + DAY
    assert led.bundle("pv-1:1").expires_s == expires
    led.ok(
        PRODUCER,
        "certificates.lock",
        {"bundle": "pv-1:1", "for_account": CONSUMER, "quantity_wh": 600},
    )
    led.refuse(
        OTHER_HOUSE,
        "certificates.expire",
        {"bundles": ["pv-1:601"]},
        "certificates.not_expired",
        block_time_ms=(expires - 1) * 1000,
    )
    # from its expiry on, a live bundle counts as expired, marked or not
    after = {"block_time_ms": expires * 1000}
    assert certificates.status_at(led.bundle("pv-1:1"), expires - 1) == "locked"
    assert certificates.status_at(led.bundle("pv-1:601"), expires) == "expired"
    code = "certificates.expired"
    led.refuse(
        PRODUCER, "certificates.transfer", {"bundle": "pv-1:601", "to": CONSUMER}, code, **after
    )
    led.refuse(
        PRODUCER, "certificates.transfer", {"bundle": "pv-1:1", "to": CONSUMER}, code, **after
    )
    led.refuse(
        PRODUCER,
        "certificates.split",
        {"bundle": "pv-1:601", "quantities": [1, 3999]},
        code,
        **after,
    )
    led.refuse(
        PRODUCER,
        "certificates.lock",
        {"bundle": "pv-1:601", "for_account": CONSUMER},
        code,
        **after,
    )
    led.refuse(PRODUCER, "certificates.unlock", {"bundle": "pv-1:1"}, code, **after)
    led.refuse(
        PRODUCER,
        "certificates.cancel",
        {
            "bundle": "pv-1:601",
            "beneficiary": CONSUMER,
            "site": "home-1",
            "period_start_s": NOON,
            "period_end_s": NOON + HOUR,
        },
        code,
        **after,
    )
    led.refuse(
        CERTIFIER,
        "certificates.withdraw",
        {"bundle": "pv-1:601", "reason": "audit"},
        "certificates.not_live",
        **after,
    )
    page = certificates.bundles_of_device(led.state, "pv-1", status="expired", time_s=expires)
    assert [b.id for b in page.items] == ["pv-1:1", "pv-1:601"]
    # anyone marks them; a bundle not yet due, or named twice, refuses the whole request
    led.refuse(
        OTHER_HOUSE,
        "certificates.expire",
        {"bundles": ["pv-1:1", "pv-1:1"]},
        "certificates.bad_quantity",
        **after,
    )
    receipt = led.ok(
        OTHER_HOUSE, "certificates.expire", {"bundles": ["pv-1:1", "pv-1:601"]}, **after
    )
    assert receipt.events == [{"type": "certificates.expired", "bundles": 2}]
    assert [(b["status"], b.get("locked_for")) for b in led.bundles()] == [("expired", None)] * 2
    led.refuse(
        OTHER_HOUSE,
        "certificates.expire",
        {"bundles": ["pv-1:1"]},
        "certificates.not_live",
        **after,
    )
    check_invariants(led.state)


def test_a_cancelled_bundle_does_not_expire() -> None:
    led = CertLedger(block_time_ms=(NOON + 2 * HOUR) * 1000).plant().home()
    led.generate("m-gen", NOON, NOON_WH)
    led.set_params(expiry_s=DAY)
    led.issue("pv-1", [NOON])
    cancel(led, "pv-1:1")
    later = (NOON + 3 * DAY) * 1000
    led.refuse(
        PRODUCER,
        "certificates.expire",
        {"bundles": ["pv-1:1"]},
        "certificates.not_live",
        block_time_ms=later,
    )
    led.ok(CONSUMER, "certificates.claim", {"bundle": "pv-1:1"}, block_time_ms=later)
    assert led.bundle("pv-1:1").status == "claimed"


def test_withdraw_and_reissue(led: CertLedger) -> None:
    led.issue("pv-1", [NOON])
    withdraw = "certificates.withdraw"
    led.refuse(PRODUCER, withdraw, {"bundle": "pv-1:1", "reason": "audit"}, "auth.forbidden")
    led.refuse(
        CERTIFIER, withdraw, {"bundle": "pv-1:1", "reason": ""}, "certificates.invalid_reason"
    )
    led.refuse(
        CERTIFIER,
        withdraw,
        {"bundle": "pv-1:1", "reason": "x" * 257},
        "certificates.invalid_reason",
    )
    led.refuse(
        CERTIFIER, withdraw, {"bundle": "pv-1:7", "reason": "audit"}, "certificates.unknown_bundle"
    )
    led.refuse(
        CERTIFIER,
        withdraw,
        {"bundle": "pv-1:1", "reason": "audit", "quantity_wh": 4601},
        "certificates.bad_quantity",
    )
    reissue = {"device": "pv-1", "start": NOON, "to": PRODUCER, "quantity_wh": 1, "reason": "ok"}
    led.refuse(CERTIFIER, "certificates.reissue", reissue, "certificates.nothing_to_reissue")
    receipt = led.ok(
        CERTIFIER,
        withdraw,
        {"bundle": "pv-1:1", "reason": "double registration", "quantity_wh": 1000},
    )
    assert receipt.events[0] == {
        "type": "certificates.withdrawn",
        "bundle": "pv-1:1",
        "quantity_wh": 1000,
        "reason": "double registration",
    }
    gone = led.bundle("pv-1:1")
    assert gone.status == "withdrawn"
    assert gone.withdrawal is not None
    assert (gone.withdrawal.reason, gone.withdrawal.by) == ("double registration", CERTIFIER)
    item = issuance_of(led.state, "pv-1", NOON)
    assert item is not None
    assert (item.withdrawn_wh, item.reissued_wh) == (1000, 0)
    assert device_ledger(led.state, "pv-1").withdrawn_wh == 1000
    # re-issue: only what was withdrawn, to the device's organisation, with fresh ids
    r = "certificates.reissue"
    led.refuse(CERTIFIER, r, {**reissue, "quantity_wh": 1001}, "certificates.nothing_to_reissue")
    led.refuse(CERTIFIER, r, {**reissue, "start": NOON + HOUR}, "certificates.unknown_bundle")
    led.refuse(CERTIFIER, r, {**reissue, "to": GRID}, "auth.forbidden")
    led.refuse(CERTIFIER, r, {**reissue, "reason": ""}, "certificates.invalid_reason")
    led.refuse(PRODUCER, r, reissue, "auth.forbidden")
    receipt = led.ok(CERTIFIER, r, {**reissue, "quantity_wh": 400, "reason": "resolved"})
    assert receipt.events[0]["bundle"] == "pv-1:4601"
    fresh = led.bundle("pv-1:4601")
    assert (fresh.quantity_wh, fresh.origin, fresh.issuance) == (
        400,
        "reissue:resolved",
        f"pv-1:{NOON}",
    )
    assert (fresh.production_start_s, fresh.production_end_s) == (NOON, NOON + HOUR)
    item = issuance_of(led.state, "pv-1", NOON)
    assert item is not None
    assert (item.withdrawn_wh, item.reissued_wh, item.reissues) == (1000, 400, [[4601, 400]])
    check_invariants(led.state)
    # a downward correction: only what the meters still measure may be re-issued
    led.correct("m-gen", NOON, 500)  # 4,100 Wh measured; 4,000 stand
    led.refuse(CERTIFIER, r, {**reissue, "quantity_wh": 101}, "certificates.exceeds_metered")
    led.ok(CERTIFIER, r, {**reissue, "quantity_wh": 100})
    led.refuse(CERTIFIER, r, reissue, "certificates.exceeds_metered")
    item = issuance_of(led.state, "pv-1", NOON)
    assert item is not None
    assert item.quantity_wh - item.withdrawn_wh + item.reissued_wh == 4100
    check_invariants(led.state)


def reconcile_setup(led: CertLedger) -> None:
    """The noon hour in four parts: claimed 1,000 (pv-1:1), cancelled 1,000 (pv-1:1001),
    locked 1,000 (pv-1:2001), active 1,600 (pv-1:3001)."""
    led.issue("pv-1", [NOON])
    led.ok(
        PRODUCER, "certificates.split", {"bundle": "pv-1:1", "quantities": [1000, 1000, 1000, 1600]}
    )
    cancel(led, "pv-1:1")
    led.ok(CONSUMER, "certificates.claim", {"bundle": "pv-1:1"})
    cancel(led, "pv-1:1001")
    led.ok(PRODUCER, "certificates.lock", {"bundle": "pv-1:2001", "for_account": CONSUMER})


@pytest.mark.parametrize(
    ("corrections", "after"),
    [
        # 1,000 Wh less: all from the active bundle
        (
            {0: 0},
            [
                ("pv-1:1", "claimed", 1000),
                ("pv-1:1001", "cancelled", 1000),
                ("pv-1:2001", "locked", 1000),
                ("pv-1:3001", "withdrawn", 1000),
                ("pv-1:4001", "active", 600),
            ],
        ),
        # 2,000 Wh less: the whole active bundle, then 400 of the locked one
        (
            {0: 0, 1: 100},
            [
                ("pv-1:1", "claimed", 1000),
                ("pv-1:1001", "cancelled", 1000),
                ("pv-1:2001", "withdrawn", 400),
                ("pv-1:2401", "locked", 600),
                ("pv-1:3001", "withdrawn", 1600),
            ],
        ),
        # 3,000 Wh less: active, locked, then 400 of the cancelled one
        (
            {0: 0, 1: 0, 2: 300},
            [
                ("pv-1:1", "claimed", 1000),
                ("pv-1:1001", "withdrawn", 400),
                ("pv-1:1401", "cancelled", 600),
                ("pv-1:2001", "withdrawn", 1000),
                ("pv-1:3001", "withdrawn", 1600),
            ],
        ),
    ],
)
def test_reconcile_withdraws_active_then_locked_then_cancelled(
    led: CertLedger, corrections: dict[int, int], after: list[tuple[str, str, int]]
) -> None:
    reconcile_setup(led)
    for quarter, wh in corrections.items():
        led.correct("m-gen", NOON + 900 * quarter, wh)
    measured = sum(corrections.get(q, wh) for q, wh in enumerate(NOON_WH))
    receipt = led.ok(CERTIFIER, "certificates.reconcile", {"device": "pv-1", "start": NOON})
    assert receipt.events == [
        {
            "type": "certificates.reconciled",
            "device": "pv-1",
            "start": NOON,
            "metered_wh": measured,
            "withdrawn_wh": 4600 - measured,
            "over_claimed_wh": 0,
        }
    ]
    assert [(b["id"], b["status"], b["quantity_wh"]) for b in led.bundles()] == after
    for bundle_id, status, _ in after:
        withdrawal = led.bundle(bundle_id).withdrawal
        assert (withdrawal is not None) == (status == "withdrawn")
        assert withdrawal is None or (withdrawal.reason, withdrawal.by) == (
            "meter_correction",
            CERTIFIER,
        )
    item = issuance_of(led.state, "pv-1", NOON)
    assert item is not None
    assert item.withdrawn_wh == 4600 - measured
    # the locked part stays locked for the same account, the cancelled part for the same site
    for b in led.bundles():
        if b["status"] == "locked":
            assert b["locked_for"] == CONSUMER
        if b["status"] == "cancelled":
            assert b["cancellation"]["site"] == "home-1"
    led.refuse(
        CERTIFIER,
        "certificates.reconcile",
        {"device": "pv-1", "start": NOON},
        "certificates.nothing_to_reconcile",
    )
    check_invariants(led.state)


def test_reconcile_never_touches_claimed_and_reports_what_they_over_claim(led: CertLedger) -> None:
    reconcile_setup(led)
    for quarter in range(4):
        led.correct("m-gen", NOON + 900 * quarter, 100)  # 400 Wh measured
    receipt = led.ok(GRID, "certificates.reconcile", {"device": "pv-1", "start": NOON})
    event = receipt.events[0]
    assert (event["metered_wh"], event["withdrawn_wh"], event["over_claimed_wh"]) == (
        400,
        3600,
        600,
    )
    assert [(b["id"], b["status"]) for b in led.bundles()] == [
        ("pv-1:1", "claimed"),
        ("pv-1:1001", "withdrawn"),
        ("pv-1:2001", "withdrawn"),
        ("pv-1:3001", "withdrawn"),
    ]
    # the cancelled bundle went last: after every unclaimed Wh elsewhere
    assert led.bundle("pv-1:1001").withdrawal is not None
    assert led.bundle("pv-1:1").status == "claimed"
    check_invariants(led.state)


def test_reconcile_reports_what_storage_already_took(led: CertLedger) -> None:
    led.issue("pv-1", [NOON])
    led.ok(PRODUCER, "certificates.split", {"bundle": "pv-1:1", "quantities": [4000, 600]})
    led.storage()
    led.ok(PRODUCER, "certificates.charge_storage", {"storage": "bat-1", "bundles": ["pv-1:1"]})
    led.correct("m-gen", NOON, 0)
    led.correct("m-gen", NOON + 900, 0)  # 2,500 Wh measured
    receipt = led.ok(CERTIFIER, "certificates.reconcile", {"device": "pv-1", "start": NOON})
    event = receipt.events[0]
    assert (event["withdrawn_wh"], event["over_claimed_wh"]) == (600, 1500)
    assert [b["status"] for b in led.bundles()] == ["storage_charged", "withdrawn"]
    check_invariants(led.state)


def test_reconcile_refusals(led: CertLedger) -> None:
    led.issue("pv-1", [NOON])
    body = {"device": "pv-1", "start": NOON}
    led.refuse(CERTIFIER, "certificates.reconcile", body, "certificates.nothing_to_reconcile")
    led.refuse(
        CERTIFIER,
        "certificates.reconcile",
        {**body, "start": NOON + HOUR},
        "certificates.unknown_bundle",
    )
    led.refuse(
        CERTIFIER,
        "certificates.reconcile",
        {**body, "device": "pv-9"},
        "certificates.unknown_device",
    )
    led.correct("m-gen", NOON, 0)
    led.refuse(PRODUCER, "certificates.reconcile", body, "auth.forbidden")
    led.ok(CERTIFIER, "certificates.reconcile", body)
    assert held(led) == [
        ("pv-1:1", 1000, PRODUCER, "withdrawn"),
        ("pv-1:1001", 3600, PRODUCER, "active"),
    ]
    check_invariants(led.state)


def test_set_params_is_for_operators(led: CertLedger) -> None:
    body = {"scheme": "s", "bundle_s": 900, "expiry_s": DAY, "finality_s": 0}
    led.refuse(CERTIFIER, "certificates.set_params", body, "auth.forbidden")
    for bad in ({"bundle_s": 1800}, {"expiry_s": DAY - 1}, {"finality_s": -1}, {"scheme": ""}):
        led.refuse(
            OPERATOR, "certificates.set_params", {**body, **bad}, "certificates.invalid_params"
        )
    led.ok(OPERATOR, "certificates.set_params", body)
    led.ok(CERTIFIER, ISSUE, issue_body([NOON], length_s=900))
    first = led.bundle("pv-1:1")
    assert (first.scheme, first.expires_s - first.issued_s) == ("s", DAY)


def test_reconcile_leaves_expired_bundles_as_they_are() -> None:
    led = CertLedger(block_time_ms=(NOON + 2 * HOUR) * 1000).plant().home()
    led.generate("m-gen", NOON, NOON_WH)
    led.set_params(expiry_s=DAY)
    led.issue("pv-1", [NOON])
    led.ok(PRODUCER, "certificates.split", {"bundle": "pv-1:1", "quantities": [4000, 600]})
    cancel(led, "pv-1:4001")
    later = {"block_time_ms": (NOON + 2 * HOUR + DAY) * 1000}
    led.correct("m-gen", NOON, 0)
    receipt = led.ok(
        CERTIFIER, "certificates.reconcile", {"device": "pv-1", "start": NOON}, **later
    )
    # pv-1:1 expired unmarked: it never changes; the cancelled bundle pays for the correction
    assert receipt.events[0]["withdrawn_wh"] == 600
    assert receipt.events[0]["over_claimed_wh"] == 400
    assert [(b["id"], b["status"]) for b in led.bundles()] == [
        ("pv-1:1", "active"),
        ("pv-1:4001", "withdrawn"),
    ]
    led.ok(OTHER_HOUSE, "certificates.expire", {"bundles": ["pv-1:1"]}, **later)
    assert led.bundle("pv-1:1").status == "expired"


# storage ---------------------------------------------------------------------------------------
def test_storage_charges_and_discharges_first_in_first_out(led: CertLedger) -> None:
    led.issue("pv-1", [NOON])
    led.ok(PRODUCER, "certificates.split", {"bundle": "pv-1:1", "quantities": [1000, 500, 3100]})
    led.storage()
    # a second plant in another grid zone
    led.plant("pv-2", "m-gen2", grid_region="CN-SH")
    led.generate("m-gen2", NOON, NOON_WH)
    led.issue("pv-2", [NOON])
    charge_kind = "certificates.charge_storage"
    led.refuse(
        PRODUCER,
        charge_kind,
        {"storage": "pv-1", "bundles": ["pv-1:1"]},
        "certificates.not_storage",
    )
    led.refuse(
        PRODUCER,
        charge_kind,
        {"storage": "bat-9", "bundles": ["pv-1:1"]},
        "certificates.unknown_device",
    )
    led.refuse(
        PRODUCER,
        charge_kind,
        {"storage": "bat-1", "bundles": ["pv-1:1", "pv-2:1"]},
        "certificates.zone_mismatch",
    )
    led.refuse(
        PRODUCER,
        charge_kind,
        {"storage": "bat-1", "bundles": ["pv-1:1", "pv-1:1"]},
        "certificates.bad_count",
    )
    led.refuse(
        CONSUMER, charge_kind, {"storage": "bat-1", "bundles": ["pv-1:1"]}, "certificates.not_owner"
    )
    receipt = led.ok(
        PRODUCER, charge_kind, {"storage": "bat-1", "bundles": ["pv-1:1", "pv-1:1001"]}
    )
    assert receipt.events[0] == {
        "type": "certificates.storage_charged",
        "storage": "bat-1",
        "seq": 1,
        "quantity_wh": 1500,
    }
    led.ok(PRODUCER, charge_kind, {"storage": "bat-1", "bundles": ["pv-1:1501"]})
    assert [b["status"] for b in led.bundles()] == ["storage_charged"] * 3
    first = led.state.get_record(charge("bat-1", 1), StorageCharge)
    assert first is not None
    assert (first.owner, first.charged_wh, first.remaining_wh) == (PRODUCER, 1500, 1500)
    assert [(s.bundle, s.hash, s.quantity_wh) for s in first.slices] == [
        ("pv-1:1", led.bundle("pv-1:1").hash, 1000),
        ("pv-1:1001", led.bundle("pv-1:1001").hash, 500),
    ]

    # the battery delivers 1,200 Wh with 100 Wh of losses: from the oldest slice first
    led.generate("m-bat", NOON + 2 * HOUR, [300] * 4, block_time_ms=(NOON + 3 * HOUR) * 1000)
    discharge = {"storage": "bat-1", "start": NOON + 2 * HOUR, "to": PRODUCER, "losses_wh": 100}
    kind = "certificates.discharge_storage"
    final_at = {"block_time_ms": (NOON + 4 * HOUR) * 1000}
    led.refuse(
        CERTIFIER,
        kind,
        discharge,
        "certificates.not_final",
        block_time_ms=(NOON + 4 * HOUR - 1) * 1000,
    )
    led.refuse(PRODUCER, kind, discharge, "auth.forbidden", **final_at)
    led.refuse(
        CERTIFIER, kind, {**discharge, "storage": "pv-1"}, "certificates.not_storage", **final_at
    )
    # discharge certificates go to an account of the battery's organisation only
    led.refuse(CERTIFIER, kind, {**discharge, "to": GRID}, "auth.forbidden", **final_at)
    led.refuse(
        CERTIFIER, kind, {**discharge, "to": "nobody"}, "certificates.unknown_account", **final_at
    )
    led.refuse(
        CERTIFIER, kind, {**discharge, "losses_wh": -1}, "certificates.bad_quantity", **final_at
    )
    led.refuse(
        CERTIFIER,
        kind,
        {**discharge, "start": NOON + 2 * HOUR + 900},
        "certificates.misaligned",
        **final_at,
    )
    led.refuse(
        CERTIFIER,
        kind,
        {**discharge, "start": NOON + 5 * HOUR},
        "certificates.not_final",
        **final_at,
    )
    receipt = led.ok(CERTIFIER, kind, discharge, **final_at)
    assert receipt.events[0] == {
        "type": "certificates.storage_discharged",
        "storage": "bat-1",
        "bundle": "bat-1:1",
        "quantity_wh": 1200,
        "losses_wh": 100,
    }
    out = led.bundle("bat-1:1")
    assert (out.bundle_type, out.quantity_wh, out.technology, out.owner) == (
        "storage_discharge",
        1200,
        "storage",
        PRODUCER,
    )
    assert out.origin == "1/pv-1:1/1000,1/pv-1:1001/200"
    assert (out.production_start_s, out.production_end_s) == (NOON + 2 * HOUR, NOON + 3 * HOUR)
    assert out.hash == bundle_hash(out)
    led.refuse(CERTIFIER, kind, discharge, "certificates.already_issued", **final_at)
    first = led.state.get_record(charge("bat-1", 1), StorageCharge)
    assert first is not None
    assert first.remaining_wh == 200  # 1,200 discharged + 100 lost
    assert [s.remaining_wh for s in first.slices] == [0, 200]

    # 3,300 charged Wh are left: 3,000 delivered may lose 300, not 301
    led.generate("m-bat", NOON + 3 * HOUR, [750] * 4, block_time_ms=(NOON + 4 * HOUR) * 1000)
    later = {"block_time_ms": (NOON + 5 * HOUR) * 1000}
    second = {**discharge, "start": NOON + 3 * HOUR, "losses_wh": 301}
    message = led.refuse(CERTIFIER, kind, second, "certificates.discharge_exceeds_charge", **later)
    assert "3300" in message
    led.ok(CERTIFIER, kind, {**second, "losses_wh": 300}, **later)
    assert led.bundle("bat-1:1201").origin == "1/pv-1:1001/200,2/pv-1:1501/2800"
    ledger = led.state.get_record(storage("bat-1"), StorageLedger)
    assert ledger is not None
    assert (ledger.charged_wh, ledger.discharged_wh, ledger.losses_wh) == (4600, 4200, 400)
    assert (ledger.next_seq, ledger.head_seq) == (3, 3)
    # nothing is left: any further discharge is refused
    led.generate("m-bat", NOON + 4 * HOUR, [1, 0, 0, 0], block_time_ms=(NOON + 5 * HOUR) * 1000)
    third = {**discharge, "start": NOON + 4 * HOUR, "losses_wh": 0}
    led.refuse(
        CERTIFIER,
        kind,
        third,
        "certificates.discharge_exceeds_charge",
        block_time_ms=(NOON + 6 * HOUR) * 1000,
    )
    check_invariants(led.state)


def test_discharge_beyond_the_charge_with_losses_is_refused(led: CertLedger) -> None:
    led.issue("pv-1", [NOON])
    led.storage()
    led.ok(PRODUCER, "certificates.charge_storage", {"storage": "bat-1", "bundles": ["pv-1:1"]})
    led.generate("m-bat", DAY0 + 20 * HOUR, [1000, 1000, 1000, 1000])
    body = {"storage": "bat-1", "start": DAY0 + 20 * HOUR, "to": CONSUMER, "losses_wh": 601}
    kind = "certificates.discharge_storage"
    led.refuse(CERTIFIER, kind, body, "certificates.discharge_exceeds_charge")
    # with no charge at all
    led.storage("bat-2", "m-bat2")
    led.generate("m-bat2", DAY0 + 20 * HOUR, [1, 1, 1, 1])
    led.refuse(
        CERTIFIER,
        kind,
        {**body, "storage": "bat-2", "losses_wh": 0},
        "certificates.discharge_exceeds_charge",
    )
    led.ok(CERTIFIER, kind, {**body, "losses_wh": 600})
    assert led.bundle("bat-1:1").owner == CONSUMER


def test_a_reissued_discharge_stays_a_storage_discharge(led: CertLedger) -> None:
    led.issue("pv-1", [NOON])
    led.storage()
    led.ok(PRODUCER, "certificates.charge_storage", {"storage": "bat-1", "bundles": ["pv-1:1"]})
    led.generate("m-bat", DAY0 + 20 * HOUR, [1000] * 4)
    body = {"storage": "bat-1", "start": DAY0 + 20 * HOUR, "to": PRODUCER, "losses_wh": 0}
    led.ok(CERTIFIER, "certificates.discharge_storage", body)
    led.ok(CERTIFIER, "certificates.withdraw", {"bundle": "bat-1:1", "reason": "audit"})
    reissue = {
        "device": "bat-1",
        "start": DAY0 + 20 * HOUR,
        "to": PRODUCER,
        "quantity_wh": 4000,
        "reason": "audit closed",
    }
    led.ok(CERTIFIER, "certificates.reissue", reissue)
    again = led.bundle("bat-1:4001")
    # discharged energy is not new generation: it never counts as production (GEC exports,
    # market deliveries take production only)
    assert (again.bundle_type, again.technology, again.quantity_wh) == (
        "storage_discharge",
        "storage",
        4000,
    )
    check_invariants(led.state)


# China GECs ---------------------------------------------------------------------------------------
def gec_ledger() -> CertLedger:
    """pv-big (5 MW, house-00) metered 1.6 MWh on 2025-05-10 12:00, 0.9 MWh at 13:00 and 4 kWh
    in the first hour of May."""
    led = CertLedger().plant("pv-big", "m-big", capacity_w=BIG).home()
    may10 = MAY + 9 * DAY
    led.generate("m-big", may10 + 12 * HOUR, [400_000] * 4)
    led.generate("m-big", may10 + 13 * HOUR, [225_000] * 4)
    led.generate("m-big", MAY, [1000] * 4)
    return led


def gec_body(gec: str = "GEC-0001", **changes: Any) -> dict[str, Any]:
    return {
        "gec": gec,
        "project": "Big PV",
        "device": "pv-big",
        "month": "2025-05",
        "tradable": True,
        "owner": PRODUCER,
        **changes,
    }


def test_record_transfer_and_cancel_a_gec() -> None:
    led = gec_ledger()
    record = "certificates.record_gec"
    led.refuse(PRODUCER, record, gec_body(), "auth.forbidden")
    led.refuse(CERTIFIER, record, gec_body(month="2025-06"), "certificates.bad_month")
    led.refuse(CERTIFIER, record, gec_body(month="2025-5"), "certificates.bad_month")
    led.refuse(CERTIFIER, record, gec_body(device="pv-9"), "certificates.unknown_device")
    led.refuse(CERTIFIER, record, gec_body(owner="nobody"), "certificates.unknown_account")
    receipt = led.ok(CERTIFIER, record, gec_body())
    assert receipt.events[0] == {
        "type": "certificates.gec_recorded",
        "gec": "GEC-0001",
        "device": "pv-big",
        "month": "2025-05",
    }
    led.refuse(CERTIFIER, record, gec_body(), "certificates.gec_exists")
    led.refuse(CERTIFIER, record, gec_body(month="2025-04"), "certificates.gec_exists")
    led.ok(CERTIFIER, record, gec_body("GEC-0002", tradable=False))
    # a third MWh would exceed the 2.504 MWh metered in May
    led.refuse(CERTIFIER, record, gec_body("GEC-0003"), "certificates.gec_exceeds_metered")
    led.refuse(CERTIFIER, record, gec_body("GEC/0003"), "certificates.bad_gec")
    led.refuse(CERTIFIER, record, gec_body("GEC-0003", project=""), "certificates.bad_gec")

    transfer = "certificates.transfer_gec"
    led.refuse(
        PRODUCER, transfer, {"gec": "GEC-0002", "to": CONSUMER}, "certificates.transfer_refused"
    )
    led.refuse(
        PRODUCER, transfer, {"gec": "GEC-0001", "to": PRODUCER}, "certificates.transfer_refused"
    )
    led.refuse(PRODUCER, transfer, {"gec": "GEC-0009", "to": CONSUMER}, "certificates.unknown_gec")
    led.refuse(CONSUMER, transfer, {"gec": "GEC-0001", "to": OTHER_HOUSE}, "certificates.not_owner")
    led.ok(CONSUMER, "certificates.set_acceptance", {"mode": "nobody"})
    led.refuse(
        PRODUCER, transfer, {"gec": "GEC-0001", "to": CONSUMER}, "certificates.transfer_refused"
    )
    led.ok(CONSUMER, "certificates.set_acceptance", {"mode": "anyone"})
    led.ok(PRODUCER, transfer, {"gec": "GEC-0001", "to": CONSUMER})

    cancel_kind = "certificates.cancel_gec"
    led.refuse(PRODUCER, cancel_kind, {"gec": "GEC-0001"}, "certificates.not_owner")
    receipt = led.ok(CONSUMER, cancel_kind, {"gec": "GEC-0001"})
    assert receipt.events[0] == {
        "type": "certificates.gec_converted",
        "gec": "GEC-0001",
        "bundle": "pv-big:1",
        "quantity_wh": 1_000_000,
    }
    converted = led.bundle("pv-big:1")
    assert (converted.bundle_type, converted.quantity_wh, converted.owner) == (
        "gec_conversion",
        1_000_000,
        CONSUMER,
    )
    assert (converted.production_start_s, converted.production_end_s) == (MAY, JUNE)
    assert (converted.origin, converted.issuing_body) == ("gec:GEC-0001", "operator")
    assert converted.hash == bundle_hash(converted)
    led.refuse(CONSUMER, cancel_kind, {"gec": "GEC-0001"}, "certificates.gec_converted")
    led.refuse(
        CONSUMER, transfer, {"gec": "GEC-0001", "to": PRODUCER}, "certificates.gec_converted"
    )
    # the converted Wh are granular certificates like any other: claimed for a site and month
    led.consume("m-con", MAY + 19 * HOUR, 3000)
    cancel(
        led, "pv-big:1", sender=CONSUMER, quantity_wh=2000, period_start_s=MAY, period_end_s=JUNE
    )
    led.ok(CONSUMER, "certificates.claim", {"bundle": "pv-big:1"})
    matched = certificates.matching(led.state, "home-1", MAY, JUNE)
    assert (matched.consumption_wh, matched.claimed_wh) == (3000, 2000)
    # a month's certificate counts by volume, never hour by hour
    assert (matched.hourly_matched_wh, matched.volume_matched_wh) == (0, 2000)
    assert matched.volume_score_ppm == 666_666
    # ids keep tiling: the next issuance starts after the conversion
    led.issue("pv-big", [MAY])
    assert led.bundle("pv-big:1000001").quantity_wh == 4000
    check_invariants(led.state)


def test_withdrawing_a_gec_conversion_leaves_the_hourly_issuance_alone() -> None:
    led = gec_ledger()
    led.issue("pv-big", [MAY])  # the first hour of May: ids 1..4000
    led.ok(CERTIFIER, "certificates.record_gec", gec_body())
    led.ok(PRODUCER, "certificates.cancel_gec", {"gec": "GEC-0001"})
    led.ok(CERTIFIER, "certificates.withdraw", {"bundle": "pv-big:4001", "reason": "revoked"})
    assert led.bundle("pv-big:4001").status == "withdrawn"
    item = issuance_of(led.state, "pv-big", MAY)
    assert item is not None
    assert (item.quantity_wh, item.withdrawn_wh) == (4000, 0)
    # the hour's 4,000 Wh all stand: nothing of it may be issued again
    reissue = {
        "device": "pv-big",
        "start": MAY,
        "to": PRODUCER,
        "quantity_wh": 1000,
        "reason": "again",
    }
    led.refuse(CERTIFIER, "certificates.reissue", reissue, "certificates.nothing_to_reissue")
    assert device_ledger(led.state, "pv-big").withdrawn_wh == 1_000_000
    check_invariants(led.state)


def test_granular_and_gec_wh_of_a_month_never_exceed_what_was_metered() -> None:
    led = gec_ledger()  # 2,504,000 Wh metered in May
    may10 = MAY + 9 * DAY
    led.issue("pv-big", [may10 + 13 * HOUR])  # 900,000 Wh
    led.ok(CERTIFIER, "certificates.record_gec", gec_body())  # 1,000,000 Wh
    # 1.6 MWh more would make 3.5 MWh
    led.refuse(
        CERTIFIER,
        ISSUE,
        issue_body([may10 + 12 * HOUR], device="pv-big"),
        "certificates.gec_exceeds_metered",
    )
    led.refuse(
        CERTIFIER,
        "certificates.record_gec",
        gec_body("GEC-0002"),
        "certificates.gec_exceeds_metered",
    )
    # the first hour of May fits in what the month measured (its own hour alone would not)
    led.issue("pv-big", [MAY])
    month = certificates.index.device_month(led.state, "pv-big", "2025-05")
    assert (month.issued_wh, month.gec_wh) == (904_000, 1_000_000)
    # June has no GECs: its hours are capped by their own readings only
    led.generate("m-big", JUNE + 9 * DAY, [100_000] * 4)
    led.issue("pv-big", [JUNE + 9 * DAY])
    check_invariants(led.state)


def test_export_whole_mwh_and_carry_the_rest() -> None:
    led = gec_ledger()
    may10 = MAY + 9 * DAY
    led.issue("pv-big", [may10 + 12 * HOUR, may10 + 13 * HOUR])  # 1.6 + 0.9 MWh
    export = "certificates.export_gec"
    led.refuse(PRODUCER, export, {"device": "pv-big", "month": "2025-06"}, "certificates.bad_month")
    led.refuse(
        PRODUCER, export, {"device": "pv-9", "month": "2025-05"}, "certificates.unknown_device"
    )
    receipt = led.ok(PRODUCER, export, {"device": "pv-big", "month": "2025-05"})
    assert receipt.events[0] == {
        "type": "certificates.gec_exported",
        "device": "pv-big",
        "month": "2025-05",
        "mwh": 2,
        "carried_wh": 500_000,
    }
    # the oldest ids first
    assert held(led, "pv-big") == [
        ("pv-big:1", 1_600_000, PRODUCER, "gec_exported"),
        ("pv-big:1600001", 400_000, PRODUCER, "gec_exported"),
        ("pv-big:2000001", 500_000, PRODUCER, "active"),
    ]
    record = led.state.get_record(gec_export("pv-big", "2025-05"), GecExport)
    assert record is not None
    assert (record.owner, record.available_wh, record.mwh, record.carried_wh) == (
        PRODUCER,
        2_500_000,
        2,
        500_000,
    )
    led.refuse(
        PRODUCER, export, {"device": "pv-big", "month": "2025-05"}, "certificates.already_exported"
    )
    led.refuse(
        PRODUCER,
        "certificates.transfer",
        {"bundle": "pv-big:1", "to": CONSUMER},
        "certificates.not_live",
    )
    # June: 0.7 MWh of its own plus the 0.5 carried make one MWh, 0.2 carried on
    led.generate("m-big", JUNE + 9 * DAY + 12 * HOUR, [175_000] * 4)
    led.issue("pv-big", [JUNE + 9 * DAY + 12 * HOUR])
    july = {"block_time_ms": (JULY + HOUR) * 1000}
    receipt = led.ok(PRODUCER, export, {"device": "pv-big", "month": "2025-06"}, **july)
    assert (receipt.events[0]["mwh"], receipt.events[0]["carried_wh"]) == (1, 200_000)
    assert held(led, "pv-big") == [
        ("pv-big:1", 1_600_000, PRODUCER, "gec_exported"),
        ("pv-big:1600001", 400_000, PRODUCER, "gec_exported"),
        ("pv-big:2000001", 500_000, PRODUCER, "gec_exported"),
        ("pv-big:2500001", 500_000, PRODUCER, "gec_exported"),
        ("pv-big:3000001", 200_000, PRODUCER, "active"),
    ]
    check_invariants(led.state)


def test_only_the_plant_exports_its_month() -> None:
    led = gec_ledger()
    may10 = MAY + 9 * DAY
    led.issue("pv-big", [may10 + 12 * HOUR])
    led.ok(
        PRODUCER,
        "certificates.transfer",
        {"bundle": "pv-big:1", "to": GRID, "quantity_wh": 1_000_000},
    )
    # a holder outside the plant's organisation cannot take the plant's month
    led.refuse(
        GRID, "certificates.export_gec", {"device": "pv-big", "month": "2025-05"}, "auth.forbidden"
    )
    receipt = led.ok(PRODUCER, "certificates.export_gec", {"device": "pv-big", "month": "2025-05"})
    assert (receipt.events[0]["mwh"], receipt.events[0]["carried_wh"]) == (0, 600_000)
    assert led.bundle("pv-big:1").status == "active"


# market pairings ----------------------------------------------------------------------------------
def paired_market() -> tuple[CertMarket, market.Pairing]:
    """alice bought 3,000 Wh of pv-a (owner-a) for H1; pv-a measured 3,000 Wh, alice 2,500."""
    m = CertMarket()
    m.bid("alice", 3000, 80)
    m.offer("pv-a", 4000, 40)
    m.clear()
    m.readings(H1, {"pv-a": 3000, "pv-b": 0, "s-alice": 2500, "s-bob": 0, "s-carol": 0})
    (pairing,) = market.pairings(m.state, H1)
    return m, pairing


def check_delivered(m: CertMarket, pairing: market.Pairing) -> None:
    (settled,) = market.pairings(m.state, H1)
    delivered = settled.delivered_wh
    assert delivered == 2500
    a, rest = [m.json(k) for k, _ in m.state.scan(certificates.keys.bundles_of("pv-a"))]
    assert (a["owner"], a["status"], a["quantity_wh"]) == ("alice", "claimed", delivered)
    assert a["cancellation"] == {
        "beneficiary": "alice",
        "site": "s-alice",
        "period_start_s": H1,
        "period_end_s": H1 + HOUR,
        "height": a["cancellation"]["height"],
        "pairing": pairing.id,
    }
    assert (rest["owner"], rest["status"], rest["quantity_wh"]) == ("owner-a", "active", 500)
    stated = certificates.statement(m.state, "alice", H1, H1 + HOUR)
    assert (stated.claimed_wh, stated.by_site) == (delivered, {"s-alice": delivered})
    matched = certificates.matching(m.state, "s-alice", H1, H1 + HOUR)
    assert (matched.consumption_wh, matched.claimed_wh, matched.hourly_matched_wh) == (
        2500,
        delivered,
        delivered,
    )
    assert matched.hourly_score_ppm == 1_000_000
    assert list(m.state.scan(certificates.keys.pendings_of("pv-a"))) == []
    check_invariants(m.state)


def test_a_pairing_settled_before_issuance_is_served_at_issuance() -> None:
    m, pairing = paired_market()
    m.settle()
    assert len(list(m.state.scan(certificates.keys.pendings_of("pv-a")))) == 1
    receipt = m.issue("pv-a", [H1], "owner-a", block_time_ms=at(H1 + 2 * HOUR))
    served = [e for e in receipt.events if e["type"] == "certificates.delivery_served"]
    assert served == [
        {
            "type": "certificates.delivery_served",
            "pairing": pairing.id,
            "consumer": "alice",
            "site": "s-alice",
            "certified_wh": 2500,
            "uncertified_wh": 0,
        },
    ]
    check_delivered(m, pairing)


def test_a_pairing_settled_after_issuance_is_served_at_settlement() -> None:
    m, pairing = paired_market()
    m.issue("pv-a", [H1], "owner-a", block_time_ms=at(H1 + 2 * HOUR))
    receipt = m.ok(GRID, "market.settle", {"interval": H1}, block_time_ms=at(H1 + 2 * HOUR))
    served = [e for e in receipt.events if e["type"] == "certificates.delivery_served"]
    assert [(e["certified_wh"], e["uncertified_wh"]) for e in served] == [(2500, 0)]
    check_delivered(m, pairing)


def test_a_producer_that_sold_its_certificates_leaves_the_delivery_uncertified() -> None:
    m, _pairing = paired_market()
    m.issue("pv-a", [H1], "owner-a", block_time_ms=at(H1 + 2 * HOUR))
    m.ok("owner-a", "certificates.transfer", {"bundle": "pv-a:1", "to": "bob", "quantity_wh": 1000})
    receipt = m.ok(GRID, "market.settle", {"interval": H1}, block_time_ms=at(H1 + 2 * HOUR))
    served = [e for e in receipt.events if e["type"] == "certificates.delivery_served"]
    assert [(e["certified_wh"], e["uncertified_wh"]) for e in served] == [(2000, 500)]
    owners = [
        (b["owner"], b["status"], b["quantity_wh"])
        for _, b in ((k, m.json(k)) for k, _ in m.state.scan(certificates.keys.bundles_of("pv-a")))
    ]
    assert owners == [("bob", "active", 1000), ("alice", "claimed", 2000)]
    assert list(m.state.scan(certificates.keys.pendings_of("pv-a"))) == []
    check_invariants(m.state)


def test_a_chain_without_certificate_kinds_settles_as_before() -> None:
    kinds = [k for k in sorted(KINDS) if not k.startswith("certificates.")]
    m = CertMarket(kinds=kinds)
    m.bid("alice", 3000, 80)
    m.offer("pv-a", 4000, 40)
    m.clear()
    m.readings(H1, {"pv-a": 3000, "pv-b": 0, "s-alice": 2500, "s-bob": 0, "s-carol": 0})
    receipt = m.settle()
    assert [e["type"] for e in receipt.events] == ["market.settled"]
    assert not [k for k, _ in m.state.scan(b"certificates/")]


# matching and statements --------------------------------------------------------------------------
def test_hourly_matching_differs_from_volume_when_another_hour_is_claimed(led: CertLedger) -> None:
    evening = DAY0 + 19 * HOUR
    led.consume("m-con", NOON, 1000)
    led.consume("m-con", evening, 2000)
    led.issue("pv-1", [NOON])
    cancel(led, "pv-1:1", quantity_wh=1000)
    led.ok(CONSUMER, "certificates.claim", {"bundle": "pv-1:1"})
    # noon solar claimed against evening consumption
    cancel(led, "pv-1:1001", quantity_wh=2000, period_start_s=evening, period_end_s=evening + HOUR)
    led.ok(CONSUMER, "certificates.claim", {"bundle": "pv-1:1001"})
    matched = certificates.matching(led.state, "home-1", DAY0, DAY0 + DAY)
    assert (matched.consumption_wh, matched.claimed_wh) == (3000, 3000)
    assert (matched.hourly_matched_wh, matched.volume_matched_wh) == (1000, 3000)
    assert (matched.hourly_score_ppm, matched.volume_score_ppm) == (333_333, 1_000_000)
    assert [(h.start_s, h.consumption_wh, h.claimed_wh, h.matched_wh) for h in matched.hours] == [
        (NOON, 1000, 3000, 1000),
        (evening, 2000, 0, 0),
    ]
    # the period is widened to whole hours
    assert certificates.matching(led.state, "home-1", NOON + 1, NOON + 2).hourly_matched_wh == 1000
    stated = certificates.statement(led.state, CONSUMER, DAY0, DAY0 + DAY)
    assert (stated.claimed_wh, [b.id for b in stated.bundles]) == (3000, ["pv-1:1", "pv-1:1001"])
    # what is cancelled but not claimed counts nowhere yet
    cancel(led, "pv-1:3001", quantity_wh=100)
    assert certificates.matching(led.state, "home-1", DAY0, DAY0 + DAY).claimed_wh == 3000
    assert certificates.statement(led.state, OTHER_HOUSE, DAY0, DAY0 + DAY).claimed_wh == 0


def test_registry_views(led: CertLedger) -> None:
    led.issue("pv-1", [NOON, NOON + HOUR])
    led.ok(
        PRODUCER, "certificates.transfer", {"bundle": "pv-1:1", "to": CONSUMER, "quantity_wh": 100}
    )
    cancel(led, "pv-1:101", quantity_wh=200)
    page = certificates.bundles_of_device(led.state, "pv-1", limit=2)
    assert [b.id for b in page.items] == ["pv-1:1", "pv-1:101"]
    assert page.next == "pv-1:101"
    rest = certificates.bundles_of_device(led.state, "pv-1", after=page.next)
    assert [b.id for b in rest.items] == ["pv-1:301", "pv-1:4601"]
    assert rest.next is None
    by_owner = certificates.bundles_of_device(led.state, "pv-1", owner=CONSUMER)
    assert [b.id for b in by_owner.items] == ["pv-1:1"]
    active = certificates.bundles_of_device(led.state, "pv-1", status="active", owner=PRODUCER)
    assert [b.id for b in active.items] == ["pv-1:301", "pv-1:4601"]
    assert [i.start_s for i in certificates.issuances(led.state, "pv-1", NOON + 1, DAY0 + DAY)] == [
        NOON + HOUR
    ]
    assert certificates.get_bundle(led.state, "pv-1:2") is None
    assert certificates.get_bundle(led.state, "nonsense") is None
    assert certificates.parse_bundle_id("pv-1:301") == ("pv-1", 301)
    assert certificates.parse_bundle_id("pv-1:x") is None
