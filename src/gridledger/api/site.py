"""Where a node is served: the names it answers to, its origin, TLS, and whether it may sign.

A browser trusts a page by its origin, and a name can be made to point anywhere (DNS
rebinding: ``evil.example`` resolving to the node's address). So the node answers only
requests whose ``Host`` is one of its names -- ``names`` in ``node.json``, plus the address
it listens on, ``localhost``, ``127.0.0.1`` and ``::1`` -- and refuses any other with
``400 api.unknown_host`` before a route runs (:class:`HostCheck`). With the ``Host`` checked,
a state-changing form's ``Origin`` must be this site's own origin (:meth:`Site.origin`).

``node.json`` settings read here::

    {"names": ["community.example", "192.0.2.10"],       names besides the defaults
     "tls_cert": "/etc/gridledger/cert.pem",              serve HTTPS with this certificate
     "tls_key": "/etc/gridledger/key.pem",
     "behind_proxy": "https://community.example"}          or: an HTTPS proxy serves the node

Custodial signing (and signing in, which exists for it) needs a channel nobody else reads:
the node refuses it on a non-loopback address unless it serves TLS itself or sits behind a
named HTTPS proxy (:attr:`Site.custodial_refusal` says why); every other page and endpoint is
served all the same.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from gridledger.api.render import JSONBytes
from gridledger.node.home import HomeError, read_settings

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
IN_PROCESS_NAMES = ("testserver",)
"""The name in-process clients (Starlette's ``TestClient``, httpx's ASGI transport) send."""
_WILDCARDS = {"0.0.0.0", "::", ""}  # noqa: S104 - compared, not bound
_HOST = re.compile(
    r"^(?P<name>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"
    r"(?::(?P<port>\d{1,5}))?$"
)


class SiteError(HomeError):
    """A setting in ``node.json`` about serving is not valid."""


def host_name(host: str) -> str | None:
    """The name part of a ``Host`` header, lower-case and without brackets (``None``: not a
    host name or address)."""
    m = _HOST.match(host.strip())
    if m is None:
        return None
    return m.group("name").strip("[]").lower().rstrip(".")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address or name) reaches this machine only."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _check_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or host_name(name) != name.strip("[]").lower().rstrip("."):
        raise SiteError(f"{where}: {name!r} is not a host name or address (no port, no scheme)")
    return name.strip("[]").lower().rstrip(".")


def _check_proxy(value: Any) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if (
        parts is None
        or parts.scheme != "https"
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
    ):
        raise SiteError(
            f"behind_proxy: {value!r} is not an HTTPS origin (e.g. https://community.example)"
        )
    return f"https://{parts.netloc.lower()}"


@dataclass(frozen=True)
class SiteSettings:
    """The serving settings of a home's ``node.json``."""

    names: tuple[str, ...] = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None
    behind_proxy: str | None = None

    @classmethod
    def parse(cls, settings: dict[str, Any]) -> SiteSettings:
        """Raises :class:`SiteError` for a setting that is not valid."""
        names = settings.get("names", [])
        if not isinstance(names, list):
            raise SiteError("names: a list of host names or addresses")
        cert, key = settings.get("tls_cert"), settings.get("tls_key")
        if (cert is None) != (key is None):
            raise SiteError("tls_cert and tls_key go together")
        proxy = settings.get("behind_proxy")
        return cls(
            names=tuple(_check_name(n, "names") for n in names),
            tls_cert=None if cert is None else Path(str(cert)),
            tls_key=None if key is None else Path(str(key)),
            behind_proxy=None if proxy is None else _check_proxy(proxy),
        )

    @classmethod
    def of_home(cls, home: Path | None) -> SiteSettings:
        """The settings in ``home``'s ``node.json`` (none without a home or file)."""
        if home is None or not (Path(home) / "node.json").is_file():
            return cls()
        parsed = cls.parse(read_settings(Path(home)))
        # relative certificate paths are the home's (a home can move as a whole)
        return replace(
            parsed,
            tls_cert=None if parsed.tls_cert is None else Path(home) / parsed.tls_cert,
            tls_key=None if parsed.tls_key is None else Path(home) / parsed.tls_key,
        )


