"""Carbon credits and allowances on the client side: sign and submit ``credits.*`` and
``allowances.*`` transactions and read the ``/v1/credits`` and ``/v1/allowances`` endpoints
(``docs/api.md``, "Credits and allowances"; the rules in ``docs/credits.md``).

``Client.credits`` is a :class:`Credits` and ``Client.allowances`` an :class:`Allowances`::

    with Client(url) as client:
        client.credits.retire(key, "sun", serial="GLR-VER-CN-1-20250101-20250228-1-1-1",
                              beneficiary="Shekou community", reason="2025 operations",
                              claim_start_s=start, claim_end_s=end)
        print(client.credits.retirements(beneficiary="Shekou community"))
        print(client.allowances.compliance("ets-2024", holder="power-co"))

Every transaction method signs with ``key`` as ``sender``, submits, waits for the receipt and
returns the :class:`~gridledger.sdk.client.Committed` result (``ok`` False with the
contract's code when it committed but failed, e.g. ``credits.exceeds_verified``). Bodies are
checked against the kind's stateless rules first, so a bad one raises
:class:`~gridledger.sdk.errors.InvalidInput` with the code the node would answer with.
Credits and allowances are whole tonnes, emissions grams, times Unix seconds UTC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gridledger.sdk.contract import ContractClient, contract_kinds

if TYPE_CHECKING:
    from gridledger.core.crypto import SigningKey
    from gridledger.sdk.client import Committed

CREDITS_KINDS = contract_kinds("credits")
ALLOWANCES_KINDS = contract_kinds("allowances")


class Credits(ContractClient):
    """The credit registry's endpoints and transactions of one node, through ``client``."""

    kinds = CREDITS_KINDS
    path = ("v1", "credits")

    # reads ---------------------------------------------------------------------------------
    def projects(self, org: str | None = None) -> dict[str, Any]:
        """``{"projects": [...]}``: every project (of ``org``), by id."""
        return self._get("projects", org=org)

    def project(self, project: str) -> dict[str, Any]:
        """``{"project", "periods", "totals"}`` (``404 not_found`` for an unknown id)."""
        return self._get("projects", project)

    def blocks(self, project: str) -> dict[str, Any]:
        """``{"blocks": [...]}``: the project's serial blocks in serial order."""
        return self._get("projects", project, "blocks")

    def holdings(self, account: str) -> dict[str, Any]:
        """``{"blocks": [...]}``: the active blocks ``account`` holds."""
        return self._get("holdings", account=account)

    def serial(self, serial: str) -> dict[str, Any]:
        """``{"blocks": [...]}``: the blocks now holding the units ``serial`` names."""
        return self._get("serials", serial)

    def retirements(
        self, beneficiary: str | None = None, project: str | None = None
    ) -> dict[str, Any]:
        """``{"retirements": [...]}`` in the order recorded, filtered."""
        return self._get("retirements", beneficiary=beneficiary, project=project)

    def retirement(self, n: int) -> dict[str, Any]:
        """One retirement by its number."""
        return self._get("retirements", n)

    # transactions --------------------------------------------------------------------------
    def register_project(
        self,
        key: SigningKey,
        sender: str,
        *,
        project: str,
        name: str,
        device: str,
        methodology: str,
        baseline: str,
        monitoring_plan: str,
        wait: float = 10.0,
    ) -> Committed:
        """Register the sender's organisation's plant as a project (producer)."""
        body = {
            "id": project,
            "name": name,
            "device": device,
            "methodology": methodology,
            "baseline": baseline,
            "monitoring_plan": monitoring_plan,
        }
        return self.send(key, sender, "credits.register_project", body, wait)

    def verify_period(
        self,
        key: SigningKey,
        sender: str,
        *,
        project: str,
        period: str,
        start_s: int,
        end_s: int,
        note: str | None = None,
        wait: float = 10.0,
    ) -> Committed:
        """Confirm a monitoring period's reductions (carbon verifier)."""
        body = {"project": project, "id": period, "start_s": start_s, "end_s": end_s, "note": note}
        return self.send(key, sender, "credits.verify_period", body, wait)

    def issue(
        self,
        key: SigningKey,
        sender: str,
        *,
        project: str,
        period: str,
        quantity_t: int | None = None,
        first: int | None = None,
        wait: float = 10.0,
    ) -> Committed:
        """Issue credits for a verified period (carbon verifier)."""
        body = {"project": project, "period": period, "quantity_t": quantity_t, "first": first}
        return self.send(key, sender, "credits.issue", body, wait)

    def transfer(
        self,
        key: SigningKey,
        sender: str,
        *,
        serial: str,
        to: str,
        quantity_t: int | None = None,
        wait: float = 10.0,
    ) -> Committed:
        """Transfer a block, or its first ``quantity_t`` tonnes (holder)."""
        body = {"serial": serial, "to": to, "quantity_t": quantity_t}
        return self.send(key, sender, "credits.transfer", body, wait)

    def split(
        self, key: SigningKey, sender: str, *, serial: str, quantity_t: int, wait: float = 10.0
    ) -> Committed:
        """Split a block into its first ``quantity_t`` tonnes and the rest (holder)."""
        return self.send(
            key, sender, "credits.split", {"serial": serial, "quantity_t": quantity_t}, wait
        )

    def retire(
        self,
        key: SigningKey,
        sender: str,
        *,
        serial: str,
        beneficiary: str,
        reason: str,
        claim_start_s: int,
        claim_end_s: int,
        quantity_t: int | None = None,
        wait: float = 10.0,
    ) -> Committed:
        """Retire credits for a beneficiary, with a reason and claim period (holder)."""
        body = {
            "serial": serial,
            "beneficiary": beneficiary,
            "reason": reason,
            "claim_start_s": claim_start_s,
            "claim_end_s": claim_end_s,
            "quantity_t": quantity_t,
        }
        return self.send(key, sender, "credits.retire", body, wait)

    def cancel(
        self,
        key: SigningKey,
        sender: str,
        *,
        serial: str,
        reason: str,
        quantity_t: int | None = None,
        wait: float = 10.0,
    ) -> Committed:
        """Cancel (invalidate) active or buffer credits with a reason (carbon verifier)."""
        body = {"serial": serial, "reason": reason, "quantity_t": quantity_t}
        return self.send(key, sender, "credits.cancel", body, wait)


