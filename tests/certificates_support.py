"""A ledger for the certificate tests: the asset ledger of ``ledger_support`` plus a certifier.

Genesis adds ``certifier-1`` (certifier role, operator organisation). :meth:`CertLedger.plant`
registers ``pv-1`` (house-00's 10 kW PV, households organisation) with its 15-minute
generation meter ``m-gen``, and ``home-1`` (house-01's flat) with its hourly consumption meter
``m-con``. Readings are submitted by ``gw-1``; block time is 2025-06-16 00:00 UTC, so the hours
of 2025-06-15 are final under the default scheme (finality one hour after an interval ends).

:class:`CertMarket` is the market of ``market_support`` with the same certifier added, for
pairings that settle into certificates. :func:`check_invariants` recomputes, from the stored
records alone, what the contract promises for every device (see its docstring).
"""

from __future__ import annotations

import itertools
from typing import Any

import msgspec

from gridledger.contracts import metering
from gridledger.contracts.certificates import (
    Bundle,
    bundle_hash,
    device_ledger,
    get_bundle,
    keys,
)
from gridledger.contracts.certificates.index import issued_day
from gridledger.contracts.certificates.records import IssuedDay
from gridledger.contracts.chain import rules_at
from gridledger.contracts.genesis import GenesisAccount
from gridledger.core.encoding import decode_json
from gridledger.core.errors import InvalidTransaction
from gridledger.core.types import Receipt, Transaction
from gridledger.node.executor import Prepared, execute_block, prepare
from gridledger.state.state import StateReader, decode_record
from ledger_support import (
    BLOCK_TIME_S,
    CONSUMER,
    GRID,
    GW1,
    PRODUCER,
    Ledger,
    asset_genesis,
    device_body,
    meter_body,
    reading,
    site_body,
    unchecked,
)
from market_support import Market
from support import OPERATOR, OPERATOR_ORG, committed_genesis_state, key

CERTIFIER = "certifier-1"
HOUR = 3600
DAY = 86_400
DAY0 = BLOCK_TIME_S - DAY
"""2025-06-15 00:00 UTC: every hour of that day is final at block time."""
TWO_YEARS_S = 2 * 365 * DAY


def cert_genesis() -> Any:
    genesis = asset_genesis()
    genesis.accounts.append(
        GenesisAccount(
            id=CERTIFIER, org=OPERATOR_ORG, public_key=key(CERTIFIER).public_key,
            roles=["certifier"],
        )
    )  # fmt: skip
    return genesis


def accepted(receipt: Receipt) -> Receipt:
    """The receipt of a ``metering.submit`` none of whose readings was refused."""
    refused = [e for e in receipt.events if e["type"] != "metering.readings_accepted"]
    assert not refused, refused
    return receipt


