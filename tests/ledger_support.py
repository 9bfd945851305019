"""A small ledger for the registry-of-assets and metering tests, driven through the executor.

Genesis (on top of :func:`support.make_genesis`): the operator organisation (every role) with
``operator`` (operator), ``grid`` (grid_operator), and the gateways ``gw-1`` and ``gw-2`` (no
role); the households organisation (consumer, producer) with ``house-00`` .. ``house-02``.

:class:`Ledger` numbers nonces and heights itself, runs each call as one block at a fixed
block time, and checks refusals the way ``test_contracts.py`` does: a refused transaction
leaves every key but its sender's nonce as it was.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from gridledger.contracts.base import get_kind
from gridledger.contracts.chain import nonce_key
from gridledger.contracts.genesis import GenesisAccount
from gridledger.core.crypto import SigningKey, sha256
from gridledger.core.types import Receipt, Transaction
from gridledger.node.executor import Prepared, execute_block, prepare
from gridledger.state.state import State
from support import (
    OPERATOR_ORG,
    committed_genesis_state,
    domain_state,
    households,
    key,
    make_genesis,
    signed,
)

PRODUCER, CONSUMER, OTHER_HOUSE = households(3)
GRID = "grid"
GW1, GW2 = "gw-1", "gw-2"

BLOCK_TIME_MS = 1_750_032_000_000
"""2025-06-16 00:00:00 UTC: a whole day, so every interval length divides it."""
BLOCK_TIME_S = BLOCK_TIME_MS // 1000


def asset_genesis() -> Any:
    genesis = make_genesis(accounts=3, balance=0)
    for account, roles in ((GRID, ["grid_operator"]), (GW1, []), (GW2, [])):
        genesis.accounts.append(
            GenesisAccount(id=account, org=OPERATOR_ORG, public_key=key(account).public_key,
                           roles=roles)
        )  # fmt: skip
    return genesis


def days_before(block_time_ms: int, days: int) -> str:
    """The ``YYYY-MM-DD`` date ``days`` whole days before the block's UTC day."""
    day = dt.datetime.fromtimestamp(block_time_ms / 1000, dt.UTC).date()
    return (day - dt.timedelta(days=days)).isoformat()


def device_body(device: str, **changes: Any) -> dict[str, Any]:
    """A valid ``registry.register_device`` body: a 10 kW rooftop PV plant, three years old."""
    body: dict[str, Any] = {
        "device": device,
        "name": "Rooftop PV, Building 3",
        "technology": "solar_pv",
        "fuel": "solar",
        "capacity_w": 10_000,
        "commissioned": "2022-06-01",
        "country": "CN",
        "grid_region": "CN-GD",
        "latitude_udeg": 23_129_100,
        "longitude_udeg": 113_264_400,
        "support": "none",
    }
    body.update(changes)
    return body


def site_body(site: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "site": site,
        "name": "Flat 12, Riverside",
        "country": "CN",
        "grid_region": "CN-GD",
        "max_wh_per_hour": 5_000,
    }
    body.update(changes)
    return body


def meter_body(meter: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"meter": meter, "kind": "generation", "gateway": GW1, "interval_s": 900}
    body.update(changes)
    return body


def reading(meter: str, start: int, energy_wh: int, length_s: int = 900) -> dict[str, Any]:
    return {"meter": meter, "start": start, "length_s": length_s, "energy_wh": energy_wh}


def unchecked(tx: Transaction) -> Prepared:
    """Prepare ``tx`` without its kind's stateless checks, as a damaged or hostile proposer
    could include it: execution must refuse it by itself."""
    kind = get_kind(tx.kind)
    body = msgspec.convert(tx.body, kind.body_type, strict=True)
    raw = tx.encode()
    return Prepared(tx, raw, sha256(raw), kind, body)


def nonces(state: State) -> dict[bytes, bytes]:
    return {k: v for k, v in state.committed.items() if k.startswith(b"nonce/")}


class Ledger:
    """A genesis state plus the bookkeeping to sign and run transactions block by block."""

    def __init__(self, block_time_ms: int = BLOCK_TIME_MS, genesis: Any | None = None) -> None:
        self.state = committed_genesis_state(genesis or asset_genesis())
        self.block_time_ms = block_time_ms
        self.height = 0
        self._nonces: dict[str, int] = {}

    def tx(
        self, sender: str, kind: str, body: dict[str, Any], signer: SigningKey | None = None
    ) -> Transaction:
        """``sender``'s next transaction (nonces count up from 1 per sender)."""
        nonce = self._nonces.get(sender, 0) + 1
        self._nonces[sender] = nonce
        return signed(sender, nonce, kind, body, signer=signer)

    def run(self, *txs: Transaction | Prepared, block_time_ms: int | None = None) -> list[Receipt]:
        """Execute ``txs`` as the next block and commit it."""
        self.height += 1
        batch = [t if isinstance(t, Prepared) else prepare(t) for t in txs]
        time_ms = block_time_ms or self.block_time_ms
        receipts = execute_block(self.state, batch, self.height, time_ms)
        self.committed(self.height, time_ms, self.state.block_changes())
        self.state.compute_root()
        self.state.finish_block()
        return receipts

    def committed(self, height: int, time_ms: int, changes: dict[bytes, bytes | None]) -> None:
        """Called with each block's net changes as it commits (read models fold them in)."""

    def ok(self, sender: str, kind: str, body: dict[str, Any], **run: Any) -> Receipt:
        """Run one transaction that must succeed; returns its receipt."""
        (receipt,) = self.run(self.tx(sender, kind, body), **run)
        assert receipt.ok, (receipt.code, receipt.message)
        return receipt

    def refused(
        self, tx: Transaction | Prepared, code: str, *, consumes_nonce: bool = True, **run: Any
    ) -> Receipt:
        """Run ``tx`` alone: it fails with ``code`` and only its sender's nonce may move."""
        inner = tx.tx if isinstance(tx, Prepared) else tx
        domain_before = domain_state(self.state)
        nonces_before = nonces(self.state)
        root_before = self.state.root
        (receipt,) = self.run(tx, **run)
        assert (receipt.status, receipt.code) == ("failed", code), receipt.message
        assert receipt.message
        assert receipt.events == []
        assert domain_state(self.state) == domain_before
        if consumes_nonce:
            expected = {**nonces_before, nonce_key(inner.sender): str(inner.nonce).encode()}
            assert nonces(self.state) == expected
        else:
            assert nonces(self.state) == nonces_before
            assert self.state.root == root_before
        return receipt

    def json(self, key: bytes) -> Any:
        return self.state.get_json(key)

    # a registry to read meters against ---------------------------------------------------
    def with_assets(self) -> Ledger:
        """Register ``pv-1`` (house-00's 10 kW PV), ``home-1`` (house-01's flat, 5,000 Wh/h)
        and their meters: ``m-gen`` (pv-1, 15 min) and ``m-con`` (home-1, 1 h), both
        reported by ``gw-1``."""
        self.ok(PRODUCER, "registry.register_device", device_body("pv-1"))
        self.ok(CONSUMER, "registry.register_site", site_body("home-1"))
        self.ok(GRID, "registry.register_meter", meter_body("m-gen", device="pv-1"))
        self.ok(
            GRID,
            "registry.register_meter",
            meter_body("m-con", kind="consumption", site="home-1", interval_s=3600),
        )
        return self
