"""Write GridLedger's test vectors (``tests/vectors/*.json``) for implementations in any language.

Usage::

    python tests/vectors/generate.py [OUT_DIR]     # default: the directory of this script

Deterministic: every key comes from a fixed seed and every time is fixed, so two runs write
byte-identical files; ``tests/test_vectors.py`` replays the checked-in files against the code
and regenerates them to make sure they never drift. ``docs/formats.md`` explains each format.

Conventions of the files: ``*_hex`` and hashes are lower-case hex; ``canonical`` fields hold
canonical JSON as text (their UTF-8 bytes are what is hashed or signed); state keys and values
are UTF-8 text (every key and value the contracts write is text).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from card_vectors import card_vectors
from certificate_vectors import certificate_vectors
from claim_vectors import claim_vectors
from log_vectors import log_vectors
from product_vectors import product_vectors

from gridledger.contracts import chain, consortium
from gridledger.contracts.genesis import Genesis, GenesisAccount, GenesisOrganisation
from gridledger.contracts.metering import generation_limit_wh
from gridledger.contracts.rules import Rules
from gridledger.core import merkle
from gridledger.core.crypto import (
    DOMAIN_BLOCK,
    DOMAIN_TX,
    SigningKey,
    parse_public_key,
    parse_signature,
    sha256,
)
from gridledger.core.encoding import INT_MAX, canonical, check_values, decode_json
from gridledger.core.errors import GridLedgerError, InvalidBlock
from gridledger.core.types import Attestation, Block, BlockHeader, Transaction
from gridledger.node.executor import execute_block, prepare
from gridledger.node.transition import (
    Proposal,
    apply_block,
    genesis_header,
    genesis_state,
    propose_block,
)
from gridledger.sdk.consortium_keys import build_keys, parse_keys
from gridledger.sdk.errors import FinalityError, KeysFileError, ProofError
from gridledger.sdk.proofs import verify_finality, verify_state_proof, verify_tx_proof
from gridledger.state.state import State
from gridledger.state.tree import SparseMerkleTree

CHAIN_ID = "gridledger-vectors"
GENESIS_TIME_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
BLOCK_TIME_MS = GENESIS_TIME_MS + 60_000
ROLES_ALL = [
    "operator",
    "producer",
    "consumer",
    "certifier",
    "carbon_verifier",
    "grid_operator",
    "regulator",
]


def seed_of(name: str) -> bytes:
    """The fixed Ed25519 seed of a named vector key: SHA-256("gridledger-vectors/" + name)."""
    return sha256(b"gridledger-vectors/" + name.encode())


def key_of(name: str) -> SigningKey:
    return SigningKey.from_seed(seed_of(name))


def text(data: bytes) -> str:
    return data.decode("utf-8")


def write(out: Path, name: str, doc: dict[str, Any]) -> None:
    body = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    (out / name).write_text(body, encoding="utf-8")


# canonical encoding ------------------------------------------------------------------------------
CANONICAL_INPUTS: list[tuple[str, str]] = [
    ("empty object", "{}"),
    ("empty array", "[ ]"),
    ("literals", "[true, false, null]"),
    ("keys sorted, whitespace dropped", '{ "b" : 1, "a" : [ 2, 3 ], "c" : { "z" : 0, "y" : -1 } }'),
    ("upper case sorts before lower case", '{"b": 1, "a": 2, "B": 3, "A": 4, "_": 5, "1": 6}'),
    ("keys sorted by code point", '{"\\ud83d\\ude00": 5, "\\uff61": 6, "\\u00e9": 4, "z": 1}'),
    ("empty key", '{"": 0, "a": 1}'),
    ("integer extremes", "[0, -1, 9223372036854775807, -9223372036854775808]"),
    ("minus zero is zero", "-0"),
    ("quote and backslash escaped", '"say \\"hi\\" \\\\ bye"'),
    ("solidus is not escaped", '"a/b\\/c"'),
    ("short escapes", '"\\b\\t\\n\\f\\r"'),
    ("other control characters as \\u00XX", '"\\u0000\\u0001\\u001f\\u000b"'),
    ("DEL is literal", '"\\u007f"'),
    ("non-ASCII is literal UTF-8", '"\\u00e9 \\u4e2d \\ud83d\\ude00 \\u2028 \\u2029"'),
    ("escaped ASCII is unescaped", '"\\u0041\\u0062"'),
    ("nested", '{"tx": {"body": {"memo": "Juni – 50 kWh", "amount": 5}, "nonce": 1}}'),
]

REJECTED_INPUTS: list[tuple[str, str]] = [
    ("fraction", "1.5"),
    ("integral float", "1.0"),
    ("exponent", "1e3"),
    ("negative zero float", "-0.0"),
    ("float in a list", '{"amounts": [1, 2.5]}'),
    ("above the signed 64-bit range", "9223372036854775808"),
    ("below the signed 64-bit range", "-9223372036854775809"),
    ("unsigned 64-bit maximum + 1", "18446744073709551616"),
    ("huge integer deep inside", '{"a": {"b": [99999999999999999999999]}}'),
]


def canonical_vectors() -> dict[str, Any]:
    valid = []
    for name, source in CANONICAL_INPUTS:
        value = decode_json(source)
        check_values(value)
        out = canonical(value)
        valid.append(
            {"name": name, "input": source, "canonical": text(out), "canonical_hex": out.hex()}
        )
    rejected = []
    for name, source in REJECTED_INPUTS:
        try:
            check_values(decode_json(source))
        except GridLedgerError as exc:
            rejected.append({"name": name, "input": source, "error": exc.code})
        else:
            raise AssertionError(f"{name} was not rejected")
    return {
        "description": "Canonical JSON: decode 'input' (JSON text), encode canonically; "
        "'canonical' is the exact text (hash its UTF-8 bytes, 'canonical_hex'). Rejected inputs "
        "must be refused with the error code given.",
        "valid": valid,
        "rejected": rejected,
    }


# Ed25519 -----------------------------------------------------------------------------------------
def ed25519_vectors() -> dict[str, Any]:
    cases = []
    rfc8032 = [
        ("rfc8032 test 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", ""),
        (
            "rfc8032 test 2",
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "72",
        ),
        (
            "rfc8032 test 3",
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "af82",
        ),
    ]
    named = [
        ("operator key, empty message", seed_of("operator").hex(), ""),
        ("household key, short message", seed_of("house-a").hex(), b"meter reading".hex()),
        (
            "node key, block domain",
            seed_of("node").hex(),
            (DOMAIN_BLOCK + sha256(b"header")).hex(),
        ),
    ]
    for name, seed_hex, message_hex in rfc8032 + named:
        k = SigningKey.from_seed(bytes.fromhex(seed_hex))
        sig = k.sign_raw(bytes.fromhex(message_hex))
        cases.append(
            {
                "name": name,
                "seed": seed_hex,
                "public_key": k.public_key_raw.hex(),
                "public_key_tagged": k.public_key,
                "message_hex": message_hex,
                "signature": sig.hex(),
                "signature_tagged": k.sign(bytes.fromhex(message_hex)),
            }
        )
    good_pk = key_of("operator").public_key
    good_sig = key_of("operator").sign(b"")
    parse = [
        ("public_key", good_pk, None),
        ("signature", good_sig, None),
        ("public_key", good_pk.upper().replace("ED25519", "ed25519"), "tx.bad_signature"),
        ("public_key", good_pk[:-2], "tx.bad_signature"),
        ("public_key", good_pk + "00", "tx.bad_signature"),
        ("public_key", good_pk.split(":")[1], "tx.bad_signature"),
        ("public_key", "sm2:" + good_pk.split(":")[1], "tx.unsupported_algorithm"),
        ("public_key", "Ed25519:" + good_pk.split(":")[1], "tx.unsupported_algorithm"),
        ("signature", "", "tx.missing_signature"),
        ("signature", "ed25519:" + "zz" * 64, "tx.bad_signature"),
        ("signature", good_sig[:-2], "tx.bad_signature"),
        ("signature", "sm2:" + good_sig.split(":")[1], "tx.unsupported_algorithm"),
    ]
    parse_cases = []
    for what, value, expected in parse:
        try:
            (parse_public_key if what == "public_key" else parse_signature)(value)
            code = None
        except GridLedgerError as exc:
            code = exc.code
        if code != expected:
            raise AssertionError(f"{what} {value!r}: {code} != {expected}")
        parse_cases.append({"kind": what, "value": value, "error": code})
    return {
        "description": "Ed25519 (RFC 8032) from 32-byte seeds, and the tagged 'ed25519:<hex>' "
        "forms of keys and signatures. 'parse' lists tagged strings and the error code a "
        "parser gives (null: accepted).",
        "domains": {
            "tx": text(DOMAIN_TX),
            "block": text(DOMAIN_BLOCK),
        },
        "cases": cases,
        "parse": parse_cases,
    }


# transactions ------------------------------------------------------------------------------------
TX_CASES: list[tuple[str, str, str, int, dict[str, Any]]] = [
    ("transfer", "house-a", "funds.transfer", 1, {"to": "house-b", "amount": 2500}),
    (
        "transfer with a memo to escape",
        "house-a",
        "funds.transfer",
        2,
        {"to": "house-b", "amount": 1, "memo": 'Juni "Solar" – 5 kWh\n\\ok/'},
    ),
    ("mint", "operator", "funds.mint", 7, {"to": "house-a", "amount": 1_000_000}),
    (
        "add account",
        "operator",
        "registry.add_account",
        8,
        {
            "account": "house-c",
            "org": "households",
            "public_key": key_of("house-c").public_key,
            "roles": ["consumer"],
        },
    ),
    (
        "largest nonce",
        "house-b",
        "funds.transfer",
        INT_MAX,
        {"to": "house-a", "amount": 1},
    ),
]


def transaction_vectors() -> dict[str, Any]:
    cases = []
    for name, sender, kind, nonce, body in TX_CASES:
        tx = Transaction(chain_id=CHAIN_ID, kind=kind, sender=sender, nonce=nonce, body=body)
        signing = tx.signing_bytes()
        tx.signature = key_of(sender).sign(signing)
        cases.append(
            {
                "name": name,
                "sender_seed": seed_of(sender).hex(),
                "unsigned_canonical": text(canonical(tx.unsigned())),
                "signing_bytes_hex": signing.hex(),
                "signature": tx.signature,
                "signed_canonical": text(tx.encode()),
                "tx_hash": tx.hash().hex(),
            }
        )
    return {
        "description": "Transactions: signing bytes = 'gridledger/tx/v1\\n' + canonical JSON of "
        "the transaction without 'signature'; the signature is Ed25519 by the sender's seed; "
        "the hash is SHA-256 of the canonical signed transaction.",
        "chain_id": CHAIN_ID,
        "cases": cases,
    }


# genesis and blocks ------------------------------------------------------------------------------
def vector_genesis() -> Genesis:
    return Genesis(
        chain_id=CHAIN_ID,
        genesis_time=GENESIS_TIME_MS,
        organisations=[
            GenesisOrganisation(
                id="operator",
                name="Network operator",
                roles=ROLES_ALL,
                node_key=key_of("node").public_key,
            ),
            GenesisOrganisation(id="households", name="Households", roles=["consumer", "producer"]),
        ],
        accounts=[
            GenesisAccount(
                id="operator",
                org="operator",
                public_key=key_of("operator").public_key,
                roles=["operator"],
            ),
            GenesisAccount(
                id="house-a",
                org="households",
                public_key=key_of("house-a").public_key,
                roles=["consumer", "producer"],
                balance=5_000,
            ),
            GenesisAccount(
                id="house-b",
                org="households",
                public_key=key_of("house-b").public_key,
                roles=["consumer"],
            ),
        ],
        rules=Rules(max_tx_bytes=16_384, block_max_bytes=65_536, block_max_txs=500),
    )


def state_text(items: dict[bytes, bytes]) -> dict[str, str]:
    return {text(k): text(v) for k, v in sorted(items.items())}


def committed_genesis(genesis: Genesis) -> State:
    state = genesis_state(genesis)
    state.compute_root()
    state.finish_block()
    return state


def signed_tx(sender: str, nonce: int, kind: str, body: dict[str, Any]) -> Transaction:
    tx = Transaction(chain_id=CHAIN_ID, kind=kind, sender=sender, nonce=nonce, body=body)
    tx.signature = key_of(sender).sign(tx.signing_bytes())
    return tx


def genesis_vectors() -> dict[str, Any]:
    genesis = vector_genesis()
    state = committed_genesis(genesis)
    header = genesis_header(genesis, state.root)
    return {
        "description": "A genesis document, the state it produces (key -> value), that "
        "state's root, and the genesis block header (height 0, no signature).",
        "genesis_canonical": text(genesis.encode()),
        "genesis_hash": genesis.hash().hex(),
        "state": state_text(state.committed),
        "state_root": state.root.hex(),
        "header_canonical": text(header.encode()),
        "header_hash": header.hash().hex(),
    }


VECTOR_BLOCK_BODIES: list[list[tuple[str, int, str, dict[str, Any]]]] = [
    [
        ("house-a", 1, "funds.transfer", {"to": "house-b", "amount": 1200}),
        ("operator", 1, "funds.mint", {"to": "house-b", "amount": 300}),
        ("house-b", 1, "funds.transfer", {"to": "house-a", "amount": 9999}),
    ],
    [],
    [("house-b", 2, "funds.transfer", {"to": "house-a", "amount": 1500, "memo": "back"})],
]


def _propose(state: State, parent: BlockHeader, txs: list[Transaction], time_ms: int) -> Proposal:
    proposal = propose_block(
        state,
        chain.rules_at(state.view, parent.height + 1),
        parent,
        [prepare(t) for t in txs],
        time_ms,
        "operator",
        key_of("node").sign,
    )
    if proposal.dropped:
        raise AssertionError(f"vector transactions left out: {proposal.dropped}")
    return proposal


def vector_chain() -> tuple[State, list[Proposal]]:
    """The state after blocks 1-3 of blocks.json, and those blocks."""
    genesis = vector_genesis()
    state = committed_genesis(genesis)
    parent = genesis_header(genesis, state.root)
    proposals = []
    for offset, body in enumerate(VECTOR_BLOCK_BODIES, start=1):
        txs = [signed_tx(*t) for t in body]
        proposal = _propose(state, parent, txs, BLOCK_TIME_MS + 1000 * offset)
        state.finish_block()
        proposals.append(proposal)
        parent = proposal.block.header
    return state, proposals


def block_vectors() -> dict[str, Any]:
    genesis = vector_genesis()
    state = committed_genesis(genesis)
    blocks = []
    for proposal in vector_chain()[1]:
        header, result = proposal.block.header, proposal.result
        state_after = header.state_root
        blocks.append(
            {
                "height": header.height,
                "txs": [text(t.encode()) for t in proposal.block.txs],
                "receipts": [text(r) for r in result.receipt_bytes],
                "header_canonical": text(header.encode()),
                "header_hash": header.hash().hex(),
                "signing_bytes_hex": header.signing_bytes().hex(),
                "signature": proposal.block.signature,
                "state_root_after": state_after,
            }
        )
    return {
        "description": "Blocks 1-3 on top of genesis.json's genesis: each header, its hash "
        "(SHA-256 of the canonical header), its signing bytes ('gridledger/block/v1\\n' + "
        "hash) and the proposer's signature; tx_root and receipt_root are RFC 6962 roots over "
        "the canonical transactions and receipts.",
        "genesis_header_hash": genesis_header(genesis, state.root).hash().hex(),
        "node_seed": seed_of("node").hex(),
        "blocks": blocks,
    }


def _invalid_cases(
    honest: Block, txs: list[Transaction], parent: BlockHeader
) -> list[tuple[str, str, Block, list[bytes] | None]]:
    """(name, code, block, raw transactions when they differ from the block's) for block 4."""
    node = key_of("node")
    h = honest.header

    def resigned(signer: SigningKey = node, **changes: Any) -> Block:
        header = msgspec.structs.replace(h, **changes)
        return Block(header, honest.txs, signer.sign(header.signing_bytes()))

    def with_txs(new: list[Transaction], raws: list[bytes] | None = None) -> Block:
        header = msgspec.structs.replace(
            h, tx_count=len(new), tx_root=merkle.root([t.encode() for t in new]).hex()
        )
        return Block(header, new, node.sign(header.signing_bytes()))

    unsigned = signed_tx("house-a", 3, "funds.transfer", {"to": "house-b", "amount": 1})
    unsigned.signature = ""
    forged = signed_tx("house-a", 3, "funds.transfer", {"to": "house-b", "amount": 1})
    forged.signature = key_of("house-b").sign(forged.signing_bytes())
    replayed = signed_tx("house-a", 1, "funds.transfer", {"to": "house-b", "amount": 7})
    stranger = Transaction(chain_id=CHAIN_ID, kind="funds.transfer", sender="mallory", nonce=1,
                           body={"to": "house-a", "amount": 1})  # fmt: skip
    stranger.signature = key_of("mallory").sign(stranger.signing_bytes())
    elsewhere = Transaction(chain_id="another-chain", kind="funds.transfer", sender="house-a",
                            nonce=3, body={"to": "house-b", "amount": 1})  # fmt: skip
    elsewhere.signature = key_of("house-a").sign(elsewhere.signing_bytes())
    negative = signed_tx("house-a", 3, "funds.transfer", {"to": "house-b", "amount": -1})
    unknown = signed_tx("house-a", 3, "funds.steal", {"from": "house-b"})
    huge = signed_tx("operator", 2, "registry.add_organisation",
                     {"org": "big", "name": "n" * 17_000, "roles": []})  # fmt: skip
    first = txs[0]
    spaced = first.encode().replace(b'"kind":', b'"kind": ')
    return [
        ("wrong chain in the header", "block.wrong_chain", resigned(chain_id="another"), None),
        ("height skips one", "block.bad_height", resigned(height=h.height + 1), None),
        ("prev_hash of another block", "block.bad_parent", resigned(prev_hash="ab" * 32), None),
        ("time before the parent's", "block.time_backwards", resigned(time=parent.time - 1),
         None),
        ("time far ahead of the importer's clock", "block.time_in_future",
         resigned(time=h.time + 60_000), None),
        ("proposer not an organisation", "block.bad_proposer", resigned(proposer="nobody"), None),
        ("header signed by another key", "block.bad_signature", resigned(key_of("forger")),
         None),
        ("tx_count differs", "block.bad_tx_count", resigned(tx_count=h.tx_count + 1), None),
        ("transaction over max_tx_bytes", "block.oversize_tx", with_txs([huge]), None),
        ("transaction not in canonical form", "block.malformed_tx", with_txs([first]),
         [spaced]),
        ("transaction for another chain", "block.tx_wrong_chain", with_txs([elsewhere]), None),
        ("kind not in the rules", "block.kind_not_allowed", with_txs([unknown]), None),
        ("body breaks its schema", "block.invalid_tx_body", with_txs([negative]), None),
        ("sender not registered", "block.unknown_sender", with_txs([stranger]), None),
        ("transaction without signature", "block.unsigned_tx", with_txs([unsigned]), None),
        ("transaction signed by another key", "block.bad_tx_signature", with_txs([forged]),
         None),
        ("nonce used before", "block.replayed_nonce", with_txs([replayed]), None),
        ("tx_root of other transactions", "block.bad_tx_root", resigned(tx_root="cd" * 32),
         None),
        ("receipt_root of another execution", "block.bad_receipt_root",
         resigned(receipt_root="cd" * 32), None),
        ("state_root of another execution", "block.bad_state_root",
         resigned(state_root="cd" * 32), None),
    ]  # fmt: skip


def invalid_block_vectors() -> dict[str, Any]:
    state, proposals = vector_chain()
    parent = proposals[-1].block.header
    txs = [
        signed_tx("house-a", 3, "funds.transfer", {"to": "house-b", "amount": 10}),
        signed_tx("house-b", 3, "funds.transfer", {"to": "house-a", "amount": 4}),
    ]
    time_ms = BLOCK_TIME_MS + 4000
    honest = _propose(state, parent, txs, time_ms)
    state.discard_block()
    cases = []
    for name, code, block, raws in _invalid_cases(honest.block, txs, parent):
        raw_txs = raws if raws is not None else [t.encode() for t in block.txs]
        rules = chain.rules_at(state.view, block.header.height)
        try:
            apply_block(state, rules, parent, block, now_ms=time_ms, raws=raw_txs)
        except InvalidBlock as exc:
            if exc.code != code:
                raise AssertionError(f"{name}: {exc.code} != {code} ({exc.message})") from None
        else:
            raise AssertionError(f"{name}: the block was accepted")
        cases.append(
            {
                "name": name,
                "header_canonical": text(block.header.encode()),
                "signature": block.signature,
                "txs": [text(r) for r in raw_txs],
                "code": code,
            }
        )
    return {
        "description": "Block 4 on top of blocks.json, broken one rule at a time (docs/formats.md "
        "section 3a). Import each on the state after block 3 with the importer's clock at "
        "'now_ms': it must be refused with 'code' and change nothing. 'honest' is the same "
        "block unbroken, which imports.",
        "now_ms": time_ms,
        "honest": {
            "header_canonical": text(honest.block.header.encode()),
            "signature": honest.block.signature,
            "txs": [text(t.encode()) for t in txs],
        },
        "cases": cases,
    }


# RFC 6962 ----------------------------------------------------------------------------------------
def merkle_log_vectors() -> dict[str, Any]:
    trees = []
    for size in range(18):
        leaves = [b"leaf %d" % i for i in range(size)]
        hashes = [merkle.leaf_hash(x) for x in leaves]
        indexes = sorted({0, size // 2, size - 1}) if size else []
        trees.append(
            {
                "size": size,
                "leaves_hex": [x.hex() for x in leaves],
                "root": merkle.root(leaves).hex(),
                "proofs": [
                    {"index": i, "path": [h.hex() for h in merkle.inclusion_proof(hashes, i)]}
                    for i in indexes
                ],
            }
        )
    return {
        "description": "RFC 6962 Merkle tree hashes (leaf: SHA-256(0x00 || data), node: "
        "SHA-256(0x01 || left || right), empty: SHA-256('')) and audit paths, bottom-up, "
        "for trees of 0 to 17 leaves.",
        "trees": trees,
    }


# sparse Merkle tree ------------------------------------------------------------------------------
def _shared_prefix_keys(nibbles: int, count: int) -> list[bytes]:
    by_prefix: dict[str, list[bytes]] = {}
    i = 0
    while True:
        k = b"deep-%d" % i
        group = by_prefix.setdefault(sha256(k).hex()[:nibbles], [])
        group.append(k)
        if len(group) == count:
            return group
        i += 1


def _tree_case(name: str, items: dict[bytes, bytes], probes: list[bytes]) -> dict[str, Any]:
    tree = SparseMerkleTree.from_items(items.items())
    proofs = []
    for k in [*sorted(items), *probes]:
        value = items.get(k)
        proofs.append(
            {
                "key_hex": k.hex(),
                "value_hex": None if value is None else value.hex(),
                "proof": tree.prove(k).to_json(),
            }
        )
    return {
        "name": name,
        "items": [[k.hex(), v.hex()] for k, v in sorted(items.items())],
        "root": tree.root.hex(),
        "proofs": proofs,
    }


def state_tree_vectors() -> dict[str, Any]:
    deep = _shared_prefix_keys(3, 2)
    accounts = {b"funds/balance/house-%02d" % i: b"%d" % (i * 100) for i in range(24)}
    cases = [
        _tree_case("empty", {}, [b"anything"]),
        _tree_case("one pair", {b"funds/supply": b"5000"}, [b"funds/supply-x"]),
        _tree_case("empty value", {b"k": b""}, [b""]),
        _tree_case("two pairs", {b"a": b"1", b"b": b"2"}, [b"c"]),
        _tree_case("paths sharing three nibbles", {k: b"v-" + k for k in deep}, [b"x"]),
        _tree_case("24 balances", accounts, [b"funds/balance/house-99", b"funds/supply"]),
    ]
    tree = SparseMerkleTree()
    steps = []
    batches: list[dict[bytes, bytes | None]] = [
        {b"a": b"1", b"b": b"2", b"c": b"3"},
        {b"b": b"22"},
        {b"a": None, deep[0]: b"x"},
        {deep[1]: b"y", b"c": None},
        {deep[0]: None, b"missing": None},
        {deep[1]: None, b"b": None},
    ]
    for batch in batches:
        root = tree.update(batch)
        steps.append(
            {
                "changes": [[k.hex(), None if v is None else v.hex()] for k, v in batch.items()],
                "root": root.hex(),
            }
        )
    return {
        "description": "Hexary sparse Merkle tree (state root): key/value sets with their root "
        "and an inclusion or absence proof for each listed key (JSON form of StateProof); "
        "'sequence' applies batches of changes (null deletes) in order, with the root after each.",
        "cases": cases,
        "sequence": steps,
    }


# contracts ---------------------------------------------------------------------------------------
def _transfer(sender: str, to: str, amount: Any, nonce: int = 1, memo: str = "") -> Transaction:
    body: dict[str, Any] = {"to": to, "amount": amount}
    if memo:
        body["memo"] = memo
    return signed_tx(sender, nonce, "funds.transfer", body)


def _mint(sender: str, to: str, amount: int) -> Transaction:
    return signed_tx(sender, 1, "funds.mint", {"to": to, "amount": amount})


def _add_account(
    sender: str, account: str, org: str = "households", roles: list[str] | None = None
) -> Transaction:
    body: dict[str, Any] = {
        "account": account,
        "org": org,
        "public_key": key_of("house-c").public_key,
    }
    if roles is not None:
        body["roles"] = roles
    return signed_tx(sender, 1, "registry.add_account", body)


def _contract_cases() -> list[tuple[str, Transaction]]:
    return [
        ("mint", _mint("operator", "house-b", 700)),
        ("mint by a household", _mint("house-a", "house-a", 1)),
        ("mint to an unknown account", _mint("operator", "house-z", 1)),
        ("mint beyond the 64-bit supply", _mint("operator", "house-a", INT_MAX)),
        ("mint of zero", _mint("operator", "house-a", 0)),
        ("transfer", _transfer("house-a", "house-b", 1250)),
        ("transfer with memo", _transfer("house-a", "house-b", 5, nonce=4, memo="Juni")),
        ("transfer of the whole balance", _transfer("house-a", "house-b", 5000)),
        ("transfer beyond the balance", _transfer("house-a", "house-b", 5001)),
        ("transfer from an empty balance", _transfer("house-b", "house-a", 1)),
        ("transfer to an unknown account", _transfer("house-a", "house-z", 1)),
        ("transfer of a negative amount", _transfer("house-a", "house-b", -1)),
        ("transfer of a fraction", _transfer("house-a", "house-b", 1.5)),
        ("transfer beyond 64 bits", _transfer("house-a", "house-b", 2**64)),
        ("transfer with a replayed nonce", _transfer("house-a", "house-b", 1, nonce=0)),
        ("transfer from an unknown sender", _transfer("house-z", "house-b", 1)),
        ("add account", _add_account("operator", "house-c", roles=["producer"])),
        ("add account by a household", _add_account("house-a", "house-c")),
        ("add account that exists", _add_account("operator", "house-b")),
        (
            "add account with a role its org lacks",
            _add_account("operator", "c", roles=["certifier"]),
        ),
        ("add account with an unknown role", _add_account("operator", "c", roles=["king"])),
        ("add account to an unknown org", _add_account("operator", "house-c", org="farms")),
        ("add account with a bad id", _add_account("operator", "House C")),
        (
            "add organisation",
            signed_tx(
                "operator",
                1,
                "registry.add_organisation",
                {"org": "solar-coop", "name": "Solar Co-op", "roles": ["producer"]},
            ),
        ),
        (
            "grant role",
            signed_tx(
                "operator", 1, "registry.grant_role", {"account": "house-b", "role": "producer"}
            ),
        ),
        (
            "revoke own operator role",
            signed_tx(
                "operator", 1, "registry.revoke_role", {"account": "operator", "role": "operator"}
            ),
        ),
        *_community_cases(),
    ]


def _community_cases() -> list[tuple[str, Transaction]]:
    def opt_in(sender: str, pseudonym: str) -> Transaction:
        return signed_tx(sender, 1, "community.opt_in", {"pseudonym": pseudonym})

    def share(permille: int) -> Transaction:
        return signed_tx("house-a", 1, "community.set_streak_share", {"share_permille": permille})

    return [
        ("opt in to the ranking", opt_in("house-a", "Sunny Balcony")),
        ("opt in under a Chinese pseudonym", opt_in("house-b", "绿色阳台")),
        ("opt in under an invalid pseudonym", opt_in("house-a", "1 bad!")),
        ("opt in under an account id", opt_in("house-a", "House-B")),
        ("opt in by a non-consumer", opt_in("operator", "Operator Joe")),
        ("revoke without consent", signed_tx("house-a", 1, "community.revoke", {})),
        ("set the streak share", share(750)),
        ("set a streak share over 1000", share(1001)),
    ]


def _outcome(state: State, tx: Transaction, height: int, block_time: int) -> dict[str, Any]:
    """Run ``tx`` alone as block ``height`` at ``block_time`` on ``state`` (committed after):
    its refusal before execution, or its receipt."""
    try:
        p = prepare(tx)
    except GridLedgerError as exc:
        return {"stage": "prepare", "error": exc.code}
    (receipt,) = execute_block(state, [p], height, block_time)
    state.compute_root()
    state.finish_block()
    return {"stage": "execute", "error": receipt.code, "receipt": text(canonical(receipt))}


def _transitions(
    pre: Callable[[], State], named: list[tuple[str, Transaction]], height: int, block_time: int
) -> list[dict[str, Any]]:
    """Each transaction run alone from a fresh ``pre()`` as block ``height`` at
    ``block_time``: the refusal before execution, or the receipt and the whole state after."""
    cases = []
    for name, tx in named:
        state = pre()
        case: dict[str, Any] = {"name": name, "tx": text(tx.encode())}
        case.update(_outcome(state, tx, height, block_time))
        if case["stage"] == "execute":
            case.update({"post": state_text(state.committed), "post_root": state.root.hex()})
        cases.append(case)
    return cases


TRANSITIONS = (
    "Run each case's 'tx' as the only transaction of block 'height' at 'block_time' from "
    "state 'pre'. Stage 'prepare': refused before execution with 'error' (no receipt, state "
    "unchanged); stage 'execute': the canonical receipt ('error' null when ok) and the whole "
    "state 'post' with its root. Signatures are valid but execution does not check them "
    "(admission does)."
)


def contract_vectors() -> dict[str, Any]:
    genesis = vector_genesis()
    pre_state = committed_genesis(genesis)
    return {
        "description": "Contract transitions of funds, the registry and community, from the "
        "genesis state of genesis.json. " + TRANSITIONS,
        "height": 1,
        "block_time": BLOCK_TIME_MS,
        "pre": state_text(pre_state.committed),
        "pre_root": pre_state.root.hex(),
        "cases": _transitions(
            lambda: committed_genesis(genesis), _contract_cases(), 1, BLOCK_TIME_MS
        ),
    }


# metering ----------------------------------------------------------------------------------------
T_S = GENESIS_TIME_MS // 1000
"""2025-01-01T00:00:00Z; the metering cases run at BLOCK_TIME_MS, a minute later."""
QUARTER, HOUR = 900, 3600
CASE_NONCE = 100
"""The nonce of every metering case, above those the setup used."""


def _reading(meter: str, start: int, energy_wh: int, length_s: int = QUARTER) -> dict[str, Any]:
    return {"meter": meter, "start": start, "length_s": length_s, "energy_wh": energy_wh}


METERING_SETUP: list[tuple[str, str, dict[str, Any]]] = [
    ("operator", "registry.grant_role", {"account": "operator", "role": "grid_operator"}),
    (
        "house-a",
        "registry.register_device",
        {
            "device": "pv-a",
            "name": "Roof PV",
            "technology": "solar_pv",
            "fuel": "solar",
            "capacity_w": 5000,
            "commissioned": "2024-01-01",
            "country": "CN",
            "grid_region": "CN-GD",
        },
    ),
    (
        "house-b",
        "registry.register_site",
        {
            "site": "flat-b",
            "name": "Flat B",
            "country": "CN",
            "grid_region": "CN-GD",
            "max_wh_per_hour": 2000,
        },
    ),
    (
        "operator",
        "registry.register_meter",
        {
            "meter": "m-pv",
            "kind": "generation",
            "device": "pv-a",
            "gateway": "house-b",
            "interval_s": QUARTER,
        },
    ),
    (
        "operator",
        "registry.register_meter",
        {
            "meter": "m-flat",
            "kind": "consumption",
            "site": "flat-b",
            "gateway": "house-b",
            "interval_s": HOUR,
        },
    ),
    (
        "operator",
        "registry.register_meter",
        {
            "meter": "m-spare",
            "kind": "consumption",
            "site": "flat-b",
            "gateway": "house-a",
            "interval_s": HOUR,
        },
    ),
    ("house-b", "metering.submit", {"readings": [_reading("m-pv", T_S - HOUR, 1000)]}),
]
"""Block 1 of the metering vectors: a 5 kW plant commissioned a year before, a flat, three
meters (two reported by house-b, one by house-a) and one reading."""


def _setup_txs() -> list[Transaction]:
    nonces: dict[str, int] = {}
    txs = []
    for sender, kind, body in METERING_SETUP:
        nonces[sender] = nonces.get(sender, 0) + 1
        txs.append(signed_tx(sender, nonces[sender], kind, body))
    return txs


def metering_pre_state() -> State:
    """The genesis state of genesis.json with the setup block (height 1) on it."""
    state = committed_genesis(vector_genesis())
    receipts = execute_block(state, [prepare(t) for t in _setup_txs()], 1, BLOCK_TIME_MS)
    assert all(r.ok for r in receipts), [r.message for r in receipts]
    state.compute_root()
    state.finish_block()
    return state


def _metering_cases() -> list[tuple[str, Transaction]]:
    # a year and a day old at block time: derated once, 995 per mille
    limit = generation_limit_wh(5000, QUARTER, 366, 110, 5)
    before_commissioning = T_S - 367 * 86_400

    def case(sender: str, kind: str, body: dict[str, Any]) -> Transaction:
        return signed_tx(sender, CASE_NONCE, kind, body)

    def batch(*readings: dict[str, Any], sender: str = "house-b") -> Transaction:
        return case(sender, "metering.submit", {"readings": list(readings)})

    correction = {"meter": "m-pv", "start": T_S - HOUR, "energy_wh": 800, "reason": "CT ratio"}
    return [
        (
            "batch accepted",
            batch(
                _reading("m-pv", T_S - 2700, 900),
                _reading("m-pv", T_S - 1800, 1100),
                _reading("m-pv", T_S - 900, limit),
                _reading("m-flat", T_S - HOUR, 1500, HOUR),
            ),
        ),
        (
            "batch with every refusal",
            batch(
                _reading("m-pv", T_S - 7200, 500),
                _reading("m-none", T_S - 900, 1),
                _reading("m-spare", T_S - HOUR, 1, HOUR),
                _reading("m-pv", T_S - HOUR, 1, HOUR),
                _reading("m-pv", T_S - HOUR + 60, 1),
                _reading("m-pv", T_S, 1),
                _reading("m-pv", before_commissioning, 1),
                _reading("m-pv", T_S - 7200, 1),
                _reading("m-pv", T_S - HOUR, 1),
                _reading("m-pv", T_S - 6300, -1),
                _reading("m-pv", T_S - 5400, limit + 1),
            ),
        ),
        (
            "batch refused whole",
            batch(
                _reading("m-none", T_S - 900, 1),
                _reading("m-pv", T_S, 1),
                _reading("m-none", T_S - 1800, 1),
            ),
        ),
        (
            "batch from an account no meter reports through",
            batch(_reading("m-pv", T_S - 900, 1), sender="house-a"),
        ),
        ("empty batch", batch()),
        ("correction", case("operator", "metering.correct", correction)),
        (
            "correction of a missing reading",
            case("operator", "metering.correct", {**correction, "start": T_S - 900}),
        ),
        (
            "correction by a household",
            case("house-a", "metering.correct", correction),
        ),
        (
            "correction to negative energy",
            case("operator", "metering.correct", {**correction, "energy_wh": -1}),
        ),
        (
            "params",
            case(
                "operator",
                "metering.set_params",
                {"generation_margin_pct": 120, "degradation_permille_per_year": 7},
            ),
        ),
        (
            "params out of range",
            case(
                "operator",
                "metering.set_params",
                {"generation_margin_pct": 99, "degradation_permille_per_year": 7},
            ),
        ),
        (
            "params by a household",
            case(
                "house-a",
                "metering.set_params",
                {"generation_margin_pct": 120, "degradation_permille_per_year": 7},
            ),
        ),
    ]


def metering_vectors() -> dict[str, Any]:
    pre_state = metering_pre_state()
    return {
        "description": "Metering transitions: readings (one batch accepted whole, one with "
        "a reading refused for each refusal code, in the order the rules are checked), "
        "corrections and the plausibility parameters. 'pre' is genesis.json's genesis state "
        "with the block 'setup' (height 1, time 'block_time') on it. " + TRANSITIONS,
        "setup": [text(t.encode()) for t in _setup_txs()],
        "height": 2,
        "block_time": BLOCK_TIME_MS,
        "pre": state_text(pre_state.committed),
        "pre_root": pre_state.root.hex(),
        "cases": _transitions(metering_pre_state, _metering_cases(), 2, BLOCK_TIME_MS),
    }


# carbon ------------------------------------------------------------------------------------------
def _source(factor_id: str, year: int, geography: str) -> dict[str, Any]:
    return {"factor_id": factor_id, "publisher": "Ministry of Ecology and Environment",
            "document": "MEE/NBS announcement", "year": year, "geography": geography}  # fmt: skip


def _factor_set(
    set_id: str, region: str, start_s: int, end_s: int, **changes: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": set_id, "region": region, "start_s": start_s, "end_s": end_s,
        "library_version": "2026.1", "gas": "CO2",
        "grid_average": {"g_per_mwh": 530_600, "gas": "CO2", "boundary": "combustion",
                         "source": _source("cn-2023-grid", 2023, "CN")},
        "fuels": [{"fuel": "natural_gas", "unit": "GJ", "g_per_unit": 56_100, "gas": "CO2",
                   "source": _source("ipcc-2006-natural-gas", 2006, "world")}],
    }  # fmt: skip
    body.update(changes)
    return body


JAN_2025, FEB_2025, JAN_2026 = T_S, T_S + 31 * 86_400, T_S + 365 * 86_400
CARBON_SETUP: list[tuple[str, str, dict[str, Any]]] = [
    ("operator", "registry.grant_role", {"account": "operator", "role": "regulator"}),
    ("operator", "carbon.record_factor_set", _factor_set("cn-2025", "CN", JAN_2025, JAN_2026)),
]


def _carbon_setup() -> list[Transaction]:
    return [signed_tx(sender, n + 1, kind, body) for n, (sender, kind, body) in
            enumerate(CARBON_SETUP)]  # fmt: skip


def carbon_pre_state() -> State:
    """The genesis state of genesis.json with the carbon setup block (height 1) on it."""
    state = committed_genesis(vector_genesis())
    receipts = execute_block(state, [prepare(t) for t in _carbon_setup()], 1, BLOCK_TIME_MS)
    assert all(r.ok for r in receipts), [r.message for r in receipts]
    state.compute_root()
    state.finish_block()
    return state


def _carbon_cases() -> list[tuple[str, Transaction]]:
    def case(sender: str, kind: str, body: dict[str, Any]) -> Transaction:
        return signed_tx(sender, CASE_NONCE, kind, body)

    record = "carbon.record_factor_set"
    life_cycle = {"g_per_mwh": 600_000, "gas": "CO2", "boundary": "life_cycle",
                  "source": _source("cn-2023-lca", 2023, "CN")}  # fmt: skip
    co2e = {"g_per_mwh": 600_000, "gas": "CO2e", "boundary": "combustion",
            "source": _source("cn-2023-co2e", 2023, "CN")}  # fmt: skip
    return [
        ("factor set of a province", case("operator", record, _factor_set(
            "cn-gd-2025", "CN-GD", JAN_2025, FEB_2025,
            grid_average={"g_per_mwh": 441_900, "gas": "CO2", "boundary": "combustion",
                          "source": _source("cn-gd-2023-grid", 2023, "CN-GD")}))),
        ("factor set overlapping the region's", case("operator", record, _factor_set(
            "cn-2025b", "CN", FEB_2025, JAN_2026 + 31 * 86_400))),
        ("factor set id used before", case("operator", record, _factor_set(
            "cn-2025", "CN-JS", JAN_2025, FEB_2025))),
        ("factor set in another gas than its factor", case("operator", record, _factor_set(
            "cn-gd-co2e", "CN-GD", JAN_2025, FEB_2025, grid_average=co2e))),
        ("life-cycle grid factor", case("operator", record, _factor_set(
            "cn-gd-lca", "CN-GD", JAN_2025, FEB_2025, grid_average=life_cycle))),
        ("period not whole months", case("operator", record, _factor_set(
            "cn-gd-mid", "CN-GD", JAN_2025 + 86_400, FEB_2025))),
        ("factor set by a non-regulator", case("house-a", record, _factor_set(
            "cn-gd-x", "CN-GD", JAN_2025, FEB_2025))),
        ("region map", case("operator", "carbon.set_region_map",
                            {"provinces": {"CN-GD": "CN-SOUTH", "CN-JS": "CN-EAST"}})),
        ("region map across countries", case("operator", "carbon.set_region_map",
                                             {"provinces": {"CN-GD": "HK-SOUTH"}})),
    ]  # fmt: skip


def carbon_vectors() -> dict[str, Any]:
    pre_state = carbon_pre_state()
    return {
        "description": "Carbon transitions: factor sets (recorded, and refused for an overlap, a "
        "used id, mixed gases, a life-cycle factor, a period of part of a month, a sender "
        "without the regulator role) and the region map. 'pre' is genesis.json's genesis state "
        "with the block 'setup' (height 1, time 'block_time') on it. " + TRANSITIONS,
        "setup": [text(t.encode()) for t in _carbon_setup()],
        "height": 2,
        "block_time": BLOCK_TIME_MS,
        "pre": state_text(pre_state.committed),
        "pre_root": pre_state.root.hex(),
        "cases": _transitions(carbon_pre_state, _carbon_cases(), 2, BLOCK_TIME_MS),
    }


# credits and allowances --------------------------------------------------------------------------
CREDITS_TIME_MS = (FEB_2025 + 86_400) * 1000
"""2025-02-02T00:00:00Z: January has ended, so its reductions can be verified."""
JAN_2024 = JAN_2025 - 366 * 86_400
DAY_GWH = 1_000_000_000
WIND_SERIAL = "GLR-VER-CN-1-20250101-20250131-1-{}-{}"
CREDITS_SETUP: list[tuple[str, str, dict[str, Any]]] = [
    *CARBON_SETUP,
    ("operator", "registry.grant_role", {"account": "operator", "role": "carbon_verifier"}),
    ("operator", "registry.grant_role", {"account": "operator", "role": "grid_operator"}),
    ("house-a", "registry.register_device", {
        "device": "wind-a", "name": "Wind farm A", "technology": "wind_onshore", "fuel": "wind",
        "capacity_w": 100_000_000, "commissioned": "2024-01-01", "country": "CN",
        "grid_region": "CN-GD"}),
    ("operator", "registry.register_meter", {"meter": "m-wind", "kind": "generation",
                                             "device": "wind-a", "gateway": "house-b",
                                             "interval_s": 86_400}),
    ("house-b", "metering.submit", {"readings": [
        _reading("m-wind", JAN_2025 + day * 86_400, DAY_GWH, 86_400) for day in range(3)]}),
    ("house-a", "credits.register_project", {
        "id": "wind-a", "name": "Wind farm A", "device": "wind-a", "methodology": "CDM ACM0002",
        "baseline": "CN grid electricity", "monitoring_plan": "MP-1"}),
    ("operator", "credits.verify_period", {"project": "wind-a", "id": "2025-01",
                                           "start_s": JAN_2025, "end_s": FEB_2025}),
    ("operator", "credits.issue", {"project": "wind-a", "period": "2025-01", "quantity_t": 1000}),
    ("house-a", "credits.transfer", {"serial": WIND_SERIAL.format(1, 980), "to": "operator",
                                     "quantity_t": 50}),
    ("operator", "allowances.open_period", {"id": "ets-2024", "start_s": JAN_2024,
                                            "end_s": JAN_2025, "deadline_s": JAN_2026}),
    ("operator", "allowances.allocate", {"period": "ets-2024", "to": "operator",
                                         "method": "free", "quantity_t": 100}),
    ("operator", "allowances.record_emissions", {"period": "ets-2024", "holder": "operator",
                                                 "emissions_g": 90_500_000}),
    ("operator", "exchange.place", {"instrument": "allowances:ets-2024", "side": "sell",
                                    "price_fen_per_t": 4_000, "quantity_t": 5}),
]  # fmt: skip
"""Block 1 of the credit vectors: the carbon setup; a 100 MW wind farm of house-a metered
1 GWh a day on 1-3 January 2025, registered as project 1; January verified (3 GWh x 530,600
g/MWh = 1,591 t) and 1,000 t issued (980 to house-a, 20 to the buffer pool), 50 of them
transferred to the operator; period ets-2024 opened, 100 t allocated to the operator and its
verified emissions of 90.5 t (an obligation of 91 t) recorded; the operator offers 5 t of them
on the exchange at 4,000 fen/t (order 1, resting)."""


def _credits_setup() -> list[Transaction]:
    nonces: dict[str, int] = {}
    txs = []
    for sender, kind, body in CREDITS_SETUP:
        nonces[sender] = nonces.get(sender, 0) + 1
        txs.append(signed_tx(sender, nonces[sender], kind, body))
    return txs


def credits_pre_state() -> State:
    """The genesis state of genesis.json with the credits setup block (height 1) on it."""
    state = committed_genesis(vector_genesis())
    receipts = execute_block(state, [prepare(t) for t in _credits_setup()], 1, CREDITS_TIME_MS)
    assert all(r.ok for r in receipts), [r.message for r in receipts]
    state.compute_root()
    state.finish_block()
    return state


def _credits_cases() -> list[tuple[str, Transaction]]:
    def case(sender: str, kind: str, body: dict[str, Any]) -> Transaction:
        return signed_tx(sender, CASE_NONCE, kind, body)

    held = WIND_SERIAL.format(51, 980)
    retire = {"serial": held, "beneficiary": "Shekou community", "reason": "2025 events",
              "claim_start_s": JAN_2025, "claim_end_s": FEB_2025}  # fmt: skip
    issue = {"project": "wind-a", "period": "2025-01"}
    alw = {"instrument": "allowances:ets-2024"}
    return [
        ("issue the rest of the period", case("operator", "credits.issue", issue)),
        ("issue beyond verified reductions", case("operator", "credits.issue",
                                                  {**issue, "quantity_t": 592})),
        ("issue serials issued before", case("operator", "credits.issue",
                                             {**issue, "quantity_t": 10, "first": 1})),
        ("issue by a non-verifier", case("house-a", "credits.issue", issue)),
        ("verify an overlapping period", case("operator", "credits.verify_period", {
            "project": "wind-a", "id": "jan-b", "start_s": JAN_2025, "end_s": FEB_2025})),
        ("transfer part of a block", case("house-a", "credits.transfer",
                                          {"serial": held, "to": "house-b", "quantity_t": 30})),
        ("split a block", case("house-a", "credits.split", {"serial": held, "quantity_t": 10})),
        ("retire for a beneficiary", case("house-a", "credits.retire",
                                          {**retire, "quantity_t": 5})),
        ("retire someone else's credits", case("house-b", "credits.retire", retire)),
        ("retire a serial split since", case("house-a", "credits.retire",
                                             {**retire, "serial": WIND_SERIAL.format(1, 980)})),
        ("cancel buffer credits for a reversal", case("operator", "credits.cancel", {
            "serial": WIND_SERIAL.format(981, 1000), "reason": "reversal", "quantity_t": 5})),
        ("surrender allowances", case("operator", "allowances.surrender",
                                      {"period": "ets-2024", "quantity_t": 80})),
        ("surrender more than owed", case("operator", "allowances.surrender",
                                          {"period": "ets-2024", "quantity_t": 92})),
        ("surrender credits within the quota", case("operator", "allowances.surrender_credits", {
            "period": "ets-2024", "serial": WIND_SERIAL.format(1, 50), "quantity_t": 4})),
        ("surrender credits above the quota", case("operator", "allowances.surrender_credits", {
            "period": "ets-2024", "serial": WIND_SERIAL.format(1, 50), "quantity_t": 5})),
        ("buy allowances from the resting ask", case("house-a", "exchange.place", {
            **alw, "side": "buy", "price_fen_per_t": 4_500, "quantity_t": 1})),
        ("buy beyond the buyer's balance", case("house-a", "exchange.place", {
            **alw, "side": "buy", "price_fen_per_t": 4_000, "quantity_t": 2})),
        ("offer credits, locking the lowest serials", case("house-a", "exchange.place", {
            "instrument": "credits:wind_onshore:2025", "side": "sell",
            "price_fen_per_t": 3_000, "quantity_t": 100})),
        ("offer more credits than held", case("house-b", "exchange.place", {
            "instrument": "credits:wind_onshore:2025", "side": "sell",
            "price_fen_per_t": 3_000, "quantity_t": 1})),
        ("cancel another account's order", case("house-a", "exchange.cancel", {"order": 1})),
        ("cancel an order, unlocking its allowances", case("operator", "exchange.cancel",
                                                           {"order": 1})),
    ]  # fmt: skip


def credits_vectors() -> dict[str, Any]:
    pre_state = credits_pre_state()
    return {
        "description": "Credit and allowance transitions: issuance (the rest of a verified "
        "period; refused beyond its verified tonnes, for serials issued before, by a sender "
        "without the carbon verifier role), a verification overlapping a verified period, "
        "transfer and split of part of a block, retirement (and refusals for someone else's "
        "credits and a serial split since), a cancellation from the buffer pool, surrenders of "
        "allowances and of credits within and above the 5 % quota, exchange orders (a buy trading "
        "with the resting ask at its price, delivered against payment; a buy beyond the balance; "
        "a credit offer locking the lowest serials; an offer beyond the credits held; "
        "cancellations). 'pre' is genesis.json's "
        "genesis state with the block 'setup' (height 1, time 'block_time') on it. " + TRANSITIONS,
        "setup": [text(t.encode()) for t in _credits_setup()],
        "height": 2,
        "block_time": CREDITS_TIME_MS,
        "pre": state_text(pre_state.committed),
        "pre_root": pre_state.root.hex(),
        "cases": _transitions(credits_pre_state, _credits_cases(), 2, CREDITS_TIME_MS),
    }


# products ----------------------------------------------------------------------------------------
def _gtin(first13: str) -> str:
    from gridledger.contracts.products.gs1 import check_digit

    return first13 + str(check_digit(first13))


P_INGOT, P_RIM, P_CAR = _gtin("0695000000001"), _gtin("0695000000002"), _gtin("0695000000003")
PRODUCTS_TIME_MS = BLOCK_TIME_MS + 3_600_000
PRODUCTS_SETUP: list[tuple[str, str, dict[str, Any]]] = [
    ("house-a", "registry.register_site", {"site": "works-a", "name": "Works A", "country": "CN",
                                           "grid_region": "CN-GD", "max_wh_per_hour": 10**8}),
    ("house-a", "products.register_type", {"gtin": P_INGOT, "name": "Aluminium ingot",
                                           "unit": "kg", "cn_code": "76011000"}),
    ("house-a", "products.register_type", {"gtin": P_RIM, "name": "Wheel rim", "unit": "unit",
                                           "unit_mass_g": 9000}),
    ("house-a", "products.register_type", {"gtin": P_CAR, "name": "Car", "unit": "unit",
                                           "unit_mass_g": 1_400_000}),
    ("house-a", "products.register_batch", {"gtin": P_INGOT, "lot": "L1", "site": "works-a"}),
    ("house-a", "products.complete_batch", {"gtin": P_INGOT, "lot": "L1", "quantity": 1000}),
    ("house-a", "products.register_batch", {"gtin": P_RIM, "lot": "R1", "site": "works-a"}),
    ("house-a", "products.register_batch", {"gtin": P_RIM, "lot": "R2", "site": "works-a"}),
    ("house-a", "products.consume", {"gtin": P_RIM, "lot": "R2",
                                     "inputs": [{"gtin": P_INGOT, "lot": "L1", "quantity": 9}]}),
    ("house-a", "products.complete_batch", {"gtin": P_RIM, "lot": "R2", "quantity": 1}),
    ("house-a", "products.register_items", {"gtin": P_RIM, "serials": ["S1", "S2"]}),
    ("house-a", "products.register_items", {"gtin": P_CAR, "serials": ["V1"]}),
    ("house-a", "products.ship", {"gtin": P_RIM, "serial": "S1", "to": "operator"}),
    ("house-a", "products.ship", {"gtin": P_INGOT, "lot": "L1", "quantity": 300,
                                  "to": "operator"}),
]  # fmt: skip
"""Block 1 of the product vectors: house-a (households) registers its works, the ingot (kg),
rim (9 kg pieces) and car types; makes ingot batch L1 (1,000 kg); starts rim batch R1; makes
rim batch R2 from 9 kg of L1 (no footprint of L1 yet); registers rims S1, S2 and car V1;
ships S1 and 300 kg of L1 (shipment 1) to the operator's organisation."""


def _products_setup() -> list[Transaction]:
    nonces: dict[str, int] = {}
    txs = []
    for sender, kind, body in PRODUCTS_SETUP:
        nonces[sender] = nonces.get(sender, 0) + 1
        txs.append(signed_tx(sender, nonces[sender], kind, body))
    return txs


def products_pre_state() -> State:
    """The genesis state of genesis.json with the products setup block (height 1) on it."""
    state = committed_genesis(vector_genesis())
    receipts = execute_block(state, [prepare(t) for t in _products_setup()], 1, PRODUCTS_TIME_MS)
    assert all(r.ok for r in receipts), [r.message for r in receipts]
    state.compute_root()
    state.finish_block()
    return state


def _products_cases() -> list[tuple[str, Transaction]]:
    def case(sender: str, kind: str, body: dict[str, Any]) -> Transaction:
        return signed_tx(sender, CASE_NONCE, kind, body)

    consume = {"gtin": P_RIM, "lot": "R1"}
    default = {"id": "alumina", "description": "alumina, default values", "mass_g": 1_930_000,
               "direct_g_per_kg": 80, "indirect_g_per_kg": 520, "gas": "CO2",
               "source": "test defaults"}  # fmt: skip
    return [
        ("register a serial twice", case("house-a", "products.register_items",
                                         {"gtin": P_RIM, "serials": ["S3", "S1"]})),
        ("a GTIN with a wrong check digit", case("house-a", "products.register_type", {
            "gtin": P_RIM[:-1] + str((int(P_RIM[-1]) + 1) % 10), "name": "x", "unit": "kg"})),
        ("consume an input into a batch in production", case("house-a", "products.consume", {
            **consume, "inputs": [{"gtin": P_INGOT, "lot": "L1", "quantity": 360}]})),
        ("consume more than was received", case("house-a", "products.consume", {
            **consume, "inputs": [{"gtin": P_INGOT, "lot": "L1", "quantity": 692}]})),
        ("ship an item someone else holds", case("operator", "products.ship", {
            "gtin": P_RIM, "serial": "S2", "to": "households"})),
        ("receive a shipment", case("operator", "products.receive",
                                    {"gtin": P_INGOT, "lot": "L1", "shipment": 1})),
        ("receive an item shipped to another", case("house-b", "products.receive",
                                                    {"gtin": P_RIM, "serial": "S1"})),
        ("install a rim into a car", case("house-a", "products.install", {
            "gtin": P_RIM, "serial": "S2", "parent_gtin": P_CAR, "parent_serial": "V1"})),
        ("a footprint of a batch in production", case("house-a", "products.record_footprint",
                                                      consume)),
        ("a footprint from default inputs", case("house-a", "products.record_footprint", {
            "gtin": P_INGOT, "lot": "L1", "defaults": [default]})),
        ("a footprint that would omit an input", case("house-a", "products.record_footprint",
                                                      {"gtin": P_RIM, "lot": "R2"})),
        ("recall a batch", case("house-a", "products.recall",
                                {"gtin": P_INGOT, "lot": "L1", "reason": "porosity"})),
    ]  # fmt: skip


def product_transition_vectors() -> dict[str, Any]:
    pre_state = products_pre_state()
    return {
        "description": "Products transitions ([formats.md section 6], docs/products.md): a "
        "serial registered twice, a GTIN with a wrong check digit, a bill of materials within "
        "and beyond what was received, custody moved by a non-holder and received by another "
        "than the consignee, a shipment received, an item installed, footprints of a batch in "
        "production, from default inputs and omitting an input, a recall. 'pre' is "
        "genesis.json's genesis state with the block 'setup' (height 1, time 'block_time') "
        "on it. " + TRANSITIONS,
        "setup": [text(t.encode()) for t in _products_setup()],
        "height": 2,
        "block_time": PRODUCTS_TIME_MS,
        "pre": state_text(pre_state.committed),
        "pre_root": pre_state.root.hex(),
        "cases": _transitions(products_pre_state, _products_cases(), 2, PRODUCTS_TIME_MS),
    }


# market ------------------------------------------------------------------------------------------
M_START = T_S + 2 * HOUR
"""The market interval of the vectors: 2025-01-01T02:00:00Z, hourly, gate closure 5 minutes
before."""
M_GATE_MS = (M_START - 300) * 1000
M_OPEN_MS = BLOCK_TIME_MS + 60_000
"""Block time of the second setup block (orders, choices, tariffs), long before gate closure."""
M_ENDED_MS = (M_START + HOUR) * 1000
M_AFTER_MS = M_ENDED_MS + 60_000


def _device(device: str, capacity_w: int) -> dict[str, Any]:
    return {
        "device": device,
        "name": f"Roof PV {device}",
        "technology": "solar_pv",
        "fuel": "solar",
        "capacity_w": capacity_w,
        "commissioned": "2024-01-01",
        "country": "CN",
        "grid_region": "CN-GD",
    }


def _site(site: str, **extra: Any) -> dict[str, Any]:
    return {
        "site": site,
        "name": f"Flat {site}",
        "country": "CN",
        "grid_region": "CN-GD",
        "max_wh_per_hour": 2000,
        **extra,
    }


def _meter(meter: str, interval_s: int = HOUR, **binding: str) -> dict[str, Any]:
    kind = "generation" if "device" in binding else "consumption"
    return {"meter": meter, "kind": kind, "gateway": "house-b", "interval_s": interval_s,
            **binding}  # fmt: skip


def _bid(site: str, quantity_wh: int, price: int, **extra: Any) -> dict[str, Any]:
    return {"interval": M_START, "site": site, "quantity_wh": quantity_wh, "price": price,
            **extra}  # fmt: skip


def _offer(device: str, quantity_wh: int, price: int) -> dict[str, Any]:
    return {"interval": M_START, "device": device, "quantity_wh": quantity_wh, "price": price}


Step = tuple[str, str, dict[str, Any]]

MARKET_STATES: list[tuple[str, str, int, list[Step]]] = [
    (
        "registered",
        "genesis",
        BLOCK_TIME_MS,
        [
            ("operator", "registry.grant_role", {"account": "operator", "role": "grid_operator"}),
            ("house-a", "registry.register_device", _device("pv-a", 5000)),
            ("house-a", "registry.register_device", _device("pv-b", 3000)),
            ("house-a", "registry.register_site", _site("flat-a")),
            ("house-b", "registry.register_site", _site("flat-b")),
            ("house-b", "registry.register_site", _site("flat-b2")),
            ("house-b", "registry.register_site", _site("flat-c")),
            ("operator", "registry.register_site", _site("depot")),
            ("operator", "registry.register_meter", _meter("m-pv-a", device="pv-a")),
            ("operator", "registry.register_meter", _meter("m-pv-b", device="pv-b")),
            ("operator", "registry.register_meter", _meter("m-flat-a", site="flat-a")),
            ("operator", "registry.register_meter", _meter("m-flat-b", site="flat-b")),
            ("operator", "registry.register_meter", _meter("m-flat-b2", site="flat-b2")),
            ("operator", "funds.mint", {"to": "house-b", "amount": 100}),
            ("operator", "funds.mint", {"to": "operator", "amount": 100_000}),
        ],
    ),
    (
        "book",
        "registered",
        M_OPEN_MS,
        [
            ("operator", "market.set_tariffs", {"sell_price": 60, "feed_in_price": 30}),
            ("house-b", "market.place_bid", _bid("flat-b", 1000, 80, preferred=["pv-b"])),
            ("house-b", "market.place_bid", _bid("flat-b", 200, 90)),
            ("house-a", "market.place_offer", _offer("pv-a", 1500, 40)),
            (
                "house-a",
                "market.set_preference",
                {
                    "site": "flat-a",
                    "choice": "clean",
                    "price_cap": 70,
                    "quantity_wh": 700,
                    "preferred": ["pv-b"],
                },
            ),
            (
                "house-b",
                "market.set_preference",
                {"site": "flat-b2", "choice": "clean", "price_cap": 70, "quantity_wh": 1000},
            ),
            (
                "house-a",
                "market.set_standing_offer",
                {"device": "pv-b", "floor_price": 45, "quantity_wh": 1000},
            ),
        ],
    ),
    (
        "book_pay_as_bid",
        "book",
        M_OPEN_MS + 60_000,
        [("operator", "market.set_params", {"mechanism": "pay_as_bid"})],
    ),
    (
        "book_preferred_first",
        "book",
        M_OPEN_MS + 60_000,
        [("operator", "market.set_params", {"mechanism": "preferred_first"})],
    ),
    ("cleared", "book", M_GATE_MS, [("operator", "market.clear", {"interval": M_START})]),
    (
        "measured",
        "cleared",
        M_ENDED_MS,
        [
            (
                "house-b",
                "metering.submit",
                {
                    "readings": [
                        _reading("m-pv-a", M_START, 1000, HOUR),
                        _reading("m-pv-b", M_START, 500, HOUR),
                        _reading("m-flat-a", M_START, 400, HOUR),
                        _reading("m-flat-b", M_START, 2000, HOUR),
                    ]
                },
            )
        ],
    ),
    (
        "settled",
        "measured",
        M_AFTER_MS,
        [
            ("operator", "market.settle", {"interval": M_START}),
            ("operator", "funds.mint", {"to": "house-b", "amount": 5}),
        ],
    ),
]
"""The market vectors' states, each a block (its height one above its parent's) on its parent
(``genesis`` is genesis.json's state): sites, plants, meters and money; then tariffs, orders
and standing choices for ``M_START``; the same under the two other mechanisms; cleared; its
meter data in; settled (with a shortfall that becomes arrears, and a little money minted to
the debtor after)."""


NamedStates = list[tuple[str, str, int, list[tuple[str, str, dict[str, Any]]]]]
"""``(name, parent, block time, [(sender, kind, body)])``: each state a block on its parent."""


def _market_txs(spec: NamedStates | None = None) -> dict[str, list[Transaction]]:
    """Each state's block, signed, with nonces rising per sender through the list."""
    nonces: dict[str, int] = {}
    out: dict[str, list[Transaction]] = {}
    for name, _, _, steps in MARKET_STATES if spec is None else spec:
        txs = []
        for sender, kind, body in steps:
            nonces[sender] = nonces.get(sender, 0) + 1
            txs.append(signed_tx(sender, nonces[sender], kind, body))
        out[name] = txs
    return out


def market_states(spec: NamedStates | None = None) -> dict[str, tuple[State, int]]:
    """Each named state and its height, built block by block from genesis.json's state."""
    spec = MARKET_STATES if spec is None else spec
    txs = _market_txs(spec)
    states: dict[str, tuple[State, int]] = {"genesis": (committed_genesis(vector_genesis()), 0)}
    for name, parent, time_ms, _ in spec:
        base, height = states[parent]
        state = State(dict(base.committed))
        receipts = execute_block(state, [prepare(t) for t in txs[name]], height + 1, time_ms)
        assert all(r.ok for r in receipts), [(r.code, r.message) for r in receipts]
        state.compute_root()
        state.finish_block()
        states[name] = (state, height + 1)
    return states


def _market_cases() -> list[tuple[str, str, int, Transaction]]:
    """``(name, pre-state, block time, tx)``: each runs alone as the block after its state."""

    def case(sender: str, kind: str, body: dict[str, Any]) -> Transaction:
        return signed_tx(sender, CASE_NONCE, kind, body)

    opened = M_OPEN_MS  # before gate closure
    return [
        # parameters and tariffs
        ("set tariffs", "registered", opened,
         case("operator", "market.set_tariffs", {"sell_price": 60, "feed_in_price": 30})),
        ("set tariffs by a household", "registered", opened,
         case("house-a", "market.set_tariffs", {"sell_price": 60, "feed_in_price": 30})),
        ("set tariffs with a negative feed-in price", "registered", opened,
         case("operator", "market.set_tariffs", {"sell_price": 60, "feed_in_price": -1})),
        ("set params", "registered", opened,
         case("operator", "market.set_params", {"mechanism": "pay_as_bid", "gate_closure_s": 600})),
        ("set params with an interval length not allowed", "registered", opened,
         case("operator", "market.set_params", {"interval_s": 600})),
        ("set params with a horizon shorter than an interval", "registered", opened,
         case("operator", "market.set_params", {"horizon_s": 900})),
        # bids and offers
        ("place bid (escrowed)", "registered", opened,
         case("house-b", "market.place_bid", _bid("flat-b", 1000, 80, preferred=["pv-a"]))),
        ("place bid beyond the balance", "registered", opened,
         case("house-a", "market.place_bid", _bid("flat-a", 100_000, 100))),
        ("place bid for a misaligned interval", "registered", opened,
         case("house-b", "market.place_bid",
              {**_bid("flat-b", 100, 50), "interval": M_START + 60})),
        ("place bid for an interval that has ended", "registered", opened,
         case("house-b", "market.place_bid", {**_bid("flat-b", 100, 50), "interval": T_S - HOUR})),
        ("place bid beyond the horizon", "registered", opened,
         case("house-b", "market.place_bid",
              {**_bid("flat-b", 100, 50), "interval": M_START + 8 * 86_400})),
        ("place bid for an unknown site", "registered", opened,
         case("house-b", "market.place_bid", _bid("flat-z", 100, 50))),
        ("place bid for another organisation's site", "registered", opened,
         case("house-b", "market.place_bid", _bid("depot", 100, 50))),
        ("place bid for a site without a meter", "registered", opened,
         case("house-b", "market.place_bid", _bid("flat-c", 100, 50))),
        ("place bid preferring an unknown plant", "registered", opened,
         case("house-b", "market.place_bid", _bid("flat-b", 100, 50, preferred=["pv-z"]))),
        ("place bid of zero Wh", "registered", opened,
         case("house-b", "market.place_bid", _bid("flat-b", 0, 50))),
        ("place bid at a price of zero", "registered", opened,
         case("house-b", "market.place_bid", _bid("flat-b", 100, 0))),
        ("place offer", "registered", opened,
         case("house-a", "market.place_offer", _offer("pv-a", 1500, 40))),
        ("place offer by a household without the producer role", "registered", opened,
         case("house-b", "market.place_offer", _offer("pv-a", 1500, 40))),
        # standing choices
        ("set preference", "registered", opened,
         case("house-b", "market.set_preference",
              {"site": "flat-b", "choice": "clean", "price_cap": 70, "preferred": ["pv-a"]})),
        ("set preference with an unknown choice", "registered", opened,
         case("house-b", "market.set_preference", {"site": "flat-b", "choice": "green"})),
        ("set standing offer", "registered", opened,
         case("house-a", "market.set_standing_offer", {"device": "pv-a", "floor_price": 35})),
        ("set standing offer without a floor price", "registered", opened,
         case("house-a", "market.set_standing_offer", {"device": "pv-a"})),
        ("withdraw standing offer", "book", opened + 120_000,
         case("house-a", "market.set_standing_offer", {"device": "pv-b", "active": False})),
        # cancelling
        ("cancel order", "book", opened + 120_000,
         case("house-b", "market.cancel_order", {"interval": M_START, "order": 2})),
        ("cancel another account's order", "book", opened + 120_000,
         case("house-a", "market.cancel_order", {"interval": M_START, "order": 2})),
        ("cancel an unknown order", "book", opened + 120_000,
         case("house-b", "market.cancel_order", {"interval": M_START, "order": 99})),
        ("cancel after gate closure", "book", M_GATE_MS,
         case("house-b", "market.cancel_order", {"interval": M_START, "order": 2})),
        ("place bid after gate closure", "book", M_GATE_MS,
         case("house-b", "market.place_bid", _bid("flat-b", 100, 95))),
        # clearing
        ("clear without tariffs", "registered", M_GATE_MS,
         case("operator", "market.clear", {"interval": M_START})),
        ("clear before gate closure", "book", M_GATE_MS - 1000,
         case("operator", "market.clear", {"interval": M_START})),
        ("clear a misaligned interval", "book", M_GATE_MS,
         case("operator", "market.clear", {"interval": M_START + 60})),
        ("clear an interval older than the clearing window", "book", M_GATE_MS,
         case("operator", "market.clear", {"interval": M_START - 8 * 86_400})),
        ("clear pay-as-clear, with standing orders", "book", M_GATE_MS,
         case("house-a", "market.clear", {"interval": M_START})),
        ("clear pay-as-bid, with standing orders", "book_pay_as_bid", M_GATE_MS,
         case("house-a", "market.clear", {"interval": M_START})),
        ("clear preferred-first, with standing orders", "book_preferred_first", M_GATE_MS,
         case("house-a", "market.clear", {"interval": M_START})),
        ("clear twice", "cleared", M_GATE_MS,
         case("operator", "market.clear", {"interval": M_START})),
        # settlement
        ("settle before clearing", "book", M_AFTER_MS,
         case("operator", "market.settle", {"interval": M_START})),
        ("settle before the meter data is in", "cleared", M_AFTER_MS,
         case("operator", "market.settle", {"interval": M_START})),
        ("settle, with a shortfall and grid import and export", "measured", M_AFTER_MS,
         case("house-a", "market.settle", {"interval": M_START})),
        ("settle twice", "settled", M_AFTER_MS + 60_000,
         case("operator", "market.settle", {"interval": M_START})),
        # arrears
        ("pay arrears in part", "settled", M_AFTER_MS + 60_000,
         case("house-b", "market.pay_arrears", {"creditor": "operator"})),
        ("pay arrears that are not owed", "settled", M_AFTER_MS + 60_000,
         case("house-a", "market.pay_arrears", {"creditor": "operator"})),
    ]  # fmt: skip


def _changes(pre: dict[bytes, bytes], post: dict[bytes, bytes]) -> dict[str, str | None]:
    """The keys whose value differs, with the new value (``None``: deleted)."""
    keys = sorted(set(pre) | set(post))
    return {text(k): None if k not in post else text(post[k]) for k in keys
            if pre.get(k) != post.get(k)}  # fmt: skip


def _named_state_cases(
    spec: NamedStates, named: list[tuple[str, str, int, Transaction]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The named states of ``spec`` as vectors, and each case run alone on its state."""
    states = market_states(spec)
    txs = _market_txs(spec)
    cases = []
    for name, pre, time_ms, tx in named:
        base, height = states[pre]
        case: dict[str, Any] = {
            "name": name,
            "pre": pre,
            "height": height + 1,
            "block_time": time_ms,
            "tx": text(tx.encode()),
        }
        state = State(dict(base.committed))
        case.update(_outcome(state, tx, height + 1, time_ms))
        if case["stage"] == "execute":
            case.update(
                {
                    "changes": _changes(base.committed, state.committed),
                    "post_root": state.root.hex(),
                }
            )
        cases.append(case)
    named_states = {
        name: {
            "parent": parent,
            "height": states[name][1],
            "block_time": time_ms,
            "txs": [text(t.encode()) for t in txs[name]],
            "state": state_text(states[name][0].committed),
            "root": states[name][0].root.hex(),
        }
        for name, parent, time_ms, _ in spec
    }
    return named_states, cases


def market_vectors() -> dict[str, Any]:
    states, cases = _named_state_cases(MARKET_STATES, _market_cases())
    return {
        "description": "Market transitions: tariffs, parameters, bids (escrowed), offers, "
        "cancelling, standing choices, clearing under each mechanism with standing orders "
        "placed and one skipped, settlement with a shortfall and grid import and export, "
        "arrears, and a refusal for every market.* code. 'states' are named states, each the "
        "block 'txs' at 'height' and 'block_time' on its 'parent' state (genesis: "
        "genesis.json's state), every receipt ok; 'state' is the whole result and 'root' its "
        "root. Run each case's 'tx' as the only transaction of block 'height' at "
        "'block_time' on the state 'pre'. Stage 'prepare': refused before execution with "
        "'error'. Stage 'execute': the canonical receipt ('error' null when ok), 'changes' "
        "(the keys whose value differs after the block, with the new value, null when "
        "deleted) and the resulting root 'post_root'.",
        "interval": M_START,
        "states": states,
        "cases": cases,
    }


# governance ----------------------------------------------------------------------------------
G_TIME_MS = BLOCK_TIME_MS + 3_600_000
G_DAY_MS = 86_400_000


def _new_org(org: str, node: str, **extra: Any) -> dict[str, Any]:
    """An add_organisation action for ``org`` whose node key is ``node``'s."""
    return {
        "type": "add_organisation",
        "org": org,
        "name": org.replace("-", " ").title(),
        "roles": ["operator", "producer", "grid_operator"],
        "node_key": key_of(node).public_key,
        "etcd_peer_url": f"https://{org}.example:2380",
        "etcd_client_url": f"https://{org}.example:2379",
        "api_url": f"https://{org}.example:8443",
        **extra,
    }


def _operator_of(org: str, account: str) -> dict[str, Any]:
    return {"account": account, "org": org, "public_key": key_of(account).public_key,
            "roles": ["operator"]}  # fmt: skip


GOVERNANCE_STATES: NamedStates = [
    (
        "three_orgs",
        "genesis",
        G_TIME_MS,
        [
            ("operator", "consortium.propose", {"action": _new_org("utility-b", "node-b")}),
            ("operator", "consortium.propose", {"action": _new_org("utility-c", "node-c")}),
            ("operator", "registry.add_account", _operator_of("utility-b", "operator-b")),
            ("operator", "registry.add_account", _operator_of("utility-c", "operator-c")),
        ],
    ),
    (
        "rotation_proposed",
        "three_orgs",
        G_TIME_MS + 60_000,
        [
            (
                "operator",
                "consortium.propose",
                {
                    "action": {
                        "type": "rotate_node_key",
                        "org": "utility-b",
                        "node_key": key_of("node-b-2").public_key,
                    }
                },
            ),
        ],
    ),
    (
        "rotation_approved_once",
        "rotation_proposed",
        G_TIME_MS + 120_000,
        [("operator-b", "consortium.approve", {"proposal": 3})],
    ),
    (
        "rotation_withdrawn",
        "rotation_approved_once",
        G_TIME_MS + 180_000,
        [("operator", "consortium.withdraw", {"proposal": 3})],
    ),
]
"""The governance vectors' states: on genesis.json's one-organisation chain, the operator
proposes two organisations (each executes at once: one organisation is the whole electorate)
and registers their operators; from the next height three organisations propose, so the
rotation of utility-b's node key needs all three approvals; one comes, then it is withdrawn."""


def _governance_cases() -> list[tuple[str, str, int, Transaction]]:
    """``(name, pre-state, block time, tx)``: each runs alone as the block after its state."""

    def case(sender: str, kind: str, body: dict[str, Any]) -> Transaction:
        return signed_tx(sender, CASE_NONCE, kind, body)

    def propose(sender: str, action: dict[str, Any], **extra: Any) -> Transaction:
        return case(sender, "consortium.propose", {"action": action, **extra})

    later = G_TIME_MS + 240_000
    expired = G_TIME_MS + 60_000 + 7 * G_DAY_MS + 1000  # one second past the rotation's expiry
    changes = {"block_max_txs": 250}
    upgrade = {"type": "schedule_upgrade", "height": 100, "changes": changes}
    direct = {"height": 100, "changes": changes}
    return [
        # a chain of one organisation: every proposal executes at once
        ("add an organisation (the only organisation approves)", "genesis", G_TIME_MS,
         propose("operator", _new_org("utility-b", "node-b"))),
        ("remove the last organisation allowed to propose", "genesis", G_TIME_MS,
         propose("operator", {"type": "remove_organisation", "org": "operator"})),
        ("direct upgrade by the only organisation", "genesis", G_TIME_MS,
         case("operator", "chain.schedule_upgrade", direct)),
        ("propose by a household", "genesis", G_TIME_MS, propose("house-a", upgrade)),
        # three organisations: proposals wait for approvals
        ("propose an upgrade", "three_orgs", later, propose("operator-c", upgrade)),
        ("propose removing an organisation", "three_orgs", later,
         propose("operator-b", {"type": "remove_organisation", "org": "utility-c"})),
        ("propose adding an organisation", "three_orgs", later,
         propose("operator", _new_org("utility-d", "node-d"), expires_at_s=later // 1000 + 3600)),
        ("propose a node key another organisation holds", "three_orgs", later,
         propose("operator", {"type": "rotate_node_key", "org": "utility-c",
                              "node_key": key_of("node-b").public_key})),
        ("propose with an expiry before the block time", "three_orgs", later,
         propose("operator", upgrade, expires_at_s=later // 1000 - 1)),
        ("propose an upgrade of the proposers", "three_orgs", later,
         propose("operator", {"type": "schedule_upgrade", "height": 100,
                              "changes": {"proposers": ["operator"]}})),
        ("propose an organisation with a malformed URL", "three_orgs", later,
         propose("operator", _new_org("utility-d", "node-d", api_url="utility-d:8443"))),
        ("direct upgrade in a chain of several organisations", "three_orgs", later,
         case("operator", "chain.schedule_upgrade", direct)),
        # approvals
        ("the approval that reaches the threshold rotates the key", "rotation_approved_once",
         later, case("operator-c", "consortium.approve", {"proposal": 3})),
        ("approve twice", "rotation_approved_once", later,
         case("operator-b", "consortium.approve", {"proposal": 3})),
        ("approve by a household", "rotation_approved_once", later,
         case("house-a", "consortium.approve", {"proposal": 3})),
        ("approve after expiry", "rotation_approved_once", expired,
         case("operator-c", "consortium.approve", {"proposal": 3})),
        ("approve an unknown proposal", "rotation_approved_once", later,
         case("operator-c", "consortium.approve", {"proposal": 4})),
        ("approve a withdrawn proposal", "rotation_withdrawn", later,
         case("operator-c", "consortium.approve", {"proposal": 3})),
        # withdrawal
        ("withdraw", "rotation_approved_once", later,
         case("operator", "consortium.withdraw", {"proposal": 3})),
        ("withdraw another organisation's proposal", "rotation_approved_once", later,
         case("operator-c", "consortium.withdraw", {"proposal": 3})),
    ]  # fmt: skip


def governance_vectors() -> dict[str, Any]:
    states, cases = _named_state_cases(GOVERNANCE_STATES, _governance_cases())
    return {
        "description": "Consortium governance (docs/governance.md): proposals, approvals by "
        "more than two thirds of the organisations allowed to propose, withdrawal, expiry, "
        "and the effects of an executed proposal from the next height (proposers through an "
        "upgrade at height + 1, a node key and its history). 'states' and 'cases' are read "
        "as in market.json: each state a block on its parent (genesis: genesis.json's "
        "state), each case's 'tx' the only transaction of block 'height' at 'block_time' on "
        "the state 'pre', refused before execution ('stage' 'prepare') or executed, with its "
        "canonical receipt, 'changes' and 'post_root'.",
        "states": states,
        "cases": cases,
    }


# attestations and finality -------------------------------------------------------------------
A_TIME_MS = BLOCK_TIME_MS + 7_200_000
A_NODE_KEYS = {"operator": "node", "utility-b": "node-b", "utility-c": "node-c",
               "utility-d": "node-d"}  # fmt: skip
"""The node key (by vector key name) each organisation starts with; utility-b's becomes
``node-b-2`` from height 4."""


def _attestation_chain() -> tuple[list[tuple[Block, str]], dict[str, Any], dict[str, Any]]:
    """A chain of four organisations on genesis.json's: blocks 1-6 with their state roots,
    the consortium keys file as the state after block 4 knows it, and proofs of block 4.

    Block 1 (operator) adds utility-b, -c and -d (each executes at once: the operator is the
    whole electorate at height 1) and two operator accounts; from height 2 four organisations
    propose (quorum 3). Block 2 (utility-b) proposes rotating utility-b's node key, block 3
    (utility-c) approves it twice, so from height 4 utility-b signs with ``node-b-2``. Block 4
    (utility-b, new key) carries two transactions; blocks 5 (utility-d) and 6 (operator) none.
    """

    genesis = vector_genesis()
    state = committed_genesis(genesis)
    parent = genesis_header(genesis, state.root)
    rotate = {"type": "rotate_node_key", "org": "utility-b",
              "node_key": key_of("node-b-2").public_key}  # fmt: skip
    bodies: list[tuple[str, str, list[tuple[str, int, str, dict[str, Any]]]]] = [
        ("operator", "node", [
            ("operator", 1, "consortium.propose", {"action": _new_org("utility-b", "node-b")}),
            ("operator", 2, "consortium.propose", {"action": _new_org("utility-c", "node-c")}),
            ("operator", 3, "consortium.propose", {"action": _new_org("utility-d", "node-d")}),
            ("operator", 4, "registry.add_account", _operator_of("utility-b", "operator-b")),
            ("operator", 5, "registry.add_account", _operator_of("utility-c", "operator-c")),
        ]),
        ("utility-b", "node-b", [("operator", 6, "consortium.propose", {"action": rotate})]),
        ("utility-c", "node-c", [
            ("operator-b", 1, "consortium.approve", {"proposal": 4}),
            ("operator-c", 1, "consortium.approve", {"proposal": 4}),
        ]),
        ("utility-b", "node-b-2", [
            ("house-a", 1, "funds.transfer", {"to": "house-b", "amount": 1200}),
            ("operator", 7, "funds.mint", {"to": "house-b", "amount": 300}),
        ]),
        ("utility-d", "node-d", []),
        ("operator", "node", []),
    ]  # fmt: skip
    blocks: list[tuple[Block, str]] = []
    keys: dict[str, Any] = {}
    proofs: dict[str, Any] = {}
    for offset, (proposer, node, body) in enumerate(bodies, start=1):
        txs = [signed_tx(*t) for t in body]
        proposal = propose_block(
            state,
            chain.rules_at(state.view, parent.height + 1),
            parent,
            [prepare(t) for t in txs],
            A_TIME_MS + 1000 * offset,
            proposer,
            key_of(node).sign,
        )
        if proposal.dropped or any(not r.ok for r in proposal.result.receipts):
            raise AssertionError(f"attestation chain block {offset} did not run cleanly")
        state.finish_block()
        blocks.append((proposal.block, node))
        parent = proposal.block.header
        if offset == 4:
            view = state.view
            histories = [msgspec.to_builtins(h) for h in consortium.node_keys(view)]
            keys = build_keys(
                CHAIN_ID,
                offset + 1,
                histories,
                lambda h, view=view: chain.rules_at(view, h).proposers,
                [u.height for u in chain.upgrades(view)],
            ).to_json()
            proofs = _block_proofs(state, proposal.block)
    return blocks, keys, proofs


def _block_proofs(state: State, block: Block) -> dict[str, Any]:
    """A transaction proof and a state proof of ``block`` (the state's tip), as the API gives
    them, without ``final`` and ``attestations``."""
    header = block.header
    around = {
        "block_hash": header.hash().hex(),
        "header": msgspec.to_builtins(header),
        "signature": block.signature,
    }
    raws = [t.encode() for t in block.txs]
    leaves = [merkle.leaf_hash(r) for r in raws]
    tx_proof = {
        "hash": sha256(raws[1]).hex(),
        "height": header.height,
        "index": 1,
        "tree_size": len(raws),
        "audit_path": [p.hex() for p in merkle.inclusion_proof(leaves, 1)],
        "tx": json.loads(raws[1]),
        "tx_hex": raws[1].hex(),
        **around,
    }
    key = b"funds/balance/house-b"
    value = state.committed[key]
    state_proof = {
        "key": key.decode(),
        "value_hex": value.hex(),
        "value": json.loads(value),
        "height": header.height,
        **around,
        "proof": state.tree.prove(key).to_json(),
    }
    return {"tx": tx_proof, "state": state_proof}


def _attest(block: Block, org: str, node: str, **change: Any) -> dict[str, Any]:
    """``org``'s attestation of ``block`` signed with ``node``'s key, after ``change`` to
    the fields it signs (a tampered attestation that is still well signed)."""
    header = block.header
    att = Attestation(CHAIN_ID, header.height, header.hash().hex(), header.state_root, org)
    att = msgspec.structs.replace(att, **change)
    att.signature = key_of(node).sign(att.signing_bytes())
    return msgspec.to_builtins(att)


def _finality(block: Block, keys: dict[str, Any], signed: bool, atts: list[Any]) -> dict[str, Any]:
    """What the verifier must find, computed by the SDK (replayed by test_vectors.py)."""

    header = block.header
    try:
        result = verify_finality(
            msgspec.to_builtins(header),
            header.hash().hex(),
            atts,
            keys,
            signature=block.signature if signed else None,
        )
    except FinalityError as exc:
        return {"error": exc.reason}
    return {
        "final": result.final,
        "attested": result.attested,
        "quorum": result.quorum,
        "proposers": result.proposers,
        "proposer_signed": result.proposer_signed,
        "rejected": [{"index": r.index, "reason": r.reason} for r in result.rejected],
        "beyond_keys": result.beyond_keys,
    }


def _attestation_cases(
    blocks: list[tuple[Block, str]], keys: dict[str, Any]
) -> list[dict[str, Any]]:
    b1, b3, b4, b6 = blocks[0][0], blocks[2][0], blocks[3][0], blocks[5][0]
    op, b, c, d = (
        lambda blk, **kw: _attest(blk, "operator", "node", **kw),
        lambda blk, **kw: _attest(blk, "utility-b", "node-b-2", **kw),
        lambda blk, **kw: _attest(blk, "utility-c", "node-c", **kw),
        lambda blk, **kw: _attest(blk, "utility-d", "node-d", **kw),
    )
    genesis = vector_genesis()
    forged = {**c(b4), "signature": c(b3)["signature"]}
    other_keys = {**keys, "chain_id": "another-chain"}
    # a header utility-d did not propose, claiming it did (signed with utility-d's key)
    claimed = msgspec.structs.replace(b4.header, proposer="households")
    intruder = Block(claimed, [], key_of("node-d").sign(claimed.signing_bytes()))
    cases: list[tuple[str, Block, bool, list[Any], dict[str, Any] | None]] = [
        ("block 1: one proposer, its block signature alone makes it final", b1, True, [], None),
        ("block 1: an organisation added by it attests it, not a proposer yet", b1, True,
         [_attest(b1, "utility-b", "node-b")], None),
        ("block 3: every organisation attests, utility-b with its key before the rotation", b3,
         True, [op(b3), _attest(b3, "utility-b", "node-b"), c(b3), d(b3)], None),
        ("block 4: every organisation attests", b4, True, [op(b4), b(b4), c(b4), d(b4)], None),
        ("block 4: the proposer's signature and two attestations make the quorum (3 of 4)", b4,
         True, [op(b4), c(b4)], None),
        ("block 4: three attestations without the block signature", b4, False,
         [d(b4), c(b4), op(b4)], None),
        ("block 4: the proposer's own attestation and its signature count once", b4, True,
         [b(b4), op(b4)], None),
        ("block 4: below the quorum (2 of 4)", b4, True, [op(b4)], None),
        ("block 4: a wrong signature", b4, True, [op(b4), forged], None),
        ("block 4: an attestation of another block", b4, True,
         [op(b4), {**c(b3), "height": 4}], None),
        ("block 4: an attestation of block 3 offered for block 4", b4, True, [op(b4), c(b3)],
         None),
        ("block 4: another state root", b4, True, [op(b4), c(b4, state_root="00" * 32)], None),
        ("block 4: another chain", b4, True, [op(b4), c(b4, chain_id="another-chain")], None),
        ("block 4: an organisation that is not a proposer", b4, True,
         [op(b4), _attest(b4, "households", "node-d")], None),
        ("block 4: utility-b's key used after its rotation", b4, False,
         [op(b4), c(b4), _attest(b4, "utility-b", "node-b")], None),
        ("block 4: a duplicate organisation counts once", b4, True,
         [op(b4), op(b4), {**op(b4), "signature": op(b4)["signature"]}], None),
        ("block 4: malformed attestations", b4, True,
         [{k: v for k, v in op(b4).items() if k != "signature"}, {**c(b4), "extra": 1},
          {**d(b4), "height": "4"}, "utility-c", op(b4)], None),
        ("block 6: above the keys file's up_to_height", b6, True, [c(b6), d(b6)], None),
        ("a keys file of another chain", b4, True, [op(b4), c(b4)], other_keys),
        ("the header's proposer is not a proposer at its height", intruder, True, [], None),
        ("the block signature by utility-b's old key", Block(b4.header, [],
         key_of("node-b").sign(b4.header.signing_bytes())), True, [], None),
        ("the genesis block", Block(genesis_header(genesis, committed_genesis(genesis).root), [],
         ""), True, [], None),
    ]  # fmt: skip
    out = []
    for name, blk, signed, atts, case_keys in cases:
        entry: dict[str, Any] = {
            "name": name,
            "header": msgspec.to_builtins(blk.header),
            "block_hash": blk.header.hash().hex(),
            "signature": blk.signature if signed else None,
            "attestations": atts,
        }
        if case_keys is not None:
            entry["keys"] = case_keys
        entry["expect"] = _finality(blk, case_keys or keys, signed, atts)
        out.append(entry)
    return out


def _proof_cases(blocks: list[tuple[Block, str]], keys: dict[str, Any], proofs: dict[str, Any]
                 ) -> list[dict[str, Any]]:  # fmt: skip

    b4 = blocks[3][0]
    quorum = [_attest(b4, o, n) for o, n in (("operator", "node"), ("utility-c", "node-c"))]
    old_key = key_of("node-b").sign(b4.header.signing_bytes())
    tx, st = proofs["tx"], proofs["state"]
    cases = [
        ("a transaction proof, final with a quorum", tx, {"final": True, "attestations": quorum}),
        ("a state proof, final with a quorum", st, {"final": True, "attestations": quorum}),
        ("a transaction proof, not yet final", tx, {"final": False, "attestations": quorum[:1]}),
        ("a state proof the node had not yet seen final (it is)", st,
         {"final": False, "attestations": quorum}),
        ("a transaction proof without finality fields", tx, {}),
        ("a transaction proof claiming final without a quorum", tx,
         {"final": True, "attestations": quorum[:1]}),
        ("a state proof claiming final with a duplicated attestation", st,
         {"final": True, "attestations": [quorum[0], quorum[0]]}),
        ("a state proof claiming final with a tampered attestation", st,
         {"final": True, "attestations": [quorum[0], {**quorum[1], "signature":
                                                      quorum[0]["signature"]}]}),
        ("a transaction proof signed with utility-b's key before its rotation", tx,
         {"signature": old_key, "final": False, "attestations": []}),
        ("a transaction proof whose final is not a boolean", tx,
         {"final": "yes", "attestations": quorum}),
        ("a state proof whose attestations are not a list", st,
         {"final": False, "attestations": {"operator": quorum[0]}}),
    ]  # fmt: skip
    out = []
    for name, base, change in cases:
        proof = {**base, **change}
        verify = verify_tx_proof if "tx_hex" in proof else verify_state_proof
        try:
            verify(proof, keys=keys)
        except ProofError as exc:
            expect = {"valid": False, "error": getattr(exc, "reason", "proof")}
        else:
            expect = {"valid": True}
        base_name = "tx" if base is tx else "state"
        out.append({"name": name, "base": base_name, "change": change, "expect": expect})
    return out


INVALID_KEYS: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
    ("not an object", lambda k: [k]),
    ("another format", lambda k: {**k, "format": "gridledger/consortium-keys/v2"}),
    ("an unknown field", lambda k: {**k, "signature": ""}),
    ("a missing field", lambda k: {f: v for f, v in k.items() if f != "up_to_height"}),
    ("up_to_height 0", lambda k: {**k, "up_to_height": 0}),
    ("up_to_height not an integer", lambda k: {**k, "up_to_height": 4.5}),
    ("up_to_height true", lambda k: {**k, "up_to_height": True}),
    ("an empty chain id", lambda k: {**k, "chain_id": ""}),
    ("an organisation twice", lambda k: {**k, "organisations": k["organisations"] * 2}),
    ("an organisation id with upper case", lambda k: {**k, "organisations": [
        {**k["organisations"][0], "org": "Operator"}, *k["organisations"][1:]]}),
    ("node keys out of order", lambda k: {**k, "organisations": [
        {**o, "node_keys": o["node_keys"][::-1]} for o in k["organisations"]]}),
    ("no node keys", lambda k: {**k, "organisations": [
        {**k["organisations"][0], "node_keys": []}, *k["organisations"][1:]]}),
    ("a node key not tagged", lambda k: {**k, "organisations": [
        {**o, "node_keys": [{**p, "node_key": p["node_key"][8:]} for p in o["node_keys"]]}
        for o in k["organisations"]]}),
    ("a negative from_height", lambda k: {**k, "organisations": [
        {**o, "node_keys": [{**p, "from_height": -1} for p in o["node_keys"]]}
        for o in k["organisations"]]}),
    ("no proposers", lambda k: {**k, "proposers": []}),
    ("proposers not from height 1", lambda k: {**k, "proposers": [
        {**p, "from_height": p["from_height"] + 1} for p in k["proposers"]]}),
    ("proposers out of order", lambda k: {**k, "proposers": k["proposers"][::-1]}),
    ("a proposer not among the organisations", lambda k: {**k, "proposers": [
        *k["proposers"], {"from_height": 9, "orgs": ["utility-z"]}]}),
    ("a proposer without a node key at its from_height", lambda k: {**k, "proposers": [
        {"from_height": 1, "orgs": ["operator", "utility-b"]}, *k["proposers"][1:]]}),
    ("a proposer listed twice", lambda k: {**k, "proposers": [
        {"from_height": 1, "orgs": ["operator", "operator"]}, *k["proposers"][1:]]}),
]  # fmt: skip


def attestation_vectors() -> dict[str, Any]:
    blocks, keys, proofs = _attestation_chain()
    invalid = []
    for name, change in INVALID_KEYS:
        bad = change(json.loads(json.dumps(keys)))
        try:
            parse_keys(bad)
        except KeysFileError:
            invalid.append({"name": name, "keys": bad})
        else:
            raise AssertionError(f"keys file case {name!r} was accepted")
    return {
        "description": "Attestations and finality (docs/formats.md section 6b). 'blocks' is a "
        "chain of four organisations on genesis.json's (headers, hashes, block signatures, "
        "the key name that signed); 'keys' its consortium keys file as the state after block "
        "4 knows it (up_to_height 5), 'keys_invalid' files a verifier must refuse whole. "
        "Each of 'cases' checks a header, its block hash, its block signature (null: not "
        "given) and its attestations with 'keys' (or the case's own 'keys'): 'expect' holds "
        "the organisations that stand behind the block, the quorum, whether it is final and "
        "every rejected attestation's index and reason, or the 'error' reason that fails the "
        "check. 'proof_files' holds a transaction and a state proof of block 4 as the API "
        "gives them, without 'final' and 'attestations'; each of 'proofs' is the proof file "
        "'base' with the fields of 'change' set (replacing any there), checked with 'keys': "
        "valid, or refused with the reason.",
        "blocks": [
            {
                "height": blk.header.height,
                "header_canonical": text(blk.header.encode()),
                "block_hash": blk.header.hash().hex(),
                "signature": blk.signature,
                "signed_with": node,
            }
            for blk, node in blocks
        ],
        "node_keys": {
            name: key_of(name).public_key
            for name in ("node", "node-b", "node-b-2", "node-c", "node-d")
        },
        "keys": keys,
        "keys_invalid": invalid,
        "cases": _attestation_cases(blocks, keys),
        "proof_files": proofs,
        "proofs": _proof_cases(blocks, keys, proofs),
    }


GENERATORS = {
    "canonical_encoding.json": canonical_vectors,
    "ed25519.json": ed25519_vectors,
    "transactions.json": transaction_vectors,
    "genesis.json": genesis_vectors,
    "blocks.json": block_vectors,
    "invalid_blocks.json": invalid_block_vectors,
    "merkle_log.json": merkle_log_vectors,
    "state_tree.json": state_tree_vectors,
    "contracts.json": contract_vectors,
    "metering.json": metering_vectors,
    "carbon.json": carbon_vectors,
    "credits.json": credits_vectors,
    "market.json": market_vectors,
    "governance.json": governance_vectors,
    "attestations.json": attestation_vectors,
    "certificates.json": certificate_vectors,
    "claims.json": claim_vectors,
    "readings_log.json": log_vectors,
    "products.json": product_vectors,
    "product_transitions.json": product_transition_vectors,
    "cards.json": card_vectors,
}


def main(argv: list[str]) -> None:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    for name, generate in GENERATORS.items():
        write(out, name, generate())


if __name__ == "__main__":
    main(sys.argv)
