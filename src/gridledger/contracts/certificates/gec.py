"""China's Green Electricity Certificates (GEC, 绿证): 1 certificate = 1 MWh of a plant's
month, valid two years.

* ``certificates.record_gec`` (certifier): ``{"gec", "project", "device", "month", "tradable",
  "owner"}``: record a GEC the national platform issued, once. The device's GECs and granular
  certificates of one month together never exceed what its meters measured in that month
  (:class:`~.records.DeviceMonth`; granular issuance in a month with GECs is checked against
  what the meters measured in the whole month so far, in whatever order its intervals are
  issued).
* ``certificates.transfer_gec`` (holder): ``{"gec", "to"}``: a tradable GEC only.
* ``certificates.cancel_gec`` (holder): ``{"gec"}``: cancel the GEC into one
  ``gec_conversion`` bundle of 1,000,000 granular Wh ids of its device (production period: the
  month) held by the sender; the GEC is ``converted`` and never converts again.
* ``certificates.export_gec`` (holder, an account of the device's organisation): ``{"device",
  "month"}``: after the month ends, export the sender's live production certificates of the
  device produced up to the month's end as whole MWh: the oldest ids first,
  ``floor(Wh / 1,000,000)`` MWh become ``gec_exported`` (the GEC side counts them from then
  on); the remainder stays live and is counted again in the next month's export, as the GEC
  rules carry a remainder forward. One export per device and month.
"""

from __future__ import annotations

from gridledger.contracts import metering, registry
from gridledger.contracts.base import Body, Context, kind
from gridledger.contracts.certificates import bundles, keys
from gridledger.contracts.certificates.errors import (
    AlreadyExported,
    BadGec,
    BadMonth,
    GecConverted,
    GecExceedsMetered,
    GecExists,
    NotOwner,
    TransferRefused,
    UnknownGec,
)
from gridledger.contracts.certificates.index import device_month, hand_out_ids, not_credited
from gridledger.contracts.certificates.issuance import device_of, new_bundle
from gridledger.contracts.certificates.lifecycle import account_of, require_accepts
from gridledger.contracts.certificates.records import Bundle, Gec, GecExport
from gridledger.core.errors import Forbidden
from gridledger.state.state import StateReader, StateWriter

GEC_WH = 1_000_000
"""One GEC: 1 MWh."""


def _month(ctx: Context, month: str) -> tuple[int, int]:
    try:
        start, end = bundles.month_bounds(month)
    except ValueError:
        raise BadMonth(f"month {month!r} is not YYYY-MM") from None
    if ctx.time_s < end:
        raise BadMonth(f"month {month} has not ended")
    return start, end


def get_gec(view: StateReader, gec_id: str) -> Gec | None:
    return view.get_record(keys.gec(gec_id), Gec)


def _held_gec(view: StateReader, ctx: Context, gec_id: str) -> Gec:
    gec = get_gec(view, gec_id)
    if gec is None:
        raise UnknownGec(f"no GEC {gec_id!r}")
    if gec.owner != ctx.sender:
        raise NotOwner(f"GEC {gec_id} is held by another account")
    if gec.status != "recorded":
        raise GecConverted(f"GEC {gec_id} was converted into bundle {gec.bundle}")
    return gec


class RecordGec(Body):
    gec: str
    project: str
    device: str
    month: str
    tradable: bool
    owner: str

    def check(self) -> None:
        if not 1 <= len(self.gec) <= 64 or "/" in self.gec:
            raise BadGec("a GEC number is 1-64 characters without '/'")
        if not 1 <= len(self.project) <= 128:
            raise BadGec("a GEC's project is 1-128 characters")


@kind("certificates.record_gec", RecordGec, roles=("certifier",))
def apply_record_gec(state: StateWriter, ctx: Context, body: RecordGec) -> None:
    """Record a China GEC (1 MWh of a device's month), once (certifiers)."""
    if get_gec(state, body.gec) is not None:
        raise GecExists(f"GEC {body.gec} was recorded already")
    device = device_of(state, body.device)
    start, end = _month(ctx, body.month)
    account_of(state, body.owner)
    not_credited(state, device.id, body.month)
    record = device_month(state, device.id, body.month)
    metered = metering.measured_wh(state, "device", device.id, start, end).energy_wh
    if record.issued_wh + record.gec_wh + GEC_WH > metered:
        raise GecExceedsMetered(
            f"{device.id} in {body.month}: {record.issued_wh} Wh granular and "
            f"{record.gec_wh} Wh of GECs already; one more MWh exceeds the {metered} Wh metered"
        )
    record.gec_wh += GEC_WH
    state.put(keys.device_month(device.id, body.month), record)
    state.put(
        keys.gec(body.gec),
        Gec(
            id=body.gec, project=body.project, device=device.id, month=body.month,
            tradable=body.tradable, recorded_by=ctx.sender, height=ctx.height, owner=body.owner,
        ),
    )  # fmt: skip
    ctx.emit("certificates.gec_recorded", gec=body.gec, device=device.id, month=body.month)


