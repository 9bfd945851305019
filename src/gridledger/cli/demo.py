"""``gridledger demo``: the Shekou community's market, run for days on a simulated clock.

The scenario and the driver live in :mod:`gridledger.sim.community`; this module parses the
options, shows progress, prints the summary (a table, or JSON with ``--json``) and, with
``--serve``, serves the finished chain's API on the real clock until Ctrl-C.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from gridledger.cli import logs
from gridledger.cli.common import (
    JsonOpt,
    console,
    err_console,
    fail,
    kv_table,
    passphrase,
    print_json,
    progress_bar,
    reporting,
)
from gridledger.contracts.market.matching import MECHANISMS

if TYPE_CHECKING:
    from gridledger.sim.community import Continuation

log = logging.getLogger("gridledger.cli")

DEFAULT_DEMO_HOME = Path(".gridledger-demo")
DEFAULT_PORT = 8645
HOST = "127.0.0.1"


def _kwh(wh: int) -> str:
    return f"{wh / 1000:,.1f}"


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f} %"


def _cny(fen: int) -> str:
    return f"{fen / 100:,.2f} CNY"


def _prices(p: dict[str, Any]) -> str:
    if p["min"] is None:
        return "-"
    return f"{p['min']}-{p['max']} (mean {p['mean']})"


def _carbon(s: dict[str, Any]) -> str:
    """The households' scope 2 by both methods and what their clean choice avoided."""
    c = s["carbon"]
    if "error" in c:
        return f"not computed: {c['error']['code']}: {c['error']['message']}"

    def kg(grams: int) -> str:
        return f"{grams / 1000:,.1f} kg"

    return (
        f"scope 2 {kg(s['scope2_location_gco2e'])} {c['gas']} location-based, "
        f"{kg(s['scope2_market_gco2e'])} market-based with annual matching, "
        f"{kg(s['scope2_market_hourly_gco2e'])} with hourly matching; "
        f"clean choices avoided {kg(s['avoided_gco2e'])}"
    )


def _supply_chain(s: dict[str, Any]) -> str:
    """What the rim maker's clean power saved the car maker, from the supply chain's story."""
    story = s.get("supply_chain")
    if not story:
        return "not run (its day has not ended yet)"
    return (
        f"ingot -> rim -> car on the community's meters: "
        f"{_kwh(story['clean_hour_certificates_wh'])} kWh of the plants' certificates "
        f"lower the clean car's market-based footprint by "
        f"{story['car_saving_market_g'] / 1000:,.1f} kg; passports at /products"
    )


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _print_summary(s: dict[str, Any], home: Path) -> None:
    c = s["community"]
    hh = s["households"]
    title = (
        f"{c['site']}: {c['first_day']} to {c['last_day']} ({c['days']} days, "
        f"{c['mechanism']}, seed {c['seed']})"
    )
    shares = hh["clean_share"]
    rows: list[tuple[str, Any]] = [
        ("plants", f"{c['plants']} rooftop PV, {c['capacity_w'] / 1000:,.0f} kW"),
        (
            "households",
            f"{c['households']}: {c['clean_households']} chose clean power, "
            f"{c['grid_households']} the grid",
        ),
        ("generation", f"{_kwh(s['generation_wh'])} kWh"),
        ("consumption", f"{_kwh(s['consumption_wh'])} kWh"),
        ("paired", f"{_kwh(s['paired_wh'])} kWh in {s['pairings']:,} pairings"),
        ("delivered clean", f"{_kwh(s['delivered_wh'])} kWh"),
        ("grid import", f"{_kwh(s['grid_import_wh'])} kWh"),
        ("fed into the grid", f"{_kwh(s['grid_export_wh'])} kWh"),
        (
            "clean share",
            f"{_pct(s['clean_share'])} of all consumption; "
            f"{_pct(s['clean_share_clean_households'])} for clean choosers "
            f"(by household {_pct(shares['min'])} to {_pct(shares['max'])}, "
            f"median {_pct(shares['median'])})",
        ),
        (
            "certificates",
            f"{_kwh(s['certified_wh'])} kWh certified, {_kwh(s['claimed_wh'])} kWh claimed "
            f"(24/7 share {_pct(s['hourly_matched_share'])})",
        ),
        ("carbon", _carbon(s)),
        ("supply chain", _supply_chain(s)),
        ("clearing price", f"{_prices(s['clearing_price'])} fen/kWh"),
        (
            "clean energy cost",
            f"{s['clean_price_paid'] or '-'} fen/kWh on average "
            f"(grid {c['tariffs']['sell_price']}, feed-in {c['tariffs']['feed_in_price']})",
        ),
        (
            "payments",
            f"clean {_cny(s['payments']['clean'])}, grid {_cny(s['payments']['grid'])}, "
            f"feed-in {_cny(s['payments']['feed_in'])}",
        ),
        (
            "intervals",
            f"{s['intervals']['cleared']} of {s['intervals']['total']} cleared, "
            f"{s['intervals']['settled']} settled",
        ),
        (
            "meter readings",
            f"{s['readings']['accepted']:,} of {s['readings']['submitted']:,} accepted, "
            f"{s['readings']['refused']} refused",
        ),
        (
            "chain",
            f"{s['chain']['chain_id']}, height {s['chain']['height']:,}, "
            f"{s['chain']['txs']:,} transactions, in {home}",
        ),
        (
            "time",
            f"{s['elapsed_s']} s (simulation {s['timing_s']['simulation']} s, "
            f"chain {s['timing_s']['chain']} s)",
        ),
    ]
    console.print(kv_table(rows, title=title))
    table = Table(
        title="By day: energy in kWh, clearing prices in fen/kWh",
        title_justify="left",
        box=None,
        pad_edge=False,
        padding=(0, 1),
    )
    table.add_column("day", no_wrap=True, min_width=10)
    for name in ("generated", "consumed", "clean", "grid in", "fed in", "share", "pairs", "price"):
        table.add_column(name, justify="right", no_wrap=True, min_width=len(name))
    for d in s["days"]:
        p = d["clearing_price"]
        table.add_row(
            d["date"],
            _kwh(d["generation_wh"]),
            _kwh(d["consumption_wh"]),
            _kwh(d["delivered_wh"]),
            _kwh(d["grid_import_wh"]),
            _kwh(d["grid_export_wh"]),
            f"{d['clean_share'] * 100:.1f}%",
            f"{d['pairings']:,}",
            "-" if p["min"] is None else f"{p['min']}-{p['max']}",
        )
    console.print()
    console.print(table)
    logins = s.get("logins")
    if logins:
        console.print(f"\nsign in at {logins['url']} to try the one-click choice:")
        for member in logins["members"]:
            console.print(f"  {member['account']}  password {member['password']}")
        console.print(
            f"operator token (custody page, /operator/members): {logins['operator_token']}"
        )
        console.print("these are shown once; the home keeps only their hashes")


