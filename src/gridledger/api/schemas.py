"""Response and request shapes, for the OpenAPI document and for checking responses in tests.

Endpoints encode their responses directly (see :mod:`gridledger.api.render`); these models
describe what they send. ``docs/formats.md`` defines the records inside (transactions,
receipts, headers) byte for byte. The contracts' stored records are not restated here: their
models are derived from the records' own types by :func:`model_of`, so a field added to a
record appears in the API's schema by itself.
"""

from __future__ import annotations

import inspect
from functools import cache
from typing import Annotated, Any, Literal

import msgspec
from msgspec import inspect as mi
from pydantic import BaseModel, ConfigDict, Field, create_model

from gridledger.contracts import market, metering, registry
from gridledger.contracts.chain import Quota, Upgrade
from gridledger.contracts.rules import Rules
from gridledger.readmodels import market as totals

HEX64 = r"^[0-9a-f]{64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _annotation(t: mi.Type) -> Any:
    """The Python annotation (with pydantic constraints) of a msgspec type description."""
    match t:
        case mi.Metadata():
            inner = _annotation(t.type)
            extra = t.extra_json_schema or {}
            if "description" in extra:
                return Annotated[inner, Field(description=extra["description"])]
            return inner
        case mi.IntType():
            return Annotated[int, Field(ge=t.ge, le=t.le, gt=t.gt, lt=t.lt)]
        case mi.StrType():
            return Annotated[
                str, Field(min_length=t.min_length, max_length=t.max_length, pattern=t.pattern)
            ]
        case mi.BoolType():
            return bool
        case mi.NoneType():
            return None
        case mi.LiteralType():
            return Literal[t.values]
        case mi.ListType():
            return list[_annotation(t.item_type)]  # type: ignore[misc]
        case mi.DictType():
            return dict[_annotation(t.key_type), _annotation(t.value_type)]  # type: ignore[misc]
        case mi.UnionType():
            args = tuple(_annotation(x) for x in t.types)
            union: Any = args[0]
            for a in args[1:]:
                union = union | a
            return union
        case mi.StructType():
            return model_of(t.cls)
        case _:
            return Any


def field_docs(doc: str | None) -> tuple[str, dict[str, str]]:
    """A Google-style docstring split into its summary and its ``Attributes:`` entries."""
    lines = inspect.cleandoc(doc or "").splitlines()
    summary: list[str] = []
    fields: dict[str, str] = {}
    current: str | None = None
    in_attrs = False
    for line in lines:
        text = line.strip()
        if text == "Attributes:":
            in_attrs = True
            continue
        if not in_attrs:
            summary.append(text)
            continue
        name, sep, rest = text.partition(": ")
        if (
            sep
            and name.isidentifier()
            and line.startswith(" " * 4)
            and not line.startswith(" " * 8)
        ):
            current = name
            fields[name] = rest.strip()
        elif current is not None and text:
            fields[current] += " " + text
    return "\n".join(summary).strip(), fields


@cache
def model_of(record: type[msgspec.Struct], name: str | None = None) -> type[BaseModel]:
    """The pydantic model of a contract's record type, as the API sends it: an object with the
    record's fields (``array_like`` records included), named after the record (or ``name``,
    where the record's own name says too little in the API's schema list, as ``Params``
    does), each field described by the record's ``Attributes:`` docstring."""
    info = mi.type_info(record)
    assert isinstance(info, mi.StructType)
    summary = field_docs(record.__doc__)[0]
    docs: dict[str, str] = {}
    # a record that extends another documents only its own fields
    for cls in reversed(record.__mro__):
        if issubclass(cls, msgspec.Struct):
            docs.update(field_docs(cls.__doc__)[1])
    fields: dict[str, Any] = {}
    for f in info.fields:
        annotation = _annotation(f.type)
        if f.name in docs:
            annotation = Annotated[annotation, Field(description=docs[f.name])]
        fields[f.encode_name] = (annotation, ... if f.required else _default(f))
    if info.tag_field is not None:  # a tagged union's member names its type
        fields[info.tag_field] = (Literal[info.tag], ...)
    model: type[BaseModel] = create_model(
        name or record.__name__,
        __config__=ConfigDict(extra="forbid"),
        __doc__=summary or None,
        **fields,
    )
    return model


