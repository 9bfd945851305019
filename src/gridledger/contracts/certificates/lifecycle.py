"""What holders do with their certificates.

* ``certificates.split`` (holder): ``{"bundle", "quantities": [..]}``: positive Wh adding up to
  the bundle's; the children take consecutive ids in order, each carrying the parent's hash.
* ``certificates.transfer`` (holder): ``{"bundle", "to", "quantity_wh"?}``: to an account that
  accepts transfers from the sender (see ``set_acceptance``); a locked bundle goes only to the
  account it is locked for.
* ``certificates.lock`` / ``unlock`` (holder): reserve a bundle (or its first ``quantity_wh``)
  for an account, e.g. while a trade settles; a locked bundle moves only to that account.
* ``certificates.cancel`` (holder): ``{"bundle", "beneficiary", "site", "period_start_s",
  "period_end_s", "quantity_wh"?}``: take the certificates out of circulation for a beneficiary's
  consumption at a site of the beneficiary's organisation over a period.
* ``certificates.claim`` (holder or beneficiary): ``{"bundle"}``: claim a cancelled bundle; it
  never changes again.
* ``certificates.set_acceptance`` (any account): ``{"mode": "anyone" | "listed" | "nobody",
  "senders": [..]}``: whom the sender accepts transfers from (accounts or organisations).
"""

from __future__ import annotations

from gridledger.contracts import registry
from gridledger.contracts.base import Body, Context, Int64, kind
from gridledger.contracts.certificates import bundles, keys
from gridledger.contracts.certificates.errors import (
    BadAcceptance,
    BadPeriod,
    BadQuantity,
    BadSplit,
    ForeignSite,
    NotBeneficiary,
    NotCancelled,
    NotLocked,
    TransferRefused,
    UnknownAccount,
    UnknownSite,
)
from gridledger.contracts.certificates.records import (
    Acceptance,
    AcceptMode,
    Bundle,
    Cancellation,
)
from gridledger.state.state import StateReader, StateWriter

MAX_SPLIT = 100
HOUR_S = 3600
MAX_PERIOD_S = 366 * 86_400


def _quantity(value: int | None) -> None:
    if value is not None and value <= 0:
        raise BadQuantity(f"quantity_wh {value}: a positive number of Wh")


class Split(Body):
    bundle: str
    quantities: list[Int64]

    def check(self) -> None:
        if not 2 <= len(self.quantities) <= MAX_SPLIT:
            raise BadSplit(f"a split makes 2-{MAX_SPLIT} bundles")
        if any(q <= 0 for q in self.quantities):
            raise BadSplit("every part of a split is a positive number of Wh")


@kind("certificates.split", Split)
def apply_split(state: StateWriter, ctx: Context, body: Split) -> None:
    """Split a held bundle into parts of consecutive Wh ids."""
    bundle = bundles.held_live(state, body.bundle, ctx)
    if sum(body.quantities) != bundle.quantity_wh:
        raise BadSplit(
            f"parts add up to {sum(body.quantities)} Wh; bundle {bundle.id} holds "
            f"{bundle.quantity_wh} Wh"
        )
    children = bundles.split(state, bundle, list(body.quantities), ctx.height)
    ctx.emit("certificates.split", bundle=bundle.id, into=[c.id for c in children])


def acceptance_of(view: StateReader, account: str) -> Acceptance:
    found = view.get_record(keys.acceptance(account), Acceptance)
    return found or Acceptance(mode="anyone", senders=[])


def account_of(view: StateReader, account: str) -> registry.Account:
    """The registered ``account``; :class:`UnknownAccount` when there is none."""
    found = registry.get_account(view, account)
    if found is None:
        raise UnknownAccount(f"no account {account!r}")
    return found


