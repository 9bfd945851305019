"""Checking a CBAM report without a node: the report and the proof file of every batch it
counts (``gridledger/cbam-proof/v1``, ``docs/formats.md`` "CBAM proof files").

:func:`verify_cbam_proof` checks each batch's proof file with the consortium keys
(:func:`gridledger.sdk.product_proofs.verify_product_proof`), then that each batch was made
at the report's installation and completed in its period, with the CN code of its goods
category, that the report lists exactly those batches, and that every goods category's
figures are the sums of the proven footprints: batches, mass, direct, indirect (location-
based) and default grams, each precursor's lots, direct and indirect grams, and the specific
embedded emissions recomputed (six decimals, half even).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from gridledger.sdk.consortium_keys import as_keys
from gridledger.sdk.product_proofs import ProductProofError, verify_product_proof
from gridledger.sdk.proof_files import ProofFileError
from gridledger.sdk.proofs import KeysLike

CBAM_PROOF_FORMAT = "gridledger/cbam-proof/v1"
MAX_PASSPORTS = 100_000


class CbamProofError(ProofFileError):
    """A CBAM proof file that does not check out; ``code`` is ``cbam.<reason>``."""

    prefix = "cbam"


def _per(num: int, den: int) -> str:
    if den <= 0:
        return "0"
    return format((Decimal(num) / Decimal(den)).quantize(Decimal("0.000001"), ROUND_HALF_EVEN), "f")


def verify_cbam_proof(doc: Any, keys: KeysLike) -> dict[str, Any]:
    """Check a CBAM proof file; the report it proves.

    Raises:
        CbamProofError: ``malformed``; ``passport`` (a batch's proof file does not check out:
            the message names its reason); ``not_counted`` (a batch of another site, outside
            the period, of another CN code, or listed twice); ``figures`` (a category's
            figures are not the sums of its batches' footprints).
    """
    checked = as_keys(keys)
    if not isinstance(doc, Mapping) or doc.get("format") != CBAM_PROOF_FORMAT:
        raise CbamProofError("malformed", f"not a CBAM proof file: format is {CBAM_PROOF_FORMAT}")
    report, passports = doc.get("report"), doc.get("passports")
    if set(doc) != {"format", "report", "passports"} or not isinstance(report, Mapping) or not (
        isinstance(passports, list) and len(passports) <= MAX_PASSPORTS
    ):  # fmt: skip
        raise CbamProofError("malformed", "a CBAM proof file is {format, report, passports}")
    try:
        site = report["installation"]["site"]
        start, end = report["period"]["start_s"], report["period"]["end_s"]
        goods = {g["cn_code"]: g for g in report["goods"]}
    except (KeyError, TypeError) as exc:
        raise CbamProofError("malformed", f"the report lacks {exc}") from None
    sums: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for i, proof in enumerate(passports):
        try:
            s = verify_product_proof(proof, checked)
        except ProductProofError as exc:
            raise CbamProofError("passport", f"passport {i}: {exc.code}: {exc.message}") from None
        fp, batch = s.footprint, s.batch
        if fp is None or batch is None or batch.completed_s is None:
            raise CbamProofError("passport", f"passport {i} is not a batch's")
        name = f"{fp.gtin}/{fp.lot}"
        cn = s.product.cn_code
        if (
            cn is None
            or batch.site != site
            or not start <= batch.completed_s < end
            or (cn not in goods)
        ):
            raise CbamProofError("not_counted", f"{name} is not of {site}'s goods in the period")
        if name in seen:
            raise CbamProofError("not_counted", f"{name} is given twice")
        seen.add(name)
        g = sums.setdefault(cn, {"lots": [], "batches": 0, "mass_g": 0, "direct_g": 0,
                                 "indirect_g": 0, "default_g": 0, "precursors": {}})  # fmt: skip
        g["lots"].append(name)
        g["batches"] += 1
        g["mass_g"] += fp.mass_g
        g["direct_g"] += fp.direct_g
        g["indirect_g"] += fp.indirect_location_g
        g["default_g"] += fp.default_g
        for share in fp.inputs:
            p = g["precursors"].setdefault(share.gtin, {"lots": set(), "direct_g": 0,
                                                        "indirect_g": 0})  # fmt: skip
            p["lots"].add(share.lot)
            p["direct_g"] += share.direct_g
            p["indirect_g"] += share.indirect_location_g
    if set(sums) != set(goods):
        raise CbamProofError("figures", "the report's goods categories are not its batches'")
    for cn, g in sums.items():
        r = goods[cn]
        mine = {k: g[k] for k in ("batches", "mass_g", "direct_g", "indirect_g", "default_g")}
        theirs = {k: r.get(k) for k in mine}
        total = g["direct_g"] + g["indirect_g"]
        expect = {"lots": sorted(g["lots"]), **mine,
                  "see_direct_t_per_t": _per(g["direct_g"], g["mass_g"]),
                  "see_indirect_t_per_t": _per(g["indirect_g"], g["mass_g"]),
                  "see_total_t_per_t": _per(total, g["mass_g"])}  # fmt: skip
        got = {"lots": r.get("lots"), **theirs,
               **{k: r.get(k) for k in ("see_direct_t_per_t", "see_indirect_t_per_t",
                                        "see_total_t_per_t")}}  # fmt: skip
        if expect != got:
            raise CbamProofError("figures", f"CN {cn}: the report says {got}, its batches {expect}")
        pre = {p["gtin"]: (sorted(p["lots"]), p["direct_g"], p["indirect_g"])
               for p in r.get("precursors", [])}  # fmt: skip
        mine_pre = {gtin: (sorted(p["lots"]), p["direct_g"], p["indirect_g"])
                    for gtin, p in g["precursors"].items()}  # fmt: skip
        if pre != mine_pre:
            raise CbamProofError("figures", f"CN {cn}: the precursors are not its batches' inputs")
    return dict(report)
