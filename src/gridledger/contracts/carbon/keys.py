"""Every state key of carbon. Nothing else builds them: other code calls these.

* ``carbon/factor_set/<region>/<start>``: a :class:`~.records.FactorSet` in force for the
  region from ``start`` (Unix seconds UTC, 10 digits) to its ``end_s``;
* ``carbon/factor_set_id/<id>``: ``<region>/<start>`` of the set with that id (ids are unique);
* ``carbon/regions``: the :class:`~.records.RegionMap` (province → regional grid), what the
  factor lookup falls back along;
* ``carbon/activity/<org>/<id>``: an organisation's scope 1 :class:`~.records.Activity`.
"""

from __future__ import annotations


def _time(value: int) -> bytes:
    return b"%010d" % value


def factor_set(region: str, start_s: int) -> bytes:
    return factor_sets_of(region) + _time(start_s)


def factor_sets() -> bytes:
    """Prefix of every factor set."""
    return b"carbon/factor_set/"


def factor_sets_of(region: str) -> bytes:
    """Prefix of one region's factor sets, in time order."""
    return b"carbon/factor_set/" + region.encode() + b"/"


def factor_set_id(set_id: str) -> bytes:
    return b"carbon/factor_set_id/" + set_id.encode()


def regions() -> bytes:
    return b"carbon/regions"


def activity(org: str, activity_id: str) -> bytes:
    return activities_of(org) + activity_id.encode()


def activities_of(org: str) -> bytes:
    return b"carbon/activity/" + org.encode() + b"/"


def activities() -> bytes:
    """Prefix of every activity record."""
    return b"carbon/activity/"
