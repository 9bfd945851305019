"""What the demo's regulator puts on the chain: the region map and the factor sets in force,
built from the shipped emission factor library (:mod:`gridledger.factors`) by the SDK's
builders (:mod:`gridledger.sdk.carbon`), never from figures of its own.

* :func:`factor_sets`: one set per calendar year (1 January to 1 January, UTC) that a window
  touches, for a region with factors of its own in the library: its grid average, the residual
  mix the library gives for it (China publishes a national one: the average without electricity
  sold as non-fossil in market trades; its source names that geography), and every IPCC fuel
  default, all CO2 (China's announcements give CO2 only) at the combustion boundary;
* :func:`factor_year`: the data year a calendar year uses. Published grid factors lag their
  data year by about two years, so a year the library holds no factor for yet uses the latest
  earlier year it does hold (the earliest later one for a year before the library's first);
  every factor's source names its own year, so the substitution is disclosed wherever the
  factor is used.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from gridledger.factors import Gas, Library, NoFactor, lookup
from gridledger.sdk.carbon import factor_set_body, region_map_body

GAS: Gas = "CO2"

__all__ = ["GAS", "factor_set", "factor_sets", "factor_year", "region_map_body"]


def factor_year(library: Library, region: str, year: int) -> int:
    """The data year of the library's own grid-average factor for ``region`` used for
    ``year``: ``year`` itself if the library has it, else the latest earlier year, else the
    earliest later one.

    Raises:
        NoFactor: the library has no grid-average factor of ``region`` itself in any year.
    """
    years = sorted({f.year for f in library.factors if f.basis == "grid_average"})
    for candidate in [*reversed([y for y in years if y <= year]), *[y for y in years if y > year]]:
        try:
            found = lookup(library, region, candidate, "grid_average", gas=GAS)
        except NoFactor:
            continue
        if not found.fell_back:
            return candidate
    raise NoFactor(f"the library has no {GAS} grid-average factor of {region} in any year")


def factor_set(library: Library, region: str, year: int) -> dict[str, Any]:
    """The body of ``carbon.record_factor_set`` for ``region`` in calendar year ``year``, with
    the id ``<region>-<year>``."""
    return factor_set_body(
        region,
        factor_year(library, region, year),
        f"{year:04d}-01",
        f"{year + 1:04d}-01",
        f"{region}-{year}",
        gas=GAS,
        library=library,
    )


def factor_sets(library: Library, region: str, start_s: int, end_s: int) -> list[dict[str, Any]]:
    """One set for each calendar year (UTC) that ``start_s`` .. ``end_s`` touches."""
    first = dt.datetime.fromtimestamp(start_s, dt.UTC).year
    last = dt.datetime.fromtimestamp(end_s - 1, dt.UTC).year
    return [factor_set(library, region, year) for year in range(first, last + 1)]
