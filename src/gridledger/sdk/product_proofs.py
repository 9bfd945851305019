"""Checking a product passport or a serialised item without a node: its proof file.

A **product proof file** (``gridledger/product-proof/v1``, ``docs/formats.md`` "Product proof
files") holds the records about one batch (``subject: {"gtin", "lot"}``) or one serialised
item (``subject: {"gtin", "serial"}``), each with its state inclusion proof against one
block, and that block's header, hash, proposer's signature, attestations and ``final``
claim. :func:`verify_product_proof` checks it with the consortium keys file alone:

1. the file's shape and its subject (a GTIN-14 with its check digit, and a lot or a serial);
2. the header hashes to ``block_hash``; its signature, attestations and ``final`` claim hold
   with the keys (:func:`gridledger.sdk.proofs.proof_finality`);
3. every record is in the header's state (sparse Merkle inclusion proof), each key once;
4. the records the subject needs are there, under their keys, and agree with it:
   * always: the product type and its manufacturer's registry record;
   * a batch: the batch (completed), its site's registry record and its footprint, whose
     totals are recomputed from its parts (own figures, inputs' shares, defaults);
   * an item: the item, every one of its custody events ``1..events``,
     its batch when it names one, and each item it is installed in up to the outermost;
5. an item's verdict (genuine / recalled / suspicious) is judged from those records at the
   block's time by the contract's rule (:func:`gridledger.contracts.products.judge`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec

from gridledger.contracts.products import gs1, judge
from gridledger.contracts.products import keys as product_keys
from gridledger.contracts.products.records import (
    Batch,
    CustodyEvent,
    Footprint,
    Item,
    ProductType,
)
from gridledger.contracts.registry import keys as registry_keys
from gridledger.contracts.registry.records import Organisation, Site
from gridledger.core.crypto import sha256
from gridledger.core.types import BlockHeader
from gridledger.sdk.consortium_keys import as_keys
from gridledger.sdk.proof_files import (
    ProofFileError,
    checked_finality,
    checked_header,
    decode_record,
    proven_records,
)
from gridledger.sdk.proofs import FinalityResult, KeysLike

PRODUCT_PROOF_FORMAT = "gridledger/product-proof/v1"
PROOF_FIELDS = frozenset(
    {"format", "subject", "height", "block_hash", "header", "signature", "final",
     "attestations", "records"}
)  # fmt: skip


class ProductProofError(ProofFileError):
    """A product proof file that does not check out; ``code`` is ``product.<reason>``."""

    prefix = "product"


def _fail(reason: str, message: str) -> ProductProofError:
    return ProductProofError(reason, message)


def subject_of(proof: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    """``(gtin, lot, serial)`` of a proof file's subject (exactly one of lot and serial)."""
    subject = proof.get("subject")
    if not isinstance(subject, Mapping) or set(subject) not in ({"gtin", "lot"},
                                                                  {"gtin", "serial"}):  # fmt: skip
        raise _fail("malformed", "the subject is {gtin, lot} or {gtin, serial}")
    gtin = subject["gtin"]
    part = subject.get("lot", subject.get("serial"))
    if not isinstance(gtin, str) or len(gtin) != 14 or not gs1.valid_gtin(gtin):
        raise _fail("bad_subject", f"{gtin!r} is not a GTIN-14 with its check digit")
    if not isinstance(part, str) or not gs1.valid_part(part):
        raise _fail("bad_subject", f"{part!r} is not a lot or serial (1-20 of A-Z a-z 0-9 . _ -)")
    return (gtin, part, None) if "lot" in subject else (gtin, None, part)