def extend(record: type[msgspec.Struct], name: str, doc: str, **fields: Any) -> type[BaseModel]:
    """A response that adds ``fields`` (``(annotation, Field(...))`` pairs) to a record's
    model: the record's own fields stay documented by the record alone."""
    model: type[BaseModel] = create_model(name, __base__=model_of(record), __doc__=doc, **fields)
    return model


def page_model(
    name: str, items: str, item: type[BaseModel], next_: Any, doc: str
) -> type[BaseModel]:
    """A page of ``item`` models under the key ``items``, with the ``next`` of the page."""
    fields: dict[str, Any] = {
        items: (list[item], ...),  # type: ignore[valid-type]
        "next": (next_, Field(description=_NEXT[next_])),
    }
    model: type[BaseModel] = create_model(
        name, __config__=ConfigDict(extra="forbid"), __doc__=doc, **fields
    )
    return model


_NEXT: dict[Any, str] = {
    str | None: "The `after` of the next page; null after the last.",
    int | None: "The `from` of the next page; null after the last.",
}


def _default(f: mi.Field) -> Any:
    if f.default_factory is not msgspec.NODEFAULT:
        return Field(default_factory=f.default_factory)
    return f.default


class ErrorDetail(_Strict):
    code: str = Field(description="Stable, dotted error code; branch on this.")
    message: str = Field(description="What went wrong and what to do, for people.")


class ErrorResponse(_Strict):
    error: ErrorDetail


class TransactionIn(_Strict):
    """A signed transaction, as submitted (``docs/formats.md``)."""

    chain_id: str
    kind: str = Field(description='"<contract>.<action>", e.g. "funds.transfer"')
    sender: str
    nonce: int = Field(ge=0, description="Any integer above the sender's last used nonce.")
    body: dict[str, Any] = Field(description="The action's parameters; integers only.")
    signature: str = Field(description='"ed25519:<hex>" over the signing bytes')


class Receipt(_Strict):
    tx_hash: str = Field(pattern=HEX64)
    status: Literal["ok", "failed"]
    code: str | None
    message: str | None
    events: list[dict[str, Any]]


class BlockHeader(_Strict):
    chain_id: str
    height: int
    prev_hash: str = Field(pattern=HEX64)
    time: int = Field(description="Milliseconds since the Unix epoch (UTC).")
    tx_root: str = Field(pattern=HEX64)
    receipt_root: str = Field(pattern=HEX64)
    state_root: str = Field(pattern=HEX64)
    proposer: str
    tx_count: int


class Attestation(_Strict):
    chain_id: str
    height: int
    block_hash: str = Field(pattern=HEX64)
    state_root: str = Field(pattern=HEX64)
    org: str
    signature: str = Field(
        description="ed25519 by the organisation's node key over the domain tag "
        "'gridledger/attestation/v1\\n' and the canonical attestation without signature."
    )


FINAL = (
    "Whether the block is final: more than two thirds of the organisations allowed to "
    "propose at its height attested its hash (always true on a one-organisation chain)."
)
ATTESTATIONS = "The organisations' attestations of the block kept by this node, by org."


class Accepted(_Strict):
    hash: str = Field(pattern=HEX64, description="The transaction hash (SHA-256, hex).")


class Committed(_Strict):
    hash: str = Field(pattern=HEX64)
    height: int
    index: int = Field(description="Position of the transaction in its block.")
    receipt: Receipt
    final: bool = Field(default=True, description=FINAL)


class BatchItem(_Strict):
    hash: str | None = Field(default=None, pattern=HEX64)
    error: ErrorDetail | None = None