@dataclass(frozen=True)
class Site:
    """How this node is reached, decided when it starts serving."""

    names: frozenset[str]
    """Host names and addresses (lower-case, no port) a request's ``Host`` may carry."""
    bind: str = "127.0.0.1"
    port: int = 0
    tls: bool = False
    proxy: str | None = None
    """The HTTPS origin of the reverse proxy the node is served behind, if any."""
    custodial_refusal: str | None = None
    """Why the node will not sign for custodial members here (``None``: it will)."""

    @classmethod
    def serving(
        cls,
        bind: str,
        port: int,
        *,
        tls: bool = False,
        settings: SiteSettings | None = None,
        names: tuple[str, ...] = (),
    ) -> Site:
        """The site of a node listening on ``bind:port``."""
        settings = settings or SiteSettings()
        allowed = set(LOOPBACK_NAMES) | {_check_name(n, "--name") for n in names}
        allowed |= set(settings.names)
        bind_name = bind.strip("[]").lower()
        if bind_name not in _WILDCARDS:
            allowed.add(bind_name)
        proxy = settings.behind_proxy
        if proxy is not None:
            allowed.add(str(urlsplit(proxy).hostname))
        refusal = None
        if not is_loopback(bind) and not tls and proxy is None:
            refusal = (
                f"the node listens on {bind}:{port} without TLS, so passwords, sessions and "
                "the choices it would sign could be read or changed on the network; give it a "
                "certificate (gridledger node --tls-cert/--tls-key, or tls_cert/tls_key in "
                "node.json) or name the HTTPS proxy in front of it (behind_proxy in node.json)"
            )
        return cls(
            names=frozenset(allowed),
            bind=bind,
            port=port,
            tls=tls,
            proxy=proxy,
            custodial_refusal=refusal,
        )

    @classmethod
    def in_process(cls) -> Site:
        """An app called in-process (no socket): loopback names and the test clients' name."""
        return cls(names=frozenset((*LOOPBACK_NAMES, *IN_PROCESS_NAMES)))

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over HTTPS: the node's own TLS, or its HTTPS proxy."""
        return self.tls or self.proxy is not None

    def allows(self, host: str | None) -> bool:
        name = None if host is None else host_name(host)
        return name is not None and name in self.names

    def origin(self, host: str) -> str:
        """The origin of pages served under ``host`` (a ``Host`` already allowed)."""
        if self.proxy is not None:
            return self.proxy
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host.strip().lower()}"

    def rp_id(self, host: str) -> str:
        """The WebAuthn relying party id for pages served under ``host``: the host name."""
        if self.proxy is not None:
            return str(urlsplit(self.proxy).hostname)
        return host_name(host) or ""

    def public_url(self) -> str:
        """The address to print for people (enrolment links): the proxy's origin, else a
        name of this node (``localhost`` for a loopback one: passkeys need a name)."""
        if self.proxy is not None:
            return self.proxy
        scheme = "https" if self.tls else "http"
        if is_loopback(self.bind) or self.bind.strip("[]") in _WILDCARDS:
            others = sorted(n for n in self.names if n not in LOOPBACK_NAMES)
            name = "localhost" if is_loopback(self.bind) or not others else others[0]
        else:
            name = self.bind.strip("[]")
        shown = f"[{name}]" if ":" in name else name
        default = 443 if self.tls else 80
        return f"{scheme}://{shown}" + ("" if self.port in (0, default) else f":{self.port}")


def _unknown_host(host: str | None, site: Site) -> JSONBytes:
    shown = "no Host header" if host is None else f"Host {host!r}"
    return JSONBytes(
        {
            "error": {
                "code": "api.unknown_host",
                "message": f"{shown} is not a name this node is served under "
                f"({', '.join(sorted(site.names))}); the operator adds names to node.json",
            }
        },
        status_code=400,
        # refused before the body was read: the connection cannot carry another request
        headers={"Connection": "close"},
    )


class HostCheck:
    """ASGI middleware: answer ``400 api.unknown_host`` to a request whose ``Host`` is not one
    of the site's names, before any route (or body) is read."""

    def __init__(self, app: ASGIApp, site: Site) -> None:
        self.app = app
        self.site = site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = None
            for key, value in scope["headers"]:
                if key == b"host":
                    host = value.decode("latin-1")
                    break
            if not self.site.allows(host):
                if scope["type"] == "http":
                    await _unknown_host(host, self.site)(scope, receive, send)
                else:
                    await send({"type": "websocket.close", "code": 1008})
                return
        await self.app(scope, receive, send)
