"""Proofs and finality from the command line, with the consortium's keys.

gridledger query consortium-keys [--out FILE]    the consortium keys file, from a node you trust
gridledger verify-proof FILE [--keys FILE]       check a saved proof file offline

``gridledger query state KEY --proof --keys FILE`` checks a fetched proof the same way. The keys
file is the trusted input (``docs/formats.md`` §6b): keys taken from the node whose proofs are
checked would vouch for themselves, so a proof is checked with a file the user took earlier
from a node they trust, or with the node keys of ``HOME/genesis.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.markup import escape

from gridledger.cli.common import (
    HomeOpt,
    JsonOpt,
    NodeOpt,
    console,
    err_console,
    fail,
    kv_table,
    node_url,
    print_json,
    reporting,
)
from gridledger.contracts.genesis import load as load_genesis
from gridledger.node.home import DEFAULT_HOME
from gridledger.sdk import (
    Client,
    ConsortiumKeys,
    FinalityResult,
    ProofError,
    export_keys,
    keys_from_genesis,
    load_keys,
    proof_finality,
    verify_state_proof,
    verify_tx_proof,
)

KeysOpt = Annotated[
    Path | None,
    typer.Option(
        "--keys",
        help="A consortium keys file (gridledger query consortium-keys) to check the block "
        "signature, the attestations and the final claim with.",
        dir_okay=False,
        show_default=False,
    ),
]


def read_keys(path: Path, json_out: bool) -> ConsortiumKeys:
    """The keys file at ``path``, or a clean exit 1 (``keys.invalid``)."""
    with reporting(json_out):
        return load_keys(path)
    raise AssertionError("unreachable")  # reporting exits on every error


def genesis_keys(home: Path, chain_id: str) -> ConsortiumKeys | None:
    """The keys ``HOME/genesis.json`` gives, when it is the genesis of ``chain_id``."""
    try:
        genesis = load_genesis((home / "genesis.json").read_bytes())
    except (OSError, msgspec.MsgspecError):
        return None
    return keys_from_genesis(genesis) if genesis.chain_id == chain_id else None


def finality_rows(
    result: FinalityResult, source: str, from_genesis: bool = False
) -> list[tuple[str, str]]:
    """What a table shows of a finality check: the verdict, who stands behind the block,
    every rejected attestation, and whether the keys reach the block's height."""
    count = f"{len(result.attested)} of {len(result.proposers)} organisations"
    verdict = "yes" if result.final else "no"
    rows = [
        (
            "final",
            f"{verdict}: {count} stand behind block {result.height} "
            f"(quorum {result.quorum}): {', '.join(result.attested) or 'none'}",
        ),
        ("keys", source),
    ]
    for r in result.rejected:
        rows.append(("refused", f"attestation {r.index} ({r.org or '?'}): {r.reason}: {r.message}"))
    if result.beyond_keys:
        known = "genesis" if from_genesis else f"height {result.keys_up_to_height}"
        rows.append(
            (
                "note",
                f"the keys describe the chain up to {known} only; a key rotation or membership "
                "change since would not be known (gridledger query consortium-keys from a node "
                "you trust gives a newer file)",
            )
        )
    return rows


def finality_json(result: FinalityResult | None, source: str | None) -> dict[str, Any]:
    return {
        "finality_checked": result is not None,
        "keys_source": source,
        "finality": None if result is None else result.to_json(),
    }


