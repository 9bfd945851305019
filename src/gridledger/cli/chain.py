"""Chain rules and upgrades, and catching up from a peer.

gridledger query rules              the rules in force (transaction and block limits, kinds)
gridledger tx schedule-upgrade      change a rule from a future height (operator)
gridledger tx cancel-upgrade        cancel an upgrade before it takes effect (operator)
gridledger sync --from URL          import the blocks a peer has and this node lacks
gridledger readmodels rebuild       rebuild the read models beside the chain from genesis
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from gridledger.cli.common import (
    HomeOpt,
    JsonOpt,
    NodeOpt,
    call_node,
    console,
    err_console,
    fail,
    kv_table,
    passphrase,
    print_json,
    progress_bar,
    reporting,
)
from gridledger.cli.signing import Body, BodyOrRead, signed_command
from gridledger.core.errors import InvalidBlock
from gridledger.node.home import DEFAULT_HOME, local_time, open_node
from gridledger.node.node import DB_NAME, GENESIS_NAME
from gridledger.node.sync import catch_up
from gridledger.readmodels import default_models
from gridledger.sdk import Client
from gridledger.state.readmodels import ReadModels
from gridledger.state.store import BlockStore

QuotaRoleOpt = Annotated[str, typer.Option("--role", help="A role, or 'any' for every account.")]
HeightOpt = Annotated[int, typer.Option("--height", min=1, help="The height it takes effect at.")]


def rules_command(
    height: Annotated[
        int | None, typer.Option("--height", min=1, help="Default: the next block's height.")
    ] = None,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The chain rules in force at a height, and the upgrades scheduled."""
    answer = call_node(home, node, json_out, lambda c: c.rules(height))
    if json_out:
        print_json(answer)
        return
    rules = answer["rules"]
    rows: list[tuple[str, Any]] = [("height", answer["height"])]
    rows += [(k.replace("_", " "), v) for k, v in rules.items() if k not in ("kinds", "proposers")]
    rows += [("proposers", ", ".join(rules["proposers"])), ("kinds", len(rules["kinds"]))]
    console.print(kv_table(rows, title="Chain rules"))
    for up in answer["upgrades"]:
        console.print(f"upgrade at height {up['height']}: {escape(str(up['changes']))}")
    for q in answer["quotas"]:
        console.print(
            f"quota of {q['role']}: {q['txs_per_minute']} transactions and "
            f"{q['bytes_per_minute']} bytes a minute"
        )


def register_tx(app: typer.Typer) -> None:
    """Declare the upgrade commands on ``gridledger tx``."""

    @signed_command(app, "schedule-upgrade", "chain.schedule_upgrade")
    def schedule_upgrade(
        height: HeightOpt,
        max_tx_bytes: Annotated[int | None, typer.Option(min=1)] = None,
        block_max_bytes: Annotated[int | None, typer.Option(min=1)] = None,
        block_max_txs: Annotated[int | None, typer.Option(min=1)] = None,
        max_future_ms: Annotated[int | None, typer.Option(min=1)] = None,
        max_readings_per_batch: Annotated[int | None, typer.Option(min=1)] = None,
        proposer: Annotated[
            list[str] | None,
            typer.Option(
                "--proposer",
                help="An organisation allowed to propose (repeatable; "
                "the list replaces the current one).",
            ),
        ] = None,
        enable: Annotated[
            list[str] | None, typer.Option("--enable", help="A kind to allow (repeatable).")
        ] = None,
        disable: Annotated[
            list[str] | None, typer.Option("--disable", help="A kind to refuse (repeatable).")
        ] = None,
    ) -> BodyOrRead:
        """Change chain rules from --height on (chain.schedule_upgrade; operator)."""
        changes: dict[str, Any] = {
            k: v
            for k, v in (
                ("max_tx_bytes", max_tx_bytes),
                ("block_max_bytes", block_max_bytes),
                ("block_max_txs", block_max_txs),
                ("max_future_ms", max_future_ms),
                ("max_readings_per_batch", max_readings_per_batch),
                ("proposers", proposer),
            )
            if v is not None
        }
        if not enable and not disable:
            return {"height": height, "changes": changes}

        def with_kinds(client: Client) -> dict[str, Any]:
            kinds = set(client.rules(height)["rules"]["kinds"])
            kinds |= set(enable or [])
            kinds -= set(disable or [])
            return {"height": height, "changes": {**changes, "kinds": sorted(kinds)}}

        return with_kinds

    @signed_command(app, "cancel-upgrade", "chain.cancel_upgrade")
    def cancel_upgrade(height: HeightOpt) -> Body:
        """Cancel an upgrade that has not taken effect (chain.cancel_upgrade; operator)."""
        return {"height": height}

    @signed_command(app, "set-quota", "chain.set_quota")
    def set_quota(
        role: QuotaRoleOpt,
        txs_per_minute: Annotated[int, typer.Option(min=1)],
        bytes_per_minute: Annotated[int, typer.Option(min=1)],
    ) -> Body:
        """Limit what accounts of a role may submit per minute (chain.set_quota; operator)."""
        return {
            "role": role,
            "txs_per_minute": txs_per_minute,
            "bytes_per_minute": bytes_per_minute,
        }

    @signed_command(app, "clear-quota", "chain.clear_quota")
    def clear_quota(role: QuotaRoleOpt) -> Body:
        """Remove a role's admission quota (chain.clear_quota; operator)."""
        return {"role": role}


