"""Registry of devices, sites and meters; account keys and suspension.

Through the block executor, as ``test_contracts.py``: every happy path writes exactly the
documented record, and every refusal has its own code and changes nothing but the sender's
nonce. Stateless rules are checked twice: at admission (``prepare``) and again at execution,
for a transaction a damaged or hostile proposer put in a block without them. The last tests
run a real node: a rotated key and a suspension take effect at admission once committed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest

from fixtures_node import Chain, derived_key, running_chain
from gridledger.contracts import registry
from gridledger.core.errors import GridLedgerError, InvalidTransaction
from gridledger.core.types import Transaction
from gridledger.node.executor import prepare
from ledger_support import (
    CONSUMER,
    GRID,
    GW1,
    GW2,
    OTHER_HOUSE,
    PRODUCER,
    Ledger,
    device_body,
    meter_body,
    site_body,
    unchecked,
)
from support import HOUSEHOLDS_ORG, OPERATOR, key


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


# happy paths -------------------------------------------------------------------------------------
def test_register_device_stores_the_documented_record(ledger: Ledger) -> None:
    """The owner is the sender's organisation; the record carries every attribute."""
    receipt = ledger.ok(PRODUCER, "registry.register_device", device_body("pv-1"))
    assert receipt.events == [
        {"type": "registry.device_registered", "device": "pv-1", "owner_org": HOUSEHOLDS_ORG}
    ]
    assert ledger.state.get(b"registry/device/pv-1") == (
        b'{"capacity_w":10000,"commissioned":"2022-06-01","country":"CN","fuel":"solar",'
        b'"grid_region":"CN-GD","id":"pv-1","latitude_udeg":23129100,'
        b'"longitude_udeg":113264400,"name":"Rooftop PV, Building 3","owner_org":"households",'
        b'"registered_height":1,"support":"none","technology":"solar_pv"}'
    )
    (device,) = registry.list_devices(ledger.state).items
    assert msgspec.to_builtins(device) == ledger.json(b"registry/device/pv-1")
    assert device == registry.get_device(ledger.state, "pv-1")
    assert device.commissioning_day() == registry.commissioning_days("2022-06-01") == 19144


def test_attribute_limits_are_inclusive(ledger: Ledger) -> None:
    """Every length and range limit itself is accepted; optional attributes have defaults."""
    body = device_body(
        "a" * 64,
        name="n" * 128,
        fuel="f" * 64,
        capacity_w=1,
        grid_region="g" * 32,
        latitude_udeg=-90_000_000,
        longitude_udeg=180_000_000,
        support="s" * 64,
    )
    ledger.ok(PRODUCER, "registry.register_device", body)
    minimal = {k: v for k, v in device_body("pv-2").items() if not k.endswith("_udeg")}
    del minimal["support"]
    ledger.ok(PRODUCER, "registry.register_device", minimal)
    stored = ledger.json(b"registry/device/pv-2")
    assert (stored["latitude_udeg"], stored["longitude_udeg"], stored["support"]) == (0, 0, "none")


def test_register_site_for_oneself_and_by_a_grid_operator(ledger: Ledger) -> None:
    """A consumer's site belongs to its organisation; a grid operator may name the owner."""
    own = ledger.ok(CONSUMER, "registry.register_site", site_body("home-1"))
    assert own.events == [
        {"type": "registry.site_registered", "site": "home-1", "owner_org": HOUSEHOLDS_ORG}
    ]
    assert ledger.json(b"registry/site/home-1") == {
        "id": "home-1",
        "name": "Flat 12, Riverside",
        "owner_org": HOUSEHOLDS_ORG,
        "country": "CN",
        "grid_region": "CN-GD",
        "max_wh_per_hour": 5000,
        "registered_height": 1,
    }
    ledger.ok(GRID, "registry.register_site", site_body("home-2", owner_org=HOUSEHOLDS_ORG))
    ledger.ok(GRID, "registry.register_site", site_body("substation-7"))
    assert ledger.json(b"registry/site/home-2")["owner_org"] == HOUSEHOLDS_ORG
    assert ledger.json(b"registry/site/substation-7")["owner_org"] == "operator"
    # naming one's own organisation is no delegation
    ledger.ok(CONSUMER, "registry.register_site", site_body("home-3", owner_org=HOUSEHOLDS_ORG))


