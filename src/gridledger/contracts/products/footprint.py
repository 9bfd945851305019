"""A batch's cradle-to-gate carbon footprint (ISO 14067, GHG Protocol Product Standard).

``products.record_footprint`` (the manufacturer, once per batch, after completion):
``{"gtin", "lot", "share_ppm"?, "defaults"?: [{"id", "description", "mass_g",
"direct_g_per_kg", "indirect_g_per_kg", "gas", "source"}]}``. The contract computes every
figure from the ledger; the sender chooses only the allocation share and the inputs it
declares at default values. The rules (also in ``docs/products.md``):

* **Production period**: from the batch's registration to its completion (block times),
  taken in whole hours: ``[ceil(start), floor(end))``.
* **Electricity** (indirect, scope 2 of the site): the site's metered consumption in the
  period's hours (corrections applied), times ``share_ppm / 1,000,000`` (the part of the
  site's output the batch is, by the manufacturer's declared allocation; 1,000,000 when the
  site made only this batch), rounded down, month by month. *Location-based*: allocated Wh x
  the grid-average factor of the carbon factor set in force for the site's region that month
  (:func:`~gridledger.contracts.carbon.factor_for`), ``// 1,000,000``. *Market-based*: the
  allocated part of what certificates claimed for the site cover hour by hour
  (``min(consumption, claimed produced in the hour)``) counts 0 g; the rest counts at the
  set's residual mix, or its grid average where it has none.
* **Direct** (scope 1 of the site): each confirmed activity record of the site whose month
  overlaps the period, its emissions x the seconds of the month inside the period / the
  month's seconds, rounded down; summed, times the share, rounded down.
* **Inputs**: for each batch in the bill of materials, its footprint's direct, indirect
  (both methods) and default figures x ``consumed / input quantity``, rounded down per
  figure: by mass for inputs counted in g or kg, by units for pieces. An input without a
  footprint is refused (``products.input_missing``): a footprint never omits an input.
* **Defaults**: inputs not traced on the ledger at declared default values, ``mass_g x
  g_per_kg // 1,000`` for direct and for indirect emissions; they are counted in
  ``default_g`` (data quality ``default``); everything else is measured.
* Totals: ``direct_g`` = own direct + inputs' + defaults'; ``indirect_location_g`` and
  ``indirect_market_g`` likewise; ``total_location_g = direct_g + indirect_location_g``,
  ``total_market_g = direct_g + indirect_market_g``. Every figure is in one gas (CO2 or
  CO2e, ``products.mixed_gas`` otherwise).

A batch still in production has no footprint (``products.in_production``).
"""

from __future__ import annotations

from gridledger.contracts import carbon, registry
from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.carbon import factor_for, month_bounds, month_start
from gridledger.contracts.certificates.queries import matching
from gridledger.contracts.products import keys
from gridledger.contracts.products.bom import bill_of_materials
from gridledger.contracts.products.common import (
    MAX_TEXT,
    check_gtin,
    check_part,
    manufacturer,
    require_batch,
    require_type,
)
from gridledger.contracts.products.errors import (
    FootprintExists,
    InProduction,
    InputMissing,
    InvalidFootprint,
    MixedGas,
)
from gridledger.contracts.products.records import (
    Batch,
    DefaultInput,
    DirectFigure,
    ElectricityFigure,
    Footprint,
    InputShare,
)
from gridledger.contracts.registry.records import Site
from gridledger.core.encoding import INT_MAX
from gridledger.state.state import StateReader, StateWriter

PPM = 1_000_000
WH_PER_MWH = 1_000_000
HOUR_S = 3600
MAX_DEFAULTS = 50
MAX_MASS_G = 10**15
MAX_G_PER_KG = 10**8
GASES = ("CO2", "CO2e")


class DefaultLine(Body):
    id: str
    description: str
    mass_g: Int64
    direct_g_per_kg: Int64
    indirect_g_per_kg: Int64
    gas: str
    source: str


