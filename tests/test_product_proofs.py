"""Product proof files against their vectors (``tests/vectors/products.json``): every genuine
file checks out with the consortium keys and proves what the vectors say; every refused file
is refused with its reason; and the key layout the verifier reads is the contract's."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from gridledger.contracts.products import keys
from gridledger.sdk.product_proofs import (
    ProductProofError,
    check_product_records,
    passport_id,
    verify_product_proof,
)

VECTORS = Path(__file__).parent / "vectors" / "products.json"


@cache
def vectors() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(VECTORS.read_text())
    return loaded


@pytest.mark.parametrize("name", ["batch", "item", "recalled"])
def test_genuine_files_prove_what_the_vectors_say(name: str) -> None:
    case = vectors()["genuine"][name]
    expect = case["expect"]
    summary = verify_product_proof(case["file"], vectors()["keys"], seen_at=expect["seen_at"])
    shown = summary.to_json()
    assert (shown["final"], shown["footprint"]) == (expect["final"], expect["footprint"])
    assert (shown.get("verdict"), shown.get("reasons")) == (expect["verdict"], expect["reasons"])
    assert check_product_records(case["file"]).finality is None


def test_an_item_seen_elsewhere_is_suspicious() -> None:
    case = vectors()["seen_elsewhere"]
    file = vectors()["genuine"][case["file"]]["file"]
    found = verify_product_proof(file, vectors()["keys"], seen_at=case["seen_at"])
    assert (found.verdict, found.reasons) == (case["verdict"], case["reasons"])


@pytest.mark.parametrize("case", vectors()["refused"], ids=lambda c: c["name"])
def test_refused_files_are_refused_with_their_reason(case: dict[str, Any]) -> None:
    with pytest.raises(ProductProofError) as err:
        verify_product_proof(case["file"], vectors()["keys"])
    assert err.value.reason == case["reason"]
    assert err.value.code == f"product.{case['reason']}"


def test_the_batch_file_names_its_records_by_the_contracts_keys() -> None:
    file = vectors()["genuine"]["batch"]["file"]
    gtin, lot = file["subject"]["gtin"], file["subject"]["lot"]
    names = {r["key"] for r in file["records"]}
    for key in (keys.product_type(gtin), keys.batch(gtin, lot), keys.footprint(gtin, lot)):
        assert key.decode() in names


def test_a_passport_id_is_a_stable_uuid() -> None:
    one = passport_id("c", "06950000000019", "L1")
    assert (
        one == passport_id("c", "06950000000019", "L1") != passport_id("c", "06950000000019", "L2")
    )
    assert len(one) == 36
    assert one[14] == "8"
    assert one[19] in "89ab"
