"""The consortium keys file: what a verifier trusts to check block signatures, attestations
and finality at any height (``docs/formats.md`` §6b).

::

    {"format": "gridledger/consortium-keys/v1", "chain_id": "...", "up_to_height": 7,
     "organisations": [{"org": "utility-b",
                        "node_keys": [{"from_height": 3, "node_key": "ed25519:..."}]}],
     "proposers": [{"from_height": 1, "orgs": ["operator"]}, ...]}

* :func:`parse_keys` / :func:`load_keys` read and check one (refusing anything the format
  does not allow, with :class:`~gridledger.sdk.errors.KeysFileError`);
* :func:`export_keys` takes one from a node's API (a node you trust: your own), and
  :func:`keys_from_genesis` derives one from a genesis document (valid as at genesis);
* :meth:`ConsortiumKeys.node_key_at` and :meth:`ConsortiumKeys.proposers_at` answer what a
  verifier asks of it.

The file is a trust anchor, like ``genesis.json``: keys taken from the node whose proofs are
being checked would prove nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from gridledger.contracts.genesis import Genesis, resolved_rules
from gridledger.contracts.registry import ID_RE
from gridledger.core import crypto
from gridledger.core.encoding import INT_MAX
from gridledger.core.errors import GridLedgerError
from gridledger.sdk.errors import KeysFileError

if TYPE_CHECKING:
    from gridledger.sdk.client import Client

KEYS_FORMAT = "gridledger/consortium-keys/v1"
_FIELDS = {"format", "chain_id", "up_to_height", "organisations", "proposers"}


@dataclass(frozen=True)
class NodeKeyPeriod:
    """One node key of an organisation: valid from ``from_height`` until the next one's."""

    from_height: int
    node_key: str


@dataclass(frozen=True)
class ProposerPeriod:
    """The organisations allowed to propose (and whose attestations count) from
    ``from_height`` until the next period's."""

    from_height: int
    orgs: list[str]


@dataclass(frozen=True)
class ConsortiumKeys:
    """A checked consortium keys file.

    Attributes:
        chain_id: the chain it describes.
        up_to_height: the highest height it describes exactly; for later blocks its last
            keys and proposers are assumed unchanged (and results say so).
        node_keys: every organisation's node keys by ``from_height``, ascending.
        proposers: the proposers by ``from_height``, ascending; the first from height 1.
    """

    chain_id: str
    up_to_height: int
    node_keys: dict[str, list[NodeKeyPeriod]] = field(default_factory=dict)
    proposers: list[ProposerPeriod] = field(default_factory=list)

    def node_key_at(self, org: str, height: int) -> str | None:
        """The key that signs ``org``'s block (as proposer) and attestation at ``height``:
        the last with ``from_height <= height``; ``None`` when it had none then."""
        found = None
        for period in self.node_keys.get(org, []):
            if period.from_height > height:
                break
            found = period.node_key
        return found

    def proposers_at(self, height: int) -> list[str]:
        """The organisations allowed to propose at ``height`` (empty below height 1)."""
        found: list[str] = []
        for period in self.proposers:
            if period.from_height > height:
                break
            found = period.orgs
        return list(found)

    def to_json(self) -> dict[str, Any]:
        """The file's JSON object (organisations by id, as exported)."""
        return {
            "format": KEYS_FORMAT,
            "chain_id": self.chain_id,
            "up_to_height": self.up_to_height,
            "organisations": [
                {
                    "org": org,
                    "node_keys": [
                        {"from_height": p.from_height, "node_key": p.node_key} for p in periods
                    ],
                }
                for org, periods in sorted(self.node_keys.items())
            ],
            "proposers": [{"from_height": p.from_height, "orgs": p.orgs} for p in self.proposers],
        }

    def dumps(self) -> str:
        """The file's text: indented JSON, ``format`` first, ending in a line feed."""
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"


