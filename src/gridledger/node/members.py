"""Members' sign-in credentials: how custodial households (and the operator) prove who they are.

The node signs for a custodial account (:mod:`gridledger.node.custody`) only for that account's
member, signed in. What a member signs in with lives in one file, ``<home>/members.json``
(mode 0600, replaced atomically, changed under an exclusive lock on ``members.lock`` so the
command line and a running node may both write it)::

    {"version": 1,
     "members": {"house-001": {
         "epoch": 2,
         "passkeys": [{"id": "<base64url credential id>", "public_key": "<base64 COSE key>",
                       "sign_count": 0, "rp_id": "localhost", "created_s": 1760000000,
                       "last_used_s": null}],
         "password": "$argon2id$v=19$m=65536,t=2,p=1$...",
         "enrolment": {"code_sha256": "<hex>", "issued_s": ..., "expires_s": ...,
                       "password": false}}},
     "operators": {"operator": {"token_sha256": "<hex>", "created_s": ...}}}

Nothing secret is kept in clear:

* **passkeys** (WebAuthn) hold only the credential's public key, its id, the relying party id it
  was made for and the authenticator's signature counter;
* **passwords** (the fallback for volunteers) are Argon2id hashes in the PHC string format,
  made and checked by libsodium through PyNaCl's ``nacl.pwhash.argon2id`` -- the same library
  and parameters as the keystore, so no second Argon2 implementation is needed;
* **enrolment codes** and **operator tokens** are 128 and 256 random bits, so a SHA-256 of
  them is enough to keep (nothing to brute-force); they are compared in constant time.

An enrolment code is single use and expires; completing it (a passkey registered, or a
password set where the code allows one) removes it. ``epoch`` grows with every reset, so a
running node ends the sessions a member opened before the reset.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import os
import secrets
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import nacl.exceptions
import nacl.pwhash

MEMBERS_NAME = "members.json"
LOCK_NAME = "members.lock"
ENROLMENT_TTL_S = 72 * 3600
"""How long an enrolment code stays valid by default."""
MAX_ENROLMENT_TTL_S = 30 * 86_400
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 256
MAX_PASSKEYS = 10
"""Passkeys one member may register (a phone, a laptop, a spare security key, ...)."""
OPERATOR_TOKEN_PREFIX = "glop_"
OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
"""Argon2id cost of a password hash: about 0.1-0.3 s and 64 MiB per check on these machines."""

Clock = Callable[[], float]
"""Seconds since the epoch (``time.time``; tests pass their own)."""


class MembersError(Exception):
    """A refusal about members' credentials, with a stable code and a message to act on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Passkey(msgspec.Struct, kw_only=True):
    id: str
    """The credential id, base64url without padding (as browsers send it)."""
    public_key: bytes
    """The credential's public key, COSE-encoded."""
    sign_count: int = 0
    """The authenticator's signature counter at the last sign-in (0: it keeps none)."""
    rp_id: str
    """The relying party id (host name) the passkey was registered for."""
    created_s: int
    last_used_s: int | None = None


class Enrolment(msgspec.Struct, kw_only=True):
    code_sha256: str
    issued_s: int
    expires_s: int
    password: bool = False
    """Whether the member may set a password with it (volunteers); a passkey always works."""


class Member(msgspec.Struct, kw_only=True):
    epoch: int = 0
    """Grows with every reset: sessions opened under an older epoch end."""
    passkeys: list[Passkey] = []
    password: str | None = None
    """An Argon2id hash in PHC string form, or none."""
    enrolment: Enrolment | None = None


class Operator(msgspec.Struct, kw_only=True):
    token_sha256: str
    created_s: int


class MembersFile(msgspec.Struct, kw_only=True):
    version: int = 1
    members: dict[str, Member] = {}
    operators: dict[str, Operator] = {}


class LoginState(msgspec.Struct, kw_only=True):
    """What an operator sees of one member's sign-in."""

    account: str
    passkeys: int
    password: bool
    enrolment_expires_s: int | None
    """When the pending enrolment code expires (none pending: ``None``)."""
    enrolment_password: bool
    state: str
    """``enrolled`` (can sign in), ``pending`` (an enrolment code waits) or ``none``."""


