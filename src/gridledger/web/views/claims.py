"""Web view: carbon-neutrality claims (see :mod:`gridledger.web`).

* ``/claims``: every claim (of ``?org=``), newest id last: claimant, subject, period, residual
  emissions, credits retired, status;
* ``/claims/{id}``: one claim: subject, boundary, period, the inventory by scope and site by
  month, the reductions against the baseline, the management plan, the retired credits by
  serial range, the verifier's statement, and links to its proof file and PDF
  (``/v1/claims/{id}/proof``, ``/v1/claims/{id}/pdf``).

Figures are the claim record's (``docs/claims.md``), in kg with three decimals (the grams
exactly) and whole tonnes of credits.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from gridledger.api.context import ApiContext
from gridledger.contracts import claims
from gridledger.web.i18n import pick_lang
from gridledger.web.render import render
from gridledger.web.views.carbon import kg, kg_per_kwh
from gridledger.web.views.market import not_found

NAV = "carbon"
PAGE = 100
CLAIM_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    r = APIRouter(include_in_schema=False)

    @r.get("/claims", response_class=HTMLResponse)
    def claim_list(request: Request) -> Response:
        org = request.query_params.get("org", "").strip()
        if org and not CLAIM_ID.match(org):
            org = ""
        found = claims.list_claims(node.state.view, limit=PAGE, org=org or None)
        return render(request, node, "claims/list.html", NAV, claims=found.items, org=org,
                      more=found.next is not None, kg=kg)  # fmt: skip

    @r.get("/claims/{claim_id}", response_class=HTMLResponse)
    def claim_page(request: Request, claim_id: str) -> Response:
        found = claims.get_claim(node.state.view, claim_id) if CLAIM_ID.match(claim_id) else None
        if found is None:
            return not_found(request, node, NAV, claim_id[:64])
        pdf_lang = "zh" if pick_lang(request).startswith("zh") else "en"
        return render(request, node, "claims/detail.html", NAV, claim=found, kg=kg,
                      kg_per_kwh=kg_per_kwh, pdf_lang=pdf_lang)  # fmt: skip

    return r
