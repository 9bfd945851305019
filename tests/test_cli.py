"""The ``gridledger`` command end to end: a real node in a subprocess, commands against it.

Short commands run in process (typer's runner); the node and the benchmark run as the
installed console script, as a user would start them.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from fixtures_node import PASSPHRASE, free_port
from gridledger.cli.logs import JsonFormatter
from gridledger.cli.main import app
from gridledger.core.crypto import SigningKey
from gridledger.core.keystore import load_key
from gridledger.sdk import sign_tx

ENV = {"GRIDLEDGER_PASSPHRASE": PASSPHRASE, "GRIDLEDGER_HOME": None, "GRIDLEDGER_NODE": None}
BENCH_KEYS = {
    "committed_tx_per_s",
    "ed25519_verify_per_s_one_core",
    "ratio",
    "txs",
    "accounts",
    "block_commit_ms_p50",
    "block_commit_ms_p99",
    "peak_rss_mb",
}


def gridledger_command() -> list[str]:
    """The installed console script, or the module if the package is not installed."""
    script = Path(sys.executable).with_name("gridledger")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gridledger.cli"]


def run(*args: str | Path, env: dict[str, str | None] | None = None, code: int = 0) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args], env=env or ENV)
    assert result.exit_code == code, (result.output, result.exception)
    return result


def run_json(*args: str | Path, code: int = 0) -> Any:
    result = run(*args, "--json", code=code)
    return json.loads(result.stdout)


@dataclass
class NodeProcess:
    home: Path
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> int:
        """SIGTERM, as a service manager would; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log_records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    home = tmp_path_factory.mktemp("cli") / "home"
    port = free_port()
    info = run_json("init", "--home", home, "--chain-id", "cli-test", "--api", f"127.0.0.1:{port}")
    assert info["chain_id"] == "cli-test"
    assert Path(info["operator_key"]).is_file()
    log = home / "node.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [*gridledger_command(), "node", "--home", str(home), "--workers", "0",
             "--block-interval-ms", "20", "--keeper", "operator"],
            env={**os.environ, "GRIDLEDGER_PASSPHRASE": PASSPHRASE},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    running = NodeProcess(home, url, proc, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the node did not start: " + log.read_text()
            time.sleep(0.1)
        yield running
    finally:
        running.stop()


def test_transactions_and_queries(node: NodeProcess) -> None:
    home = node.home
    created = run_json("keys", "new", "alice", "--home", home)
    assert run("keys", "show", "alice", "--home", home).stdout.strip() == created["public_key"]
    listed = {k["name"]: k["public_key"] for k in run_json("keys", "list", "--home", home)}
    assert listed["alice"] == created["public_key"]
    assert {"node", "operator"} <= set(listed)

    added = run_json(
        "tx", "add-account", "--account", "alice", "--org", "operator", "--key-name", "alice",
        "--role", "consumer", "--home", home,
    )  # fmt: skip
    assert added["receipt"]["status"] == "ok"
    minted = run_json("tx", "mint", "--to", "alice", "--amount", "5000", "--home", home)
    assert minted["receipt"]["events"] == [{"type": "funds.minted", "to": "alice", "amount": 5000}]
    paid = run_json(
        "tx", "transfer", "--from", "alice", "--to", "operator", "--amount", "1200",
        "--memo", "rent", "--home", home,
    )  # fmt: skip
    assert paid["receipt"]["status"] == "ok"

    # the rich (non-JSON) receipt
    shown = run("tx", "grant-role", "--account", "alice", "--role", "producer", "--home", home)
    assert "ok" in shown.stdout
    assert "registry.role_granted" in shown.stdout
    run("tx", "revoke-role", "--account", "alice", "--role", "producer", "--home", home)
    org = run_json(
        "tx", "add-org", "--org", "households", "--name", "Households", "--role", "consumer",
        "--home", home,
    )  # fmt: skip
    assert org["receipt"]["status"] == "ok"

    # refused at admission: the code, exit 1, nothing changes
    refused = run("tx", "transfer", "--from", "alice", "--to", "nobody", "--amount", "1",
                  "--home", home, code=1)  # fmt: skip
    assert "registry.unknown_account" in refused.output
    forbidden = run_json("tx", "mint", "--from", "alice", "--to", "alice", "--amount", "1",
                         "--home", home, code=1)  # fmt: skip
    assert forbidden["error"]["code"] == "auth.forbidden"
    # committed but failed: the receipt, exit 1
    failed = run_json("tx", "transfer", "--from", "alice", "--to", "operator",
                      "--amount", "999999", "--home", home, code=1)  # fmt: skip
    assert failed["receipt"]["code"] == "funds.insufficient_balance"
    # a float never leaves the command line
    run("tx", "transfer", "--to", "alice", "--amount", "1.5", "--home", home, code=2)

    assert run("query", "balance", "alice", "--home", home).stdout.strip() == "3800"
    account = run_json("query", "account", "alice", "--home", home)
    assert (account["balance"], account["roles"]) == (3800, ["consumer"])
    assert "3800" in run("query", "account", "alice", "--home", home).stdout

    found = run_json("query", "tx", paid["hash"], "--home", home)
    assert found["tx"]["body"] == {"to": "operator", "amount": 1200, "memo": "rent"}
    assert "funds.transfer" in run("query", "tx", paid["hash"], "--home", home).stdout
    block = run_json("query", "block", str(paid["height"]), "--home", home)
    assert block["txs"][paid["index"]]["hash"] == paid["hash"]
    latest = run_json("query", "block", "--home", home)
    status = run_json("query", "status", "--home", home)
    assert latest["height"] == status["height"]
    assert status["chain_id"] == "cli-test"
    assert "cli-test" in run("query", "status", "--home", home).stdout

    proven = run_json("query", "state", "funds/balance/alice", "--proof", "--home", home)
    assert proven["value"] == 3800
    assert proven["proof_valid"] is True
    assert proven["signature_checked"] is True
    shown = run("query", "state", "funds/balance/alice", "--proof", "--home", home).stdout
    assert "valid against block" in shown
    # the balance as it was when the mint committed, proved against that block's header
    then = run_json("query", "state", "funds/balance/alice", "--proof", "--height",
                    str(minted["height"]), "--home", home)  # fmt: skip
    assert (then["value"], then["height"], then["proof_valid"]) == (5000, minted["height"], True)
    assert then["state_root"] != proven["state_root"]
    ahead = run_json("query", "state", "funds/balance/alice", "--proof", "--height", "999999",
                     "--home", home, code=1)  # fmt: skip
    assert ahead["error"]["code"] == "state.height_not_retained"
    assert run("query", "state", "funds/balance/alice", "--home", home).stdout.strip() == "3800"
    absent = run_json("query", "state", "funds/balance/nobody", "--home", home, code=1)
    assert absent["error"]["code"] == "not_found"

    # a transaction signed elsewhere, submitted from a file
    operator = load_key(home / "keys" / "operator.json", PASSPHRASE)
    nonce = run_json("query", "account", "operator", "--home", home)["next_nonce"]
    tx = sign_tx(operator, "cli-test", "funds.transfer", "operator", nonce,
                 {"to": "alice", "amount": 200})  # fmt: skip
    path = home / "signed.json"
    path.write_bytes(tx.encode())
    submitted = run_json("tx", "submit", str(path), "--home", home)
    assert submitted["hash"] == tx.hash().hex()
    replay = run_json("tx", "submit", str(path), "--home", home, code=1)
    assert replay["error"]["code"] == "tx.duplicate"
    assert run("query", "balance", "alice", "--home", home).stdout.strip() == "4000"


def test_devices_meters_and_readings(node: NodeProcess) -> None:
    """A producer's plant and a consumer's flat, their meters, a gateway's readings, a
    correction, a key rotation and a suspension; then every query of them."""
    home = node.home
    run("keys", "new", "gw", "--home", home)
    run("keys", "new", "gw-new", "--home", home)
    run("tx", "add-account", "--account", "gw", "--org", "operator", "--key-name", "gw",
        "--home", home)  # fmt: skip
    for role in ("producer", "grid_operator"):
        run("tx", "grant-role", "--account", "operator", "--role", role, "--home", home)
    device = run_json(
        "tx", "register-device", "--device", "pv-1", "--name", "Roof PV", "--technology",
        "solar_pv", "--fuel", "solar", "--capacity-w", "4000", "--commissioned", "2024-03-01",
        "--country", "CN", "--grid-region", "CN-GD", "--latitude-udeg", "23129100",
        "--home", home,
    )  # fmt: skip
    assert device["receipt"]["events"][0]["type"] == "registry.device_registered"
    run("tx", "register-site", "--site", "home-1", "--name", "Flat 3", "--country", "CN",
        "--grid-region", "CN-GD", "--max-wh-per-hour", "2000", "--home", home)  # fmt: skip
    run("tx", "register-meter", "--meter", "m-1", "--kind", "generation", "--device", "pv-1",
        "--gateway", "gw", "--home", home)  # fmt: skip
    run("tx", "register-meter", "--meter", "m-2", "--kind", "consumption", "--site", "home-1",
        "--gateway", "operator", "--interval-s", "3600", "--home", home)  # fmt: skip
    run("tx", "set-meter-gateway", "--meter", "m-2", "--gateway", "gw", "--home", home)
    run("tx", "set-site-ceiling", "--site", "home-1", "--max-wh-per-hour", "3000", "--home", home)
    bad = run_json("tx", "register-meter", "--meter", "m-3", "--kind", "generation",
                   "--site", "home-1", "--gateway", "gw", "--home", home, code=1)  # fmt: skip
    assert bad["error"]["code"] == "registry.invalid_meter_binding"

    base = (int(time.time()) // 3600 - 3) * 3600
    readings = [{"meter": "m-1", "start": base + i * 900, "length_s": 900, "energy_wh": 100 * i}
                for i in range(4)]  # fmt: skip
    readings.append({"meter": "m-2", "start": base, "length_s": 3600, "energy_wh": 2500})
    readings.append({"meter": "m-2", "start": base + 3600, "length_s": 3600, "energy_wh": 3001})
    path = home / "readings.json"
    path.write_text(json.dumps({"readings": readings}))
    submitted = run_json("tx", "submit-readings", path, "--from", "gw", "--home", home)
    events = submitted["receipt"]["events"]
    assert [(e["index"], e["code"]) for e in events[:-1]] == [(5, "metering.implausible")]
    assert events[-1] == {"type": "metering.readings_accepted", "count": 5, "energy_wh": 3100}
    # the same file again: every reading is a duplicate now, shown in the receipt's table
    again = run("tx", "submit-readings", path, "--from", "gw", "--home", home).stdout
    assert "metering.duplicate_reading" in again
    assert run_json("tx", "submit-readings", home / "nothing.json", "--from", "gw",
                    "--home", home, code=1)["error"]["code"] == "cli.unreadable_file"  # fmt: skip
    (home / "empty.json").write_text("[]")
    empty = run_json("tx", "submit-readings", home / "empty.json", "--from", "gw", "--home", home,
                     code=1)  # fmt: skip
    assert empty["error"]["code"] == "tx.invalid_body"

    iso_start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base + 900))
    corrected = run_json("tx", "correct-reading", "--meter", "m-1", "--start", iso_start,
                         "--energy-wh", "90", "--reason", "CT ratio", "--home", home)  # fmt: skip
    assert corrected["receipt"]["events"][0]["original_wh"] == 100

    # a new key for the gateway; the old one is refused from then on
    run("tx", "rotate-key", "--from", "gw", "--account", "gw", "--key-name", "gw-new",
        "--home", home)  # fmt: skip
    one = home / "one.json"
    one.write_text(json.dumps([{**readings[0], "start": base + 4 * 900, "energy_wh": 400}]))
    old_key = run_json("tx", "submit-readings", one, "--from", "gw", "--home", home, code=1)
    assert old_key["error"]["code"] == "tx.bad_signature"
    run("tx", "suspend", "--account", "gw", "--reason", "tamper alarm", "--home", home)
    suspended = run_json("tx", "submit-readings", one, "--from", "gw", "--key", "gw-new",
                         "--home", home, code=1)  # fmt: skip
    assert suspended["error"]["code"] == "tx.sender_suspended"
    run("tx", "reinstate", "--account", "gw", "--home", home)
    run("tx", "submit-readings", one, "--from", "gw", "--key", "gw-new", "--home", home)

    listed = run_json("query", "devices", "--home", home)
    assert [(d["id"], d["meters"]) for d in listed["devices"]] == [("pv-1", ["m-1"])]
    assert "solar_pv" in run("query", "devices", "--home", home).stdout
    assert run_json("query", "device", "pv-1", "--home", home)["capacity_w"] == 4000
    assert "Roof PV" in run("query", "device", "pv-1", "--home", home).stdout
    assert run_json("query", "sites", "--home", home)["sites"][0]["max_wh_per_hour"] == 3000
    assert run_json("query", "site", "home-1", "--home", home)["meters"] == ["m-2"]
    assert "home-1" in run("query", "sites", "--home", home).stdout
    meters = run_json("query", "meters", "--gateway", "gw", "--home", home)["meters"]
    assert [m["id"] for m in meters] == ["m-1", "m-2"]
    assert run_json("query", "meter", "m-2", "--home", home)["gateway"] == "gw"
    assert run_json("query", "device", "pv-404", "--home", home, code=1)["error"]["code"] == (
        "not_found"
    )

    page = run_json("query", "readings", "--meter", "m-1", "--from", str(base + 900),
                    "--limit", "2", "--home", home)  # fmt: skip
    assert [(r["start_s"], r["corrected_wh"]) for r in page["readings"]] == [
        (base + 900, 90), (base + 1800, None)]  # fmt: skip
    assert page["next"] == base + 2700
    table = run("query", "readings", "--device", "pv-1", "--home", home).stdout
    assert iso_start in table
    assert "more:" not in table
    site = run_json("query", "readings", "--site", "home-1", "--home", home)
    assert [r["energy_wh"] for r in site["readings"]] == [2500]
    day = time.strftime("%Y-%m-%d", time.gmtime(base))
    window = ["--from", str(base), "--to", str(base + 7200)]
    hourly = run_json("query", "totals", "--meter", "m-1", "--meter", "m-2", *window,
                      "--home", home)  # fmt: skip
    assert hourly["totals"] == [{"start_s": base, "energy_wh": 0 + 90 + 200 + 300 + 2500},
                                {"start_s": base + 3600, "energy_wh": 400}]  # fmt: skip
    daily = run_json("query", "totals", "--device", "pv-1", "--from", day, "--to",
                     str(base + 86_400), "--interval", "86400", "--home", home)  # fmt: skip
    assert daily["energy_wh"] == 90 + 200 + 300 + 400
    run("query", "totals", "--site", "home-1", "--meter", "m-1", *window, "--home", home, code=2)
    shown = run("query", "totals", "--site", "home-1", *window, "--home", home).stdout
    assert "total 2500 Wh over m-2" in shown
    run("query", "readings", "--meter", "m-1", "--site", "home-1", "--home", home, code=2)
    run("query", "readings", "--meter", "m-1", "--from", "yesterday", "--home", home, code=2)


