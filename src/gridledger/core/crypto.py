"""Hashes, keys and signatures.

Keys and signatures travel as ``"<algorithm>:<lower-case hex>"`` strings, e.g.
``ed25519:3b6a27bc...``. The tag lets another scheme (SM2 with SM3, as China's national standards
require of many deployments) join later without changing any format: a new tag, a new verifier.

Every signature covers a domain-separated message (``DOMAIN_*`` + payload) so that a transaction
signature can never be replayed as a block or attestation signature.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions
import nacl.signing

from gridledger.core.errors import BadSignature, MissingSignature, UnsupportedAlgorithm

ED25519 = "ed25519"
SUPPORTED_ALGORITHMS = (ED25519,)

DOMAIN_TX = b"gridledger/tx/v1\n"
DOMAIN_BLOCK = b"gridledger/block/v1\n"
DOMAIN_ATTESTATION = b"gridledger/attestation/v1\n"

HASH_LEN = 32
ZERO_HASH = bytes(HASH_LEN)


def sha256(data: bytes) -> bytes:
    """SHA-256 digest, the chain's hash function."""
    return hashlib.sha256(data).digest()


def _split_tagged(value: str, what: str, expected_len: int) -> tuple[str, bytes]:
    """Split ``alg:hex`` and check the algorithm and the length of the raw bytes."""
    if not isinstance(value, str) or not value:
        if what == "signature":
            raise MissingSignature
        raise BadSignature(f"no {what} given")
    alg, sep, hexpart = value.partition(":")
    if not sep:
        raise BadSignature(f"{what} must look like 'ed25519:<hex>'")
    if alg not in SUPPORTED_ALGORITHMS:
        raise UnsupportedAlgorithm(
            f"{what} algorithm {alg!r} is not supported "
            f"(supported: {', '.join(SUPPORTED_ALGORITHMS)})"
        )
    try:
        raw = bytes.fromhex(hexpart)
    except ValueError:
        raise BadSignature(f"{what} is not hex") from None
    if len(raw) != expected_len or hexpart != raw.hex():
        raise BadSignature(f"{what} must be {expected_len} bytes in lower-case hex")
    return alg, raw


def parse_public_key(value: str) -> bytes:
    """Return the raw 32 bytes of an ``ed25519:<hex>`` public key.

    Raises:
        BadSignature: the value is not a well-formed key.
        UnsupportedAlgorithm: the tag names a scheme this chain does not support.
    """
    return _split_tagged(value, "public key", 32)[1]


def parse_signature(value: str) -> bytes:
    """Return the raw 64 bytes of an ``ed25519:<hex>`` signature (raises like the key parser)."""
    return _split_tagged(value, "signature", 64)[1]


def format_public_key(raw: bytes) -> str:
    return f"{ED25519}:{raw.hex()}"


def format_signature(raw: bytes) -> str:
    return f"{ED25519}:{raw.hex()}"


def verify_raw(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Check an Ed25519 signature; ``True`` when valid. Never raises on bad input."""
    try:
        nacl.bindings.crypto_sign_open(signature + message, public_key)
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
        return False
    return True


def verify(public_key: str, message: bytes, signature: str) -> bool:
    """Check a tagged signature against a tagged public key; ``False`` on any mismatch."""
    try:
        pk = parse_public_key(public_key)
        sig = parse_signature(signature)
    except (BadSignature, MissingSignature, UnsupportedAlgorithm):
        return False
    return verify_raw(pk, message, sig)


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key (32-byte seed) with its tagged public key."""

    seed: bytes

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(bytes(nacl.signing.SigningKey.generate()))

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        return cls(seed)

    @property
    def _key(self) -> nacl.signing.SigningKey:
        return nacl.signing.SigningKey(self.seed)

    @property
    def public_key_raw(self) -> bytes:
        return bytes(self._key.verify_key)

    @property
    def public_key(self) -> str:
        return format_public_key(self.public_key_raw)

    def sign_raw(self, message: bytes) -> bytes:
        return bytes(self._key.sign(message).signature)

    def sign(self, message: bytes) -> str:
        """Return the tagged signature of ``message``."""
        return format_signature(self.sign_raw(message))

    def __repr__(self) -> str:  # never print the seed
        return f"SigningKey({self.public_key})"
