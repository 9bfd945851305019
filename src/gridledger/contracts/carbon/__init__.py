"""Carbon: emission factors in force, scope 1 activity data, and what inventories read.

* :mod:`.keys`: every ``carbon/...`` state key, and nothing else builds them;
* :mod:`.records`: :class:`FactorSet` (with its electricity and fuel factors and their
  sources), :class:`RegionMap`, :class:`Activity`;
* :mod:`.factors`: ``carbon.record_factor_set`` and ``carbon.set_region_map`` (regulators) and
  the lookup every figure uses, :func:`factor_for` (province → regional grid → country);
* :mod:`.activity`: ``carbon.report_activity`` (any account, for its organisation),
  ``carbon.confirm_activity`` and ``carbon.reject_activity`` (carbon verifiers);
* :mod:`.errors`: the refusals, each with its ``carbon.*`` code.

Inventories (scope 2 by both methods, avoided emissions) are computed from metered data,
certificate claims and these factors by the carbon read model beside the chain
(:mod:`gridledger.readmodels.carbon`): it folds every committed block's readings and claims
into per-site and per-device monthly totals, so no inventory query reads raw readings, and
nothing a dashboard counts can change a state root.
"""

from gridledger.contracts.carbon import activity, factors, keys
from gridledger.contracts.carbon.activity import activities_of, month_bounds
from gridledger.contracts.carbon.factors import (
    factor_for,
    fallback_path,
    get_set,
    month_start,
    region_map,
    sets_of,
)
from gridledger.contracts.carbon.records import (
    Activity,
    ElectricityFactor,
    FactorLookup,
    FactorSet,
    FuelFactor,
    RegionMap,
    Source,
)

__all__ = [
    "Activity",
    "ElectricityFactor",
    "FactorLookup",
    "FactorSet",
    "FuelFactor",
    "RegionMap",
    "Source",
    "activities_of",
    "activity",
    "factor_for",
    "factors",
    "fallback_path",
    "get_set",
    "keys",
    "month_bounds",
    "month_start",
    "region_map",
    "sets_of",
]
