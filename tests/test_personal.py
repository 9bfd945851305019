"""Households' personal details off the chain: the node's own database keeps, exports and
erases them (the erased bytes are overwritten in the file), and the command line does the
same for the operator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gridledger.cli.main import app
from gridledger.node.personal import EXPORT_FORMAT, Details, PersonalError, PersonalStore

ALICE = Details(
    name="Li Hua 李华", address="Room 1201, Block 3, Haiyue Garden", phone="+86 138 0000 1000"
)


def test_keep_export_and_erase(tmp_path: Path) -> None:
    clock = iter([1000, 2000]).__next__
    store = PersonalStore(tmp_path, clock=clock)
    store.put("house-001", ALICE)
    assert store.get("house-001") == ALICE
    store.put("house-001", Details(name="Li Hua 李华", email="li@example.cn"))
    out = store.export("house-001")
    assert out["format"] == EXPORT_FORMAT
    assert out["details"] == {
        "name": "Li Hua 李华",
        "address": "",
        "phone": "",
        "email": "li@example.cn",
    }
    assert (out["recorded_s"], out["updated_s"]) == (1000, 2000)
    assert store.export("house-002")["kept"] is False
    assert store.accounts() == ["house-001"]
    assert store.erase("house-001") is True
    assert store.erase("house-001") is False
    assert store.get("house-001") is None
    store.close()
    # secure_delete: the erased row's bytes are gone from the file, not just unlinked
    raw = (tmp_path / "personal.sqlite").read_bytes()
    assert "李华".encode() not in raw
    assert b"li@example.cn" not in raw
    assert (tmp_path / "personal.sqlite").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    "details", [Details(name="x" * 129), Details(address="a\nb"), Details(phone="1" * 33)]
)
def test_details_are_bounded(tmp_path: Path, details: Details) -> None:
    store = PersonalStore(tmp_path)
    with pytest.raises(PersonalError):
        store.put("house-001", details)
    assert store.accounts() == []


def test_the_operator_keeps_exports_and_erases_from_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    home = str(tmp_path)
    done = runner.invoke(
        app,
        [
            "personal",
            "set",
            "house-007",
            "--name",
            "Chen Jing",
            "--address",
            "Room 9",
            "--home",
            home,
        ],
    )
    assert done.exit_code == 0, done.output
    listed = runner.invoke(app, ["personal", "list", "--home", home])
    assert listed.output.split() == ["house-007"]
    exported = runner.invoke(app, ["personal", "export", "house-007", "--home", home])
    assert json.loads(exported.output)["details"]["name"] == "Chen Jing"
    erased = runner.invoke(app, ["personal", "erase", "house-007", "--home", home])
    assert "erased" in erased.output
    assert (
        json.loads(runner.invoke(app, ["personal", "export", "house-007", "--home", home]).output)[
            "kept"
        ]
        is False
    )
