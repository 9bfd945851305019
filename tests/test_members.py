"""Members' sign-in credentials in ``HOME/members.json``: enrolment codes, passkeys, password
hashes, resets and operator tokens; the file never holds a secret in clear.

Time comes from an injected clock, so expiry is tested without waiting.
"""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest

from gridledger.node.members import (
    MAX_PASSKEYS,
    Members,
    MembersError,
    hash_password,
    members_path,
    verify_password,
)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def members(tmp_path: Path, clock: Clock) -> Members:
    return Members(tmp_path, clock)


def _passkey(members: Members, code: str, cred: str = "cred-1") -> str:
    return members.enrol_passkey(
        code, credential_id=cred, public_key=b"\xa5cose", sign_count=0, rp_id="localhost"
    )


def test_an_enrolment_code_works_once_and_registers_a_passkey(members: Members) -> None:
    assert members.login_state("house-001").state == "none"
    issued = members.issue_enrolment("house-001")
    assert members.login_state("house-001").state == "pending"
    assert members.enrolment(issued.code)[0] == "house-001"
    assert _passkey(members, issued.code) == "house-001"
    state = members.login_state("house-001")
    assert (state.state, state.passkeys, state.password) == ("enrolled", 1, False)
    found = members.find_passkey("cred-1")
    assert found is not None
    assert found[0] == "house-001"
    with pytest.raises(MembersError) as err:
        _passkey(members, issued.code, "cred-2")
    assert err.value.code == "auth.enrolment_invalid"
    with pytest.raises(MembersError):
        members.enrolment(issued.code)
    # a second passkey takes a new code; the first one stays
    again = members.issue_enrolment("house-001")
    with pytest.raises(MembersError) as err:
        _passkey(members, again.code, "cred-1")
    assert err.value.code == "auth.passkey_exists"
    _passkey(members, again.code, "cred-2")
    assert members.login_state("house-001").passkeys == 2


def test_codes_expire_and_a_new_code_replaces_the_old(members: Members, clock: Clock) -> None:
    first = members.issue_enrolment("house-001", ttl_s=3600)
    second = members.issue_enrolment("house-001", ttl_s=3600)
    with pytest.raises(MembersError):
        members.enrolment(first.code)
    clock.now += 3599
    assert members.enrolment(second.code)[0] == "house-001"
    clock.now += 1
    with pytest.raises(MembersError) as err:
        _passkey(members, second.code)
    assert err.value.code == "auth.enrolment_invalid"
    assert members.login_state("house-001").state == "none"
    with pytest.raises(MembersError) as err:
        members.issue_enrolment("house-001", ttl_s=10)
    assert err.value.code == "members.invalid_ttl"


def test_passwords_only_where_the_code_allows_and_hashed(members: Members) -> None:
    passkey_only = members.issue_enrolment("house-001")
    with pytest.raises(MembersError) as err:
        members.enrol_password(passkey_only.code, "a long enough password")
    assert err.value.code == "auth.password_not_allowed"
    volunteer = members.issue_enrolment("house-001", password=True)
    for weak in ("short", "house-001", "x" * 257):
        with pytest.raises(MembersError) as err:
            members.enrol_password(volunteer.code, weak)
        assert err.value.code == "auth.weak_password"
    assert members.enrol_password(volunteer.code, "correct horse battery") == "house-001"
    assert members.check_password("house-001", "correct horse battery")
    assert not members.check_password("house-001", "correct horse battery!")
    assert not members.check_password("house-002", "correct horse battery")
    # the same password typed with full-width letters (NFKC) still matches
    assert members.check_password("house-001", "ｃｏｒｒｅｃｔ horse battery")
    text = members_path(members.home).read_text()
    assert "correct horse" not in text
    assert volunteer.code not in text
    stored = json.loads(text)["members"]["house-001"]["password"]
    assert stored.startswith("$argon2id$")


def test_reset_removes_credentials_and_starts_a_new_epoch(members: Members) -> None:
    _passkey(members, members.issue_enrolment("house-001").code)
    members.set_password("house-001", "another long password")
    assert members.epoch("house-001") == 0
    issued = members.reset("house-001", password=True)
    state = members.login_state("house-001")
    assert (state.passkeys, state.password, state.state) == (0, False, "pending")
    assert state.enrolment_password
    assert members.epoch("house-001") == 1
    assert members.find_passkey("cred-1") is None
    assert not members.check_password("house-001", "another long password")
    assert members.enrolment(issued.code)[0] == "house-001"


def test_operator_tokens_are_kept_hashed_and_can_be_revoked(members: Members) -> None:
    token = members.issue_operator_token("operator")
    assert token.startswith("glop_")
    assert members.operator_for(token) == "operator"
    assert members.operator_for(token + "x") is None
    assert members.operator_for("Bearer " + token) is None
    assert token not in members_path(members.home).read_text()
    stamp = members.operator_stamp("operator")
    replaced = members.issue_operator_token("operator")
    assert members.operator_for(token) is None
    assert members.operator_for(replaced) == "operator"
    assert members.operator_stamp("operator") != stamp
    assert members.revoke_operator("operator")
    assert members.operator_for(replaced) is None
    assert not members.revoke_operator("operator")


def test_the_file_is_private_and_changes_from_elsewhere_are_seen(
    tmp_path: Path, members: Members, clock: Clock
) -> None:
    members.issue_enrolment("house-001")
    mode = stat.S_IMODE(members_path(tmp_path).stat().st_mode)
    assert mode == 0o600
    other = Members(tmp_path, clock)  # another process: the command line
    other.reset("house-001")
    assert members.epoch("house-001") == 1  # re-read because the file changed
    # writers in parallel lose nothing (each change re-reads the file under the lock)
    writers = [
        threading.Thread(target=Members(tmp_path, clock).issue_enrolment, args=(f"h-{n}",))
        for n in range(8)
    ]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    assert {f"h-{n}" for n in range(8)} <= set(members.doc().members)
    assert not list(tmp_path.glob("*.tmp"))


def test_a_damaged_file_is_refused_with_a_code(tmp_path: Path, members: Members) -> None:
    members_path(tmp_path).write_text("{not json")
    with pytest.raises(MembersError) as err:
        members.login_state("house-001")
    assert err.value.code == "members.unreadable"


def test_passkeys_per_member_are_bounded(members: Members) -> None:
    for n in range(MAX_PASSKEYS):
        _passkey(members, members.issue_enrolment("house-001").code, f"cred-{n}")
    with pytest.raises(MembersError) as err:
        _passkey(members, members.issue_enrolment("house-001").code, "one-too-many")
    assert err.value.code == "auth.too_many_passkeys"


def test_password_hashes_are_salted_argon2id() -> None:
    one, two = hash_password("the same password"), hash_password("the same password")
    assert one != two
    assert one.startswith("$argon2id$v=19$")
    assert verify_password(one, "the same password")
    assert not verify_password(None, "the same password")
    assert not verify_password("garbage", "the same password")
