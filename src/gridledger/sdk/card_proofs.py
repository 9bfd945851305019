"""Checking a household's monthly clean-power card without a node: its proof file.

A **record card proof file** (``gridledger/record-card/v1``, ``docs/formats.md`` §6f) holds,
for one household account and one local month, the records its card's figures come from,
each with its state inclusion proof against one block, and that block's header, hash,
proposer's signature, attestations and ``final`` claim. :func:`verify_card_proof` checks it
with the consortium keys file alone and recomputes the card's figures:

1. the file's shape, its account id, its month and its time zone;
2. the header hashes to ``block_hash``; its signature, attestations and ``final`` claim hold
   with the keys (:func:`gridledger.sdk.proofs.proof_finality`);
3. every record is in the header's state (sparse Merkle inclusion proof), each key once, and
   each is one the rules below need;
4. the account is a consumer's; every claim entry ``certificates/claim/<account>/<start>/<id>``
   lies in the month and names a bundle of the file that is claimed for the account, produced
   at that start, with its hash; each bundle's site belongs to the account's organisation and
   each bundle's certifier organisation is in the file;
5. the figures: certified clean energy claimed (Wh), the distinct hours it was produced in,
   and the CO2 it avoided at the grid-average factor in force for each site's region that
   month (:func:`gridledger.contracts.carbon.factor_for` over the proven records).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import msgspec

from gridledger.contracts import carbon
from gridledger.contracts.carbon import keys as carbon_keys
from gridledger.contracts.certificates import keys as cert_keys
from gridledger.contracts.certificates.bundles import bundle_hash
from gridledger.contracts.certificates.records import Bundle
from gridledger.contracts.registry import ID_RE
from gridledger.contracts.registry import keys as registry_keys
from gridledger.contracts.registry.records import Account, Organisation, Site
from gridledger.core.errors import GridLedgerError
from gridledger.core.localtime import LocalTime, check_zone
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
from gridledger.state.state import CommittedView

CARD_PROOF_FORMAT = "gridledger/record-card/v1"
PROOF_FIELDS = frozenset(
    {"format", "account", "month", "time_zone", "height", "block_hash", "header", "signature",
     "final", "attestations", "records"}
)  # fmt: skip
HOUR_S = 3_600
WH_PER_MWH = 1_000_000
MONTH_RE = re.compile(r"(19[7-9][0-9]|2[0-8][0-9][0-9])-(0[1-9]|1[0-2])")
_CLAIM_RE = re.compile(r"([0-9]{10})/([a-z0-9][a-z0-9._-]{0,63}:[1-9][0-9]{0,18})")


class CardProofError(ProofFileError):
    """A record card proof file that does not check out; ``code`` is ``card.<reason>``."""

    prefix = "card"


def _fail(reason: str, message: str) -> CardProofError:
    return CardProofError(reason, message)


def month_window(month: str, time_zone: str) -> tuple[int, int]:
    """First second of local month ``month`` in ``time_zone`` and of the next, Unix seconds."""
    local = LocalTime(time_zone)
    start = local.month_start(month)
    return start, local.next_month(start)


@dataclass(frozen=True)
class Certifier:
    """An organisation whose certificates the card counts: its id, its registry name and the
    Wh of the month's claimed certificates it issued."""

    org: str
    name: str
    energy_wh: int


