"""A chain's time zone: named in its genesis (older documents keep their hash), refused when
unknown, reported by ``/v1/status``, and the one pages show days and hours in."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec
import pytest

from fixtures_node import PASSPHRASE
from gridledger.api.app import create_app
from gridledger.contracts.genesis import Genesis, load
from gridledger.core.localtime import UTC, LocalTime, check_zone
from gridledger.node.home import init_home, local_time, open_node
from test_cli import run, run_json

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

SHANGHAI = LocalTime("Asia/Shanghai")


def test_local_days_and_hours() -> None:
    # 2026-12-06 16:00 UTC is midnight of 7 December in Shanghai
    midnight = int(dt.datetime(2026, 12, 6, 16, tzinfo=dt.UTC).timestamp())
    assert SHANGHAI.day_of(midnight + 3600) == midnight
    assert SHANGHAI.day_of(midnight - 1) == midnight - 86_400
    assert UTC.day_of(midnight) == midnight - 16 * 3600
    assert SHANGHAI.format(midnight + 3600) == "2026-12-07 01:00"
    assert SHANGHAI.days_back(midnight, 3) == [midnight - 2 * 86_400, midnight - 86_400, midnight]
    assert SHANGHAI.parse_day("2026-12-07") == midnight
    assert SHANGHAI.next_day(midnight) == midnight + 86_400
    # a zone with daylight saving: the day it starts has 23 hours
    berlin = LocalTime("Europe/Berlin")
    spring = berlin.parse_day("2026-03-29")
    assert berlin.next_day(spring) - spring == 23 * 3600
    with pytest.raises(ValueError, match="unknown time zone"):
        check_zone("Mars/Olympus")


def test_genesis_names_its_zone_and_older_documents_keep_their_hash(tmp_path: Path) -> None:
    plain = init_home(tmp_path / "plain", PASSPHRASE, chain_id="plain")
    assert b"time_zone" not in plain.encode()
    assert local_time(tmp_path / "plain").name == "UTC"
    named = init_home(tmp_path / "sz", PASSPHRASE, chain_id="sz", time_zone="Asia/Shanghai")
    assert load(named.encode()).time_zone == "Asia/Shanghai"
    assert local_time(tmp_path / "sz").name == "Asia/Shanghai"
    doc = msgspec.json.decode(plain.encode())
    with pytest.raises(msgspec.ValidationError, match="unknown time zone"):
        msgspec.convert({**doc, "time_zone": "Nowhere/Else"}, Genesis)


def test_init_takes_a_time_zone_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    made = run_json("init", "--home", tmp_path / "a", "--time-zone", "Asia/Shanghai")
    assert made["time_zone"] == "Asia/Shanghai"
    assert load((tmp_path / "a" / "genesis.json").read_bytes()).time_zone == "Asia/Shanghai"
    refused = run("init", "--home", tmp_path / "b", "--time-zone", "Asia/Nowhere", code=2)
    assert "unknown time zone" in refused.output
    assert not (tmp_path / "b" / "genesis.json").exists()


def test_status_and_pages_use_the_zone(tmp_path: Path) -> None:
    # imported here, like the API suite does: the import itself warns about httpx
    from starlette.testclient import TestClient

    home = tmp_path / "home"
    init_home(home, PASSPHRASE, chain_id="sz", time_zone="Asia/Shanghai")
    node = open_node(home, PASSPHRASE, verify_workers=0)
    try:
        with TestClient(create_app(node)) as client:
            assert client.get("/v1/status").json()["time_zone"] == "Asia/Shanghai"
            page = client.get("/blocks/0").text
            assert 'data-time-zone="Asia/Shanghai"' in page
            genesis_s = node.tip.time // 1000
            shown = SHANGHAI.format(genesis_s, "%Y-%m-%d %H:%M:%S")
            hover = UTC.format(genesis_s, "%Y-%m-%d %H:%M:%S")
            assert f'title="{hover} UTC">{shown}</time>' in page
    finally:
        node.close()