class CertLedger(Ledger):
    def __init__(self, block_time_ms: int | None = None) -> None:
        super().__init__(**({} if block_time_ms is None else {"block_time_ms": block_time_ms}))
        self.state = committed_genesis_state(cert_genesis())

    def plant(self, device: str = "pv-1", meter: str = "m-gen", **attrs: Any) -> CertLedger:
        """Register a PV plant of house-00 with a 15-minute generation meter."""
        self.ok(PRODUCER, "registry.register_device", device_body(device, **attrs))
        self.ok(GRID, "registry.register_meter", meter_body(meter, device=device))
        return self

    def storage(self, device: str = "bat-1", meter: str = "m-bat", **attrs: Any) -> CertLedger:
        """Register house-00's community battery (same grid region as ``pv-1``) with the
        15-minute generation meter that measures its discharge."""
        body = {"technology": "storage", "fuel": "electricity", "name": "Community battery"}
        return self.plant(device, meter, **{**body, **attrs})

    def home(self, site: str = "home-1", meter: str = "m-con") -> CertLedger:
        self.ok(CONSUMER, "registry.register_site", site_body(site))
        self.ok(
            GRID,
            "registry.register_meter",
            meter_body(meter, kind="consumption", site=site, interval_s=3600),
        )
        return self

    def generate(self, meter: str, hour: int, wh_per_quarter: list[int], **run: Any) -> Receipt:
        """Quarter-hour readings of ``meter`` from ``hour`` on (four make an hour)."""
        batch = [reading(meter, hour + 900 * i, wh) for i, wh in enumerate(wh_per_quarter)]
        return accepted(self.ok(GW1, "metering.submit", {"readings": batch}, **run))

    def consume(self, meter: str, hour: int, wh: int, **run: Any) -> Receipt:
        body = {"readings": [reading(meter, hour, wh, 3600)]}
        return accepted(self.ok(GW1, "metering.submit", body, **run))

    def correct(self, meter: str, start: int, wh: int) -> Receipt:
        """The grid operator's corrected value for one reading."""
        body = {"meter": meter, "start": start, "energy_wh": wh, "reason": "meter replaced"}
        return self.ok(GRID, "metering.correct", body)

    def issue(self, device: str, starts: list[int], to: str = PRODUCER, **run: Any) -> Receipt:
        return self.ok(CERTIFIER, "certificates.issue", {"device": device, "to": to,
                                                          "starts": starts}, **run)  # fmt: skip

    def set_params(self, **changes: int | str) -> Receipt:
        body: dict[str, Any] = {
            "scheme": "energytag-gc/2024",
            "bundle_s": 3600,
            "expiry_s": TWO_YEARS_S,
            "finality_s": 3600,
            **changes,
        }
        return self.ok(OPERATOR, "certificates.set_params", body)

    def refuse(self, sender: str, kind: str, body: dict[str, Any], code: str, **run: Any) -> str:
        """Run one transaction that must be refused with ``code`` and change nothing but the
        sender's nonce; returns the refusal's message."""
        tx = self.tx(sender, kind, body)
        admission: str | None = None
        try:
            prepare(tx)
        except InvalidTransaction as exc:
            admission = exc.code
        if admission is None:
            receipt = self.refused(tx, code, **run)
        else:
            # admission refuses it; a block that carries it anyway fails it the same way
            assert admission == code, (admission, code)
            receipt = self.refused(unchecked(tx), code, **run)
        assert receipt.message
        return receipt.message

    def bundles(self, device: str = "pv-1") -> list[dict[str, Any]]:
        """Every bundle of ``device`` in id order, as stored."""
        return [decode_json(v) for _, v in self.state.scan(keys.bundles_of(device))]

    def bundle(self, bundle_id: str) -> Bundle:
        found = get_bundle(self.state, bundle_id)
        assert found is not None, bundle_id
        return found


class CertMarket(Market):
    """The market of ``market_support`` with the certifier ``certifier-1`` added to the
    operator's organisation. Blocks run under the chain's rules as a node runs them: its
    genesis names no kinds, so every kind known at creation is allowed, certificates included,
    and settlement hands the pairings' certificates over; ``kinds`` replaces them (a chain made
    before certificates)."""

    def __init__(self, kinds: list[str] | None = None) -> None:
        self.kinds = kinds
        super().__init__()
        self.ok(
            OPERATOR,
            "registry.add_account",
            {
                "account": CERTIFIER,
                "org": OPERATOR_ORG,
                "public_key": key(CERTIFIER).public_key,
                "roles": ["certifier"],
            },
        )

    def run(self, *txs: Transaction | Prepared, block_time_ms: int | None = None) -> list[Receipt]:
        """:meth:`Ledger.run` under the chain's rules in force at the block's height."""
        self.height += 1
        batch = [t if isinstance(t, Prepared) else prepare(t) for t in txs]
        time_ms = block_time_ms or self.block_time_ms
        rules = rules_at(self.state, self.height)
        if self.kinds is not None:
            rules = msgspec.structs.replace(rules, kinds=sorted(self.kinds))
        receipts = execute_block(self.state, batch, self.height, time_ms, rules)
        self.committed(self.height, time_ms, self.state.block_changes())
        self.state.compute_root()
        self.state.finish_block()
        return receipts

    def issue(self, device: str, starts: list[int], to: str, **run: Any) -> Receipt:
        body = {"device": device, "to": to, "starts": starts}
        return self.ok(CERTIFIER, "certificates.issue", body, **run)


