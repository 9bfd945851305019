"""What a block's net state changes say about the market, for the read models beside the chain
(:mod:`gridledger.readmodels.market`): the interval records, pairings and grid settlements the
block wrote, decoded.

A read model sees only the changes of committed blocks and must neither build nor parse the
market's keys, so the market reads its own records out of them here. Clearing writes an
interval's record and each of its pairings without ``delivered_wh`` and ``amount_fen``;
settlement writes the record and each pairing once more with both, and each grid settlement
once; an interval is never cleared or settled twice, so each settled pairing and each grid
settlement appears in exactly one block.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from itertools import islice
from typing import NamedTuple

import msgspec

from gridledger.contracts.market import keys
from gridledger.contracts.market.records import GridSettlement, Interval, Pairing

# a settlement's block holds a hundred thousand of these: one decoder each, made once
_pairing = msgspec.json.Decoder(Pairing).decode
_grid = msgspec.json.Decoder(GridSettlement).decode
_interval = msgspec.json.Decoder(Interval).decode


class WrittenPairing(NamedTuple):
    """A pairing a block wrote, with where it is stored."""

    start_s: int
    """Its interval's start, Unix seconds UTC."""
    n: int
    """Its number in the interval (clearing order, from 0)."""
    pairing: Pairing


class Written(NamedTuple):
    """The market records a block wrote, each list in key order."""

    intervals: list[Interval]
    """Interval records (by the first order, the clearing or the settlement), oldest first."""
    pairings: list[WrittenPairing]
    """Pairings, by interval, then number."""
    grid_settlements: list[GridSettlement]
    """Grid settlements, by interval, direction (exports first), asset."""


def written(changes: Mapping[bytes, bytes | None]) -> Written:
    """The interval records, pairings and grid settlements among a block's net changes
    (``changes`` in key order, as a block's are; deletions are none of these)."""
    market = keys.all_market()
    interval, pairing, grid = keys.intervals(), keys.all_pairings(), keys.all_grid_settlements()
    out = Written([], [], [])
    make = tuple.__new__  # builds the named tuples without their Python-level __new__
    # the changes come in key order: only the market's own range is walked
    ordered = list(changes)
    first = bisect_left(ordered, market)
    for k in islice(ordered, first, None):
        if not k.startswith(market):
            break
        v = changes[k]
        if v is None:
            continue
        if k.startswith(pairing):
            start, n = keys.parse_pairing(k)
            out.pairings.append(make(WrittenPairing, (start, n, _pairing(v))))
        elif k.startswith(grid):
            out.grid_settlements.append(_grid(v))
        elif k.startswith(interval):
            out.intervals.append(_interval(v))
    return out