# the keys file -----------------------------------------------------------------------------------
def consortium_keys_command(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the file here instead of stdout.", dir_okay=False),
    ] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The consortium keys file: every node key by height and the proposers by height.

    Export it from a node you trust (your organisation's own) and hand it to verifiers:
    it is what `verify-proof --keys` and `query state --proof --keys` check signatures,
    attestations and finality with.
    """
    url = node_url(home, node)
    with reporting(json_out), Client(url) as client:
        keys = export_keys(client)
    genesis = genesis_keys(home, keys.chain_id)
    if genesis is not None:
        for org, periods in genesis.node_keys.items():
            first = keys.node_key_at(org, 0)
            if first != periods[0].node_key:
                fail(
                    "keys.disagrees_with_genesis",
                    f"the node at {url} gives {org} the key {first} at height 0, but "
                    f"{home / 'genesis.json'} gives {periods[0].node_key}: do not trust it",
                    json_out,
                )
    text = keys.dumps()
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
    count = len(keys.node_keys)
    summary = (
        f"consortium keys of chain {keys.chain_id} from {url}: {count} "
        f"organisation{'' if count == 1 else 's'}, exact up to height {keys.up_to_height}; "
        "trust them as far as you trust that node"
    )
    if out is not None and json_out:
        print_json({"written": str(out), "chain_id": keys.chain_id,
                    "up_to_height": keys.up_to_height,
                    "organisations": sorted(keys.node_keys)})  # fmt: skip
    elif out is not None:
        console.print(escape(f"wrote {out}: {summary}"))
    else:
        err_console.print(escape(summary))


# a proof file ------------------------------------------------------------------------------------
def _kind(proof: Any) -> str:
    if not isinstance(proof, dict):
        return "unknown"
    if "tx_hex" in proof:
        return "tx"
    if "proof" in proof and "key" in proof:
        return "state"
    if "header" in proof and "hash" in proof:
        return "header"
    return "unknown"


def verify_proof_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="A proof saved from the API: a transaction, state or reading proof, or a "
            "block or header.",
            dir_okay=False,
        ),
    ],
    keys_path: KeysOpt = None,
    home: HomeOpt = DEFAULT_HOME,
    json_out: JsonOpt = False,
) -> None:
    """Check a saved proof file offline: the Merkle proof, the block signature, and with the
    consortium keys (--keys, else HOME/genesis.json) the attestations and the final claim."""
    try:
        proof = msgspec.json.decode(file.read_bytes())
    except OSError as exc:
        fail("proof.unreadable", f"cannot read {file}: {exc.strerror or exc}", json_out)
    except msgspec.DecodeError as exc:
        fail("proof.invalid", f"{file} is not JSON: {exc}", json_out)
    kind = _kind(proof)
    if kind == "unknown":
        fail(
            "proof.invalid",
            f"{file} is not a proof: expected a transaction, state or header proof",
            json_out,
        )
    header = proof.get("header")
    chain_id = header.get("chain_id") if isinstance(header, dict) else None
    keys: ConsortiumKeys | None
    from_genesis = keys_path is None
    if keys_path is not None:
        keys, source = read_keys(keys_path, json_out), f"{keys_path}"
    else:
        keys = genesis_keys(home, str(chain_id))
        source = f"{home / 'genesis.json'} (keys as at genesis)"
    result: FinalityResult | None = None
    shown: dict[str, Any] = {}
    with reporting(json_out):
        if kind == "tx":
            tx = verify_tx_proof(proof, keys=keys)
            shown = {"tx_hash": tx.hash().hex(), "tx_kind": tx.kind, "sender": tx.sender}
        elif kind == "state":
            value = verify_state_proof(proof, keys=keys)
            shown = {"key": proof["key"], "value_hex": None if value is None else value.hex()}
        elif keys is None:
            raise ProofError("a header alone proves nothing without keys: give --keys")
        if keys is not None:
            result = proof_finality(proof, keys)
    height = result.height if result is not None else proof.get("height")
    if json_out:
        print_json(
            {
                "kind": kind,
                "height": height,
                "proof_valid": True,
                "signature_checked": keys is not None,
                **shown,
                **finality_json(result, source if keys is not None else None),
            }
        )
        return
    rows: list[tuple[str, Any]] = [("proof", f"valid {kind} proof against block {height}")]
    rows += [(k.replace("_", " "), "absent" if v is None else v) for k, v in shown.items()]
    if result is None:
        rows.append(("signature", f"not checked (no keys: give --keys, or a home with the "
                                  f"genesis.json of chain {chain_id})"))  # fmt: skip
        rows.append(("final", "not checked"))
    else:
        rows.append(("signature", "valid (the proposer's node key at that height)"))
        rows += finality_rows(result, source, from_genesis)
    console.print(kv_table(rows))