class TxView(_Strict):
    hash: str = Field(pattern=HEX64)
    height: int
    index: int
    block_hash: str = Field(pattern=HEX64)
    tx: TransactionIn
    receipt: Receipt


class TxProof(_Strict):
    hash: str = Field(pattern=HEX64)
    height: int
    index: int
    tree_size: int
    audit_path: list[str] = Field(description="RFC 6962 audit path, bottom-up, hex.")
    tx: TransactionIn
    tx_hex: str = Field(description="The canonical transaction bytes (the Merkle leaf), hex.")
    block_hash: str = Field(pattern=HEX64)
    header: BlockHeader
    signature: str
    final: bool = Field(default=True, description=FINAL)
    attestations: list[Attestation] = Field(default_factory=list, description=ATTESTATIONS)


class BlockSummary(_Strict):
    height: int
    hash: str = Field(pattern=HEX64)
    header: BlockHeader
    signature: str = Field(description="The proposer's signature of the header ('' at genesis).")
    final: bool = Field(default=True, description=FINAL)
    tx_count: int


class HeaderView(_Strict):
    height: int
    hash: str = Field(pattern=HEX64)
    header: BlockHeader
    signature: str = Field(description="The proposer's signature of the header ('' at genesis).")
    final: bool = Field(default=True, description=FINAL)
    attestations: list[Attestation] = Field(default_factory=list, description=ATTESTATIONS)


class BlockTx(_Strict):
    hash: str = Field(pattern=HEX64)
    index: int
    tx: TransactionIn
    receipt: Receipt


class BlockView(HeaderView):
    tx_count: int
    txs: list[BlockTx]


class BlockPage(_Strict):
    blocks: list[BlockSummary]
    next: int | None = Field(description="The `from` of the next page; null after the last.")


class StateValue(_Strict):
    key: str
    value_hex: str
    value: Any = Field(description="The value decoded as JSON, or null when it is not JSON.")
    json_value: bool = Field(description="Whether the value is JSON (and `value` holds it).")


class StateProofLevels(_Strict):
    levels: list[list[str | None]]
    terminal: dict[str, str] | None


class LogEntryProof(_Strict):
    """Where a key of the readings log sits (``docs/formats.md`` §5a): the block that appended
    it, its index among that block's entries in key order, their count, the RFC 6962 audit
    path to the block's log root, and the block's seal (``seal_key`` = ``seal``, which
    ``proof`` proves against the header's state root)."""

    height: int
    index: int
    count: int
    audit_path: list[str]
    seal_key: str
    seal_hex: str


class StateProofView(_Strict):
    key: str
    value_hex: str | None = Field(description="The committed value, hex; null when absent.")
    value: Any
    height: int
    block_hash: str = Field(pattern=HEX64)
    header: BlockHeader
    signature: str
    proof: StateProofLevels = Field(
        description="The state proof of ``key``, or with ``log`` of its block's seal."
    )
    log: LogEntryProof | None = Field(
        default=None,
        description="Present for a key of the readings log: ``proof`` then proves the seal.",
    )
    final: bool = Field(default=True, description=FINAL)
    attestations: list[Attestation] = Field(default_factory=list, description=ATTESTATIONS)


Organisation = model_of(registry.Organisation)

Account = extend(
    registry.Account,
    "AccountView",
    "An account's registry record with its balance and nonces.",
    balance=(int, Field(description="Settlement balance in minor currency units.")),
    nonce=(int, Field(description="The last nonce used in a committed transaction.")),
    next_nonce=(int, Field(description="The smallest nonce the account can use next.")),
)

AccountPage = page_model(
    "AccountPage", "accounts", model_of(registry.Account), str | None, "Accounts in id order."
)


class Organisations(_Strict):
    organisations: list[Organisation]  # type: ignore[valid-type]