def test_chain_rules_upgrades_and_sync(node: NodeProcess, tmp_path: Path) -> None:
    """Rules by height from the CLI, an upgrade scheduled and cancelled, and a second home
    that catches up from the running node through the block import path."""
    home = node.home
    rules = run_json("query", "rules", "--home", home)
    assert "funds.transfer" in rules["rules"]["kinds"]
    assert rules["rules"]["proposers"] == ["operator"]
    far = rules["height"] + 1000
    up = run_json("tx", "schedule-upgrade", "--height", far, "--block-max-txs", "500",
                  "--disable", "funds.mint", "--home", home)  # fmt: skip
    assert up["receipt"]["status"] == "ok", up
    later = run_json("query", "rules", "--height", far, "--home", home)
    assert later["rules"]["block_max_txs"] == 500
    assert "funds.mint" not in later["rules"]["kinds"]
    assert [u["height"] for u in later["upgrades"]] == [far]
    assert run_json("query", "rules", "--home", home)["rules"]["block_max_txs"] == 2000
    table = run("query", "rules", "--home", home, "--height", far)
    assert "block max txs" in table.stdout
    assert f"upgrade at height {far}" in table.stdout
    cancelled = run_json("tx", "cancel-upgrade", "--height", far, "--home", home)
    assert cancelled["receipt"]["status"] == "ok"
    assert run_json("query", "rules", "--home", home)["upgrades"] == []
    refused = run_json("tx", "cancel-upgrade", "--height", far, "--home", home, code=1)
    assert refused["receipt"]["code"] == "chain.unknown_upgrade"

    follower = tmp_path / "follower"
    (follower / "keys").mkdir(parents=True)
    for name in ("genesis.json", "node.json", "keys/node.json"):
        (follower / name).write_bytes((home / name).read_bytes())
    tip = httpx.get(node.url + "/v1/status").json()["height"]
    synced = run_json("sync", "--from", node.url, "--to", tip, "--home", follower)
    assert synced["imported"] == tip
    assert synced["height"] == tip
    again = run_json("sync", "--from", node.url, "--to", tip, "--home", follower)
    assert again["imported"] == 0
    assert run_json("verify", "--home", follower, "--workers", "0")["ok"] is True
    header = httpx.get(f"{node.url}/v1/blocks/{tip}/header").json()
    with sqlite3.connect(follower / "chain.db") as conn:
        (stored,) = conn.execute("SELECT header FROM blocks WHERE height = ?", (tip,)).fetchone()
    conn.close()
    assert json.loads(stored) == header["header"]

    other = tmp_path / "other"
    run_json("init", "--home", other, "--chain-id", "another-chain")
    wrong = run_json("sync", "--from", node.url, "--home", other, code=1)
    assert wrong["error"]["code"] == "sync.other_chain"


