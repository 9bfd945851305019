"""The TLS rule: custodial signing (and signing in) only on loopback, over TLS, or behind a
named HTTPS proxy; the node says why otherwise, and serves everything else.

Each case runs a real server for the demo site's node: on 0.0.0.0 without TLS (refused, with a
log line and a disabled button), on 0.0.0.0 with a self-signed certificate made here with the
``cryptography`` package (served over HTTPS, Secure ``__Host-`` cookies, a member signs), and
behind a proxy named in ``node.json`` (only the proxy's origin may post). Clients reach every
server on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import re
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gridledger.api.server import ApiServer, Tls
from gridledger.api.site import Site, SiteError, SiteSettings
from gridledger.contracts import market
from web_support import WebSite, csrf_of, password_of

MEMBER = "house-002"


def _certificate(folder: Path) -> Tls:
    """A self-signed certificate for localhost and 127.0.0.1, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Tls(cert_path, key_path)


def _snapshot(site: WebSite) -> tuple[Any, ...]:
    node = site.node
    prefs = market.preferences_of(node.state.view, MEMBER)
    return (node.status()["pending"], node.tip.height, node.next_nonce(MEMBER), prefs)


def test_no_custodial_signing_on_the_network_without_tls(
    web_site: WebSite, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gridledger.api")
    with ApiServer(web_site.node, "0.0.0.0", 0) as server:
        url = f"http://127.0.0.1:{server.port}"
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(
            "custodial signing is off" in m and "without TLS" in m and "--tls-cert" in m
            for m in warned
        ), warned
        with httpx.Client(base_url=url) as http:
            # everything else is served
            for path in ("/", "/market", f"/consumer/{MEMBER}", "/v1/status"):
                assert http.get(path).status_code == 200, path
            page = http.get(f"/consumer/{MEMBER}").text
            assert 'data-custody="off"' in page
            assert re.search(r'<button type="submit" data-choose="\w+" disabled', page)
            assert "data-sign-in" not in page
            login = http.get("/login").text
            assert 'data-refusal="insecure"' in login
            before = _snapshot(web_site)
            form = {
                "csrf": csrf_of(login),
                "account": MEMBER,
                "password": password_of(web_site, MEMBER),
            }
            answer = http.post("/login/password", data=form, headers={"Origin": url})
            assert answer.status_code == 403
            assert 'data-code="custody.insecure_transport"' in answer.text
            assert "gl_session" not in http.cookies
            assert _snapshot(web_site) == before


@pytest.fixture(scope="module")
def tls_server(web_site: WebSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tls = _certificate(tmp_path_factory.mktemp("tls"))
    with ApiServer(web_site.node, "0.0.0.0", 0, tls=tls) as server:
        yield server, tls


def test_with_its_own_certificate_the_node_signs_over_https(
    web_site: WebSite, tls_server: Any
) -> None:
    server, tls = tls_server
    assert server.url.startswith("https://")
    url = f"https://127.0.0.1:{server.port}"
    trust = ssl.create_default_context(cafile=str(tls.cert))
    with httpx.Client(base_url=url, verify=trust, timeout=30) as http:
        page = http.get(f"/consumer/{MEMBER}").text
        assert 'data-custody="off"' not in page
        assert f'data-sign-in="{MEMBER}"' in page
        token = csrf_of(http.get("/login").text)
        form = {"csrf": token, "account": MEMBER, "password": password_of(web_site, MEMBER)}
        answer = http.post("/login/password", data=form, headers={"Origin": url})
        assert answer.status_code == 303, answer.text
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("__Host-gl_session=")
        assert "Secure" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        # plain http to the TLS port is no way in
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{server.port}/", timeout=5)
        # the member signs over HTTPS, from the HTTPS origin only
        page = http.get(f"/consumer/{MEMBER}").text
        (pref,) = market.preferences_of(web_site.node.state.view, MEMBER)
        other = "grid" if pref.choice == "clean" else "clean"
        choice = {"csrf": csrf_of(page), "site": pref.site, "choice": other}
        before = _snapshot(web_site)
        plain = http.post(
            f"/consumer/{MEMBER}/choice",
            data=choice,
            headers={"Origin": f"http://127.0.0.1:{server.port}"},
        )
        assert plain.status_code == 403
        assert _snapshot(web_site) == before
        answer = http.post(f"/consumer/{MEMBER}/choice", data=choice, headers={"Origin": url})
        assert answer.status_code == 303, answer.text
        (pref,) = market.preferences_of(web_site.node.state.view, MEMBER)
        assert pref.choice == other


def test_behind_a_named_proxy_only_its_origin_may_post(web_site: WebSite) -> None:
    settings_path = web_site.home / "node.json"
    saved = settings_path.read_text()
    proxy = "https://community.example"
    settings_path.write_text(json.dumps({**json.loads(saved), "behind_proxy": proxy}))
    try:
        server = ApiServer(web_site.node, "0.0.0.0", 0)
    finally:
        settings_path.write_text(saved)
    with server, httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as http:
        proxied = {"Host": "community.example"}  # what the proxy forwards
        login = http.get("/login", headers=proxied)
        assert login.status_code == 200
        assert 'data-refusal="insecure"' not in login.text
        # the browser keeps the Secure cookie and sends it back over HTTPS, to the proxy
        csrf_cookie = login.headers["set-cookie"].split(";")[0]
        assert csrf_cookie.startswith("__Host-gl_csrf=")
        assert "Secure" in login.headers["set-cookie"]
        proxied = {**proxied, "Cookie": csrf_cookie}
        form = {
            "csrf": csrf_of(login.text),
            "account": MEMBER,
            "password": password_of(web_site, MEMBER),
        }
        direct = http.post(
            "/login/password",
            data=form,
            headers={**proxied, "Origin": f"http://127.0.0.1:{server.port}"},
        )
        assert direct.status_code == 403
        assert 'data-code="auth.origin_foreign"' in direct.text
        answer = http.post("/login/password", data=form, headers={**proxied, "Origin": proxy})
        assert answer.status_code == 303, answer.text
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("__Host-gl_session=")
        assert "Secure" in cookie
        session = cookie.split(";")[0].split("=", 1)[1]
        # the browser sends the Secure cookie back over HTTPS to the proxy
        page = http.get(
            f"/consumer/{MEMBER}",
            headers={**proxied, "Cookie": f"__Host-gl_session={session}"},
        )
        assert "data-choose" in page.text


def test_serving_settings_are_checked() -> None:
    with pytest.raises(SiteError):
        SiteSettings.parse({"behind_proxy": "http://community.example"})
    with pytest.raises(SiteError):
        SiteSettings.parse({"behind_proxy": "https://community.example/path"})
    with pytest.raises(SiteError):
        SiteSettings.parse({"names": ["evil.example:80"]})
    with pytest.raises(SiteError):
        SiteSettings.parse({"tls_cert": "c.pem"})
    site = Site.serving(
        "192.0.2.10", 8645, settings=SiteSettings.parse({"names": ["Grid.Example"]})
    )
    assert site.custodial_refusal is not None
    assert {"192.0.2.10", "grid.example", "localhost", "127.0.0.1", "::1"} <= site.names
    assert site.allows("GRID.example:8645")
    assert site.allows("[::1]:8645")
    assert not site.allows("grid.example.evil.example")
    assert not site.allows(None)
    assert not site.allows("user@grid.example")
    assert Site.serving("127.0.0.2", 1).custodial_refusal is None
    assert Site.serving("::1", 1).custodial_refusal is None
    assert Site.serving("0.0.0.0", 1, tls=True).custodial_refusal is None
    assert Site.serving("0.0.0.0", 1).public_url() == "http://localhost:1"


def test_the_node_command_checks_its_tls_options(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gridledger.cli.main import app

    env = {"GRIDLEDGER_PASSPHRASE": "tls options", "COLUMNS": "300", "TERMINAL_WIDTH": "300"}
    home = tmp_path / "home"
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--home", str(home)], env=env).exit_code == 0
    alone = runner.invoke(app, ["node", "--home", str(home), "--tls-cert", "c.pem"], env=env)
    assert alone.exit_code == 2
    assert "go together" in alone.output
    missing = ["--tls-cert", str(tmp_path / "no.pem"), "--tls-key", str(tmp_path / "no.pem")]
    answer = runner.invoke(app, ["node", "--home", str(home), *missing], env=env)
    assert answer.exit_code == 2
    assert "does not exist" in answer.output
    bad_name = runner.invoke(app, ["node", "--home", str(home), "--name", "a:b/c"], env=env)
    assert bad_name.exit_code == 1
    assert "not a host name" in bad_name.output
