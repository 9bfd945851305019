"""The chain itself: its genesis marker, its rules by height, upgrades, and senders' nonces.

State keys (this module is the only one that builds them):

* ``chain/genesis``            hex hash of the genesis document;
* ``chain/rules``              the genesis rules as :class:`~gridledger.contracts.rules.Rules`
  (canonical JSON), with every default resolved (``kinds``, ``proposers``);
* ``chain/upgrade/<height>``   an :class:`Upgrade` scheduled to take effect at ``height``
  (20 digits, so keys sort by height);
* ``chain/quota/<role>``       the admission quota of accounts holding ``role`` (``any``: of
  every account), a :class:`Quota`;
* ``nonce/<account>``          the last nonce the account used (decimal).

The rules in force at height ``h`` are the genesis rules with every upgrade whose height is at
most ``h`` applied in height order (:func:`rules_at`). An operator schedules an upgrade for a
future height (``chain.schedule_upgrade``) and may cancel it before it takes effect
(``chain.cancel_upgrade``); the blocks before the height keep the old rules, so ``verify``
re-executes every block under the rules it was made with.

A chain run by several organisations is **governed**: once the rules let more than one
organisation propose blocks and allow ``consortium.propose``, an upgrade takes a consortium
proposal approved by more than two thirds of them (:mod:`gridledger.contracts.consortium`,
which calls :func:`schedule_upgrade`, :func:`cancel_upgrade` and :func:`change_proposers`
here), and the direct operator kinds are refused (``governance.proposal_required``). A chain
whose rules do not allow ``consortium.propose`` (one created before governance existed) keeps
the direct kinds, so its operator can schedule the upgrade that allows it.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from gridledger.contracts.base import KINDS, ROLES, Body, Context, Int64, Record, kind
from gridledger.contracts.registry import get_organisation
from gridledger.contracts.rules import RuleChanges, Rules, changed
from gridledger.core.errors import InvalidTransaction
from gridledger.state.state import StateReader, StateWriter, decode_record

_GENESIS_KEY = b"chain/genesis"
_RULES_KEY = b"chain/rules"
_UPGRADE_PREFIX = b"chain/upgrade/"
_QUOTA_PREFIX = b"chain/quota/"
ANY_ROLE = "any"
"""The quota role that applies to every account, whatever its roles."""
_NONCE_PREFIX = b"nonce/"
PROPOSE_KIND = "consortium.propose"
"""The kind whose presence in the rules makes a chain of several proposers governed."""
GOVERNANCE_KINDS = ("consortium.approve", PROPOSE_KIND)
"""The kinds a governed chain needs to change its rules (see :func:`governed`)."""


# keys ----------------------------------------------------------------------------------------
def genesis_key() -> bytes:
    return _GENESIS_KEY


def rules_key() -> bytes:
    return _RULES_KEY


def upgrade_key(height: int) -> bytes:
    return _UPGRADE_PREFIX + b"%020d" % height


def nonce_key(account: str) -> bytes:
    return _NONCE_PREFIX + account.encode()


def quota_key(role: str) -> bytes:
    return _QUOTA_PREFIX + role.encode()


# records -------------------------------------------------------------------------------------
class Upgrade(Record):
    """A change of the chain rules, scheduled to take effect at a height.

    Attributes:
        height: the first height whose blocks follow the changed rules.
        changes: the rules it changes; the others keep their value.
        scheduled_height: the height of the block that scheduled it.
        scheduled_by: the account that scheduled it.
    """

    height: int
    changes: RuleChanges
    scheduled_height: int
    scheduled_by: str


class Quota(Record):
    """How much an account may submit, counted by every node's admission (not a block rule:
    blocks are never refused for it).

    Attributes:
        role: the role it applies to, or ``any`` for every account.
        txs_per_minute: transactions an account may have admitted per minute.
        bytes_per_minute: bytes of transactions an account may have admitted per minute.
        set_height: the height of the block that set it.
        set_by: the operator account that set it.
    """

    role: str
    txs_per_minute: int
    bytes_per_minute: int
    set_height: int
    set_by: str


# errors --------------------------------------------------------------------------------------
class UpgradeNotInFuture(InvalidTransaction):
    code = "chain.upgrade_not_in_future"
    default_message = "an upgrade takes effect at a height after the block that schedules it"


class UpgradeExists(InvalidTransaction):
    code = "chain.upgrade_exists"
    default_message = "an upgrade is already scheduled at this height; cancel it first"


class UnknownUpgrade(InvalidTransaction):
    code = "chain.unknown_upgrade"
    default_message = "no upgrade is scheduled at this height"


class UnknownQuota(InvalidTransaction):
    code = "chain.unknown_quota"
    default_message = "no quota is set for this role"


class InvalidQuota(InvalidTransaction):
    code = "chain.invalid_quota"
    default_message = "a quota names a role (or 'any') and positive limits"


class InvalidRules(InvalidTransaction):
    code = "chain.invalid_rules"
    default_message = "the rules would leave the chain unable to run"


class ProposalRequired(InvalidTransaction):
    # a governance code, defined here because chain refuses its own kinds with it (the
    # consortium contract builds on this module, never the other way round)
    code = "governance.proposal_required"
    default_message = (
        "this chain is run by several organisations: rule changes take a consortium proposal "
        "(consortium.propose) approved by more than two thirds of them"
    )


# queries -------------------------------------------------------------------------------------
def genesis_rules(view: StateReader) -> Rules:
    """The rules the chain started with (every default resolved at genesis)."""
    rules = view.get_record(_RULES_KEY, Rules)
    return Rules() if rules is None else rules


def upgrades(view: StateReader, upto: int | None = None) -> list[Upgrade]:
    """Scheduled upgrades by height (those at or below ``upto`` only, when given)."""
    end = None if upto is None else b"%020d" % (upto + 1)
    return [decode_record(raw, Upgrade) for _, raw in view.scan_range(_UPGRADE_PREFIX, b"", end)]


def rules_at(view: StateReader, height: int) -> Rules:
    """The rules in force for the block at ``height``."""
    rules = genesis_rules(view)
    for upgrade in upgrades(view, height):
        rules = changed(rules, upgrade.changes)
    return rules


def governed(view: StateReader, height: int) -> bool:
    """Whether a rule change made in the block at ``height`` needs a consortium proposal: the
    rules at ``height`` or at the next height let more than one organisation propose and allow
    ``consortium.propose``."""
    for at in (height, height + 1):
        rules = rules_at(view, at)
        if len(rules.proposers) > 1 and PROPOSE_KIND in rules.kinds:
            return True
    return False


def nonce_of(view: StateReader, account: str) -> int:
    """The last nonce ``account`` used in a committed transaction (0 before its first)."""
    return view.get_int(nonce_key(account))


def quotas(view: StateReader) -> list[Quota]:
    """Every admission quota, by role."""
    return [decode_record(raw, Quota) for _, raw in view.scan(_QUOTA_PREFIX)]


def genesis_hash(view: StateReader) -> str | None:
    raw = view.get(_GENESIS_KEY)
    return None if raw is None else raw.decode()


# writes at genesis and by the executor -------------------------------------------------------
def write_genesis(state: StateWriter, genesis_hash_hex: str, rules: Rules) -> None:
    """Record the genesis hash and the resolved genesis rules (see ``genesis.apply_genesis``)."""
    state.set(_GENESIS_KEY, genesis_hash_hex.encode())
    state.put(_RULES_KEY, rules)


def use_nonce(state: StateWriter, account: str, nonce: int) -> None:
    state.set_int(nonce_key(account), nonce)


def check_rules(view: StateReader, rules: Rules) -> None:
    """Refuse rules the chain could not run under: a transaction larger than any block, no
    proposer, a proposer that cannot sign, unknown kinds, or no way to upgrade again."""
    if rules.block_max_bytes < rules.max_tx_bytes:
        raise InvalidRules(
            f"block_max_bytes {rules.block_max_bytes} is below max_tx_bytes {rules.max_tx_bytes}"
        )
    if not rules.proposers:
        raise InvalidRules("at least one organisation must be allowed to propose blocks")
    for org_id in rules.proposers:
        org = get_organisation(view, org_id)
        if org is None or org.node_key is None:
            raise InvalidRules(f"proposer {org_id!r} is not an organisation with a node key")
    unknown = [k for k in rules.kinds if k not in KINDS]
    if unknown:
        raise InvalidRules(f"unknown transaction kinds: {', '.join(unknown)}")
    if "chain.schedule_upgrade" not in rules.kinds:
        raise InvalidRules("the rules must keep chain.schedule_upgrade, or never change again")
    if len(rules.proposers) > 1 and PROPOSE_KIND in rules.kinds:
        missing = [k for k in GOVERNANCE_KINDS if k not in rules.kinds]
        if missing:
            raise InvalidRules(
                f"a chain governed by proposals must keep {', '.join(missing)}, "
                "or never change again"
            )


# rule changes, shared with the consortium contract -------------------------------------------
def _check_from(state: StateReader, height: int) -> None:
    """Refuse unless the rules at ``height`` and at every later upgrade can run."""
    check_rules(state, rules_at(state, height))
    for later in upgrades(state):
        if later.height > height:
            check_rules(state, rules_at(state, later.height))


def schedule_upgrade(state: StateWriter, ctx: Context, height: int, changes: RuleChanges) -> None:
    """Store an :class:`Upgrade` of ``changes`` at ``height`` (after this block, at a height
    without another), refused when it would leave any rule set from then on unable to run."""
    if height <= ctx.height:
        raise UpgradeNotInFuture(f"height {height} is not after this block's height {ctx.height}")
    key = upgrade_key(height)
    if state.get(key) is not None:
        raise UpgradeExists(f"an upgrade is already scheduled at height {height}")
    state.put(key, Upgrade(height=height, changes=changes,
                           scheduled_height=ctx.height, scheduled_by=ctx.sender))  # fmt: skip
    # the rules it leads to, with every upgrade before and after it, must all be runnable
    _check_from(state, height)
    ctx.emit("chain.upgrade_scheduled", height=height)


def cancel_upgrade(state: StateWriter, ctx: Context, height: int) -> None:
    """Delete the upgrade at ``height`` before it takes effect."""
    key = upgrade_key(height)
    if state.get(key) is None:
        raise UnknownUpgrade(f"no upgrade is scheduled at height {height}")
    if height <= ctx.height:
        raise UpgradeNotInFuture(f"the upgrade at height {height} has taken effect")
    state.delete(key)
    for later in upgrades(state):
        if later.height > height:
            check_rules(state, rules_at(state, later.height))
    ctx.emit("chain.upgrade_cancelled", height=height)


def change_proposers(
    state: StateWriter, ctx: Context, add: Iterable[str] = (), remove: Iterable[str] = ()
) -> int:
    """Add and remove proposers from the next height on; returns that height.

    The change is an upgrade at ``ctx.height + 1`` (an upgrade already scheduled there keeps
    its other changes and gets the new ``proposers``), so every node agrees which
    organisations may propose each height. Every later upgrade that sets ``proposers`` gets
    the same change, so it cannot undo a membership decision.
    """
    added, removed = sorted(set(add)), sorted(set(remove))

    def changed_list(proposers: list[str]) -> list[str]:
        return sorted((set(proposers) | set(added)) - set(removed))

    at = ctx.height + 1
    proposers = changed_list(rules_at(state, at).proposers)
    key = upgrade_key(at)
    existing = state.get_record(key, Upgrade)
    if existing is None:
        state.put(key, Upgrade(height=at, changes=RuleChanges(proposers=proposers),
                               scheduled_height=ctx.height, scheduled_by=ctx.sender))  # fmt: skip
    else:
        merged = msgspec.structs.replace(existing.changes, proposers=proposers)
        state.put(key, msgspec.structs.replace(existing, changes=merged))
    for later in upgrades(state):
        if later.height > at and later.changes.proposers is not None:
            merged = msgspec.structs.replace(
                later.changes, proposers=changed_list(later.changes.proposers)
            )
            state.put(upgrade_key(later.height), msgspec.structs.replace(later, changes=merged))
    _check_from(state, at)
    ctx.emit("chain.proposers_changed", height=at, proposers=proposers)
    return at


# transaction kinds ---------------------------------------------------------------------------
class ScheduleUpgrade(Body):
    height: Int64
    """The first height that follows the changed rules (after the scheduling block)."""
    changes: RuleChanges

    def check(self) -> None:
        if self.changes == RuleChanges():
            raise InvalidRules("an upgrade changes at least one rule")


@kind("chain.schedule_upgrade", ScheduleUpgrade, roles=("operator",))
def apply_schedule_upgrade(state: StateWriter, ctx: Context, body: ScheduleUpgrade) -> None:
    """Schedule a change of the chain rules at a future height (operator; in a governed chain,
    a consortium proposal instead)."""
    if governed(state, ctx.height):
        raise ProposalRequired
    schedule_upgrade(state, ctx, body.height, body.changes)


class CancelUpgrade(Body):
    height: Int64


@kind("chain.cancel_upgrade", CancelUpgrade, roles=("operator",))
def apply_cancel_upgrade(state: StateWriter, ctx: Context, body: CancelUpgrade) -> None:
    """Cancel an upgrade that has not taken effect yet (operator; in a governed chain, a
    consortium proposal instead)."""
    if governed(state, ctx.height):
        raise ProposalRequired
    cancel_upgrade(state, ctx, body.height)


class SetQuota(Body):
    role: str
    """A role, or ``any`` for every account."""
    txs_per_minute: Int64
    bytes_per_minute: Int64

    def check(self) -> None:
        if self.role != ANY_ROLE and self.role not in ROLES:
            raise InvalidQuota(f"role {self.role!r} is not one of {', '.join(ROLES)} or 'any'")
        if self.txs_per_minute < 1 or self.bytes_per_minute < 1:
            raise InvalidQuota("txs_per_minute and bytes_per_minute are positive")


@kind("chain.set_quota", SetQuota, roles=("operator",))
def apply_set_quota(state: StateWriter, ctx: Context, body: SetQuota) -> None:
    """Set how many transactions and bytes a minute accounts of a role may submit (operator).

    An account gets the most generous quota among its roles' and ``any``'s; with none, it is
    not limited."""
    state.put(quota_key(body.role), Quota(role=body.role, txs_per_minute=body.txs_per_minute,
                                          bytes_per_minute=body.bytes_per_minute,
                                          set_height=ctx.height, set_by=ctx.sender))  # fmt: skip
    ctx.emit("chain.quota_set", role=body.role, txs_per_minute=body.txs_per_minute,
             bytes_per_minute=body.bytes_per_minute)  # fmt: skip


class ClearQuota(Body):
    role: str


@kind("chain.clear_quota", ClearQuota, roles=("operator",))
def apply_clear_quota(state: StateWriter, ctx: Context, body: ClearQuota) -> None:
    """Remove a role's quota (operator)."""
    key = quota_key(body.role)
    if state.get(key) is None:
        raise UnknownQuota(f"no quota is set for role {body.role!r}")
    state.delete(key)
    ctx.emit("chain.quota_cleared", role=body.role)
