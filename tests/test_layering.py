"""Each contract owns its key layout: nothing outside ``contracts/`` builds a state key.

Other layers (API, web pages, CLI, SDK, ingest, simulation, benchmarks, node) read state
through the contracts' queries, or take a key from a contract's own key function when they
must name one (to show a proof). This test reads every module outside ``contracts/`` and
refuses any string or bytes literal (f-strings included) that starts with a contract's
keyspace, since that is how a key gets rebuilt by hand.
"""

from __future__ import annotations

import ast
from pathlib import Path

import gridledger

SRC = Path(gridledger.__file__).resolve().parent
KEYSPACES = (
    "registry/",
    "funds/",
    "metering/",
    "market/",
    "consortium/",
    "chain/",
    "nonce/",
    "certificates/",
    "credits/",
    "allowances/",
    "claims/",
    "products/",
    "exchange/",
    "community/",
)
TEMPLATES = (".html", ".json", ".js", ".css", ".svg")


def _literal_prefixes(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string or bytes literal with its line; an f-string counts once, by its start."""
    inner = {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values
    }
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in inner:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
            text = node.value.decode("latin-1") if isinstance(node.value, bytes) else node.value
            found.append((node.lineno, text))
        elif isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append((node.lineno, first.value))
    return found


def test_no_state_key_is_built_outside_the_contracts() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] == "contracts":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for line, text in _literal_prefixes(tree):
            # template paths (market/overview.html) share the contracts' names, not their keys
            if text.startswith(KEYSPACES) and not text.endswith(TEMPLATES):
                offenders.append(f"{rel}:{line}: {text[:40]!r}")
    assert offenders == [], "state keys built outside contracts/:\n" + "\n".join(offenders)


def test_the_check_sees_keys_in_bytes_and_f_strings() -> None:
    """The scanner itself: a bytes prefix, a str key and an f-string key are all caught."""
    sample = 'a = b"funds/balance/"\nb = "market/params"\nc = f"metering/reading/{m}/{s}"\n'
    texts = [t for _, t in _literal_prefixes(ast.parse(sample))]
    assert [t for t in texts if t.startswith(KEYSPACES)] == [
        "funds/balance/", "market/params", "metering/reading/",
    ]  # fmt: skip