def test_register_meters_bound_to_a_device_or_a_site(ledger: Ledger) -> None:
    ledger.with_assets()
    assert ledger.json(b"registry/meter/m-gen") == {
        "id": "m-gen",
        "kind": "generation",
        "device": "pv-1",
        "gateway": GW1,
        "interval_s": 900,
        "registered_height": 3,
    }
    assert ledger.json(b"registry/meter/m-con") == {
        "id": "m-con",
        "kind": "consumption",
        "site": "home-1",
        "gateway": GW1,
        "interval_s": 3600,
        "registered_height": 4,
    }
    receipt = ledger.ok(
        GRID, "registry.register_meter", meter_body("m-day", device="pv-1", interval_s=86400)
    )
    assert receipt.events == [
        {"type": "registry.meter_registered", "meter": "m-day", "gateway": GW1}
    ]
    assert [m.id for m in registry.list_meters(ledger.state).items] == ["m-con", "m-day", "m-gen"]
    # the index of each asset's meters names the asset's kind
    assert ledger.state.get(b"registry/meters_of/device/pv-1/m-day") == b"1"
    assert ledger.state.get(b"registry/meters_of/site/home-1/m-con") == b"1"
    assert registry.meter_ids_of(ledger.state, "device", "pv-1") == ["m-day", "m-gen"]


def test_set_meter_gateway_and_site_ceiling(ledger: Ledger) -> None:
    ledger.with_assets()
    moved = ledger.ok(GRID, "registry.set_meter_gateway", {"meter": "m-gen", "gateway": GW2})
    assert moved.events == [
        {"type": "registry.meter_gateway_set", "meter": "m-gen", "gateway": GW2}
    ]
    assert ledger.json(b"registry/meter/m-gen")["gateway"] == GW2
    raised = ledger.ok(
        GRID, "registry.set_site_ceiling", {"site": "home-1", "max_wh_per_hour": 12_000}
    )
    assert raised.events == [
        {"type": "registry.site_ceiling_set", "site": "home-1", "max_wh_per_hour": 12_000}
    ]
    assert ledger.json(b"registry/site/home-1")["max_wh_per_hour"] == 12_000


def test_rotate_key_by_the_account_and_by_an_operator(ledger: Ledger) -> None:
    """The account replaces its own key, or an operator does it for the account."""
    new = key("house-01-rotated").public_key
    receipt = ledger.ok(CONSUMER, "registry.rotate_key", {"account": CONSUMER, "public_key": new})
    assert receipt.events == [
        {"type": "registry.key_rotated", "account": CONSUMER, "public_key": new}
    ]
    record = registry.get_account(ledger.state, CONSUMER)
    assert record is not None
    assert record.public_key == new
    assert record.roles == ["consumer", "producer"]
    back = key(CONSUMER).public_key
    ledger.ok(OPERATOR, "registry.rotate_key", {"account": CONSUMER, "public_key": back})
    assert registry.require_account(ledger.state, CONSUMER).public_key == back


def test_suspend_and_reinstate(ledger: Ledger) -> None:
    """A suspended account's transactions are refused without a trace until reinstated."""
    receipt = ledger.ok(OPERATOR, "registry.suspend_account", {"account": GW1, "reason": "tamper"})
    assert receipt.events == [
        {"type": "registry.account_suspended", "account": GW1, "reason": "tamper"}
    ]
    assert ledger.json(b"registry/account/gw-1")["suspended"] is True
    ledger.refused(
        ledger.tx(GW1, "registry.rotate_key", {"account": GW1, "public_key": key("x").public_key}),
        "tx.sender_suspended",
        consumes_nonce=False,
    )
    back = ledger.ok(OPERATOR, "registry.reinstate_account", {"account": GW1})
    assert back.events == [{"type": "registry.account_reinstated", "account": GW1, "reason": ""}]
    assert ledger.json(b"registry/account/gw-1")["suspended"] is False
    ledger.ok(GW1, "registry.rotate_key", {"account": GW1, "public_key": key(GW1).public_key})


