"""Projects and their verified reductions.

* ``credits.set_params`` (regulator): ``{"buffer_ppm"}``, the buffer pool's share of each
  issuance (0-500,000 ppm; 20,000 until set).
* ``credits.register_project`` (a producer of the plant's organisation): ``{"id", "name",
  "device", "methodology", "baseline", "monitoring_plan"}``. The device must be a solar,
  wind, hydro or geothermal plant (storage only shifts energy others generated), in no other
  project; the project gets the next registry number, which its serials carry.
* ``credits.verify_period`` (carbon verifier of another organisation): ``{"project", "id",
  "start_s", "end_s", "note"?}``: 1-12 whole months that have ended and overlap no other
  verified period of the project. Month by month, the reduction is the plant's metered
  generation (corrections applied, intervals without a reading counting zero) less the Wh
  already certified for that month (energy certificates and GECs: the same MWh never earns
  both), times the grid-average factor of the carbon factor set in force for the plant's
  region (:func:`~gridledger.contracts.carbon.factor_for`, with its fallback), rounded down
  once per month: ``credited_wh * g_per_mwh // 1,000,000``. ``verified_t`` is the sum's whole
  tonnes, rounded down. The months are marked credited for the device
  (``credits/credited/<device>/<month>``): from then on the certificates contract issues
  neither certificates nor GECs for them.
"""

from __future__ import annotations

import datetime as dt

from gridledger.contracts import metering, registry
from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.carbon import factor_for, month_start
from gridledger.contracts.certificates.index import device_month
from gridledger.contracts.credits import keys
from gridledger.contracts.credits.errors import (
    BadPeriod,
    DeviceInProject,
    ForeignDevice,
    IneligibleDevice,
    InvalidParams,
    InvalidProject,
    MixedGas,
    PeriodExists,
    PeriodOpen,
    PeriodOverlap,
    ProjectExists,
    SelfVerification,
    UnknownDevice,
    UnknownProject,
)
from gridledger.contracts.credits.records import (
    CreditParams,
    MonitoredMonth,
    MonitoringPeriod,
    Project,
)
from gridledger.state.state import StateReader, StateWriter, decode_record

G_PER_T = 1_000_000
WH_PER_MWH = 1_000_000
MAX_MONTHS = 12
ELIGIBLE = ("geothermal", "hydro", "solar_pv", "wind_offshore", "wind_onshore")


def params(view: StateReader) -> CreditParams:
    return view.get_record(keys.params(), CreditParams) or CreditParams()


class SetParams(Body):
    buffer_ppm: Int64

    def check(self) -> None:
        if not 0 <= self.buffer_ppm <= 500_000:
            raise InvalidParams(f"buffer_ppm {self.buffer_ppm} out of 0-500,000")


@kind("credits.set_params", SetParams, roles=("regulator",))
def apply_set_params(state: StateWriter, ctx: Context, body: SetParams) -> None:
    """Set the buffer pool's share of every later issuance (regulators)."""
    state.put(keys.params(), CreditParams(buffer_ppm=body.buffer_ppm, height=ctx.height))
    ctx.emit("credits.params_set", buffer_ppm=body.buffer_ppm)


def _text(value: str, what: str, most: int) -> None:
    if not 1 <= len(value) <= most:
        raise InvalidProject(f"{what} is 1-{most} characters")


class RegisterProject(Body):
    id: str
    name: str
    device: str
    methodology: str
    baseline: str
    monitoring_plan: str

    def check(self) -> None:
        registry.check_id(self.id, "project id")
        _text(self.name, "name", 128)
        _text(self.methodology, "methodology", 64)
        _text(self.baseline, "baseline", 512)
        _text(self.monitoring_plan, "monitoring_plan", 256)


def get_project(view: StateReader, project_id: str) -> Project | None:
    return view.get_record(keys.project(project_id), Project)


def require_project(view: StateReader, project_id: str) -> Project:
    found = get_project(view, project_id)
    if found is None:
        raise UnknownProject(f"no project {project_id!r}")
    return found


def project_by_number(view: StateReader, number: int) -> Project | None:
    project_id = view.get(keys.project_no(number))
    return None if project_id is None else get_project(view, project_id.decode())


@kind("credits.register_project", RegisterProject, roles=("producer",))
def apply_register_project(state: StateWriter, ctx: Context, body: RegisterProject) -> None:
    """Register a plant as a mitigation project under a named methodology (its owner)."""
    if state.get(keys.project(body.id)) is not None:
        raise ProjectExists(f"project {body.id} exists")
    device = registry.get_device(state, body.device)
    if device is None:
        raise UnknownDevice(f"no registered device {body.device!r}")
    org = registry.sender_org(state, ctx)
    if device.owner_org != org:
        raise ForeignDevice(f"device {device.id} belongs to {device.owner_org}, not {org}")
    if device.technology not in ELIGIBLE:
        raise IneligibleDevice(f"device {device.id} is {device.technology}")
    taken = state.get(keys.device(device.id))
    if taken is not None:
        raise DeviceInProject(f"device {device.id} is in project {taken.decode()}")
    number = state.get_int(keys.project_count()) + 1
    state.set_int(keys.project_count(), number)
    state.set(keys.project_no(number), body.id.encode())
    state.set(keys.device(device.id), body.id.encode())
    state.put(
        keys.project(body.id),
        Project(
            id=body.id, number=number, name=body.name, org=org, owner=ctx.sender,
            device=device.id, technology=device.technology, country=device.country,
            grid_region=device.grid_region, methodology=body.methodology,
            baseline=body.baseline, monitoring_plan=body.monitoring_plan,
            registered_height=ctx.height,
        ),
    )  # fmt: skip
    ctx.emit("credits.project_registered", id=body.id, number=number, device=device.id)


