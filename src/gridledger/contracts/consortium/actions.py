"""What each action checks and does, when proposed and again when it executes.

An action is checked against state when it is proposed (so a proposal that could not execute
is refused at once) and again when the last approval it needs arrives, since state may have
changed in between; the executing transaction fails (and records nothing, the approval
included) when it no longer can, and the proposal stays open until it expires or is withdrawn.

Membership and key changes take effect at the **next** height: the proposers through an upgrade
at ``height + 1`` (:func:`gridledger.contracts.chain.change_proposers`), a node key through the
registry record that the next block's header is checked against, and the key history.
"""

from __future__ import annotations

from gridledger.contracts import chain, registry
from gridledger.contracts.base import Context
from gridledger.contracts.consortium import keys
from gridledger.contracts.consortium.errors import (
    KeyInUse,
    LastProposer,
    NotAMember,
    ProposersByMembership,
)
from gridledger.contracts.consortium.queries import key_history, members, used_node_keys
from gridledger.contracts.consortium.records import (
    AddOrganisation,
    AnyAction,
    CancelUpgrade,
    KeyPeriod,
    NodeKeyHistory,
    OrgNetwork,
    RemoveOrganisation,
    RotateNodeKey,
    ScheduleUpgrade,
)
from gridledger.state.state import StateReader, StateWriter


def action_type(action: AnyAction) -> str:
    """The ``type`` of an action (``add_organisation``, ...)."""
    return str(type(action).__struct_config__.tag)


def _member(view: StateReader, ctx: Context, org: str) -> list[str]:
    """The proposers of the next height, after checking ``org`` is one of them."""
    proposers = members(view, ctx.height + 1)
    if org not in proposers:
        raise NotAMember(
            f"organisation {org!r} is not allowed to propose at height {ctx.height + 1} "
            f"(proposers: {', '.join(proposers)})"
        )
    return proposers


def _unused(view: StateReader, node_key: str) -> None:
    holder = used_node_keys(view).get(node_key)
    if holder is not None:
        raise KeyInUse(f"organisation {holder} holds or held this node key; generate a new one")


def check_action(view: StateReader, ctx: Context, action: AnyAction) -> None:
    """Refuse an action that could not execute in this block."""
    match action:
        case AddOrganisation():
            if registry.get_organisation(view, action.org) is not None:
                raise registry.OrganisationExists(f"organisation {action.org!r} exists already")
            _unused(view, action.node_key)
        case RemoveOrganisation():
            if len(_member(view, ctx, action.org)) == 1:
                raise LastProposer(
                    f"{action.org!r} is the only organisation allowed to propose blocks"
                )
        case RotateNodeKey():
            _member(view, ctx, action.org)
            _unused(view, action.node_key)
        case ScheduleUpgrade():
            if action.height <= ctx.height:
                raise chain.UpgradeNotInFuture(
                    f"height {action.height} is not after this block's height {ctx.height}"
                )
            if view.get(chain.upgrade_key(action.height)) is not None:
                raise chain.UpgradeExists(
                    f"an upgrade is already scheduled at height {action.height}"
                )
        case CancelUpgrade():
            upgrade = view.get_record(chain.upgrade_key(action.height), chain.Upgrade)
            if upgrade is None:
                raise chain.UnknownUpgrade(f"no upgrade is scheduled at height {action.height}")
            if action.height <= ctx.height:
                raise chain.UpgradeNotInFuture(
                    f"the upgrade at height {action.height} has taken effect"
                )
            if upgrade.changes.proposers is not None:
                raise ProposersByMembership(
                    f"the upgrade at height {action.height} changes proposers; a membership "
                    "proposal changes them back"
                )


def put_network(
    state: StateWriter, org: str, peer_url: str, client_url: str, api_url: str, height: int
) -> None:
    """Record where ``org``'s etcd member and node listen (at genesis, or when added)."""
    state.put(keys.network(org), OrgNetwork(org=org, etcd_peer_url=peer_url,
                                            etcd_client_url=client_url, api_url=api_url,
                                            set_height=height))  # fmt: skip


def execute(state: StateWriter, ctx: Context, action: AnyAction) -> None:
    """Carry out an approved action in this block (checked again first)."""
    check_action(state, ctx, action)
    at = ctx.height + 1
    match action:
        case AddOrganisation():
            registry.put_organisation(state, action.org, action.name, action.roles,
                                      action.node_key)  # fmt: skip
            history = [KeyPeriod(node_key=action.node_key, from_height=at)]
            state.put(keys.node_keys(action.org), NodeKeyHistory(org=action.org, keys=history))
            put_network(state, action.org, action.etcd_peer_url, action.etcd_client_url,
                        action.api_url, ctx.height)  # fmt: skip
            chain.change_proposers(state, ctx, add=[action.org])
            ctx.emit("consortium.organisation_added", org=action.org, from_height=at)
        case RemoveOrganisation():
            chain.change_proposers(state, ctx, remove=[action.org])
            registry.mark_removed(state, action.org, at)
            ctx.emit("consortium.organisation_removed", org=action.org, from_height=at)
        case RotateNodeKey():
            _rotate(state, action.org, action.node_key, at)
            ctx.emit("consortium.node_key_rotated", org=action.org, node_key=action.node_key,
                     from_height=at)  # fmt: skip
        case ScheduleUpgrade():
            chain.schedule_upgrade(state, ctx, action.height, action.changes)
        case CancelUpgrade():
            chain.cancel_upgrade(state, ctx, action.height)


def _rotate(state: StateWriter, org: str, node_key: str, at: int) -> None:
    history = key_history(state, org)
    periods = [] if history is None else list(history.keys)
    # a second rotation in the same block replaces the first, which never took effect
    periods = [p for p in periods if p.from_height < at]
    periods.append(KeyPeriod(node_key=node_key, from_height=at))
    state.put(keys.node_keys(org), NodeKeyHistory(org=org, keys=periods))
    registry.set_node_key(state, org, node_key)
