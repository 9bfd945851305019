"""Keys at rest: an Ed25519 seed encrypted under a passphrase.

File format (JSON, one key per file)::

    {"version": 1, "name": "operator", "public_key": "ed25519:<hex>",
     "kdf": {"name": "argon2id", "opslimit": 3, "memlimit": 67108864, "salt": "<hex>"},
     "cipher": "xsalsa20poly1305", "ciphertext": "<hex: 24-byte nonce || sealed seed>"}

The key-encryption key is Argon2id(passphrase, salt) from libsodium (PyNaCl); the seed is
sealed with SecretBox. For automation the passphrase comes from ``GRIDLEDGER_PASSPHRASE``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils

from gridledger.core.crypto import SigningKey

PASSPHRASE_ENV = "GRIDLEDGER_PASSPHRASE"
# Interactive limits: ~0.1-0.3 s per unlock on these machines; raise for offline cold keys.
OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE


class KeystoreError(Exception):
    """A keystore file cannot be read or the passphrase is wrong."""


def _kek(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return bytes(
        nacl.pwhash.argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE,
            passphrase.encode(),
            salt,
            opslimit=opslimit,
            memlimit=memlimit,
        )
    )


def save_key(path: Path, name: str, key: SigningKey, passphrase: str) -> None:
    """Encrypt ``key`` under ``passphrase`` and write it to ``path`` (mode 0600)."""
    salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
    box = nacl.secret.SecretBox(_kek(passphrase, salt, OPSLIMIT, MEMLIMIT))
    sealed = bytes(box.encrypt(key.seed))
    doc = {
        "version": 1,
        "name": name,
        "public_key": key.public_key,
        "kdf": {"name": "argon2id", "opslimit": OPSLIMIT, "memlimit": MEMLIMIT, "salt": salt.hex()},
        "cipher": "xsalsa20poly1305",
        "ciphertext": sealed.hex(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2)
    os.replace(tmp, path)


def read_public_key(path: Path) -> str:
    """The public key of a keystore file, without unlocking it."""
    try:
        return str(json.loads(path.read_text())["public_key"])
    except (OSError, ValueError, KeyError) as exc:
        raise KeystoreError(f"cannot read keystore {path}: {exc}") from None


def load_key(path: Path, passphrase: str) -> SigningKey:
    """Unlock the key in ``path``.

    Raises:
        KeystoreError: missing or malformed file, or a wrong passphrase.
    """
    try:
        doc = json.loads(path.read_text())
        kdf = doc["kdf"]
        if doc.get("version") != 1 or kdf["name"] != "argon2id":
            raise KeystoreError(f"{path}: unsupported keystore version or KDF")
        kek = _kek(
            passphrase, bytes.fromhex(kdf["salt"]), int(kdf["opslimit"]), int(kdf["memlimit"])
        )
        seed = nacl.secret.SecretBox(kek).decrypt(bytes.fromhex(doc["ciphertext"]))
    except nacl.exceptions.CryptoError:
        raise KeystoreError(f"wrong passphrase for {path}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeystoreError(f"cannot read keystore {path}: {exc}") from None
    key = SigningKey.from_seed(bytes(seed))
    if key.public_key != doc.get("public_key"):
        raise KeystoreError(f"{path}: the public key does not match the sealed seed")
    return key


def passphrase_from_env() -> str | None:
    return os.environ.get(PASSPHRASE_ENV)
