"""``gridledger node`` with a tampered contract: its ``funds.mint`` credits one unit more.

Run as ``python tests/tampered_node.py node --home HOME ...`` (the same arguments as
``gridledger``). Every block with a mint then reaches another state root on this node than on
the honest ones: it must be told apart (it halts with "fork detected") and never count
towards finality. The fault tests start one organisation's node this way.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

from gridledger.contracts import base
from gridledger.contracts.funds.ledger import credit


def tamper() -> None:
    """Replace the registered ``funds.mint`` with one that credits one unit more."""
    honest = base.KINDS["funds.mint"]

    def generous_mint(state: Any, ctx: Any, body: Any) -> None:
        honest.apply(state, ctx, body)
        credit(state, body.to, 1)

    base.KINDS["funds.mint"] = dataclasses.replace(honest, apply=generous_mint)


if __name__ == "__main__":  # worker processes (spawned) import this module too: run only here
    tamper()
    from gridledger.cli.main import app

    app(sys.argv[1:], prog_name="gridledger")