class Status(BaseModel):
    """The node's own status record; a node may report more fields than these."""

    chain_id: str
    height: int
    tip_hash: str
    tip_time: int
    state_root: str
    pending: int
    org: str
    genesis_hash: str
    halted: str | None
    final_height: int = Field(description="The highest final block (the tip when embedded).")
    oldest_provable_height: int = Field(
        default=0,
        description="The lowest height whose state this node proves (``?height=`` on proof "
        "endpoints): 0 on an archive node, the start of its kept window on a pruned one.",
    )
    prune_keep: int | None = Field(
        default=None, description="Heights a pruned node keeps; null on an archive node."
    )
    time_zone: str = Field(
        default="UTC",
        description="The IANA time zone the chain's genesis names for people (pages, charts, "
        "summaries show days and hours in it); every time in the API stays Unix UTC.",
    )
    network: dict[str, Any] | None = Field(
        default=None,
        description="In a consortium network: this node's place in the ordering log (position), "
        "whether etcd answers, positions lost to other proposers, log entries skipped, and "
        "whether it only observes.",
    )


class Health(_Strict):
    ok: bool
    height: int


class ChainRules(_Strict):
    height: int = Field(description="The height these rules are in force at.")
    rules: model_of(Rules)  # type: ignore[valid-type]
    upgrades: list[model_of(Upgrade)] = Field(  # type: ignore[valid-type]
        description="Every upgrade scheduled on the chain, by height (past ones included)."
    )
    quotas: list[model_of(Quota)] = Field(  # type: ignore[valid-type]
        description="Admission quotas by role (`any`: every account); none means unlimited."
    )


class BlockEvent(_Strict):
    """One ``block`` event of ``GET /v1/events`` (the SSE ``data`` line, as JSON)."""

    height: int
    hash: str = Field(pattern=HEX64)
    time: int
    tx_count: int
    txs: list[dict[str, str]]


# registry of assets and meter data ---------------------------------------------------------
_METERS = (list[str], Field(description="Ids of the meters bound to it, in id order."))

Device = extend(
    registry.Device, "DeviceView", "A generation plant and the meters bound to it.", meters=_METERS
)
Site = extend(
    registry.Site, "SiteView", "A consumption point and the meters bound to it.", meters=_METERS
)
Meter = model_of(registry.Meter)
DevicePage = page_model("DevicePage", "devices", Device, str | None, "Devices in id order.")
SitePage = page_model("SitePage", "sites", Site, str | None, "Sites in id order.")
MeterPage = page_model("MeterPage", "meters", Meter, str | None, "Meters in id order.")

Correction = model_of(metering.Correction)
MeterReading = model_of(metering.MeterReading)
TotalsBucket = model_of(metering.TotalsBucket)


class ReadingPage(_Strict):
    meter: str | None = None
    device: str | None = None
    site: str | None = None
    meters: list[str]
    readings: list[MeterReading] = Field(  # type: ignore[valid-type]
        description="Oldest first (then by meter id)."
    )
    next: int | None = Field(description=_NEXT[int | None])


class Totals(_Strict):
    meters: list[str]
    from_: int = Field(alias="from")
    to: int
    interval_s: int
    totals: list[TotalsBucket] = Field(  # type: ignore[valid-type]
        description="Buckets holding readings, oldest first."
    )
    energy_wh: int = Field(description="Sum over every bucket (corrections applied).")


class ReadingProof(StateProofView):
    """The state proof of a reading's key (value null: no reading)."""

    meter: str
    start_s: int = Field(description="Interval start, Unix seconds UTC.")


# the clean-power market ----------------------------------------------------------------------
MarketParams = model_of(market.Params, "MarketParams")
MarketTariffs = model_of(market.Tariffs, "MarketTariffs")
MarketInterval = model_of(market.Interval, "MarketInterval")
MarketOrder = model_of(market.Order, "MarketOrder")
MarketPairing = model_of(market.Pairing, "MarketPairing")
GridSettlement = model_of(market.GridSettlement)
MarketPreference = model_of(market.Preference, "MarketPreference")
StandingOffer = model_of(market.StandingOffer)
Arrear = model_of(market.Arrear)

