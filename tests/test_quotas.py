"""Admission quotas: the operator limits what accounts of a role may submit per minute; every
node's admission refuses the excess with ``tx.rate_limited`` (429 over HTTP), counting only
transactions whose signature checked out."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures_node import Chain, running_chain
from gridledger.api import create_app
from gridledger.contracts import chain as chain_contract
from gridledger.contracts.chain import Quota
from gridledger.core.errors import GridLedgerError
from gridledger.node.quotas import AdmissionQuotas

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def quota(role: str, txs: int, nbytes: int) -> Quota:
    return Quota(role=role, txs_per_minute=txs, bytes_per_minute=nbytes, set_height=1,
                 set_by="operator")  # fmt: skip


def test_buckets_hold_a_minute_and_refill() -> None:
    q = AdmissionQuotas()
    q.update([quota("consumer", 3, 1000)])
    for _ in range(3):
        q.take("ann", ("consumer",), 100, now=0.0)
    with pytest.raises(GridLedgerError) as err:
        q.take("ann", ("consumer",), 100, now=0.0)
    assert err.value.code == "tx.rate_limited"
    assert "retry in 20 s" in err.value.message
    q.take("bob", ("consumer",), 100, now=0.0)  # buckets are per account
    q.take("ann", ("consumer",), 100, now=20.0)  # a third of a minute: one transaction back
    with pytest.raises(GridLedgerError):
        q.take("ann", ("consumer",), 100, now=20.0)
    q.take("ann", ("consumer",), 100, now=200.0)
    q.take("gw", (), 10**6, now=0.0)  # no quota applies: not limited


def test_bytes_count_and_the_most_generous_quota_applies() -> None:
    q = AdmissionQuotas()
    q.update([quota("any", 100, 1000), quota("producer", 10, 50_000)])
    assert q.limits(("consumer",)) == (100, 1000)
    assert q.limits(("consumer", "producer")) == (100, 50_000)
    q.take("ann", ("consumer",), 600, now=0.0)
    with pytest.raises(GridLedgerError) as err:
        q.take("ann", ("consumer",), 600, now=0.0)
    assert "retry in 12 s" in err.value.message
    with pytest.raises(GridLedgerError) as err:
        q.take("bob", ("consumer",), 5000, now=0.0)
    assert "over 'bob''s quota of 1000 bytes" in err.value.message
    q.update([])  # quotas cleared on chain: nobody is limited
    for _ in range(500):
        q.take("ann", ("consumer",), 600, now=0.0)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Chain]:
    with running_chain(tmp_path / "home") as chain:
        yield chain


def _client(chain: Chain) -> TestClient:
    return TestClient(create_app(chain.node))


def test_the_operator_sets_a_quota_and_admission_enforces_it(served: Chain) -> None:
    chain = served
    node = chain.node
    with _client(chain) as http:

        def commit(sender: str, kind: str, body: dict[str, object]) -> dict[str, object]:
            tx = chain.sign(sender, kind, body)
            answer = http.post("/v1/txs", params={"wait": 10}, content=tx.encode())
            assert answer.status_code == 200, answer.text
            receipt: dict[str, object] = answer.json()["receipt"]
            return receipt

        bad = chain.sign("operator", "chain.set_quota", {"role": "carpenter",
                         "txs_per_minute": 5, "bytes_per_minute": 10_000})  # fmt: skip
        refused = http.post("/v1/txs", content=bad.encode())
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "chain.invalid_quota"
        ok = commit("operator", "chain.set_quota", {"role": "consumer", "txs_per_minute": 2,
                                                     "bytes_per_minute": 100_000})  # fmt: skip
        assert ok["status"] == "ok"
        quotas = http.get("/v1/chain/rules").json()["quotas"]
        assert [(q["role"], q["txs_per_minute"]) for q in quotas] == [("consumer", 2)]
        assert [q.role for q in chain_contract.quotas(node.state.view)] == ["consumer"]

        # carol holds the consumer role: two transfers a minute, then 429
        forged = chain.sign("carol", "funds.transfer", {"to": "bob", "amount": 1},
                            key=chain.keys["bob"])  # fmt: skip
        for _ in range(3):  # forgeries in carol's name do not use up her quota
            assert http.post("/v1/txs", content=forged.encode()).status_code == 400
        first = chain.sign("carol", "funds.transfer", {"to": "bob", "amount": 1})
        assert http.post("/v1/txs", content=first.encode()).status_code == 202
        second = chain.sign("carol", "funds.transfer", {"to": "bob", "amount": 1})
        assert http.post("/v1/txs", content=second.encode()).status_code == 202
        third = chain.sign("carol", "funds.transfer", {"to": "bob", "amount": 1})
        limited = http.post("/v1/txs", content=third.encode())
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "tx.rate_limited"
        assert "carol" in limited.json()["error"]["message"]
        # bob holds no role: no quota applies to him
        for _ in range(5):
            tx = chain.sign("bob", "funds.transfer", {"to": "alice", "amount": 1})
            assert http.post("/v1/txs", content=tx.encode()).status_code == 202
        batch = http.post("/v1/txs/batch", content=b"[" + third.encode() + b"]").json()
        assert batch[0]["error"]["code"] == "tx.rate_limited"

        cleared = commit("operator", "chain.clear_quota", {"role": "consumer"})
        assert cleared["status"] == "ok"
        assert http.post("/v1/txs", content=third.encode()).status_code == 202
        again = commit("operator", "chain.clear_quota", {"role": "consumer"})
        assert again["code"] == "chain.unknown_quota"
