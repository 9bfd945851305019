"""Real etcd clusters for tests: three members with mutual TLS on 127.0.0.1.

Fixtures (import them into a test module to use them):

- ``etcd_cluster`` (module scope): one healthy cluster shared by a module's tests that leave it
  as they found it (all members running);
- ``fresh_etcd_cluster`` (function scope): a cluster of its own, for tests that kill, pause or
  overfill members.

Both start in well under a second on loopback (50 ms heartbeats, 500 ms election timeout) and
stop every member afterwards, even when the test fails; members also die with the test process
(``die_with_parent``), and :mod:`gridledger.network.etcd` kills any left at interpreter exit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
from etcd3gw.client import Etcd3Client
from etcd3gw.exceptions import Etcd3Exception

from gridledger.network.etcd import Cluster, Tuning

T = TypeVar("T")


def poll(
    probe: Callable[[], T | None], *, timeout_s: float, what: str, interval_s: float = 0.05
) -> tuple[T, float]:
    """Call ``probe`` until it returns something other than ``None`` (or false).

    Returns:
        The value and the seconds it took.

    Raises:
        AssertionError: naming ``what`` when ``timeout_s`` passed first.
    """
    start = time.monotonic()
    while True:
        value = probe()
        if value:
            return value, time.monotonic() - start
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(interval_s)


def put_eventually(client: Etcd3Client, key: str, value: str, *, timeout_s: float = 10.0) -> float:
    """Put until etcd acknowledges (a plain put may be repeated safely; a create may not).

    For writes right after a fault, when an election may still be under way. Returns the
    seconds it took.
    """

    def attempt() -> bool:
        try:
            return client.put(key, value)
        except Etcd3Exception:
            return False

    _, took_s = poll(attempt, timeout_s=timeout_s, what=f"an acknowledged put of {key}")
    return took_s


@contextmanager
def running_cluster(
    directory: Path, size: int = 3, tuning: Tuning | None = None
) -> Iterator[Cluster]:
    """A started, healthy mutual-TLS cluster on loopback, closed on exit."""
    cluster = Cluster.loopback(directory, size, tuning=tuning, die_with_parent=True)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def etcd_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A 3-member mutual-TLS cluster shared by the module; tests leave every member running."""
    with running_cluster(tmp_path_factory.mktemp("etcd")) as cluster:
        yield cluster


@pytest.fixture
def fresh_etcd_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A 3-member mutual-TLS cluster for one test, which may kill or pause its members."""
    with running_cluster(tmp_path / "etcd") as cluster:
        yield cluster