def test_a_device_and_a_site_sharing_an_id_keep_their_own_meters(ledger: Ledger) -> None:
    """``x`` is both a plant and a flat: each one's meters are its own, in the index and in
    every query that goes through it."""
    ledger.ok(PRODUCER, "registry.register_device", device_body("x"))
    ledger.ok(CONSUMER, "registry.register_site", site_body("x"))
    ledger.ok(GRID, "registry.register_meter", meter_body("m-pv", device="x"))
    ledger.ok(GRID, "registry.register_meter", meter_body("m-pv2", device="x", interval_s=3600))
    ledger.ok(GRID, "registry.register_meter", meter_body("m-flat", kind="consumption", site="x"))
    assert [m.id for m in registry.meters_of(ledger.state, "device", "x")] == ["m-pv", "m-pv2"]
    assert [m.id for m in registry.meters_of(ledger.state, "site", "x")] == ["m-flat"]
    assert registry.meter_ids_of(ledger.state, "site", "x") == ["m-flat"]
    on_device = registry.list_meters(ledger.state, device="x")
    assert [m.id for m in on_device.items] == ["m-pv", "m-pv2"]
    assert [m.id for m in registry.list_meters(ledger.state, site="x").items] == ["m-flat"]
    assert registry.list_meters(ledger.state, device="x", site="x").items == []
    flat = registry.get_meter(ledger.state, "m-flat")
    assert flat is not None
    assert flat.asset() == ("site", "x")


def test_pages_in_id_order(ledger: Ledger) -> None:
    """A page holds ``limit`` records and names the last as the next page's ``after``; the
    filters apply before the limit."""
    for device in ("pv-3", "pv-1", "pv-2"):
        ledger.ok(PRODUCER, "registry.register_device", device_body(device))
    ledger.ok(
        OPERATOR, "registry.add_organisation", {"org": "wind", "name": "W", "roles": ["producer"]}
    )
    ledger.ok(OPERATOR, "registry.add_account",
              {"account": "w-1", "org": "wind", "public_key": key("w-1").public_key,
               "roles": ["producer"]})  # fmt: skip
    ledger.ok("w-1", "registry.register_device", device_body("pv-0", technology="wind_onshore"))
    first = registry.list_devices(ledger.state, None, 2)
    assert ([d.id for d in first.items], first.next) == (["pv-0", "pv-1"], "pv-1")
    rest = registry.list_devices(ledger.state, first.next, 2)
    assert ([d.id for d in rest.items], rest.next) == (["pv-2", "pv-3"], None)
    mine = registry.list_devices(ledger.state, None, 2, owner_org=HOUSEHOLDS_ORG)
    assert ([d.id for d in mine.items], mine.next) == (["pv-1", "pv-2"], "pv-2")
    wind = registry.list_devices(ledger.state, technology="wind_onshore")
    assert [d.id for d in wind.items] == ["pv-0"]
    producers = registry.list_accounts(ledger.state, role="producer")
    assert [a.id for a in producers.items] == [PRODUCER, CONSUMER, OTHER_HOUSE, "w-1"]
    of_wind = registry.list_accounts(ledger.state, org="wind")
    assert [a.id for a in of_wind.items] == ["w-1"]
    assert registry.count(ledger.state, "devices") == 4
    assert registry.count(ledger.state, "organisations") == len(
        registry.list_organisations(ledger.state).items
    )


# refusals at execution ---------------------------------------------------------------------------
Make = Callable[[Ledger], Transaction]


def _gw2_suspended(make: Make) -> Make:
    """``make`` run after the operator suspended gw-2."""

    def then(ledger: Ledger) -> Transaction:
        ledger.ok(OPERATOR, "registry.suspend_account", {"account": GW2})
        return make(ledger)

    return then


