"""Record card proof files against their vectors (``tests/vectors/cards.json``): every genuine
file proves the figures the vectors state, with and without the keys file, and every refused
file is refused with its reason."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from gridledger.sdk.card_proofs import CardProofError, check_card_records, verify_card_proof

VECTORS = Path(__file__).parent / "vectors" / "cards.json"


@cache
def vectors() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize("name", ["june", "may_without_claims"])
def test_genuine_files_prove_what_the_vectors_say(name: str) -> None:
    case = vectors()["genuine"][name]
    shown = verify_card_proof(case["file"], vectors()["keys"]).to_json()
    assert {k: shown[k] for k in case["expect"]} == case["expect"]
    assert check_card_records(case["file"]).finality is None


@pytest.mark.parametrize("case", vectors()["refused"], ids=lambda c: c["name"])
def test_refused_files_are_refused_with_their_reason(case: dict[str, Any]) -> None:
    with pytest.raises(CardProofError) as err:
        verify_card_proof(case["file"], vectors()["keys"])
    assert err.value.reason == case["reason"]
    assert err.value.code == f"card.{case['reason']}"
