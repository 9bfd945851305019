"""The chain's read models: projections of committed blocks that pages and queries read.

See :mod:`gridledger.state.readmodels` for how they are kept and rebuilt. Every node keeps the
models listed in :func:`default_models`:

* :mod:`.market`: what each account and plant traded, and each account's pairings;
* :mod:`.certificates`: every certificate bundle by holder, status, beneficiary and time;
* :mod:`.carbon`: consumption, hourly-matched and claimed energy per site and month, and
  generation per device and month (months of the chain's time zone), what carbon
  inventories read;
* :mod:`.credits`: each credit project's tonnes by state (active, buffer, retired, cancelled).
"""

from __future__ import annotations

from gridledger.core.localtime import DEFAULT_ZONE
from gridledger.readmodels.carbon import CarbonTotals
from gridledger.readmodels.certificates import CertificateIndex
from gridledger.readmodels.credits import CreditTotals
from gridledger.readmodels.market import MarketTotals
from gridledger.state.readmodels import ReadModel


def default_models(zone: str = DEFAULT_ZONE) -> list[ReadModel]:
    """A fresh instance of every read model a node keeps, for a chain in time zone ``zone``
    (its genesis ``time_zone``; the carbon model counts that zone's months)."""
    return [MarketTotals(), CertificateIndex(), CarbonTotals(zone), CreditTotals()]
