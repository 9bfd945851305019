"""``gridledger``: the command line of a GridLedger node and its users (``docs/cli.md``).

gridledger init            create a node home: genesis, node and operator keys
gridledger node            run the node and its HTTP API
gridledger keys ...        create, show, list and export account keys
gridledger tx ...          sign, submit and wait for transactions
gridledger query ...       read accounts, blocks, transactions and state
gridledger cert ...        granular energy certificates: transactions, registry views, exports
gridledger carbon ...      carbon accounting: emission factors, inventories, reports
gridledger credits ...     carbon credits: projects, verified reductions, serials, retirements
gridledger allowances ...  emission allowances: periods, allocation, surrender, compliance
gridledger products ...    traceable products: custody, footprints, passports, CBAM
gridledger exchange ...    limit orders for allowances and credits: place, cancel, book, trades
gridledger community ...   a household's monthly clean-power card: export, verify
gridledger verify          re-execute the stored chain and check every hash and signature
gridledger verify-proof    check a saved proof file offline, finality included
gridledger sync            import a peer's blocks this node lacks, checking each one
gridledger ingest ...      meter-data gateways: MQTT subscriber, CSV/Parquet import
gridledger bench ledger    measure committed throughput on this machine
gridledger demo            the Shekou community's market on a simulated clock
"""

from __future__ import annotations

import logging
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from gridledger.cli import (
    bench,
    carbon,
    certificates,
    chain,
    community,
    credits,
    custody,
    demo,
    exchange,
    ingest,
    keys,
    logs,
    network,
    personal,
    products,
    proofs,
    query,
    tx,
)
from gridledger.cli.common import (
    HomeOpt,
    JsonOpt,
    console,
    err_console,
    fail,
    kv_table,
    parse_host_port,
    passphrase,
    print_json,
    progress_bar,
    reporting,
)
from gridledger.cli.serving import keeper_key, serve_until_stopped
from gridledger.contracts.registry import check_id
from gridledger.core.localtime import check_zone
from gridledger.node.cert_keeper import CertificateKeeper, KeeperError
from gridledger.node.chainverify import verify_chain
from gridledger.node.home import (
    DEFAULT_API,
    DEFAULT_HOME,
    init_home,
    key_path,
    open_node,
    read_settings,
)
from gridledger.node.keeper import MarketKeeper
from gridledger.node.node import DB_NAME, GENESIS_NAME

log = logging.getLogger("gridledger.cli")

app = typer.Typer(
    name="gridledger",
    help="GridLedger: a permissioned ledger for energy communities.",
    no_args_is_help=True,
    # a traceback's locals could hold the passphrase
    pretty_exceptions_show_locals=False,
)
app.add_typer(keys.app, name="keys")
app.add_typer(custody.app, name="custody")
app.add_typer(tx.app, name="tx")
app.add_typer(query.app, name="query")
app.add_typer(ingest.app, name="ingest")
app.add_typer(bench.app, name="bench")
app.add_typer(network.app, name="network")
app.add_typer(certificates.app, name="cert")
app.add_typer(carbon.app, name="carbon")
app.add_typer(credits.app, name="credits")
app.add_typer(credits.allowances_app, name="allowances")
app.add_typer(products.app, name="products")
app.add_typer(personal.app, name="personal")
app.add_typer(exchange.app, name="exchange")
app.add_typer(community.app, name="community")
app.command("sync")(chain.sync_command)
app.command("verify-proof")(proofs.verify_proof_command)
app.add_typer(chain.readmodels_app, name="readmodels")
app.command("demo")(demo.demo)

_CHAIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

ApiOpt = Annotated[
    str | None,
    typer.Option("--api", help="HOST:PORT the API listens on.", show_default=False),
]


def _version_callback(value: bool) -> None:
    if value:
        try:
            typer.echo(version("gridledger"))
        except PackageNotFoundError:
            typer.echo("unknown (not installed)")
        raise typer.Exit


