"""Products' stored records.

Units: quantities in the product type's unit (``g``, ``kg`` or ``unit``: pieces), masses in
grams (``_g`` on a mass, ``mass_g``), emissions in grams of the footprint's gas (CO2 or
CO2e, ``_g``), energy in Wh, shares in parts per million (``_ppm``), times in Unix seconds
UTC (``_s``). GTINs are 14 digits; lots and serials 1-20 of ``A-Z a-z 0-9 . _ -``.
"""

from __future__ import annotations

from typing import Literal

from gridledger.contracts.base import Record

Unit = Literal["g", "kg", "unit"]
BatchStatus = Literal["in_production", "completed"]
ShipmentStatus = Literal["in_transit", "received", "refused"]
ItemStatus = Literal["held", "in_transit", "installed", "scrapped"]
EventType = Literal["registered", "shipped", "received", "returned", "installed", "scrapped",
                    "recalled"]  # fmt: skip
Quality = Literal["measured", "default"]
Basis = Literal["mass", "units"]


class ProductType(Record, omit_defaults=True):
    """A product a manufacturer makes (``products/type/<gtin>``).

    Attributes:
        gtin: Its GTIN, 14 digits.
        name: Display name.
        org: The manufacturer: the organisation that registered it.
        unit: The unit its batches are counted in: g, kg or unit (pieces).
        unit_mass_g: Grams per unit (1 for g, 1,000 for kg; declared for pieces).
        cn_code: Its goods category in the EU Combined Nomenclature (8 digits), for CBAM
            reports; absent when none applies.
        registered_by: The account that registered it.
        height: The block that registered it.
    """

    gtin: str
    name: str
    org: str
    unit: Unit
    unit_mass_g: int
    registered_by: str
    height: int
    cn_code: str | None = None


class Batch(Record, omit_defaults=True):
    """A production batch (``products/batch/<gtin>/<lot>``).

    Attributes:
        gtin: The product type.
        lot: Its batch/lot number (GS1 AI 10).
        org: The manufacturer.
        site: The registered site it is made at (whose metered energy it uses).
        status: in_production, then completed.
        started_s: Block time it was registered: the production period's start.
        quantity: How much was made, in the type's unit (0 until completed).
        consumed: How much of it other batches consumed so far.
        scrapped: How much of it was scrapped so far.
        shipments: How many shipments of it were made (the last one's number).
        registered_by: The account that registered it.
        height: The block that registered it.
        completed_s: Block time it was completed: the production period's end.
        completed_height: The block that completed it.
        recalled: Whether the manufacturer recalled it.
        recall_reason: Why.
    """

    gtin: str
    lot: str
    org: str
    site: str
    status: BatchStatus
    started_s: int
    registered_by: str
    height: int
    quantity: int = 0
    consumed: int = 0
    scrapped: int = 0
    shipments: int = 0
    completed_s: int | None = None
    completed_height: int | None = None
    recalled: bool = False
    recall_reason: str | None = None


class Shipment(Record, omit_defaults=True):
    """Part of a batch shipped from one organisation to another
    (``products/shipment/<gtin>/<lot>/<n>``).

    Attributes:
        n: Its number within the batch (1, 2, ...).
        gtin: The batch's product type.
        lot: The batch.
        quantity: How much, in the type's unit.
        from_org: The organisation that held and shipped it.
        to_org: The consignee.
        status: in_transit, received (by the consignee) or refused (back to the shipper).
        shipped_s: Block time of shipping.
        shipped_by: The shipper's account.
        settled_s: Block time of receipt or refusal.
        settled_by: The consignee's account that received or refused it.
    """

    n: int
    gtin: str
    lot: str
    quantity: int
    from_org: str
    to_org: str
    status: ShipmentStatus
    shipped_s: int
    shipped_by: str
    settled_s: int | None = None
    settled_by: str | None = None


class Item(Record, omit_defaults=True):
    """A serialised item (``products/item/<gtin>/<serial>``).

    Attributes:
        gtin: The product type.
        serial: Its serial number (GS1 AI 21), registered once.
        org: The manufacturer.
        holder: The organisation holding it (the one that last received it); while in
            transit, the shipper; once installed, the one that installed it.
        status: held, in_transit, installed (into ``parent``) or scrapped.
        events: How many custody events it has (the last one's number).
        registered_height: The block that registered it.
        lot: The batch it was made in, if the manufacturer named one.
        to: The consignee while in transit.
        came_from: The organisation it was last received from (a return goes back there).
        parent: ``<gtin>/<serial>`` of the item it was installed into.
        recalled: Whether the manufacturer recalled it.
        recall_reason: Why.
    """

    gtin: str
    serial: str
    org: str
    holder: str
    status: ItemStatus
    events: int
    registered_height: int
    lot: str | None = None
    to: str | None = None
    came_from: str | None = None
    parent: str | None = None
    recalled: bool = False
    recall_reason: str | None = None


class CustodyEvent(Record, omit_defaults=True):
    """One custody event of an item (``products/event/<gtin>/<serial>/<n>``).

    Attributes:
        n: Its number (1 is the registration).
        type: registered, shipped, received, returned, installed, scrapped or recalled.
        org: The organisation that acted (the holder, the consignee or the manufacturer).
        by: Its account that signed the transaction.
        time_s: Block time.
        height: The block.
        to_org: The consignee (shipped, returned).
        parent: ``<gtin>/<serial>`` of the parent item (installed).
        note: The reason (recalled).
    """

    n: int
    type: EventType
    org: str
    by: str
    time_s: int
    height: int
    to_org: str | None = None
    parent: str | None = None
    note: str | None = None


