"""The consortium's stored records (canonical JSON under the keys of :mod:`.keys`) and the
actions a proposal carries.

Units: heights in blocks, times in Unix seconds (``_s``, UTC, from block time); all integers.
"""

from __future__ import annotations

import re
from typing import Literal

from gridledger.contracts.base import Int64, Record
from gridledger.contracts.chain import InvalidRules
from gridledger.contracts.consortium.errors import InvalidAction, ProposersByMembership
from gridledger.contracts.registry import check_id, check_key, check_roles
from gridledger.contracts.rules import RuleChanges

MAX_NAME_CHARS = 128
MAX_URL_CHARS = 256
URL_RE = re.compile(
    r"^https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:(?P<port>[0-9]{1,5}))?(/[A-Za-z0-9._~/-]*)?$"
)
"""An endpoint: http or https, a host name, IPv4 or bracketed IPv6 address, an optional port
(at most 65535) and an optional plain path; no user, query or fragment."""

ProposalStatus = Literal["open", "executed", "withdrawn"]
"""What a proposal's record says; an open proposal past ``expires_at_s`` is *expired*."""


def check_url(value: str, what: str) -> None:
    """Raise :class:`InvalidAction` unless ``value`` is an endpoint :data:`URL_RE` accepts."""
    found = URL_RE.match(value) if len(value) <= MAX_URL_CHARS else None
    port = None if found is None else found.group("port")
    if found is None or (port is not None and int(port) > 65535):
        raise InvalidAction(
            f"{what} {value[:64]!r} is not an http(s)://host[:port][/path] URL of at most "
            f"{MAX_URL_CHARS} characters"
        )


# actions -------------------------------------------------------------------------------------
class Action(Record, tag_field="type"):
    """What a proposal does once approved; ``type`` names it."""

    def check(self) -> None:
        """The action's stateless rules (raise ``InvalidTransaction``)."""
        return


class AddOrganisation(Action, tag="add_organisation"):
    """Register an organisation that runs a node and let it propose from the next height.

    Attributes:
        org: Organisation id, 1-64 of a-z 0-9 . _ -; a new one.
        name: Display name, 1-128 characters.
        roles: The roles its accounts may hold; ``operator`` among them, so that it votes.
        node_key: Its node's tagged Ed25519 key, "ed25519:<64 hex digits>", used by no
            organisation before.
        etcd_peer_url: Where its etcd member listens to the other members.
        etcd_client_url: Where its etcd member listens to clients (the nodes).
        api_url: Where its node's API listens (peers catch up from it).
    """

    org: str
    name: str
    roles: list[str]
    node_key: str
    etcd_peer_url: str
    etcd_client_url: str
    api_url: str

    def check(self) -> None:
        check_id(self.org, "organisation id")
        if not 1 <= len(self.name) <= MAX_NAME_CHARS:
            raise InvalidAction(f"name is 1-{MAX_NAME_CHARS} characters")
        check_roles(self.roles)
        if "operator" not in self.roles:
            raise InvalidAction("an organisation that proposes blocks holds the operator role")
        check_key(self.node_key)
        check_url(self.etcd_peer_url, "etcd_peer_url")
        check_url(self.etcd_client_url, "etcd_client_url")
        check_url(self.api_url, "api_url")


class RemoveOrganisation(Action, tag="remove_organisation"):
    """Stop counting an organisation and letting it propose, from the next height.

    Attributes:
        org: An organisation allowed to propose at the next height (not the last one).
    """

    org: str

    def check(self) -> None:
        check_id(self.org, "organisation id")


class RotateNodeKey(Action, tag="rotate_node_key"):
    """Replace an organisation's node key from the next height on.

    Attributes:
        org: An organisation allowed to propose at the next height.
        node_key: The new tagged Ed25519 key, used by no organisation before.
    """

    org: str
    node_key: str

    def check(self) -> None:
        check_id(self.org, "organisation id")
        check_key(self.node_key)


