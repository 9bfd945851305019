"""Community: a household's streak threshold and its consent to the public ranking, through
the executor. Every refusal leaves state untouched; a hypothesis state machine checks that a
pseudonym belongs to at most one granted consent whatever households do."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from gridledger.contracts import community
from gridledger.contracts.community import keys
from gridledger.core.errors import GridLedgerError
from gridledger.core.types import Transaction
from gridledger.node.executor import prepare
from ledger_support import CONSUMER, GW1, OTHER_HOUSE, PRODUCER, Ledger, unchecked


def _stateless(led: Ledger, tx: Transaction, code: str) -> None:
    """Admission refuses ``tx`` with ``code``, and so does execution if a proposer slips it
    into a block."""
    with pytest.raises(GridLedgerError) as refused:
        prepare(tx)
    assert refused.value.code == code
    led.refused(unchecked(tx), code)


def _ranked(led: Ledger) -> dict[str, str | None]:
    return {c.account: c.pseudonym for c in community.ranked(led.state)}


def test_opt_in_ranks_under_the_pseudonym_and_revoke_drops_it_at_once() -> None:
    led = Ledger()
    receipt = led.ok(CONSUMER, "community.opt_in", {"pseudonym": "Sunny Balcony"})
    assert receipt.events == [{"type": "community.opted_in", "account": CONSUMER}]
    assert _ranked(led) == {CONSUMER: "Sunny Balcony"}
    found = community.get_consent(led.state, CONSUMER)
    assert found is not None
    assert found.status == "granted"
    assert found.granted_height == led.height
    led.ok(CONSUMER, "community.revoke", {})
    assert _ranked(led) == {}
    found = community.get_consent(led.state, CONSUMER)
    assert found is not None
    assert (found.status, found.pseudonym, found.revoked_height) == ("revoked", None, led.height)
    assert led.state.get(keys.pseudonym("sunny balcony")) is None
    # the name is free again, for anyone
    led.ok(OTHER_HOUSE, "community.opt_in", {"pseudonym": "sunny BALCONY"})
    assert _ranked(led) == {OTHER_HOUSE: "sunny BALCONY"}


def test_a_pseudonym_is_unique_ignoring_case_and_changing_it_frees_the_old_one() -> None:
    led = Ledger()
    led.ok(CONSUMER, "community.opt_in", {"pseudonym": "绿色阳台"})
    led.refused(
        led.tx(OTHER_HOUSE, "community.opt_in", {"pseudonym": "绿色阳台"}),
        "community.pseudonym_taken",
    )
    led.ok(CONSUMER, "community.opt_in", {"pseudonym": "Green-01"})
    led.refused(
        led.tx(OTHER_HOUSE, "community.opt_in", {"pseudonym": "GREEN-01"}),
        "community.pseudonym_taken",
    )
    led.ok(OTHER_HOUSE, "community.opt_in", {"pseudonym": "绿色阳台"})
    assert _ranked(led) == {CONSUMER: "Green-01", OTHER_HOUSE: "绿色阳台"}


@pytest.mark.parametrize(
    "pseudonym",
    [
        "ab",
        "x" * 25,
        "1abc",
        " abc",
        "abc ",
        "a  b",
        "ab\u00e9",
        "abc!",
        "ab\nc",
        "ÄBC",
        "ab\u3000c",
    ],
)
def test_an_invalid_pseudonym_is_refused_at_admission(pseudonym: str) -> None:
    led = Ledger()
    _stateless(
        led,
        led.tx(CONSUMER, "community.opt_in", {"pseudonym": pseudonym}),
        "community.invalid_pseudonym",
    )


def test_a_pseudonym_naming_an_account_or_organisation_is_refused() -> None:
    led = Ledger()
    for name in (PRODUCER, "Households", "operator"):
        led.refused(
            led.tx(CONSUMER, "community.opt_in", {"pseudonym": name}), "community.pseudonym_is_id"
        )


def test_only_a_consumer_account_acts_and_only_for_itself() -> None:
    led = Ledger()
    led.refused(led.tx(GW1, "community.opt_in", {"pseudonym": "Gateway"}), "auth.forbidden")
    led.refused(led.tx(CONSUMER, "community.revoke", {}), "community.not_opted_in")
    # a body naming another account is not a body of these kinds
    with pytest.raises(GridLedgerError) as refused:
        prepare(led.tx(CONSUMER, "community.revoke", {"account": OTHER_HOUSE}))
    assert refused.value.code == "tx.invalid_body"


def test_streak_share_is_a_setting_of_the_household() -> None:
    led = Ledger()
    led.ok(CONSUMER, "community.set_streak_share", {"share_permille": 800})
    found = community.get_setting(led.state, CONSUMER)
    assert found is not None
    assert found.share_permille == 800
    for bad in (0, 1001, -5):
        _stateless(
            led,
            led.tx(CONSUMER, "community.set_streak_share", {"share_permille": bad}),
            "community.invalid_share",
        )
    assert community.get_setting(led.state, OTHER_HOUSE) is None


NAMES = ["Sunny", "sunny", "SUNNY", "绿色阳台", "Leaf-2", "leaf-2"]
HOUSES = [PRODUCER, CONSUMER, OTHER_HOUSE]


class ConsentMachine(RuleBasedStateMachine):
    """Random opt-ins and revocations by three households against a dict model."""

    def __init__(self) -> None:
        super().__init__()
        self.led = Ledger()
        self.model: dict[str, str] = {}

    @rule(house=st.sampled_from(HOUSES), name=st.sampled_from(NAMES))
    def opt_in(self, house: str, name: str) -> None:
        (receipt,) = self.led.run(self.led.tx(house, "community.opt_in", {"pseudonym": name}))
        taken = any(
            a != house and community.fold(n) == community.fold(name) for a, n in self.model.items()
        )
        assert receipt.ok == (not taken), receipt.code
        if receipt.ok:
            self.model[house] = name

    @rule(house=st.sampled_from(HOUSES))
    def revoke(self, house: str) -> None:
        (receipt,) = self.led.run(self.led.tx(house, "community.revoke", {}))
        assert receipt.ok == (house in self.model), receipt.code
        self.model.pop(house, None)

    @invariant()
    def ranking_matches_the_model(self) -> None:
        assert _ranked(self.led) == self.model
        folded = [community.fold(n) for n in self.model.values()]
        assert len(folded) == len(set(folded))
        for account, name in self.model.items():
            assert self.led.state.get(keys.pseudonym(community.fold(name))) == account.encode()
        pseudonyms = list(self.led.state.scan(b"community/pseudonym/"))
        assert len(pseudonyms) == len(self.model)


TestConsentMachine = ConsentMachine.TestCase
TestConsentMachine.settings = settings(max_examples=25, stateful_step_count=12, deadline=None)
