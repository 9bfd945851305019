"""Property tests of the credit registry: random transfers, splits, retirements and
cancellations of issued credits, each run through the executor, against a model that tracks
every unit's state and holder.

After every step:

* every unit of the project is in exactly one block, and that block's state and holder are
  the model's (so transfers, splits and retirements conserve tonnes, per holder and in all);
* the registry's own invariants hold (:func:`credits_support.check_registry`);
* a refused step changes nothing but its sender's nonce (``CarbonLedger.refuse``).
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from carbon_support import CONSUMER, JUNE, MAY, OTHER_HOUSE, PRODUCER, VERIFIER
from credits_support import PROJECT, CreditLedger, check_registry
from gridledger.contracts import credits
from gridledger.contracts.credits.records import SerialBlock

HOLDERS = (PRODUCER, CONSUMER, OTHER_HOUSE)
Unit = tuple[str, str | None]
"""A unit's state and holder."""


class CreditRegistry(RuleBasedStateMachine):
    led: CreditLedger
    model: dict[int, Unit]

    @initialize()
    def issue(self) -> None:
        self.led = CreditLedger().guangdong().farm()
        self.led.windy(1)
        self.led.project()
        self.led.verify("2025-05", MAY, JUNE)
        self.led.issue_credits("2025-05")
        self.model = {}
        for b in self.led.blocks():
            for unit in range(b.first, b.last + 1):
                self.model[unit] = (b.status, b.holder)

    def _pick(self, index: int) -> SerialBlock:
        blocks = self.led.blocks()
        return blocks[index % len(blocks)]

    def _expect(self, block: SerialBlock, quantity: int | None, state: Unit) -> None:
        last = block.last if quantity is None else block.first + quantity - 1
        for unit in range(block.first, last + 1):
            self.model[unit] = state

    @staticmethod
    def _fits(block: SerialBlock, quantity: int | None) -> bool:
        return quantity is None or quantity <= block.quantity_t

    @rule(index=st.integers(0, 50), to=st.sampled_from(HOLDERS),
          quantity=st.none() | st.integers(1, 300))  # fmt: skip
    def transfer(self, index: int, to: str, quantity: int | None) -> None:
        block = self._pick(index)
        body = {"serial": block.serial(), "to": to}
        if quantity is not None:
            body["quantity_t"] = quantity  # type: ignore[assignment]
        if block.status == "active" and block.holder is not None and self._fits(block, quantity):
            self.led.ok(block.holder, "credits.transfer", body)
            self._expect(block, quantity, ("active", to))
        elif block.status == "active" and block.holder is not None:
            self.led.refuse(block.holder, "credits.transfer", body, "credits.bad_quantity")
        else:
            code = {"buffer": "credits.in_buffer", "retired": "credits.already_retired",
                    "cancelled": "credits.already_cancelled"}[block.status]  # fmt: skip
            self.led.refuse(PRODUCER, "credits.transfer", body, code)

    @rule(index=st.integers(0, 50), quantity=st.integers(1, 300))
    def split(self, index: int, quantity: int) -> None:
        block = self._pick(index)
        if block.status != "active" or block.holder is None:
            return
        body = {"serial": block.serial(), "quantity_t": quantity}
        if quantity < block.quantity_t:
            self.led.ok(block.holder, "credits.split", body)
        else:
            self.led.refuse(block.holder, "credits.split", body, "credits.bad_quantity")

    @rule(index=st.integers(0, 50), quantity=st.none() | st.integers(1, 300),
          stranger=st.booleans())  # fmt: skip
    def retire(self, index: int, quantity: int | None, stranger: bool) -> None:
        block = self._pick(index)
        if block.status != "active" or block.holder is None:
            return
        body = {"serial": block.serial(), "beneficiary": "b", "reason": "r",
                "claim_start_s": MAY, "claim_end_s": JUNE}  # fmt: skip
        if quantity is not None:
            body["quantity_t"] = quantity
        if stranger:
            other = next(h for h in HOLDERS if h != block.holder)
            self.led.refuse(other, "credits.retire", body, "credits.not_holder")
        elif self._fits(block, quantity):
            self.led.ok(block.holder, "credits.retire", body)
            self._expect(block, quantity, ("retired", block.holder))
        else:
            self.led.refuse(block.holder, "credits.retire", body, "credits.bad_quantity")

    @rule(index=st.integers(0, 50), quantity=st.integers(1, 30))
    def cancel(self, index: int, quantity: int) -> None:
        block = self._pick(index)
        if block.status not in ("active", "buffer") or not self._fits(block, quantity):
            return
        body = {"serial": block.serial(), "reason": "reversal", "quantity_t": quantity}
        self.led.ok(VERIFIER, "credits.cancel", body)
        self._expect(block, quantity, ("cancelled", block.holder))

    @invariant()
    def every_unit_is_in_exactly_one_state(self) -> None:
        seen: dict[int, Unit] = {}
        for b in self.led.blocks():
            for unit in range(b.first, b.last + 1):
                assert unit not in seen
                seen[unit] = (b.status, b.holder)
        assert seen == self.model
        check_registry(self.led.state)

    @invariant()
    def holdings_match_the_model(self) -> None:
        for holder in HOLDERS:
            held = sum(b.quantity_t for b in credits.held_by(self.led.state, holder))
            assert held == sum(1 for s in self.model.values() if s == ("active", holder))
        project = credits.get_project(self.led.state, PROJECT)
        assert project is not None
        assert project.issued_t == len(self.model)
        # the read model's tonnes by state are the blocks' own
        assert self.led.project_totals() == credits.project_totals(self.led.state, PROJECT)


CreditRegistry.TestCase.settings = settings(max_examples=25, stateful_step_count=12, deadline=None)
test_credit_registry = CreditRegistry.TestCase
