"""Traceable products on the client side: sign and submit ``products.*`` transactions and
read the ``/v1/products`` endpoints (``docs/api.md``, "Products"; the rules in
``docs/products.md``).

``Client.products`` is a :class:`Products`::

    with Client(url) as client:
        client.products.register_batch(key, "rim-1", gtin=RIM, lot="R1", site="rim-works")
        client.products.consume(key, "rim-1", gtin=RIM, lot="R1",
                                inputs=[(INGOT, "L7", 360)])
        proof = client.products.batch_proof(RIM, "R1")        # check it offline
        print(client.products.verify(gtin=RIM, serial="S-0001")["verdict"])

Every transaction method signs with ``key`` as ``sender``, submits, waits for the receipt
and returns the :class:`~gridledger.sdk.client.Committed` result (``ok`` False with the
contract's code when it committed but failed, e.g. ``products.over_consumption``). Bodies
are checked against the kind's stateless rules first (:class:`~gridledger.sdk.errors.
InvalidInput`). GTINs are given in any GS1 length and sent as GTIN-14.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gridledger.contracts.products import gs1
from gridledger.sdk.contract import ContractClient, api_path, contract_kinds
from gridledger.sdk.errors import InvalidInput

if TYPE_CHECKING:
    from gridledger.core.crypto import SigningKey
    from gridledger.sdk.client import Committed

PRODUCTS_KINDS = contract_kinds("products")


def gtin14(value: str) -> str:
    """The GTIN-14 of a GTIN-8, -12, -13 or -14 (``products.invalid_gtin`` otherwise)."""
    try:
        return gs1.gtin14(value)
    except ValueError:
        raise InvalidInput("products.invalid_gtin", f"{value!r} is not a GTIN") from None


class Products(ContractClient):
    """The products endpoints and transactions of one node, through ``client``."""

    kinds = PRODUCTS_KINDS
    path = ("v1", "products")

    # reads ---------------------------------------------------------------------------------
    def types(self, org: str | None = None, after: str | None = None,
              limit: int | None = None) -> dict[str, Any]:  # fmt: skip
        """``{"types", "next"}``: product types by GTIN (of ``org``)."""
        return self._get("types", org=org, after=after, limit=limit)

    def product(self, gtin: str) -> dict[str, Any]:
        """One product type."""
        return self._get(gtin14(gtin))

    def batches(self, gtin: str, after: str | None = None) -> dict[str, Any]:
        """``{"batches", "next"}``: a product's batches by lot."""
        return self._get(gtin14(gtin), "batches", after=after)

    def batch(self, gtin: str, lot: str) -> dict[str, Any]:
        """``{"custody", "footprint", "digital_link"}`` of a batch."""
        return self._get(gtin14(gtin), "batches", lot)

    def batch_proof(self, gtin: str, lot: str) -> dict[str, Any]:
        """The batch's ``gridledger/product-proof/v1`` file at the tip."""
        return self._get(gtin14(gtin), "batches", lot, "proof")

    def passport(self, gtin: str, lot: str) -> dict[str, Any]:
        """The batch's PACT ``ProductFootprint``."""
        return self._get(gtin14(gtin), "batches", lot, "passport")

    def passport_pdf(self, gtin: str, lot: str) -> bytes:
        """The batch's passport as PDF bytes."""
        path = api_path(*self.path, gtin14(gtin), "batches", lot, "pdf")
        return self.client._request("GET", path).content

    def items(self, gtin: str, after: str | None = None) -> dict[str, Any]:
        """``{"items", "next"}``: a product's serialised items by serial."""
        return self._get(gtin14(gtin), "items", after=after)

    def item(self, gtin: str, serial: str) -> dict[str, Any]:
        """``{"item", "events", "digital_link"}`` of an item."""
        return self._get(gtin14(gtin), "items", serial)

    def item_proof(self, gtin: str, serial: str) -> dict[str, Any]:
        """The item's ``gridledger/product-proof/v1`` file at the tip."""
        return self._get(gtin14(gtin), "items", serial, "proof")

    def verify(self, gtin: str | None = None, serial: str | None = None, *,
               link: str | None = None, seen_at: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Whether a scanned item is genuine, recalled or suspicious, with its custody."""
        return self._get("verify", gtin=None if gtin is None else gtin14(gtin), serial=serial,
                         link=link, seen_at=seen_at)  # fmt: skip

    def cbam(self, site: str, start_s: int, end_s: int) -> dict[str, Any]:
        """The CBAM embedded-emissions report of an installation (site) for a period."""
        return self._get("cbam", site=site, start=start_s, end=end_s)

    def cbam_proof(self, site: str, start_s: int, end_s: int) -> dict[str, Any]:
        """The report with every counted batch's proof file (``gridledger/cbam-proof/v1``)."""
        return self._get("cbam", "proof", site=site, start=start_s, end=end_s)

    def cbam_pdf(self, site: str, start_s: int, end_s: int) -> bytes:
        """The same report as PDF bytes."""
        params = {"site": site, "start": start_s, "end": end_s, "format": "pdf"}
        return self.client._request("GET", api_path(*self.path, "cbam"), params=params).content

    # transactions --------------------------------------------------------------------------
    def register_type(self, key: SigningKey, sender: str, *, gtin: str, name: str, unit: str,
                      unit_mass_g: int | None = None, cn_code: str | None = None,
                      wait: float = 10.0) -> Committed:  # fmt: skip
        """Register a product type made by the sender's organisation."""
        body = {"gtin": gtin14(gtin), "name": name, "unit": unit, "unit_mass_g": unit_mass_g,
                "cn_code": cn_code}  # fmt: skip
        return self.send(key, sender, "products.register_type", body, wait)

    def register_batch(self, key: SigningKey, sender: str, *, gtin: str, lot: str, site: str,
                       wait: float = 10.0) -> Committed:  # fmt: skip
        """Start a production batch at one of the maker's sites."""
        body = {"gtin": gtin14(gtin), "lot": lot, "site": site}
        return self.send(key, sender, "products.register_batch", body, wait)

    def complete_batch(self, key: SigningKey, sender: str, *, gtin: str, lot: str,
                       quantity: int, wait: float = 10.0) -> Committed:  # fmt: skip
        """Complete a batch: ``quantity`` in the type's unit becomes the maker's stock."""
        body = {"gtin": gtin14(gtin), "lot": lot, "quantity": quantity}
        return self.send(key, sender, "products.complete_batch", body, wait)

    def register_items(self, key: SigningKey, sender: str, *, gtin: str, serials: list[str],
                       lot: str | None = None, wait: float = 10.0) -> Committed:  # fmt: skip
        """Register serialised items (each serial once ever)."""
        body = {"gtin": gtin14(gtin), "serials": serials, "lot": lot}
        return self.send(key, sender, "products.register_items", body, wait)

    def consume(self, key: SigningKey, sender: str, *, gtin: str, lot: str,
                inputs: list[tuple[str, str, int]], wait: float = 10.0) -> Committed:  # fmt: skip
        """Record input batches ``(gtin, lot, quantity)`` a batch in production consumed."""
        lines = [{"gtin": gtin14(g), "lot": lt, "quantity": q} for g, lt, q in inputs]
        body = {"gtin": gtin14(gtin), "lot": lot, "inputs": lines}
        return self.send(key, sender, "products.consume", body, wait)

    def record_footprint(self, key: SigningKey, sender: str, *, gtin: str, lot: str,
                         share_ppm: int | None = None, defaults: list[dict[str, Any]] | None = None,
                         wait: float = 10.0) -> Committed:  # fmt: skip
        """Compute and record a completed batch's footprint."""
        body = {"gtin": gtin14(gtin), "lot": lot, "share_ppm": share_ppm, "defaults": defaults}
        return self.send(key, sender, "products.record_footprint", body, wait)

    def custody(self, key: SigningKey, sender: str, action: str, *, gtin: str,
                wait: float = 10.0, **fields: Any) -> Committed:  # fmt: skip
        """A custody event: ``action`` is ship, receive, return, install, scrap or recall;
        ``fields`` its body's other fields (``lot``/``serial``, ``to``, ``quantity``,
        ``shipment``, ``parent_gtin``/``parent_serial``, ``reason``)."""
        if action not in ("ship", "receive", "return", "install", "scrap", "recall"):
            raise InvalidInput("tx.unknown_kind", f"no custody action {action!r}")
        if "parent_gtin" in fields and fields["parent_gtin"] is not None:
            fields["parent_gtin"] = gtin14(fields["parent_gtin"])
        body = {"gtin": gtin14(gtin), **fields}
        return self.send(key, sender, f"products.{action}", body, wait)
