"""Attestations and finality, as every node and every catch-up judges them.

An organisation's attestation of a block is valid when it is for this chain, the organisation
is allowed to propose at the block's height, and it is signed by the organisation's node key
valid at that height. A block is final when more than two thirds of the organisations allowed
to propose at its height attested its hash (``docs/formats.md``, "Attestations and finality").
"""

from __future__ import annotations

import msgspec

from gridledger.contracts import chain, consortium
from gridledger.core.crypto import verify
from gridledger.core.types import Attestation
from gridledger.state.state import StateReader

_attestation = msgspec.json.Decoder(Attestation).decode


def quorum(n: int) -> int:
    """The fewest organisations that are more than two thirds of ``n``."""
    return (2 * n) // 3 + 1


def decode_attestation(raw: bytes) -> Attestation | None:
    try:
        return _attestation(raw)
    except msgspec.DecodeError:
        return None


def attestation_valid(view: StateReader, chain_id: str, att: Attestation) -> bool:
    """Whether ``att`` is for ``chain_id`` and signed by an organisation allowed to propose
    at its height, with that organisation's node key valid at that height."""
    if att.chain_id != chain_id:
        return False
    if att.org not in chain.rules_at(view, att.height).proposers:
        return False
    node_key = consortium.node_key_at(view, att.org, att.height)
    if node_key is None:
        return False
    try:
        return verify(node_key, att.signing_bytes(), att.signature)
    except Exception:  # a malformed signature is simply not a valid one
        return False


def attesting(
    view: StateReader,
    chain_id: str,
    height: int,
    block_hash: str,
    state_root: str,
    atts: list[Attestation],
) -> dict[str, Attestation]:
    """The valid attestations of block ``block_hash`` (whose header says ``state_root``) at
    ``height`` among ``atts``, by organisation (one each)."""
    found: dict[str, Attestation] = {}
    for att in atts:
        if (
            att.height == height
            and att.block_hash == block_hash
            and att.state_root == state_root
            and att.org not in found
            and attestation_valid(view, chain_id, att)
        ):
            found[att.org] = att
    return found


def block_final(
    view: StateReader, height: int, proposer: str, state_root: str, atts: list[Attestation]
) -> bool:
    """Whether a block's own evidence makes it final: its proposer (by its header signature)
    and the organisations whose ``atts`` (already checked, of this block) agree on its state
    root, counted once each, against the proposers at its height. A chain of one proposing
    organisation is final by the signature alone."""
    proposers = chain.rules_at(view, height).proposers
    orgs = {proposer} | {a.org for a in atts if a.state_root == state_root}
    return len(orgs & set(proposers)) >= quorum(len(proposers))


def is_final(view: StateReader, height: int, orgs: int) -> bool:
    """Whether ``orgs`` attesting organisations make block ``height`` final."""
    return orgs >= quorum(len(chain.rules_at(view, height).proposers))
