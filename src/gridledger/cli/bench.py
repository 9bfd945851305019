"""``gridledger bench``: measure the node on this machine."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gridledger.bench.abuse import run_abuse_bench
from gridledger.bench.certificates import run_certificates_bench
from gridledger.bench.ingest import run_ingest_bench
from gridledger.bench.ledger import run_ledger_bench, run_scale_bench
from gridledger.bench.market import run_market_bench
from gridledger.bench.network import run_network_bench
from gridledger.bench.state import run_state_bench
from gridledger.cli.common import JsonOpt, console, fail, progress_bar
from gridledger.contracts.market.matching import MECHANISMS

app = typer.Typer(help="Benchmarks of the node on this machine.", no_args_is_help=True)

_PHASES = {"sign": "signing transfers", "commit": "committing"}


Report = Callable[[str, int, int], None]


def _bench(
    title: str,
    phases: dict[str, str],
    total: int,
    home: Path | None,
    json_out: bool,
    run: Callable[[Report], dict[str, Any]],
) -> None:
    """Run a benchmark with a progress bar per phase; print its result as JSON or a table."""
    if home is not None and home.exists() and any(home.iterdir()):
        fail(
            "bench.home_exists",
            f"{home} is not empty; the benchmark builds a new chain, so give a new directory "
            "(or none, for a temporary one)",
            json_out,
        )
    # progress goes to stderr, and only to a terminal, so stdout holds just the result
    with progress_bar() as progress:
        tasks = {
            phase: progress.add_task(label, total=total, start=False)
            for phase, label in phases.items()
        }

        def report(phase: str, done: int, phase_total: int) -> None:
            task = tasks.get(phase)
            if task is not None:
                progress.start_task(task)
                progress.update(task, completed=done, total=phase_total)

        try:
            result = run(report)
        except (ValueError, RuntimeError) as exc:
            fail("bench.failed", str(exc), json_out)
    if json_out:
        typer.echo(json.dumps(result))
        return
    table = Table("measure", "value", title=title, title_justify="left")
    for name, value in result.items():
        table.add_row(name, str(value))
    console.print(table)


@app.command("ledger")
def ledger(
    txs: Annotated[int, typer.Option("--txs", min=1, help="Signed transfers to commit.")] = 50_000,
    accounts: Annotated[
        int, typer.Option("--accounts", min=2, help="Funded accounts in the genesis.")
    ] = 10_000,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            file_okay=False,
            help="A new directory for the benchmark's chain. Default: a temporary one.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=0, help="Signature-check processes. Default: one per core."),
    ] = None,
    block_txs: Annotated[
        int, typer.Option("--block-txs", min=1, help="Transactions per block at most.")
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the transfer pattern.")] = 1,
    scale_accounts: Annotated[
        int | None,
        typer.Option(
            "--scale-accounts",
            min=2,
            help="Run again with this many accounts in state and report scale_ratio "
            "(large over small throughput), both in this one run.",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Committed transfers per second through the whole node, against one core's Ed25519 rate."""
    if scale_accounts is not None and home is not None:
        fail("bench.usage", "--scale-accounts builds two chains; it takes no --home", json_out)

    def run(report: Report) -> dict[str, Any]:
        if scale_accounts is not None:
            return run_scale_bench(
                txs=txs,
                small=accounts,
                large=scale_accounts,
                workers=workers,
                block_max_txs=block_txs,
                progress=report,
            )
        return run_ledger_bench(
            txs=txs,
            accounts=accounts,
            home=home,
            workers=workers,
            block_max_txs=block_txs,
            seed=seed,
            progress=report,
        )

    _bench("ledger benchmark", _PHASES, txs, home, json_out, run)