@dataclass(frozen=True)
class ProductSummary:
    """What a product proof file proves.

    Attributes:
        gtin, lot, serial: the subject.
        height, block_hash, chain_id, proposer, block_time_s: the block it is proven against.
        finality: who stands behind the block, with the keys file (``None`` when the records
            alone were checked: :func:`check_product_records`).
        product: the product type.
        manufacturer: the manufacturer's registry record.
        site: the batch's site (a lot).
        batch: the batch (a lot; an item's batch when it names one).
        footprint: the batch's footprint (a lot).
        item: the item (a serial).
        events: its custody events, in order.
        parents: the items it is installed in, innermost first.
        verdict, reasons: an item's authenticity at the block's time.
    """

    gtin: str
    lot: str | None
    serial: str | None
    height: int
    block_hash: str
    chain_id: str
    proposer: str
    block_time_s: int
    finality: FinalityResult | None
    product: ProductType
    manufacturer: Organisation
    site: Site | None = None
    batch: Batch | None = None
    footprint: Footprint | None = None
    item: Item | None = None
    events: list[CustodyEvent] = field(default_factory=list)
    parents: list[Item] = field(default_factory=list)
    verdict: str | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def final(self) -> bool:
        return self.finality is not None and self.finality.final

    def to_json(self) -> dict[str, Any]:
        """The summary ``gridledger products verify --json`` prints."""
        out: dict[str, Any] = {
            "valid": True,
            "gtin": self.gtin,
            "lot": self.lot,
            "serial": self.serial,
            "digital_link": gs1.digital_link(self.gtin, self.lot, self.serial),
            "chain_id": self.chain_id,
            "height": self.height,
            "block_hash": self.block_hash,
            "block_time_s": self.block_time_s,
            "proposer": self.proposer,
            "final": self.final,
            "finality": None if self.finality is None else self.finality.to_json(),
            "product": msgspec.to_builtins(self.product),
            "manufacturer": {"id": self.manufacturer.id, "name": self.manufacturer.name},
            "site": None if self.site is None else msgspec.to_builtins(self.site),
            "batch": None if self.batch is None else msgspec.to_builtins(self.batch),
            "footprint": None if self.footprint is None else msgspec.to_builtins(self.footprint),
        }
        if self.serial is not None:
            out["item"] = msgspec.to_builtins(self.item)
            out["events"] = msgspec.to_builtins(self.events)
            out["installed_in"] = [f"{p.gtin}/{p.serial}" for p in self.parents]
            out["verdict"], out["reasons"] = self.verdict, self.reasons
        return out


def _get(records: dict[str, bytes], key: bytes, type_: type[Any], what: str) -> Any:
    return decode_record(records, key.decode(), type_, what, ProductProofError)


def _footprint_adds_up(fp: Footprint) -> None:
    direct = fp.direct.g + sum(i.direct_g for i in fp.inputs) + sum(d.direct_g for d in fp.defaults)
    indirect = sum(d.indirect_g for d in fp.defaults)
    loc = fp.electricity.location_g + sum(i.indirect_location_g for i in fp.inputs) + indirect
    mkt = fp.electricity.market_g + sum(i.indirect_market_g for i in fp.inputs) + indirect
    sums = (direct, loc, mkt, direct + loc, direct + mkt)
    have = (fp.direct_g, fp.indirect_location_g, fp.indirect_market_g, fp.total_location_g,
            fp.total_market_g)  # fmt: skip
    if sums != have:
        raise _fail("footprint_sum", f"the footprint's totals {have} are not its parts' {sums}")


def verify_product_proof(proof: Any, keys: KeysLike, seen_at: str | None = None) -> ProductSummary:
    """Check a product proof file with the consortium keys file alone.

    Args:
        proof: the decoded file (``GET /v1/products/{gtin}/batches/{lot}/proof`` or
            ``.../items/{serial}/proof``, ``gridledger products export``).
        keys: the consortium keys file, from a source you trust.
        seen_at: for an item, the organisation that has it in hand (judged like the API).

    Raises:
        ProductProofError: the first rule broken: ``malformed``, ``bad_subject``,
            ``header_hash``, the finality reasons (``other_chain``, ``bad_block_signature``,
            ``final_without_quorum``, ...), ``state_proof``, ``missing_record``,
            ``record_malformed``, ``record_mismatch``, ``in_production``, ``footprint_sum``.
        KeysFileError: ``keys`` is a decoded keys file that breaks its format.
    """
    checked = as_keys(keys)
    _shape(proof)
    finality = checked_finality(proof, checked, ProductProofError)
    summary = check_product_records(proof, seen_at)
    return replace(summary, finality=finality)


