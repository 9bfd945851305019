"""Custodial signing behind a sign-in: every way around it is refused and changes nothing.

Each finding of the attack on ``POST /consumer/{account}/choice`` is a case here -- no Origin, a
foreign Origin, a rebound Host, no session, another member's session, no or a wrong CSRF
token, an oversized body -- run against the served demo site (a real node on a loopback port):
each is refused with its code and no transaction reaches the node (its pending count, tip,
the account's nonce and choice are unchanged). The honest path signs. Sessions expire by an
injected clock; password sign-ins lock after a few failures; the operator's endpoints need
the operator's token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gridledger.api.server import ApiServer
from gridledger.contracts import market
from web_support import WebSite, csrf_of, password_of, signed_in_client

MEMBER = "house-002"
"""The member whose account the attacks aim at (the demo gave it a password)."""
OTHER = "house-003"
"""Another member with a password."""
CODE = re.compile(r'data-code="([a-z_.]+)"')


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


def _snapshot(site: WebSite, account: str) -> tuple[Any, ...]:
    node = site.node
    prefs = market.preferences_of(node.state.view, account)
    return (node.status()["pending"], node.tip.height, node.next_nonce(account), prefs)


def _choice_form(site: WebSite, http: httpx.Client, account: str) -> dict[str, str]:
    """The choice form the account's page shows its member: site, the other choice, CSRF."""
    html = http.get(f"/consumer/{account}").text
    (pref,) = market.preferences_of(site.node.state.view, account)
    other = "grid" if pref.choice == "clean" else "clean"
    return {"csrf": csrf_of(html), "site": pref.site, "choice": other}