# reading ---------------------------------------------------------------------------------------
def _object(value: Any, fields: set[str], what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise KeysFileError(f"{what} must be an object")
    if set(value) != fields:
        missing, extra = sorted(fields - set(value)), sorted(set(value) - fields)
        detail = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"unknown {', '.join(extra)}" if extra else "",
            )
            if part
        )
        raise KeysFileError(f"{what} must have exactly {', '.join(sorted(fields))} ({detail})")
    return value


def _height(value: Any, least: int, what: str) -> int:
    # bool is an int to Python, but JSON's true is no height
    if type(value) is not int or not least <= value <= INT_MAX:
        raise KeysFileError(f"{what} must be an integer from {least} to 2^63-1")
    return value


def _org_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not ID_RE.match(value):
        raise KeysFileError(f"{what} must be an organisation id (a-z, 0-9, '.', '_', '-')")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise KeysFileError(f"{what} must be a non-empty array")
    return value


def _node_keys(value: Any, org: str) -> list[NodeKeyPeriod]:
    periods: list[NodeKeyPeriod] = []
    for i, item in enumerate(_list(value, f"the node_keys of {org}")):
        what = f"node_keys[{i}] of {org}"
        entry = _object(item, {"from_height", "node_key"}, what)
        height = _height(entry["from_height"], 0, f"from_height of {what}")
        key = entry["node_key"]
        try:
            crypto.parse_public_key(key)
        except GridLedgerError:
            raise KeysFileError(f"node_key of {what} is not 'ed25519:<64 hex digits>'") from None
        if periods and height <= periods[-1].from_height:
            raise KeysFileError(f"the node_keys of {org} must have increasing from_height")
        periods.append(NodeKeyPeriod(height, key))
    return periods


def parse_keys(obj: Any) -> ConsortiumKeys:
    """Check a decoded consortium keys file and return it.

    Raises:
        KeysFileError: anything the format does not allow (``docs/formats.md`` §6b).
    """
    doc = _object(obj, _FIELDS, "a consortium keys file")
    if doc["format"] != KEYS_FORMAT:
        raise KeysFileError(f"not a consortium keys file: 'format' must be {KEYS_FORMAT!r}")
    chain_id = doc["chain_id"]
    if not isinstance(chain_id, str) or not chain_id:
        raise KeysFileError("chain_id must be a non-empty string")
    up_to = _height(doc["up_to_height"], 1, "up_to_height")
    node_keys: dict[str, list[NodeKeyPeriod]] = {}
    orgs = doc["organisations"]
    if not isinstance(orgs, list):
        raise KeysFileError("organisations must be an array")
    for i, item in enumerate(orgs):
        entry = _object(item, {"org", "node_keys"}, f"organisations[{i}]")
        org = _org_id(entry["org"], f"organisations[{i}].org")
        if org in node_keys:
            raise KeysFileError(f"organisation {org} is listed twice")
        node_keys[org] = _node_keys(entry["node_keys"], org)
    keys = ConsortiumKeys(chain_id, up_to, node_keys)
    for i, item in enumerate(_list(doc["proposers"], "proposers")):
        what = f"proposers[{i}]"
        entry = _object(item, {"from_height", "orgs"}, what)
        height = _height(entry["from_height"], 1, f"from_height of {what}")
        if i == 0 and height != 1:
            raise KeysFileError("the first proposers entry must be from height 1")
        if keys.proposers and height <= keys.proposers[-1].from_height:
            raise KeysFileError("proposers must have increasing from_height")
        members = [_org_id(o, f"an org of {what}") for o in _list(entry["orgs"], f"{what}.orgs")]
        if len(set(members)) != len(members):
            raise KeysFileError(f"{what} lists an organisation twice")
        for org in members:
            if keys.node_key_at(org, height) is None:
                raise KeysFileError(f"{org} of {what} has no node key at height {height}")
        keys.proposers.append(ProposerPeriod(height, members))
    return keys