def _serve(home: Path, secret: str, port: int, carry_on: Continuation | None, speed: int) -> None:
    """Serve the demo chain's API until SIGINT or SIGTERM, with the grid company's account
    keeping the market (clearing and settling when due), the certifier's account keeping its
    certificates (issuing each hour once final) and, given ``carry_on``, the community going
    on living: on the real clock, or one ``speed`` times faster that the node takes as its
    own."""
    from gridledger.cli.serving import Companion, keeper_key, serve_until_stopped  # noqa: PLC0415
    from gridledger.node.cert_keeper import CertificateKeeper, KeeperError  # noqa: PLC0415
    from gridledger.node.home import open_node  # noqa: PLC0415
    from gridledger.node.keeper import MarketKeeper  # noqa: PLC0415
    from gridledger.node.node import wall_clock_ms  # noqa: PLC0415
    from gridledger.sim.community import CERTIFIER, GRID  # noqa: PLC0415
    from gridledger.sim.live import LiveCommunity, SpeedClock  # noqa: PLC0415

    signer = keeper_key(home, GRID, secret)
    certifier = keeper_key(home, CERTIFIER, secret, "certificate keeper")
    clock = SpeedClock(wall_clock_ms(), speed)
    with reporting():
        chain = open_node(home, secret, tune_gc=True, clock=clock)
    try:
        cert_keeper = CertificateKeeper(chain, CERTIFIER, certifier)
    except KeeperError as exc:
        chain.close()
        fail(exc.code, exc.message)
    # the keepers look often enough to see every few minutes of the community's clock
    period_s = max(0.1, min(2.0, 60.0 / speed))
    keeper = MarketKeeper(chain, GRID, signer, period_s=period_s)
    companions: list[Companion] = []
    if carry_on is not None:
        companions.append(LiveCommunity(carry_on, f"http://{HOST}:{port}", clock, speed=speed))

    def started() -> None:
        pace = "on the real clock" if speed == 1 else f"{speed} times faster than the real clock"
        living = f"the community lives on {pace}; " if carry_on is not None else ""
        err_console.print(
            f"serving the demo chain at http://localhost:{port} ({living}API docs at /docs; "
            "sign in at /login with a password printed above); Ctrl-C stops it"
        )

    serve_until_stopped(
        chain, HOST, port, log_level="warning", access_log=False, keeper=keeper,
        cert_keeper=cert_keeper, started=started, companions=companions,
    )  # fmt: skip