# invariants ------------------------------------------------------------------------------------
def all_bundles(view: StateReader, device: str) -> list[Bundle]:
    return [decode_record(v, Bundle) for _, v in view.scan(keys.bundles_of(device))]


def devices_with_certificates(view: StateReader) -> list[str]:
    prefix = keys.device_ledgers()
    return sorted(k[len(prefix) :].decode() for k, _ in view.scan(prefix))


SPENT = ("claimed", "expired", "storage_charged", "gec_exported")
"""Final statuses other than withdrawn: a meter correction after them cannot take their Wh
back (reconcile reports them as ``over_claimed_wh``)."""


def check_invariants(view: StateReader) -> None:
    """What the contract promises, recomputed from the stored records of every device:

    * its bundles' ranges tile ``1 .. last_id`` with no gap or overlap, each stored under its
      own ``range_start``, with ``quantity_wh = range_end - range_start + 1`` and a hash that
      recomputes;
    * the device ledger's totals match its bundles (issued = last id, withdrawn = the sum of
      withdrawn bundles);
    * issuances never overlap, and each interval's standing Wh (``quantity - withdrawn +
      reissued``) are exactly the unwithdrawn Wh of the bundles holding its ids, and never more
      than what the meters now measure, except where certificates already spent (claimed,
      expired, charged into storage, exported as GECs) hold more, which a correction cannot take
      back: then every other Wh of the interval is withdrawn.
    """
    for device in devices_with_certificates(view):
        ledger = device_ledger(view, device)
        held = all_bundles(view, device)
        cursor = 1
        for b in held:
            assert b.range_start == cursor, (device, b.id, cursor)
            assert b.id == f"{device}:{b.range_start}"
            assert b.quantity_wh == b.range_end - b.range_start + 1 > 0
            assert b.hash == bundle_hash(b), b.id
            cursor = b.range_end + 1
        assert cursor - 1 == ledger.last_id == ledger.issued_wh
        assert ledger.withdrawn_wh == sum(b.quantity_wh for b in held if b.status == "withdrawn")
        by_start = {b.range_start: b for b in held}
        items = []
        for _, raw in view.scan(keys.issued_of(device)):
            items.extend(decode_record(raw, IssuedDay).issuances)
        for before, after in itertools.pairwise(items):
            assert before.start_s + before.length_s <= after.start_s, (device, before, after)
        for item in items:
            ranges = [(item.range_start, item.quantity_wh), *((r[0], r[1]) for r in item.reissues)]
            mine: list[Bundle] = []
            for first, quantity in ranges:
                end = first + quantity - 1
                mine.extend(b for s, b in by_start.items() if first <= s <= end)
            standing = item.quantity_wh - item.withdrawn_wh + item.reissued_wh
            assert standing == sum(b.quantity_wh for b in mine if b.status != "withdrawn")
            used = sum(b.quantity_wh for b in mine if b.status in SPENT)
            end_s = item.start_s + item.length_s
            now = metering.measured_wh(view, "device", device, item.start_s, end_s).energy_wh
            assert standing <= max(now, used), (device, item, now, used)
            if standing > now:
                assert standing == used  # nothing withdrawable left


def issued_quarters(view: StateReader, device: str, day_start_s: int) -> list[int]:
    """Starts of the quarter hours of the day the device's issuances cover (with repeats, so
    a quarter issued twice shows twice)."""
    out: list[int] = []
    for item in issued_day(view, device, day_start_s).issuances:
        out.extend(range(item.start_s, item.start_s + item.length_s, 900))
    return sorted(out)


__all__ = [
    "BLOCK_TIME_S",
    "CERTIFIER",
    "CONSUMER",
    "DAY",
    "DAY0",
    "GRID",
    "GW1",
    "HOUR",
    "OPERATOR",
    "PRODUCER",
    "TWO_YEARS_S",
    "CertLedger",
    "CertMarket",
    "check_invariants",
    "issued_quarters",
]