IntervalPage = page_model(
    "IntervalPage", "intervals", MarketInterval, int | None, "Interval records, oldest first."
)


class OrderBook(_Strict):
    interval: MarketInterval  # type: ignore[valid-type]
    bids: list[MarketOrder] = Field(  # type: ignore[valid-type]
        description="Highest price first, then oldest first."
    )
    offers: list[MarketOrder] = Field(  # type: ignore[valid-type]
        description="Lowest price first, then oldest first."
    )
    bid_count: int = Field(description="Every bid of the interval (the list holds `depth`).")
    offer_count: int


class IntervalPairings(_Strict):
    interval: int = Field(description="Interval start, Unix seconds UTC.")
    status: Literal["open", "cleared", "settled"]
    pairings: list[MarketPairing] = Field(  # type: ignore[valid-type]
        description="In clearing order."
    )
    next: str | None = Field(description=_NEXT[str | None])


class AccountPairings(_Strict):
    account: str
    pairings: list[MarketPairing] = Field(  # type: ignore[valid-type]
        description="Oldest interval first, as consumer or producer."
    )
    next: int | None = Field(description=_NEXT[int | None])


class GridSettlements(_Strict):
    interval: int = Field(description="Interval start, Unix seconds UTC.")
    status: Literal["open", "cleared", "settled"]
    settlements: list[GridSettlement] = Field(  # type: ignore[valid-type]
        description="Exports, then imports, by asset id; empty until settled."
    )


MarketStats = extend(
    totals.AccountTotals,
    "MarketStats",
    "An account's settled market totals (the market's read model), zeros before any settlement.",
    clean_share=(str, Field(description='clean_share_permille as a decimal fraction, "0.714".')),
)
PlantStats = model_of(totals.PlantTotals, "PlantStats")


class MarketPreferences(_Strict):
    account: str
    preferences: list[MarketPreference] = Field(  # type: ignore[valid-type]
        description="By site id."
    )


class StandingOffers(_Strict):
    standing_offers: list[StandingOffer] = Field(  # type: ignore[valid-type]
        description="By device id."
    )


class Arrears(_Strict):
    account: str
    arrears: list[Arrear] = Field(description="By creditor account id.")  # type: ignore[valid-type]
    total_fen: int = Field(description="Owed to every creditor together, fen.")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Invalid request or transaction"},
    404: {"model": ErrorResponse, "description": "No such record"},
    503: {"model": ErrorResponse, "description": "The node cannot take work now"},
}


# the operator's endpoints (custody members' sign-in; api/routes/operator.py) -----------------
class MemberLogin(_Strict):
    """How a custodial account's member signs in."""

    account: str
    passkeys: int = Field(description="Passkeys registered.")
    password: bool = Field(description="Whether a password (Argon2id hash) is set.")
    enrolment_expires_s: int | None = Field(
        description="When the pending enrolment link expires, Unix seconds; null: none pending."
    )
    enrolment_password: bool = Field(description="Whether the pending link allows a password.")
    state: Literal["enrolled", "pending", "none"] = Field(
        description="enrolled: can sign in; pending: an enrolment link waits; none."
    )


class MemberPage(_Strict):
    members: list[MemberLogin] = Field(description="Custodial accounts by id.")
    next: str | None = Field(description="The `after` of the next page; null after the last.")


class EnrolmentIn(_Strict):
    """What an enrolment link allows."""

    password: bool = Field(
        False, description="Let the member set a password (volunteers) as well as a passkey."
    )
    hours: int = Field(72, ge=1, le=720, description="How long the link stays valid.")


class EnrolmentOut(_Strict):
    """A one-time enrolment link: shown once, only its hash is kept."""

    account: str
    code: str
    link: str = Field(description="The page where the member registers, with the code.")
    expires_s: int = Field(description="Unix seconds.")
    password: bool
    reset: bool = Field(description="Whether the member's credentials were removed first.")