def _new_key() -> str:
    return key("fresh").public_key


REFUSALS: list[tuple[str, Make, str]] = [
    (
        "device by an operator",
        lambda lg: lg.tx(OPERATOR, "registry.register_device", device_body("pv-9")),
        "auth.forbidden",
    ),
    (
        "device by a grid operator",
        lambda lg: lg.tx(GRID, "registry.register_device", device_body("pv-9")),
        "auth.forbidden",
    ),
    (
        "device by a gateway",
        lambda lg: lg.tx(GW1, "registry.register_device", device_body("pv-9")),
        "auth.forbidden",
    ),
    (
        "device exists",
        lambda lg: lg.tx(OTHER_HOUSE, "registry.register_device", device_body("pv-1")),
        "registry.device_exists",
    ),
    (
        "site by an operator",
        lambda lg: lg.tx(OPERATOR, "registry.register_site", site_body("home-9")),
        "auth.forbidden",
    ),
    (
        "site for another organisation by a consumer",
        lambda lg: lg.tx(CONSUMER, "registry.register_site", site_body("h9", owner_org="operator")),
        "auth.forbidden",
    ),
    (
        "site for an unknown organisation",
        lambda lg: lg.tx(GRID, "registry.register_site", site_body("h9", owner_org="nobody")),
        "registry.invalid_attribute",
    ),
    (
        "site exists",
        lambda lg: lg.tx(OTHER_HOUSE, "registry.register_site", site_body("home-1")),
        "registry.site_exists",
    ),
    (
        "meter by a producer",
        lambda lg: lg.tx(PRODUCER, "registry.register_meter", meter_body("m-9", device="pv-1")),
        "auth.forbidden",
    ),
    (
        "meter by an operator",
        lambda lg: lg.tx(OPERATOR, "registry.register_meter", meter_body("m-9", device="pv-1")),
        "auth.forbidden",
    ),
    (
        "meter exists",
        lambda lg: lg.tx(GRID, "registry.register_meter", meter_body("m-gen", device="pv-1")),
        "registry.meter_exists",
    ),
    (
        "meter of an unknown device",
        lambda lg: lg.tx(GRID, "registry.register_meter", meter_body("m-9", device="pv-404")),
        "registry.unknown_device",
    ),
    (
        "meter of an unknown site",
        lambda lg: lg.tx(
            GRID,
            "registry.register_meter",
            meter_body("m-9", kind="consumption", site="home-404"),
        ),
        "registry.unknown_site",
    ),
    (
        "meter with an unknown gateway",
        lambda lg: lg.tx(
            GRID, "registry.register_meter", meter_body("m-9", device="pv-1", gateway="gw-404")
        ),
        "registry.unknown_account",
    ),
    (
        "meter with a suspended gateway",
        _gw2_suspended(
            lambda lg: lg.tx(
                GRID, "registry.register_meter", meter_body("m-9", device="pv-1", gateway=GW2)
            )
        ),
        "registry.invalid_attribute",
    ),
    (
        "gateway of an unknown meter",
        lambda lg: lg.tx(GRID, "registry.set_meter_gateway", {"meter": "m-404", "gateway": GW2}),
        "registry.unknown_meter",
    ),
    (
        "unknown gateway for a meter",
        lambda lg: lg.tx(GRID, "registry.set_meter_gateway", {"meter": "m-gen", "gateway": "nx"}),
        "registry.unknown_account",
    ),
    (
        "suspended gateway for a meter",
        _gw2_suspended(
            lambda lg: lg.tx(GRID, "registry.set_meter_gateway", {"meter": "m-gen", "gateway": GW2})
        ),
        "registry.invalid_attribute",
    ),
    (
        "gateway moved by its producer",
        lambda lg: lg.tx(
            PRODUCER, "registry.set_meter_gateway", {"meter": "m-gen", "gateway": GW2}
        ),
        "auth.forbidden",
    ),
    (
        "ceiling of an unknown site",
        lambda lg: lg.tx(
            GRID, "registry.set_site_ceiling", {"site": "h-404", "max_wh_per_hour": 9}
        ),
        "registry.unknown_site",
    ),
    (
        "ceiling raised by the consumer",
        lambda lg: lg.tx(
            CONSUMER, "registry.set_site_ceiling", {"site": "home-1", "max_wh_per_hour": 9}
        ),
        "auth.forbidden",
    ),
    (
        "key of another account",
        lambda lg: lg.tx(GRID, "registry.rotate_key", {"account": GW1, "public_key": _new_key()}),
        "auth.forbidden",
    ),
    (
        "key of an unknown account",
        lambda lg: lg.tx(
            OPERATOR, "registry.rotate_key", {"account": "nx", "public_key": _new_key()}
        ),
        "registry.unknown_account",
    ),
    (
        "suspension by a grid operator",
        lambda lg: lg.tx(GRID, "registry.suspend_account", {"account": GW1}),
        "auth.forbidden",
    ),
    (
        "operator suspends itself",
        lambda lg: lg.tx(OPERATOR, "registry.suspend_account", {"account": OPERATOR}),
        "auth.forbidden",
    ),
    (
        "suspension of an unknown account",
        lambda lg: lg.tx(OPERATOR, "registry.suspend_account", {"account": "nx"}),
        "registry.unknown_account",
    ),
    (
        "suspended twice",
        _gw2_suspended(lambda lg: lg.tx(OPERATOR, "registry.suspend_account", {"account": GW2})),
        "registry.already_suspended",
    ),
    (
        "reinstatement of an active account",
        lambda lg: lg.tx(OPERATOR, "registry.reinstate_account", {"account": GW1}),
        "registry.not_suspended",
    ),
    (
        "reinstatement by a gateway",
        lambda lg: lg.tx(GW1, "registry.reinstate_account", {"account": GW2}),
        "auth.forbidden",
    ),
]