class GecTransfer(Body):
    gec: str
    to: str


@kind("certificates.transfer_gec", GecTransfer)
def apply_transfer_gec(state: StateWriter, ctx: Context, body: GecTransfer) -> None:
    """Transfer a tradable GEC to an accepting account."""
    gec = _held_gec(state, ctx, body.gec)
    if not gec.tradable:
        raise TransferRefused(f"GEC {gec.id} is not tradable")
    if body.to == ctx.sender:
        raise TransferRefused("a transfer goes to another account")
    require_accepts(state, body.to, ctx.sender)
    gec.owner = body.to
    state.put(keys.gec(gec.id), gec)
    ctx.emit("certificates.gec_transferred", gec=gec.id, to=body.to)


class GecRef(Body):
    gec: str


@kind("certificates.cancel_gec", GecRef)
def apply_cancel_gec(state: StateWriter, ctx: Context, body: GecRef) -> None:
    """Cancel a held GEC into 1,000,000 granular Wh ids of its device."""
    gec = _held_gec(state, ctx, body.gec)
    device = device_of(state, gec.device)
    start, end = bundles.month_bounds(gec.month)
    first = hand_out_ids(state, device.id, GEC_WH)
    scheme = bundles.params(state)
    recorder = registry.get_account(state, gec.recorded_by)
    bundle = new_bundle(
        ctx, device, range_start=first, quantity_wh=GEC_WH, start_s=start, end_s=end,
        owner=ctx.sender, bundle_type="gec_conversion", origin=f"gec:{gec.id}",
        issuing_body=gec.recorded_by if recorder is None else recorder.org, scheme=scheme,
    )  # fmt: skip
    bundles.save(state, bundle)
    gec.status = "converted"
    gec.bundle = bundle.id
    state.put(keys.gec(gec.id), gec)
    ctx.emit("certificates.gec_converted", gec=gec.id, bundle=bundle.id, quantity_wh=GEC_WH)


class ExportGec(Body):
    device: str
    month: str


def _exportable(view: StateReader, ctx: Context, device: str, end: int) -> list[Bundle]:
    out = []
    for _, raw in view.scan(keys.bundles_of(device)):
        b = bundles.decode(raw)
        if (
            b.owner == ctx.sender
            and b.bundle_type == "production"
            and b.production_start_s < end
            and bundles.status_at(b, ctx.time_s) == "active"
        ):
            out.append(b)
    return out


@kind("certificates.export_gec", ExportGec)
def apply_export_gec(state: StateWriter, ctx: Context, body: ExportGec) -> None:
    """Export a month of a plant's certificates as whole MWh; the remainder carries over."""
    device = device_of(state, body.device)
    sender = registry.get_account(state, ctx.sender)
    if sender is None or sender.org != device.owner_org:
        # one export per device and month: a holder outside the plant must not use it up
        raise Forbidden(f"a month of {device.id} is exported by an account of {device.owner_org}")
    _start, end = _month(ctx, body.month)
    if state.get(keys.gec_export(device.id, body.month)) is not None:
        raise AlreadyExported(f"{device.id} {body.month} was exported already")
    held = _exportable(state, ctx, device.id, end)
    available = sum(b.quantity_wh for b in held)
    mwh = available // GEC_WH
    left = mwh * GEC_WH
    for b in held:
        if left == 0:
            break
        part = bundles.take(state, b, min(left, b.quantity_wh), ctx.height)
        bundles.update(state, part, ctx.height, status="gec_exported")
        left -= part.quantity_wh
    state.put(
        keys.gec_export(device.id, body.month),
        GecExport(
            device=device.id, month=body.month, owner=ctx.sender, available_wh=available,
            mwh=mwh, carried_wh=available - mwh * GEC_WH, height=ctx.height,
        ),
    )  # fmt: skip
    ctx.emit(
        "certificates.gec_exported",
        device=device.id,
        month=body.month,
        mwh=mwh,
        carried_wh=available - mwh * GEC_WH,
    )