def is_month_start(time_s: int) -> bool:
    return time_s >= 0 and month_start(time_s) == time_s


def _month(time_s: int) -> str:
    return dt.datetime.fromtimestamp(time_s, dt.UTC).strftime("%Y-%m")


def months_of(start_s: int, end_s: int) -> list[tuple[str, int, int]]:
    """``(YYYY-MM, start, end)`` of each month in ``[start_s, end_s)`` (both month starts)."""
    out = []
    at = start_s
    while at < end_s:
        at_dt = dt.datetime.fromtimestamp(at, dt.UTC)
        after = dt.datetime(at_dt.year + at_dt.month // 12, at_dt.month % 12 + 1, 1, tzinfo=dt.UTC)
        nxt = int(after.timestamp())
        out.append((_month(at), at, nxt))
        at = nxt
    return out


class VerifyPeriod(Body):
    project: str
    id: str
    start_s: Int64
    end_s: Int64
    note: str | None = None

    def check(self) -> None:
        registry.check_id(self.id, "monitoring period id")
        if not (is_month_start(self.start_s) and is_month_start(self.end_s)):
            raise BadPeriod(f"{self.start_s}..{self.end_s}: whole months only")
        if self.end_s <= self.start_s or len(months_of(self.start_s, self.end_s)) > MAX_MONTHS:
            raise BadPeriod(f"{self.start_s}..{self.end_s}: 1-{MAX_MONTHS} months, start first")
        if self.note is not None and not 1 <= len(self.note) <= 256:
            raise BadPeriod("a note is 1-256 characters")


def periods_of(view: StateReader, project_id: str) -> list[MonitoringPeriod]:
    """A project's verified monitoring periods, by id."""
    return [decode_record(v, MonitoringPeriod) for _, v in view.scan(keys.periods_of(project_id))]


def not_own(view: StateReader, ctx: Context, project: Project) -> None:
    """Refuse a carbon verifier of the project's own organisation."""
    if registry.sender_org(view, ctx) == project.org:
        raise SelfVerification(f"{ctx.sender} is of {project.org}, which owns {project.id}")


def monitored_month(view: StateReader, project: Project, month: str, start_s: int,
                    end_s: int) -> tuple[MonitoredMonth, str]:  # fmt: skip
    """One month's reduction by the documented rule (see the module docstring), and the gas
    of the factor used."""
    measured = metering.measured_wh(view, "device", project.device, start_s, end_s)
    certified = device_month(view, project.device, month)
    certified_wh = certified.issued_wh + certified.gec_wh
    credited = max(0, measured.energy_wh - certified_wh)
    found = factor_for(view, project.grid_region, start_s)
    g_per_mwh = found.set.grid_average.g_per_mwh
    return MonitoredMonth(
        month=month, measured_wh=measured.energy_wh, certified_wh=certified_wh,
        credited_wh=credited, g_per_mwh=g_per_mwh, factor_set=found.set.id,
        reduction_g=credited * g_per_mwh // WH_PER_MWH,
        missing_intervals=sum(m.expected - m.have for m in measured.missing),
    ), found.set.gas  # fmt: skip


@kind("credits.verify_period", VerifyPeriod, roles=("carbon_verifier",))
def apply_verify_period(state: StateWriter, ctx: Context, body: VerifyPeriod) -> None:
    """Confirm a monitoring period's reductions from metered generation (carbon verifiers)."""
    project = require_project(state, body.project)
    not_own(state, ctx, project)
    if ctx.time_s < body.end_s:
        raise PeriodOpen(f"the period ends at {body.end_s}, after block time {ctx.time_s}")
    if state.get(keys.period(project.id, body.id)) is not None:
        raise PeriodExists(f"{project.id} has a period {body.id}")
    for other in periods_of(state, project.id):
        if other.start_s < body.end_s and body.start_s < other.end_s:
            raise PeriodOverlap(f"period {other.id} covers {other.start_s}..{other.end_s}")
    months = []
    gases = []
    for month, start, end in months_of(body.start_s, body.end_s):
        record, gas = monitored_month(state, project, month, start, end)
        months.append(record)
        gases.append(gas)
    if len(set(gases)) > 1:
        raise MixedGas(f"the factor sets of {body.id} mix {' and '.join(sorted(set(gases)))}")
    reduction = sum(m.reduction_g for m in months)
    verified = reduction // G_PER_T
    state.put(
        keys.period(project.id, body.id),
        MonitoringPeriod(
            id=body.id, project=project.id, start_s=body.start_s, end_s=body.end_s,
            months=months, gas=gases[0], reduction_g=reduction, verified_t=verified,
            verifier=ctx.sender, height=ctx.height, note=body.note,
        ),
    )  # fmt: skip
    marker = f"{project.id}/{body.id}".encode()
    for counted in months:
        state.set(keys.credited_month(project.device, counted.month), marker)
    project.verified_t += verified
    state.put(keys.project(project.id), project)
    ctx.emit("credits.period_verified", project=project.id, id=body.id, verified_t=verified)
