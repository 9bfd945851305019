"""A ledger for the claim tests: the credit ledger with May's credits issued and a site.

On top of :class:`credits_support.CreditLedger`: the wind farm's May verified and issued
(1,294 t to house-00, the households organisation's producer), and ``home-1`` (house-01's
site, CN-GD, hourly meter ``m-con``) metered for 48 hours of May at 2,000 Wh each. Block
time is 2025-06-16, so May has ended.
"""

from __future__ import annotations

from typing import Any

from carbon_support import HOUR, JUNE, MAY, PRODUCER
from credits_support import CreditLedger
from gridledger.contracts import credits
from ledger_support import GW1, reading

ORG = "households"
SITE = "home-1"
HOURS = 48
HOUR_WH = 2_000


def retire_body(serial: str, quantity_t: int = 1, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"serial": serial, "beneficiary": ORG, "quantity_t": quantity_t,
                            "reason": "home-1 carbon neutral in May 2025",
                            "claim_start_s": MAY, "claim_end_s": JUNE}  # fmt: skip
    body.update(changes)
    return body


def claim_body(claim_id: str = "home-1-2025-05", retirements: list[int] | None = None,
               **changes: Any) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {
        "id": claim_id,
        "subject": {"type": "site", "id": SITE, "name": "Flat of house-01"},
        "boundary": "electricity and fuels used at home-1 (scopes 1 and 2)",
        "start_s": MAY,
        "end_s": JUNE,
        "baseline_ref": "2024 footprint, report HH-2024-01",
        "baseline_g": 500_000,
        "plan_ref": "CNMP-2025-01",
        "retirements": [1] if retirements is None else retirements,
    }
    body.update(changes)
    return body


class ClaimLedger(CreditLedger):
    def setup(self) -> ClaimLedger:
        self.guangdong().farm()
        self.windy(3)
        self.project()
        self.verify("2025-05", MAY, JUNE)
        self.issue_credits("2025-05")
        self.home()
        batch = [reading("m-con", MAY + HOUR * i, HOUR_WH, 3600) for i in range(HOURS)]
        self.ok(GW1, "metering.submit", {"readings": batch})
        return self

    def retire(self, quantity_t: int = 1, block_time_ms: int | None = None, **changes: Any) -> int:
        """House-00 retires its first active tonnes for the households; the retirement's
        number."""
        serial = self.active_serial(PRODUCER)
        body = retire_body(serial, quantity_t, **changes)
        self.ok(PRODUCER, "credits.retire", body, block_time_ms=block_time_ms)
        return len(credits.list_retirements(self.state))


__all__ = ["HOURS", "HOUR_WH", "ORG", "SITE", "ClaimLedger", "claim_body", "retire_body"]