def require_accepts(view: StateReader, to: str, sender: str) -> None:
    """Refuse unless ``to`` is an active account accepting transfers from ``sender``."""
    receiver = account_of(view, to)
    if receiver.suspended:
        raise TransferRefused(f"account {to} is suspended")
    rule = acceptance_of(view, to)
    if rule.mode == "anyone":
        return
    if rule.mode == "listed":
        org = registry.get_account(view, sender)
        names = {sender, org.org if org is not None else ""}
        if names & set(rule.senders):
            return
    raise TransferRefused(f"account {to} does not accept certificate transfers from {sender}")


class Transfer(Body):
    bundle: str
    to: str
    quantity_wh: Int64 | None = None

    def check(self) -> None:
        _quantity(self.quantity_wh)


def move(state: StateWriter, ctx: Context, bundle: Bundle, to: str, quantity: int | None) -> Bundle:
    """Hand ``quantity`` Wh of a held live bundle to ``to`` (checked by the caller)."""
    part = bundles.take(state, bundle, quantity, ctx.height)
    return bundles.update(state, part, ctx.height, owner=to, status="active", locked_for=None)


@kind("certificates.transfer", Transfer)
def apply_transfer(state: StateWriter, ctx: Context, body: Transfer) -> None:
    """Transfer a held bundle (or its first ``quantity_wh``) to an accepting account."""
    bundle = bundles.load(state, body.bundle)
    bundles.require_owner(bundle, ctx.sender)
    bundles.require_live(bundle, ctx, locked_ok=bundle.locked_for == body.to)
    if body.to == ctx.sender:
        raise TransferRefused("a transfer goes to another account")
    require_accepts(state, body.to, ctx.sender)
    moved = move(state, ctx, bundle, body.to, body.quantity_wh)
    ctx.emit("certificates.transferred", bundle=moved.id, to=body.to, quantity_wh=moved.quantity_wh)


class Lock(Body):
    bundle: str
    for_account: str
    quantity_wh: Int64 | None = None

    def check(self) -> None:
        _quantity(self.quantity_wh)


@kind("certificates.lock", Lock)
def apply_lock(state: StateWriter, ctx: Context, body: Lock) -> None:
    """Reserve a held bundle (or its first ``quantity_wh``) for an account."""
    bundle = bundles.held_live(state, body.bundle, ctx)
    account_of(state, body.for_account)
    part = bundles.take(state, bundle, body.quantity_wh, ctx.height)
    done = bundles.update(state, part, ctx.height, status="locked", locked_for=body.for_account)
    ctx.emit(
        "certificates.locked",
        bundle=done.id,
        for_account=body.for_account,
        quantity_wh=done.quantity_wh,
    )


class BundleRef(Body):
    bundle: str


@kind("certificates.unlock", BundleRef)
def apply_unlock(state: StateWriter, ctx: Context, body: BundleRef) -> None:
    """Release a reservation."""
    bundle = bundles.load(state, body.bundle)
    bundles.require_owner(bundle, ctx.sender)
    bundles.require_live(bundle, ctx, locked_ok=True)
    if bundle.status != "locked":
        raise NotLocked(f"bundle {bundle.id} is not locked")
    bundles.update(state, bundle, ctx.height, status="active", locked_for=None)
    ctx.emit("certificates.unlocked", bundle=bundle.id)


class Cancel(Body):
    bundle: str
    beneficiary: str
    site: str
    period_start_s: Int64
    period_end_s: Int64
    quantity_wh: Int64 | None = None

    def check(self) -> None:
        _quantity(self.quantity_wh)
        if not 0 <= self.period_start_s < self.period_end_s:
            raise BadPeriod(
                f"period {self.period_start_s}..{self.period_end_s}: the start comes first"
            )
        if self.period_end_s - self.period_start_s > MAX_PERIOD_S:
            raise BadPeriod("a consumption period is at most 366 days")


def cancel(
    state: StateWriter,
    ctx: Context,
    bundle: Bundle,
    quantity: int | None,
    cancellation: Cancellation,
) -> Bundle:
    """Cancel ``quantity`` Wh of a held live bundle (checked by the caller)."""
    part = bundles.take(state, bundle, quantity, ctx.height)
    return bundles.update(state, part, ctx.height, status="cancelled", cancellation=cancellation)