@pytest.mark.parametrize(
    ("make", "code"),
    [(make, code) for _, make, code in REFUSALS],
    ids=[name for name, _, _ in REFUSALS],
)
def test_refusal_changes_nothing_but_the_nonce(ledger: Ledger, make: Make, code: str) -> None:
    """Each refusal gives a failed receipt with its own code; only the sender's nonce moves."""
    ledger.with_assets()
    ledger.refused(make(ledger), code)


# stateless rules: at admission, and again at execution -------------------------------------------
STATELESS: list[tuple[str, str, dict[str, Any], str]] = [
    (PRODUCER, "registry.register_device", device_body("PV 1"), "registry.invalid_id"),
    (PRODUCER, "registry.register_device", device_body("pv-9", name=""),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", name="n" * 129),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", technology="coal"),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", fuel=""),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", fuel="f" * 65),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", capacity_w=0),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", capacity_w=-5),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", commissioned="2022-13-01"),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", commissioned="01/06/2022"),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", country="cn"),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", country="CHN"),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", country="C1"),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", country="ÉS"),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", grid_region=""),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", grid_region="g" * 33),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", latitude_udeg=90_000_001),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", latitude_udeg=-90_000_001),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", longitude_udeg=180_000_001),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", longitude_udeg=-180_000_001),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", support=""),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", support="s" * 65),
     "registry.invalid_attribute"),
    (PRODUCER, "registry.register_device", device_body("pv-9", capacity_w=1.5),
     "tx.non_integer_number"),
    (PRODUCER, "registry.register_device", device_body("pv-9", capacity_w=2**63),
     "tx.integer_out_of_range"),
    (PRODUCER, "registry.register_device", device_body("pv-9", capacity_w="10000"),
     "tx.invalid_body"),
    (PRODUCER, "registry.register_device", device_body("pv-9", owner_org="x"), "tx.invalid_body"),
    (CONSUMER, "registry.register_site", site_body("Home 9"), "registry.invalid_id"),
    (CONSUMER, "registry.register_site", site_body("h9", name=""), "registry.invalid_attribute"),
    (CONSUMER, "registry.register_site", site_body("h9", country="xx"),
     "registry.invalid_attribute"),
    (CONSUMER, "registry.register_site", site_body("h9", grid_region=""),
     "registry.invalid_attribute"),
    (CONSUMER, "registry.register_site", site_body("h9", max_wh_per_hour=0),
     "registry.invalid_attribute"),
    (CONSUMER, "registry.register_site", site_body("h9", owner_org="Not An Org"),
     "registry.invalid_id"),
    (GRID, "registry.register_meter", meter_body("M 9", device="pv-1"), "registry.invalid_id"),
    (GRID, "registry.register_meter", meter_body("m-9", device="pv-1", gateway="GW"),
     "registry.invalid_id"),
    (GRID, "registry.register_meter", meter_body("m-9", kind="solar", device="pv-1"),
     "registry.invalid_attribute"),
    (GRID, "registry.register_meter", meter_body("m-9", device="pv-1", interval_s=60),
     "registry.invalid_attribute"),
    (GRID, "registry.register_meter", meter_body("m-9", device="pv-1", interval_s=2**63),
     "tx.integer_out_of_range"),
    (GRID, "registry.register_meter", meter_body("m-9", site="home-1"),
     "registry.invalid_meter_binding"),
    (GRID, "registry.register_meter", meter_body("m-9", device="pv-1", site="home-1"),
     "registry.invalid_meter_binding"),
    (GRID, "registry.register_meter", meter_body("m-9"), "registry.invalid_meter_binding"),
    (GRID, "registry.register_meter", meter_body("m-9", kind="consumption", device="pv-1"),
     "registry.invalid_meter_binding"),
    (GRID, "registry.set_site_ceiling", {"site": "home-1", "max_wh_per_hour": 0},
     "registry.invalid_attribute"),
    (GRID, "registry.set_meter_gateway", {"meter": "m-gen", "gateway": "Gate Way"},
     "registry.invalid_id"),
    (CONSUMER, "registry.rotate_key", {"account": CONSUMER, "public_key": "ed25519:00"},
     "registry.invalid_key"),
    (OPERATOR, "registry.suspend_account", {"account": GW1, "reason": "r" * 257},
     "registry.invalid_attribute"),
]  # fmt: skip


