"""Every state key of the registry. Nothing else builds them: other code calls these.

* ``registry/org/<org>``: an :class:`~gridledger.contracts.registry.records.Organisation`;
* ``registry/account/<account>``: an :class:`~gridledger.contracts.registry.records.Account`;
* ``registry/device/<device>``, ``registry/site/<site>``, ``registry/meter/<meter>``: a
  :class:`~gridledger.contracts.registry.records.Device`, ``Site`` or ``Meter``;
* ``registry/meters_of/<device | site>/<asset>/<meter>``: ``1``, the index of the meters bound
  to a device or a site. The asset's kind is part of the key because a device and a site may
  share an id.

Ids never contain ``/``, so a prefix ending in ``/`` holds exactly one id's keys.
"""

from __future__ import annotations

from typing import Literal

AssetKind = Literal["device", "site"]
"""What a meter is bound to: a device (generation) or a site (consumption)."""


def organisation(org: str) -> bytes:
    return b"registry/org/" + org.encode()


def organisations() -> bytes:
    """Prefix of every organisation."""
    return b"registry/org/"


def account(account_id: str) -> bytes:
    return b"registry/account/" + account_id.encode()


def accounts() -> bytes:
    """Prefix of every account."""
    return b"registry/account/"


def device(device_id: str) -> bytes:
    return b"registry/device/" + device_id.encode()


def devices() -> bytes:
    """Prefix of every device."""
    return b"registry/device/"


def site(site_id: str) -> bytes:
    return b"registry/site/" + site_id.encode()


def sites() -> bytes:
    """Prefix of every site."""
    return b"registry/site/"


def meter(meter_id: str) -> bytes:
    return b"registry/meter/" + meter_id.encode()


def meters() -> bytes:
    """Prefix of every meter."""
    return b"registry/meter/"


def asset_meter(asset_kind: AssetKind, asset: str, meter_id: str) -> bytes:
    """Index entry: ``meter_id`` is bound to device or site ``asset``."""
    return f"registry/meters_of/{asset_kind}/{asset}/{meter_id}".encode()


def asset_meters(asset_kind: AssetKind, asset: str) -> bytes:
    """Prefix of the index entries of one device's or site's meters."""
    return f"registry/meters_of/{asset_kind}/{asset}/".encode()