class RecordFootprint(Body):
    gtin: str
    lot: str
    share_ppm: Int64 = PPM
    defaults: list[DefaultLine] = []

    def check(self) -> None:
        check_gtin(self.gtin)
        check_part(self.lot, "lot")
        if not 1 <= self.share_ppm <= PPM:
            raise InvalidFootprint(f"share_ppm {self.share_ppm}: 1 to 1,000,000")
        if len(self.defaults) > MAX_DEFAULTS:
            raise InvalidFootprint(f"at most {MAX_DEFAULTS} default inputs")
        ids = set()
        for d in self.defaults:
            registry.check_id(d.id, "default input id")
            if d.id in ids:
                raise InvalidFootprint(f"default input {d.id} is listed twice")
            ids.add(d.id)
            if not (1 <= len(d.description) <= MAX_TEXT and 1 <= len(d.source) <= MAX_TEXT):
                raise InvalidFootprint(f"default input {d.id}: a description and a source")
            if not 1 <= d.mass_g <= MAX_MASS_G:
                raise InvalidFootprint(f"default input {d.id}: mass_g 1 to 10^15")
            for v in (d.direct_g_per_kg, d.indirect_g_per_kg):
                if not 0 <= v <= MAX_G_PER_KG:
                    raise InvalidFootprint(f"default input {d.id}: g_per_kg 0 to 10^8")
            if d.gas not in GASES:
                raise InvalidFootprint(f"default input {d.id}: gas CO2 or CO2e")


def get_footprint(view: StateReader, gtin: str, lot: str) -> Footprint | None:
    return view.get_record(keys.footprint(gtin, lot), Footprint)


