"""Certificates for market pairings: when a pairing settles, the certificates of its delivered
Wh move to the consumer and are cancelled and claimed for the consumer's site and the
interval, with no transaction of anyone's.

Settlement and issuance may come in either order:

* settled first: the delivery waits as a :class:`~.records.PendingDelivery` under the device
  and the market interval; issuing an interval overlapping it serves it;
* issued first: settlement serves it at once from the issuances' bundles; what the issued
  part does not cover waits for the rest of the interval's issuance.

Either way the Wh come from the producer's active bundles of that issuance, in id order. If the
producer no longer holds enough (it sold or cancelled them meanwhile), what it holds is used
and the shortfall is reported in the ``certificates.delivery_served`` event's
``uncertified_wh``; a pairing is never served twice.
"""

from __future__ import annotations

from gridledger.contracts.base import Context
from gridledger.contracts.certificates import bundles, keys
from gridledger.contracts.certificates.index import issuance_bundles, issued_day
from gridledger.contracts.certificates.lifecycle import cancel, claim
from gridledger.contracts.certificates.records import Cancellation, Issuance, PendingDelivery
from gridledger.state.state import StateReader, StateWriter, decode_record

DAY_S = 86_400


def _issuances(view: StateReader, device: str, start_s: int, end_s: int) -> list[Issuance]:
    """The device's issuances overlapping ``[start_s, end_s)``, in time order."""
    out: list[Issuance] = []
    day = start_s - start_s % DAY_S
    while day < end_s:
        for item in issued_day(view, device, day).issuances:
            if item.start_s < end_s and start_s < item.start_s + item.length_s:
                out.append(item)
        day += DAY_S
    return out


def _serve(
    state: StateWriter, ctx: Context, device: str, items: list[Issuance], delivery: PendingDelivery
) -> int:
    """Move, cancel and claim up to the delivery's Wh from the producer's active production
    bundles of ``items``, in id order; returns the Wh served."""
    left = delivery.delivered_wh
    for item in items:
        for source in issuance_bundles(state, device, item):
            if left == 0:
                break
            if (
                source.owner != delivery.producer
                or source.bundle_type != "production"
                or bundles.status_at(source, ctx.time_s) != "active"
            ):
                continue
            part = bundles.take(state, source, min(left, source.quantity_wh), ctx.height)
            part = bundles.update(state, part, ctx.height, owner=delivery.consumer)
            cancelled = cancel(
                state, ctx, part, None,
                Cancellation(
                    beneficiary=delivery.consumer, site=delivery.site,
                    period_start_s=delivery.interval_start_s,
                    period_end_s=delivery.interval_end_s, height=ctx.height,
                    pairing=delivery.pairing,
                ),
            )  # fmt: skip
            claim(state, ctx, cancelled)
            left -= part.quantity_wh
    served = delivery.delivered_wh - left
    ctx.emit(
        "certificates.delivery_served",
        pairing=delivery.pairing,
        consumer=delivery.consumer,
        site=delivery.site,
        certified_wh=served,
        uncertified_wh=left,
    )
    return served


def deliver_pending(state: StateWriter, ctx: Context, device: str, item: Issuance) -> None:
    """Serve the deliveries waiting for a freshly issued interval of ``device``: every market
    interval overlapping it (market intervals are 900 s or longer)."""
    end = item.start_s + item.length_s
    first = item.start_s - item.start_s % DAY_S
    prefix = keys.pendings_of(device)
    lo, hi = keys.time_part(first), keys.time_part(end)
    for key, raw in list(state.scan_range(prefix, lo, hi)):
        delivery = decode_record(raw, PendingDelivery)
        if not (delivery.interval_start_s < end and item.start_s < delivery.interval_end_s):
            continue
        served = _serve(state, ctx, device, [item], delivery)
        left = delivery.delivered_wh - served
        if left == 0 or _all_issued(state, device, delivery):
            state.delete(key)
        else:
            delivery.delivered_wh = left
            state.put(key, delivery)


def _all_issued(view: StateReader, device: str, delivery: PendingDelivery) -> bool:
    """Whether every part of the delivery's interval has been issued (nothing more can come)."""
    covered = sum(
        min(i.start_s + i.length_s, delivery.interval_end_s)
        - max(i.start_s, delivery.interval_start_s)
        for i in _issuances(view, device, delivery.interval_start_s, delivery.interval_end_s)
    )
    return covered >= delivery.interval_end_s - delivery.interval_start_s


def pairing_settled(
    state: StateWriter,
    ctx: Context,
    *,
    pairing: str,
    producer: str,
    consumer: str,
    site: str,
    device: str,
    interval_start_s: int,
    interval_end_s: int,
    delivered_wh: int,
) -> None:
    """A settled pairing delivered ``delivered_wh``: serve its certificates from what is
    issued of its interval, and keep the rest waiting for the issuance of the remainder
    (called by ``market.settle``)."""
    if delivered_wh <= 0:
        return
    delivery = PendingDelivery(
        pairing=pairing, producer=producer, consumer=consumer, site=site,
        interval_start_s=interval_start_s, interval_end_s=interval_end_s,
        delivered_wh=delivered_wh,
    )  # fmt: skip
    items = _issuances(state, device, interval_start_s, interval_end_s)
    served = _serve(state, ctx, device, items, delivery) if items else 0
    if served < delivered_wh and not _all_issued(state, device, delivery):
        delivery.delivered_wh = delivered_wh - served
        state.put(keys.pending(device, interval_start_s, pairing), delivery)
