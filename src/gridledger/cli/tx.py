"""``gridledger tx``: sign a transaction with a local key, submit it, and wait for its receipt.

Most commands are declared with :func:`gridledger.cli.signing.signed_command` from a function
that builds the body. Every command signs with ``HOME/keys/<--key or --from>.json`` as the
account ``--from`` (default ``operator``), submits to ``--node``, waits up to ``--wait``
seconds, and prints the receipt. The exit code is 0 only when the transaction committed with
status ``ok``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from gridledger.cli import chain, consortium, market
from gridledger.cli.common import (
    HomeOpt,
    JsonOpt,
    NodeOpt,
    fail,
    node_url,
    reporting,
    unix_seconds,
)
from gridledger.cli.keys import existing_key
from gridledger.cli.signing import Body, FromOpt, KeyOpt, WaitOpt, finish, send_tx, signed_command
from gridledger.contracts.base import ROLES
from gridledger.contracts.registry import TECHNOLOGIES
from gridledger.core.keystore import read_public_key
from gridledger.node.home import DEFAULT_HOME
from gridledger.sdk import Client, readings_body

app = typer.Typer(
    help="Sign and submit transactions; prints the receipt once committed.",
    no_args_is_help=True,
)
app.add_typer(market.tx_app, name="market")
app.add_typer(consortium.tx_app, name="consortium")
chain.register_tx(app)

AmountOpt = Annotated[
    int, typer.Option("--amount", min=1, help="Amount in minor currency units (integer).")
]
AccountOpt = Annotated[str, typer.Option("--account", help="The account id.")]
RoleOpt = Annotated[str, typer.Option("--role", help=f"One of: {', '.join(ROLES)}.")]


@signed_command(app, "transfer", "funds.transfer")
def transfer(
    to: Annotated[str, typer.Option("--to", help="The receiving account.")],
    amount: AmountOpt,
    memo: Annotated[str, typer.Option("--memo", help="Up to 256 characters.")] = "",
) -> Body:
    """Move funds from --from to --to (funds.transfer)."""
    body: dict[str, Any] = {"to": to, "amount": amount}
    if memo:
        body["memo"] = memo
    return body


@signed_command(app, "mint", "funds.mint")
def mint(
    to: Annotated[str, typer.Option("--to", help="The account credited.")],
    amount: AmountOpt,
) -> Body:
    """Create funds in --to's balance (funds.mint; operator role)."""
    return {"to": to, "amount": amount}


def _public_key(home: Path, given: str | None, key_name: str | None, json_out: bool) -> str:
    """The public key given by --public-key, or read from HOME/keys/<--key-name>.json."""
    if (given is None) == (key_name is None):
        raise typer.BadParameter("give exactly one of --public-key and --key-name")
    if key_name is None:
        assert given is not None
        return given
    with reporting(json_out):
        return read_public_key(existing_key(home, key_name, json_out))