class Allowances(ContractClient):
    """The allowance system's endpoints and transactions of one node, through ``client``."""

    kinds = ALLOWANCES_KINDS
    path = ("v1", "allowances")

    def periods(self) -> dict[str, Any]:
        """``{"periods": [...]}``: every compliance period, by id."""
        return self._get("periods")

    def period(self, period: str) -> dict[str, Any]:
        """``{"period", "balances"}`` (``404 not_found`` for an unknown id)."""
        return self._get("periods", period)

    def compliance(self, period: str, holder: str | None = None) -> dict[str, Any]:
        """``{"time_s", "statuses": [...]}``: each holder's (or ``holder``'s) status."""
        return self._get("compliance", period=period, holder=holder)

    def surrender(
        self,
        key: SigningKey,
        sender: str,
        *,
        period: str,
        quantity_t: int,
        vintage: str | None = None,
        wait: float = 10.0,
    ) -> Committed:
        """Surrender allowances (of ``vintage``, by default the period's) for a period."""
        body = {"period": period, "quantity_t": quantity_t, "vintage": vintage}
        return self.send(key, sender, "allowances.surrender", body, wait)

    def surrender_credits(
        self,
        key: SigningKey,
        sender: str,
        *,
        period: str,
        serial: str,
        quantity_t: int | None = None,
        wait: float = 10.0,
    ) -> Committed:
        """Retire credits against the sender's obligation, within the credit quota."""
        body = {"period": period, "serial": serial, "quantity_t": quantity_t}
        return self.send(key, sender, "allowances.surrender_credits", body, wait)
