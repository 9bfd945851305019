"""Credits' refusals, each with a stable ``credits.*`` code."""

from __future__ import annotations

from gridledger.core.errors import InvalidTransaction


class InvalidProject(InvalidTransaction):
    code = "credits.invalid_project"
    default_message = "a project names its plant, methodology, baseline and monitoring plan"


class ProjectExists(InvalidTransaction):
    code = "credits.project_exists"
    default_message = "a project with this id was registered already"


class UnknownProject(InvalidTransaction):
    code = "credits.unknown_project"
    default_message = "no project has this id"


class UnknownDevice(InvalidTransaction):
    code = "credits.unknown_device"
    default_message = "no registered device has this id"


class ForeignDevice(InvalidTransaction):
    code = "credits.foreign_device"
    default_message = "a project is registered by the organisation that owns the plant"


class IneligibleDevice(InvalidTransaction):
    code = "credits.ineligible_device"
    default_message = "only solar, wind, hydro and geothermal plants displace grid electricity"


class DeviceInProject(InvalidTransaction):
    code = "credits.device_in_project"
    default_message = "the plant belongs to another project already"


class BadPeriod(InvalidTransaction):
    code = "credits.bad_period"
    default_message = "a monitoring period is 1-12 whole months (UTC), start before end"


class PeriodOpen(InvalidTransaction):
    code = "credits.period_open"
    default_message = "the monitoring period has not ended by block time"


class PeriodExists(InvalidTransaction):
    code = "credits.period_exists"
    default_message = "the project has a monitoring period with this id already"


class PeriodOverlap(InvalidTransaction):
    code = "credits.period_overlap"
    default_message = "the project's reductions were verified for part of this period already"


class UnknownPeriod(InvalidTransaction):
    code = "credits.unknown_period"
    default_message = "the project has no verified monitoring period with this id"


class MixedGas(InvalidTransaction):
    code = "credits.mixed_gas"
    default_message = "a monitoring period's factor sets mix CO2 with CO2e"


class SelfVerification(InvalidTransaction):
    code = "credits.self_verification"
    default_message = "a carbon verifier does not verify or issue for its own organisation"


class ExceedsVerified(InvalidTransaction):
    code = "credits.exceeds_verified"
    default_message = "issuance beyond the period's verified reductions (whole tonnes)"


class SerialOverlap(InvalidTransaction):
    code = "credits.serial_overlap"
    default_message = "the serials asked for were issued already"


class SerialGap(InvalidTransaction):
    code = "credits.serial_gap"
    default_message = "serials continue from the project's last issued unit"


class UnknownSerial(InvalidTransaction):
    code = "credits.unknown_serial"
    default_message = "no serial block has this serial (it may have been split: look it up)"


class NotHolder(InvalidTransaction):
    code = "credits.not_holder"
    default_message = "only the holder of a block transfers, splits or retires it"


class AlreadyRetired(InvalidTransaction):
    code = "credits.already_retired"
    default_message = "the credits were retired already"


class AlreadyCancelled(InvalidTransaction):
    code = "credits.already_cancelled"
    default_message = "the credits were cancelled"


class InBuffer(InvalidTransaction):
    code = "credits.in_buffer"
    default_message = "buffer pool credits are held by nobody; only a verifier cancels them"


class BadQuantity(InvalidTransaction):
    code = "credits.bad_quantity"
    default_message = "a quantity is a positive number of whole tonnes within the block"


class InvalidRetirement(InvalidTransaction):
    code = "credits.invalid_retirement"
    default_message = "a retirement names its beneficiary, reason and claim period"


class InvalidCancellation(InvalidTransaction):
    code = "credits.invalid_cancellation"
    default_message = "a cancellation gives its reason (1-256 characters)"


class InvalidParams(InvalidTransaction):
    code = "credits.invalid_params"
    default_message = "the buffer share is 0-500,000 ppm"


class Locked(InvalidTransaction):
    code = "credits.locked"
    default_message = "the credits are offered in an open exchange order: cancel it first"
