"""Property tests of the certificates contract: random sequences of issuance, the lifecycle,
withdrawals, re-issues and meter corrections, each transaction run through the executor.

After every step:

* for every device and interval, the standing certified Wh (``quantity - withdrawn +
  reissued``) are no more than what the meters now measure, except where certificates already
  claimed or charged into storage hold more (a correction after them: reconcile reports them
  and changes nothing else); a withdrawn GEC conversion counts against no interval;
* the bundles of every device tile its Wh ids ``1 .. last_id``, no gap and no overlap
  (:func:`certificates_support.check_invariants`);
* no quarter hour of a device is issued twice, and an issuance is taken exactly when the model
  says (every interval metered and unissued, none named twice);
* bundles that reached a final status are byte for byte as they were;
* split and transfer conserve quantities (each holder's Wh, and every Wh of the device);
* a refused transaction changes nothing but its sender's nonce.
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from certificates_support import (
    CERTIFIER,
    CONSUMER,
    DAY,
    DAY0,
    HOUR,
    PRODUCER,
    CertLedger,
    check_invariants,
    issued_quarters,
)
from gridledger.contracts import certificates, metering
from gridledger.contracts.certificates import keys
from gridledger.contracts.certificates.records import FINAL, Issuance
from gridledger.core.encoding import decode_json
from gridledger.core.errors import InvalidTransaction
from gridledger.core.types import Receipt
from gridledger.node.executor import prepare
from ledger_support import OTHER_HOUSE, unchecked
from support import domain_state

HOURS = [DAY0 + 10 * HOUR, DAY0 + 11 * HOUR, DAY0 + 12 * HOUR]
QUARTERS = [h + 900 * q for h in HOURS for q in range(4)]
HOLDERS = [PRODUCER, CONSUMER, OTHER_HOUSE]
DEVICES = ["pv-1", "pv-big"]
MAY = 1_746_057_600
"""2025-05-01 00:00 UTC: pv-big's first hour of May, and the month of its GEC."""
quarter_wh = st.integers(0, 2400)
pick = st.integers(0, 1_000_000)
"""An index into whatever list a step chooses from (taken modulo its length)."""