def demo(
    plants: Annotated[
        int, typer.Option("--plants", min=1, max=999, help="Rooftop PV plants.")
    ] = 20,
    households: Annotated[
        int, typer.Option("--households", min=1, max=9999, help="Households.")
    ] = 200,
    days: Annotated[int, typer.Option("--days", min=1, max=31, help="Whole days to simulate.")] = 3,
    home: Annotated[
        Path,
        typer.Option("--home", file_okay=False, help="Where the demo chain lives."),
    ] = DEFAULT_DEMO_HOME,
    port: Annotated[
        int,
        typer.Option(
            "--port", min=1, max=65535, help="API port on 127.0.0.1 (node.json and --serve)."
        ),
    ] = DEFAULT_PORT,
    seed: Annotated[int, typer.Option("--seed", help="Seeds the community and its weather.")] = 1,
    mechanism: Annotated[
        str,
        typer.Option("--mechanism", help="pay_as_clear, pay_as_bid or preferred_first."),
    ] = "pay_as_clear",
    last_day: Annotated[
        str | None,
        typer.Option(
            "--last-day",
            help="Last simulated day in Shenzhen, YYYY-MM-DD. Default: the last day that has "
            "ended there.",
            show_default=False,
        ),
    ] = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="Replace the demo chain HOME holds already.")
    ] = False,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Run the community up to now, then serve the chain's API until Ctrl-C while "
            "the community goes on living.",
        ),
    ] = False,
    speed: Annotated[
        int,
        typer.Option(
            "--speed",
            min=1,
            max=3600,
            help="With --serve: the community's clock (and the node's) runs this many times "
            "faster than the real clock (60: an hour a minute).",
        ),
    ] = 1,
    json_out: JsonOpt = False,
) -> None:
    """Run the Shekou community (PV plants, households, a clean-power market) on a new chain.

    Days of meter data, clearing and settlement take seconds: block time follows a simulated
    clock that ends at the last local midnight. Prints a summary read from the ledger.
    """
    if mechanism not in MECHANISMS:
        raise typer.BadParameter(", ".join(MECHANISMS), param_hint="--mechanism")
    last: dt.date | None = None
    if last_day is not None:
        try:
            last = dt.date.fromisoformat(last_day)
        except ValueError:
            raise typer.BadParameter("a date YYYY-MM-DD", param_hint="--last-day") from None
    if serve and not _port_free(port):
        fail(
            "demo.port_in_use",
            f"{HOST}:{port} is taken (another node?); pass another --port",
            json_out,
        )
    # imported here: the simulation needs pvlib and pandas, which are slow to import
    from gridledger.sim.community import (  # noqa: PLC0415
        DemoConfig,
        DemoError,
        run_demo,
        run_demo_to_now,
    )

    logs.configure("warning")
    config = DemoConfig(
        plants=plants,
        households=households,
        days=days,
        seed=seed,
        mechanism=mechanism,
        last_day=last,
    )
    with reporting(json_out):
        secret = passphrase(confirm=True)
    with progress_bar() as progress:
        tasks: dict[str, Any] = {}
        labels = {"community": "simulating the community", "hours": "running the market"}

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(labels.get(phase, phase), total=total)
            progress.update(tasks[phase], completed=done, total=total)

        # served without a --last-day, the community runs up to now and then lives on
        live = serve and last is None
        carry_on: Continuation | None = None
        try:
            with reporting(json_out):
                if live:
                    summary, carry_on = run_demo_to_now(
                        config, home, secret, api=f"{HOST}:{port}", reset=reset, progress=report
                    )
                else:
                    summary = run_demo(
                        config, home, secret, api=f"{HOST}:{port}", reset=reset, progress=report
                    )
        except DemoError as exc:
            fail(exc.code, exc.message, json_out)
    if json_out:
        print_json(summary)
    else:
        _print_summary(summary, home)
        if not serve:
            console.print(f"\nserve it:  gridledger node --home {home}")
            console.print(f"check it:  gridledger verify --home {home}")
    if serve:
        _serve(home, secret, port, carry_on, speed)
