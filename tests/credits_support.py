"""A ledger for the credit and allowance tests: the carbon ledger with an offshore wind farm.

On top of :class:`carbon_support.CarbonLedger` with Guangdong's factor sets
(:meth:`~carbon_support.CarbonLedger.guangdong`): ``wf-1``, house-00's 100 MW offshore wind
farm in CN-GD with the daily generation meter ``m-wf``, registered as project ``wf``
(number 1) by house-00. :meth:`CreditLedger.windy` meters days of May 2025 at 1 GWh each;
block time is 2025-06-16, so May has ended. Every block is folded into the credit totals
read model too (:meth:`CreditLedger.project_totals`).

:func:`check_registry` recomputes from the stored blocks alone what the contract promises:
each project's blocks tile its units ``1 .. last_unit`` with no gap or overlap, their sizes
sum to the project's ``issued_t`` (buffer to ``buffer_t``), every active block is in its
holder's index and nothing else is, and every retired block has its retirement.
"""

from __future__ import annotations

from typing import Any

from carbon_support import DAY, MAY, PRODUCER, VERIFIER, CarbonLedger
from gridledger.contracts import credits
from gridledger.contracts.credits import keys
from gridledger.contracts.credits.records import SerialBlock
from gridledger.core.types import Receipt
from gridledger.readmodels import credits as credit_totals
from gridledger.readmodels.credits import CreditTotals
from gridledger.state.readmodels import BlockFacts
from gridledger.state.state import StateReader, decode_record
from ledger_support import GRID, GW1, device_body, meter_body, reading

FARM = "wf-1"
FARM_METER = "m-wf"
PROJECT = "wf"
DAY_WH = 1_000_000_000
"""What the farm meters on each windy day: 1 GWh."""


def project_body(project: str = PROJECT, device: str = FARM, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": project,
        "name": "Offshore wind farm, Yangjiang",
        "device": device,
        "methodology": "CDM ACM0002",
        "baseline": "grid electricity at the CN-GD grid-average emission factor",
        "monitoring_plan": "MP-2025-001, daily revenue meter m-wf",
    }
    body.update(changes)
    return body


class CreditLedger(CarbonLedger):
    """:class:`CarbonLedger` that also folds every block into the credit totals read model
    (:meth:`project_totals` reads them)."""

    def __init__(self, block_time_ms: int | None = None) -> None:
        super().__init__(block_time_ms)
        self.credit_totals = CreditTotals()
        for ddl in self.credit_totals.tables:
            self.conn.execute(ddl)

    def committed(self, height: int, time_ms: int, changes: dict[bytes, bytes | None]) -> None:
        super().committed(height, time_ms, changes)
        facts = BlockFacts(height, time_ms, dict(sorted(changes.items())))
        self.credit_totals.apply(self.conn, facts)

    def project_totals(self, project: str = PROJECT) -> credits.ProjectTotals:
        """The read model's tonnes by state of ``project``."""
        return credit_totals.project_totals(self.conn, project)

    def farm(self, device: str = FARM, meter: str = FARM_METER) -> CreditLedger:
        """House-00's 100 MW offshore wind farm with a daily generation meter."""
        self.ok(PRODUCER, "registry.register_device", device_body(
            device, technology="wind_offshore", fuel="wind", capacity_w=100_000_000,
            name="Offshore wind farm"))  # fmt: skip
        self.ok(GRID, "registry.register_meter", meter_body(meter, device=device,
                                                            interval_s=86_400))  # fmt: skip
        return self

    def windy(self, days: int, start: int = MAY, meter: str = FARM_METER,
              wh: int = DAY_WH) -> Receipt:  # fmt: skip
        batch = [reading(meter, start + DAY * i, wh, 86_400) for i in range(days)]
        return self.ok(GW1, "metering.submit", {"readings": batch})

    def project(self, **changes: Any) -> CreditLedger:
        self.ok(PRODUCER, "credits.register_project", project_body(**changes))
        return self

    def verify(self, period: str, start: int, end: int, project: str = PROJECT) -> Receipt:
        body = {"project": project, "id": period, "start_s": start, "end_s": end}
        return self.ok(VERIFIER, "credits.verify_period", body)

    def issue_credits(self, period: str, project: str = PROJECT, **extra: Any) -> Receipt:
        return self.ok(VERIFIER, "credits.issue", {"project": project, "period": period, **extra})

    def blocks(self, project: str = PROJECT) -> list[SerialBlock]:  # type: ignore[override]
        return credits.blocks_of_project(self.state, project)

    def held(self, account: str) -> list[SerialBlock]:
        return credits.held_by(self.state, account)

    def active_serial(self, holder: str, project: str = PROJECT) -> str:
        """The serial of the holder's first active block of the project."""
        for b in self.blocks(project):
            if b.status == "active" and b.holder == holder:
                return b.serial()
        raise AssertionError(f"{holder} holds no {project} credits")


def check_registry(view: StateReader) -> None:
    """The registry's invariants (see the module docstring), from the stored records."""
    held = {k for k, _ in view.scan(keys.holdings())}
    expected_held = set()
    for project in credits.list_projects(view).items:
        blocks = credits.blocks_of_project(view, project.id)
        unit = 1
        for b in blocks:
            assert b.first == unit, (project.id, b.first, unit)
            assert b.first <= b.last
            unit = b.last + 1
            if b.status == "active":
                assert b.holder is not None
                expected_held.add(keys.held(b.holder, b.number, b.first))
            if b.status == "retired":
                assert b.retirement is not None
                r = credits.get_retirement(view, b.retirement)
                assert r is not None
                assert (r.serial, r.quantity_t) == (b.serial(), b.quantity_t)
        assert unit - 1 == project.last_unit
        assert sum(b.quantity_t for b in blocks) == project.issued_t
        periods = credits.periods_of(view, project.id)
        assert sum(p.issued_t for p in periods) == project.issued_t
        assert all(p.issued_t <= p.verified_t for p in periods)
    assert held == expected_held
    for _, raw in view.scan(keys.blocks()):
        decode_record(raw, SerialBlock)


__all__ = [
    "DAY_WH",
    "FARM",
    "FARM_METER",
    "PROJECT",
    "CreditLedger",
    "check_registry",
    "project_body",
]