def sync_command(
    peer: Annotated[str, typer.Option("--from", help="A peer node's API URL.")],
    to: Annotated[
        int | None, typer.Option("--to", min=1, help="Stop at this height (default: its tip).")
    ] = None,
    home: HomeOpt = DEFAULT_HOME,
    json_out: JsonOpt = False,
) -> None:
    """Import the blocks a peer has and this node lacks, checking each like a follower.

    Run it while this home's node is stopped. Every block is imported through the same
    checks as any block from elsewhere; the first one that fails stops the sync with its
    code (exit 1), and the blocks before it stay committed.
    """
    with reporting(json_out):
        chain = open_node(home, passphrase(), verify_workers=None)
        try:
            with Client(peer) as client:
                status = client.status()
                if status["genesis_hash"] != chain.genesis_hash.hex():
                    fail("sync.other_chain", f"{peer} serves another chain "
                         f"(genesis {status['genesis_hash']})", json_out)  # fmt: skip
                target = status["height"] if to is None else min(to, status["height"])
                with progress_bar() as bar:
                    task = bar.add_task("importing", total=None)

                    def shown(height: int, tip: int) -> None:
                        bar.update(task, completed=height, total=tip)

                    try:
                        done = catch_up(chain, client.block, target, shown)
                    except InvalidBlock as exc:
                        fail(exc.code, f"block {chain.tip.height + 1} from {peer}: "
                             f"{exc.message}", json_out)  # fmt: skip
        finally:
            chain.close()
    result = {"imported": done.imported, "height": done.height, "txs": done.txs}
    if json_out:
        print_json(result)
    elif done.imported:
        console.print(f"imported {done.imported} blocks ({done.txs} txs); tip {done.height}")
    else:
        err_console.print(f"already at height {done.height}")


readmodels_app = typer.Typer(
    help="The read models beside the chain (totals pages show; never part of the state root).",
    no_args_is_help=True,
)


def _open_readmodels(home: Path, json_out: bool) -> ReadModels:
    if not (home / GENESIS_NAME).is_file() or not (home / DB_NAME).is_file():
        fail("home.no_chain", f"{home} holds no chain (no {GENESIS_NAME} and {DB_NAME})", json_out)
    return ReadModels(BlockStore(home / DB_NAME), default_models(local_time(home).name))


@readmodels_app.command("status")
def readmodels_status(home: HomeOpt = DEFAULT_HOME, json_out: JsonOpt = False) -> None:
    """Each read model's version and the height it has folded in."""
    models = _open_readmodels(home, json_out)
    try:
        rows = models.status()
        tip = models.store.tip_height()
    finally:
        models.store.close()
    if json_out:
        print_json({"tip": tip, "models": rows})
        return
    console.print(kv_table([(str(r["name"]), f"version {r['stored_version']} at height "
                             f"{r['height']} (code: version {r['version']})") for r in rows]
                           + [("chain tip", tip)]))  # fmt: skip


@readmodels_app.command("rebuild")
def readmodels_rebuild(home: HomeOpt = DEFAULT_HOME, json_out: JsonOpt = False) -> None:
    """Drop every read model and rebuild it from genesis out of the stored blocks.

    Run it while the node is stopped. Nothing here touches blocks or state.
    """
    models = _open_readmodels(home, json_out)
    try:
        folded = models.rebuild()
        rows = models.status()
    finally:
        models.store.close()
    if json_out:
        print_json({"blocks": folded, "models": rows})
    else:
        console.print(f"rebuilt {len(rows)} read models from {folded} blocks")