class Issued(msgspec.Struct, kw_only=True):
    """A new enrolment code: shown once, then only its hash is kept."""

    account: str
    code: str
    expires_s: int
    password: bool


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(MembersFile).decode


def members_path(home: Path) -> Path:
    return Path(home) / MEMBERS_NAME


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def normalise_password(password: str) -> bytes:
    """The bytes a password is hashed as: NFKC-normalised UTF-8, so the same password typed
    on another keyboard (full-width digits, composed accents) still matches."""
    return unicodedata.normalize("NFKC", password).encode()


def check_new_password(account: str, password: str) -> None:
    """Refuse a password too short, too long, or equal to the account id.

    Raises:
        MembersError: ``auth.weak_password``.
    """
    chars = len(unicodedata.normalize("NFKC", password))
    if chars < MIN_PASSWORD_CHARS:
        raise MembersError(
            "auth.weak_password", f"a password needs at least {MIN_PASSWORD_CHARS} characters"
        )
    if chars > MAX_PASSWORD_CHARS:
        raise MembersError(
            "auth.weak_password", f"a password has at most {MAX_PASSWORD_CHARS} characters"
        )
    if password.strip().lower() == account.lower():
        raise MembersError("auth.weak_password", "the password must not be the account id")


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` (PHC string), with a fresh random salt."""
    return nacl.pwhash.argon2id.str(
        normalise_password(password), opslimit=OPSLIMIT, memlimit=MEMLIMIT
    ).decode()


_DUMMY_HASH = hash_password("not a password of anyone's: evens out the time of a check")


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; with nothing stored it costs a check all the
    same, so timing does not tell which accounts have a password."""
    if len(password) > 4 * MAX_PASSWORD_CHARS:
        return False
    try:
        matched = nacl.pwhash.argon2id.verify(
            (stored or _DUMMY_HASH).encode(), normalise_password(password)
        )
    except (nacl.exceptions.InvalidkeyError, nacl.exceptions.CryptoError, ValueError):
        return False
    return bool(matched) and stored is not None


class Members:
    """The members file of one home. Reads are cached until the file changes on disk; every
    change re-reads the file under the lock, so concurrent writers never lose each other's
    changes."""

    def __init__(self, home: Path, clock: Clock = time.time) -> None:
        self.home = Path(home)
        self.path = members_path(self.home)
        self.clock = clock
        self._cached: MembersFile = MembersFile()
        self._stamp: tuple[int, int, int] | None = None
        self._codes: dict[str, str] = {}

    # reading ---------------------------------------------------------------------------------
    def _now(self) -> int:
        return int(self.clock())

    def _read_file(self) -> MembersFile:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return MembersFile()
        try:
            doc = _decode(raw)
        except msgspec.DecodeError as exc:
            raise MembersError("members.unreadable", f"{self.path} is damaged: {exc}") from None
        if doc.version != 1:
            raise MembersError("members.unreadable", f"{self.path}: unsupported version")
        return doc

    def doc(self) -> MembersFile:
        """The file's content, re-read only when it changed on disk (one ``stat`` a call)."""
        try:
            st = self.path.stat()
            # every write replaces the file, so its inode changes even within one mtime tick
            stamp: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp or stamp is None:
            self._set(self._read_file(), stamp)
        return self._cached

    def _set(self, doc: MembersFile, stamp: tuple[int, int, int] | None) -> None:
        self._cached = doc
        self._stamp = stamp
        self._codes = {
            m.enrolment.code_sha256: account
            for account, m in doc.members.items()
            if m.enrolment is not None
        }

    def member(self, account: str) -> Member | None:
        return self.doc().members.get(account)

    def epoch(self, account: str) -> int | None:
        """The member's epoch, or ``None`` for an account that has no entry."""
        found = self.member(account)
        return None if found is None else found.epoch

    def can_sign_in(self, account: str) -> bool:
        found = self.member(account)
        return found is not None and (bool(found.passkeys) or found.password is not None)

    def login_state(self, account: str) -> LoginState:
        found = self.member(account) or Member()
        pending = found.enrolment
        if pending is not None and pending.expires_s <= self._now():
            pending = None
        enrolled = bool(found.passkeys) or found.password is not None
        return LoginState(
            account=account,
            passkeys=len(found.passkeys),
            password=found.password is not None,
            enrolment_expires_s=None if pending is None else pending.expires_s,
            enrolment_password=pending is not None and pending.password,
            state="enrolled" if enrolled else "pending" if pending is not None else "none",
        )

    def enrolment(self, code: str) -> tuple[str, Enrolment]:
        """The account and enrolment a code opens.

        Raises:
            MembersError: ``auth.enrolment_invalid`` for a code unknown, used or expired
                (one answer for all three: the code is the only secret).
        """
        doc = self.doc()
        digest = _sha256(code)
        account = self._codes.get(digest)
        member = doc.members.get(account) if account is not None else None
        pending = None if member is None else member.enrolment
        if (
            account is None
            or pending is None
            or not hmac.compare_digest(pending.code_sha256, digest)
            or pending.expires_s <= self._now()
        ):
            raise MembersError(
                "auth.enrolment_invalid",
                "this enrolment code is unknown, used or expired; ask the operator for a new one",
            )
        return account, pending

    def passkeys_of(self, account: str) -> list[Passkey]:
        found = self.member(account)
        return [] if found is None else list(found.passkeys)

    def find_passkey(self, credential_id: str) -> tuple[str, Passkey] | None:
        for account, member in self.doc().members.items():
            for key in member.passkeys:
                if hmac.compare_digest(key.id, credential_id):
                    return account, key
        return None

    def check_password(self, account: str, password: str) -> bool:
        found = self.member(account)
        return verify_password(None if found is None else found.password, password)

    def operator_for(self, token: str) -> str | None:
        """The operator a bearer token belongs to, or ``None``."""
        if not token.startswith(OPERATOR_TOKEN_PREFIX):
            return None
        digest = _sha256(token)
        found = None
        for name, op in self.doc().operators.items():
            if hmac.compare_digest(op.token_sha256, digest):
                found = name
        return found

    def operator_stamp(self, name: str) -> str | None:
        """What changes when an operator's token is replaced or revoked (sessions opened with
        the old token end)."""
        op = self.doc().operators.get(name)
        return None if op is None else op.token_sha256

    # changing --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _changing(self) -> Iterator[MembersFile]:
        """The file, fresh from disk under the exclusive lock; written back when the block
        ends without an error (atomically: a temporary file, fsync, rename)."""
        self.home.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(self.home / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            doc = self._read_file()
            yield doc
            tmp = self.path.with_name(f".{MEMBERS_NAME}.{secrets.token_hex(4)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(msgspec.json.format(_encode(doc), indent=1))
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            st = self.path.stat()
            self._set(doc, (st.st_ino, st.st_mtime_ns, st.st_size))
        finally:
            os.close(lock_fd)

    def _enrolment_for(self, member: Member, password: bool, ttl_s: int) -> tuple[str, int]:
        if not 60 <= ttl_s <= MAX_ENROLMENT_TTL_S:
            raise MembersError(
                "members.invalid_ttl",
                f"an enrolment lasts from 60 s to {MAX_ENROLMENT_TTL_S // 86_400} days",
            )
        code = secrets.token_urlsafe(16)
        now = self._now()
        member.enrolment = Enrolment(
            code_sha256=_sha256(code), issued_s=now, expires_s=now + ttl_s, password=password
        )
        return code, now + ttl_s

    def issue_enrolment(
        self, account: str, *, password: bool = False, ttl_s: int = ENROLMENT_TTL_S
    ) -> Issued:
        """A new single-use enrolment code for ``account`` (replacing a pending one); the
        member's existing credentials stay (a second passkey, say).

        Raises:
            MembersError: ``members.invalid_ttl``.
        """
        with self._changing() as doc:
            member = doc.members.setdefault(account, Member())
            code, expires_s = self._enrolment_for(member, password, ttl_s)
        return Issued(account=account, code=code, expires_s=expires_s, password=password)

    def reset(
        self, account: str, *, password: bool = False, ttl_s: int = ENROLMENT_TTL_S
    ) -> Issued:
        """Remove every credential of ``account``, end its sessions (a new epoch) and issue a
        new enrolment code, in one change of the file."""
        with self._changing() as doc:
            member = doc.members.setdefault(account, Member())
            member.passkeys = []
            member.password = None
            member.epoch += 1
            code, expires_s = self._enrolment_for(member, password, ttl_s)
        return Issued(account=account, code=code, expires_s=expires_s, password=password)

    def forget(self, account: str) -> bool:
        """Remove the member's entry entirely (its key left custody); whether it had one."""
        with self._changing() as doc:
            return doc.members.pop(account, None) is not None

    def _take_code(self, doc: MembersFile, code: str) -> tuple[str, Member, Enrolment]:
        digest = _sha256(code)
        for account, member in doc.members.items():
            pending = member.enrolment
            if pending is not None and hmac.compare_digest(pending.code_sha256, digest):
                if pending.expires_s <= self._now():
                    break
                member.enrolment = None
                return account, member, pending
        raise MembersError(
            "auth.enrolment_invalid",
            "this enrolment code is unknown, used or expired; ask the operator for a new one",
        )

    def enrol_passkey(
        self, code: str, *, credential_id: str, public_key: bytes, sign_count: int, rp_id: str
    ) -> str:
        """Complete an enrolment with a new passkey; returns the account.

        Raises:
            MembersError: ``auth.enrolment_invalid``; ``auth.passkey_exists`` for a credential
                already registered; ``auth.too_many_passkeys``.
        """
        if self.find_passkey(credential_id) is not None:
            raise MembersError("auth.passkey_exists", "this passkey is registered already")
        with self._changing() as doc:
            account, member, _ = self._take_code(doc, code)
            if len(member.passkeys) >= MAX_PASSKEYS:
                raise MembersError(
                    "auth.too_many_passkeys",
                    f"a member has at most {MAX_PASSKEYS} passkeys; ask for a reset",
                )
            member.passkeys.append(
                Passkey(
                    id=credential_id,
                    public_key=public_key,
                    sign_count=sign_count,
                    rp_id=rp_id,
                    created_s=self._now(),
                )
            )
        return account

    def enrol_password(self, code: str, password: str) -> str:
        """Complete an enrolment by setting a password, where the code allows one; returns
        the account.

        Raises:
            MembersError: ``auth.enrolment_invalid``; ``auth.password_not_allowed``;
                ``auth.weak_password``.
        """
        account, pending = self.enrolment(code)
        if not pending.password:
            raise MembersError(
                "auth.password_not_allowed",
                "this enrolment registers a passkey only; ask the operator for one that "
                "allows a password",
            )
        check_new_password(account, password)
        hashed = hash_password(password)  # outside the lock: it takes a while
        with self._changing() as doc:
            taken, member, allowed = self._take_code(doc, code)
            if taken != account or not allowed.password:
                raise MembersError("auth.enrolment_invalid", "this enrolment code changed")
            member.password = hashed
        return account

    def set_password(self, account: str, password: str) -> None:
        """Set a member's password directly (the demo's members; an operator's command)."""
        check_new_password(account, password)
        hashed = hash_password(password)
        with self._changing() as doc:
            doc.members.setdefault(account, Member()).password = hashed

    def passkey_used(self, account: str, credential_id: str, sign_count: int) -> None:
        """Record a sign-in with a passkey: its new signature counter and when."""
        with self._changing() as doc:
            member = doc.members.get(account)
            for key in [] if member is None else member.passkeys:
                if key.id == credential_id:
                    key.sign_count = sign_count
                    key.last_used_s = self._now()

    def issue_operator_token(self, name: str) -> str:
        """A new bearer token for operator ``name`` (replacing its old one), shown once."""
        token = OPERATOR_TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._changing() as doc:
            doc.operators[name] = Operator(token_sha256=_sha256(token), created_s=self._now())
        return token

    def revoke_operator(self, name: str) -> bool:
        with self._changing() as doc:
            return doc.operators.pop(name, None) is not None
