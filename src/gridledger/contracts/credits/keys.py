"""Every state key of credits. Nothing else builds them: other code calls these.

* ``credits/params``: the :class:`~.records.CreditParams` (buffer share);
* ``credits/project/<id>``: a :class:`~.records.Project`;
* ``credits/project_no/<number>``: the id of the project with that number (8 digits), which
  serials name;
* ``credits/projects``: how many projects were registered (the last number handed out);
* ``credits/device/<device>``: the id of the project a device is registered in (one each);
* ``credits/period/<project>/<id>``: a verified :class:`~.records.MonitoringPeriod`;
* ``credits/credited/<device>/<YYYY-MM>``: ``<project>/<period>`` of the verified period
  that counted the device's month, so the certificates contract issues no certificate for
  energy credits already stand for;
* ``credits/block/<number>/<first>``: a :class:`~.records.SerialBlock` of the project with
  that number, by its first unit (12 digits), so a project's blocks scan in serial order;
* ``credits/held/<account>/<number>/<first>``: ``1`` while the account holds that active
  block (the holdings index);
* ``credits/locked/<order>/<number>/<first>``: ``1`` while that block is locked in exchange
  sell order ``<order>`` (12 digits), so the order's blocks scan in serial order;
* ``credits/retirement/<n>``: the :class:`~.records.Retirement` numbered ``n`` (12 digits);
* ``credits/retirements``: how many retirements were recorded.
"""

from __future__ import annotations


def _no(number: int) -> bytes:
    return b"%08d" % number


def _unit(first: int) -> bytes:
    return b"%012d" % first


def params() -> bytes:
    return b"credits/params"


def project(project_id: str) -> bytes:
    return projects() + project_id.encode()


def projects() -> bytes:
    """Prefix of every project, in id order."""
    return b"credits/project/"


def project_no(number: int) -> bytes:
    return b"credits/project_no/" + _no(number)


def project_count() -> bytes:
    return b"credits/projects"


def device(device_id: str) -> bytes:
    return b"credits/device/" + device_id.encode()


def period(project_id: str, period_id: str) -> bytes:
    return periods_of(project_id) + period_id.encode()


def periods_of(project_id: str) -> bytes:
    return b"credits/period/" + project_id.encode() + b"/"


def credited_month(device_id: str, month: str) -> bytes:
    return b"credits/credited/" + device_id.encode() + b"/" + month.encode()


def block(number: int, first: int) -> bytes:
    return blocks_of(number) + _unit(first)


def blocks_of(number: int) -> bytes:
    """Prefix of one project's serial blocks, in serial order."""
    return blocks() + _no(number) + b"/"


def blocks() -> bytes:
    """Prefix of every serial block."""
    return b"credits/block/"


def unit_part(first: int) -> bytes:
    """The part of a block's key after :func:`blocks_of`, for range scans."""
    return _unit(first)


def held(account: str, number: int, first: int) -> bytes:
    return held_by(account) + _no(number) + b"/" + _unit(first)


def held_by(account: str) -> bytes:
    return holdings() + account.encode() + b"/"


def holdings() -> bytes:
    """Prefix of the whole holdings index."""
    return b"credits/held/"


def retirement(n: int) -> bytes:
    return retirements() + _unit(n)


def retirements() -> bytes:
    """Prefix of every retirement, in the order they were recorded."""
    return b"credits/retirement/"


def retirement_part(n: int) -> bytes:
    """The part of a retirement's key after :func:`retirements`, for range scans."""
    return _unit(n)


def retirement_count() -> bytes:
    return b"credits/retirements"


def locked(order: int, number: int, first: int) -> bytes:
    return locked_in(order) + _no(number) + b"/" + _unit(first)


def locked_in(order: int) -> bytes:
    """Prefix of the blocks locked in one exchange order, in serial order."""
    return locks() + _unit(order) + b"/"


def locks() -> bytes:
    """Prefix of the whole locks index."""
    return b"credits/locked/"
