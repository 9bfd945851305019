"""Range scans of the state and pages of records, against a sorted dict.

Every reader (the committed view with and without its key index, a block's live state with
pending writes in the block and in a transaction, a scratch layer over the view) must give
the same pairs for the same range, first-to-last or last-first, cut at the same limit (the
live state reads long ranges of the committed state a page at a time); ``page_of`` pages
records in id order.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from gridledger.contracts.base import Page, Record, page_of
from gridledger.state.state import CommittedView, KeyIndex, Scratch, State, StateReader

PREFIX = b"p/"
suffixes = st.binary(min_size=0, max_size=3)
values = st.binary(min_size=1, max_size=4)
bounds = st.one_of(st.none(), suffixes)


def readers(
    committed: dict[bytes, bytes], pending: dict[bytes, bytes | None]
) -> Iterator[tuple[str, StateReader]]:
    """Every kind of reader over ``committed`` with ``pending`` written on top (``None``
    deletes); the committed views see only what was committed."""
    state = State(dict(committed))
    for k, v in pending.items():
        if v is None:
            state.delete(k)
        else:
            state.set(k, v)
    scratch = Scratch(CommittedView(dict(committed), KeyIndex(committed)))
    for k, v in pending.items():
        if v is None:
            scratch.delete(k)
        else:
            scratch.set(k, v)
    yield "live state", state
    yield "scratch", scratch
    # the same writes split between the block and a transaction inside it, with the key
    # written in both layers taking the transaction's value
    layered = State(dict(committed))
    items = list(pending.items())
    for k in pending:
        layered.set(k, b"stale")  # in the block, then overwritten in the block or the tx
    for i, (k, v) in enumerate(items):
        if i == len(items) // 2:
            layered.begin()
        if v is None:
            layered.delete(k)
        else:
            layered.set(k, v)
    yield "live state in a transaction", layered


@given(
    committed=st.dictionaries(
        st.sampled_from([b"p/", b"q/", b"o"]).flatmap(lambda p: suffixes.map(lambda s: p + s)),
        values,
        max_size=40,
    ),
    pending=st.dictionaries(
        suffixes.map(lambda s: PREFIX + s), st.one_of(st.none(), values), max_size=6
    ),
    start=suffixes,
    end=bounds,
    limit=st.one_of(st.none(), st.integers(0, 5)),
    reverse=st.booleans(),
)
def test_scan_range_matches_a_sorted_dict(
    committed: dict[bytes, bytes],
    pending: dict[bytes, bytes | None],
    start: bytes,
    end: bytes | None,
    limit: int | None,
    reverse: bool,
) -> None:
    def expected(items: dict[bytes, bytes]) -> list[tuple[bytes, bytes]]:
        found = [
            (k, v)
            for k, v in sorted(items.items(), reverse=reverse)
            if k.startswith(PREFIX)
            and k[len(PREFIX) :] >= start
            and (end is None or k[len(PREFIX) :] < end)
        ]
        return found if limit is None else found[:limit]

    after = dict(committed)
    for k, v in pending.items():
        if v is None:
            after.pop(k, None)
        else:
            after[k] = v
    for view in (CommittedView(committed), CommittedView(committed, KeyIndex(committed))):
        assert list(view.scan_range(PREFIX, start, end, limit, reverse=reverse)) == expected(
            committed
        )
    for name, reader in readers(committed, pending):
        got = list(reader.scan_range(PREFIX, start, end, limit, reverse=reverse))
        assert got == expected(after), name


class Thing(Record):
    """A record to page through.

    Attributes:
        id: Its id.
        colour: red or blue.
    """

    id: str
    colour: str


@given(
    things=st.dictionaries(
        st.text("abc", min_size=1, max_size=3), st.sampled_from(["red", "blue"]), max_size=10
    ),
    limit=st.integers(1, 4),
    only_red=st.booleans(),
)
def test_page_of_walks_every_record_once_in_id_order(
    things: dict[str, str], limit: int, only_red: bool
) -> None:
    committed = {
        b"thing/" + i.encode(): msgspec.json.encode(Thing(id=i, colour=c))
        for i, c in things.items()
    }
    view = CommittedView(committed, KeyIndex(committed))
    keep = (lambda t: t.colour == "red") if only_red else None
    seen: list[str] = []
    after = None
    while True:
        page: Page[Thing] = page_of(view, b"thing/", Thing, after, limit, keep)
        assert len(page.items) <= limit
        seen += [t.id for t in page.items]
        if page.next is None:
            break
        assert page.next == page.items[-1].id
        after = page.next
    wanted = sorted(i for i, c in things.items() if not only_red or c == "red")
    assert seen == wanted
    whole = page_of(view, b"thing/", Thing, keep=keep)
    assert ([t.id for t in whole.items], whole.next) == (wanted, None)
