"""Granular energy certificates: the registry's views, hourly matching, claim statements,
exports in EnergyTag field names, China GECs and storage.

Bundles, issuances, GECs, storage charges, matching and statements are read from the committed
state through the certificates contract's queries. Listing bundles by holder, status,
beneficiary or production time goes through the certificate index beside the chain
(:mod:`gridledger.readmodels.certificates`), which finds the ids; the bundles themselves are
then read from the state (a bundle the index lists but the state shows otherwise is left out).
Listing one device's bundles with no other filter reads the device's bundles from the state
directly. Every action is a transaction (``POST /v1/txs``, kinds ``certificates.*``).

Statuses are read at the time of the last committed block: a live bundle past its expiry is
``expired`` whether or not a ``certificates.expire`` has marked it; each bundle view carries
that as ``current_status`` beside the stored ``status``. Times are Unix seconds UTC; energy in
Wh; a bundle's id is ``<device>:<range_start>``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.responses import Response

from gridledger.api.context import ApiContext
from gridledger.api.errors import InvalidRequest
from gridledger.api.render import JSONBytes
from gridledger.api.routes.assets import (
    DeviceId,
    require_account,
    require_device,
    require_site,
)
from gridledger.api.routes.readings import MAX_START
from gridledger.api.routes.state import AccountId
from gridledger.api.schemas import ERROR_RESPONSES, model_of
from gridledger.contracts import registry
from gridledger.contracts.base import page_of
from gridledger.contracts.certificates import (
    Bundle,
    DeviceLedger,
    Gec,
    GecExport,
    Matching,
    SchemeParams,
    Status,
    StorageCharge,
    StorageLedger,
    bundles,
    device_ledger,
    get_bundle,
    issuances,
    keys,
    matching,
    statement,
    status_at,
)
from gridledger.contracts.certificates import gec as gecs
from gridledger.contracts.certificates import queries as cert_queries
from gridledger.contracts.certificates.lifecycle import acceptance_of
from gridledger.contracts.certificates.records import Acceptance, Issuance
from gridledger.contracts.certificates.storage import storage_ledger
from gridledger.core.errors import NotFound
from gridledger.documents import energytag
from gridledger.readmodels import certificates as index
from gridledger.state.state import StateReader, decode_record

MAX_PAGE = 1000
"""Bundles, GECs or storage charges in one page."""
MAX_EXPORT = 10_000
"""Bundles in one export page."""
MAX_STATEMENT = 10_000
"""Claimed bundles one statement lists; a longer one is refused (ask for a shorter period)."""
MAX_WINDOW_S = 366 * 86_400
"""The longest period of matching or of a device's issuances."""
MAX_BUNDLE_ID = 64 + 1 + 19
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

BundleIdPath = Annotated[
    str,
    Path(max_length=MAX_BUNDLE_ID, description="Bundle id: `<device>:<range_start>`."),
]
DeviceQ = Annotated[
    str | None,
    Query(pattern=registry.ID_RE.pattern, description="Only bundles of this device (plant)."),
]
OwnerQ = Annotated[
    str | None,
    Query(pattern=registry.ID_RE.pattern, description="Only bundles this account holds."),
]
BeneficiaryQ = Annotated[
    str | None,
    Query(
        pattern=registry.ID_RE.pattern,
        description="Only bundles cancelled (or claimed) for this account.",
    ),
]
StatusQ = Annotated[
    Status | None,
    Query(description="Only bundles in this status now (a live bundle past expiry: expired)."),
]
StartQ = Annotated[
    int | None,
    Query(ge=0, le=MAX_START, description="Production starting at or after this, Unix s."),
]
EndQ = Annotated[
    int | None,
    Query(ge=0, le=MAX_START, description="Production starting before this, Unix s."),
]
AfterQ = Annotated[
    str | None,
    Query(max_length=MAX_BUNDLE_ID, description="Start after this bundle id (the last `next`)."),
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"1 to {MAX_PAGE} per page.")]
ExportLimit = Annotated[
    int, Query(ge=1, le=MAX_EXPORT, description=f"1 to {MAX_EXPORT} bundles per export.")
]
PeriodStart = Annotated[
    int, Query(ge=0, le=MAX_START, description="Period start, Unix seconds UTC.")
]
PeriodEnd = Annotated[
    int, Query(ge=0, le=MAX_START, description="Period end (exclusive), Unix seconds UTC.")
]


