"""``gridledger tx consortium``: propose, approve and withdraw consortium decisions.

gridledger tx consortium propose-add-org       add an organisation that runs a node
gridledger tx consortium propose-remove-org    stop an organisation proposing blocks
gridledger tx consortium propose-rotate-key    replace an organisation's node key
gridledger tx consortium propose-upgrade       change chain rules from a future height
gridledger tx consortium propose-cancel-upgrade
gridledger tx consortium approve --proposal N  add your organisation's approval
gridledger tx consortium withdraw --proposal N withdraw your organisation's proposal

Every command signs and submits as every ``tx`` command does (:mod:`gridledger.cli.signing`):
the sender (``--from``, default ``operator``) is an operator account of an organisation
allowed to propose blocks. A proposal executes in the block of the approval that brings it to
more than two thirds of the organisations; ``docs/governance.md`` explains the rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gridledger.cli.signing import Body, signed_command
from gridledger.contracts.base import ROLES
from gridledger.core.keystore import KeystoreError, read_public_key

tx_app = typer.Typer(
    help="Consortium governance: propose, approve and withdraw decisions of the organisations.",
    no_args_is_help=True,
)

OrgOpt = Annotated[str, typer.Option("--org", help="The organisation id.")]
ProposalOpt = Annotated[int, typer.Option("--proposal", min=1, help="The proposal's number.")]
HeightOpt = Annotated[int, typer.Option("--height", min=1, help="The height it takes effect at.")]
NodeKeyOpt = Annotated[
    str,
    typer.Option(
        "--node-key",
        help="The node's key: 'ed25519:<hex>', or a keystore file to read the public key of.",
    ),
]
ExpiresOpt = Annotated[
    int | None,
    typer.Option(
        "--expires-at",
        min=0,
        help="Unix seconds after which approvals no longer count (default: 7 days on).",
    ),
]


def node_key_of(value: str) -> str:
    """A tagged key as given, or the public key of the keystore file ``value`` names."""
    if value.startswith("ed25519:"):
        return value
    try:
        return read_public_key(Path(value))
    except KeystoreError as exc:
        raise typer.BadParameter(str(exc), param_hint="--node-key") from None


def proposal(action: dict[str, Any], expires_at: int | None) -> Body:
    """The body of ``consortium.propose``."""
    body: dict[str, Any] = {"action": action}
    if expires_at is not None:
        body["expires_at_s"] = expires_at
    return body


@signed_command(tx_app, "propose-add-org", "consortium.propose")
def propose_add_org(
    org: OrgOpt,
    name: Annotated[str, typer.Option("--name", help="Its display name.")],
    node_key: NodeKeyOpt,
    etcd_peer_url: Annotated[str, typer.Option("--etcd-peer-url", help="Its etcd peer URL.")],
    etcd_client_url: Annotated[str, typer.Option("--etcd-client-url", help="Its etcd client URL.")],
    api_url: Annotated[str, typer.Option("--api-url", help="Its node's API URL.")],
    role: Annotated[
        list[str] | None,
        typer.Option(
            "--role",
            help=f"A role its accounts may hold (repeatable; default all: {', '.join(ROLES)}).",
        ),
    ] = None,
    expires_at: ExpiresOpt = None,
) -> Body:
    """Propose an organisation that runs a node (consortium.propose add_organisation)."""
    action = {
        "type": "add_organisation",
        "org": org,
        "name": name,
        "roles": role or list(ROLES),
        "node_key": node_key_of(node_key),
        "etcd_peer_url": etcd_peer_url,
        "etcd_client_url": etcd_client_url,
        "api_url": api_url,
    }
    return proposal(action, expires_at)


@signed_command(tx_app, "propose-remove-org", "consortium.propose")
def propose_remove_org(org: OrgOpt, expires_at: ExpiresOpt = None) -> Body:
    """Propose that an organisation stops proposing and voting (remove_organisation)."""
    return proposal({"type": "remove_organisation", "org": org}, expires_at)


@signed_command(tx_app, "propose-rotate-key", "consortium.propose")
def propose_rotate_key(org: OrgOpt, node_key: NodeKeyOpt, expires_at: ExpiresOpt = None) -> Body:
    """Propose a new node key for an organisation (consortium.propose rotate_node_key)."""
    action = {"type": "rotate_node_key", "org": org, "node_key": node_key_of(node_key)}
    return proposal(action, expires_at)


@signed_command(tx_app, "propose-upgrade", "consortium.propose")
def propose_upgrade(
    height: HeightOpt,
    max_tx_bytes: Annotated[int | None, typer.Option(min=1)] = None,
    block_max_bytes: Annotated[int | None, typer.Option(min=1)] = None,
    block_max_txs: Annotated[int | None, typer.Option(min=1)] = None,
    max_future_ms: Annotated[int | None, typer.Option(min=1)] = None,
    max_readings_per_batch: Annotated[int | None, typer.Option(min=1)] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", help="The kinds allowed from then on (repeatable; the whole list)."),
    ] = None,
    expires_at: ExpiresOpt = None,
) -> Body:
    """Propose a change of chain rules from --height on (schedule_upgrade)."""
    changes: dict[str, Any] = {
        k: v
        for k, v in (
            ("max_tx_bytes", max_tx_bytes),
            ("block_max_bytes", block_max_bytes),
            ("block_max_txs", block_max_txs),
            ("max_future_ms", max_future_ms),
            ("max_readings_per_batch", max_readings_per_batch),
            ("kinds", sorted(kind) if kind else None),
        )
        if v is not None
    }
    return proposal({"type": "schedule_upgrade", "height": height, "changes": changes}, expires_at)


@signed_command(tx_app, "propose-cancel-upgrade", "consortium.propose")
def propose_cancel_upgrade(height: HeightOpt, expires_at: ExpiresOpt = None) -> Body:
    """Propose cancelling an upgrade before it takes effect (cancel_upgrade)."""
    return proposal({"type": "cancel_upgrade", "height": height}, expires_at)


@signed_command(tx_app, "approve", "consortium.approve")
def approve(proposal_id: ProposalOpt) -> Body:
    """Approve a proposal for your organisation (consortium.approve)."""
    return {"proposal": proposal_id}


@signed_command(tx_app, "withdraw", "consortium.withdraw")
def withdraw(proposal_id: ProposalOpt) -> Body:
    """Withdraw a proposal your organisation made (consortium.withdraw)."""
    return {"proposal": proposal_id}