def test_verify_then_detect_a_flipped_byte(node: NodeProcess) -> None:
    home = node.home
    paid = run_json("tx", "mint", "--to", "operator", "--amount", "77", "--home", home)
    signature = run_json("query", "tx", paid["hash"], "--home", home)["tx"]["signature"]
    assert node.stop() == 0
    records = node.log_records()
    assert any(r["msg"] == "block committed" and r["height"] >= 1 for r in records)
    assert records[-1]["msg"] == "node stopped"
    (started,) = [r for r in records if r["msg"] == "node started"]
    assert started["keeper"] == "operator"
    missing = run("node", "--home", home, "--keeper", "ghost", code=1)
    assert "keeper.no_key" in missing.stderr

    intact = run("verify", "--home", home, "--workers", "0")
    assert f"intact up to height {paid['height']}" in intact.stdout
    assert run_json("verify", "--home", home, "--workers", "0")["ok"] is True

    db = home / "chain.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(db.read_bytes())
    needle = signature.removeprefix("ed25519:").encode()
    assert data.count(needle) == 1
    at = data.index(needle) + 10
    data[at] = ord("0") if data[at] != ord("0") else ord("1")
    db.write_bytes(bytes(data))

    damaged = run("verify", "--home", home, "--workers", "0", code=1)
    assert f"damaged at height {paid['height']}" in damaged.output
    assert "block.bad_tx_signature" in damaged.output
    report = run_json("verify", "--home", home, "--workers", "0", code=1)
    assert report["bad_height"] == paid["height"]
    assert report["height"] == paid["height"] - 1
    assert report["code"] == "block.bad_tx_signature"