# response shapes (derived from the contract's records) ---------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


CertificateView = create_model(
    "CertificateView",
    __base__=model_of(Bundle, "CertificateBundle"),
    __doc__="A certificate bundle as stored, with its status now.",
    current_status=(
        Status,
        Field(description="The status at the last block's time: a live bundle past its expiry "
                          "reads expired."),
    ),
)  # fmt: skip


class CertificatePage(_Strict):
    certificates: list[CertificateView] = Field(  # type: ignore[valid-type]
        description="By device id, then range_start."
    )
    next: str | None = Field(description="The `after` of the next page; null after the last.")


class StatusTotalView(_Strict):
    status: str = Field(description="The status at the last block's time.")
    bundles: int
    quantity_wh: int


class CertificateTotals(_Strict):
    time_s: int = Field(description="The time statuses are read at (the last block's).")
    statuses: list[StatusTotalView] = Field(description="By status name.")
    quantity_wh: int = Field(description="Wh of every status together.")


MatchingView = create_model(
    "MatchingView",
    __base__=model_of(Matching, "CertificateMatching"),
    __doc__="A site's hourly (24/7) and annual-volume matching over a period.",
    hourly_score=(str, Field(description='hourly_score_ppm as a decimal fraction, "0.750000".')),
    volume_score=(str, Field(description='volume_score_ppm as a decimal fraction, "1.000000".')),
)


class StatementView(_Strict):
    beneficiary: str
    start_s: int
    end_s: int
    claimed_wh: int = Field(description="Wh claimed for the beneficiary, production in period.")
    by_site: dict[str, int] = Field(description="Wh claimed per consumption site.")
    bundles: list[CertificateView] = Field(  # type: ignore[valid-type]
        description="The claimed bundles, by production start then id."
    )


class ExportPage(_Strict):
    fields: list[str] = Field(description="Every column, in order (EnergyTag names first).")
    certificates: list[dict[str, Any]] = Field(description="One row per bundle.")
    next: str | None = Field(description="The `after` of the next page; null after the last.")


class DeviceIssuances(_Strict):
    device: str
    ledger: model_of(DeviceLedger, "CertificateDeviceLedger")  # type: ignore[valid-type]
    issuances: list[model_of(Issuance, "CertificateIssuance")] = Field(  # type: ignore[valid-type]
        description="Issuances with interval starts in [start, end), by start."
    )


class GecPage(_Strict):
    gecs: list[model_of(Gec, "GecRecord")]  # type: ignore[valid-type]
    next: str | None = Field(description="The `after` of the next page; null after the last.")


class StorageView(_Strict):
    device: str
    ledger: model_of(StorageLedger)  # type: ignore[valid-type]
    left_wh: int = Field(description="Charged Wh neither discharged nor lost.")
    charges: list[model_of(StorageCharge)] = Field(  # type: ignore[valid-type]
        description="Charge records by seq (oldest first)."
    )
    next: int | None = Field(description="The `after` (a seq) of the next page; null after last.")


class AcceptanceView(_Strict):
    account: str
    acceptance: model_of(Acceptance, "CertificateAcceptance")  # type: ignore[valid-type]


# helpers -------------------------------------------------------------------------------------
def ppm_text(ppm: int) -> str:
    """Parts per million as an exact decimal fraction: 750000 -> ``"0.750000"``."""
    return f"{ppm // 1_000_000}.{ppm % 1_000_000:06d}"


def parse_id(value: str, where: str) -> tuple[str, int]:
    """A bundle id's device and range start; :class:`InvalidRequest` naming ``where``."""
    parsed = bundles.parse_bundle_id(value)
    if parsed is None or not registry.ID_RE.match(parsed[0]):
        raise InvalidRequest(
            f"{where}: {value[:MAX_BUNDLE_ID]!r} is not a bundle id (<device>:<range_start>)"
        )
    return parsed


