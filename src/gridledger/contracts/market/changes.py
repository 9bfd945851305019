"""What a block's net state changes say about the market, for the read models beside the chain
(:mod:`gridledger.readmodels.market`): the pairings and the grid settlements the block wrote,
decoded.

A read model sees only the changes of committed blocks and must neither build nor parse the
market's keys, so the market reads its own records out of them here. Clearing writes each
pairing without ``delivered_wh`` and ``amount_fen``; settlement writes it once more with both,
and writes each grid settlement once; an interval is never settled twice, so each settled
pairing and each grid settlement appears in exactly one block.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gridledger.contracts.market import keys
from gridledger.contracts.market.records import GridSettlement, Pairing
from gridledger.state.state import decode_record


@dataclass(frozen=True, slots=True)
class WrittenPairing:
    """A pairing a block wrote, with where it is stored."""

    start_s: int
    """Its interval's start, Unix seconds UTC."""
    n: int
    """Its number in the interval (clearing order, from 0)."""
    pairing: Pairing


def pairings_written(changes: Mapping[bytes, bytes | None]) -> list[WrittenPairing]:
    """Every pairing the block wrote, in key order (by interval, then number)."""
    prefix = keys.all_pairings()
    out = []
    for k, v in changes.items():
        if v is not None and k.startswith(prefix):
            start, n = keys.parse_pairing(k)
            out.append(WrittenPairing(start, n, decode_record(v, Pairing)))
    return out


def grid_settlements_written(changes: Mapping[bytes, bytes | None]) -> list[GridSettlement]:
    """Every grid settlement the block wrote, in key order."""
    prefix = keys.all_grid_settlements()
    return [
        decode_record(v, GridSettlement)
        for k, v in changes.items()
        if v is not None and k.startswith(prefix)
    ]