def electricity(view: StateReader, batch: Batch, site: Site, share_ppm: int,
                gases: set[str]) -> ElectricityFigure:  # fmt: skip
    """The batch's electricity figure (see the module docstring)."""
    assert batch.completed_s is not None
    start = -(-batch.started_s // HOUR_S) * HOUR_S
    end = batch.completed_s - batch.completed_s % HOUR_S
    months: dict[int, list[int]] = {}
    if end > start:
        for hour in matching(view, site.id, start, end).hours:
            if start <= hour.start_s < end:
                sums = months.setdefault(month_start(hour.start_s), [0, 0])
                sums[0] += hour.consumption_wh
                sums[1] += hour.matched_wh
    consumption = allocated = covered = location = market = 0
    sets = []
    for month in sorted(months):
        used, matched = months[month]
        if used == 0:
            continue
        found = factor_for(view, site.grid_region, max(month, start))
        gases.add(found.set.gas)
        sets.append(found.set.id)
        grid = found.set.grid_average.g_per_mwh
        residual = (found.set.residual_mix or found.set.grid_average).g_per_mwh
        part = used * share_ppm // PPM
        clean = matched * share_ppm // PPM
        consumption += used
        allocated += part
        covered += clean
        location += part * grid // WH_PER_MWH
        market += (part - clean) * residual // WH_PER_MWH
    return ElectricityFigure(consumption_wh=consumption, allocated_wh=allocated,
                             covered_wh=covered, location_g=location, market_g=market,
                             factor_sets=sets)  # fmt: skip


def direct(view: StateReader, batch: Batch, share_ppm: int, gases: set[str]) -> DirectFigure:
    """The batch's direct emissions (see the module docstring)."""
    assert batch.completed_s is not None
    counted = []
    total = 0
    for activity in carbon.activities_of(view, batch.org):
        if activity.site != batch.site or activity.status != "confirmed":
            continue
        m_start, m_end = month_bounds(activity.month)
        overlap = min(m_end, batch.completed_s) - max(m_start, batch.started_s)
        if overlap <= 0:
            continue
        gases.add(activity.gas)
        counted.append(f"{activity.org}/{activity.id}")
        total += activity.emissions_g * overlap // (m_end - m_start)
    return DirectFigure(activities=counted, g=total * share_ppm // PPM)


def input_shares(view: StateReader, batch: Batch, gases: set[str]) -> list[InputShare]:
    """The allocated shares of the batch's inputs (``products.input_missing`` when one has
    no footprint)."""
    shares = []
    for gtin, lot, consumed in bill_of_materials(view, batch.gtin, batch.lot):
        source = require_batch(view, gtin, lot)
        found = get_footprint(view, gtin, lot)
        if found is None:
            raise InputMissing(
                f"input {gtin} lot {lot} has no footprint yet: its manufacturer records it first"
            )
        gases.add(found.gas)
        q = source.quantity
        shares.append(
            InputShare(
                gtin=gtin, lot=lot, consumed=consumed, input_quantity=q, unit=found.unit,
                basis="units" if found.unit == "unit" else "mass",
                direct_g=found.direct_g * consumed // q,
                indirect_location_g=found.indirect_location_g * consumed // q,
                indirect_market_g=found.indirect_market_g * consumed // q,
                default_g=found.default_g * consumed // q,
                quality="default" if found.default_g else "measured",
            )
        )  # fmt: skip
    return shares


@kind("products.record_footprint", RecordFootprint)
def apply_record_footprint(state: StateWriter, ctx: Context, body: RecordFootprint) -> None:
    """Compute and record a completed batch's cradle-to-gate footprint (its manufacturer)."""
    batch = require_batch(state, body.gtin, body.lot)
    manufacturer(state, ctx, batch.org, f"batch {body.gtin} lot {body.lot}")
    if batch.status != "completed":
        raise InProduction(f"batch {body.gtin} lot {body.lot} is in production")
    if state.get(keys.footprint(body.gtin, body.lot)) is not None:
        raise FootprintExists(f"batch {body.gtin} lot {body.lot} has its footprint")
    product = require_type(state, body.gtin)
    site = registry.get_site(state, batch.site)
    assert site is not None  # registration checked it; sites are never removed
    gases: set[str] = set()
    elec = electricity(state, batch, site, body.share_ppm, gases)
    own = direct(state, batch, body.share_ppm, gases)
    inputs = input_shares(state, batch, gases)
    defaults = []
    for d in sorted(body.defaults, key=lambda x: x.id):
        gases.add(d.gas)
        defaults.append(
            DefaultInput(id=d.id, description=d.description, mass_g=d.mass_g,
                         direct_g_per_kg=d.direct_g_per_kg,
                         indirect_g_per_kg=d.indirect_g_per_kg, gas=d.gas, source=d.source,
                         direct_g=d.mass_g * d.direct_g_per_kg // 1000,
                         indirect_g=d.mass_g * d.indirect_g_per_kg // 1000)
        )  # fmt: skip
    if len(gases) > 1:
        raise MixedGas(f"the batch's figures are in {' and '.join(sorted(gases))}")
    default_direct = sum(d.direct_g for d in defaults)
    default_indirect = sum(d.indirect_g for d in defaults)
    direct_g = own.g + sum(i.direct_g for i in inputs) + default_direct
    loc = elec.location_g + sum(i.indirect_location_g for i in inputs) + default_indirect
    mkt = elec.market_g + sum(i.indirect_market_g for i in inputs) + default_indirect
    record = Footprint(
        gtin=batch.gtin, lot=batch.lot, org=batch.org, site=batch.site,
        start_s=batch.started_s, end_s=batch.completed_s or ctx.time_s,
        quantity=batch.quantity, unit=product.unit,
        mass_g=batch.quantity * product.unit_mass_g, share_ppm=body.share_ppm,
        gas=gases.pop() if gases else "CO2", electricity=elec, direct=own, inputs=inputs,
        defaults=defaults, own_location_g=own.g + elec.location_g,
        own_market_g=own.g + elec.market_g, direct_g=direct_g, indirect_location_g=loc,
        indirect_market_g=mkt,
        default_g=sum(i.default_g for i in inputs) + default_direct + default_indirect,
        total_location_g=direct_g + loc, total_market_g=direct_g + mkt,
        recorded_by=ctx.sender, time_s=ctx.time_s, height=ctx.height,
    )  # fmt: skip
    if max(record.total_location_g, record.total_market_g, record.mass_g) > INT_MAX:
        raise InvalidFootprint("the batch's figures exceed the 64-bit range")
    state.put(keys.footprint(batch.gtin, batch.lot), record)
    ctx.emit("products.footprint_recorded", gtin=batch.gtin, lot=batch.lot,
             total_market_g=record.total_market_g)  # fmt: skip
