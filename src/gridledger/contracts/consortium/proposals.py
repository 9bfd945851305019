"""The consortium's transaction kinds: propose, approve, withdraw.

Who takes part: an account holding the ``operator`` role of an organisation allowed to propose
blocks at the transaction's height (``Rules.proposers``). A proposal's **electorate** is the
proposers at the height it is made; it needs ``threshold`` approvals, more than two thirds of
them (``approvals * 3 > len(electorate) * 2``), one per organisation, the proposing
organisation's counting first. The transaction that brings the last approval needed executes
the action in the same block (see :mod:`.actions`).

* ``consortium.propose`` ``{"action", "expires_at_s"?}``: make a proposal (default expiry: 7
  days after the block time; at most 90 days);
* ``consortium.approve`` ``{"proposal"}``: add the sender's organisation's approval;
* ``consortium.withdraw`` ``{"proposal"}``: close an open proposal (its organisation only).

A proposal past ``expires_at_s`` (block time in seconds above it) takes no approval and cannot
be withdrawn; one executed or withdrawn takes nothing more.
"""

from __future__ import annotations

import msgspec

from gridledger.contracts import registry
from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.consortium import keys
from gridledger.contracts.consortium.actions import action_type, check_action, execute
from gridledger.contracts.consortium.errors import (
    AlreadyApproved,
    InvalidExpiry,
    NotAProposer,
    NotInElectorate,
    NotProposingOrganisation,
    ProposalClosed,
    ProposalExpired,
    UnknownProposal,
)
from gridledger.contracts.consortium.queries import (
    approvals_needed,
    get_proposal,
    last_proposal_id,
    members,
)
from gridledger.contracts.consortium.records import AnyAction, Approval, Proposal
from gridledger.state.state import StateReader, StateWriter

DEFAULT_LIFETIME_S = 7 * 86_400
"""How long a proposal takes approvals when it names no ``expires_at_s``: 7 days."""
MAX_LIFETIME_S = 90 * 86_400
"""The latest ``expires_at_s`` a proposal may name: 90 days after its block."""


def _voting_org(view: StateReader, ctx: Context) -> str:
    """The sender's organisation, after checking it may propose at this height."""
    org = registry.sender_org(view, ctx)
    proposers = members(view, ctx.height)
    if org not in proposers:
        raise NotAProposer(
            f"organisation {org!r} is not allowed to propose blocks at height {ctx.height} "
            f"(proposers: {', '.join(proposers)})"
        )
    return org


def _open(view: StateReader, ctx: Context, proposal_id: int) -> Proposal:
    """The proposal, after checking it still takes approvals at this block's time."""
    proposal = get_proposal(view, proposal_id)
    if proposal is None:
        raise UnknownProposal(f"no proposal {proposal_id}")
    state = proposal.state_at(ctx.time_s)
    if state == "expired":
        raise ProposalExpired(
            f"proposal {proposal_id} expired at {proposal.expires_at_s} s; block time is "
            f"{ctx.time_s} s; propose again"
        )
    if state != "open":
        raise ProposalClosed(f"proposal {proposal_id} was {state} at height "
                             f"{proposal.closed_height}")  # fmt: skip
    return proposal


def _store(state: StateWriter, ctx: Context, proposal: Proposal) -> None:
    """Store ``proposal``; executed when it has its approvals, in this transaction."""
    if len(proposal.approvals) < proposal.threshold:
        state.put(keys.proposal(proposal.id), proposal)
        return
    done = msgspec.structs.replace(proposal, status="executed", closed_height=ctx.height)
    state.put(keys.proposal(proposal.id), done)
    ctx.emit("consortium.executed", proposal=proposal.id, action=action_type(proposal.action))
    execute(state, ctx, proposal.action)


class Propose(Body):
    action: AnyAction
    """What the proposal does once approved; ``type`` names the action."""
    expires_at_s: Int64 | None = None
    """The last block time (Unix seconds) at which an approval counts; default 7 days on."""

    def check(self) -> None:
        self.action.check()


@kind("consortium.propose", Propose, roles=("operator",))
def apply_propose(state: StateWriter, ctx: Context, body: Propose) -> None:
    """Propose a consortium decision; the sender's organisation approves it first (operator
    of an organisation allowed to propose)."""
    org = _voting_org(state, ctx)
    now = ctx.time_s
    expires = now + DEFAULT_LIFETIME_S if body.expires_at_s is None else body.expires_at_s
    if not now < expires <= now + MAX_LIFETIME_S:
        raise InvalidExpiry(
            f"expires_at_s {expires} must be after the block time, {now} s, and at most "
            f"{MAX_LIFETIME_S} s (90 days) later"
        )
    check_action(state, ctx, body.action)
    proposal_id = last_proposal_id(state) + 1
    state.set_int(keys.seq(), proposal_id)
    electorate = sorted(members(state, ctx.height))
    proposal = Proposal(
        id=proposal_id,
        action=body.action,
        org=org,
        proposed_by=ctx.sender,
        proposed_height=ctx.height,
        proposed_at_s=now,
        expires_at_s=expires,
        electorate=electorate,
        threshold=approvals_needed(len(electorate)),
        approvals=[Approval(org=org, account=ctx.sender, height=ctx.height)],
        status="open",
        closed_height=None,
    )
    ctx.emit("consortium.proposed", proposal=proposal_id, action=action_type(body.action),
             org=org, threshold=proposal.threshold, expires_at_s=expires)  # fmt: skip
    _store(state, ctx, proposal)


class Approve(Body):
    proposal: Int64
    """The proposal's id."""


@kind("consortium.approve", Approve, roles=("operator",))
def apply_approve(state: StateWriter, ctx: Context, body: Approve) -> None:
    """Approve a proposal for the sender's organisation; the approval that reaches the
    threshold executes it (operator of an organisation of the proposal's electorate that may
    propose at this height)."""
    proposal = _open(state, ctx, body.proposal)
    org = _voting_org(state, ctx)
    if org not in proposal.electorate:
        raise NotInElectorate(
            f"organisation {org!r} was not allowed to propose when proposal {proposal.id} was "
            f"made (height {proposal.proposed_height})"
        )
    if proposal.approved_by(org):
        raise AlreadyApproved(f"organisation {org!r} approved proposal {proposal.id} already")
    approvals = [*proposal.approvals, Approval(org=org, account=ctx.sender, height=ctx.height)]
    proposal = msgspec.structs.replace(proposal, approvals=approvals)
    ctx.emit("consortium.approved", proposal=proposal.id, org=org, approvals=len(approvals),
             threshold=proposal.threshold)  # fmt: skip
    _store(state, ctx, proposal)


class Withdraw(Body):
    proposal: Int64
    """The proposal's id."""


@kind("consortium.withdraw", Withdraw, roles=("operator",))
def apply_withdraw(state: StateWriter, ctx: Context, body: Withdraw) -> None:
    """Withdraw an open proposal (operator of the organisation that made it)."""
    proposal = _open(state, ctx, body.proposal)
    org = registry.sender_org(state, ctx)
    if org != proposal.org:
        raise NotProposingOrganisation(
            f"proposal {proposal.id} was made by organisation {proposal.org!r}, not {org!r}"
        )
    closed = msgspec.structs.replace(proposal, status="withdrawn", closed_height=ctx.height)
    state.put(keys.proposal(proposal.id), closed)
    ctx.emit("consortium.withdrawn", proposal=proposal.id, org=org)