def _refused(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text[:500]
    if "application/json" in answer.headers.get("content-type", ""):
        assert answer.json()["error"]["code"] == code
    else:
        found = CODE.search(answer.text)
        assert found is not None, answer.text[:800]
        assert found.group(1) == code


@pytest.fixture
def member(web_site: WebSite) -> Iterator[httpx.Client]:
    with signed_in_client(web_site, MEMBER) as http:
        yield http


def _post(
    site: WebSite,
    http: httpx.Client,
    account: str,
    form: dict[str, str] | str,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = {"Origin": site.url} if headers is None else headers
    if isinstance(form, str):
        sent = {**sent, "Content-Type": "application/x-www-form-urlencoded"}
        return http.post(f"/consumer/{account}/choice", content=form, headers=sent)
    return http.post(f"/consumer/{account}/choice", data=form, headers=sent)


def test_the_honest_member_signs_with_one_click(web_site: WebSite, member: httpx.Client) -> None:
    before = _snapshot(web_site, MEMBER)
    form = _choice_form(web_site, member, MEMBER)
    answer = _post(web_site, member, MEMBER, form)
    assert answer.status_code == 303, answer.text
    assert re.match(rf"/consumer/{MEMBER}\?tx=[0-9a-f]{{64}}$", answer.headers["location"])
    (pref,) = market.preferences_of(web_site.node.state.view, MEMBER)
    assert pref.choice == form["choice"]
    assert web_site.node.next_nonce(MEMBER) == before[2] + 1


def test_a_post_without_origin_is_refused(web_site: WebSite, member: httpx.Client) -> None:
    form = _choice_form(web_site, member, MEMBER)
    before = _snapshot(web_site, MEMBER)
    _refused(_post(web_site, member, MEMBER, form, headers={}), 403, "auth.origin_missing")
    _refused(
        _post(web_site, member, MEMBER, form, headers={"Origin": "null"}),
        403,
        "auth.origin_missing",
    )
    assert _snapshot(web_site, MEMBER) == before


def test_a_post_from_a_foreign_origin_is_refused(web_site: WebSite, member: httpx.Client) -> None:
    form = _choice_form(web_site, member, MEMBER)
    before = _snapshot(web_site, MEMBER)
    port = web_site.url.rsplit(":", 1)[1]
    for origin in ("http://evil.example", f"http://localhost.evil.example:{port}",
                   f"https://127.0.0.1:{port}", f"http://127.0.0.1:{int(port) + 1}"):  # fmt: skip
        answer = _post(web_site, member, MEMBER, form, headers={"Origin": origin})
        _refused(answer, 403, "auth.origin_foreign")
    assert _snapshot(web_site, MEMBER) == before


def test_a_rebound_host_is_refused_before_any_route(
    web_site: WebSite, member: httpx.Client
) -> None:
    """DNS rebinding: evil.example resolves to the node, so the browser sends Host and Origin
    of evil.example, which agree with each other."""
    form = _choice_form(web_site, member, MEMBER)
    before = _snapshot(web_site, MEMBER)
    port = web_site.url.rsplit(":", 1)[1]
    evil = f"evil.example:{port}"
    answer = _post(
        web_site, member, MEMBER, form, headers={"Host": evil, "Origin": f"http://{evil}"}
    )
    _refused(answer, 400, "api.unknown_host")
    assert "evil.example" in answer.json()["error"]["message"]
    # every route, pages and API alike, and a request with no Host at all
    for path in ("/", "/v1/status", f"/consumer/{MEMBER}"):
        _refused(member.get(path, headers={"Host": evil}), 400, "api.unknown_host")
    assert _snapshot(web_site, MEMBER) == before


def test_a_post_without_a_session_is_refused(web_site: WebSite) -> None:
    with httpx.Client(base_url=web_site.url) as stranger:
        html = stranger.get(f"/consumer/{MEMBER}").text
        assert 'data-sign-in="house-002"' in html
        assert "data-choose" not in html  # no button, a sign-in link
        token = csrf_of(stranger.get("/login").text)  # a valid token, of a visitor
        (pref,) = market.preferences_of(web_site.node.state.view, MEMBER)
        form = {"csrf": token, "site": pref.site, "choice": "clean"}
        before = _snapshot(web_site, MEMBER)
        answer = _post(web_site, stranger, MEMBER, form)
        _refused(answer, 401, "auth.sign_in_required")
        assert f'href="/login?next=/consumer/{MEMBER}"' in answer.text
        # a made-up session cookie is no session either
        stranger.cookies.set("gl_session", "made-up")
        _refused(_post(web_site, stranger, MEMBER, form), 401, "auth.sign_in_required")
    assert _snapshot(web_site, MEMBER) == before


def test_another_members_session_is_refused(web_site: WebSite) -> None:
    with signed_in_client(web_site, OTHER) as other:
        html = other.get(f"/consumer/{MEMBER}").text
        assert 'data-custody="other"' in html
        assert "data-choose" not in html
        (pref,) = market.preferences_of(web_site.node.state.view, MEMBER)
        token = csrf_of(other.get(f"/consumer/{OTHER}").text)  # the other member's own token
        form = {"csrf": token, "site": pref.site, "choice": "clean"}
        before = _snapshot(web_site, MEMBER)
        _refused(_post(web_site, other, MEMBER, form), 403, "auth.not_your_account")
    assert _snapshot(web_site, MEMBER) == before


def test_missing_or_wrong_csrf_tokens_are_refused(web_site: WebSite, member: httpx.Client) -> None:
    form = _choice_form(web_site, member, MEMBER)
    before = _snapshot(web_site, MEMBER)
    without = {k: v for k, v in form.items() if k != "csrf"}
    _refused(_post(web_site, member, MEMBER, without), 403, "auth.csrf_invalid")
    _refused(_post(web_site, member, MEMBER, {**form, "csrf": "x" * 43}), 403, "auth.csrf_invalid")
    # a token of another browser's session does not fit this one
    with signed_in_client(web_site, MEMBER) as second:
        theirs = csrf_of(second.get(f"/consumer/{MEMBER}").text)
    assert theirs != form["csrf"]
    _refused(_post(web_site, member, MEMBER, {**form, "csrf": theirs}), 403, "auth.csrf_invalid")
    assert _snapshot(web_site, MEMBER) == before


def test_the_form_is_small_and_well_formed(web_site: WebSite, member: httpx.Client) -> None:
    form = _choice_form(web_site, member, MEMBER)
    before = _snapshot(web_site, MEMBER)
    big = httpx.QueryParams({**form, "pad": "x" * 600})
    answer = _post(web_site, member, MEMBER, str(big))
    _refused(answer, 413, "api.body_too_large")
    assert answer.headers["connection"] == "close"

    # a body that never says its length is cut off at the limit all the same
    def chunks() -> Iterator[bytes]:
        yield str(httpx.QueryParams(form)).encode()
        for _ in range(100):
            yield b"&pad=" + b"x" * 100

    with httpx.Client(base_url=web_site.url, cookies=member.cookies) as streaming:
        answer = streaming.post(
            f"/consumer/{MEMBER}/choice",
            content=chunks(),
            headers={"Origin": web_site.url, "Content-Type": "application/x-www-form-urlencoded"},
        )
    _refused(answer, 413, "api.body_too_large")
    for bad in ({**form, "choice": "cheap"}, {**form, "site": "flat-999"}):
        _refused(_post(web_site, member, MEMBER, bad), 400, "web.invalid_form")
    twice = str(httpx.QueryParams(form)) + "&choice=grid"
    _refused(_post(web_site, member, MEMBER, twice), 400, "web.invalid_form")
    as_json = member.post(f"/consumer/{MEMBER}/choice", json=form, headers={"Origin": web_site.url})
    _refused(as_json, 400, "web.invalid_form")
    assert _snapshot(web_site, MEMBER) == before


def test_password_sign_in_refusals(web_site: WebSite) -> None:
    with httpx.Client(base_url=web_site.url) as http:
        token = csrf_of(http.get("/login").text)
        good = {"csrf": token, "account": OTHER, "password": password_of(web_site, OTHER)}
        origin = {"Origin": web_site.url}
        # the login form itself needs the Origin and its CSRF token
        _refused(http.post("/login/password", data=good), 403, "auth.origin_missing")
        bad_csrf = {**good, "csrf": "nope"}
        _refused(http.post("/login/password", data=bad_csrf, headers=origin), 403,
                 "auth.csrf_invalid")  # fmt: skip
        wrong = {**good, "password": "not the password"}
        _refused(http.post("/login/password", data=wrong, headers=origin), 401,
                 "auth.bad_credentials")  # fmt: skip
        # an account that is not in custody cannot sign in, whatever it sends
        ghost = {**good, "account": "owner-01"}
        _refused(http.post("/login/password", data=ghost, headers=origin), 401,
                 "auth.bad_credentials")  # fmt: skip
        answer = http.post("/login/password", data={**good, "next": "//evil.example/"},
                           headers=origin)  # fmt: skip
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/consumer/{OTHER}"  # never another site
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "secure" not in cookie  # plain http on loopback
        # signing out ends the session on the node, not only in the browser
        session = http.cookies["gl_session"]
        page = http.get(f"/consumer/{OTHER}").text
        out = http.post("/logout", data={"csrf": csrf_of(page)}, headers=origin)
        assert out.status_code == 303
        with httpx.Client(base_url=web_site.url, cookies={"gl_session": session}) as replay:
            assert "data-choose" not in replay.get(f"/consumer/{OTHER}").text


@pytest.fixture(scope="module")
def clocked(web_site: WebSite) -> Iterator[tuple[str, Clock]]:
    """A second server for the same node whose sessions run on a clock the test moves."""
    clock = Clock()
    with ApiServer(web_site.node, "127.0.0.1", 0, clock=clock) as server:
        yield server.url, clock


def _is_member(http: httpx.Client, account: str) -> bool:
    return "data-choose" in http.get(f"/consumer/{account}").text


def test_sessions_expire_when_idle_and_after_twelve_hours(
    web_site: WebSite, clocked: tuple[str, Clock]
) -> None:
    url, clock = clocked
    with signed_in_client(web_site, OTHER, url) as http:
        clock.now += 29 * 60
        assert _is_member(http, OTHER)  # used within 30 minutes: still signed in
        clock.now += 31 * 60
        assert not _is_member(http, OTHER)  # 31 minutes idle: gone
        (pref,) = market.preferences_of(web_site.node.state.view, OTHER)
        before = _snapshot(web_site, OTHER)
        stale = {"csrf": "x", "site": pref.site, "choice": "clean"}
        answer = http.post(f"/consumer/{OTHER}/choice", data=stale, headers={"Origin": url})
        _refused(answer, 401, "auth.sign_in_required")
        assert _snapshot(web_site, OTHER) == before
    with signed_in_client(web_site, OTHER, url) as http:
        minutes = 0
        while _is_member(http, OTHER) and minutes < 24 * 60:  # busy all day
            clock.now += 20 * 60
            minutes += 20
        # a request every 20 minutes keeps it from idling, but not past 12 hours in all
        assert 12 * 60 <= minutes < 12 * 60 + 20


def test_failed_passwords_lock_the_account_for_a_while(
    web_site: WebSite, clocked: tuple[str, Clock]
) -> None:
    url, clock = clocked
    account = "house-001"
    with httpx.Client(base_url=url) as http:
        token = csrf_of(http.get("/login").text)

        def attempt(password: str) -> httpx.Response:
            form = {"csrf": token, "account": account, "password": password}
            return http.post("/login/password", data=form, headers={"Origin": url})

        for _ in range(5):
            _refused(attempt("guess guess guess"), 401, "auth.bad_credentials")
        # locked: even the right password waits
        _refused(attempt(password_of(web_site, account)), 429, "auth.locked")
        clock.now += 31
        assert attempt(password_of(web_site, account)).status_code == 303


def test_the_operator_endpoints_need_the_operator_token(web_site: WebSite) -> None:
    token = web_site.summary["logins"]["operator_token"]
    with httpx.Client(base_url=web_site.url) as http:
        for headers in ({}, {"Authorization": "Bearer glop_wrong"}, {"Authorization": token}):
            answer = http.get("/v1/operator/members", headers=headers)
            _refused(answer, 401, "auth.operator_required")
            _refused(
                http.post("/v1/operator/members/house-004/enrolment", headers=headers),
                401,
                "auth.operator_required",
            )
        bearer = {"Authorization": f"Bearer {token}"}
        listed = http.get("/v1/operator/members", params={"limit": 2}, headers=bearer).json()
        assert [m["account"] for m in listed["members"]] == ["house-001", "house-002"]
        assert listed["members"][0]["password"] is True
        assert listed["next"] == "house-002"
        # a member signed in is no operator
        with signed_in_client(web_site, OTHER) as member:
            _refused(member.get("/v1/operator/members"), 401, "auth.operator_required")
            page = member.get("/operator/members")
            _refused(page, 401, "auth.operator_required")
        _refused(http.post("/v1/operator/members/owner-01/enrolment", headers=bearer), 404,
                 "custody.not_custodial")  # fmt: skip
        too_long = http.post("/v1/operator/members/house-004/enrolment",
                             json={"hours": 1000}, headers=bearer)  # fmt: skip
        _refused(too_long, 400, "members.invalid_ttl")
        issued = http.post(
            "/v1/operator/members/house-004/enrolment", json={"password": True}, headers=bearer
        ).json()
        assert issued["account"] == "house-004"
        assert issued["link"].endswith(f"/enrol?code={issued['code']}")
        enrol = http.get("/enrol", params={"code": issued["code"]})
        assert enrol.status_code == 200
        assert 'data-enrol-account="house-004"' in enrol.text
        _refused(http.get("/enrol", params={"code": "not-a-code"}), 400, "auth.enrolment_invalid")


def test_a_reset_ends_the_members_sessions(web_site: WebSite) -> None:
    token = web_site.summary["logins"]["operator_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    account = "house-005"
    with httpx.Client(base_url=web_site.url) as http:
        issued = http.post(
            f"/v1/operator/members/{account}/enrolment", json={"password": True}, headers=bearer
        ).json()
        page = http.get("/enrol", params={"code": issued["code"]}).text
        form = {"csrf": csrf_of(page), "code": issued["code"]}
        origin = {"Origin": web_site.url}
        short = {**form, "password": "short", "confirm": "short"}
        _refused(http.post("/enrol/password", data=short, headers=origin), 400,
                 "auth.weak_password")  # fmt: skip
        differ = {**form, "password": "a long password one", "confirm": "a long password two"}
        _refused(http.post("/enrol/password", data=differ, headers=origin), 400,
                 "web.invalid_form")  # fmt: skip
        good = {**form, "password": "a long password one", "confirm": "a long password one"}
        answer = http.post("/enrol/password", data=good, headers=origin)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/consumer/{account}"
        assert _is_member(http, account)
        # the code worked once (the session has a token of its own now)
        token = csrf_of(http.get(f"/consumer/{account}").text)
        again = http.post("/enrol/password", data={**good, "csrf": token}, headers=origin)
        _refused(again, 400, "auth.enrolment_invalid")
        reset = http.post(f"/v1/operator/members/{account}/reset", headers=bearer).json()
        assert reset["reset"] is True
        assert not _is_member(http, account)  # the session ended with the reset