@pytest.mark.parametrize(("sender", "kind", "body", "code"), STATELESS)
def test_stateless_rules_refuse_at_admission(
    sender: str, kind: str, body: dict[str, Any], code: str
) -> None:
    tx = Transaction(chain_id="c", kind=kind, sender=sender, nonce=1, body=body)
    with pytest.raises(InvalidTransaction) as info:
        prepare(tx)
    assert info.value.code == code, info.value.message


@pytest.mark.parametrize(
    ("sender", "kind", "body", "code"), [c for c in STATELESS if not c[3].startswith("tx.")]
)
def test_stateless_rules_hold_at_execution(
    ledger: Ledger, sender: str, kind: str, body: dict[str, Any], code: str
) -> None:
    """A block that carries the transaction anyway gets a failed receipt, not a bad record."""
    ledger.with_assets()
    ledger.refused(unchecked(ledger.tx(sender, kind, body)), code)


# a running node: keys and suspensions at admission -----------------------------------------------
@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    with running_chain(tmp_path_factory.mktemp("devices") / "home") as c:
        yield c


def _commit(chain: Chain, tx: Transaction) -> dict[str, Any]:
    stored = chain.node.wait_receipt(chain.node.submit(tx.encode()), 10)
    assert stored is not None
    receipt: dict[str, Any] = json.loads(stored.receipt)
    assert receipt["status"] == "ok", receipt
    return receipt


def _refused_at_admission(chain: Chain, tx: Transaction, code: str) -> None:
    pending = chain.node.pending
    with pytest.raises(GridLedgerError) as info:
        chain.node.submit(tx.encode())
    assert info.value.code == code, info.value.message
    assert chain.node.pending == pending