def test_bench_prints_one_json_object(tmp_path: Path) -> None:
    out = subprocess.run(
        [*gridledger_command(), "bench", "ledger", "--txs", "2000", "--accounts", "200", "--json"],
        capture_output=True,
        check=True,
        timeout=300,
    )
    result = json.loads(out.stdout)
    assert set(result) >= BENCH_KEYS
    assert (result["txs"], result["accounts"]) == (2000, 200)
    assert result["committed_tx_per_s"] > 0


def test_bench_refuses_a_used_home(tmp_path: Path) -> None:
    (tmp_path / "genesis.json").write_text("{}")
    result = run_json("bench", "ledger", "--txs", "10", "--home", tmp_path, code=1)
    assert result["error"]["code"] == "bench.home_exists"


def test_init_refuses_an_existing_chain_and_bad_options(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run("init", "--home", home, "--chain-id", "again")
    again = run("init", "--home", home, code=1)
    assert "already holds a chain" in again.output
    run("init", "--home", tmp_path / "b", "--api", "localhost", code=2)
    run("init", "--home", tmp_path / "c", "--chain-id", "has space", code=2)
    bad_org = run_json("init", "--home", tmp_path / "d", "--org", "Bad Org", code=1)
    assert bad_org["error"]["code"] == "registry.invalid_id"


def test_passphrase_prompt_confirms_new_keys(tmp_path: Path) -> None:
    home = tmp_path / "home"
    no_env = {**ENV, "GRIDLEDGER_PASSPHRASE": None}
    result = CliRunner().invoke(app, ["keys", "new", "bob", "--home", str(home), "--json"],
                                env=no_env, input="secret\nsecret\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "secret" not in result.output
    created = json.loads(result.stdout)
    assert load_key(home / "keys" / "bob.json", "secret").public_key == created["public_key"]
    mismatch = CliRunner().invoke(app, ["keys", "new", "carol", "--home", str(home)],
                                  env=no_env, input="one\ntwo\n")  # fmt: skip
    assert mismatch.exit_code != 0
    assert not (home / "keys" / "carol.json").exists()


def test_key_and_connection_errors(tmp_path: Path) -> None:
    home = tmp_path / "home"
    missing = run_json("tx", "mint", "--to", "x", "--amount", "1", "--home", home, code=1)
    assert missing["error"]["code"] == "keys.not_found"
    run("keys", "new", "dave", "--home", home)
    exists = run_json("keys", "new", "dave", "--home", home, code=1)
    assert exists["error"]["code"] == "keys.exists"
    run("keys", "new", "../evil", "--home", home, code=1)
    assert run_json("keys", "show", "nobody", "--home", home, code=1)["error"]["code"] == (
        "keys.not_found"
    )
    wrong = CliRunner().invoke(
        app,
        ["tx", "mint", "--from", "dave", "--to", "x", "--amount", "1", "--home", str(home)],
        env={**ENV, "GRIDLEDGER_PASSPHRASE": "wrong"},
    )
    assert wrong.exit_code == 1
    assert "wrong passphrase" in wrong.output
    url = f"http://127.0.0.1:{free_port()}"
    down = run_json("query", "status", "--node", url, "--home", home, code=1)
    assert down["error"]["code"] == "sdk.unreachable"
    no_chain = run_json("verify", "--home", home, code=1)
    assert no_chain["error"]["code"] == "home.no_chain"


def test_json_log_lines_keep_extra_fields() -> None:
    record = logging.LogRecord("gridledger.node", logging.INFO, __file__, 1, "block %s", ("x",),
                               None)  # fmt: skip
    record.height = 7
    record.color_message = "ignored"
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "block x"
    assert line["height"] == 7
    assert line["level"] == "info"
    assert "color_message" not in line
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert "ValueError: boom" in json.loads(JsonFormatter().format(record))["exc"]


def test_keys_export_prints_the_key_a_browser_takes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    created = run_json("keys", "new", "ann", "--home", home)
    exported = run_json("keys", "export", "ann", "--home", home)
    assert exported["public_key"] == created["public_key"]
    seed = exported["private_key"]
    assert SigningKey.from_seed(bytes.fromhex(seed)).public_key == created["public_key"]
    plain = run("keys", "export", "ann", "--home", home)
    assert plain.stdout.strip() == seed
    refused = CliRunner().invoke(
        app, ["keys", "export", "ann", "--home", str(home), "--json"],
        env={**ENV, "GRIDLEDGER_PASSPHRASE": "not the passphrase"},
    )  # fmt: skip
    assert refused.exit_code == 1
    assert seed not in refused.output
    missing = run_json("keys", "export", "bob", "--home", home, code=1)
    assert missing["error"]["code"] == "keys.not_found"
