"""Property tests of the products contract.

* Quantities are conserved: random shipments, receipts, refusals, scraps and consumptions of
  two batches among three organisations, each through the executor, leave every batch with
  made = held + in transit + consumed + scrapped, and each organisation's stock equal to a
  model's; a refused step changes nothing.
* A batch's footprint is its own emissions plus its inputs' allocated shares, whatever the
  order of events: the same consumptions split into any pieces, in any order, interleaved
  with the inputs' own footprints, give the same footprint.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from gridledger.contracts import products
from products_support import (
    ACCOUNT,
    CARCO,
    HOUR,
    INGOT,
    RIM_GTIN,
    RIMCO,
    SMELTER,
    START,
    ProductLedger,
    check_conservation,
)

ORGS = (SMELTER, RIMCO, CARCO)
LOTS = ("L1", "L2")
MADE = 500


class Custody(RuleBasedStateMachine):
    led: ProductLedger
    stock: dict[tuple[str, str], int]
    transit: list[tuple[str, int, str, str, int]]
    """(lot, shipment, from, to, quantity) of shipments in transit."""

    @initialize()
    def setup(self) -> None:
        self.led = ProductLedger().chain()
        for lot in LOTS:
            self.led.make(SMELTER, INGOT, lot, MADE)
        self.led.start_batch(RIMCO, RIM_GTIN, "R1")
        self.stock = {(lot, SMELTER): MADE for lot in LOTS}
        self.transit = []

    def _run(self, org: str, kind: str, body: dict[str, object], ok: bool) -> None:
        (receipt,) = self.led.run(self.led.tx(ACCOUNT[org], kind, body))
        assert receipt.ok == ok, (kind, body, receipt.code, receipt.message)

    @rule(lot=st.sampled_from(LOTS), src=st.sampled_from(ORGS), dst=st.sampled_from(ORGS),
          quantity=st.integers(1, 600))  # fmt: skip
    def ship(self, lot: str, src: str, dst: str, quantity: int) -> None:
        held = self.stock.get((lot, src), 0)
        ok = src != dst and quantity <= held
        body = {"gtin": INGOT, "lot": lot, "quantity": quantity, "to": dst}
        self._run(src, "products.ship", body, ok)
        if ok:
            self.stock[(lot, src)] = held - quantity
            batch = products.get_batch(self.led.state, INGOT, lot)
            assert batch is not None
            self.transit.append((lot, batch.shipments, src, dst, quantity))

    @rule(index=st.integers(0, 20), accept=st.booleans(), by_other=st.booleans())
    def settle(self, index: int, accept: bool, by_other: bool) -> None:
        if not self.transit:
            return
        lot, n, src, dst, quantity = self.transit[index % len(self.transit)]
        org = src if by_other else dst
        kind = "products.receive" if accept else "products.return"
        self._run(org, kind, {"gtin": INGOT, "lot": lot, "shipment": n}, not by_other)
        if by_other:
            return
        self.transit.remove((lot, n, src, dst, quantity))
        back = dst if accept else src
        self.stock[(lot, back)] = self.stock.get((lot, back), 0) + quantity

    @rule(lot=st.sampled_from(LOTS), org=st.sampled_from(ORGS), quantity=st.integers(1, 600))
    def scrap(self, lot: str, org: str, quantity: int) -> None:
        held = self.stock.get((lot, org), 0)
        ok = quantity <= held
        self._run(org, "products.scrap", {"gtin": INGOT, "lot": lot, "quantity": quantity}, ok)
        if ok:
            self.stock[(lot, org)] = held - quantity

    @rule(lot=st.sampled_from(LOTS), quantity=st.integers(1, 600))
    def consume(self, lot: str, quantity: int) -> None:
        held = self.stock.get((lot, RIMCO), 0)
        ok = quantity <= held
        body = {"gtin": RIM_GTIN, "lot": "R1",
                "inputs": [{"gtin": INGOT, "lot": lot, "quantity": quantity}]}  # fmt: skip
        self._run(RIMCO, "products.consume", body, ok)
        if ok:
            self.stock[(lot, RIMCO)] = held - quantity

    @invariant()
    def conserved(self) -> None:
        check_conservation(self.led.state)
        for lot in LOTS:
            held = {o: q for (lt, o), q in self.stock.items() if lt == lot and q}
            assert products.holdings(self.led.state, INGOT, lot) == held


TestCustody = Custody.TestCase
TestCustody.settings = settings(max_examples=15, stateful_step_count=25, deadline=None)


STEP = st.tuples(st.sampled_from(LOTS), st.integers(1, 40))


@settings(max_examples=12, deadline=None)
@given(steps=st.lists(STEP, min_size=1, max_size=6), footprint_first=st.booleans(),
       shuffle=st.randoms(use_true_random=False))  # fmt: skip
def test_a_footprint_is_own_emissions_plus_input_shares_in_any_order(
    steps: list[tuple[str, int]], footprint_first: bool, shuffle: object
) -> None:
    def build(order: list[tuple[str, int]], early: bool) -> products.Footprint:
        led = ProductLedger().chain()
        for i, lot in enumerate(LOTS):
            led.start_batch(SMELTER, INGOT, lot)
            led.at(START + (i + 1) * 2 * HOUR).meter(SMELTER, START + i * 2 * HOUR,
                                                     [700_001 * (i + 1), 333_333])  # fmt: skip
            led.complete(SMELTER, INGOT, lot, 997)
            if early:
                led.footprint(SMELTER, INGOT, lot)
        led.start_batch(RIMCO, RIM_GTIN, "R1")
        for lot in LOTS:
            led.deliver(SMELTER, RIMCO, INGOT, lot, 997)
        for lot, quantity in order:
            led.consume(RIMCO, RIM_GTIN, "R1", [(INGOT, lot, quantity)])
        led.complete(RIMCO, RIM_GTIN, "R1", 7)
        if not early:
            for lot in LOTS:
                led.footprint(SMELTER, INGOT, lot)
        return led.footprint(RIMCO, RIM_GTIN, "R1")

    reordered = list(steps)
    shuffle.shuffle(reordered)  # type: ignore[attr-defined]
    a = build(steps, footprint_first)
    b = build(reordered, not footprint_first)
    # the same figures, whatever the order (only heights and times of recording differ)
    for field in ("inputs", "electricity", "direct", "direct_g", "indirect_location_g",
                  "indirect_market_g", "total_location_g", "total_market_g"):  # fmt: skip
        assert getattr(a, field) == getattr(b, field), field
    consumed: dict[str, int] = {}
    for lot, quantity in steps:
        consumed[lot] = consumed.get(lot, 0) + quantity
    assert [(s.lot, s.consumed) for s in a.inputs] == sorted(consumed.items())
    inputs_loc = sum(s.direct_g + s.indirect_location_g for s in a.inputs)
    inputs_mkt = sum(s.direct_g + s.indirect_market_g for s in a.inputs)
    assert a.total_location_g == a.own_location_g + inputs_loc
    assert a.total_market_g == a.own_market_g + inputs_mkt
    assert inputs_loc > 0
