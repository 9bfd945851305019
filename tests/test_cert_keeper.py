"""The certificate keeper issues every final metered interval, as the certifier, and nothing twice.

A real node with a test clock (:mod:`market_node`) and a certifier organisation ``tuv`` with
the account ``tuv-1``. The keeper refuses to sign as anyone but a certifier with its own key
(``gridledger node --cert-keeper`` refuses to start with anyone else); it sends nothing before
an interval is final; issues fully metered intervals that measured something, in one transaction
per device (at most 744 intervals each), to the owner's first producer account (or the one a
mapping names); waits for late readings; never sends an interval in flight again (a flight
that seems stale is offered again unchanged); reconciles an issued interval after a meter
correction; expires live bundles; and keeps a cursor per device instead of reading every
interval again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures_node import PASSPHRASE, derived_key, make_home
from gridledger.contracts import certificates
from gridledger.node.cert_keeper import (
    STALE_BLOCKS,
    CertificateKeeper,
    KeeperError,
    Sent,
    final_end,
    issuance_queue,
)
from gridledger.node.home import open_node
from market_node import HOUR, MarketChain, market_chain
from test_cli import run

CERTIFIER = "tuv-1"
DAY = 86_400


def _certifier(chain: MarketChain) -> None:
    chain.keys[CERTIFIER] = derived_key(CERTIFIER)
    chain.keys["tuv-2"] = derived_key("tuv-2")
    chain.keys["sun-2"] = derived_key("sun-2")
    chain.commit("operator", "registry.add_organisation",
                 {"org": "tuv", "name": "TUV Shenzhen", "roles": ["certifier"]})  # fmt: skip
    for account, org, roles in (
        (CERTIFIER, "tuv", ["certifier"]),
        ("tuv-2", "tuv", ["certifier"]),
        ("sun-2", "solar", ["producer"]),
    ):
        body = {"account": account, "org": org, "public_key": chain.keys[account].public_key,
                "roles": roles}  # fmt: skip
        chain.commit("operator", "registry.add_account", body)


def _settle(chain: MarketChain, sent: list[Sent]) -> None:
    """Wait until every sent transaction is committed, and require each to have succeeded."""
    for s in sent:
        stored = chain.node.wait_receipt(bytes.fromhex(s.tx_hash), 10)
        assert stored is not None, f"{s.kind} did not commit"
        assert b'"status":"ok"' in stored.receipt, stored.receipt


def _keeper(chain: MarketChain, recipients: dict[str, str] | None = None) -> CertificateKeeper:
    return CertificateKeeper(
        chain.node, CERTIFIER, chain.keys[CERTIFIER], recipients=recipients, period_s=60,
        recheck_s=0,
    )  # fmt: skip


def _issued(chain: MarketChain, device: str, start: int) -> certificates.Issuance | None:
    return certificates.issuance_of(chain.node.state.view, device, start)


def test_only_a_certifiers_own_key_runs_the_keeper(tmp_path: Path) -> None:
    with market_chain(tmp_path / "home") as chain:
        _certifier(chain)
        height = chain.node.tip.height
        refusals = {
            "operator": ("operator", chain.keys["operator"]),
            "sun": ("sun", chain.keys["sun"]),
            "ghost": ("ghost", derived_key("ghost")),
            "wrong": (CERTIFIER, derived_key("tuv-2")),
        }
        codes = {}
        for name, (account, key) in refusals.items():
            with pytest.raises(KeeperError) as caught:
                CertificateKeeper(chain.node, account, key)
            codes[name] = caught.value.code
        assert codes == {
            "operator": "keeper.not_certifier",
            "sun": "keeper.not_certifier",
            "ghost": "keeper.unknown_account",
            "wrong": "keeper.wrong_key",
        }
        # an operator account that also certifies is still the operator's
        chain.commit(
            "operator", "registry.grant_role", {"account": "operator", "role": "certifier"}
        )
        with pytest.raises(KeeperError) as caught:
            CertificateKeeper(chain.node, "operator", chain.keys["operator"])
        assert caught.value.code == "keeper.operator_account"
        assert chain.node.tip.height == height + 1  # only the grant: nothing was sent
        assert chain.node.next_nonce(CERTIFIER) == 1


def test_final_metered_intervals_are_issued_once(tmp_path: Path) -> None:
    with market_chain(tmp_path / "home") as chain:
        _certifier(chain)
        keeper = _keeper(chain, recipients={"pv-2": "sun-2"})
        h0 = chain.hour
        assert keeper.tick() == []  # no readings yet
        chain.clock.set(h0 + HOUR)
        chain.readings(h0, {"pv-1": 6_000, "pv-2": 0})
        chain.clock.set(h0 + 2 * HOUR - 1)  # ended, not final: finality is an hour
        assert keeper.tick() == []
        chain.clock.set(h0 + 2 * HOUR)
        sent = keeper.tick()
        # pv-2 measured nothing: nothing to certify
        assert [(s.kind, s.device, s.starts, s.wh) for s in sent] == [
            ("certificates.issue", "pv-1", (h0,), 6_000)
        ]
        assert keeper.tick() == []  # in flight (or committed): never sent twice
        _settle(chain, sent)
        assert keeper.tick() == []
        item = _issued(chain, "pv-1", h0)
        assert item is not None
        assert (item.quantity_wh, item.metered_wh) == (6_000, 6_000)
        view = chain.node.state.view
        (bundle,) = certificates.bundles_of_device(view, "pv-1").items
        assert (bundle.owner, bundle.issuer, bundle.issuing_body) == ("sun", CERTIFIER, "tuv")
        assert _issued(chain, "pv-2", h0) is None

        # pv-2 misses its reading of h1: pv-1's h1 and h2 go in one transaction, pv-2's h2 alone
        h1, h2 = h0 + HOUR, h0 + 2 * HOUR
        chain.clock.set(h2 + HOUR)
        chain.readings(h1, {"pv-1": 3_000})
        chain.readings(h2, {"pv-1": 2_000, "pv-2": 4_000})
        chain.clock.set(h2 + 2 * HOUR)
        queue = issuance_queue(chain.node.state.view, h2 + 2 * HOUR, DAY)
        assert [(i.device, i.start_s, i.measured_wh) for i in queue.due] == [
            ("pv-1", h1, 3_000), ("pv-1", h2, 2_000), ("pv-2", h2, 4_000),
        ]  # fmt: skip
        assert (queue.due_total, queue.due_wh, queue.unmetered) == (3, 9_000, 1)
        assert issuance_queue(chain.node.state.view, h2 + 2 * HOUR, DAY, limit=1).due_total == 3
        sent = keeper.tick()
        assert [(s.device, s.starts) for s in sent] == [("pv-1", (h1, h2)), ("pv-2", (h2,))]
        _settle(chain, sent)
        (held,) = certificates.bundles_of_device(chain.node.state.view, "pv-2").items
        assert held.owner == "sun-2"  # the mapping's account
        assert keeper.tick() == []
        # the late reading arrives: pv-2's h1 is issued then
        chain.readings(h1, {"pv-2": 1_000})
        sent = keeper.tick()
        assert [(s.device, s.starts, s.wh) for s in sent] == [("pv-2", (h1,), 1_000)]
        _settle(chain, sent)
        queue = issuance_queue(chain.node.state.view, h2 + 2 * HOUR, DAY)
        assert (queue.due, queue.unmetered, queue.first_s) == ([], 0, h0)
        assert keeper.tick() == []
        # the cursor stands at the finality horizon: the next tick reads no interval before it
        state = keeper._devices["pv-1"]
        assert state.cursor == final_end(h2 + 2 * HOUR, HOUR, HOUR) == h2 + HOUR
        assert state.waiting == set()


def test_a_correction_is_reconciled_and_old_bundles_expire(tmp_path: Path) -> None:
    with market_chain(tmp_path / "home") as chain:
        _certifier(chain)
        chain.commit("operator", "certificates.set_params", {
            "scheme": "energytag-gc/2024", "bundle_s": HOUR, "expiry_s": DAY, "finality_s": HOUR,
        })  # fmt: skip
        keeper = _keeper(chain)
        h0 = chain.hour
        chain.clock.set(h0 + HOUR)
        chain.readings(h0, {"pv-1": 6_000})
        chain.clock.set(h0 + 2 * HOUR)
        _settle(chain, keeper.tick())
        # the grid operator corrects the reading down: 2,000 Wh are over-certified
        correction = {"meter": "m-pv-1", "start": h0, "energy_wh": 4_000, "reason": "CT ratio"}
        chain.commit("grid", "metering.correct", correction)
        sent = keeper.tick()
        assert [(s.kind, s.device, s.starts) for s in sent] == [
            ("certificates.reconcile", "pv-1", (h0,))
        ]
        _settle(chain, sent)
        item = _issued(chain, "pv-1", h0)
        assert item is not None
        assert (item.quantity_wh, item.withdrawn_wh) == (6_000, 2_000)
        assert keeper.tick() == []  # within what is metered now: nothing more to reconcile

        # a day after issuance the live bundle expires; the withdrawn part never moves again
        view = chain.node.state.view
        live = certificates.bundles_of_device(view, "pv-1", status="active").items
        assert [b.quantity_wh for b in live] == [4_000]
        chain.clock.set(live[0].expires_s - 1)
        assert [s.kind for s in keeper.tick()] == []
        chain.clock.set(live[0].expires_s)
        chain.node.stop()  # no block carries it until the node produces again
        sent = keeper.tick()
        assert [(s.kind, s.bundles) for s in sent] == [("certificates.expire", (live[0].id,))]
        assert keeper.tick() == []  # in flight
        chain.node.start()
        _settle(chain, sent)
        view = chain.node.state.view
        statuses = {b.id: b.status for b in certificates.bundles_of_device(view, "pv-1").items}
        assert sorted(statuses.values()) == ["expired", "withdrawn"]
        assert keeper.tick() == []
        last = max(statuses, key=lambda i: certificates.parse_bundle_id(i) or ("", 0))
        assert keeper._devices["pv-1"].expiry_after == last


def test_a_month_goes_in_batches_of_744(tmp_path: Path) -> None:
    with market_chain(tmp_path / "home") as chain:
        _certifier(chain)
        keeper = _keeper(chain)
        h0 = chain.hour
        hours = 745
        chain.clock.set(h0 + hours * HOUR)
        batch = [
            {"meter": "m-pv-1", "start": h0 + k * HOUR, "length_s": HOUR, "energy_wh": 100 + k}
            for k in range(hours)
        ]
        chain.commit("gw", "metering.submit", {"readings": batch})
        chain.clock.set(h0 + (hours + 1) * HOUR)
        chain.node.stop()  # no block carries them until the node produces again
        first = keeper.tick()
        assert [(s.device, len(s.starts)) for s in first] == [("pv-1", 744)]
        assert first[0].starts == tuple(h0 + k * HOUR for k in range(744))
        second = keeper.tick()  # the rest; the first month is in flight, not sent again
        assert [(s.device, s.starts) for s in second] == [("pv-1", (h0 + 744 * HOUR,))]
        assert keeper.tick() == []
        # a flight that seems stale is offered again unchanged: the node still holds it
        pending = chain.node.pending
        later = chain.node.tip.height + STALE_BLOCKS + 1
        for tx_hash, flight in list(keeper._flights.items()):
            keeper._offer_again(tx_hash, flight, later)
        assert chain.node.pending == pending == 2
        assert sorted(keeper._flights) == sorted(s.tx_hash for s in first + second)
        chain.node.start()
        _settle(chain, first + second)
        ledger = certificates.device_ledger(chain.node.state.view, "pv-1")
        assert ledger.intervals == hours
        assert ledger.issued_wh == sum(100 + k for k in range(hours))
        assert keeper.tick() == []


def test_the_node_command_refuses_a_keeper_that_is_not_a_certifier(tmp_path: Path) -> None:
    home = tmp_path / "home"
    make_home(home)
    for account, code in (("operator", "keeper.not_certifier"), ("ghost", "keeper.no_key")):
        result = run("node", "--home", home, "--cert-keeper", account, code=1)
        assert code in result.stderr, result.output
    # nothing was served or committed: the chain is still at genesis
    node = open_node(home, PASSPHRASE, verify_workers=0)
    try:
        assert node.tip.height == 0
    finally:
        node.close()
