"""One organisation's node in a consortium network.

The node admits transactions as the embedded one does; a sequencer thread then does, in a
loop:

1. **read the log**: every etcd log position from the next one on, in order, each through
   :meth:`~gridledger.node.node.Node.import_block` (the one block import path). An entry that
   does not extend this node's chain (a block on an older tip, a bad signature, an unknown
   proposer, a root this node computes differently) is skipped, as every honest node skips it:
   they judge it against the same state;
2. **attest**: after each block it signs ``(chain id, height, block hash, state root)`` with
   its node key and publishes it; it reads the others' attestations, checks each against the
   attesting organisation's node key, and keeps them. A block is **final** when more than two
   thirds of the organisations allowed to propose at its height attested its hash. When such a
   quorum attested a block this node does not have at that height (or one it refused because it
   computed another root), the node **halts**: it stops committing and says so (fork detection);
3. **propose** when it has admitted transactions and it is its turn: position ``p`` belongs
   first to ``proposers[p mod n]``; the others offer a block there only after it stayed free
   for a grace period (so a stopped organisation costs a little latency, not liveness). The
   block is executed and signed, then offered with a compare-and-swap; if another block took
   the position, it is dropped unstored, the winner imported, and the transactions it did not
   carry are queued again. A transaction sent to several nodes executes once: the nonce rule
   refuses it in every later block.

Entries every organisation attested, and entries beyond the log's window, are pruned from
etcd; a node that missed pruned entries catches up from a peer's block API, checking every
block as it would from the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from gridledger.contracts import chain, consortium
from gridledger.core.crypto import SigningKey, verify
from gridledger.core.errors import InvalidBlock
from gridledger.core.types import Attestation, Block
from gridledger.network.log import EtcdLog, EtcdUnavailable, decode_block, encode_block
from gridledger.node.finality import attestation_valid, decode_attestation, quorum
from gridledger.node.node import Node
from gridledger.node.ordering import LocalOrdering

log = logging.getLogger("gridledger.network")

_attestation = msgspec.json.Decoder(Attestation).decode


class _Root(msgspec.Struct):
    state_root: str


_root = msgspec.json.Decoder(_Root).decode


def _header_root(header: bytes) -> str:
    return _root(header).state_root


LATE_HEIGHTS = 256
"""How far below the final height a node still takes in attestations."""


class WakingOrdering(LocalOrdering):
    """The node's queue of admitted transactions; a submission wakes the sequencer."""

    def __init__(self, wake: Callable[[], None]) -> None:
        super().__init__()
        self._on_submit = wake

    def submit(self, txs: list[Any]) -> None:
        super().submit(txs)
        self._on_submit()


@dataclass
class NetworkSettings:
    turn_grace_s: float = 0.15
    """How long a position stays reserved for its turn's organisation."""
    fill_s: float = 0.05
    """How long a node lets its first queued transaction wait for others to join its block."""
    window: int = 2_000
    """Log entries etcd keeps at most (older final ones are pruned even if not everyone
    attested them)."""
    prune_every: int = 64
    """Prune after this many positions."""
    defragment_every: int = 32
    """Defragment this node's etcd member after this many prunes."""
    observer: bool = False
    """Follow and check, but neither propose nor attest (an auditor's node)."""
    catch_up: Callable[[Node], int] | None = None
    """Import the blocks a peer has and this node lacks; returns the new tip. Used when the
    log was pruned past this node, or holds a block beyond its tip."""
    fetch_attestations: Callable[[int], list[bytes]] | None = None
    """A peer's attestations of a height (canonical JSON each), for blocks whose own were
    pruned from etcd before this node received them."""
    poll_s: float = 0.25
    """Read the log at least this often even when the watch says nothing."""


@dataclass
class Finality:
    """Attestations seen, and what they decided."""

    by_height: dict[int, dict[str, Attestation]] = field(default_factory=dict)
    final_height: int = 0
    highest_by_org: dict[str, int] = field(default_factory=dict)


