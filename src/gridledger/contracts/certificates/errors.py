"""Certificates' refusals, each with a stable ``certificates.*`` code."""

from __future__ import annotations

from gridledger.core.errors import InvalidTransaction


class NotCertifier(InvalidTransaction):
    code = "certificates.not_certifier"
    default_message = "only a certifier issues, withdraws and re-issues certificates"


class UnknownDevice(InvalidTransaction):
    code = "certificates.unknown_device"
    default_message = "no registered device has this id"


class Misaligned(InvalidTransaction):
    code = "certificates.misaligned"
    default_message = (
        "a bundle's interval is aligned to its length (900 or 3600 s, at most the scheme's)"
    )


class NotFinal(InvalidTransaction):
    code = "certificates.not_final"
    default_message = "the interval's meter data is not final yet"


class NotMetered(InvalidTransaction):
    code = "certificates.not_metered"
    default_message = "the device's meters have not reported the whole interval"


class AlreadyIssued(InvalidTransaction):
    code = "certificates.already_issued"
    default_message = "the device's interval was issued already (one issuance per interval)"


class ExceedsMetered(InvalidTransaction):
    code = "certificates.exceeds_metered"
    default_message = "certificates may not exceed the metered generation"


class DuplicateInterval(InvalidTransaction):
    code = "certificates.duplicate_interval"
    default_message = "the request names an interval twice"


class UnknownBundle(InvalidTransaction):
    code = "certificates.unknown_bundle"
    default_message = "no certificate bundle has this id"


class NotOwner(InvalidTransaction):
    code = "certificates.not_owner"
    default_message = "the bundle is held by another account"


class NotLive(InvalidTransaction):
    code = "certificates.not_live"
    default_message = "the bundle was cancelled, claimed, withdrawn, expired or exported"


class Expired(InvalidTransaction):
    code = "certificates.expired"
    default_message = "the bundle expired"


class Locked(InvalidTransaction):
    code = "certificates.locked"
    default_message = "the bundle is locked; unlock it first"


class NotLocked(InvalidTransaction):
    code = "certificates.not_locked"
    default_message = "the bundle is not locked"


class NotCancelled(InvalidTransaction):
    code = "certificates.not_cancelled"
    default_message = "only a cancelled bundle can be claimed"


class BadSplit(InvalidTransaction):
    code = "certificates.bad_split"
    default_message = "split quantities are positive and add up to the bundle's quantity"


class BadQuantity(InvalidTransaction):
    code = "certificates.bad_quantity"
    default_message = "a quantity is a positive number of Wh no larger than the bundle"


class TransferRefused(InvalidTransaction):
    code = "certificates.transfer_refused"
    default_message = "the receiving account does not accept transfers from the sender"


class UnknownAccount(InvalidTransaction):
    code = "certificates.unknown_account"
    default_message = "no such account"


class UnknownSite(InvalidTransaction):
    code = "certificates.unknown_site"
    default_message = "no registered site has this id"


class BadPeriod(InvalidTransaction):
    code = "certificates.bad_period"
    default_message = "a consumption period has a start before its end"


class NotBeneficiary(InvalidTransaction):
    code = "certificates.not_beneficiary"
    default_message = "only the holder or the beneficiary claims a cancelled bundle"


class InvalidParams(InvalidTransaction):
    code = "certificates.invalid_params"
    default_message = "scheme parameters are out of range"


class InvalidReason(InvalidTransaction):
    code = "certificates.invalid_reason"
    default_message = "give a reason of 1-256 characters"


class NothingWithdrawn(InvalidTransaction):
    code = "certificates.nothing_to_reissue"
    default_message = "the interval has no withdrawn Wh left to re-issue"


class NotExpired(InvalidTransaction):
    code = "certificates.not_expired"
    default_message = "the bundle has not reached its expiry"


class NotStorage(InvalidTransaction):
    code = "certificates.not_storage"
    default_message = "the device is not a storage device"


class ZoneMismatch(InvalidTransaction):
    code = "certificates.zone_mismatch"
    default_message = "storage and generation are in different grid zones"


class DischargeExceedsCharge(InvalidTransaction):
    code = "certificates.discharge_exceeds_charge"
    default_message = "a discharge may not exceed what was charged and not yet discharged"


class GecExists(InvalidTransaction):
    code = "certificates.gec_exists"
    default_message = "this GEC was recorded already"


class UnknownGec(InvalidTransaction):
    code = "certificates.unknown_gec"
    default_message = "no GEC has this id"


class GecConverted(InvalidTransaction):
    code = "certificates.gec_converted"
    default_message = "the GEC was cancelled into granular certificates already"


class GecExceedsMetered(InvalidTransaction):
    code = "certificates.gec_exceeds_metered"
    default_message = (
        "the device's GECs and granular certificates of the month would exceed its metered "
        "generation"
    )


class BadMonth(InvalidTransaction):
    code = "certificates.bad_month"
    default_message = "a month is YYYY-MM and has ended"


class AlreadyExported(InvalidTransaction):
    code = "certificates.already_exported"
    default_message = "this month of the device was exported to GECs already"


class BadAcceptance(InvalidTransaction):
    code = "certificates.bad_acceptance"
    default_message = "listed acceptance names 1-100 distinct senders; other modes name none"


class StorageDevice(InvalidTransaction):
    code = "certificates.storage_device"
    default_message = (
        "a storage device gets certificates only for its discharge (discharge_storage)"
    )


class BadCount(InvalidTransaction):
    code = "certificates.bad_count"
    default_message = "the request names too few or too many items"


class IntervalTooLong(InvalidTransaction):
    code = "certificates.interval_too_long"
    default_message = "the interval is longer than the scheme's bundles (bundle_s)"


class ZeroGeneration(InvalidTransaction):
    code = "certificates.zero_generation"
    default_message = "the device measured nothing in the interval; there is nothing to certify"


class NothingToReconcile(InvalidTransaction):
    code = "certificates.nothing_to_reconcile"
    default_message = "the interval's certificates stand within what its meters measure"


class BadGec(InvalidTransaction):
    code = "certificates.bad_gec"
    default_message = "a GEC number is 1-64 characters without '/'; its project 1-128 characters"


class ForeignSite(InvalidTransaction):
    code = "certificates.foreign_site"
    default_message = "the site belongs to another organisation than the beneficiary's"


class CreditedMonth(InvalidTransaction):
    code = "certificates.credited_month"
    default_message = (
        "carbon credits were verified for the device's generation in that month: the same "
        "energy earns no certificate"
    )