class CertificateMachine(RuleBasedStateMachine):
    """pv-1 (15-minute meter) with three metered hours, home-1, the battery bat-1, and pv-big
    (5 MW) with a recorded GEC of May."""

    led: CertLedger
    final: dict[bytes, bytes]

    @initialize(
        first=st.lists(st.integers(1, 2400), min_size=4, max_size=4),
        readings=st.lists(quarter_wh, min_size=len(QUARTERS) - 4, max_size=len(QUARTERS) - 4),
    )
    def setup(self, first: list[int], readings: list[int]) -> None:
        """Readings for every quarter; the first hour issued to house-00 so steps find
        bundles from the start."""
        self.led = CertLedger().plant().home().storage()
        readings = [*first, *readings]
        for h, hour in enumerate(HOURS):
            self.led.generate("m-gen", hour, readings[4 * h : 4 * h + 4])
        self.led.issue("pv-1", [HOURS[0]])
        # a 5 MW plant with the first hour of May issued and a GEC of May recorded
        self.led.plant("pv-big", "m-big", capacity_w=5_000_000)
        self.led.generate("m-big", MAY, [1000] * 4)
        self.led.generate("m-big", MAY + 9 * DAY, [400_000] * 4)
        self.led.issue("pv-big", [MAY])
        gec = {
            "gec": "GEC-1",
            "project": "Big PV",
            "device": "pv-big",
            "month": "2025-05",
            "tradable": True,
            "owner": PRODUCER,
        }
        self.led.ok(CERTIFIER, "certificates.record_gec", gec)
        self.converted = False
        self.final = {}

    # helpers ---------------------------------------------------------------------------------
    def attempt(self, sender: str, kind: str, body: dict[str, Any]) -> Receipt:
        """Run one transaction; when it fails, nothing but the sender's nonce changed."""
        before = domain_state(self.led.state)
        tx = self.led.tx(sender, kind, body)
        try:
            prepared = prepare(tx)
        except InvalidTransaction:  # admission refuses it: a block carrying it fails it too
            prepared = None
        (receipt,) = self.led.run(prepared or unchecked(tx))
        assert prepared is not None or receipt.status == "failed"
        if receipt.status != "ok":
            assert receipt.events == []
            assert domain_state(self.led.state) == before
        return receipt

    def held(self) -> list[dict[str, Any]]:
        return [b for device in DEVICES for b in self.led.bundles(device)]

    def choose(self, index: int, *statuses: str) -> dict[str, Any] | None:
        found = [b for b in self.held() if not statuses or b["status"] in statuses]
        return found[index % len(found)] if found else None

    def holdings(self) -> dict[str, int]:
        """Wh each account holds, by status."""
        out: dict[str, int] = {}
        for b in self.held():
            key = f"{b['owner']}/{b['status']}"
            out[key] = out.get(key, 0) + b["quantity_wh"]
        return out

    def measured(self, start: int, length: int, device: str = "pv-1") -> int:
        got = metering.measured_wh(self.led.state, "device", device, start, start + length)
        return got.energy_wh

    # steps -----------------------------------------------------------------------------------
    @rule(
        picks=st.lists(st.integers(0, len(QUARTERS) - 1), min_size=1, max_size=3),
        quarter_hours=st.booleans(),
        to=st.sampled_from(HOLDERS),
    )
    def issue(self, picks: list[int], quarter_hours: bool, to: str) -> None:
        length = 900 if quarter_hours else HOUR
        starts = [QUARTERS[i] - QUARTERS[i] % length for i in picks]
        taken = set(issued_quarters(self.led.state, "pv-1", DAY0))
        wanted = [q for s in starts for q in range(s, s + length, 900)]
        expected = (
            len(set(starts)) == len(starts)
            and not taken & set(wanted)
            and all(self.measured(s, length) > 0 for s in starts)
        )
        before = sum(b["quantity_wh"] for b in self.held())
        receipt = self.attempt(
            CERTIFIER,
            "certificates.issue",
            {"device": "pv-1", "to": to, "starts": starts, "length_s": length},
        )
        assert (receipt.status == "ok") == expected, (receipt.code, receipt.message)
        if expected:
            issued = sum(self.measured(s, length) for s in starts)
            assert sum(b["quantity_wh"] for b in self.held()) == before + issued
            assert receipt.events[-1]["quantity_wh"] == issued

    @rule(index=pick, shares=st.lists(st.integers(0, 100), min_size=1, max_size=3))
    def split(self, index: int, shares: list[int]) -> None:
        """Parts of ``share`` percent each, the rest last (a part may come out 0 or negative)."""
        b = self.choose(index, "active")
        if b is None:
            return
        quantities = [b["quantity_wh"] * p // 100 for p in shares]
        quantities = [*quantities, b["quantity_wh"] - sum(quantities)]
        before = self.holdings()
        receipt = self.attempt(
            b["owner"], "certificates.split", {"bundle": b["id"], "quantities": quantities}
        )
        ok = all(q > 0 for q in quantities)
        assert (receipt.status == "ok") == ok, (receipt.code, receipt.message)
        assert self.holdings() == before
        if ok:
            children = [
                x
                for x in self.led.bundles(b["device"])
                if b["range_start"] <= x["range_start"] <= b["range_end"]
            ]
            assert [c["quantity_wh"] for c in children] == quantities
            assert all(c["parent_hash"] == b["hash"] for c in children)

    @rule(index=pick, to=st.sampled_from(HOLDERS), part=st.one_of(st.none(), st.integers(1, 5000)))
    def transfer(self, index: int, to: str, part: int | None) -> None:
        b = self.choose(index)
        if b is None:
            return
        sender = b["owner"]
        before = self.holdings()
        receipt = self.attempt(
            sender, "certificates.transfer", {"bundle": b["id"], "to": to, "quantity_wh": part}
        )
        ok = (
            to != sender
            and (b["status"] == "active" or (b["status"] == "locked" and b.get("locked_for") == to))
            and (part is None or part <= b["quantity_wh"])
        )
        assert (receipt.status == "ok") == ok, (receipt.code, receipt.message)
        if ok:
            moved = b["quantity_wh"] if part is None else part
            after = dict(before)
            key = f"{sender}/{b['status']}"
            after[key] -= moved
            after[f"{to}/active"] = after.get(f"{to}/active", 0) + moved
            assert {k: v for k, v in self.holdings().items() if v} == {
                k: v for k, v in after.items() if v
            }
        else:
            assert self.holdings() == before

    @rule(index=pick, to=st.sampled_from(HOLDERS), part=st.one_of(st.none(), st.integers(1, 5000)))
    def lock(self, index: int, to: str, part: int | None) -> None:
        b = self.choose(index, "active")
        if b is None:
            return
        receipt = self.attempt(
            b["owner"],
            "certificates.lock",
            {"bundle": b["id"], "for_account": to, "quantity_wh": part},
        )
        ok = part is None or part <= b["quantity_wh"]
        assert (receipt.status == "ok") == ok, (receipt.code, receipt.message)

    @rule(index=pick)
    def unlock(self, index: int) -> None:
        b = self.choose(index, "locked")
        if b is not None:
            receipt = self.attempt(b["owner"], "certificates.unlock", {"bundle": b["id"]})
            assert receipt.status == "ok", receipt.message

    @rule(index=pick, part=st.one_of(st.none(), st.integers(1, 5000)))
    def cancel(self, index: int, part: int | None) -> None:
        b = self.choose(index, "active", "locked")
        if b is None:
            return
        body = {
            "bundle": b["id"],
            "beneficiary": CONSUMER,
            "site": "home-1",
            "period_start_s": HOURS[0],
            "period_end_s": HOURS[-1] + HOUR,
            "quantity_wh": part,
        }
        receipt = self.attempt(b["owner"], "certificates.cancel", body)
        ok = b["status"] == "active" and (part is None or part <= b["quantity_wh"])
        assert (receipt.status == "ok") == ok, (receipt.code, receipt.message)

    @rule(index=pick, by_beneficiary=st.booleans(), any_bundle=st.booleans())
    def claim(self, index: int, by_beneficiary: bool, any_bundle: bool) -> None:
        b = self.choose(index) if any_bundle else self.choose(index, "cancelled")
        if b is None:
            return
        sender = CONSUMER if by_beneficiary else b["owner"]
        receipt = self.attempt(sender, "certificates.claim", {"bundle": b["id"]})
        assert (receipt.status == "ok") == (b["status"] == "cancelled"), receipt.message

    @rule(index=pick, any_bundle=st.booleans())
    def charge(self, index: int, any_bundle: bool) -> None:
        b = self.choose(index) if any_bundle else self.choose(index, "active")
        if b is None:
            return
        receipt = self.attempt(
            b["owner"], "certificates.charge_storage", {"storage": "bat-1", "bundles": [b["id"]]}
        )
        assert (receipt.status == "ok") == (b["status"] == "active"), receipt.message

    @rule(index=pick, part=st.one_of(st.none(), st.integers(1, 5000)), any_bundle=st.booleans())
    def withdraw(self, index: int, part: int | None, any_bundle: bool) -> None:
        b = (
            self.choose(index)
            if any_bundle
            else self.choose(index, "active", "locked", "cancelled")
        )
        if b is None:
            return
        receipt = self.attempt(
            CERTIFIER,
            "certificates.withdraw",
            {"bundle": b["id"], "reason": "audit", "quantity_wh": part},
        )
        ok = b["status"] in ("active", "locked", "cancelled") and (
            part is None or part <= b["quantity_wh"]
        )
        assert (receipt.status == "ok") == ok, (receipt.code, receipt.message)

    @rule(index=pick, quantity=st.integers(1, 5000), to=st.sampled_from(HOLDERS))
    def reissue(self, index: int, quantity: int, to: str) -> None:
        """Re-issue part of an interval, one with withdrawn Wh when there is one."""
        items = self._issuances()
        withdrawn = [(d, i) for d, i in items if i.withdrawn_wh > i.reissued_wh]
        device, item = (withdrawn or items)[index % len(withdrawn or items)]
        if withdrawn and index % 3 == 0:  # sometimes ask for exactly what is open
            quantity = item.withdrawn_wh - item.reissued_wh
        body = {
            "device": device,
            "start": item.start_s,
            "to": to,
            "quantity_wh": quantity,
            "reason": "restored",
        }
        receipt = self.attempt(CERTIFIER, "certificates.reissue", body)
        standing = item.quantity_wh - item.withdrawn_wh + item.reissued_wh
        open_wh = item.withdrawn_wh - item.reissued_wh
        now = self.measured(item.start_s, item.length_s, device)
        ok = quantity <= open_wh and standing + quantity <= now
        assert (receipt.status == "ok") == ok, (receipt.code, receipt.message)

    @rule(quarter=st.integers(0, len(QUARTERS) - 1), wh=quarter_wh)
    def correct_and_reconcile(self, quarter: int, wh: int) -> None:
        """A grid operator's correction, then the certifier's reconcile of the interval."""
        start = QUARTERS[quarter]
        self.led.correct("m-gen", start, wh)
        items = [
            i
            for d, i in self._issuances()
            if d == "pv-1" and i.start_s <= start < i.start_s + i.length_s
        ]
        if not items:
            return
        (item,) = items
        claimed_before = {b["id"]: b for b in self.held() if b["status"] == "claimed"}
        receipt = self.attempt(
            CERTIFIER, "certificates.reconcile", {"device": "pv-1", "start": item.start_s}
        )
        standing = item.quantity_wh - item.withdrawn_wh + item.reissued_wh
        now = self.measured(item.start_s, item.length_s)
        assert (receipt.status == "ok") == (standing > now), (receipt.code, receipt.message)
        if receipt.status == "ok":
            event = receipt.events[0]
            assert event["withdrawn_wh"] + event["over_claimed_wh"] == standing - now
        assert {b["id"]: b for b in self.held() if b["id"] in claimed_before} == claimed_before

    @rule(index=pick, sender=st.sampled_from(HOLDERS))
    def someone_else(self, index: int, sender: str) -> None:
        """A holder's action sent by another account: refused, nothing changes."""
        b = self.choose(index)
        if b is None or b["owner"] == sender:
            return
        for kind, body in (
            ("certificates.transfer", {"bundle": b["id"], "to": sender}),
            ("certificates.split", {"bundle": b["id"], "quantities": [1, 1]}),
            ("certificates.unlock", {"bundle": b["id"]}),
        ):
            receipt = self.attempt(sender, kind, body)
            assert receipt.status == "failed"

    @rule()
    def convert_gec(self) -> None:
        """Cancel the May GEC into 1,000,000 granular Wh of pv-big (once)."""
        receipt = self.attempt(PRODUCER, "certificates.cancel_gec", {"gec": "GEC-1"})
        assert (receipt.status == "ok") != self.converted, (receipt.code, receipt.message)
        self.converted = True

    def _issuances(self) -> list[tuple[str, Issuance]]:
        view = self.led.state
        return [
            *(("pv-1", i) for i in certificates.issuances(view, "pv-1", DAY0, DAY0 + DAY)),
            *(("pv-big", i) for i in certificates.issuances(view, "pv-big", MAY, MAY + DAY)),
        ]

    # after every step ------------------------------------------------------------------------
    @invariant()
    def contract_invariants(self) -> None:
        if not hasattr(self, "led"):
            return
        check_invariants(self.led.state)
        quarters = issued_quarters(self.led.state, "pv-1", DAY0)
        assert len(quarters) == len(set(quarters))
        for k, v in self.final.items():
            assert self.led.state.get(k) == v, k
        for device in DEVICES:
            for k, v in self.led.state.scan(keys.bundles_of(device)):
                if decode_json(v)["status"] in FINAL:
                    self.final[k] = v


CertificateMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=50)
TestCertificateMachine = CertificateMachine.TestCase
