"""Making, verifying and withdrawing carbon-neutrality claims (ISO 14068-1).

* ``claims.make`` (any account, for its organisation): ``{"id", "subject": {"type", "id",
  "name"}, "sites"?, "boundary", "start_s", "end_s", "baseline_ref", "baseline_g",
  "plan_ref", "retirements": [n, ...], "scope3_g"?}``. The inventory is computed from the
  ledger's state (:mod:`.inventory`), never taken from the sender; the residual emissions
  (scope 1 + market-based scope 2 + declared scope 3) must be covered, in whole tonnes
  rounded up, by the listed credit retirements, each of which:

  - exists, and was not surrendered for an emissions trading obligation;
  - names the claimant organisation's id as its beneficiary;
  - was made for a claim period covering the claim's period;
  - was recorded no later than 12 months after the claim's period ended;
  - is of credits in the inventory's gas;
  - counts for no other claim (``claims/retirement/<n>`` records which one uses it).

  Credits are always issued before they are retired (a retirement names an issued block),
  and retired before a claim lists them; the claim keeps each block's issuance height so a
  reader of its proof file checks that order too.
* ``claims.verify`` (a carbon verifier of another organisation): ``{"claim", "opinion",
  "statement"}``, once per claim.
* ``claims.withdraw`` (an account of the claimant organisation): ``{"claim", "reason"}``.
  The retirements stay used.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from gridledger.contracts import registry
from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.claims import keys
from gridledger.contracts.claims.errors import (
    AlreadyVerified,
    BadPeriod,
    ClaimExists,
    ComplianceRetirement,
    ForeignSite,
    InvalidClaim,
    InvalidStatement,
    InvalidSubject,
    MixedGas,
    NotClaimant,
    NotCovered,
    PeriodOpen,
    RetiredTooLate,
    RetirementPeriod,
    RetirementUsed,
    SelfVerification,
    UnknownClaim,
    UnknownRetirement,
    UnknownSite,
    Withdrawn,
    WrongBeneficiary,
)
from gridledger.contracts.claims.inventory import claim_inventory
from gridledger.contracts.claims.records import (
    Claim,
    ClaimedRetirement,
    Opinion,
    Statement,
    Subject,
    SubjectType,
)
from gridledger.contracts.credits import get_retirement
from gridledger.contracts.credits.blocks import get_block, parse_serial
from gridledger.contracts.credits.projects import is_month_start, months_of
from gridledger.state.state import StateReader, StateWriter

G_PER_T = 1_000_000
MAX_MONTHS = 12
MAX_RETIREMENTS = 100
MAX_SITES = 50
LATEST_RETIREMENT_MONTHS = 12
"""ISO 14068-1: credits are retired no later than 12 months after the period ends."""


def months_after(time_s: int, months: int) -> int:
    """The first second of the month ``months`` after the month starting at ``time_s``."""
    at = dt.datetime.fromtimestamp(time_s, dt.UTC)
    index = at.year * 12 + at.month - 1 + months
    return int(dt.datetime(index // 12, index % 12 + 1, 1, tzinfo=dt.UTC).timestamp())


def _text(value: str, what: str, most: int) -> None:
    if not 1 <= len(value) <= most:
        raise InvalidClaim(f"{what} is 1-{most} characters")


class SubjectBody(Body):
    type: SubjectType
    id: str
    name: str


class Make(Body):
    id: str
    subject: SubjectBody
    boundary: str
    start_s: Int64
    end_s: Int64
    baseline_ref: str
    baseline_g: Int64
    plan_ref: str
    retirements: list[Int64]
    sites: list[str] | None = None
    scope3_g: Int64 = 0

    def check(self) -> None:
        registry.check_id(self.id, "claim id")
        registry.check_id(self.subject.id, "subject id")
        if not 1 <= len(self.subject.name) <= 128:
            raise InvalidSubject("the subject's name is 1-128 characters")
        if self.subject.type in ("organisation", "site"):
            if self.sites is not None:
                raise InvalidSubject(f"an {self.subject.type} subject lists no sites")
        elif self.sites is None or not 1 <= len(self.sites) <= MAX_SITES:
            raise InvalidSubject(f"a {self.subject.type} subject lists 1-{MAX_SITES} sites")
        elif len(set(self.sites)) != len(self.sites):
            raise InvalidSubject("a site is listed twice")
        _text(self.boundary, "boundary", 1024)
        _text(self.baseline_ref, "baseline_ref", 256)
        _text(self.plan_ref, "plan_ref", 256)
        if self.baseline_g < 0 or self.scope3_g < 0:
            raise InvalidClaim("baseline_g and scope3_g are grams, 0 or more")
        if not (is_month_start(self.start_s) and is_month_start(self.end_s)):
            raise BadPeriod(f"{self.start_s}..{self.end_s}: whole months only")
        if self.end_s <= self.start_s or len(months_of(self.start_s, self.end_s)) > MAX_MONTHS:
            raise BadPeriod(f"{self.start_s}..{self.end_s}: 1-{MAX_MONTHS} months, start first")
        if not 1 <= len(self.retirements) <= MAX_RETIREMENTS:
            raise InvalidClaim(f"a claim lists 1-{MAX_RETIREMENTS} retirements")
        if len(set(self.retirements)) != len(self.retirements):
            raise InvalidClaim("a retirement is listed twice")


def get_claim(view: StateReader, claim_id: str) -> Claim | None:
    return view.get_record(keys.claim(claim_id), Claim)


def require_claim(view: StateReader, claim_id: str) -> Claim:
    found = get_claim(view, claim_id)
    if found is None:
        raise UnknownClaim(f"no claim {claim_id!r}")
    return found


def _sites(view: StateReader, org: str, body: Make) -> list[tuple[str, str]]:
    """``(site, grid region)`` of each site the subject covers, in id order."""
    subject = body.subject
    if subject.type == "organisation":
        if subject.id != org:
            raise InvalidSubject(f"an organisation claims for itself ({org}), not {subject.id}")
        found = registry.list_sites(view, owner_org=org).items
        if not found:
            raise InvalidSubject(f"{org} has no registered site to account for")
        return [(s.id, s.grid_region) for s in found]
    names = [subject.id] if subject.type == "site" else sorted(body.sites or [])
    out = []
    for name in names:
        site = registry.get_site(view, name)
        if site is None:
            raise UnknownSite(f"no site {name!r}")
        if site.owner_org != org:
            raise ForeignSite(f"site {name} belongs to {site.owner_org}, not {org}")
        out.append((site.id, site.grid_region))
    return out


def _retirement(view: StateReader, n: int, org: str, body: Make, gas: str) -> ClaimedRetirement:
    """Retirement ``n`` checked against the rules of the module docstring."""
    found = get_retirement(view, n) if n > 0 else None
    if found is None:
        raise UnknownRetirement(f"no retirement {n}")
    used = view.get(keys.retirement_use(n))
    if used is not None:
        raise RetirementUsed(f"retirement {n} counts for claim {used.decode()}")
    if found.compliance_period is not None:
        raise ComplianceRetirement(
            f"retirement {n} was surrendered for compliance period {found.compliance_period}"
        )
    if found.beneficiary != org:
        raise WrongBeneficiary(f"retirement {n} is for {found.beneficiary!r}, not {org!r}")
    if not found.claim_start_s <= body.start_s < body.end_s <= found.claim_end_s:
        raise RetirementPeriod(
            f"retirement {n} is for {found.claim_start_s}..{found.claim_end_s}, which does not "
            f"cover {body.start_s}..{body.end_s}"
        )
    latest = months_after(body.end_s, LATEST_RETIREMENT_MONTHS)
    if found.time_s > latest:
        raise RetiredTooLate(f"retirement {n} at {found.time_s}, after {latest}")
    number, first, _last = parse_serial(found.serial)
    block = get_block(view, number, first)
    if block is None or block.status != "retired" or block.retirement != n:
        raise UnknownRetirement(f"retirement {n}'s block {found.serial} is not retired by it")
    if block.gas != gas:
        raise MixedGas(f"retirement {n} is of {block.gas} credits, the inventory of {gas}")
    return ClaimedRetirement(
        id=n, serial=found.serial, project=found.project, quantity_t=found.quantity_t,
        time_s=found.time_s, issued_height=block.issued_height,
    )  # fmt: skip


@kind("claims.make", Make)
def apply_make(state: StateWriter, ctx: Context, body: Make) -> None:
    """Make a carbon-neutrality claim for the sender's organisation, covered by retired
    credits (any account)."""
    if ctx.time_s < body.end_s:
        raise PeriodOpen(f"the period ends at {body.end_s}, after block time {ctx.time_s}")
    if state.get(keys.claim(body.id)) is not None:
        raise ClaimExists(f"claim {body.id} exists")
    org = registry.sender_org(state, ctx)
    sites = _sites(state, org, body)
    inventory = claim_inventory(state, org, sites, body.start_s, body.end_s, body.scope3_g)
    residual = inventory.scope1_g + inventory.scope2_market_g + inventory.scope3_g
    required = -(-residual // G_PER_T)
    used = [_retirement(state, n, org, body, inventory.gas) for n in body.retirements]
    retired = sum(r.quantity_t for r in used)
    if retired < required:
        raise NotCovered(
            f"residual emissions {residual} g need {required} t; the retirements hold {retired} t"
        )
    for r in used:
        state.set(keys.retirement_use(r.id), body.id.encode())
    claim = Claim(
        id=body.id, org=org, claimant=ctx.sender,
        subject=Subject(type=body.subject.type, id=body.subject.id, name=body.subject.name),
        sites=[s for s, _ in sites], boundary=body.boundary, start_s=body.start_s,
        end_s=body.end_s, inventory=inventory, residual_g=residual, required_t=required,
        baseline_ref=body.baseline_ref, baseline_g=body.baseline_g,
        reduction_g=body.baseline_g - residual, plan_ref=body.plan_ref, retirements=used,
        retired_t=retired, status="made", height=ctx.height, time_s=ctx.time_s,
    )  # fmt: skip
    state.put(keys.claim(body.id), claim)
    ctx.emit("claims.made", id=body.id, org=org, residual_g=residual, retired_t=retired)


class Verify(Body):
    claim: str
    opinion: Opinion
    statement: str

    def check(self) -> None:
        if not 1 <= len(self.statement) <= 1024:
            raise InvalidStatement("a statement is 1-1024 characters")


@kind("claims.verify", Verify, roles=("carbon_verifier",))
def apply_verify(state: StateWriter, ctx: Context, body: Verify) -> None:
    """Record a carbon verifier's statement on another organisation's claim, once."""
    claim = require_claim(state, body.claim)
    org = registry.sender_org(state, ctx)
    if org == claim.org:
        raise SelfVerification(f"{ctx.sender} is of {org}, which made claim {claim.id}")
    if claim.status == "withdrawn":
        raise Withdrawn(f"claim {claim.id} was withdrawn: {claim.withdrawn_reason}")
    if claim.statement is not None:
        raise AlreadyVerified(f"claim {claim.id} was verified by {claim.statement.verifier}")
    statement = Statement(
        verifier=ctx.sender, org=org, opinion=body.opinion, statement=body.statement,
        height=ctx.height, time_s=ctx.time_s,
    )  # fmt: skip
    state.put(keys.claim(claim.id),
              msgspec.structs.replace(claim, status="verified", statement=statement))  # fmt: skip
    ctx.emit("claims.verified", id=claim.id, verifier=ctx.sender, opinion=body.opinion)


class Withdraw(Body):
    claim: str
    reason: str

    def check(self) -> None:
        if not 1 <= len(self.reason) <= 256:
            raise InvalidClaim("a reason is 1-256 characters")


@kind("claims.withdraw", Withdraw)
def apply_withdraw(state: StateWriter, ctx: Context, body: Withdraw) -> None:
    """Withdraw a claim (an account of the claimant organisation); its retirements stay used."""
    claim = require_claim(state, body.claim)
    if registry.sender_org(state, ctx) != claim.org:
        raise NotClaimant(f"claim {claim.id} is {claim.org}'s")
    if claim.status == "withdrawn":
        raise Withdrawn(f"claim {claim.id} was withdrawn already")
    withdrawn = msgspec.structs.replace(
        claim, status="withdrawn", withdrawn_reason=body.reason, withdrawn_height=ctx.height
    )
    state.put(keys.claim(claim.id), withdrawn)
    ctx.emit("claims.withdrawn", id=claim.id)
