"""The core's building blocks: canonical encoding, keys and signatures, records, keystore.

Canonical encoding is checked against Python's ``json`` module as an independent encoder of
the same rules (sorted keys by code point, no whitespace, literal UTF-8, short escapes).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import msgspec
import nacl.pwhash
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridledger.core import keystore
from gridledger.core.crypto import (
    SigningKey,
    format_public_key,
    parse_public_key,
    parse_signature,
    sha256,
    verify,
    verify_raw,
)
from gridledger.core.encoding import INT_MAX, INT_MIN, canonical, check_values, decode_json
from gridledger.core.errors import (
    BadSignature,
    IntegerOutOfRange,
    MissingSignature,
    NonIntegerNumber,
    UnsupportedAlgorithm,
)
from gridledger.core.types import BlockHeader, Receipt, Transaction
from gridledger.node.executor import prepare

json_scalars = st.none() | st.booleans() | st.integers(INT_MIN, INT_MAX) | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=16,
)


def json_oracle(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


# canonical encoding ------------------------------------------------------------------------------
@given(json_values)
def test_canonical_equals_the_json_module(value: Any) -> None:
    """Canonical bytes equal what the json module writes under the same rules."""
    check_values(value)
    assert canonical(value) == json_oracle(value)


@given(json_values)
def test_canonical_round_trip_is_a_fixed_point(value: Any) -> None:
    """Decoding canonical bytes gives the value back; encoding again gives the same bytes."""
    out = canonical(value)
    assert decode_json(out) == value
    assert canonical(decode_json(out)) == out


@given(json_values, st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_anywhere_is_refused(value: Any, number: float) -> None:
    """A float at any depth raises NonIntegerNumber (tx.non_integer_number)."""
    with pytest.raises(NonIntegerNumber) as info:
        check_values({"outer": [value, {"deep": number}]})
    assert info.value.code == "tx.non_integer_number"
    assert "$.outer[1].deep" in info.value.message


@pytest.mark.parametrize("number", [INT_MAX + 1, INT_MIN - 1, 2**64, -(2**100)])
def test_integers_outside_64_bits_are_refused(number: int) -> None:
    """The signed 64-bit range is the limit, one past either end is refused."""
    check_values([INT_MAX, INT_MIN])
    with pytest.raises(IntegerOutOfRange) as info:
        check_values({"a": [0, number]})
    assert info.value.code == "tx.integer_out_of_range"


def test_escaping_rules() -> None:
    """Exactly '"', '\\' and U+0000-U+001F are escaped; '/', DEL and U+2028 stay literal."""
    assert canonical('"\\/') == b'"\\"\\\\/"'
    assert canonical("\b\t\n\f\r") == b'"\\b\\t\\n\\f\\r"'
    assert canonical("\x00\x0b\x1f") == b'"\\u0000\\u000b\\u001f"'
    assert canonical("\x7f\u2028\u00e9\U0001f600") == '"\x7f\u2028\u00e9\U0001f600"'.encode()
    assert canonical({"\U0001f600": 1, "\uff61": 2}) == '{"\uff61":2,"\U0001f600":1}'.encode()


# keys and signatures -----------------------------------------------------------------------------
@given(st.binary(min_size=32, max_size=32), st.binary(max_size=64))
def test_sign_and_verify(seed: bytes, message: bytes) -> None:
    """A signature verifies for its key and message only; tagged and raw forms agree."""
    key = SigningKey.from_seed(seed)
    sig = key.sign(message)
    assert verify(key.public_key, message, sig)
    assert verify_raw(key.public_key_raw, message, parse_signature(sig))
    assert not verify(key.public_key, message + b"!", sig)
    other = SigningKey.from_seed(sha256(seed))
    assert not verify(other.public_key, message, sig)
    assert parse_public_key(key.public_key) == key.public_key_raw
    assert format_public_key(key.public_key_raw) == key.public_key


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("", MissingSignature),
        ("ed25519", BadSignature),
        ("ed25519:", BadSignature),
        ("ed25519:" + "0" * 127, BadSignature),
        ("ed25519:" + "A" * 128, BadSignature),
        ("ed25519:" + "g" * 128, BadSignature),
        ("sm2:" + "0" * 128, UnsupportedAlgorithm),
        (":" + "0" * 128, UnsupportedAlgorithm),
    ],
)
def test_malformed_signatures(value: str, error: type[Exception]) -> None:
    """Malformed tagged signatures raise their own error, and verify() says False."""
    with pytest.raises(error):
        parse_signature(value)
    key = SigningKey.from_seed(bytes(32))
    assert not verify(key.public_key, b"", value)


def test_verify_never_raises_on_garbage() -> None:
    """verify() and verify_raw() answer False for keys and signatures of any shape."""
    assert not verify("ed25519:00", b"m", "ed25519:00")
    assert not verify("nonsense", b"m", "nonsense")
    assert not verify_raw(b"short", b"m", b"\x00" * 64)
    assert not verify_raw(b"\x00" * 32, b"m", b"short")


def test_seed_is_never_printed() -> None:
    """repr() of a key shows the public key, never the seed."""
    seed = bytes(range(32))
    key = SigningKey.from_seed(seed)
    assert seed.hex() not in repr(key)
    assert key.public_key in repr(key)
    with pytest.raises(ValueError, match="32 bytes"):
        SigningKey.from_seed(b"short")


# records -----------------------------------------------------------------------------------------
memo_text = st.text(max_size=40)


@given(
    chain_id=st.text(min_size=1, max_size=12),
    sender=st.text(min_size=1, max_size=12),
    to=st.text(max_size=12),
    nonce=st.integers(0, INT_MAX),
    amount=st.integers(1, INT_MAX),
    memo=memo_text,
    seed=st.binary(min_size=32, max_size=32),
)
def test_prepared_signing_bytes_equal_the_transactions(
    chain_id: str, sender: str, to: str, nonce: int, amount: int, memo: str, seed: bytes
) -> None:
    """The bytes admission verifies are exactly the bytes the sender signed, for any text."""
    tx = Transaction(
        chain_id=chain_id,
        kind="funds.transfer",
        sender=sender,
        nonce=nonce,
        body={"to": to, "amount": amount, "memo": memo},
    )
    tx.signature = SigningKey.from_seed(seed).sign(tx.signing_bytes())
    p = prepare(tx)
    assert p.signing_bytes() == tx.signing_bytes()
    assert p.raw == tx.encode() == json_oracle(msgspec.to_builtins(tx))
    assert p.hash == sha256(p.raw)


def test_transaction_wire_form() -> None:
    """Keys sorted, signature last; unknown fields refused; a missing signature decodes as ''."""
    tx = Transaction(chain_id="c", kind="k", sender="s", nonce=1, body={"b": 1, "a": 2})
    assert tx.encode() == (
        b'{"body":{"a":2,"b":1},"chain_id":"c","kind":"k","nonce":1,"sender":"s","signature":""}'
    )
    assert tx.signing_bytes() == b"gridledger/tx/v1\n" + (
        b'{"body":{"a":2,"b":1},"chain_id":"c","kind":"k","nonce":1,"sender":"s"}'
    )
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(tx.encode()[:-1] + b',"fee":1}', type=Transaction)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(tx.encode().replace(b'"nonce":1', b'"nonce":-1'), type=Transaction)
    bare = b'{"body":{},"chain_id":"c","kind":"k","nonce":1,"sender":"s"}'
    assert msgspec.json.decode(bare, type=Transaction).signature == ""


def test_receipt_and_header_wire_forms() -> None:
    """Receipts and headers encode with sorted keys and explicit nulls."""
    receipt = Receipt("ab", "failed", "funds.invalid_amount", "amount 0", [])
    assert receipt.encode() == (
        b'{"code":"funds.invalid_amount","events":[],"message":"amount 0",'
        b'"status":"failed","tx_hash":"ab"}'
    )
    assert Receipt("ab", "ok").encode() == (
        b'{"code":null,"events":[],"message":null,"status":"ok","tx_hash":"ab"}'
    )
    header = BlockHeader("c", 1, "00" * 32, 5, "11" * 32, "22" * 32, "33" * 32, "org", 0)
    doc = json.loads(header.encode())
    assert list(doc) == sorted(doc)
    assert header.hash() == sha256(header.encode())
    assert header.signing_bytes() == b"gridledger/block/v1\n" + header.hash()


# keystore ----------------------------------------------------------------------------------------
@pytest.fixture
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """The smallest Argon2id limits: the file records them, so loading uses them too."""
    monkeypatch.setattr(keystore, "OPSLIMIT", nacl.pwhash.argon2id.OPSLIMIT_MIN)
    monkeypatch.setattr(keystore, "MEMLIMIT", nacl.pwhash.argon2id.MEMLIMIT_MIN)


@pytest.mark.usefixtures("fast_kdf")
def test_keystore_round_trip(tmp_path: Path) -> None:
    """A saved key loads back with the passphrase; the file is private and holds no seed."""
    key = SigningKey.from_seed(sha256(b"keystore"))
    path = tmp_path / "keys" / "alice.json"
    keystore.save_key(path, "alice", key, "correct horse")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["public_key"] == key.public_key
    assert doc["kdf"]["name"] == "argon2id"
    assert doc["cipher"] == "xsalsa20poly1305"
    assert key.seed.hex() not in path.read_text()
    assert keystore.read_public_key(path) == key.public_key
    assert keystore.load_key(path, "correct horse") == key


@pytest.mark.usefixtures("fast_kdf")
def test_keystore_refuses_wrong_passphrase_and_damage(tmp_path: Path) -> None:
    """A wrong passphrase, a damaged ciphertext or a swapped public key are refused."""
    key = SigningKey.from_seed(sha256(b"keystore"))
    path = tmp_path / "k.json"
    keystore.save_key(path, "k", key, "pw")
    with pytest.raises(keystore.KeystoreError, match="wrong passphrase"):
        keystore.load_key(path, "not pw")
    doc = json.loads(path.read_text())
    damaged = dict(
        doc, ciphertext=doc["ciphertext"][:-2] + ("00" if doc["ciphertext"][-2:] != "00" else "11")
    )
    path.write_text(json.dumps(damaged))
    with pytest.raises(keystore.KeystoreError):
        keystore.load_key(path, "pw")
    swapped = dict(doc, public_key=SigningKey.from_seed(bytes(32)).public_key)
    path.write_text(json.dumps(swapped))
    with pytest.raises(keystore.KeystoreError, match="does not match"):
        keystore.load_key(path, "pw")
    path.write_text("{not json")
    with pytest.raises(keystore.KeystoreError):
        keystore.load_key(path, "pw")
    with pytest.raises(keystore.KeystoreError):
        keystore.read_public_key(tmp_path / "missing.json")