def test_rotated_key_replaces_the_old_one_at_admission(chain: Chain) -> None:
    """Once the rotation commits, the node admits the new key and refuses the old one."""
    old, new = chain.keys["alice"], derived_key("alice-2")
    transfer = {"to": "bob", "amount": 1}
    _commit(
        chain,
        chain.sign(
            "alice", "registry.rotate_key", {"account": "alice", "public_key": new.public_key}
        ),
    )
    _refused_at_admission(
        chain, chain.sign("alice", "funds.transfer", transfer), "tx.bad_signature"
    )
    _commit(chain, chain.sign("alice", "funds.transfer", transfer, key=new))
    # an operator rotates it back (a lost key): the roles swap again
    _commit(
        chain,
        chain.sign(
            "operator", "registry.rotate_key", {"account": "alice", "public_key": old.public_key}
        ),
    )
    _refused_at_admission(
        chain, chain.sign("alice", "funds.transfer", transfer, key=new), "tx.bad_signature"
    )
    _commit(chain, chain.sign("alice", "funds.transfer", transfer))


def test_suspended_sender_is_refused_at_admission(chain: Chain) -> None:
    transfer = {"to": "alice", "amount": 1}
    _commit(chain, chain.sign("operator", "registry.suspend_account", {"account": "bob"}))
    _refused_at_admission(
        chain, chain.sign("bob", "funds.transfer", transfer), "tx.sender_suspended"
    )
    _commit(chain, chain.sign("operator", "registry.reinstate_account", {"account": "bob"}))
    _commit(chain, chain.sign("bob", "funds.transfer", transfer))


def test_lookups_of_unknown_records(ledger: Ledger) -> None:
    assert registry.get_device(ledger.state, "pv-1") is None
    assert registry.get_site(ledger.state, "home-1") is None
    assert registry.get_meter(ledger.state, "m-gen") is None
    assert registry.meters_of(ledger.state, "device", "pv-1") == []
    assert registry.commissioning_days("1970-01-02") == 1


def test_batch_with_a_bad_signature_is_refused_whole(chain: Chain) -> None:
    """A gateway's batch signed with another key is refused at admission: no reading of it is
    looked at, nothing is pending, the state root stays."""
    _commit(chain, chain.sign("operator", "registry.grant_role",
                              {"account": "operator", "role": "grid_operator"}))  # fmt: skip
    _commit(chain, chain.sign("operator", "registry.register_site", {
        "site": "flat-9", "name": "Flat 9", "country": "CN", "grid_region": "CN-GD",
        "max_wh_per_hour": 5000}))  # fmt: skip
    _commit(chain, chain.sign("operator", "registry.register_meter", {
        "meter": "m-1", "kind": "consumption", "site": "flat-9", "gateway": "alice",
        "interval_s": 900}))  # fmt: skip
    root = chain.node.state.root
    batch = {"readings": [{"meter": "m-1", "start": 0, "length_s": 900, "energy_wh": 1}]}
    forged = chain.sign("alice", "metering.submit", batch, key=derived_key("not-alice"))
    _refused_at_admission(chain, forged, "tx.bad_signature")
    tampered = chain.sign("alice", "metering.submit", batch)
    tampered.body["readings"][0]["energy_wh"] = 2
    _refused_at_admission(chain, tampered, "tx.bad_signature")
    assert chain.node.state.root == root


def test_a_batch_for_meters_the_sender_does_not_report_is_refused_at_admission(
    chain: Chain,
) -> None:
    """Any account could fill blocks with batches of readings for meters it does not report,
    each refused reading by reading; admission refuses the whole batch instead."""
    root = chain.node.state.root
    readings = [{"meter": f"m-{i}", "start": 0, "length_s": 900, "energy_wh": 1}
                for i in range(200)]  # fmt: skip
    spam = chain.sign("bob", "metering.submit", {"readings": readings})
    _refused_at_admission(chain, spam, "metering.reports_no_meter")
    assert chain.node.state.root == root
