"""Load for the crash test: run a node in ``HOME`` and submit signed transfers until killed.

Usage: ``python tests/crash_load.py HOME``

The home must exist (``tests/test_crash.py`` creates it with the households of
``support.household_accounts``). Each committed block is acknowledged on stdout, flushed, as
``COMMITTED <height> <hash>`` by a node listener, which runs only after the block's SQLite
transaction has committed; ``READY <height>`` is printed once the node runs. The process never
exits on its own: the test ends it with SIGKILL.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from gridledger.core.errors import GridLedgerError
from gridledger.node.home import open_node
from gridledger.node.node import CommittedBlock
from support import PASSPHRASE, households, transfer

SENDERS = households(4)
BATCH = 40


def acknowledge(event: CommittedBlock) -> None:
    sys.stdout.write(f"COMMITTED {event.height} {event.hash}\n")
    sys.stdout.flush()


def main(home: Path) -> None:
    node = open_node(
        home, PASSPHRASE, verify_workers=0, block_interval_ms=20, block_max_txs=64, prune_keep=16
    )
    node.add_listener(acknowledge)
    node.start()
    sys.stdout.write(f"READY {node.tip.height}\n")
    sys.stdout.flush()
    nonces = {s: node.next_nonce(s) for s in SENDERS}
    round_ = 0
    while True:
        raws = []
        for i in range(BATCH):
            sender = SENDERS[(round_ + i) % len(SENDERS)]
            to = SENDERS[(round_ + i + 1) % len(SENDERS)]
            raws.append(transfer(sender, nonces[sender], to, 1 + i, memo=f"r{round_}").encode())
            nonces[sender] += 1
        for result in node.submit_many(raws):
            if isinstance(result, GridLedgerError):
                sys.stderr.write(f"refused: {result.code} {result.message}\n")
        round_ += 1
        time.sleep(0.005)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