@app.command("ingest")
def ingest(
    readings: Annotated[
        int, typer.Option("--readings", min=1, help="Meter readings to commit.")
    ] = 1_000_000,
    meters: Annotated[int, typer.Option("--meters", min=1, help="Meters registered.")] = 10_000,
    gateways: Annotated[
        int, typer.Option("--gateways", min=1, help="Gateway accounts reporting them.")
    ] = 100,
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=5000, help="Readings per signed batch.")
    ] = 1000,
    home: Annotated[
        Path | None,
        typer.Option("--home", file_okay=False, help="A new directory to keep the chain in."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=0, help="Admission processes. Default: one per core."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Committed meter readings per second: signed batches from many gateways."""

    def run(report: Report) -> dict[str, Any]:
        return run_ingest_bench(
            readings=readings,
            meters=meters,
            gateways=gateways,
            batch=batch,
            home=home,
            workers=workers,
            progress=report,
        )

    phases = {"sign": "signing batches", "commit": "committing readings"}
    _bench("ingest benchmark", phases, readings, home, json_out, run)


@app.command("state")
def state_bench(
    readings: Annotated[
        int, typer.Option("--readings", min=1, help="Meter readings to commit.")
    ] = 10_000_000,
    meters: Annotated[int, typer.Option("--meters", min=1, help="Meters registered.")] = 100_000,
    gateways: Annotated[
        int, typer.Option("--gateways", min=1, help="Gateway accounts reporting them.")
    ] = 100,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            file_okay=False,
            help="A new directory to keep the chain in. Default: a temporary one.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=0, help="Admission processes. Default: one per core."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """A large state on disk: readings per second early and late, peak memory, restart time
    and memory, and proofs of an old height (the default 10^7 readings take tens of minutes
    and several GB of disk)."""

    def run(report: Report) -> dict[str, Any]:
        return run_state_bench(
            readings=readings, meters=meters, gateways=gateways, home=home, workers=workers,
            progress=report,
        )  # fmt: skip

    phases = {"sign": "signing batches", "commit": "committing readings"}
    _bench("state benchmark", phases, readings, home, json_out, run)


def _sizes(value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(
            "a comma-separated list of order counts, e.g. 10000,100000"
        ) from None
    if not sizes or any(n < 10 for n in sizes):
        raise typer.BadParameter("each size is at least 10 orders")
    return sizes


@app.command("market")
def market_bench(
    orders: Annotated[
        int, typer.Option("--orders", min=10, help="Orders in the interval to clear.")
    ] = 100_000,
    mechanism: Annotated[
        str,
        typer.Option(
            "--mechanism", help="pay_as_clear, pay_as_bid or preferred_first (10% of bids prefer)."
        ),
    ] = "pay_as_clear",
    scaling: Annotated[
        str,
        typer.Option(
            "--scaling",
            help="Order counts to measure in the same run, for the growth comparison.",
        ),
    ] = "10000,100000,1000000",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the order book.")] = 1,
    json_out: JsonOpt = False,
) -> None:
    """Clearing and settlement time of one interval with N orders, and how it grows with N."""
    if mechanism not in MECHANISMS:
        fail("bench.usage", f"--mechanism must be one of {', '.join(MECHANISMS)}", json_out)
    sizes = _sizes(scaling)

    def run(report: Report) -> dict[str, Any]:
        return run_market_bench(orders, mechanism, sizes, seed, progress=report)

    _bench("market benchmark", {"run": "order books"}, len(sizes) + 1, None, json_out, run)


@app.command("web")
def web_bench(
    days: Annotated[
        int, typer.Option("--days", min=1, max=31, help="Days of the demo community.")
    ] = 30,
    plants: Annotated[int, typer.Option("--plants", min=1, help="Rooftop PV plants.")] = 20,
    households: Annotated[int, typer.Option("--households", min=1, help="Households.")] = 200,
    repeat: Annotated[
        int, typer.Option("--repeat", min=1, help="Requests per page kind (after a warm-up).")
    ] = 20,
    txs: Annotated[
        int | None,
        typer.Option(
            "--txs",
            min=1,
            help="Also time the explorer on a chain of this many transfers (1000000 takes "
            "minutes).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Server-side and client time of every kind of web page, on the demo community's chain."""
    from gridledger.bench.web import run_web_bench  # noqa: PLC0415 (web stack on demand)

    def run(report: Report) -> dict[str, Any]:
        return run_web_bench(
            days=days, plants=plants, households=households, repeat=repeat, txs=txs,
            progress=report,
        )  # fmt: skip

    phases = {"hours": "running the community", "commit": "committing transfers"}
    _bench("web page benchmark", phases, days * 24, None, json_out, run)


@app.command("network")
def network_bench(
    orgs: Annotated[
        int, typer.Option("--orgs", min=1, max=50, help="Organisations in the network.")
    ] = 4,
    seconds: Annotated[
        float, typer.Option("--seconds", min=1, help="How long the network is under load.")
    ] = 30.0,
    accounts: Annotated[
        int, typer.Option("--accounts", min=2, help="Funded accounts sending transfers.")
    ] = 2000,
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=10_000, help="Transfers per POST /v1/txs/batch.")
    ] = 200,
    inflight: Annotated[
        int,
        typer.Option(
            "--inflight",
            min=1,
            help="Transfers sent and not yet committed, at most, over all senders (the "
            "closed-loop load on the network).",
        ),
    ] = 2000,
    embedded_txs: Annotated[
        int, typer.Option("--embedded-txs", min=1, help="Transfers for the embedded node.")
    ] = 40_000,
    embedded_inflight: Annotated[
        int,
        typer.Option("--embedded-inflight", min=1, help="In-flight bound for the embedded node."),
    ] = 8000,
    turn_grace_ms: Annotated[
        int | None,
        typer.Option("--turn-grace-ms", min=0, help="Override network.json's turn_grace_ms."),
    ] = None,
    fill_ms: Annotated[
        int | None, typer.Option("--fill-ms", min=0, help="Override network.json's fill_ms.")
    ] = None,
    window: Annotated[
        int | None, typer.Option("--window", min=1, help="Override network.json's window.")
    ] = None,
    poll_ms: Annotated[
        int, typer.Option("--poll-ms", min=1, help="How often finality is polled.")
    ] = 25,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            file_okay=False,
            help="A new directory to keep both chains, their logs and the network's settings "
            "in. Default: a temporary one.",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Final transfers per second and finality latency of a network of N organisations (each
    an etcd member and a node, loopback only), against an embedded node in the same run."""

    def run(report: Report) -> dict[str, Any]:
        return run_network_bench(
            orgs=orgs, seconds=seconds, accounts=accounts, batch=batch, inflight=inflight,
            embedded_txs=embedded_txs, embedded_inflight=embedded_inflight,
            turn_grace_ms=turn_grace_ms, fill_ms=fill_ms, window=window, poll_ms=poll_ms,
            home=home, progress=report,
        )  # fmt: skip

    phases = {"sign": "signing transfers", "embedded": "embedded node",
              "network": "network (seconds)"}  # fmt: skip
    _bench("network benchmark", phases, int(seconds), home, json_out, run)


@app.command("abuse")
def abuse_bench(
    uploads: Annotated[
        int, typer.Option("--uploads", min=0, help="Concurrent large uploads.")
    ] = 50,
    upload_mb: Annotated[int, typer.Option("--upload-mb", min=1, help="Each upload's size.")] = 60,
    slow: Annotated[int, typer.Option("--slow", min=0, help="Slow clients.")] = 500,
    requests: Annotated[
        int, typer.Option("--requests", min=4, help="Honest requests per run.")
    ] = 400,
    json_out: JsonOpt = False,
) -> None:
    """A node under large uploads and slow clients: its memory, and honest clients' latency
    against a quiet run (loopback only)."""

    def run(report: Report) -> dict[str, Any]:
        return run_abuse_bench(uploads, upload_mb, slow, requests, progress=report)

    _bench("abuse benchmark", {"quiet": "quiet run", "abuse": "under abuse"}, 2, None,
           json_out, run)  # fmt: skip


@app.command("certificates")
def certificates_bench(
    plants: Annotated[int, typer.Option("--plants", min=1, help="Generation plants.")] = 1000,
    days: Annotated[
        int, typer.Option("--days", min=1, max=31, help="Days of hourly generation issued.")
    ] = 30,
    txs: Annotated[
        int,
        typer.Option(
            "--txs",
            min=1,
            help="Transactions in each of the issue, transfer, cancel and "
            "claim phases (at most plants x days x 24).",
        ),
    ] = 24_000,
    consumers: Annotated[
        int, typer.Option("--consumers", min=1, help="Consumer accounts, a site each.")
    ] = 10_000,
    certifiers: Annotated[
        int, typer.Option("--certifiers", min=1, help="Certifier accounts signing issues.")
    ] = 1000,
    meter_interval: Annotated[
        int,
        typer.Option(
            "--meter-interval",
            help="Generation meters' interval in s: 3600 (a reading per hour) or 900.",
        ),
    ] = 3600,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            file_okay=False,
            help="A new directory for the benchmark's chain. Default: a temporary one.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=0, help="Signature-check processes. Default: one per core."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Issuing a month of hourly certificates, the committed rates of issue, transfer and
    claim transactions against one core's Ed25519 rate, and a certificate's proof."""
    if meter_interval not in (900, 3600):
        fail("bench.usage", "--meter-interval is 900 or 3600", json_out)
    if txs > plants * days * 24:
        fail("bench.usage", f"--txs is at most plants x days x 24 = {plants * days * 24}",
             json_out)  # fmt: skip

    def run(report: Report) -> dict[str, Any]:
        return run_certificates_bench(
            plants=plants, days=days, txs=txs, consumers=consumers, certifiers=certifiers,
            home=home, workers=workers, meter_interval_s=meter_interval, progress=report,
        )  # fmt: skip

    phases = {"setup": "setting up plants and readings", "month": "issuing the month",
              "issue": "issue transactions", "transfer": "transfers", "cancel": "cancels",
              "claim": "claims", "proofs": "proofs"}  # fmt: skip
    _bench("certificates benchmark", phases, plants, home, json_out, run)


@app.command("carbon")
def carbon_bench(
    sites: Annotated[int, typer.Option("--sites", min=1, help="Household sites.")] = 10_000,
    days: Annotated[
        int, typer.Option("--days", min=1, max=31, help="Days of hourly readings.")
    ] = 30,
    orgs: Annotated[int, typer.Option("--orgs", min=1, help="Organisations owning them.")] = 10,
    queries: Annotated[int, typer.Option("--queries", min=1, help="Inventory queries.")] = 200,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            file_okay=False,
            help="A new directory for both chains. Default: a temporary one.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=0, help="Signature-check processes. Default: one per core."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Readings per second with carbon accounting on and off, an organisation's year
    inventory and the month's report of every site."""
    from gridledger.bench.carbon import run_carbon_bench  # noqa: PLC0415 (like the others')

    def run(report: Report) -> dict[str, Any]:
        return run_carbon_bench(sites=sites, days=days, orgs=orgs, queries=queries, home=home,
                                workers=workers, progress=report)  # fmt: skip

    phases = {"sign": "signing readings", "off": "readings, carbon off",
              "on": "readings, carbon on", "queries": "inventory and report"}  # fmt: skip
    _bench("carbon benchmark", phases, sites * days * 24, home, json_out, run)


@app.command("claims")
def claims_bench(
    samples: Annotated[
        int, typer.Option("--samples", min=1, help="Checks of the proof file timed.")
    ] = 200,
    json_out: JsonOpt = False,
) -> None:
    """The median time to check one carbon-neutrality claim's proof file offline
    (claim_verify_ms; target under 1 ms), on a small chain built in memory."""
    from gridledger.bench.claims import run_claims_bench  # noqa: PLC0415 (like the others')

    def run(_report: Report) -> dict[str, Any]:
        return run_claims_bench(samples)

    _bench("claims benchmark", {}, samples, None, json_out, run)


@app.command("carbon-markets")
def carbon_markets_bench(
    blocks: Annotated[
        int, typer.Option("--blocks", min=1, help="Serial blocks issued, then retired.")
    ] = 1_000_000,
    orders: Annotated[
        int, typer.Option("--orders", min=2, help="Limit orders through the node.")
    ] = 100_000,
    traders: Annotated[
        int, typer.Option("--traders", min=2, help="Accounts placing them (half buy).")
    ] = 1000,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            file_okay=False,
            help="A new directory for the orders' chain. Default: a temporary one.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=0, help="Signature-check processes. Default: one per core."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Credit serial blocks issued and retired per second, and limit orders per second
    through the whole node, with the one-core Ed25519 rate of the same run."""
    from gridledger.bench.carbon_markets import run_carbon_markets_bench  # noqa: PLC0415

    def run(report: Report) -> dict[str, Any]:
        return run_carbon_markets_bench(blocks=blocks, orders=orders, traders=traders,
                                        home=home, workers=workers, progress=report)  # fmt: skip

    phases = {"issue": "issuing serial blocks", "retire": "retiring them",
              "sign": "signing orders", "orders": "committing orders",
              "claims": "checking claim proof files"}  # fmt: skip
    _bench("carbon markets benchmark", phases, blocks, home, json_out, run)


@app.command("passports")
def passports_bench(
    events: Annotated[
        int, typer.Option("--events", min=2, help="Custody events (half ships, half receipts).")
    ] = 20_000,
    orgs: Annotated[int, typer.Option("--orgs", min=1, help="Consignee organisations.")] = 100,
    makers: Annotated[int, typer.Option("--makers", min=1, help="The maker's accounts.")] = 100,
    batches: Annotated[
        int, typer.Option("--batches", min=1, help="Batches in the bill of materials.")
    ] = 100_000,
    levels: Annotated[int, typer.Option("--levels", min=1, help="Its depth.")] = 5,
    fan_in: Annotated[int, typer.Option("--fan-in", min=1, help="Inputs per batch.")] = 3,
    hours: Annotated[
        int, typer.Option("--hours", min=0, max=24, help="Metered hours per batch.")
    ] = 8,
    home: Annotated[
        Path | None,
        typer.Option("--home", file_okay=False, help="A new directory. Default: a temporary one."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=0, help="Signature-check processes. Default: one per core."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Custody events committed per second against one core's Ed25519 rate, the footprint
    roll-up through a deep bill of materials, and checking a passport's proof file."""
    from gridledger.bench.passports import run_passports_bench  # noqa: PLC0415

    if batches < levels:
        fail("bench.usage", "--batches must be at least --levels", json_out)

    def run(report: Report) -> dict[str, Any]:
        return run_passports_bench(events=events, orgs=orgs, makers=makers, batches=batches,
                                   levels=levels, fan_in=fan_in, hours=hours, home=home,
                                   workers=workers, progress=report)  # fmt: skip

    phases = {"setup": "set-up", "ship": "ships", "receive": "receipts",
              "rollup-setup": "bill of materials", "rollup": "roll-up"}  # fmt: skip
    _bench("passports benchmark", phases, events, home, json_out, run)
