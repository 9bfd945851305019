"""The consortium's refusals, each with a stable ``governance.*`` code.

``governance.proposal_required`` (the direct upgrade kinds refused in a governed chain) is
:class:`gridledger.contracts.chain.ProposalRequired`, re-exported here.
"""

from __future__ import annotations

from gridledger.contracts.chain import ProposalRequired
from gridledger.core.errors import InvalidTransaction

__all__ = [
    "AlreadyApproved",
    "InvalidAction",
    "InvalidExpiry",
    "KeyInUse",
    "LastProposer",
    "NotAMember",
    "NotAProposer",
    "NotInElectorate",
    "NotProposingOrganisation",
    "ProposalClosed",
    "ProposalExpired",
    "ProposalRequired",
    "ProposersByMembership",
    "UnknownProposal",
]


class NotAProposer(InvalidTransaction):
    code = "governance.not_a_proposer"
    default_message = (
        "only operators of an organisation allowed to propose blocks at this height take part "
        "in governance"
    )


class NotInElectorate(InvalidTransaction):
    code = "governance.not_in_electorate"
    default_message = (
        "the organisation was not allowed to propose blocks when the proposal was made, so it "
        "does not vote on it; make a new proposal"
    )


class AlreadyApproved(InvalidTransaction):
    code = "governance.already_approved"
    default_message = "the organisation has approved this proposal already (one vote each)"


class ProposalExpired(InvalidTransaction):
    code = "governance.proposal_expired"
    default_message = "the proposal expired before enough organisations approved; propose again"


class ProposalClosed(InvalidTransaction):
    code = "governance.proposal_closed"
    default_message = "the proposal was executed or withdrawn already"


class UnknownProposal(InvalidTransaction):
    code = "governance.unknown_proposal"
    default_message = "no such proposal"


class NotProposingOrganisation(InvalidTransaction):
    code = "governance.not_proposing_org"
    default_message = "only an operator of the organisation that made a proposal withdraws it"


class LastProposer(InvalidTransaction):
    code = "governance.last_proposer"
    default_message = "the chain needs at least one organisation allowed to propose blocks"


class NotAMember(InvalidTransaction):
    code = "governance.not_a_member"
    default_message = "the organisation is not allowed to propose blocks from the next height"


class KeyInUse(InvalidTransaction):
    code = "governance.key_in_use"
    default_message = (
        "the node key is (or was) another organisation's or a past key; generate a new one"
    )


class InvalidExpiry(InvalidTransaction):
    code = "governance.invalid_expiry"
    default_message = "expires_at_s is after the block time and at most 90 days later"


class InvalidAction(InvalidTransaction):
    code = "governance.invalid_action"
    default_message = "the proposed action is malformed"


class ProposersByMembership(InvalidTransaction):
    code = "governance.proposers_by_membership"
    default_message = (
        "who proposes blocks changes only with add_organisation and remove_organisation "
        "proposals, not with an upgrade"
    )
