"""The custody file: keys a node holds for community accounts, sealed under the node key.

Round trip; a file sealed for another node, a swapped or damaged sealed seed, a seed that is
not the account's, and a malformed file are each refused with ``CustodyError``.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gridledger.cli.main import app
from gridledger.core.crypto import SigningKey, sha256
from gridledger.core.keystore import load_key
from gridledger.node.custody import Custody, CustodyError, custody_path, save_custody
from gridledger.node.members import Members


def seeded(name: str) -> SigningKey:
    return SigningKey.from_seed(sha256(b"custody-test/" + name.encode()))


NODE = seeded("node")
MEMBERS = {f"house-{i:03d}": seeded(f"house-{i}") for i in range(1, 6)}


def test_round_trip_and_file_mode(tmp_path: Path) -> None:
    assert len(Custody.open(tmp_path, NODE)) == 0  # no file: nothing in custody
    path = save_custody(tmp_path, NODE, MEMBERS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    opened = Custody.open(tmp_path, NODE)
    assert len(opened) == len(MEMBERS)
    for account, key in MEMBERS.items():
        assert account in opened
        held = opened.key(account)
        assert held is not None
        assert held.public_key == key.public_key
    assert opened.key("house-999") is None
    text = path.read_text()
    assert all(key.seed.hex() not in text for key in MEMBERS.values())  # seeds are sealed


def test_another_node_key_is_refused(tmp_path: Path) -> None:
    save_custody(tmp_path, NODE, MEMBERS)
    with pytest.raises(CustodyError, match="another node key"):
        Custody.open(tmp_path, seeded("other node"))


def _edit(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = custody_path(tmp_path)
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def test_damaged_or_swapped_entries_are_refused(tmp_path: Path) -> None:
    save_custody(tmp_path, NODE, MEMBERS)

    def flip(doc: dict[str, Any]) -> None:
        sealed = doc["accounts"]["house-001"]["sealed"]
        doc["accounts"]["house-001"]["sealed"] = sealed[:-2] + (
            "00" if sealed[-2:] != "00" else "11"
        )

    _edit(tmp_path, flip)
    with pytest.raises(CustodyError, match="does not open"):
        Custody.open(tmp_path, NODE)

    save_custody(tmp_path, NODE, MEMBERS)

    def swap(doc: dict[str, Any]) -> None:
        a, b = doc["accounts"]["house-001"], doc["accounts"]["house-002"]
        a["sealed"], b["sealed"] = b["sealed"], a["sealed"]

    _edit(tmp_path, swap)
    with pytest.raises(CustodyError, match="does not match"):
        Custody.open(tmp_path, NODE)


def test_malformed_files_are_refused(tmp_path: Path) -> None:
    path = custody_path(tmp_path)
    for text in ("not json", "[]", '{"version": 2}', '{"version": 1, "kdf": "blake2b-node-key"}'):
        path.write_text(text)
        with pytest.raises(CustodyError):
            Custody.open(tmp_path, NODE)


def test_the_custody_commands(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"GRIDLEDGER_PASSPHRASE": "custody cli test"}

    def cli(*args: str, code: int = 0) -> Any:
        result = CliRunner().invoke(app, [*args, "--home", str(home), "--json"], env=env)
        assert result.exit_code == code, result.output
        return json.loads(result.stdout)

    cli("init", "--chain-id", "custody-test")
    assert cli("custody", "list")["accounts"] == []
    cli("keys", "new", "house-001")
    cli("keys", "new", "spare")
    assert cli("custody", "add", "house-001")["accounts"] == ["house-001"]
    assert cli("custody", "add", "house-002", "--key", "spare")["accounts"] == [
        "house-001",
        "house-002",
    ]
    assert cli("custody", "remove", "house-001")["accounts"] == ["house-002"]
    assert cli("custody", "remove", "house-001", code=1)["error"]["code"] == "custody.not_held"
    assert cli("custody", "add", "ghost", code=1)["error"]["code"] == "keys.not_found"
    held = Custody.open(home, load_key(home / "keys" / "node.json", env["GRIDLEDGER_PASSPHRASE"]))
    spare = load_key(home / "keys" / "spare.json", env["GRIDLEDGER_PASSPHRASE"])
    assert held.accounts() == ["house-002"]
    key = held.key("house-002")
    assert key is not None
    assert key.public_key == spare.public_key


def test_enrol_reset_list_and_operator_tokens(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"GRIDLEDGER_PASSPHRASE": "custody cli test"}

    def cli(*args: str, code: int = 0) -> Any:
        result = CliRunner().invoke(app, [*args, "--home", str(home), "--json"], env=env)
        assert result.exit_code == code, result.output
        return json.loads(result.stdout)

    cli("init", "--chain-id", "custody-test", "--api", "127.0.0.1:9001")
    cli("keys", "new", "house-001")
    cli("custody", "add", "house-001")
    assert cli("custody", "enrol", "ghost", code=1)["error"]["code"] == "custody.not_held"
    (login,) = cli("custody", "list")["logins"]
    assert (login["account"], login["state"]) == ("house-001", "none")
    issued = cli("custody", "enrol", "house-001", "--password", "--hours", "2")
    # a passkey needs a host name, so a loopback node's link names localhost
    assert issued["link"] == f"http://localhost:9001/enrol?code={issued['code']}"
    assert issued["password"] is True
    members = Members(home)
    assert members.enrolment(issued["code"])[0] == "house-001"
    members.enrol_password(issued["code"], "a volunteer's password")
    (login,) = cli("custody", "list")["logins"]
    assert (login["state"], login["password"], login["enrolment_expires_s"]) == (
        "enrolled",
        True,
        None,
    )
    again = cli("custody", "reset", "house-001")
    assert again["reset"] is True
    assert again["password"] is False
    (login,) = cli("custody", "list")["logins"]
    assert (login["state"], login["password"]) == ("pending", False)
    assert Members(home).epoch("house-001") == 1
    # the operator's bearer token: printed once, kept hashed, revocable
    token = cli("custody", "operator-token")["token"]
    assert Members(home).operator_for(token) == "operator"
    assert token not in (home / "members.json").read_text()
    assert cli("custody", "operator-token", "--revoke")["revoked"] is True
    assert Members(home).operator_for(token) is None
    assert cli("custody", "operator-token", "--revoke", code=1)["error"]["code"] == (
        "custody.no_operator_token"
    )
    # removing the key from custody forgets the member's sign-in too
    cli("custody", "remove", "house-001")
    assert Members(home).member("house-001") is None


def test_enrolment_links_use_the_public_address(tmp_path: Path) -> None:
    from gridledger.cli.custody import enrolment_url

    home = tmp_path
    settings = {"org": "operator", "api": "0.0.0.0:8645"}
    (home / "node.json").write_text(json.dumps(settings))
    assert enrolment_url(home, "c") == "http://localhost:8645/enrol?code=c"
    (home / "node.json").write_text(json.dumps({**settings, "names": ["grid.example"]}))
    assert enrolment_url(home, "c") == "http://grid.example:8645/enrol?code=c"
    (home / "node.json").write_text(
        json.dumps({**settings, "names": ["grid.example"], "tls_cert": "c", "tls_key": "k"})
    )
    assert enrolment_url(home, "c") == "https://grid.example:8645/enrol?code=c"
    proxied = {**settings, "behind_proxy": "https://community.example"}
    (home / "node.json").write_text(json.dumps(proxied))
    assert enrolment_url(home, "c") == "https://community.example/enrol?code=c"
