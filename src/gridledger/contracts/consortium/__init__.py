"""Consortium: the organisations that run the chain decide together who runs it and by which
rules.

Adding or removing an organisation, rotating an organisation's node key, and scheduling or
cancelling a rule upgrade take a proposal and the approval of more than two thirds of the
organisations allowed to propose blocks when it was made; the approval that reaches the
threshold executes it in its block, with effect from the next height.

* :mod:`.keys`: every ``consortium/...`` state key, and nothing else builds them;
* :mod:`.records`: the actions (:class:`AddOrganisation`, :class:`RemoveOrganisation`,
  :class:`RotateNodeKey`, :class:`ScheduleUpgrade`, :class:`CancelUpgrade`) and the stored
  :class:`Proposal`, :class:`NodeKeyHistory` and :class:`OrgNetwork`;
* :mod:`.proposals`: ``consortium.propose``, ``consortium.approve``, ``consortium.withdraw``;
* :mod:`.actions`: what each action checks and does;
* :mod:`.queries`: proposals, thresholds, :func:`node_key_at` (the key that signs an
  organisation's block and attestation at a height) and :func:`node_keys`, network records;
* :mod:`.errors`: the refusals, each with its ``governance.*`` code.

``docs/governance.md`` tells operators how to use it; ``docs/formats.md`` gives the records
byte for byte.
"""

from gridledger.contracts.consortium import keys
from gridledger.contracts.consortium.actions import action_type, check_action, put_network
from gridledger.contracts.consortium.errors import (
    AlreadyApproved,
    InvalidAction,
    InvalidExpiry,
    KeyInUse,
    LastProposer,
    NotAMember,
    NotAProposer,
    NotInElectorate,
    NotProposingOrganisation,
    ProposalClosed,
    ProposalExpired,
    ProposalRequired,
    ProposersByMembership,
    UnknownProposal,
)
from gridledger.contracts.consortium.proposals import (
    DEFAULT_LIFETIME_S,
    MAX_LIFETIME_S,
    Approve,
    Propose,
    Withdraw,
)
from gridledger.contracts.consortium.queries import (
    approvals_needed,
    get_proposal,
    key_history,
    last_proposal_id,
    list_proposals,
    members,
    node_key_at,
    node_keys,
    org_network,
    org_networks,
)
from gridledger.contracts.consortium.records import (
    Action,
    AddOrganisation,
    AnyAction,
    Approval,
    CancelUpgrade,
    KeyPeriod,
    NodeKeyHistory,
    OrgNetwork,
    Proposal,
    ProposalStatus,
    RemoveOrganisation,
    RotateNodeKey,
    ScheduleUpgrade,
)

__all__ = [
    "DEFAULT_LIFETIME_S",
    "MAX_LIFETIME_S",
    "Action",
    "AddOrganisation",
    "AlreadyApproved",
    "AnyAction",
    "Approval",
    "Approve",
    "CancelUpgrade",
    "InvalidAction",
    "InvalidExpiry",
    "KeyInUse",
    "KeyPeriod",
    "LastProposer",
    "NodeKeyHistory",
    "NotAMember",
    "NotAProposer",
    "NotInElectorate",
    "NotProposingOrganisation",
    "OrgNetwork",
    "Proposal",
    "ProposalClosed",
    "ProposalExpired",
    "ProposalRequired",
    "ProposalStatus",
    "Propose",
    "ProposersByMembership",
    "RemoveOrganisation",
    "RotateNodeKey",
    "ScheduleUpgrade",
    "UnknownProposal",
    "Withdraw",
    "action_type",
    "approvals_needed",
    "check_action",
    "get_proposal",
    "key_history",
    "keys",
    "last_proposal_id",
    "list_proposals",
    "members",
    "node_key_at",
    "node_keys",
    "org_network",
    "org_networks",
    "put_network",
]