@app.callback()
def main(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """GridLedger: a permissioned ledger for energy communities."""


@app.command()
def init(
    home: HomeOpt = DEFAULT_HOME,
    chain_id: Annotated[
        str | None,
        typer.Option(
            "--chain-id", help="Chain id. Default: gridledger-<random>.", show_default=False
        ),
    ] = None,
    org: Annotated[str, typer.Option("--org", help="This node's organisation id.")] = "operator",
    org_name: Annotated[
        str, typer.Option("--org-name", help="The organisation's display name.")
    ] = "Network operator",
    api: Annotated[str, typer.Option("--api", help="HOST:PORT for the API.")] = DEFAULT_API,
    time_zone: Annotated[
        str,
        typer.Option(
            "--time-zone",
            help="The IANA time zone of the people the chain serves (Asia/Shanghai): its pages "
            "show days and hours in it.",
        ),
    ] = "UTC",
    json_out: JsonOpt = False,
) -> None:
    """Create a new chain in HOME: genesis.json, node.json, the node key and the operator key."""
    if chain_id is not None and not _CHAIN_ID.match(chain_id):
        raise typer.BadParameter("1-64 characters of A-Z a-z 0-9 . _ -", param_hint="--chain-id")
    try:
        check_zone(time_zone)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--time-zone") from None
    parse_host_port(api)
    with reporting(json_out):
        check_id(org, "organisation id")
        genesis = init_home(
            home, passphrase(confirm=True), chain_id=chain_id, org=org, org_name=org_name,
            api=api, time_zone=None if time_zone == "UTC" else time_zone,
        )  # fmt: skip
    operator = genesis.accounts[0].id
    info = {
        "home": str(home),
        "chain_id": genesis.chain_id,
        "genesis_hash": genesis.hash().hex(),
        "organisation": org,
        "operator_account": operator,
        "operator_key": str(key_path(home, operator)),
        "node_key": str(key_path(home, "node")),
        "api": api,
        "time_zone": time_zone,
    }
    if json_out:
        print_json(info)
        return
    console.print(kv_table([(k.replace("_", " "), v) for k, v in info.items()]))
    console.print(f"\nstart the node with: gridledger node --home {home}")


@app.command()
def node(
    home: HomeOpt = DEFAULT_HOME,
    api: ApiOpt = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=0, help="Signature-check processes; 0 checks inline."),
    ] = None,
    block_interval_ms: Annotated[
        int,
        typer.Option(
            "--block-interval-ms",
            min=1,
            help="Cut a block this long after its first transaction (the chain rules bound "
            "its size and count).",
        ),
    ] = 200,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = "info",
    keeper: Annotated[
        str | None,
        typer.Option(
            "--keeper",
            help="Send the market's clear and settle transactions when due, signed by this "
            "account (its key must be in the home's keys/).",
        ),
    ] = None,
    cert_keeper: Annotated[
        str | None,
        typer.Option(
            "--cert-keeper",
            help="Issue certificates for every final metered interval (and expire and "
            "reconcile them), signed by this certifier account (its key must be in the "
            "home's keys/; never an operator account).",
        ),
    ] = None,
    prune_keep: Annotated[
        int | None,
        typer.Option(
            "--prune-keep",
            min=16,
            help="Keep the state of the last N heights provable (?height= on proof endpoints) "
            "and prune older versions in the background. Default: keep every height (an "
            "archive node).",
            show_default=False,
        ),
    ] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            "--tls-cert",
            dir_okay=False,
            help="Serve HTTPS with this certificate (PEM; with --tls-key). Default: tls_cert "
            "in node.json.",
            show_default=False,
        ),
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option(
            "--tls-key",
            dir_okay=False,
            help="The certificate's private key (PEM).",
            show_default=False,
        ),
    ] = None,
    names: Annotated[
        list[str] | None,
        typer.Option(
            "--name",
            help="A host name or address the node is served under, besides node.json's names, "
            "its API address, localhost and 127.0.0.1 (repeatable). Requests under any other "
            "Host are refused.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the node and serve its API until SIGINT or SIGTERM (JSON logs on stderr).

    Custodial signing (and members' sign-in) is served only on a loopback address, over TLS
    (--tls-cert/--tls-key), or behind an HTTPS proxy named in node.json (behind_proxy); the
    log says so at start otherwise, and every other page and endpoint is served all the same.
    """
    if log_level.lower() not in {"debug", "info", "warning", "error"}:
        raise typer.BadParameter("debug, info, warning or error", param_hint="--log-level")
    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("--tls-cert and --tls-key go together", param_hint="--tls-key")
    for path in (tls_cert, tls_key):
        if path is not None and not path.is_file():
            raise typer.BadParameter(f"{path} does not exist", param_hint="--tls-cert/--tls-key")
    # imported here: the web stack is slow to import
    from gridledger.api.server import Tls  # noqa: PLC0415
    from gridledger.api.site import Site, SiteSettings  # noqa: PLC0415

    with reporting():
        settings = read_settings(home)
        site_settings = SiteSettings.of_home(home)
        Site.serving("127.0.0.1", 0, names=tuple(names or ()))  # --name values are checked
    host, port = parse_host_port(api or str(settings.get("api", DEFAULT_API)))
    tls = None if tls_cert is None or tls_key is None else Tls(tls_cert, tls_key)
    if tls is None and site_settings.tls_cert is not None and site_settings.tls_key is not None:
        for path in (site_settings.tls_cert, site_settings.tls_key):
            if not path.is_file():
                fail("home.error", f"node.json names the TLS file {path}, which does not exist")
    logs.configure(log_level)
    secret = passphrase()
    signer = None if keeper is None else keeper_key(home, keeper, secret)
    certifier = (
        None if cert_keeper is None else keeper_key(home, cert_keeper, secret, "certificate keeper")
    )
    network = None
    # imported here: the etcd client is only needed by a network node
    from gridledger.network.config import NETWORK_NAME, open_network_node  # noqa: PLC0415

    with reporting():
        if (home / NETWORK_NAME).is_file():
            # one organisation of a consortium: blocks are ordered by its etcd cluster
            network = open_network_node(
                home, secret, verify_workers=workers, tune_gc=True, prune_keep=prune_keep
            )
            chain = network.node
        else:
            chain = open_node(
                home,
                secret,
                verify_workers=workers,
                block_interval_ms=block_interval_ms,
                # the node is this process's main job: keep the collector off the state tree
                tune_gc=True,
                prune_keep=prune_keep,
            )
    market_keeper = (
        None if keeper is None or signer is None else MarketKeeper(chain, keeper, signer)
    )
    certificate_keeper = None
    if cert_keeper is not None and certifier is not None:
        try:
            certificate_keeper = CertificateKeeper(chain, cert_keeper, certifier)
        except KeeperError as exc:
            chain.close()
            fail(exc.code, exc.message)

    def started() -> None:
        log.info(
            "node started",
            extra={"chain_id": chain.chain_id, "height": chain.tip.height, "api": f"{host}:{port}",
                   "keeper": keeper, "cert_keeper": cert_keeper},
        )  # fmt: skip

    serve_until_stopped(
        chain,
        host,
        port,
        log_level=log_level.lower(),
        keeper=market_keeper,
        cert_keeper=certificate_keeper,
        started=started,
        tls=tls,
        names=tuple(names or ()),
        network=network,
    )


@app.command()
def verify(
    home: HomeOpt = DEFAULT_HOME,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=0, help="Signature-check processes. Default: one per core."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Re-execute the stored chain from genesis and check every hash, root and signature."""
    if not (home / GENESIS_NAME).is_file() or not (home / DB_NAME).is_file():
        fail("home.no_chain", f"{home} holds no chain (no {GENESIS_NAME} and {DB_NAME})", json_out)
    with progress_bar() as progress:
        task = progress.add_task("verifying", total=None)

        def report(height: int, tip: int) -> None:
            progress.update(task, completed=height + 1, total=tip + 1)

        report_ = verify_chain(home, workers=workers, progress=report)
    if json_out:
        print_json(
            {
                "ok": report_.ok,
                "height": report_.height,
                "txs": report_.txs,
                "bad_height": report_.bad_height,
                "code": report_.code,
                "problem": report_.problem,
            }
        )
    elif report_.ok:
        console.print(f"[green]intact[/] up to height {report_.height} ({report_.txs} txs)")
    else:
        err_console.print(
            f"[bold red]damaged[/] at height {report_.bad_height} ({report_.code}): "
            f"{escape(report_.problem or '')}"
            f"\nintact up to height {report_.height} ({report_.txs} txs checked)"
        )
    if not report_.ok:
        raise typer.Exit(1)