def _window(start: int | None, end: int | None, most: int | None = None) -> None:
    if start is not None and end is not None and end <= start:
        raise InvalidRequest(f"query.end: {end} must be after start ({start})")
    if most is not None and start is not None and end is not None and end - start > most:
        raise InvalidRequest(f"query.end: a period is at most {most // 86_400} days")


def bundle_view(bundle: Bundle, time_s: int) -> dict[str, Any]:
    """A bundle as the API sends it: its stored fields and ``current_status``."""
    return {**msgspec.to_builtins(bundle), "current_status": status_at(bundle, time_s)}


def _matches(b: Bundle, f: index.BundleFilter) -> bool:
    beneficiary = None if b.cancellation is None else b.cancellation.beneficiary
    return (
        (f.device is None or b.device == f.device)
        and (f.owner is None or b.owner == f.owner)
        and (f.beneficiary is None or beneficiary == f.beneficiary)
        and (f.statuses is None or status_at(b, f.time_s) in f.statuses)
        and (f.start_s is None or b.production_start_s >= f.start_s)
        and (f.end_s is None or b.production_start_s < f.end_s)
    )


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    r = APIRouter(tags=["certificates"])

    def now_s() -> int:
        return node.tip.time // 1000

    def check_filter(
        view: StateReader,
        device: str | None,
        owner: str | None,
        beneficiary: str | None,
        status: Status | None,
        start: int | None,
        end: int | None,
    ) -> index.BundleFilter:
        _window(start, end)
        if device is not None:
            require_device(view, device)
        for account in (owner, beneficiary):
            if account is not None:
                require_account(view, account)
        statuses = None if status is None else (status,)
        return index.BundleFilter(device, owner, beneficiary, statuses, start, end, now_s())

    def select(
        view: StateReader, f: index.BundleFilter, after: str | None, limit: int
    ) -> tuple[list[Bundle], str | None]:
        """A page of the bundles ``f`` matches and the ``after`` of the next page."""
        first = None if after is None else parse_id(after, "query.after")
        plain = f.owner is None and f.beneficiary is None and f.statuses is None
        if f.device is not None and plain and f.start_s is None and f.end_s is None:
            # one device's bundles: its own keys in the state, in id order
            if first is not None and first[0] != f.device:
                raise InvalidRequest(f"query.after: {after!r} is not a bundle of {f.device}")
            page = cert_queries.bundles_of_device(view, f.device, after, limit)
            return page.items, page.next
        ids = index.bundle_ids(node.readmodels.reader(), f, first, limit + 1)
        more = len(ids) > limit
        ids = ids[:limit]
        # the index commits a moment before the state: a bundle that the state does not show
        # as the index does yet is left out rather than shown half-changed
        found = [b for b in (get_bundle(view, i) for i in ids) if b is not None and _matches(b, f)]
        return found, ids[-1] if more else None

    # bundles -------------------------------------------------------------------------------
    @r.get(
        "/v1/certificates",
        response_model=CertificatePage,
        responses=ERROR_RESPONSES,
        summary="Certificate bundles",
    )
    def list_certificates(
        device: DeviceQ = None,
        owner: OwnerQ = None,
        beneficiary: BeneficiaryQ = None,
        status: StatusQ = None,
        start: StartQ = None,
        end: EndQ = None,
        after: AfterQ = None,
        limit: Limit = 100,
    ) -> Response:
        """Bundles by device id then range start, filtered by plant, holder, beneficiary,
        status (now) and production start (``start <= production_start_s < end``); ``next``
        pages on. An unknown device or account is ``404 not_found``."""
        view = node.state.view
        f = check_filter(view, device, owner, beneficiary, status, start, end)
        found, nxt = select(view, f, after, limit)
        return JSONBytes({"certificates": [bundle_view(b, f.time_s) for b in found], "next": nxt})

    @r.get(
        "/v1/certificates/totals",
        response_model=CertificateTotals,
        responses=ERROR_RESPONSES,
        summary="Certificate totals by status",
    )
    def certificate_totals(
        device: DeviceQ = None,
        owner: OwnerQ = None,
        beneficiary: BeneficiaryQ = None,
        start: StartQ = None,
        end: EndQ = None,
    ) -> Response:
        """How many bundles and Wh are in each status now, among those of a plant, holder,
        beneficiary or production window (all bundles when none is given)."""
        view = node.state.view
        f = check_filter(view, device, owner, beneficiary, None, start, end)
        rows = index.totals(node.readmodels.reader(), f)
        return JSONBytes(
            {
                "time_s": f.time_s,
                "statuses": [msgspec.structs.asdict(t) for t in rows],
                "quantity_wh": sum(t.quantity_wh for t in rows),
            }
        )

    def export_rows(
        device: str | None,
        owner: str | None,
        beneficiary: str | None,
        status: Status | None,
        start: int | None,
        end: int | None,
        after: str | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], str | None]:
        view = node.state.view
        f = check_filter(view, device, owner, beneficiary, status, start, end)
        found, nxt = select(view, f, after, limit)
        devices: dict[str, registry.Device | None] = {}
        for b in found:
            if b.device not in devices:
                devices[b.device] = registry.get_device(view, b.device)
        return [energytag.energytag_row(b, devices[b.device], f.time_s) for b in found], nxt

    @r.get(
        "/v1/certificates/export.csv",
        response_class=Response,
        responses={
            200: {"content": {"text/csv": {}}, "description": "EnergyTag CSV"},
            **ERROR_RESPONSES,
        },
        summary="Export bundles as CSV (EnergyTag field names)",
    )
    def export_csv(
        device: DeviceQ = None,
        owner: OwnerQ = None,
        beneficiary: BeneficiaryQ = None,
        status: StatusQ = None,
        start: StartQ = None,
        end: EndQ = None,
        after: AfterQ = None,
        limit: ExportLimit = 1000,
    ) -> Response:
        """The bundles ``GET /v1/certificates`` lists with the same filters, as CSV with a
        header row of EnergyTag GC registry field names, then ``gridledger_`` columns
        (``docs/api.md``). The next page's ``after`` is in the ``X-Next-After`` header
        (absent after the last)."""
        rows, nxt = export_rows(device, owner, beneficiary, status, start, end, after, limit)
        headers = {"Content-Disposition": 'attachment; filename="certificates.csv"'}
        if nxt is not None:
            headers["X-Next-After"] = nxt
        return Response(
            energytag.to_csv(rows), media_type="text/csv; charset=utf-8", headers=headers
        )

    @r.get(
        "/v1/certificates/export.json",
        response_model=ExportPage,
        responses=ERROR_RESPONSES,
        summary="Export bundles as JSON (EnergyTag field names)",
    )
    def export_json(
        device: DeviceQ = None,
        owner: OwnerQ = None,
        beneficiary: BeneficiaryQ = None,
        status: StatusQ = None,
        start: StartQ = None,
        end: EndQ = None,
        after: AfterQ = None,
        limit: ExportLimit = 1000,
    ) -> Response:
        """The rows of ``export.csv`` as JSON objects (booleans and nulls kept), with the
        column order in ``fields`` and the next page's ``after`` in ``next``."""
        rows, nxt = export_rows(device, owner, beneficiary, status, start, end, after, limit)
        return JSONBytes({"fields": list(energytag.FIELDS), "certificates": rows, "next": nxt})

    # matching and statements -----------------------------------------------------------------
    @r.get(
        "/v1/certificates/matching",
        response_model=MatchingView,
        responses=ERROR_RESPONSES,
        summary="A site's hourly (24/7) matching",
    )
    def site_matching(
        site: Annotated[str, Query(pattern=registry.ID_RE.pattern, description="The site.")],
        start: PeriodStart,
        end: PeriodEnd,
    ) -> Response:
        """For each hour of ``[start, end)`` (widened to whole hours, at most 366 days), the
        site's metered consumption, the Wh of certificates produced that hour and claimed for
        the site, and their minimum; the 24/7 score (matched / consumed) beside the
        annual-volume share (min(claimed, consumed) / consumed), in ppm and as decimals.
        Hours with neither consumption nor claims are left out."""
        view = node.state.view
        _window(start, end, MAX_WINDOW_S)
        require_site(view, site)
        found = matching(view, site, start, end)
        return JSONBytes(
            {
                **msgspec.structs.asdict(found),
                "hours": [msgspec.structs.asdict(h) for h in found.hours],
                "hourly_score": ppm_text(found.hourly_score_ppm),
                "volume_score": ppm_text(found.volume_score_ppm),
            }
        )

    @r.get(
        "/v1/certificates/statement",
        response_model=StatementView,
        responses=ERROR_RESPONSES,
        summary="A beneficiary's claim statement",
    )
    def claim_statement(
        beneficiary: Annotated[
            str, Query(pattern=registry.ID_RE.pattern, description="The beneficiary account.")
        ],
        start: PeriodStart,
        end: PeriodEnd,
    ) -> Response:
        """Every bundle claimed for ``beneficiary`` whose production starts in
        ``[start, end)``, with the Wh claimed in total and per site. A period holding more
        than 10,000 claimed bundles is refused: ask for a shorter one."""
        view = node.state.view
        _window(start, end)
        require_account(view, beneficiary)
        found = statement(view, beneficiary, start, end, MAX_STATEMENT + 1)
        if len(found.bundles) > MAX_STATEMENT:
            raise InvalidRequest(
                f"more than {MAX_STATEMENT} bundles were claimed for {beneficiary} in "
                f"{start}..{end}; ask for a shorter period"
            )
        time_s = now_s()
        return JSONBytes(
            {
                **msgspec.structs.asdict(found),
                "bundles": [bundle_view(b, time_s) for b in found.bundles],
            }
        )

    # the scheme, acceptance, storage ---------------------------------------------------------
    @r.get(
        "/v1/certificates/params",
        response_model=model_of(SchemeParams, "CertificateParams"),
        summary="The certificate scheme's parameters",
    )
    def scheme_params() -> Response:
        """The scheme's name, longest bundle, expiry and data finality (defaults until an
        operator sets them)."""
        return JSONBytes(bundles.params(node.state.view))

    @r.get(
        "/v1/certificates/acceptance/{account}",
        response_model=AcceptanceView,
        responses=ERROR_RESPONSES,
        summary="Whom an account accepts certificates from",
    )
    def acceptance(account: AccountId) -> Response:
        """``anyone`` (the default), ``listed`` (only ``senders``: accounts or organisations)
        or ``nobody`` (``certificates.set_acceptance``)."""
        view = node.state.view
        require_account(view, account)
        return JSONBytes({"account": account, "acceptance": acceptance_of(view, account)})

    @r.get(
        "/v1/certificates/storage/{device}",
        response_model=StorageView,
        responses=ERROR_RESPONSES,
        summary="A storage device's certificate ledger",
    )
    def storage(
        device: DeviceId,
        after: Annotated[
            int | None, Query(ge=0, le=10**10 - 1, description="Charges after this seq.")
        ] = None,
        limit: Limit = 100,
    ) -> Response:
        """What a battery was charged with, discharged and lost, and its charge records
        (each with the cancelled bundles it holds and what is left of each, discharged first
        in, first out)."""
        view = node.state.view
        record = require_device(view, device)
        if record.technology != "storage":
            raise NotFound(f"{device} is a {record.technology} device, not storage")
        ledger = storage_ledger(view, device)
        first = 1 if after is None else after + 1
        rows = list(
            view.scan_range(keys.charges_of(device), keys.time_part(first), limit=limit + 1)
        )
        charges = [decode_record(raw, StorageCharge) for _, raw in rows[:limit]]
        return JSONBytes(
            {
                "device": device,
                "ledger": ledger,
                "left_wh": ledger.charged_wh - ledger.discharged_wh - ledger.losses_wh,
                "charges": [
                    {
                        **msgspec.structs.asdict(c),
                        "slices": [msgspec.structs.asdict(s) for s in c.slices],
                    }
                    for c in charges
                ],
                "next": charges[-1].seq if len(rows) > limit else None,
            }
        )

    # devices ---------------------------------------------------------------------------------
    @r.get(
        "/v1/devices/{device}/issuances",
        response_model=DeviceIssuances,
        responses=ERROR_RESPONSES,
        summary="A device's certificate issuances",
    )
    def device_issuances(device: DeviceId, start: PeriodStart, end: PeriodEnd) -> Response:
        """The device's running totals (highest Wh id, issued, withdrawn, intervals) and its
        issuances with interval starts in ``[start, end)`` (at most 366 days): Wh issued,
        metered, withdrawn and re-issued per interval."""
        view = node.state.view
        _window(start, end, MAX_WINDOW_S)
        require_device(view, device)
        found = issuances(view, device, start, end)
        return JSONBytes(
            {
                "device": device,
                "ledger": device_ledger(view, device),
                "issuances": [msgspec.structs.asdict(i) for i in found],
            }
        )

    @r.get(
        "/v1/devices/{device}/gec-exports/{month}",
        response_model=model_of(GecExport),
        responses=ERROR_RESPONSES,
        summary="A plant's GEC export of a month",
    )
    def gec_export(
        device: DeviceId,
        month: Annotated[str, Path(pattern=MONTH.pattern, description="YYYY-MM")],
    ) -> Response:
        """A month of the plant's certificates exported as whole-MWh China GECs, and the Wh
        carried to the next month (``certificates.export_gec``)."""
        view = node.state.view
        require_device(view, device)
        found = view.get_record(keys.gec_export(device, month), GecExport)
        if found is None:
            raise NotFound(f"{device} exported no GECs for {month}")
        return JSONBytes(found)

    # China GECs ------------------------------------------------------------------------------
    @r.get("/v1/gec", response_model=GecPage, responses=ERROR_RESPONSES, summary="China GECs")
    def list_gecs(
        after: Annotated[
            str | None, Query(max_length=64, description="Start after this GEC number.")
        ] = None,
        limit: Limit = 100,
    ) -> Response:
        """Recorded China Green Electricity Certificates by number; ``next`` pages on."""
        if after is not None and "\x00" in after:
            raise InvalidRequest("query.after: a GEC number holds no NUL")
        page = page_of(node.state.view, keys.gecs(), Gec, after, limit)
        return JSONBytes({"gecs": page.items, "next": page.next})

    @r.get(
        "/v1/gec/{gec_id}",
        response_model=model_of(Gec, "GecRecord"),
        responses=ERROR_RESPONSES,
        summary="A China GEC",
    )
    def get_gec(
        gec_id: Annotated[str, Path(min_length=1, max_length=64, description="The GEC number.")],
    ) -> Response:
        """A recorded GEC: project, device, month, tradable, holder, and the bundle it was
        converted into (``certificates.cancel_gec``)."""
        if "/" in gec_id or "\x00" in gec_id:
            raise InvalidRequest(f"path.gec_id: {gec_id!r} is not a GEC number")
        found = gecs.get_gec(node.state.view, gec_id)
        if found is None:
            raise NotFound(f"no GEC {gec_id!r}")
        return JSONBytes(found)

    # one bundle (after the fixed paths above) ------------------------------------------------
    @r.get(
        "/v1/certificates/{bundle_id}",
        response_model=CertificateView,
        responses=ERROR_RESPONSES,
        summary="A certificate bundle",
    )
    def get_certificate(bundle_id: BundleIdPath) -> Response:
        """The bundle now holding these Wh ids: its immutable fields and hash (with its
        parent's hash after a split), holder, status, cancellation, claim, withdrawal."""
        parse_id(bundle_id, "path.bundle_id")
        found = get_bundle(node.state.view, bundle_id)
        if found is None:
            raise NotFound(f"no certificate bundle {bundle_id!r}")
        return JSONBytes(bundle_view(found, now_s()))

    return r