def check_beneficiary(view: StateReader, beneficiary: str, site: str) -> None:
    """Refuse unless the beneficiary is an account and the site one of its organisation's."""
    account = account_of(view, beneficiary)
    found = registry.get_site(view, site)
    if found is None:
        raise UnknownSite(f"no registered site {site!r}")
    if found.owner_org != account.org:
        raise ForeignSite(
            f"site {site} belongs to {found.owner_org}; beneficiary {beneficiary} is of "
            f"{account.org}"
        )


@kind("certificates.cancel", Cancel)
def apply_cancel(state: StateWriter, ctx: Context, body: Cancel) -> None:
    """Cancel a held bundle (or its first ``quantity_wh``) for a beneficiary's consumption at a
    site over a period."""
    bundle = bundles.held_live(state, body.bundle, ctx)
    check_beneficiary(state, body.beneficiary, body.site)
    done = cancel(
        state, ctx, bundle, body.quantity_wh,
        Cancellation(
            beneficiary=body.beneficiary, site=body.site, period_start_s=body.period_start_s,
            period_end_s=body.period_end_s, height=ctx.height,
        ),
    )  # fmt: skip
    ctx.emit(
        "certificates.cancelled",
        bundle=done.id,
        beneficiary=body.beneficiary,
        site=body.site,
        quantity_wh=done.quantity_wh,
    )


def claim(state: StateWriter, ctx: Context, bundle: Bundle) -> Bundle:
    """Claim a cancelled bundle: it never changes again; hourly matching and the
    beneficiary's statement count it."""
    cancellation = bundle.cancellation
    assert cancellation is not None, "a cancelled bundle holds its cancellation"
    done = bundles.update(state, bundle, ctx.height, status="claimed", claimed_height=ctx.height)
    start = done.production_start_s
    if done.production_end_s - start <= HOUR_S:
        key = keys.claimed_hour(cancellation.site, start - start % HOUR_S)
    else:
        key = keys.claimed_long(cancellation.site, start)
    state.set_int(key, state.get_int(key) + done.quantity_wh)
    state.set(keys.claim(cancellation.beneficiary, done.production_start_s, done.id), b"1")
    return done


@kind("certificates.claim", BundleRef)
def apply_claim(state: StateWriter, ctx: Context, body: BundleRef) -> None:
    """Claim a cancelled bundle (its holder or its beneficiary)."""
    bundle = bundles.load(state, body.bundle)
    if bundle.status != "cancelled" or bundle.cancellation is None:
        raise NotCancelled(f"bundle {bundle.id} is {bundle.status}; cancel it before claiming")
    if ctx.sender not in (bundle.owner, bundle.cancellation.beneficiary):
        raise NotBeneficiary(f"{ctx.sender} neither holds bundle {bundle.id} nor benefits")
    done = claim(state, ctx, bundle)
    ctx.emit(
        "certificates.claimed",
        bundle=done.id,
        beneficiary=bundle.cancellation.beneficiary,
        quantity_wh=done.quantity_wh,
    )


class SetAcceptance(Body):
    mode: AcceptMode
    senders: list[str] = []

    def check(self) -> None:
        listed = self.mode == "listed"
        if listed != bool(self.senders) or len(self.senders) > 100:
            raise BadAcceptance(f"mode {self.mode} with {len(self.senders)} senders")
        if len(set(self.senders)) != len(self.senders):
            raise BadAcceptance("a sender is listed twice")
        for name in self.senders:
            registry.check_id(name, "sender")


@kind("certificates.set_acceptance", SetAcceptance)
def apply_set_acceptance(state: StateWriter, ctx: Context, body: SetAcceptance) -> None:
    """Say whom the sender accepts certificate transfers from."""
    if body.mode == "anyone":
        state.delete(keys.acceptance(ctx.sender))
    else:
        state.put(
            keys.acceptance(ctx.sender), Acceptance(mode=body.mode, senders=sorted(body.senders))
        )
    ctx.emit("certificates.acceptance_set", mode=body.mode, senders=len(body.senders))
