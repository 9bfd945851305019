"""Building the refused proof files of the vectors: what the card, product, claim and
certificate vector modules share.

A refused file is a genuine one changed in one way (:func:`edited`), written out either whole
with the reason its verifier gives (:func:`refusals`) or as the genuine file it differs least
from plus the top-level fields it changes (:func:`delta_of`, undone by :func:`file_of`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from typing import Any

from gridledger.sdk.proof_files import ProofFileError


def edited(base: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``change`` applied to it."""
    copied = copy.deepcopy(base)
    change(copied)
    return copied


def refusals(
    cases: Iterable[tuple[str, dict[str, Any]]],
    check: Callable[[dict[str, Any]], Any],
    error: type[ProofFileError],
) -> list[dict[str, Any]]:
    """``{"name", "file", "reason"}`` for each ``(name, file)`` that ``check`` refuses with
    ``error``; a file that checks out is a mistake in the vectors."""
    out = []
    for name, file in cases:
        try:
            check(file)
        except error as exc:
            out.append({"name": name, "file": file, "reason": exc.reason})
        else:
            raise AssertionError(f"{name}: the file checks out")
    return out


def delta_of(proofs: dict[str, Any], file: dict[str, Any]) -> dict[str, Any]:
    """``file`` as the genuine proof file it differs least from (``base``), the top-level
    fields it sets (``change``) and those it lacks (``remove``)."""
    best: dict[str, Any] | None = None
    for name, base in proofs.items():
        change = {k: v for k, v in file.items() if k not in base or base[k] != v}
        remove = [k for k in base if k not in file]
        size = len(json.dumps(change))
        if best is None or size < best["size"]:
            best = {"size": size, "base": name, "change": change, "remove": remove}
    assert best is not None
    return {k: best[k] for k in ("base", "change", "remove")}


def file_of(proofs: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """The file a case describes: its base proof file with ``change`` set, ``remove`` gone."""
    file = {**proofs[delta["base"]], **delta["change"]}
    for name in delta["remove"]:
        file.pop(name, None)
    return file