class ElectricityFigure(Record, omit_defaults=True):
    """A batch's electricity over its production period.

    Attributes:
        consumption_wh: The site's metered consumption in the period's whole hours.
        allocated_wh: ``consumption_wh * share_ppm // 1,000,000``: the batch's part.
        covered_wh: The batch's part of the consumption that certificates claimed for the
            site cover hour by hour (``min(consumption, claimed)`` per hour, times the share).
        location_g: Location-based: per month, allocated Wh times the grid-average factor.
        market_g: Market-based: per month, the uncovered allocated Wh times the residual mix
            (or the grid average where the set has none); covered Wh count 0 g.
        factor_sets: The factor sets used, in month order.
        quality: measured (metered).
    """

    consumption_wh: int
    allocated_wh: int
    covered_wh: int
    location_g: int
    market_g: int
    factor_sets: list[str]
    quality: Quality = "measured"


class DirectFigure(Record, omit_defaults=True):
    """A batch's direct (scope 1) emissions over its production period.

    Attributes:
        activities: The confirmed activity records counted, ``<org>/<id>``.
        g: For each, its emissions times the part of its month inside the production
            period (seconds), rounded down, summed; times the share, rounded down.
        quality: measured (activity data confirmed by a carbon verifier).
    """

    activities: list[str]
    g: int
    quality: Quality = "measured"


class InputShare(Record, omit_defaults=True):
    """The part of an input batch's footprint a batch carries (its bill of materials line).

    Each emission field is the input's figure times ``consumed / input_quantity``, rounded
    down (the allocation rule: by mass when the input is counted in g or kg, by units when
    in pieces).

    Attributes:
        gtin: The input batch's product type.
        lot: The input batch.
        consumed: How much of it the batch consumed, in the input's unit.
        input_quantity: How much of the input was made.
        unit: The input's unit.
        basis: mass or units.
        direct_g: Its share of the input's direct emissions.
        indirect_location_g: Its share of the input's location-based indirect emissions.
        indirect_market_g: Its share of the input's market-based indirect emissions.
        default_g: Its share of what the input's footprint took from default values.
        quality: measured, or default when the input's footprint took anything from
            default values.
    """

    gtin: str
    lot: str
    consumed: int
    input_quantity: int
    unit: Unit
    basis: Basis
    direct_g: int
    indirect_location_g: int
    indirect_market_g: int
    default_g: int
    quality: Quality


class DefaultInput(Record, omit_defaults=True):
    """An input not traced on this ledger, counted at default emission factors.

    Attributes:
        id: Its id within the footprint.
        description: What it is (e.g. ``primary aluminium, CN 7601, CBAM default``).
        mass_g: Grams consumed.
        direct_g_per_kg: Direct emissions per kg (the default value).
        indirect_g_per_kg: Indirect emissions per kg (the default value).
        gas: The values' gas.
        source: Where the values come from.
        direct_g: ``mass_g * direct_g_per_kg // 1,000``.
        indirect_g: ``mass_g * indirect_g_per_kg // 1,000``.
        quality: default.
    """

    id: str
    description: str
    mass_g: int
    direct_g_per_kg: int
    indirect_g_per_kg: int
    gas: str
    source: str
    direct_g: int
    indirect_g: int
    quality: Quality = "default"


class Footprint(Record, omit_defaults=True):
    """A batch's cradle-to-gate carbon footprint (``products/footprint/<gtin>/<lot>``).

    Every figure is for the whole batch; per unit, divide by ``quantity``. Figures with
    ``_location`` and ``_market`` are the two scope 2 methods; direct emissions are the same
    under both.

    Attributes:
        gtin: The product type.
        lot: The batch.
        org: The manufacturer.
        site: The site it was made at.
        start_s: The production period's start (the batch's registration).
        end_s: Its end (the batch's completion).
        quantity: How much was made, in ``unit``.
        unit: g, kg or unit.
        mass_g: The batch's mass (``quantity`` times the type's grams per unit).
        share_ppm: The part of the site's energy and direct emissions in the production
            period that the manufacturer allocated to the batch.
        gas: CO2 or CO2e: every figure is in it.
        electricity: The batch's own electricity and its emissions.
        direct: The batch's own direct emissions.
        inputs: Its inputs' allocated shares, by GTIN and lot.
        defaults: Inputs counted at default values.
        own_location_g: ``direct.g + electricity.location_g``.
        own_market_g: ``direct.g + electricity.market_g``.
        direct_g: Direct emissions, precursors included: own, inputs' shares, defaults'.
        indirect_location_g: Indirect emissions (electricity), location-based, precursors
            included.
        indirect_market_g: The same, market-based.
        default_g: The part of ``total_market_g`` taken from default values (the rest is
            measured).
        total_location_g: ``direct_g + indirect_location_g``.
        total_market_g: ``direct_g + indirect_market_g``.
        recorded_by: The account that recorded it.
        time_s: Block time.
        height: The block.
    """

    gtin: str
    lot: str
    org: str
    site: str
    start_s: int
    end_s: int
    quantity: int
    unit: Unit
    mass_g: int
    share_ppm: int
    gas: str
    electricity: ElectricityFigure
    direct: DirectFigure
    inputs: list[InputShare]
    defaults: list[DefaultInput]
    own_location_g: int
    own_market_g: int
    direct_g: int
    indirect_location_g: int
    indirect_market_g: int
    default_g: int
    total_location_g: int
    total_market_g: int
    recorded_by: str
    time_s: int
    height: int
