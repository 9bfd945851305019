"""``gridledger bench passports``: custody events through the node, the footprint roll-up
through a deep bill of materials, and checking a passport's proof file.

1. **Custody events** (``events_per_s``), through the embedded node as in ``bench
   certificates``: a chain whose operator adds ``orgs`` organisations with one account each
   and a manufacturer with ``makers`` accounts (set-up, not timed); the manufacturer
   registers ``events // 2`` serialised items. Then two timed phases, every transaction
   signed before its phase: each item shipped to one of the organisations (``products.ship``,
   signed by the maker accounts in turn), then received by it (``products.receive``). Each
   phase runs from its first submission to its last commit (admission with the signature
   checks in the node's workers, ordering, execution, state root, the SQLite commit);
   ``events_per_s`` is all events over both phases' time. ``ed25519_verify_per_s_one_core``
   is PyNaCl verifying one transaction's signing bytes in one thread in the same run, and
   ``events_ratio`` the rate over it.
2. **Roll-up** (``rollup_ms_p50``, ``rollup_ms_p99``, ``rollup_ms_max``): ``batches``
   batches in ``levels`` levels (5 by default) on an in-memory state, executed without the
   node (no signatures, blocks of 2,000 transactions): the first level's batches are made
   from nothing, each batch of a later level consumes ``fan_in`` batches of the level below
   (drawn with a fixed seed) out of the maker's stock; each level's batches run over
   ``hours`` (8) metered hours of the site, with CN-GD's factor set in force, and each
   carries an equal share of the site's energy. Then every batch's
   ``products.record_footprint`` runs level by level, each timed alone from the start of
   its execution to its end (the contract reads the batch, its site's metered hours, its
   scope 1 data and each input's footprint, and writes its own): the time to roll one batch
   up, given its inputs' footprints.
3. **Passport proof** (``passport_verify_ms``): the proof file of a batch with its
   footprint, made by the node after phase 1; the median time to check it with the
   consortium keys (:func:`gridledger.sdk.product_proofs.verify_product_proof`: the header's
   hash and signature, every record's state proof, the footprint's sums), from the decoded
   file; ``passport_proof_bytes`` its size, and ``item_verify_ms`` the same for an item's
   file (its custody chain).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from gridledger.bench.ledger import (
    PASSPHRASE,
    bench_key,
    commit_all,
    commit_timed,
    verify_rate_one_core,
)
from gridledger.contracts import chain as chain_rules
from gridledger.contracts import consortium
from gridledger.contracts.genesis import Genesis, GenesisAccount, GenesisOrganisation
from gridledger.contracts.products import gs1
from gridledger.contracts.rules import Rules
from gridledger.core.crypto import SigningKey
from gridledger.core.types import Transaction
from gridledger.documents.passport import product_proof
from gridledger.node.executor import execute_block, prepare
from gridledger.node.home import init_home, open_node
from gridledger.node.transition import genesis_state
from gridledger.sdk.carbon import factor_set_body
from gridledger.sdk.consortium_keys import build_keys
from gridledger.sdk.product_proofs import verify_product_proof
from gridledger.state.state import State

Progress = Callable[[str, int, int], None]
Tx = tuple[str, str, dict[str, Any]]
CHAIN_ID = "gridledger-bench-passports"
FEEDERS = 4
ITEMS_PER_TX = 1000
BLOCK_TXS = 2000
GTIN = "0695000000009" + str(gs1.check_digit("0695000000009"))
SETUP_MS = 1_767_225_600_000
"""2026-01-01 00:00 UTC: the roll-up chain's block time."""


def _noop(_phase: str, _done: int, _total: int) -> None:
    return None


def _party(i: int) -> str:
    return f"party-{i:05d}"


def _org(i: int) -> str:
    return f"org-{i:05d}"


def _maker(i: int) -> str:
    return f"maker-{i:04d}"


