"""Credits: carbon credits from metered, verified emission reductions, in serial blocks.

* :mod:`.keys`: every ``credits/...`` state key, and nothing else builds them;
* :mod:`.records`: :class:`Project`, :class:`MonitoringPeriod` (with its months),
  :class:`SerialBlock`, :class:`Retirement`, :class:`CreditParams`;
* :mod:`.projects`: ``credits.set_params`` (regulators), ``credits.register_project`` (the
  plant's owner), ``credits.verify_period`` (carbon verifiers): reductions = metered
  generation not otherwise certified times the displaced grid-average factor of the carbon
  contract's factor set in force;
* :mod:`.issuance`: ``credits.issue`` (carbon verifiers): a batch of the project's next
  serial units, the buffer pool's share apart, never beyond the verified whole tonnes;
* :mod:`.lifecycle`: ``credits.transfer``, ``credits.split``, ``credits.retire`` (holders),
  ``credits.cancel`` (carbon verifiers), and :func:`retire_units`, which the allowances
  contract calls when credits are surrendered for compliance;
* :mod:`.trading`: locking blocks in exchange sell orders, delivering and unlocking them;
* :mod:`.blocks`: finding, splitting and writing blocks; :mod:`.queries`: what pages read;
* :mod:`.errors`: the refusals, each with its ``credits.*`` code.

Invariants (property-tested): a project's blocks partition its units ``1..last_unit``, so
no unit is issued twice and every unit is in exactly one state (active, buffer, locked,
retired, cancelled); transfers and splits conserve tonnes; retired and cancelled blocks never
change.
"""

from gridledger.contracts.credits import (
    blocks,
    issuance,
    keys,
    lifecycle,
    projects,
    queries,
    trading,
)
from gridledger.contracts.credits.blocks import find, parse_serial
from gridledger.contracts.credits.lifecycle import Retire, held_block, retire_units
from gridledger.contracts.credits.projects import (
    get_project,
    params,
    periods_of,
    project_by_number,
    require_project,
)
from gridledger.contracts.credits.queries import (
    ProjectTotals,
    blocks_of_project,
    blocks_page,
    get_retirement,
    held_by,
    list_projects,
    list_retirements,
    lookup_serial,
    project_totals,
    retirement_count,
)
from gridledger.contracts.credits.records import (
    CreditParams,
    MonitoredMonth,
    MonitoringPeriod,
    Project,
    Retirement,
    SerialBlock,
)

__all__ = [
    "CreditParams",
    "MonitoredMonth",
    "MonitoringPeriod",
    "Project",
    "ProjectTotals",
    "Retire",
    "Retirement",
    "SerialBlock",
    "blocks",
    "blocks_of_project",
    "blocks_page",
    "find",
    "get_project",
    "get_retirement",
    "held_block",
    "held_by",
    "issuance",
    "keys",
    "lifecycle",
    "list_projects",
    "list_retirements",
    "lookup_serial",
    "params",
    "parse_serial",
    "periods_of",
    "project_by_number",
    "project_totals",
    "projects",
    "queries",
    "require_project",
    "retire_units",
    "retirement_count",
    "trading",
]