@app.command("add-account")
def add_account(
    account: AccountOpt,
    org: Annotated[str, typer.Option("--org", help="The account's organisation.")],
    public_key: Annotated[
        str | None, typer.Option("--public-key", help="'ed25519:<hex>' of the account's key.")
    ] = None,
    key_name: Annotated[
        str | None,
        typer.Option("--key-name", help="Take the public key from HOME/keys/<NAME>.json."),
    ] = None,
    role: Annotated[
        list[str] | None, typer.Option("--role", help="A role to give (repeatable).")
    ] = None,
    sender: FromOpt = "operator",
    key: KeyOpt = None,
    wait: WaitOpt = 10.0,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Register an account with its public key and roles (registry.add_account; operator)."""
    public_key = _public_key(home, public_key, key_name, json_out)
    body = {"account": account, "org": org, "public_key": public_key, "roles": role or []}
    send_tx(home, node, sender, key, wait, json_out, "registry.add_account", body)


@signed_command(app, "grant-role", "registry.grant_role")
def grant_role(
    account: AccountOpt,
    role: RoleOpt,
) -> Body:
    """Give an account a role its organisation holds (registry.grant_role; operator)."""
    return {"account": account, "role": role}


@signed_command(app, "revoke-role", "registry.revoke_role")
def revoke_role(
    account: AccountOpt,
    role: RoleOpt,
) -> Body:
    """Take a role from an account (registry.revoke_role; operator)."""
    return {"account": account, "role": role}


@signed_command(app, "add-org", "registry.add_organisation")
def add_org(
    org: Annotated[str, typer.Option("--org", help="The organisation id.")],
    name: Annotated[str, typer.Option("--name", help="Its display name.")],
    role: Annotated[
        list[str] | None,
        typer.Option("--role", help="A role its accounts may hold (repeatable)."),
    ] = None,
    node_key: Annotated[
        str | None,
        typer.Option("--node-key", help="'ed25519:<hex>' key its node signs blocks with."),
    ] = None,
) -> Body:
    """Register an organisation and the roles its accounts may hold (operator)."""
    body: dict[str, Any] = {"org": org, "name": name, "roles": role or []}
    if node_key is not None:
        body["node_key"] = node_key
    return body


@app.command("submit")
def submit(
    file: Annotated[str, typer.Argument(help="A signed transaction as JSON; '-' reads stdin.")],
    wait: WaitOpt = 10.0,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Submit a transaction signed elsewhere (e.g. with the SDK's sign_tx) as it is."""
    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        fail("cli.unreadable_file", f"cannot read {file}: {exc.strerror}", json_out)
    with reporting(json_out), Client(node_url(home, node)) as client:
        result = client.submit_and_wait(raw, wait)
    finish(result, json_out)


# registry of assets --------------------------------------------------------------------------
DeviceOpt = Annotated[str, typer.Option("--device", help="The device id.")]
SiteOpt = Annotated[str, typer.Option("--site", help="The site id.")]
MeterOpt = Annotated[str, typer.Option("--meter", help="The meter id.")]
CountryOpt = Annotated[str, typer.Option("--country", help="ISO 3166-1 alpha-2 code, e.g. CN.")]
RegionOpt = Annotated[
    str, typer.Option("--grid-region", help="Grid region or bidding zone, e.g. CN-GD.")
]
CeilingOpt = Annotated[
    int,
    typer.Option(
        "--max-wh-per-hour", min=1, help="Most energy the site can plausibly draw, Wh per hour."
    ),
]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (up to 256 characters).")]


@signed_command(app, "register-device", "registry.register_device")
def register_device(
    device: DeviceOpt,
    name: Annotated[str, typer.Option("--name", help="Display name, 1-128 characters.")],
    technology: Annotated[
        str, typer.Option("--technology", help=f"One of: {', '.join(TECHNOLOGIES)}.")
    ],
    fuel: Annotated[str, typer.Option("--fuel", help="Energy source, e.g. solar, wind.")],
    capacity_w: Annotated[
        int, typer.Option("--capacity-w", min=1, help="Nameplate capacity in W (AC).")
    ],
    commissioned: Annotated[
        str, typer.Option("--commissioned", help="Commissioning date, YYYY-MM-DD.")
    ],
    country: CountryOpt,
    grid_region: RegionOpt,
    latitude_udeg: Annotated[
        int, typer.Option("--latitude-udeg", help="Latitude in micro-degrees.")
    ] = 0,
    longitude_udeg: Annotated[
        int, typer.Option("--longitude-udeg", help="Longitude in micro-degrees.")
    ] = 0,
    support: Annotated[
        str, typer.Option("--support", help="Public support: none, feed_in_tariff, ...")
    ] = "none",
) -> Body:
    """Register a generation plant of --from's organisation (registry.register_device;
    producer)."""
    return {
        "device": device,
        "name": name,
        "technology": technology,
        "fuel": fuel,
        "capacity_w": capacity_w,
        "commissioned": commissioned,
        "country": country,
        "grid_region": grid_region,
        "latitude_udeg": latitude_udeg,
        "longitude_udeg": longitude_udeg,
        "support": support,
    }


@signed_command(app, "register-site", "registry.register_site")
def register_site(
    site: SiteOpt,
    name: Annotated[str, typer.Option("--name", help="Display name, 1-128 characters.")],
    country: CountryOpt,
    grid_region: RegionOpt,
    max_wh_per_hour: CeilingOpt,
    owner_org: Annotated[
        str | None,
        typer.Option("--owner-org", help="Owner organisation (grid operators only)."),
    ] = None,
) -> Body:
    """Register a consumption site (registry.register_site; consumer or grid_operator)."""
    body: dict[str, Any] = {
        "site": site,
        "name": name,
        "country": country,
        "grid_region": grid_region,
        "max_wh_per_hour": max_wh_per_hour,
    }
    if owner_org is not None:
        body["owner_org"] = owner_org
    return body


@signed_command(app, "register-meter", "registry.register_meter")
def register_meter(
    meter: MeterOpt,
    gateway: Annotated[str, typer.Option("--gateway", help="The account that reports it.")],
    kind: Annotated[
        str, typer.Option("--kind", help="generation (with --device) or consumption (--site).")
    ],
    device: Annotated[
        str | None, typer.Option("--device", help="The device a generation meter measures.")
    ] = None,
    site: Annotated[
        str | None, typer.Option("--site", help="The site a consumption meter measures.")
    ] = None,
    interval_s: Annotated[
        int, typer.Option("--interval-s", help="Reading interval: 900, 3600 or 86400 s.")
    ] = 900,
) -> Body:
    """Register a meter of a device or site and its gateway (registry.register_meter;
    grid_operator)."""
    body: dict[str, Any] = {
        "meter": meter,
        "kind": kind,
        "gateway": gateway,
        "interval_s": interval_s,
    }
    if device is not None:
        body["device"] = device
    if site is not None:
        body["site"] = site
    return body


@signed_command(app, "set-meter-gateway", "registry.set_meter_gateway")
def set_meter_gateway(
    meter: MeterOpt,
    gateway: Annotated[str, typer.Option("--gateway", help="The account to report it now.")],
) -> Body:
    """Move a meter to another gateway account (registry.set_meter_gateway; grid_operator)."""
    return {"meter": meter, "gateway": gateway}


@signed_command(app, "set-site-ceiling", "registry.set_site_ceiling")
def set_site_ceiling(
    site: SiteOpt,
    max_wh_per_hour: CeilingOpt,
) -> Body:
    """Change a site's consumption ceiling (registry.set_site_ceiling; grid_operator)."""
    return {"site": site, "max_wh_per_hour": max_wh_per_hour}


# account keys and suspension -----------------------------------------------------------------
@app.command("rotate-key")
def rotate_key(
    account: AccountOpt,
    public_key: Annotated[
        str | None, typer.Option("--public-key", help="'ed25519:<hex>' of the new key.")
    ] = None,
    key_name: Annotated[
        str | None,
        typer.Option("--key-name", help="Take the new public key from HOME/keys/<NAME>.json."),
    ] = None,
    sender: FromOpt = "operator",
    key: KeyOpt = None,
    wait: WaitOpt = 10.0,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Replace an account's public key (registry.rotate_key; the account itself or an
    operator). Afterwards the account signs with the new key (--key NAME)."""
    public_key = _public_key(home, public_key, key_name, json_out)
    body = {"account": account, "public_key": public_key}
    send_tx(home, node, sender, key, wait, json_out, "registry.rotate_key", body)


@signed_command(app, "suspend", "registry.suspend_account")
def suspend(account: AccountOpt, reason: ReasonOpt = "") -> Body:
    """Suspend an account: the node refuses its transactions (registry.suspend_account;
    operator)."""
    return {"account": account, "reason": reason}


@signed_command(app, "reinstate", "registry.reinstate_account")
def reinstate(
    account: AccountOpt,
    reason: ReasonOpt = "",
) -> Body:
    """Lift an account's suspension (registry.reinstate_account; operator)."""
    return {"account": account, "reason": reason}


# meter data ----------------------------------------------------------------------------------
@signed_command(app, "correct-reading", "metering.correct")
def correct_reading(
    meter: MeterOpt,
    start: Annotated[
        str, typer.Option("--start", help="Interval start: Unix seconds or ISO 8601 (UTC).")
    ],
    energy_wh: Annotated[int, typer.Option("--energy-wh", min=0, help="The corrected energy, Wh.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (1-256 characters).")],
) -> Body:
    """Record a corrected value beside a reading; the original stays (metering.correct;
    grid_operator)."""
    return {
        "meter": meter,
        "start": unix_seconds(start, "--start"),
        "energy_wh": energy_wh,
        "reason": reason,
    }


@app.command("submit-readings")
def submit_readings(
    file: Annotated[
        str,
        typer.Argument(
            help='JSON: [{"meter", "start", "length_s", "energy_wh"}, ...] or '
            "{\"readings\": [...]}; '-' reads stdin."
        ),
    ],
    sender: Annotated[str, typer.Option("--from", help="The gateway account.")] = "operator",
    key: KeyOpt = None,
    wait: WaitOpt = 10.0,
    home: HomeOpt = DEFAULT_HOME,
    node: NodeOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Sign up to 5,000 readings as one metering.submit from the gateway --from. Refused
    readings are listed in the receipt's events; the others are stored."""
    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        fail("cli.unreadable_file", f"cannot read {file}: {exc.strerror}", json_out)
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        fail("cli.malformed_file", f"{file} is not JSON: {exc}", json_out)
    readings = doc.get("readings") if isinstance(doc, dict) else doc
    if not isinstance(readings, list) or not all(isinstance(r, dict) for r in readings):
        fail("cli.malformed_file", f"{file} holds no list of reading objects", json_out)
    with reporting(json_out):
        body = readings_body(readings)
    send_tx(home, node, sender, key, wait, json_out, "metering.submit", body)
