"""Metering's records: stored readings, corrections and parameters, and what its queries
return (readings with their meter, start and correction; measured energy).

Units: energy in Wh, times in Unix seconds (UTC), heights in blocks.
"""

from __future__ import annotations

from gridledger.contracts.base import Record


class Reading(Record):
    """A meter's reading of one interval as the gateway reported it
    (``metering/reading/<meter>/<start>``).

    Attributes:
        energy_wh: Energy in the interval, Wh (generated or consumed, by the meter's kind).
        length_s: Length of the interval, s (the meter's interval_s).
        gateway: The account that reported it.
        height: The block that stored it.
    """

    energy_wh: int
    length_s: int
    gateway: str
    height: int


class Correction(Record):
    """A grid operator's correction of a reading (``metering/correction/<meter>/<start>``);
    the reading itself stays as reported.

    Attributes:
        energy_wh: The corrected energy, Wh.
        original_wh: The reading's energy as reported, Wh.
        reason: Why it was corrected.
        by: The grid operator account that corrected it.
        height: The block that stored the correction.
    """

    energy_wh: int
    original_wh: int
    reason: str
    by: str
    height: int


class Params(Record):
    """The plausibility parameters (``metering/params``; these defaults until an operator
    sets them).

    Attributes:
        generation_margin_pct: How far above nameplate output a reading may go, percent
            (100-200).
        degradation_permille_per_year: Expected loss of output per year of age, per mille
            (0-100).
    """

    generation_margin_pct: int = 110
    degradation_permille_per_year: int = 5


class MeterReading(Reading):
    """A stored reading with its meter, its interval start and the grid operator's correction
    if there is one.

    Attributes:
        meter: The meter's id.
        start_s: Interval start, Unix seconds UTC.
        correction: The correction, or null.
        corrected_wh: The corrected energy in Wh, or null.
    """

    meter: str
    start_s: int
    correction: Correction | None
    corrected_wh: int | None

    def effective_wh(self) -> int:
        """The energy after any correction, Wh."""
        return self.energy_wh if self.corrected_wh is None else self.corrected_wh


class MissingReadings(Record):
    """A meter short of readings for a window.

    Attributes:
        meter: The meter's id.
        have: Readings it has in the window.
        expected: Readings of its interval that fit in the window.
    """

    meter: str
    have: int
    expected: int

    def describe(self) -> str:
        return f"meter {self.meter!r} has {self.have} of {self.expected} readings"


class Measured(Record):
    """Energy measured over a window, and what is missing for the data to be complete.

    Attributes:
        energy_wh: Sum of the readings whose interval lies in the window, corrections applied.
        missing: The meters short of readings, by meter id; empty when the data is complete.
    """

    energy_wh: int
    missing: list[MissingReadings]

    @property
    def complete(self) -> bool:
        return not self.missing


class TotalsBucket(Record):
    """Energy of the readings starting in one aligned bucket.

    Attributes:
        start_s: Bucket start, Unix seconds UTC, a multiple of the bucket length.
        energy_wh: Sum of the readings starting in the bucket, corrections applied, Wh.
    """

    start_s: int
    energy_wh: int
