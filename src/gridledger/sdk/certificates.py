"""Granular energy certificates on the client side: sign and submit ``certificates.*``
transactions and read the registry's endpoints (``docs/api.md``, "Certificates").

``Client.certificates`` is a :class:`Certificates` for that client::

    from gridledger.sdk import Client

    with Client(url) as client:
        certs = client.certificates
        certs.issue(certifier_key, "certifier-1", device="pv-1", to="sun",
                    starts=[1750000000])
        for bundle in certs.iter(owner="sun", status="active"):
            print(bundle["id"], bundle["quantity_wh"], bundle["current_status"])
        certs.cancel(sun_key, "sun", bundle="pv-1:1", beneficiary="ann", site="s-ann",
                     period_start_s=1750000000, period_end_s=1750003600)
        certs.claim(ann_key, "ann", bundle="pv-1:1")
        print(certs.matching("s-ann", 1750000000, 1750086400)["hourly_score"])

Every transaction method signs with ``key`` as ``sender``, submits, waits for the receipt and
returns the :class:`~gridledger.sdk.client.Committed` result (``ok`` False with the contract's
code when it committed but failed, e.g. ``certificates.not_owner``). Bodies are checked against
the kind's stateless rules first (:func:`certificate_body`), so a split into one part or a
negative quantity raises :class:`~gridledger.sdk.errors.InvalidInput` with the code the node
would answer with. :func:`sign_certificate_tx` builds and signs one offline. Energy is in Wh,
times in Unix seconds (UTC); a bundle's id is ``<device>:<range_start>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from gridledger.sdk.contract import ContractClient, api_path, checked_body, contract_kinds
from gridledger.sdk.tx import sign_tx

if TYPE_CHECKING:
    from gridledger.core.crypto import SigningKey
    from gridledger.core.types import Transaction
    from gridledger.sdk.client import Committed

CERTIFICATE_KINDS = contract_kinds("certificates")
"""Every certificates transaction kind."""


def certificate_body(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` for the certificates transaction ``kind``, without its None values, after the
    kind's stateless checks (what the node checks at admission before any state).

    Raises:
        InvalidInput: not a certificates kind, or a body the node would refuse, with its code
            (``tx.invalid_body``, ``certificates.bad_split``, ...).
    """
    return checked_body(CERTIFICATE_KINDS, kind, body)


def sign_certificate_tx(
    key: SigningKey,
    chain_id: str,
    kind: str,
    sender: str,
    nonce: int,
    body: Mapping[str, Any],
) -> Transaction:
    """A signed ``certificates.*`` transaction, its body checked by :func:`certificate_body`
    first (then :func:`~gridledger.sdk.tx.sign_tx`)."""
    return sign_tx(key, chain_id, kind, sender, nonce, certificate_body(kind, body))