class NetworkNode:
    """Runs a :class:`Node` as one organisation of a consortium ordered by an etcd log."""

    def __init__(
        self,
        node: Node,
        etcd: EtcdLog,
        settings: NetworkSettings | None = None,
    ) -> None:
        self.node = node
        self.etcd = etcd
        self.settings = settings or NetworkSettings()
        self.org = node.config.org
        self.key: SigningKey = node.config.node_key
        self.position = 0
        self.finality = Finality(final_height=node.store.final_height())
        self._disputed: dict[tuple[int, str], str] = {}
        self._position_height: dict[int, int] = {}
        self._free_since: float = time.monotonic()
        self._running = False
        self._thread: threading.Thread | None = None
        self._last_pruned = 0
        self._prunes = 0
        self._last_catch_up = 0.0
        self._refused: dict[str, None] = {}
        self._unproven: set[int] = set()
        self._last_backfill = 0.0
        self.behind_height = 0
        """A height some proposer built on that this node lacks (0 when none): it proposes
        nothing until it has caught up."""
        self.etcd_ok = True
        self.lost_positions = 0
        self.skipped: list[tuple[int, str, str]] = []
        """Log entries skipped: ``(position, code, message)``, the latest 100."""
        node.final_height_of = lambda: self.finality.final_height
        node.network_status = self.status

    # running ---------------------------------------------------------------------------------
    def start(self) -> None:
        self.node.start(produce=False)
        self.etcd.start_watch()
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="sequencer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        self.etcd.stop_watch()
        self.etcd.poke()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.node.stop()

    def _loop(self) -> None:
        try:
            self._resume()
        except EtcdUnavailable as exc:
            log.warning("etcd unavailable at start; retrying", extra={"reason": str(exc)})
        while self._running and not self.node.halted:
            try:
                self.step()
                self.etcd_ok = True
            except EtcdUnavailable as exc:
                if self.etcd_ok:
                    log.warning("etcd unavailable", extra={"reason": str(exc)})
                self.etcd_ok = False
                self.etcd.wait(0.5)
            except Exception as exc:
                self.node.halted = f"{type(exc).__name__}: {exc}"
                log.exception("network node halted")
                return

    def _resume(self) -> None:
        """Start reading at the log's first position: entries this node already has are
        compared, not executed again."""
        first = self.etcd.first_position()
        self.position = 0 if first is None else first
        tip = self.node.tip.height
        # blocks committed before a crash whose attestations it had not all received yet
        self._unproven = {
            h for h in range(max(1, tip - LATE_HEIGHTS), tip + 1) if not self.node.block_final(h)
        }

    def step(self) -> None:
        """Read what the log holds, take in attestations, and propose if it is our turn."""
        while self._read_log():
            pass
        if self.node.halted:
            return
        self._take_attestations()
        if self.node.halted:
            return
        self._backfill()
        if not self.settings.observer and self._propose():
            return
        self.etcd.wait(self._wait_s())

    def _wait_s(self) -> float:
        if self.settings.observer or not len(self._queue):
            return self.settings.poll_s
        if self._my_turn():
            return max(0.0, self.settings.fill_s - self._queue.oldest_wait_s())
        left = self._free_since + self.settings.turn_grace_s - time.monotonic()
        return max(0.0, min(left, self.settings.poll_s))

    @property
    def _queue(self) -> LocalOrdering:
        ordering = self.node.ordering
        assert isinstance(ordering, LocalOrdering)
        return ordering

    # reading the log -------------------------------------------------------------------------
    def _read_log(self) -> bool:
        entries = self.etcd.entries(self.position)
        if not entries:
            return False
        if entries[0][0] > self.position:
            first = self.etcd.first_position()
            if first is not None and first < self.position:
                # entries before this one are still there, so nothing was pruned: a gap an
                # offer left (an honest node only offers at the end of the log); every
                # node steps over it alike
                self._skip(self.position, "block.missing", "no entry at this position")
                self.position = entries[0][0]
            else:
                self._missed(entries[0][0])
        for position, data in entries:
            if position != self.position:
                break  # pruned under us: the next read starts over
            if not self._take_entry(position, data):
                return False  # wait (a block from the future): read again later
            self.position = position + 1
            self._free_since = time.monotonic()
            if self.node.halted:
                return False
        return True

    def _missed(self, first: int) -> None:
        """The log was pruned past this node: catch up from a peer, then read on from the
        first entry still held."""
        catch_up = self.settings.catch_up
        if catch_up is None:
            raise RuntimeError(
                f"the log was pruned to position {first} past this node's position "
                f"{self.position}, and no peer is configured to catch up from"
            )
        before = self.node.tip.height
        tip = self._caught_up(catch_up)
        log.info("caught up from a peer", extra={"from": before, "to": tip})
        self.position = first

    def _caught_up(self, catch_up: Callable[[Node], int]) -> int:
        """Catch up from a peer, then attest the recent blocks that came that way (the others
        learn this node has them; the attestations already received of them are kept)."""
        before = self.node.tip.height
        tip = catch_up(self.node)
        for height in range(max(before + 1, tip - LATE_HEIGHTS), tip + 1):
            stored = self.node.store.block(height)
            if stored is not None:
                self._attest(height, stored.hash.hex(), _header_root(stored.header))
                if not self.node.block_final(height):
                    self._unproven.add(height)
        self.finality.final_height = max(
            self.finality.final_height, min(self.node.store.final_height(), tip)
        )
        return tip

    def _take_entry(self, position: int, data: bytes) -> bool:
        node = self.node
        try:
            block, raws = decode_block(data)
        except ValueError as exc:
            self._skip(position, "block.malformed_tx", str(exc))
            return True
        header = block.header
        height = header.height
        block_hash = header.hash()
        if height <= node.tip.height:
            stored = node.store.block(height)
            if stored is not None and stored.hash == block_hash:
                self._position_height[position] = height
                self._attest(height, block_hash.hex(), header.state_root)
            else:
                self._refuse(block_hash.hex())  # not on this chain: nor is what builds on it
            return True  # a block we have (ours, or from catch-up), or one that lost
        if height > node.tip.height + 1 and self.settings.catch_up is not None:
            self._caught_up(self.settings.catch_up)  # what it missed (it was down or cut off)
            if height <= node.tip.height:
                return self._take_entry(position, data)
        if header.prev_hash in self._refused:
            # built on a block this node refused: invalid for the same reason
            self._refuse(block_hash.hex())
            self._skip(position, "block.bad_parent", f"built on refused block {header.prev_hash}")
            return True
        if height > node.tip.height + 1:
            if self._signed_by_a_proposer(block):
                # an organisation built on blocks this node lacks and could not fetch: until
                # it has them (or imports a block on its own tip again), a block it proposed
                # would fork off the others' chain, so it proposes nothing
                self.behind_height = max(self.behind_height, height - 1)
            self._skip(position, "block.bad_height", f"height {height} on tip {node.tip.height}")
            return True
        try:
            node.import_block(block, raws)
        except InvalidBlock as exc:
            if exc.code == "block.time_in_future":
                return False
            if exc.code in ("block.bad_state_root", "block.bad_receipt_root"):
                self._disputed[(height, block_hash.hex())] = exc.message
            self._refuse(block_hash.hex())
            self._skip(position, exc.code, exc.message)
            return True
        self._position_height[position] = height
        self.behind_height = 0
        self._attest(height, block_hash.hex(), header.state_root)
        return True

    def _refuse(self, block_hash: str) -> None:
        """Remember a refused block, so blocks built on it are refused too (the latest
        thousand)."""
        self._refused[block_hash] = None
        while len(self._refused) > 1000:
            del self._refused[next(iter(self._refused))]

    def _signed_by_a_proposer(self, block: Block) -> bool:
        """Whether ``block``'s header is signed by its proposer's node key as this node
        knows it (a block from beyond this node's tip cannot be checked further)."""
        view = self.node.state.view
        header = block.header
        if header.proposer not in chain.rules_at(view, self.node.tip.height + 1).proposers:
            return False
        node_key = consortium.node_key_at(view, header.proposer, self.node.tip.height + 1)
        try:
            return node_key is not None and verify(
                node_key, header.signing_bytes(), block.signature
            )
        except Exception:  # a malformed signature is simply not a valid one
            return False

    def _skip(self, position: int, code: str, message: str) -> None:
        log.warning("log entry skipped",
                    extra={"position": position, "code": code, "reason": message})  # fmt: skip
        self.skipped = [*self.skipped[-99:], (position, code, message)]

    # attestations ------------------------------------------------------------------------------
    def _attest(self, height: int, block_hash: str, state_root: str) -> None:
        if self.settings.observer:
            return
        mine = self.finality.by_height.get(height, {}).get(self.org)
        if mine is not None and mine.block_hash == block_hash:
            return
        att = Attestation(self.node.chain_id, height, block_hash, state_root, self.org)
        att.signature = self.key.sign(att.signing_bytes())
        self.etcd.publish(height, self.org, att.encode())
        self._keep([att])

    def _take_attestations(self) -> None:
        # from the lowest height some organisation has not attested yet (late attestations
        # of final blocks are kept too, and tell pruning who has caught up), but no further
        # back than LATE_HEIGHTS below the final height
        fin = self.finality
        proposers = self.node.rules.proposers
        everyone = min((fin.highest_by_org.get(o, 0) for o in proposers), default=0)
        start = max(min(fin.final_height, everyone) + 1, fin.final_height - LATE_HEIGHTS, 1)
        fresh: list[Attestation] = []
        for raw in self.etcd.attestations(start, limit=4096):
            try:
                att = _attestation(raw)
            except msgspec.DecodeError:
                continue
            seen = self.finality.by_height.get(att.height, {}).get(att.org)
            if seen is not None and seen.signature == att.signature:
                continue
            if self.check_attestation(att):
                fresh.append(att)
        if fresh:
            self._keep(fresh)

    def check_attestation(self, att: Attestation) -> bool:
        """Whether ``att`` is for this chain and signed by an organisation allowed to
        propose at its height, with that organisation's node key valid there."""
        return attestation_valid(self.node.state.view, self.node.chain_id, att)

    def _keep(self, atts: list[Attestation]) -> None:
        fin = self.finality
        node = self.node
        touched = set()
        for att in atts:
            fin.by_height.setdefault(att.height, {})[att.org] = att
            fin.highest_by_org[att.org] = max(fin.highest_by_org.get(att.org, 0), att.height)
            touched.add(att.height)
        rows = []
        final = fin.final_height
        for height in sorted(touched):
            if height > node.tip.height:
                continue
            stored = node.store.block(height)
            assert stored is not None
            ours = stored.hash.hex()
            root = _header_root(stored.header)
            n = len(chain.rules_at(node.state.view, height).proposers)
            votes: dict[str, list[str]] = {}
            for org, att in sorted(fin.by_height[height].items()):
                if att.block_hash == ours and att.state_root != root:
                    continue  # contradicts itself: the block's hash covers its state root
                votes.setdefault(att.block_hash, []).append(org)
                if att.block_hash == ours:
                    rows.append((height, org, stored.hash, att.encode()))
            for block_hash, orgs in votes.items():
                if len(orgs) < quorum(n) or block_hash == ours:
                    continue
                self._fork(height, block_hash, ours, orgs)
                return
            if len(votes.get(ours, [])) >= quorum(n):
                final = max(final, height)
        for (height, block_hash), why in sorted(self._disputed.items()):
            orgs = sorted(o for o, a in fin.by_height.get(height, {}).items()
                          if a.block_hash == block_hash)  # fmt: skip
            n = len(chain.rules_at(node.state.view, height).proposers)
            if len(orgs) >= quorum(n):
                self._fork(height, block_hash, "(refused: " + why + ")", orgs)
                return
        if rows or final != fin.final_height:
            node.store.add_attestations(rows, final if final != fin.final_height else None)
            fin.final_height = final
            for h in [h for h in fin.by_height if h < final - LATE_HEIGHTS]:
                del fin.by_height[h]
        for height in touched:
            if height <= node.tip.height:
                if node.block_final(height):
                    self._unproven.discard(height)
                else:
                    self._unproven.add(height)
        self._prune()

    def _backfill(self) -> None:
        """Blocks this node holds without the attestations that show them final (it crashed
        or caught up before they came, and etcd pruned them since) while the quorum has moved
        past them: fetch their attestations from a peer, checked like any (once a second)."""
        fetch = self.settings.fetch_attestations
        now = time.monotonic()
        if fetch is None or not self._unproven or now - self._last_backfill < 1.0:
            return
        self._last_backfill = now
        limit = self.finality.final_height - 2
        for height in sorted(h for h in self._unproven if h <= limit)[:64]:
            fresh = [
                att
                for raw in fetch(height)
                if (att := decode_attestation(raw)) is not None
                and att.height == height
                and self.check_attestation(att)
            ]
            if fresh:
                self._keep(fresh)
            if height in self._unproven and not fresh:
                self._unproven.discard(height)  # no peer has more: stop asking

    def _fork(self, height: int, theirs: str, ours: str, orgs: list[str]) -> None:
        message = (
            f"fork detected at height {height}: {', '.join(orgs)} attested block {theirs}, "
            f"this node has {ours}; it stops committing until an operator looks"
        )
        log.critical(message)
        self.node.halted = message

    # pruning -----------------------------------------------------------------------------------
    def _prune(self) -> None:
        if self.position - self._last_pruned < self.settings.prune_every:
            return
        proposers = chain.rules_at(self.node.state.view, self.node.tip.height + 1).proposers
        everyone = min((self.finality.highest_by_org.get(o, 0) for o in proposers), default=0)
        final = self.finality.final_height
        below = 0
        for position, height in sorted(self._position_height.items()):
            if height <= everyone or (
                height <= final and position < self.position - self.settings.window
            ):
                below = position
        if below <= self._last_pruned:
            return
        keep_height = self._position_height[below]
        # attestations stay a window longer than the entries: a node that reads an entry
        # still finds the others' attestations of it, whatever pruned meanwhile
        self.etcd.prune(below, min(keep_height, final) - self.settings.window)
        for position in [p for p in self._position_height if p < below]:
            del self._position_height[position]
        self._last_pruned = below
        self._prunes += 1
        if self._prunes % self.settings.defragment_every == 0:
            self.etcd.defragment()

    # proposing ---------------------------------------------------------------------------------
    def _my_turn(self) -> bool:
        proposers = self.node.rules.proposers
        return bool(proposers) and proposers[self.position % len(proposers)] == self.org

    def _propose(self) -> bool:
        """Offer a block at the next position if it is time; True if a block was offered."""
        node = self.node
        queue = self._queue
        if not len(queue) or self.org not in node.rules.proposers:
            return False
        if self.behind_height > node.tip.height:
            self._catch_up_now()
            if self.behind_height > node.tip.height:
                return False
            self.behind_height = 0
        if self._my_turn():
            if queue.oldest_wait_s() < self.settings.fill_s and len(queue) < node.block_max_txs:
                return False
        elif time.monotonic() - self._free_since < self.settings.turn_grace_s:
            return False
        # copies of transactions a block from elsewhere already carried (they were sent to
        # several nodes) are settled and left out here
        batch = node.still_pending(queue.take(node.block_max_txs, node.rules.block_max_bytes))
        if not batch:
            return False
        position = self.position
        won = None
        try:
            won = node.produce_block(batch, lambda b, raws: self._offer(position, b, raws))
        finally:
            if won is None:
                # lost the position (or etcd failed): take the winner in, queue the rest again
                try:
                    while self._read_log():
                        pass
                finally:
                    queue.requeue(node.still_pending(batch))
        if won is None:
            self.lost_positions += 1
            return True
        self._position_height[position] = won.height
        self.position = position + 1
        self._free_since = time.monotonic()
        self._attest(won.height, won.hash, won.header.state_root)
        return True

    def _catch_up_now(self) -> None:
        """Try the peers again, at most once a second."""
        catch_up = self.settings.catch_up
        now = time.monotonic()
        if catch_up is None or now - self._last_catch_up < 1.0:
            return
        self._last_catch_up = now
        self._caught_up(catch_up)

    def _offer(self, position: int, block: Block, raws: list[bytes]) -> bool:
        return self.etcd.offer(position, encode_block(block, raws))

    # status ------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "etcd_ok": self.etcd_ok,
            "lost_positions": self.lost_positions,
            "skipped": len(self.skipped),
            "behind_height": self.behind_height or None,
            "observer": self.settings.observer,
        }