class ScheduleUpgrade(Action, tag="schedule_upgrade"):
    """Change chain rules from a future height, as ``chain.schedule_upgrade`` does.

    Attributes:
        height: The first height that follows the changed rules (after the executing block).
        changes: The rules it changes, ``proposers`` excepted (membership proposals change it).
    """

    height: Int64
    changes: RuleChanges

    def check(self) -> None:
        if self.changes == RuleChanges():
            raise InvalidRules("an upgrade changes at least one rule")
        if self.changes.proposers is not None:
            raise ProposersByMembership


class CancelUpgrade(Action, tag="cancel_upgrade"):
    """Cancel an upgrade before it takes effect, as ``chain.cancel_upgrade`` does.

    Attributes:
        height: The height of the upgrade (one that does not change ``proposers``).
    """

    height: Int64


AnyAction = AddOrganisation | RemoveOrganisation | RotateNodeKey | ScheduleUpgrade | CancelUpgrade
"""Every action, told apart by its ``type``."""


# stored records ------------------------------------------------------------------------------
class Approval(Record):
    """One organisation's vote for a proposal.

    Attributes:
        org: The approving organisation.
        account: Its operator account that sent the vote.
        height: The block that recorded it.
    """

    org: str
    account: str
    height: int


class Proposal(Record):
    """A proposed consortium decision (``consortium/proposal/<id>``).

    Attributes:
        id: Proposal number, from 1 in the order proposals were made.
        action: What it does once approved (``type`` names the action).
        org: The proposing organisation.
        proposed_by: The operator account that proposed it.
        proposed_height: The block that made it.
        proposed_at_s: That block's time, Unix seconds.
        expires_at_s: The last block time (Unix seconds) at which an approval counts.
        electorate: The organisations allowed to propose at ``proposed_height``, sorted: the
            ones that vote on it.
        threshold: Approvals it needs: the least number more than two thirds of the
            electorate (``threshold * 3 > len(electorate) * 2``).
        approvals: The votes so far, in the order given; the proposing organisation's first.
        status: open, executed or withdrawn (an open proposal past ``expires_at_s`` is
            expired).
        closed_height: The block that executed or withdrew it; null while open.
    """

    id: int
    action: AnyAction
    org: str
    proposed_by: str
    proposed_height: int
    proposed_at_s: int
    expires_at_s: int
    electorate: list[str]
    threshold: int
    approvals: list[Approval]
    status: ProposalStatus
    closed_height: int | None

    def approved_by(self, org: str) -> bool:
        return any(a.org == org for a in self.approvals)

    def state_at(self, time_s: int) -> Literal["open", "executed", "withdrawn", "expired"]:
        """The proposal's state at block time ``time_s`` (Unix seconds)."""
        if self.status == "open" and time_s > self.expires_at_s:
            return "expired"
        return self.status


class KeyPeriod(Record):
    """A node key and the first height it is valid for.

    Attributes:
        node_key: The tagged Ed25519 key.
        from_height: The first height whose block (as proposer) and attestation the
            organisation signs with it; it is valid up to the next period's ``from_height``
            minus one (inclusive), or on.
    """

    node_key: str
    from_height: int


class NodeKeyHistory(Record):
    """Every node key an organisation has had (``consortium/node_keys/<org>``).

    Attributes:
        org: The organisation.
        keys: Its keys by ``from_height``, ascending; the last is its registry ``node_key``.
            The key it had before its first rotation, when the registry (genesis or
            ``registry.add_organisation``) registered it, has ``from_height`` 0.
    """

    org: str
    keys: list[KeyPeriod]

    def key_at(self, height: int) -> str | None:
        """The key valid at ``height``; ``None`` before the first period."""
        found = None
        for period in self.keys:
            if period.from_height > height:
                break
            found = period.node_key
        return found


class OrgNetwork(Record):
    """Where an organisation's node and etcd member listen (``consortium/network/<org>``).

    Attributes:
        org: The organisation.
        etcd_peer_url: Its etcd member's peer URL (``--initial-advertise-peer-urls``).
        etcd_client_url: Its etcd member's client URL (``--advertise-client-urls``).
        api_url: Its node's API.
        set_height: The block that stored it.
    """

    org: str
    etcd_peer_url: str
    etcd_client_url: str
    api_url: str
    set_height: int