class Certificates(ContractClient):
    """The certificate endpoints and transactions of one node, through ``client``."""

    kinds = CERTIFICATE_KINDS
    path = ("v1",)

    # reads ---------------------------------------------------------------------------------
    def list(
        self,
        *,
        device: str | None = None,
        owner: str | None = None,
        beneficiary: str | None = None,
        status: str | None = None,
        start: int | None = None,
        end: int | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        """A page of bundles by device then range start, filtered by plant, holder,
        beneficiary, status now and production start in ``[start, end)``:
        ``{"certificates": [...], "next": bundle id or None}`` (pass ``next`` as ``after``)."""
        return self._get(
            "certificates", device=device, owner=owner, beneficiary=beneficiary,
            status=status, start=start, end=end, after=after, limit=limit,
        )  # fmt: skip

    def iter(self, *, page_size: int = 1000, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every bundle matching ``filters`` (those of :meth:`list`), page after page."""
        after = filters.pop("after", None)
        while True:
            page = self.list(**filters, after=after, limit=page_size)
            yield from page["certificates"]
            if page["next"] is None:
                return
            after = str(page["next"])

    def get(self, bundle: str) -> dict[str, Any]:
        """One bundle with ``current_status`` (``404 not_found`` when no bundle has the id)."""
        return self._get("certificates", bundle)

    def totals(
        self,
        *,
        device: str | None = None,
        owner: str | None = None,
        beneficiary: str | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> dict[str, Any]:
        """Bundles and Wh per status now: ``{"time_s", "statuses": [{"status", "bundles",
        "quantity_wh"}], "quantity_wh"}``."""
        return self._get(
            "certificates", "totals", device=device, owner=owner, beneficiary=beneficiary,
            start=start, end=end,
        )  # fmt: skip

    def export_json(self, **filters: Any) -> dict[str, Any]:
        """A page of bundles in EnergyTag field names: ``{"fields", "certificates": [rows],
        "next"}`` (filters as :meth:`list`, ``limit`` up to 10,000)."""
        return self._get("certificates", "export.json", **filters)

    def export_csv(self, **filters: Any) -> tuple[str, str | None]:
        """A page of bundles as EnergyTag CSV text, and the ``after`` of the next page (or
        None); filters as :meth:`list`, ``limit`` up to 10,000."""
        response = self.client._request(
            "GET", api_path("v1", "certificates", "export.csv"), params=filters
        )
        return response.text, response.headers.get("x-next-after")

    def matching(self, site: str, start: int, end: int) -> dict[str, Any]:
        """The site's hourly (24/7) and annual-volume matching over ``[start, end)``, in ppm
        and as decimal strings (``hourly_score``, ``volume_score``), with its hours."""
        return self._get("certificates", "matching", site=site, start=start, end=end)

    def statement(self, beneficiary: str, start: int, end: int) -> dict[str, Any]:
        """What was claimed for ``beneficiary`` with production in ``[start, end)``:
        ``{"claimed_wh", "by_site", "bundles": [...]}``."""
        return self._get("certificates", "statement", beneficiary=beneficiary, start=start, end=end)

    def params(self) -> dict[str, Any]:
        """``{"scheme", "bundle_s", "expiry_s", "finality_s"}``."""
        return self._get("certificates", "params")

    def acceptance(self, account: str) -> dict[str, Any]:
        """Whom ``account`` accepts certificate transfers from: ``{"account", "acceptance":
        {"mode", "senders"}}``."""
        return self._get("certificates", "acceptance", account)

    def storage(self, device: str, after: int | None = None, limit: int = 100) -> dict[str, Any]:
        """A storage device's ledger and a page of its charge records (``next``: a seq)."""
        return self._get("certificates", "storage", device, after=after, limit=limit)

    def issuances(self, device: str, start: int, end: int) -> dict[str, Any]:
        """A device's running totals (``ledger``) and its issuances with interval starts in
        ``[start, end)``."""
        return self._get("devices", device, "issuances", start=start, end=end)

    def gec(self, gec_id: str) -> dict[str, Any]:
        """A recorded China GEC."""
        return self._get("gec", gec_id)

    def gecs(self, after: str | None = None, limit: int = 100) -> dict[str, Any]:
        """A page of recorded GECs by number: ``{"gecs": [...], "next"}``."""
        return self._get("gec", after=after, limit=limit)

    def gec_export(self, device: str, month: str) -> dict[str, Any]:
        """A plant's GEC export of ``YYYY-MM`` (whole MWh and the Wh carried over)."""
        return self._get("devices", device, "gec-exports", month)

    # transactions --------------------------------------------------------------------------
    def issue(
        self,
        key: SigningKey,
        sender: str,
        *,
        device: str,
        to: str,
        starts: Iterable[int],
        length_s: int = 3600,
        wait: float = 10.0,
    ) -> Committed:
        """Issue one bundle per final, metered interval of ``device`` to ``to`` (certifier)."""
        body = {"device": device, "to": to, "starts": list(starts), "length_s": length_s}
        return self.send(key, sender, "certificates.issue", body, wait)

    def withdraw(
        self,
        key: SigningKey,
        sender: str,
        *,
        bundle: str,
        reason: str,
        quantity_wh: int | None = None,
        wait: float = 10.0,
    ) -> Committed:
        """Withdraw an unclaimed bundle, or its first ``quantity_wh`` (certifier)."""
        body = {"bundle": bundle, "reason": reason, "quantity_wh": quantity_wh}
        return self.send(key, sender, "certificates.withdraw", body, wait)

    def reissue(
        self,
        key: SigningKey,
        sender: str,
        *,
        device: str,
        start: int,
        to: str,
        quantity_wh: int,
        reason: str,
        wait: float = 10.0,
    ) -> Committed:
        """Issue again Wh withdrawn from an interval, with fresh ids (certifier)."""
        body = {"device": device, "start": start, "to": to, "quantity_wh": quantity_wh,
                "reason": reason}  # fmt: skip
        return self.send(key, sender, "certificates.reissue", body, wait)

    def reconcile(
        self, key: SigningKey, sender: str, *, device: str, start: int, wait: float = 10.0
    ) -> Committed:
        """After a meter correction, withdraw what the interval's certificates exceed
        (certifier or grid operator)."""
        body = {"device": device, "start": start}
        return self.send(key, sender, "certificates.reconcile", body, wait)

    def expire(
        self, key: SigningKey, sender: str, *, bundles: Iterable[str], wait: float = 10.0
    ) -> Committed:
        """Mark live bundles past their expiry as expired (anyone)."""
        body = {"bundles": list(bundles)}
        return self.send(key, sender, "certificates.expire", body, wait)

    def set_params(
        self,
        key: SigningKey,
        sender: str,
        *,
        scheme: str,
        bundle_s: int,
        expiry_s: int,
        finality_s: int,
        wait: float = 10.0,
    ) -> Committed:
        """Set the scheme's parameters (operator)."""
        body = {"scheme": scheme, "bundle_s": bundle_s, "expiry_s": expiry_s,
                "finality_s": finality_s}  # fmt: skip
        return self.send(key, sender, "certificates.set_params", body, wait)

    def split(
        self,
        key: SigningKey,
        sender: str,
        *,
        bundle: str,
        quantities: Iterable[int],
        wait: float = 10.0,
    ) -> Committed:
        """Split a held bundle into parts of consecutive ids, in order (holder)."""
        body = {"bundle": bundle, "quantities": list(quantities)}
        return self.send(key, sender, "certificates.split", body, wait)

    def transfer(
        self,
        key: SigningKey,
        sender: str,
        *,
        bundle: str,
        to: str,
        quantity_wh: int | None = None,
        wait: float = 10.0,
    ) -> Committed:
        """Transfer a held bundle, or its first ``quantity_wh``, to an accepting account."""
        body = {"bundle": bundle, "to": to, "quantity_wh": quantity_wh}
        return self.send(key, sender, "certificates.transfer", body, wait)

    def lock(
        self,
        key: SigningKey,
        sender: str,
        *,
        bundle: str,
        for_account: str,
        quantity_wh: int | None = None,
        wait: float = 10.0,
    ) -> Committed:
        """Reserve a held bundle (or its first ``quantity_wh``) for ``for_account``."""
        body = {"bundle": bundle, "for_account": for_account, "quantity_wh": quantity_wh}
        return self.send(key, sender, "certificates.lock", body, wait)

    def unlock(self, key: SigningKey, sender: str, *, bundle: str, wait: float = 10.0) -> Committed:
        """Release a reservation."""
        return self.send(key, sender, "certificates.unlock", {"bundle": bundle}, wait)

    def cancel(
        self,
        key: SigningKey,
        sender: str,
        *,
        bundle: str,
        beneficiary: str,
        site: str,
        period_start_s: int,
        period_end_s: int,
        quantity_wh: int | None = None,
        wait: float = 10.0,
    ) -> Committed:
        """Cancel a held bundle (or its first ``quantity_wh``) for a beneficiary's
        consumption at ``site`` over ``[period_start_s, period_end_s)``."""
        body = {"bundle": bundle, "beneficiary": beneficiary, "site": site,
                "period_start_s": period_start_s, "period_end_s": period_end_s,
                "quantity_wh": quantity_wh}  # fmt: skip
        return self.send(key, sender, "certificates.cancel", body, wait)

    def claim(self, key: SigningKey, sender: str, *, bundle: str, wait: float = 10.0) -> Committed:
        """Claim a cancelled bundle (its holder or beneficiary); it never changes again."""
        return self.send(key, sender, "certificates.claim", {"bundle": bundle}, wait)

    def set_acceptance(
        self,
        key: SigningKey,
        sender: str,
        *,
        mode: str,
        senders: Iterable[str] = (),
        wait: float = 10.0,
    ) -> Committed:
        """Accept transfers from ``anyone``, only the ``listed`` ``senders``, or ``nobody``."""
        body = {"mode": mode, "senders": list(senders)}
        return self.send(key, sender, "certificates.set_acceptance", body, wait)

    def charge_storage(
        self,
        key: SigningKey,
        sender: str,
        *,
        storage: str,
        bundles: Iterable[str],
        wait: float = 10.0,
    ) -> Committed:
        """Cancel held bundles into a charge of a storage device in their grid zone."""
        body = {"storage": storage, "bundles": list(bundles)}
        return self.send(key, sender, "certificates.charge_storage", body, wait)

    def discharge_storage(
        self,
        key: SigningKey,
        sender: str,
        *,
        storage: str,
        start: int,
        to: str,
        losses_wh: int,
        length_s: int = 3600,
        wait: float = 10.0,
    ) -> Committed:
        """Issue storage-discharge certificates for a metered discharge, from charged Wh
        first in, first out (certifier)."""
        body = {"storage": storage, "start": start, "to": to, "losses_wh": losses_wh,
                "length_s": length_s}  # fmt: skip
        return self.send(key, sender, "certificates.discharge_storage", body, wait)

    def record_gec(
        self,
        key: SigningKey,
        sender: str,
        *,
        gec: str,
        project: str,
        device: str,
        month: str,
        tradable: bool,
        owner: str,
        wait: float = 10.0,
    ) -> Committed:
        """Record a China GEC (1 MWh of a device's month), once (certifier)."""
        body = {"gec": gec, "project": project, "device": device, "month": month,
                "tradable": tradable, "owner": owner}  # fmt: skip
        return self.send(key, sender, "certificates.record_gec", body, wait)

    def transfer_gec(
        self, key: SigningKey, sender: str, *, gec: str, to: str, wait: float = 10.0
    ) -> Committed:
        """Transfer a tradable GEC."""
        return self.send(key, sender, "certificates.transfer_gec", {"gec": gec, "to": to}, wait)

    def cancel_gec(
        self, key: SigningKey, sender: str, *, gec: str, wait: float = 10.0
    ) -> Committed:
        """Cancel a held GEC into 1,000,000 granular Wh ids of its device."""
        return self.send(key, sender, "certificates.cancel_gec", {"gec": gec}, wait)

    def export_gec(
        self, key: SigningKey, sender: str, *, device: str, month: str, wait: float = 10.0
    ) -> Committed:
        """Export a month of the plant's certificates as whole MWh; the rest carries over."""
        body = {"device": device, "month": month}
        return self.send(key, sender, "certificates.export_gec", body, wait)