def _shape(proof: Any) -> BlockHeader:
    if not isinstance(proof, Mapping) or proof.get("format") != PRODUCT_PROOF_FORMAT:
        raise _fail("malformed", f"not a product proof file: format is {PRODUCT_PROOF_FORMAT}")
    if set(proof) != PROOF_FIELDS:
        raise _fail(
            "malformed", f"a product proof file has exactly {', '.join(sorted(PROOF_FIELDS))}"
        )
    return checked_header(proof, ProductProofError)


def check_product_records(proof: Any, seen_at: str | None = None) -> ProductSummary:
    """Steps 1, 3, 4 and 5 of :func:`verify_product_proof`, without the keys file: what a
    renderer needs before it prints; it proves nothing about who signed the block."""
    header = _shape(proof)
    gtin, lot, serial = subject_of(proof)
    try:
        root = bytes.fromhex(header.state_root)
    except ValueError:
        raise _fail("malformed", "the header's state_root is not hex") from None
    records = proven_records(proof, root, ProductProofError)
    product = _get(records, product_keys.product_type(gtin), ProductType, "product type")
    if product.gtin != gtin:
        raise _fail("record_mismatch", f"the product type record is of {product.gtin}")
    time_s = header.time // 1000
    org = _get(records, registry_keys.organisation(product.org), Organisation, "manufacturer")
    base = {
        "gtin": gtin, "lot": lot, "serial": serial, "height": header.height,
        "block_hash": proof["block_hash"], "chain_id": header.chain_id,
        "proposer": header.proposer, "block_time_s": time_s, "finality": None,
        "product": product, "manufacturer": org,
    }  # fmt: skip
    if lot is not None:
        batch = _get(records, product_keys.batch(gtin, lot), Batch, "batch")
        if (batch.gtin, batch.lot) != (gtin, lot):
            raise _fail("record_mismatch", f"the batch record is {batch.gtin} lot {batch.lot}")
        if batch.status != "completed":
            raise _fail("in_production", f"batch {gtin} lot {lot} is still in production")
        fp = _get(records, product_keys.footprint(gtin, lot), Footprint, "footprint")
        if (fp.gtin, fp.lot, fp.quantity) != (gtin, lot, batch.quantity):
            raise _fail("record_mismatch", "the footprint is not the batch's")
        _footprint_adds_up(fp)
        site = _get(records, registry_keys.site(batch.site), Site, "site")
        return ProductSummary(**base, site=site, batch=batch, footprint=fp)
    assert serial is not None
    item = _get(records, product_keys.item(gtin, serial), Item, "item")
    if (item.gtin, item.serial) != (gtin, serial):
        raise _fail("record_mismatch", f"the item record is {item.gtin} serial {item.serial}")
    events = [
        _get(records, product_keys.event(gtin, serial, n), CustodyEvent, f"custody event {n}")
        for n in range(1, item.events + 1)
    ]
    if [e.n for e in events] != list(range(1, item.events + 1)):
        raise _fail("record_mismatch", "the custody events are not numbered 1..events")
    batch = None
    if item.lot is not None:
        batch = _get(records, product_keys.batch(gtin, item.lot), Batch, "item's batch")
    parents: list[Item] = []
    at = item
    while at.status == "installed" and at.parent is not None:
        if len(parents) > 16:
            raise _fail("record_mismatch", "items nest at most 16 deep")
        p_gtin, p_serial = at.parent.split("/", 1)
        at = _get(records, product_keys.item(p_gtin, p_serial), Item, f"parent item {at.parent}")
        parents.append(at)
    verdict, reasons = judge(item, at, events, batch, time_s, seen_at)
    return ProductSummary(**base, batch=batch, item=item, events=events, parents=parents,
                          verdict=verdict, reasons=reasons)  # fmt: skip


def passport_id(chain_id: str, gtin: str, lot: str) -> str:
    """The PACT ``id`` of a batch's passport: a UUID (version 8 layout) from the SHA-256 of
    ``gridledger/passport/v1\\n<chain_id>/<gtin>/<lot>``, so every export of one batch has
    one id."""
    digest = bytearray(sha256(f"gridledger/passport/v1\n{chain_id}/{gtin}/{lot}".encode())[:16])
    digest[6] = (digest[6] & 0x0F) | 0x80
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
