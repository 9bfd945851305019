"""Web view: the carbon credit registry and the allowance system (see :mod:`gridledger.web`).

* ``/credits``: the registry: every project (number, name, plant, methodology, tonnes by
  state), a page at a time, the serial lookup and the carbon verifiers;
* ``/credits/projects/{id}``: a project, its verified monitoring periods month by month and
  its serial blocks, a page at a time;
* ``/credits/serials/{serial}``: the blocks now holding a serial's units (the explorer's
  search routes a serial here; ``/credits/serials?serial=`` is the lookup form's target);
* ``/credits/retirements``: the numbered retirements, filtered by beneficiary or project;
* ``/credits/compliance?period=``: the regulator's view of a compliance period: each holder's
  status, obligation, surrenders, credit limit, shortfall and balance;
* ``/credits/holder/{account}``: an account's own view: the credits it holds and where it
  stands in every compliance period.

Everything is read from the committed state through the ``credits`` and ``allowances``
contracts' queries, a page at a time; filtered retirements come through the state's field
indexes, and each project's tonnes by state from the credit totals beside the chain
(:mod:`gridledger.readmodels.credits`). Statuses are at the last block's time. The
section's tabs (``credits/_tabs.html``) are where the exchange and neutrality claims join it.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gridledger.api.context import ApiContext
from gridledger.api.routes.credits import SERIAL
from gridledger.contracts import allowances, credits, registry
from gridledger.readmodels import credits as totals
from gridledger.web.render import render
from gridledger.web.views.market import not_found

NAV = "credits"
PAGE = 50
"""Projects, retirements and compliance rows per page."""
BLOCKS_PAGE = 100
"""Serial blocks per page of a project."""
VERIFIERS_SHOWN = 20
ID = re.compile(registry.ID_RE.pattern)
SERIAL_RE = re.compile(SERIAL)


def normal_serial(text: str) -> str | None:
    """``text`` as a serial (upper case, trimmed), or ``None`` if it is not one."""
    serial = text.strip().upper()
    return serial if SERIAL_RE.match(serial) else None


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) <= 15 else None


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    node = ctx.node

    def bad(request: Request, key: str, value: str, status: int = 400) -> HTMLResponse:
        return render(
            request, node, "credits/error.html", NAV, status_code=status,
            key=key, value=value[:80], status=status,
        )  # fmt: skip

    @r.get("/credits", response_class=HTMLResponse)
    def registry_page(request: Request) -> Response:
        view = node.state.view
        after = request.query_params.get("after", "").strip()
        if after and not ID.match(after):
            return bad(request, "credits.error.bad_after", after)
        found = credits.list_projects(view, after or None, PAGE)
        conn = node.readmodels.reader()
        rows = [{"project": p, "totals": totals.project_totals(conn, p.id)} for p in found.items]
        verifiers = registry.list_accounts(view, limit=VERIFIERS_SHOWN, role="carbon_verifier")
        return render(
            request, node, "credits/registry.html", NAV, tab="registry", rows=rows,
            next_query=urlencode({"after": found.next}) if found.next else None,
            params=credits.params(view), verifiers=verifiers.items,
            retirements=credits.retirement_count(view),
        )  # fmt: skip

    @r.get("/credits/projects/{project}", response_class=HTMLResponse)
    def project_page(request: Request, project: str) -> Response:
        view = node.state.view
        found = credits.get_project(view, project) if ID.match(project) else None
        if found is None:
            return not_found(request, node, NAV, project[:80])
        after_text = request.query_params.get("after", "").strip()
        after = _number(after_text) if after_text else None
        if after_text and after is None:
            return bad(request, "credits.error.bad_after", after_text)
        blocks = credits.blocks_page(view, found.id, after, BLOCKS_PAGE + 1)
        more = len(blocks) > BLOCKS_PAGE
        blocks = blocks[:BLOCKS_PAGE]
        return render(
            request, node, "credits/project.html", NAV, tab="registry", project=found,
            totals=totals.project_totals(node.readmodels.reader(), found.id),
            periods=credits.periods_of(view, found.id), blocks=blocks, after=after,
            next_after=blocks[-1].first if more else None,
        )  # fmt: skip

    @r.get("/credits/serials", response_class=HTMLResponse)
    def serial_form(request: Request) -> Response:
        text = request.query_params.get("serial", "")
        serial = normal_serial(text)
        if serial is None:
            return bad(request, "credits.error.bad_serial", text.strip())
        return RedirectResponse(f"/credits/serials/{quote(serial)}", status_code=303)

    @r.get("/credits/serials/{serial}", response_class=HTMLResponse)
    def serial_page(request: Request, serial: str) -> Response:
        normal = normal_serial(serial)
        if normal is None:
            return bad(request, "credits.error.bad_serial", serial)
        view = node.state.view
        blocks = credits.lookup_serial(view, normal)
        if not blocks:
            return not_found(request, node, NAV, normal)
        project = credits.get_project(view, blocks[0].project)
        return render(
            request, node, "credits/serial.html", NAV, tab="registry", serial=normal,
            blocks=blocks, project=project,
            unchanged=len(blocks) == 1 and blocks[0].serial() == normal,
        )  # fmt: skip

    @r.get("/credits/retirements", response_class=HTMLResponse)
    def retirements_page(request: Request) -> Response:
        view = node.state.view
        q = request.query_params
        beneficiary = q.get("beneficiary", "").strip()
        project = q.get("project", "").strip()
        after_text = q.get("after", "").strip()
        if len(beneficiary) > 128:
            return bad(request, "credits.error.bad_beneficiary", beneficiary)
        if project and not ID.match(project):
            return bad(request, "credits.error.bad_project", project)
        after = _number(after_text) if after_text else None
        if after_text and after is None:
            return bad(request, "credits.error.bad_after", after_text)
        found = credits.list_retirements(
            view, beneficiary or None, project or None, after, PAGE + 1
        )
        next_query = None
        if len(found) > PAGE:
            found = found[:PAGE]
            kept = {"beneficiary": beneficiary, "project": project, "after": found[-1].id}
            next_query = urlencode({k: v for k, v in kept.items() if v})
        return render(
            request, node, "credits/retirements.html", NAV, tab="retirements",
            retirements=found, beneficiary=beneficiary, project=project,
            total=credits.retirement_count(view), next_query=next_query,
        )  # fmt: skip

    @r.get("/credits/compliance", response_class=HTMLResponse)
    def compliance_page(request: Request) -> Response:
        view = node.state.view
        q = request.query_params
        periods = allowances.list_periods(view)
        chosen = q.get("period", "").strip()
        after = q.get("after", "").strip()
        if after and not ID.match(after):
            return bad(request, "credits.error.bad_after", after)
        time_s = node.tip.time // 1000
        period = None
        if chosen:
            period = allowances.get_period(view, chosen) if ID.match(chosen) else None
            if period is None:
                return bad(request, "credits.error.unknown_period", chosen, 404)
        elif periods:
            # the period whose emissions ended last is the one a regulator works on
            period = max(periods, key=lambda p: (p.end_s, p.id))
        rows: list[allowances.ComplianceStatus] = []
        next_query = None
        if period is not None:
            rows = allowances.statuses(view, period.id, time_s, after or None, PAGE + 1)
            if len(rows) > PAGE:
                rows = rows[:PAGE]
                next_query = urlencode({"period": period.id, "after": rows[-1].holder})
        return render(
            request, node, "credits/compliance.html", NAV, tab="compliance",
            periods=periods, period=period, rows=rows, next_query=next_query, time_s=time_s,
        )  # fmt: skip

    @r.get("/credits/holder/{account}", response_class=HTMLResponse)
    def holder_page(request: Request, account: str) -> Response:
        view = node.state.view
        record = registry.get_account(view, account) if ID.match(account) else None
        if record is None:
            return not_found(request, node, NAV, account[:80])
        time_s = node.tip.time // 1000
        standing = [
            allowances.status(view, p.id, account, time_s) for p in allowances.list_periods(view)
        ]
        shown = [s for s in standing if s.status != "no_emissions" or s.balance_t]
        held = credits.held_by(view, account)
        return render(
            request, node, "credits/holder.html", NAV, tab="holder", account=record,
            held=held, held_t=sum(b.quantity_t for b in held), standing=shown,
            projects=credits.list_projects(view, org=record.org).items,
        )  # fmt: skip

    return r