class _Signer:
    def __init__(self, keys_of: dict[str, SigningKey]) -> None:
        self.keys = keys_of
        self.nonces: dict[str, int] = {}
        self.slot = {a: i % FEEDERS for i, a in enumerate(sorted(keys_of))}

    def sign(self, sender: str, kind: str, body: dict[str, Any]) -> bytes:
        nonce = self.nonces.get(sender, 0) + 1
        self.nonces[sender] = nonce
        tx = Transaction(CHAIN_ID, kind, sender, nonce, body)
        tx.signature = self.keys[sender].sign(tx.signing_bytes())
        return tx.encode()

    def parts(self, txs: list[tuple[str, str, dict[str, Any]]]) -> list[list[bytes]]:
        out: list[list[bytes]] = [[] for _ in range(FEEDERS)]
        for sender, kind, body in txs:
            out[self.slot[sender]].append(self.sign(sender, kind, body))
        return out


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _custody(events: int, orgs: int, makers: int, home: Path, workers: int | None,
             progress: Progress) -> dict[str, Any]:  # fmt: skip
    items = max(1, events // 2)
    op = "bench-op"
    keys_of = {op: bench_key(7_000_000)}
    for i in range(makers):
        keys_of[_maker(i)] = bench_key(7_100_000 + i)
    for i in range(orgs):
        keys_of[_party(i)] = bench_key(7_200_000 + i)
    init_home(
        home, PASSPHRASE, chain_id=CHAIN_ID,
        accounts=[GenesisAccount(id=op, org="operator", public_key=keys_of[op].public_key,
                                 roles=["operator"])],
        rules=Rules(block_max_txs=BLOCK_TXS),
    )  # fmt: skip
    node = open_node(home, PASSPHRASE, verify_workers=workers, tune_gc=True, block_interval_ms=50)
    node.start()
    signer = _Signer(keys_of)
    try:
        progress("setup", 0, 3)
        setup: list[Tx]
        setup = [(op, "registry.add_organisation", {"org": "maker", "name": "Maker",
                                                    "roles": ["consumer"]})]  # fmt: skip
        setup += [(op, "registry.add_organisation", {"org": _org(i), "name": f"Party {i}",
                                                     "roles": ["consumer"]})
                  for i in range(orgs)]  # fmt: skip
        setup += [(op, "registry.add_account", {"account": _maker(i), "org": "maker",
                                                "public_key": keys_of[_maker(i)].public_key,
                                                "roles": ["consumer"]})
                  for i in range(makers)]  # fmt: skip
        setup += [(op, "registry.add_account", {"account": _party(i), "org": _org(i),
                                                "public_key": keys_of[_party(i)].public_key})
                  for i in range(orgs)]  # fmt: skip
        commit_all(node, [signer.sign(*t) for t in setup])
        progress("setup", 1, 3)
        m0 = _maker(0)
        made: list[Tx]
        made = [(m0, "registry.register_site", {"site": "works", "name": "Works", "country": "CN",
                 "grid_region": "CN-GD", "max_wh_per_hour": 10**9}),
                (m0, "products.register_type", {"gtin": GTIN, "name": "Part", "unit": "unit",
                                                "unit_mass_g": 1000}),
                (m0, "products.register_batch", {"gtin": GTIN, "lot": "L1", "site": "works"}),
                (m0, "products.complete_batch", {"gtin": GTIN, "lot": "L1", "quantity": items}),
                (m0, "products.record_footprint", {"gtin": GTIN, "lot": "L1", "defaults": [
                    {"id": "steel", "description": "steel, default values", "mass_g": 10**6,
                     "direct_g_per_kg": 1900, "indirect_g_per_kg": 300, "gas": "CO2",
                     "source": "bench defaults"}]})]  # fmt: skip
        made += [(m0, "products.register_items", {
            "gtin": GTIN, "lot": "L1",
            "serials": [f"S{n}" for n in range(i, min(items, i + ITEMS_PER_TX))]})
            for i in range(0, items, ITEMS_PER_TX)]  # fmt: skip
        commit_all(node, [signer.sign(*t) for t in made])
        progress("setup", 2, 3)
        ships = signer.parts([
            (_maker(n % makers), "products.ship", {"gtin": GTIN, "serial": f"S{n}",
                                                   "to": _org(n % orgs)})
            for n in range(items)])  # fmt: skip
        receives = signer.parts([
            (_party(n % orgs), "products.receive", {"gtin": GTIN, "serial": f"S{n}"})
            for n in range(items)])  # fmt: skip
        ship_body = {"gtin": GTIN, "serial": "S0", "to": _org(0)}
        sample = Transaction(CHAIN_ID, "products.ship", _maker(0), 1, ship_body).signing_bytes()
        verify_before = verify_rate_one_core(sample)
        progress("setup", 3, 3)
        runs = []
        for name, parts in (("ship", ships), ("receive", receives)):
            run = commit_timed(node, parts, phase=name, progress=progress)
            if run.committed < run.txs or run.failed:
                raise RuntimeError(f"{name}: {run.failed} failed of {run.txs}: {run.first_failure}")
            runs.append((name, run))
        verify_rate = max(verify_before, verify_rate_one_core(sample))
        elapsed = sum(r.elapsed_s for _, r in runs)
        events_per_s = 2 * items / elapsed
        proof = product_proof(node, GTIN, lot="L1")
        item = product_proof(node, GTIN, serial="S0")
        view = node.state.view
        histories = [msgspec.to_builtins(h) for h in consortium.node_keys(view)]
        keys = build_keys(
            CHAIN_ID, node.tip.height + 1, histories,
            lambda h: chain_rules.rules_at(view, h).proposers,
            [u.height for u in chain_rules.upgrades(view)],
        ).to_json()  # fmt: skip
    finally:
        node.close()
    return {
        "items": items,
        "events": 2 * items,
        "organisations": orgs,
        "events_per_s": round(events_per_s, 1),
        "phases": {
            name: {
                "txs": r.committed,
                "elapsed_s": round(r.elapsed_s, 3),
                "tx_per_s": round(r.tx_per_s, 1),
                "blocks": len(r.commit_ms),
            }
            for name, r in runs
        },
        "ed25519_verify_per_s_one_core": round(verify_rate, 1),
        "events_ratio": round(events_per_s / verify_rate, 3),
        **_verify_times(proof, item, keys),
    }


def _verify_times(proof: dict[str, Any], item: dict[str, Any], keys: dict[str, Any],
                  rounds: int = 200) -> dict[str, Any]:  # fmt: skip
    def median_ms(doc: dict[str, Any]) -> float:
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            verify_product_proof(doc, keys)
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)

    return {
        "passport_verify_ms": round(median_ms(proof), 3),
        "passport_proof_bytes": len(msgspec.json.encode(proof)),
        "item_verify_ms": round(median_ms(item), 3),
        "item_events": len([r for r in item["records"] if "/event/" in r["key"]]),
    }


