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

from gridledger.contracts import metering, registry
from gridledger.contracts.chain import Quota, Upgrade
from gridledger.contracts.rules import Rules

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
def model_of(record: type[msgspec.Struct]) -> type[BaseModel]:
    """The pydantic model of a contract's record type, as the API sends it: an object with the
    record's fields (``array_like`` records included), named after the record, each field
    described by the record's ``Attributes:`` docstring."""
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
    model: type[BaseModel] = create_model(
        record.__name__,
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


class Accepted(_Strict):
    hash: str = Field(pattern=HEX64, description="The transaction hash (SHA-256, hex).")


class Committed(_Strict):
    hash: str = Field(pattern=HEX64)
    height: int
    index: int = Field(description="Position of the transaction in its block.")
    receipt: Receipt


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


class HeaderView(_Strict):
    height: int
    hash: str = Field(pattern=HEX64)
    header: BlockHeader
    signature: str = Field(description="The proposer's signature of the header ('' at genesis).")


class BlockSummary(HeaderView):
    tx_count: int


class BlockTx(_Strict):
    hash: str = Field(pattern=HEX64)
    index: int
    tx: TransactionIn
    receipt: Receipt


class BlockView(BlockSummary):
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


class StateProofView(_Strict):
    key: str
    value_hex: str | None = Field(description="The committed value, hex; null when absent.")
    value: Any
    height: int
    block_hash: str = Field(pattern=HEX64)
    header: BlockHeader
    signature: str
    proof: StateProofLevels


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
Mechanism = Literal["pay_as_clear", "pay_as_bid", "preferred_first"]


class MarketParams(_Strict):
    """``market/params``: the operator's rules (the defaults until it sets them)."""

    interval_s: int = Field(description="Length of a market interval: 900, 3600 or 86400 s.")
    mechanism: Mechanism
    gate_closure_s: int = Field(description="Orders close this many seconds before the start.")
    horizon_s: int = Field(description="Orders may be placed this many seconds ahead.")
    data_deadline_s: int = Field(
        description="After an interval ends, settlement waits this long for missing meter data."
    )


class MarketTariffs(_Strict):
    """``market/tariffs``: the grid as market maker, set by a grid operator."""

    grid_account: str = Field(description="The grid operator account that buys and sells.")
    sell_price: int = Field(description="What the grid charges, minor units per kWh.")
    feed_in_price: int = Field(description="What the grid pays for energy fed in, per kWh.")
    height: int = Field(description="The block that set them.")


class IntervalTariffs(_Strict):
    grid_account: str
    sell_price: int = Field(description="Minor currency units per kWh.")
    feed_in_price: int = Field(description="Minor currency units per kWh.")


class IntervalSettlement(_Strict):
    """What settling an interval against its meter data moved (Wh and minor units)."""

    consumption_wh: int
    generation_wh: int
    delivered_wh: int = Field(description="Clean energy delivered through pairings.")
    grid_import_wh: int
    grid_export_wh: int
    clean_paid: int = Field(description="Paid by consumers to producers for deliveries.")
    grid_paid: int = Field(description="Paid to the grid for imports (due, paid or not).")
    feed_in_paid: int = Field(description="Paid by the grid for exports (due, paid or not).")
    unpaid: int = Field(description="What balances could not cover (now arrears).")


class MarketInterval(_Strict):
    """``market/interval/<start>``; the clearing fields appear once cleared, the settlement
    fields once settled."""

    start: int = Field(description="Interval start, Unix seconds UTC.")
    interval_s: int
    status: Literal["open", "cleared", "settled"]
    mechanism: Mechanism | None = None
    bids: int | None = Field(default=None, description="Bids cleared (standing ones included).")
    offers: int | None = None
    demand_wh: int | None = None
    supply_wh: int | None = None
    volume_wh: int | None = Field(default=None, description="Energy paired, Wh.")
    clearing_price: int | None = Field(
        default=None, description="The auction's uniform price per kWh; null: none matched."
    )
    pairings: int | None = Field(default=None, description="Number of pairings.")
    cleared_at: int | None = Field(default=None, description="Block time of clearing, Unix s.")
    cleared_height: int | None = None
    tariffs: IntervalTariffs | None = Field(
        default=None, description="The grid tariffs at clearing, which settlement applies."
    )
    settled_at: int | None = None
    settled_height: int | None = None
    missing_data: list[str] | None = Field(
        default=None, description="Meter data still missing when the deadline let it settle."
    )
    settlement: IntervalSettlement | None = None


class IntervalPage(_Strict):
    intervals: list[MarketInterval] = Field(description="Oldest first.")
    next: int | None = Field(description="The `from` of the next page; null after the last.")


class MarketOrder(_Strict):
    """``market/order/<start>/<seq>``: a bid (for a site) or an offer (of a device)."""

    seq: int = Field(description="Order number, unique on the chain; time priority.")
    side: Literal["bid", "offer"]
    account: str
    asset: str = Field(description="The bid's site or the offer's device.")
    interval: int
    qty_wh: int
    price: int = Field(description="Bid: the most it pays; offer: the least it takes (per kWh).")
    preferred: list[str] = Field(description="A bid's preferred plants, first choice first.")
    escrow: int = Field(
        description="Minor units a bid locked when placed (0 for offers), held until settlement."
    )
    meters: list[tuple[str, int]] = Field(
        description="The asset's meters at placement, `[meter id, interval_s]`; settlement "
        "reads these."
    )
    source: Literal["single", "standing"]
    height: int


class OrderBook(_Strict):
    interval: MarketInterval
    bids: list[MarketOrder] = Field(description="Highest price first, then oldest first.")
    offers: list[MarketOrder] = Field(description="Lowest price first, then oldest first.")
    bid_count: int = Field(description="Every bid of the interval (the list holds `depth`).")
    offer_count: int


class MarketPairing(_Strict):
    """``market/pairing/<start>/<n>``: a bid matched with an offer for some Wh at a price."""

    id: str = Field(description="`<start>-<n>`, the same for both parties.")
    interval: int
    bid: int = Field(description="The bid's order number.")
    offer: int
    consumer: str
    site: str
    producer: str
    device: str
    wh: int = Field(description="Energy paired at clearing, Wh.")
    price: int = Field(description="Minor currency units per kWh.")
    stage: Literal["preferred", "auction"]
    delivered_wh: int | None = Field(
        description="Energy delivered per the meters; null until settled."
    )
    amount: int | None = Field(
        description="What the consumer paid, minor units; null until settled."
    )


class IntervalPairings(_Strict):
    interval: int
    status: Literal["open", "cleared", "settled"]
    pairings: list[MarketPairing] = Field(description="In clearing order.")
    next: str | None = Field(description="The `after` of the next page; null after the last.")


class AccountPairings(_Strict):
    account: str
    pairings: list[MarketPairing] = Field(
        description="Oldest interval first, as consumer or producer."
    )
    next: int | None = Field(description="The `from` of the next page; null after the last.")


class GridSettlement(_Strict):
    """``market/grid/<start>/<direction>/<asset>``: what a site bought from or a device sold
    to the grid."""

    asset: str = Field(description="The site (import) or device (export).")
    account: str
    direction: Literal["import", "export"]
    wh: int
    amount: int = Field(description="Minor units due at the interval's tariffs.")
    unpaid: int = Field(description="The part the payer's balance could not cover (arrears).")


class GridSettlements(_Strict):
    interval: int
    status: Literal["open", "cleared", "settled"]
    settlements: list[GridSettlement] = Field(description="By asset id; empty until settled.")


class MarketStats(_Strict):
    """An account's settled totals (``market/stats/<account>``), zeros before any settlement."""

    account: str
    consumed_wh: int
    clean_wh: int = Field(description="Consumed energy delivered by pairings, Wh.")
    grid_import_wh: int
    clean_paid: int = Field(description="Paid for clean deliveries, minor units.")
    grid_paid: int
    generated_wh: int
    sold_wh: int = Field(description="Generated energy delivered to pairings, Wh.")
    exported_wh: int
    clean_revenue: int
    feed_in_revenue: int
    clean_share_permille: int = Field(description="clean_wh per 1000 Wh consumed, rounded down.")
    clean_share: str = Field(description='The same as a decimal fraction, e.g. "0.714".')


class PlantBuyer(_Strict):
    consumer: str
    wh: int = Field(description="Delivered to this consumer, Wh.")
    amount: int = Field(description="Paid by this consumer, minor units.")


class PlantStats(_Strict):
    """A plant's settled totals (``market/plant/<device>``) and its buyers."""

    device: str
    generated_wh: int
    sold_wh: int
    exported_wh: int
    clean_revenue: int
    feed_in_revenue: int
    buyers: list[PlantBuyer] = Field(description="By consumer account id.")


class MarketPreference(_Strict):
    """``market/preference/<account>/<site>``: a consumer's standing choice for a site."""

    account: str
    site: str
    choice: Literal["clean", "grid"]
    price_cap: int | None = Field(description="Per kWh; null: the grid's selling price.")
    preferred: list[str]
    quantity_wh: int | None = Field(description="Per interval; null: the site's ceiling.")
    height: int
    since: int = Field(description="Block time it was set, Unix seconds.")


class MarketPreferences(_Strict):
    account: str
    preferences: list[MarketPreference] = Field(description="By site id.")


class StandingOffer(_Strict):
    """``market/standing_offer/<device>``: a plant offered every interval."""

    account: str
    device: str
    floor_price: int = Field(description="Minor currency units per kWh.")
    quantity_wh: int | None = Field(description="Per interval; null: nameplate output.")
    height: int
    since: int = Field(
        description="Block time it was set (Unix s); it counts for intervals whose gate "
        "closure comes later."
    )


class StandingOffers(_Strict):
    standing_offers: list[StandingOffer] = Field(description="By device id.")


class Arrear(_Strict):
    creditor: str
    amount: int = Field(description="Minor units owed.")


class Arrears(_Strict):
    account: str
    arrears: list[Arrear] = Field(description="By creditor account id.")
    total: int


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Invalid request or transaction"},
    404: {"model": ErrorResponse, "description": "No such record"},
    503: {"model": ErrorResponse, "description": "The node cannot take work now"},
}
