"""Custodial keys: the keys of community accounts that the node signs for.

Some members of a community (households without a device of their own to hold a key) let the
community's node keep their key: the web interface then signs their standing choice for them.
All such keys live in one file, ``<home>/custody.json``, so a community of thousands is written
and opened in milliseconds::

    {"version": 1, "cipher": "xsalsa20poly1305", "kdf": "blake2b-node-key",
     "node_key": "ed25519:<hex>",
     "accounts": {"house-001": {"public_key": "ed25519:<hex>",
                                "sealed": "<hex: 24-byte nonce || sealed seed>"}, ...}}

Each seed is sealed with SecretBox under one key derived from the node's own key (BLAKE2b keyed
with its seed, personalised ``gridledger/custody``). The node key is itself encrypted with the
home's passphrase (:mod:`gridledger.core.keystore`), so exactly a node that could be started
with that passphrase opens the file, and no passphrase has to be kept around while serving.
``node_key`` names the node key the file was sealed for: a file sealed for another node is
refused instead of failing key by key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.secret

from gridledger.core.crypto import SigningKey

CUSTODY_NAME = "custody.json"
_PERSON = b"gl/custody/v1"


class CustodyError(Exception):
    """The custody file cannot be read, or was sealed for another node key."""


def custody_path(home: Path) -> Path:
    return Path(home) / CUSTODY_NAME


def _box(node_key: SigningKey) -> nacl.secret.SecretBox:
    derived = nacl.hash.blake2b(
        b"",
        key=node_key.seed,
        person=_PERSON,
        digest_size=nacl.secret.SecretBox.KEY_SIZE,
        encoder=nacl.encoding.RawEncoder,
    )
    return nacl.secret.SecretBox(derived)


def save_custody(home: Path, node_key: SigningKey, keys: Mapping[str, SigningKey]) -> Path:
    """Write (or replace) the custody file of ``home`` holding ``keys`` by account (mode 0600)."""
    box = _box(node_key)
    doc = {
        "version": 1,
        "cipher": "xsalsa20poly1305",
        "kdf": "blake2b-node-key",
        "node_key": node_key.public_key,
        "accounts": {
            account: {"public_key": key.public_key, "sealed": bytes(box.encrypt(key.seed)).hex()}
            for account, key in sorted(keys.items())
        },
    }
    path = custody_path(home)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, path)
    return path


def held_accounts(home: Path) -> list[str]:
    """The accounts in custody, read without opening any key (no passphrase needed): for
    managing their members' sign-in.

    Raises:
        CustodyError: the file is malformed.
    """
    path = custody_path(home)
    if not path.exists():
        return []
    try:
        doc = json.loads(path.read_text())
        return sorted(str(account) for account in doc["accounts"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CustodyError(f"cannot read custody file {path}: {exc}") from None


class Custody:
    """The keys a node holds for community accounts, opened with the node's key."""

    def __init__(self, keys: Mapping[str, SigningKey]) -> None:
        self._keys = dict(keys)

    def __contains__(self, account: object) -> bool:
        return account in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def key(self, account: str) -> SigningKey | None:
        return self._keys.get(account)

    def accounts(self) -> list[str]:
        """The accounts held, by id."""
        return sorted(self._keys)

    @classmethod
    def empty(cls) -> Custody:
        return cls({})

    @classmethod
    def open(cls, home: Path, node_key: SigningKey) -> Custody:
        """The custody of ``home``: empty without a custody file.

        Raises:
            CustodyError: a malformed file, one sealed for another node key, or a seed that
                does not match its public key.
        """
        path = custody_path(home)
        if not path.exists():
            return cls.empty()
        try:
            doc = json.loads(path.read_text())
            if doc.get("version") != 1 or doc.get("kdf") != "blake2b-node-key":
                raise CustodyError(f"{path}: unsupported custody version or key derivation")
            if doc.get("node_key") != node_key.public_key:
                raise CustodyError(f"{path} was sealed for another node key")
            box = _box(node_key)
            keys: dict[str, SigningKey] = {}
            for account, entry in doc["accounts"].items():
                key = SigningKey.from_seed(bytes(box.decrypt(bytes.fromhex(entry["sealed"]))))
                if key.public_key != entry["public_key"]:
                    raise CustodyError(f"{path}: the key of {account} does not match")
                keys[str(account)] = key
        except nacl.exceptions.CryptoError:
            raise CustodyError(f"{path}: a sealed key does not open with this node key") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CustodyError(f"cannot read custody file {path}: {exc}") from None
        return cls(keys)