class _Executor:
    """Runs unsigned transactions on an in-memory state in blocks (signatures are the node's
    business, measured in phase 1)."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.height = 0
        self.time_ms = SETUP_MS
        self.nonces: dict[str, int] = {}
        self.pending: list[Any] = []

    def tx(self, sender: str, kind: str, body: dict[str, Any]) -> Any:
        nonce = self.nonces.get(sender, 0) + 1
        self.nonces[sender] = nonce
        return prepare(Transaction(CHAIN_ID, kind, sender, nonce, body, signature="ed25519:"))

    def add(self, sender: str, kind: str, body: dict[str, Any]) -> None:
        self.pending.append(self.tx(sender, kind, body))
        if len(self.pending) >= BLOCK_TXS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        self.height += 1
        receipts = execute_block(self.state, self.pending, self.height, self.time_ms)
        bad = [r for r in receipts if not r.ok]
        if bad:
            raise RuntimeError(f"roll-up set-up failed: {bad[0].code}: {bad[0].message}")
        self.state.compute_root()
        self.state.finish_block()
        self.pending = []

    def at(self, time_ms: int) -> None:
        """Later blocks carry this time (the pending ones are run first)."""
        self.flush()
        self.time_ms = time_ms

    def timed(self, sender: str, kind: str, body: dict[str, Any]) -> float:
        """Run one transaction alone; milliseconds its execution took."""
        p = self.tx(sender, kind, body)
        self.height += 1
        start = time.perf_counter()
        (receipt,) = execute_block(self.state, [p], self.height, self.time_ms)
        ms = (time.perf_counter() - start) * 1000
        if not receipt.ok:
            raise RuntimeError(f"{kind}: {receipt.code}: {receipt.message}")
        if self.height % BLOCK_TXS == 0:
            self.state.compute_root()
            self.state.finish_block()
        return ms


def _rollup_genesis() -> Genesis:
    accounts = [("maker", ["consumer"]), ("grid", ["grid_operator"]), ("gw", []),
                ("reg", ["regulator"])]  # fmt: skip
    return Genesis(
        chain_id=CHAIN_ID, genesis_time=SETUP_MS - 1000,
        organisations=[GenesisOrganisation(
            id="operator", name="Operator", node_key=bench_key(2).public_key,
            roles=["consumer", "grid_operator", "regulator"])],
        accounts=[GenesisAccount(id=a, org="operator", public_key=bench_key(10 + i).public_key,
                                 roles=r) for i, (a, r) in enumerate(accounts)],
    )  # fmt: skip


def _rollup(batches: int, levels: int, fan_in: int, seed: int, hours: int,
            progress: Progress) -> dict[str, Any]:  # fmt: skip
    if levels < 1 or batches < levels or fan_in < 1 or not 0 <= hours <= 24:
        raise ValueError("need levels >= 1, batches >= levels, fan_in >= 1, hours 0-24")
    rng = random.Random(seed)
    maker = "maker"
    state = genesis_state(_rollup_genesis())
    state.compute_root()
    state.finish_block()
    ex = _Executor(state)
    ex.add("reg", "carbon.record_factor_set",
           factor_set_body("CN-GD", 2023, "2026-01", "2027-01", "cn-gd-2026"))  # fmt: skip
    site = {"site": "works", "name": "Works", "country": "CN", "grid_region": "CN-GD",
            "max_wh_per_hour": 10**9}  # fmt: skip
    ex.add(maker, "registry.register_site", site)
    ex.add("grid", "registry.register_meter", {"meter": "m-works", "kind": "consumption",
           "site": "works", "gateway": "gw", "interval_s": 3600})  # fmt: skip
    gtins = []
    for level in range(levels):
        body = "069500001" + f"{level:04d}"
        gtin = body + str(gs1.check_digit(body))
        gtins.append(gtin)
        ex.add(maker, "products.register_type",
               {"gtin": gtin, "name": f"level {level}", "unit": "kg"})  # fmt: skip
    per_level = [batches // levels + (1 if i < batches % levels else 0) for i in range(levels)]
    quantity = 1_000_000
    made = 0
    for level in range(levels):
        # each level's batches run over ``hours`` metered hours of the site, level after level
        start_ms = SETUP_MS + level * (hours + 1) * 3_600_000
        ex.at(start_ms)
        for b in range(per_level[level]):
            ex.add(maker, "products.register_batch", {"gtin": gtins[level], "lot": f"B{b}",
                                                      "site": "works"})  # fmt: skip
            if level > 0:
                chosen = rng.sample(range(per_level[level - 1]), min(fan_in, per_level[level - 1]))
                ex.add(maker, "products.consume", {"gtin": gtins[level], "lot": f"B{b}", "inputs": [
                    {"gtin": gtins[level - 1], "lot": f"B{c}", "quantity": 1 + rng.randrange(50)}
                    for c in sorted(chosen)]})  # fmt: skip
        ex.at(start_ms + hours * 3_600_000)
        if hours:
            first_s = start_ms // 1000
            rows = [{"meter": "m-works", "start": first_s + 3600 * h, "length_s": 3600,
                     "energy_wh": 100_000 + rng.randrange(900_000)}
                    for h in range(hours)]  # fmt: skip
            ex.add("gw", "metering.submit", {"readings": rows})
        for b in range(per_level[level]):
            ex.add(maker, "products.complete_batch", {"gtin": gtins[level], "lot": f"B{b}",
                                                      "quantity": quantity})  # fmt: skip
            made += 1
            if made % 1000 == 0:
                progress("rollup-setup", made, batches)
    ex.flush()
    share = max(1, 1_000_000 // max(per_level))
    times: list[float] = []
    for level in range(levels):
        for b in range(per_level[level]):
            fp = {"gtin": gtins[level], "lot": f"B{b}", "share_ppm": share}
            times.append(ex.timed(maker, "products.record_footprint", fp))
            if len(times) % 1000 == 0:
                progress("rollup", len(times), batches)
    last = times[-per_level[-1] :]
    return {
        "batches": batches,
        "levels": levels,
        "fan_in": fan_in,
        "metered_hours_per_batch": hours,
        "rollup_ms_p50": round(statistics.median(times), 3),
        "rollup_ms_p99": round(_percentile(times, 0.99), 3),
        "rollup_ms_max": round(max(times), 3),
        "rollup_top_level_ms_p99": round(_percentile(last, 0.99), 3),
    }


def run_passports_bench(
    events: int = 20_000,
    orgs: int = 100,
    makers: int = 100,
    batches: int = 100_000,
    levels: int = 5,
    fan_in: int = 3,
    hours: int = 8,
    home: Path | None = None,
    workers: int | None = None,
    seed: int = 1,
    progress: Progress = _noop,
) -> dict[str, Any]:
    """Run the three measurements (see the module docstring)."""
    if events < 2 or orgs < 1 or makers < 1:
        raise ValueError("events >= 2, orgs >= 1 and makers >= 1")
    tmp = None
    if home is None:
        tmp = tempfile.TemporaryDirectory(prefix="gridledger-bench-passports-")
        home = Path(tmp.name) / "home"
    try:
        custody = _custody(events, orgs, makers, home, workers, progress)
    finally:
        if tmp is not None:
            tmp.cleanup()
    rollup = _rollup(batches, levels, fan_in, seed, hours, progress)
    return {**custody, **rollup}