@dataclass(frozen=True)
class CardSummary:
    """What a record card proof file proves.

    Attributes:
        account, org, month, time_zone: the household account, its organisation, the local
            month and the zone its days are counted in.
        height, block_hash, chain_id, proposer, block_time_s: the block it is proven against.
        finality: who stands behind the block (``None`` when only the records were checked).
        claimed_wh: certified clean energy claimed for the account, produced in the month.
        hours: distinct clock hours that energy was produced in (bundles of at most an hour).
        avoided_g: ``claimed_wh`` per site times the site's grid-average factor for the month
            // 1,000,000, summed over sites, gCO2e.
        bundles: the claimed bundles' ids, in claim-key order.
        certifiers: the issuing organisations, by id.
        factors: ``{site: (factor set id, g per MWh)}``; a site without a set in force has none.
    """

    account: str
    org: str
    month: str
    time_zone: str
    height: int
    block_hash: str
    chain_id: str
    proposer: str
    block_time_s: int
    finality: FinalityResult | None
    claimed_wh: int
    hours: int
    avoided_g: int
    bundles: list[str]
    certifiers: list[Certifier]
    factors: dict[str, tuple[str, int]]

    @property
    def final(self) -> bool:
        return self.finality is not None and self.finality.final

    def to_json(self) -> dict[str, Any]:
        """The summary ``gridledger community card verify --json`` prints."""
        return {
            "valid": True,
            "account": self.account,
            "org": self.org,
            "month": self.month,
            "time_zone": self.time_zone,
            "chain_id": self.chain_id,
            "height": self.height,
            "block_hash": self.block_hash,
            "block_time_s": self.block_time_s,
            "proposer": self.proposer,
            "final": self.final,
            "finality": None if self.finality is None else self.finality.to_json(),
            "claimed_wh": self.claimed_wh,
            "hours": self.hours,
            "avoided_g": self.avoided_g,
            "bundles": self.bundles,
            "certifiers": [
                {"org": c.org, "name": c.name, "energy_wh": c.energy_wh} for c in self.certifiers
            ],
            "factors": {
                site: {"set": set_id, "g_per_mwh": g} for site, (set_id, g) in self.factors.items()
            },
        }


def _shape(proof: Any) -> BlockHeader:
    if not isinstance(proof, Mapping) or proof.get("format") != CARD_PROOF_FORMAT:
        raise _fail("malformed", f"not a record card proof file: format is {CARD_PROOF_FORMAT}")
    if set(proof) != PROOF_FIELDS:
        raise _fail("malformed", f"a card proof file has exactly {', '.join(sorted(PROOF_FIELDS))}")
    account, month, zone = proof["account"], proof["month"], proof["time_zone"]
    if not isinstance(account, str) or not ID_RE.fullmatch(account):
        raise _fail("bad_subject", f"{account!r} is not an account id")
    if not isinstance(month, str) or not MONTH_RE.fullmatch(month):
        raise _fail("bad_subject", f"{month!r} is not a month YYYY-MM (1970-2899)")
    try:
        check_zone(zone if isinstance(zone, str) else "")
    except (GridLedgerError, ValueError):
        raise _fail("bad_subject", f"{zone!r} is not an IANA time zone") from None
    return checked_header(proof, CardProofError)