def load_keys(source: str | bytes | Path) -> ConsortiumKeys:
    """Read and check a consortium keys file: a path, or the file's text or bytes.

    Raises:
        KeysFileError: the file cannot be read, is not JSON, or breaks the format.
    """
    if isinstance(source, Path):
        try:
            source = source.read_bytes()
        except OSError as exc:
            raise KeysFileError(f"cannot read the keys file: {exc.strerror or exc}") from None
    try:
        obj = msgspec.json.decode(source)
    except msgspec.DecodeError as exc:
        raise KeysFileError(f"the keys file is not JSON: {exc}") from None
    return parse_keys(obj)


def as_keys(keys: ConsortiumKeys | Mapping[str, Any]) -> ConsortiumKeys:
    """``keys`` itself, or the decoded file it is checked and read as."""
    return keys if isinstance(keys, ConsortiumKeys) else parse_keys(keys)


# making one ------------------------------------------------------------------------------------
def build_keys(
    chain_id: str,
    up_to_height: int,
    histories: Iterable[Mapping[str, Any]],
    proposers_at: Callable[[int], list[str]],
    change_heights: Iterable[int],
) -> ConsortiumKeys:
    """The keys file of a chain as a state (after block ``up_to_height - 1``) knows it.

    Args:
        chain_id: the chain.
        up_to_height: the exporting state's tip + 1: the state after block ``T`` fixes node
            keys and proposers for every height up to ``T + 1``.
        histories: every organisation's key history, ``{"org", "keys": [{"from_height",
            "node_key"}]}`` (``GET /v1/consortium/node-keys``).
        proposers_at: the rules' proposers at a height (``GET /v1/chain/rules?height=``).
        change_heights: heights where the rules may change (every upgrade's); those above
            ``up_to_height`` are left out, as they may still be cancelled.

    Raises:
        KeysFileError: the parts do not make a valid file (a node answering nonsense).
    """
    organisations = []
    for history in histories:
        periods = [p for p in history["keys"] if p["from_height"] <= up_to_height]
        if periods:
            organisations.append({"org": history["org"], "node_keys": periods})
    proposers: list[dict[str, Any]] = []
    for height in sorted({1, *(h for h in change_heights if 1 <= h <= up_to_height)}):
        orgs = sorted(proposers_at(height))
        if not proposers or proposers[-1]["orgs"] != orgs:
            proposers.append({"from_height": height, "orgs": orgs})
    return parse_keys(
        {
            "format": KEYS_FORMAT,
            "chain_id": chain_id,
            "up_to_height": up_to_height,
            "organisations": sorted(organisations, key=lambda o: str(o["org"])),
            "proposers": proposers,
        }
    )


def keys_from_genesis(genesis: Genesis) -> ConsortiumKeys:
    """The keys file a genesis document alone gives: the genesis organisations' node keys
    from height 0 and the genesis rules' proposers from height 1, exact up to height 1 (any
    rotation or membership change takes effect at height 2 or later)."""
    return build_keys(
        genesis.chain_id,
        1,
        [
            {"org": o.id, "keys": [{"from_height": 0, "node_key": o.node_key}]}
            for o in genesis.organisations
            if o.node_key
        ],
        lambda _height: resolved_rules(genesis).proposers,
        [],
    )


def export_keys(client: Client) -> ConsortiumKeys:
    """The consortium keys file of the chain ``client``'s node serves, as its committed state
    knows it (``up_to_height`` = its tip + 1 when asked).

    Trust the result only as far as the node: export from your own organisation's node.

    Raises:
        KeysFileError: the node's answers do not make a valid file.
        SdkError: the node could not be asked.
    """
    first = client.rules()
    up_to = int(first["height"])  # the next block's height: the tip + 1
    upgrades = [int(u["height"]) for u in first.get("upgrades", [])]
    histories = client.node_keys()

    def proposers_at(height: int) -> list[str]:
        found = first if height == up_to else client.rules(height)
        return list(found["rules"]["proposers"])

    return build_keys(client.chain_id, up_to, histories, proposers_at, upgrades)
