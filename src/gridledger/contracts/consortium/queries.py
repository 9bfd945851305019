"""Reading the consortium: proposals, who votes and how many approvals a decision needs, the
node key every organisation had at any height, and where each node listens.

Queries take any :class:`~gridledger.state.state.StateReader` (a node's committed view, or the
state a transaction executes on) and return typed records.
"""

from __future__ import annotations

from gridledger.contracts import chain, registry
from gridledger.contracts.consortium import keys
from gridledger.contracts.consortium.records import (
    KeyPeriod,
    NodeKeyHistory,
    OrgNetwork,
    Proposal,
)
from gridledger.state.state import StateReader, decode_record


def approvals_needed(electorate_size: int) -> int:
    """The least number of approvals that is more than two thirds of ``electorate_size``
    organisations: ``n * 2 // 3 + 1`` (1 of 1, 2 of 2, 3 of 3, 3 of 4, 5 of 7)."""
    return electorate_size * 2 // 3 + 1


def members(view: StateReader, height: int) -> list[str]:
    """The organisations that vote in the block at ``height``: those allowed to propose it."""
    return chain.rules_at(view, height).proposers


# proposals -----------------------------------------------------------------------------------
def get_proposal(view: StateReader, proposal_id: int) -> Proposal | None:
    if not 1 <= proposal_id <= keys.MAX_PROPOSAL_ID:
        return None
    return view.get_record(keys.proposal(proposal_id), Proposal)


def last_proposal_id(view: StateReader) -> int:
    """The id of the last proposal made (0 before the first)."""
    return view.get_int(keys.seq())


def list_proposals(
    view: StateReader,
    after: int | None = None,
    limit: int | None = None,
    *,
    open_at_s: int | None = None,
) -> list[Proposal]:
    """Proposals in id order after ``after``, at most ``limit``; with ``open_at_s``, only
    those still open (neither executed, withdrawn nor expired) at that Unix time."""
    start = b"" if after is None else keys.proposal_part(max(after, 0) + 1)
    out: list[Proposal] = []
    for _, raw in view.scan_range(keys.proposals(), start):
        proposal = decode_record(raw, Proposal)
        if open_at_s is not None and proposal.state_at(open_at_s) != "open":
            continue
        out.append(proposal)
        if limit is not None and len(out) == limit:
            break
    return out


# node keys -----------------------------------------------------------------------------------
def key_history(view: StateReader, org: str) -> NodeKeyHistory | None:
    """Every node key ``org`` has had; ``None`` for an organisation that never had one.

    An organisation the consortium never added nor rotated has no stored history: its
    registry ``node_key`` has been valid since height 0.
    """
    stored = view.get_record(keys.node_keys(org), NodeKeyHistory)
    if stored is not None:
        return stored
    organisation = registry.get_organisation(view, org)
    if organisation is None or organisation.node_key is None:
        return None
    return NodeKeyHistory(org=org, keys=[KeyPeriod(node_key=organisation.node_key, from_height=0)])


def node_key_at(view: StateReader, org: str, height: int) -> str | None:
    """The node key that signs ``org``'s block at ``height`` (as proposer) and its
    attestation of that height; ``None`` when it had none then.

    Any state at or after the parent of ``height`` answers the same: block import asks the
    parent's state, an offline verifier the latest.
    """
    history = key_history(view, org)
    return None if history is None else history.key_at(height)


def node_keys(view: StateReader) -> list[NodeKeyHistory]:
    """The node key history of every organisation that has or had a node key, by id."""
    out = []
    for organisation in registry.list_organisations(view).items:
        history = key_history(view, organisation.id)
        if history is not None:
            out.append(history)
    return out


def used_node_keys(view: StateReader) -> dict[str, str]:
    """Every node key any organisation has or had, with the organisation."""
    return {p.node_key: h.org for h in node_keys(view) for p in h.keys}


# network -------------------------------------------------------------------------------------
def org_network(view: StateReader, org: str) -> OrgNetwork | None:
    """Where ``org``'s node and etcd member listen (organisations the consortium added)."""
    return view.get_record(keys.network(org), OrgNetwork)


def org_networks(view: StateReader) -> list[OrgNetwork]:
    """Every stored network record, by organisation id."""
    return [decode_record(raw, OrgNetwork) for _, raw in view.scan(keys.networks())]
