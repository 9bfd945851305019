"""A community battery: certificates cancelled into it when it charges, storage-discharge
certificates issued when it discharges.

* ``certificates.charge_storage`` (holder): ``{"storage", "bundles": [..]}``: cancel live,
  unlocked bundles held by the sender into a :class:`~.records.StorageCharge` of the storage
  device (technology ``storage``); each bundle's grid zone must be the storage's. The bundles
  become ``storage_charged`` and never move again.
* ``certificates.discharge_storage`` (certifier): ``{"storage", "start", "length_s", "to",
  "losses_wh"}``: for a final, metered interval of the storage device (its generation meter
  measures what it delivered), issue one ``storage_discharge`` bundle of the measured Wh to
  ``to``, an account of the storage device's organisation. The discharge and the interval's
  measured ``losses_wh`` together use up charged Wh
  **first in, first out**: the oldest charge's oldest slice first. A discharge whose Wh and
  losses exceed what is charged and not yet used is refused. The bundle's ``origin`` names
  every slice it used (``<seq>/<bundle id>/<Wh>``, comma-separated, losses not included), so
  each discharged Wh traces back to the cancelled bundles.
"""

from __future__ import annotations

from gridledger.contracts import registry
from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.certificates import bundles, keys
from gridledger.contracts.certificates.errors import (
    BadCount,
    BadQuantity,
    DischargeExceedsCharge,
    Misaligned,
    NotStorage,
    ZoneMismatch,
)
from gridledger.contracts.certificates.index import hand_out_ids, put_issuance
from gridledger.contracts.certificates.issuance import (
    HOUR_S,
    device_of,
    issue_checks,
    new_bundle,
    recipient_of,
)
from gridledger.contracts.certificates.records import (
    ChargeSlice,
    Issuance,
    StorageCharge,
    StorageLedger,
)
from gridledger.contracts.registry.records import Device
from gridledger.state.state import StateReader, StateWriter

MAX_CHARGE_BUNDLES = 200


def storage_of(view: StateReader, storage: str) -> Device:
    device = device_of(view, storage)
    if device.technology != "storage":
        raise NotStorage(f"device {storage} is {device.technology}, not storage")
    return device


def storage_ledger(view: StateReader, storage: str) -> StorageLedger:
    return view.get_record(keys.storage(storage), StorageLedger) or StorageLedger()


class ChargeStorage(Body):
    storage: str
    bundles: list[str]

    def check(self) -> None:
        if not 1 <= len(self.bundles) <= MAX_CHARGE_BUNDLES:
            raise BadCount(f"a charge cancels 1-{MAX_CHARGE_BUNDLES} bundles")
        if len(set(self.bundles)) != len(self.bundles):
            raise BadCount("a bundle is named twice")


@kind("certificates.charge_storage", ChargeStorage)
def apply_charge_storage(state: StateWriter, ctx: Context, body: ChargeStorage) -> None:
    """Cancel held bundles into a charge of a storage device in their grid zone."""
    device = storage_of(state, body.storage)
    ledger = storage_ledger(state, device.id)
    slices = []
    for bundle_id in body.bundles:
        bundle = bundles.held_live(state, bundle_id, ctx)
        if bundle.grid_zone != device.grid_region:
            raise ZoneMismatch(
                f"bundle {bundle.id} is from {bundle.grid_zone}; storage {device.id} is in "
                f"{device.grid_region}"
            )
        bundles.update(state, bundle, ctx.height, status="storage_charged")
        slices.append(
            ChargeSlice(
                bundle=bundle.id, hash=bundle.hash, quantity_wh=bundle.quantity_wh,
                remaining_wh=bundle.quantity_wh,
            )
        )  # fmt: skip
    charged = sum(s.quantity_wh for s in slices)
    seq = ledger.next_seq
    state.put(
        keys.charge(device.id, seq),
        StorageCharge(
            seq=seq, device=device.id, owner=ctx.sender, charged_wh=charged,
            remaining_wh=charged, slices=slices, height=ctx.height,
        ),
    )  # fmt: skip
    ledger.next_seq += 1
    ledger.charged_wh += charged
    state.put(keys.storage(device.id), ledger)
    ctx.emit("certificates.storage_charged", storage=device.id, seq=seq, quantity_wh=charged)


def _use_fifo(
    state: StateWriter, device: str, ledger: StorageLedger, wh: int, record: list[str] | None
) -> None:
    """Use ``wh`` charged Wh, oldest first; ``record`` collects the slices used."""
    seq = ledger.head_seq
    while wh > 0:
        charge = state.get_record(keys.charge(device, seq), StorageCharge)
        assert charge is not None, "the caller checked what is left"
        for piece in charge.slices:
            if wh == 0:
                break
            used = min(piece.remaining_wh, wh)
            if used == 0:
                continue
            piece.remaining_wh -= used
            charge.remaining_wh -= used
            wh -= used
            if record is not None:
                record.append(f"{seq}/{piece.bundle}/{used}")
        state.put(keys.charge(device, seq), charge)
        if charge.remaining_wh == 0:
            seq += 1
    ledger.head_seq = seq


class DischargeStorage(Body):
    storage: str
    start: Int64
    to: str
    losses_wh: Int64
    length_s: Int64 = HOUR_S

    def check(self) -> None:
        if self.losses_wh < 0:
            raise BadQuantity("losses_wh is zero or more")
        if self.length_s not in (900, HOUR_S) or self.start < 0 or self.start % self.length_s:
            raise Misaligned(f"start {self.start} is not aligned to {self.length_s} s")


@kind("certificates.discharge_storage", DischargeStorage, roles=("certifier",))
def apply_discharge_storage(state: StateWriter, ctx: Context, body: DischargeStorage) -> None:
    """Issue storage-discharge certificates for a metered discharge, from charged Wh FIFO."""
    device = storage_of(state, body.storage)
    recipient_of(state, body.to, device)
    scheme = bundles.params(state)
    wh = issue_checks(state, ctx, device.id, body.start, body.length_s, scheme)
    ledger = storage_ledger(state, device.id)
    left = ledger.charged_wh - ledger.discharged_wh - ledger.losses_wh
    if wh + body.losses_wh > left:
        raise DischargeExceedsCharge(
            f"storage {device.id} discharged {wh} Wh with {body.losses_wh} Wh of losses; "
            f"{left} Wh of charged certificates are left"
        )
    used: list[str] = []
    _use_fifo(state, device.id, ledger, wh, used)
    _use_fifo(state, device.id, ledger, body.losses_wh, None)
    ledger.discharged_wh += wh
    ledger.losses_wh += body.losses_wh
    state.put(keys.storage(device.id), ledger)
    first = hand_out_ids(state, device.id, wh)
    bundle = new_bundle(
        ctx, device, range_start=first, quantity_wh=wh, start_s=body.start,
        end_s=body.start + body.length_s, owner=body.to, bundle_type="storage_discharge",
        origin=",".join(used), issuing_body=registry.sender_org(state, ctx), scheme=scheme,
    )  # fmt: skip
    bundles.save(state, bundle)
    put_issuance(
        state, device.id,
        Issuance(start_s=body.start, length_s=body.length_s, range_start=first,
                 quantity_wh=wh, metered_wh=wh),
    )  # fmt: skip
    ctx.emit(
        "certificates.storage_discharged",
        storage=device.id,
        bundle=bundle.id,
        quantity_wh=wh,
        losses_wh=body.losses_wh,
    )