def check_card_records(proof: Any) -> CardSummary:
    """Steps 1, 3, 4 and 5 of :func:`verify_card_proof`, without the keys file: what a
    renderer needs before it draws; it proves nothing about who signed the block."""
    header = _shape(proof)
    account, month, zone = proof["account"], proof["month"], proof["time_zone"]
    try:
        root = bytes.fromhex(header.state_root)
    except ValueError:
        raise _fail("malformed", "the header's state_root is not hex") from None
    records = proven_records(proof, root, CardProofError)
    used: set[str] = set()

    def take(key: bytes, type_: type[Any], what: str) -> Any:
        used.add(key.decode())
        return decode_record(records, key.decode(), type_, what, CardProofError)

    holder = take(registry_keys.account(account), Account, "account")
    if holder.id != account:
        raise _fail("record_mismatch", f"the account record is {holder.id}, not {account}")
    if "consumer" not in holder.roles:
        raise _fail("not_household", f"{account} is not a consumer account")
    start_s, end_s = month_window(month, zone)
    prefix = cert_keys.claims_of(account).decode()
    claimed_wh, hours, bundles = 0, set(), []
    by_site: dict[str, int] = {}
    by_issuer: dict[str, int] = {}
    for key in sorted(k for k in records if k.startswith(prefix)):
        found = _CLAIM_RE.fullmatch(key[len(prefix) :])
        if found is None:
            raise _fail("record_malformed", f"{key} is not a claim entry")
        used.add(key)
        if records[key] != b"1":
            raise _fail("record_malformed", f"the claim entry {key} does not hold 1")
        produced, bundle_id = int(found[1]), found[2]
        if not start_s <= produced < end_s:
            raise _fail("outside_month", f"{bundle_id} was produced outside {month} ({zone})")
        device, first = bundle_id.rsplit(":", 1)
        bundle = take(cert_keys.bundle(device, int(first)), Bundle, f"bundle {bundle_id}")
        cancellation = bundle.cancellation
        if (
            bundle.id != bundle_id
            or bundle.production_start_s != produced
            or bundle.status != "claimed"
            or cancellation is None
            or cancellation.beneficiary != account
        ):
            raise _fail(
                "record_mismatch", f"{bundle_id} is not claimed for {account} from {produced}"
            )
        if bundle.quantity_wh != bundle.range_end - bundle.range_start + 1:
            raise _fail("bad_quantity", f"{bundle_id}'s quantity is not its range's")
        if bundle.hash != bundle_hash(bundle):
            raise _fail("bundle_hash", f"{bundle_id}'s hash is not the hash of its fields")
        claimed_wh += bundle.quantity_wh
        if bundle.production_end_s - produced <= HOUR_S:
            hours.add(produced - produced % HOUR_S)
        by_site[cancellation.site] = by_site.get(cancellation.site, 0) + bundle.quantity_wh
        by_issuer[bundle.issuing_body] = by_issuer.get(bundle.issuing_body, 0) + bundle.quantity_wh
        bundles.append(bundle_id)
    certifiers = []
    for org in sorted(by_issuer):
        record = take(registry_keys.organisation(org), Organisation, f"certifier {org}")
        if record.id != org:
            raise _fail("record_mismatch", f"the organisation record is {record.id}, not {org}")
        certifiers.append(Certifier(org, record.name, by_issuer[org]))
    sites: dict[str, Site] = {}
    for site_id in sorted(by_site):
        site = take(registry_keys.site(site_id), Site, f"site {site_id}")
        if site.id != site_id or site.owner_org != holder.org:
            raise _fail("record_mismatch", f"site {site_id} is not {holder.org}'s")
        sites[site_id] = site
    # the factor lookup runs over the proven carbon records only
    carbon_view = CommittedView(
        {k.encode(): v for k, v in records.items() if k.startswith("carbon/")}
    )
    factor_time = carbon.month_bounds(month)[0]
    factors: dict[str, tuple[str, int]] = {}
    avoided_g = 0
    for site_id, site in sites.items():
        try:
            lookup = carbon.factor_for(carbon_view, site.grid_region, factor_time)
        except GridLedgerError:
            continue
        except msgspec.DecodeError:  # ValidationError is one
            raise _fail(
                "record_malformed", "a factor set or the region map does not decode"
            ) from None
        used.add(carbon_keys.factor_set(lookup.set.region, lookup.set.start_s).decode())
        if lookup.fallback:
            used.add(carbon_keys.regions().decode())
        g = lookup.set.grid_average.g_per_mwh
        factors[site_id] = (lookup.set.id, g)
        avoided_g += by_site[site_id] * g // WH_PER_MWH
    stray = sorted(set(records) - used)
    if stray:
        raise _fail("stray_record", f"the card does not use the record {stray[0]}")
    return CardSummary(
        account=account,
        org=holder.org,
        month=month,
        time_zone=zone,
        height=header.height,
        block_hash=proof["block_hash"],
        chain_id=header.chain_id,
        proposer=header.proposer,
        block_time_s=header.time // 1000,
        finality=None,
        claimed_wh=claimed_wh,
        hours=len(hours),
        avoided_g=avoided_g,
        bundles=bundles,
        certifiers=certifiers,
        factors=factors,
    )


def verify_card_proof(proof: Any, keys: KeysLike) -> CardSummary:
    """Check a record card proof file with the consortium keys file alone.

    Args:
        proof: the decoded file (``GET /v1/community/cards/{account}/{month}/proof``,
            ``gridledger community card export``).
        keys: the consortium keys file, from a source you trust.

    Raises:
        CardProofError: the first rule broken: ``malformed``, ``bad_subject``,
            ``header_hash``, the finality reasons (``other_chain``, ``bad_block_signature``,
            ``final_without_quorum``, ...), ``state_proof``, ``missing_record``,
            ``record_malformed``, ``record_mismatch``, ``not_household``, ``outside_month``,
            ``bad_quantity``, ``bundle_hash``, ``stray_record``.
        KeysFileError: ``keys`` is a decoded keys file that breaks its format.
    """
    checked = as_keys(keys)
    _shape(proof)
    finality = checked_finality(proof, checked, CardProofError)
    return replace(check_card_records(proof), finality=finality)
