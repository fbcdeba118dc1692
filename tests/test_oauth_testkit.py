"""The OAuth and XOAUTH2 test servers are strict: a client passing against them is not
relying on leniency Microsoft or Google would not show. Real sockets on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import threading
import time
import urllib.parse
import webbrowser
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest
from aiosmtplib.auth import auth_xoauth2_encode

import fake_browser
from oauth_server import (
    DESKTOP_CLIENT,
    DESKTOP_SECRET,
    DEVICE_GRANT,
    GMAIL_SCOPE,
    PUBLIC_CLIENT,
    OAuthServer,
    fingerprint,
    running_oauth_server,
    s256,
)
from xoauth2_smtp import REJECTED, XOAuth2Server, running_xoauth2_server

USER = "user@example.org"
SCOPE = "https://outlook.office.com/SMTP.Send offline_access"


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=5) as client:  # no proxy for 127.0.0.1
        yield client


def post(http: httpx.Client, url: str, **form: str) -> tuple[int, dict[str, Any]]:
    response = http.post(url, data=form)
    return response.status_code, response.json()


def start_device(http: httpx.Client, oauth: OAuthServer) -> dict[str, Any]:
    status, body = post(
        http, oauth.device_authorization_endpoint, client_id=PUBLIC_CLIENT, scope=SCOPE
    )
    assert status == 200, body
    return body


def poll(http: httpx.Client, oauth: OAuthServer, device_code: str) -> tuple[int, dict[str, Any]]:
    return post(
        http,
        oauth.token_endpoint,
        grant_type=DEVICE_GRANT,
        device_code=device_code,
        client_id=PUBLIC_CLIENT,
    )


def device_tokens(http: httpx.Client, oauth: OAuthServer) -> dict[str, Any]:
    grant = start_device(http, oauth)
    oauth.approve(grant["user_code"])
    status, body = poll(http, oauth, grant["device_code"])
    assert status == 200, body
    return body


# ---- device flow (RFC 8628) -------------------------------------------------------------


def test_device_flow_pending_then_token_once(http: httpx.Client, oauth_server: OAuthServer) -> None:
    grant = start_device(http, oauth_server)
    assert grant["verification_uri"] == f"{oauth_server.base_url}/device"
    assert oauth_server.base_url.startswith("http://127.0.0.1:")
    assert isinstance(grant["interval"], int)
    assert isinstance(grant["expires_in"], int)
    assert poll(http, oauth_server, grant["device_code"]) == (
        400,
        {"error": "authorization_pending"},
    )
    oauth_server.approve(grant["user_code"])
    status, body = poll(http, oauth_server, grant["device_code"])
    assert status == 200
    assert body["token_type"] == "Bearer"
    assert body["scope"] == SCOPE
    assert isinstance(body["expires_in"], int)
    assert oauth_server.check_access_token(body["access_token"]) == (True, SCOPE)
    assert poll(http, oauth_server, grant["device_code"])[1]["error"] == "invalid_grant"
    assert oauth_server.poll_outcomes() == ["authorization_pending", "token"]


def test_slow_down_grows_the_interval(oauth_server_factory: Any, http: httpx.Client) -> None:
    oauth = oauth_server_factory(interval=1, slow_down_step=0.5)
    grant = start_device(http, oauth)
    assert grant["interval"] == 1
    code = grant["device_code"]
    assert poll(http, oauth, code)[1]["error"] == "authorization_pending"  # first poll is free
    assert poll(http, oauth, code)[1]["error"] == "slow_down"  # now 1.5 s required
    oauth.advance(1.2)
    assert poll(http, oauth, code)[1]["error"] == "slow_down"  # 1.2 < 1.5; now 2.0 s
    oauth.advance(2.1)
    assert poll(http, oauth, code)[1]["error"] == "authorization_pending"
    times = oauth.poll_times(grant["user_code"])
    assert len(times) == oauth.poll_count() == 4
    assert times[3] - times[2] >= 2.0


def test_slow_down_step_defaults_to_five_seconds(
    oauth_server_factory: Any, http: httpx.Client
) -> None:
    oauth = oauth_server_factory(interval=1)
    code = start_device(http, oauth)["device_code"]
    poll(http, oauth, code)
    assert poll(http, oauth, code)[1]["error"] == "slow_down"
    oauth.advance(5.5)
    assert poll(http, oauth, code)[1]["error"] == "slow_down"  # 6 s needed after one slow_down


def test_denied_expired_and_auto_approve(oauth_server_factory: Any, http: httpx.Client) -> None:
    oauth = oauth_server_factory(interval=0, device_code_lifetime=60)
    denied, expired, timed_out = (start_device(http, oauth) for _ in range(3))
    oauth.deny(denied["user_code"])
    oauth.expire(expired["user_code"])
    assert poll(http, oauth, denied["device_code"])[1]["error"] == "access_denied"
    assert poll(http, oauth, expired["device_code"])[1]["error"] == "expired_token"
    oauth.advance(61)
    assert poll(http, oauth, timed_out["device_code"])[1]["error"] == "expired_token"
    with pytest.raises(ValueError, match="already denied"):
        oauth.approve(denied["user_code"])

    auto = oauth_server_factory(interval=0, auto_approve_after=2)
    code = start_device(http, auto)["device_code"]
    outcomes = [poll(http, auto, code)[0] for _ in range(3)]
    assert outcomes == [400, 400, 200]


def test_verification_page_approves_like_a_user(
    http: httpx.Client, oauth_server: OAuthServer
) -> None:
    grant = start_device(http, oauth_server)
    assert oauth_server.wait_for_device_code().user_code == grant["user_code"]
    page = http.get(grant["verification_uri_complete"])
    assert "signed in" in page.text
    assert poll(http, oauth_server, grant["device_code"])[0] == 200


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_id": "stranger", "scope": SCOPE}, 401, "invalid_client"),
        ({"client_id": PUBLIC_CLIENT}, 400, "invalid_scope"),
        ({"client_id": PUBLIC_CLIENT, "scope": SCOPE, "client_secret": "x"}, 401, "invalid_client"),
        ({"client_id": DESKTOP_CLIENT, "scope": SCOPE}, 401, "invalid_client"),
        (
            {"client_id": DESKTOP_CLIENT, "scope": SCOPE, "client_secret": "x"},
            401,
            "invalid_client",
        ),
        ({"scope": SCOPE}, 400, "invalid_request"),
    ],
)
def test_device_authorization_checks_the_client(
    http: httpx.Client, oauth_server: OAuthServer, form: dict[str, str], status: int, error: str
) -> None:
    answer = post(http, oauth_server.device_authorization_endpoint, **form)
    assert (answer[0], answer[1]["error"]) == (status, error)


def test_requests_must_be_plain_forms(http: httpx.Client, oauth_server: OAuthServer) -> None:
    as_json = http.post(oauth_server.token_endpoint, json={"grant_type": "refresh_token"})
    assert as_json.json()["error"] == "invalid_request"
    twice = http.post(
        oauth_server.device_authorization_endpoint,
        content=f"client_id={PUBLIC_CLIENT}&client_id={PUBLIC_CLIENT}&scope=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert twice.json()["error"] == "invalid_request"
    unknown = post(http, oauth_server.token_endpoint, grant_type="password", client_id="x")
    assert unknown[1]["error"] == "unsupported_grant_type"
    assert as_json.headers["cache-control"] == "no-store"


def test_desktop_client_may_use_basic_auth(http: httpx.Client, oauth_server: OAuthServer) -> None:
    response = http.post(
        oauth_server.device_authorization_endpoint,
        data={"scope": GMAIL_SCOPE},
        auth=(DESKTOP_CLIENT, DESKTOP_SECRET),
    )
    assert response.status_code == 200
    both = http.post(
        oauth_server.device_authorization_endpoint,
        data={"scope": GMAIL_SCOPE, "client_secret": DESKTOP_SECRET},
        auth=(DESKTOP_CLIENT, DESKTOP_SECRET),
    )
    assert both.json()["error"] == "invalid_request"  # RFC 6749 §2.3: one method only
    assert oauth_server.client_auth == ["basic"]


# ---- authorization code + PKCE (RFC 7636, RFC 8252) -----------------------------------


class Catcher:
    """The client's loopback redirect listener: records the query it is sent."""

    def __init__(self) -> None:
        self.queries: list[dict[str, str]] = []
        self.arrived = threading.Event()
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = urllib.parse.urlsplit(self.path).query
                catcher.queries.append(dict(urllib.parse.parse_qsl(query)))
                catcher.arrived.set()
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"Signed in; you may close this window.")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.redirect_uri = f"http://127.0.0.1:{self.httpd.server_address[1]}/"


@pytest.fixture
def catcher() -> Iterator[Catcher]:
    catcher = Catcher()
    thread = threading.Thread(target=catcher.httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield catcher
    catcher.httpd.shutdown()
    catcher.httpd.server_close()


def authorize_url(oauth: OAuthServer, redirect_uri: str, challenge: str, **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": DESKTOP_CLIENT,
        "redirect_uri": redirect_uri,
        "scope": GMAIL_SCOPE,
        "state": "st-" + secrets.token_hex(4),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "access_type": "offline",
        "prompt": "consent",
    }
    params.update(extra)
    return oauth.authorization_endpoint + "?" + urllib.parse.urlencode(params)


def exchange(http: httpx.Client, oauth: OAuthServer, **form: str) -> tuple[int, dict[str, Any]]:
    fields = {
        "grant_type": "authorization_code",
        "client_id": DESKTOP_CLIENT,
        "client_secret": DESKTOP_SECRET,
        **form,
    }
    return post(http, oauth.token_endpoint, **fields)


def browser_login(
    oauth: OAuthServer, catcher: Catcher, verifier: str, **extra: str
) -> tuple[str, dict[str, str]]:
    url = authorize_url(oauth, catcher.redirect_uri, s256(verifier), **extra)
    visit = oauth.follow_authorize(url)
    assert visit.status == 302
    assert visit.callback_status == 200
    return url, catcher.queries[-1]


def test_pkce_login_and_single_use_code(
    http: httpx.Client, oauth_server: OAuthServer, catcher: Catcher
) -> None:
    verifier = secrets.token_urlsafe(48)
    url, query = browser_login(oauth_server, catcher, verifier)
    sent = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query["state"] == sent["state"]
    recorded = oauth_server.authorize_requests[-1]
    assert (recorded["access_type"], recorded["prompt"]) == ("offline", "consent")
    redeem = {"code": query["code"], "redirect_uri": catcher.redirect_uri}
    status, tokens = exchange(http, oauth_server, code_verifier=verifier, **redeem)
    assert status == 200, tokens
    assert tokens["refresh_token"]
    assert oauth_server.check_access_token(tokens["access_token"]) == (True, GMAIL_SCOPE)
    again = exchange(http, oauth_server, code_verifier=verifier, **redeem)
    assert again[1]["error"] == "invalid_grant"
    # RFC 6749 §4.1.2: a replayed code revokes the tokens it bought
    assert oauth_server.check_access_token(tokens["access_token"])[0] is False


@pytest.mark.parametrize("wrong", ["verifier", "redirect_uri", "client_secret", "client_id"])
def test_pkce_exchange_refuses_mismatches(
    http: httpx.Client, oauth_server: OAuthServer, catcher: Catcher, wrong: str
) -> None:
    verifier = secrets.token_urlsafe(48)
    _, query = browser_login(oauth_server, catcher, verifier)
    form = {
        "code": query["code"],
        "redirect_uri": catcher.redirect_uri,
        "code_verifier": verifier,
        "client_secret": DESKTOP_SECRET,
    }
    expected = "invalid_grant"
    if wrong == "verifier":
        form["code_verifier"] = secrets.token_urlsafe(48)
    elif wrong == "redirect_uri":
        port = urllib.parse.urlsplit(catcher.redirect_uri).port
        form["redirect_uri"] = f"http://127.0.0.1:{port + 1 if port else 1}/"
    elif wrong == "client_secret":
        form["client_secret"] = "guess"
        expected = "invalid_client"
    else:  # a code is bound to the client it was issued to
        form = {"grant_type": "authorization_code", "client_id": PUBLIC_CLIENT, **form}
        del form["client_secret"]
        assert post(http, oauth_server.token_endpoint, **form)[1]["error"] == expected
        return
    assert exchange(http, oauth_server, **form)[1]["error"] == expected


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": ""}, "invalid_request"),
        ({"state": ""}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ],
)
def test_authorize_redirects_errors(
    oauth_server: OAuthServer, catcher: Catcher, change: dict[str, str], error: str
) -> None:
    url = authorize_url(oauth_server, catcher.redirect_uri, s256("v" * 43), **change)
    visit = oauth_server.follow_authorize(url)
    assert visit.redirect_params["error"] == error
    assert "code" not in visit.redirect_params


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://example.org/callback",
        "http://localhost:8400/",
        "https://127.0.0.1:8400/",
        "http://127.0.0.1/",
        "",
    ],
)
def test_authorize_refuses_non_loopback_redirects(
    oauth_server: OAuthServer, redirect_uri: str
) -> None:
    visit = oauth_server.follow_authorize(authorize_url(oauth_server, redirect_uri, s256("v" * 43)))
    assert (visit.status, visit.location) == (400, None)


def test_authorize_modes_for_client_checks(
    oauth_server_factory: Any, catcher: Catcher, http: httpx.Client
) -> None:
    oauth = oauth_server_factory(authorize_mode="wrong_state")
    url = authorize_url(oauth, catcher.redirect_uri, s256("v" * 43), state="abc")
    assert oauth.follow_authorize(url).redirect_params["state"] == "abc-forged"
    oauth.authorize_mode = "deny"
    assert oauth.follow_authorize(url).redirect_params == {"error": "access_denied", "state": "abc"}

    google = oauth_server_factory(require_offline_access=True)
    verifier = "w" * 43
    _, query = browser_login(google, catcher, verifier, access_type="online")
    status, body = exchange(
        http, google, code=query["code"], redirect_uri=catcher.redirect_uri, code_verifier=verifier
    )
    assert status == 200
    assert "refresh_token" not in body  # Google gives none without access_type=offline


def test_fake_browser_works_through_webbrowser(
    fake_browser_log: Path, oauth_server: OAuthServer, catcher: Catcher
) -> None:
    url = authorize_url(oauth_server, catcher.redirect_uri, s256("x" * 43))
    assert webbrowser.open(url)
    assert catcher.arrived.wait(5)
    assert "code" in catcher.queries[0]
    deadline = time.monotonic() + 5
    while not fake_browser.read_log(fake_browser_log) and time.monotonic() < deadline:
        time.sleep(0.02)
    [logged] = fake_browser.read_log(fake_browser_log)
    assert logged["callback_status"] == 200
    assert logged["redirect_keys"] == ["code", "state"]
    assert catcher.queries[0]["code"] not in fake_browser_log.read_text()


# ---- refresh, revocation, expiry ------------------------------------------------------


def refresh(http: httpx.Client, oauth: OAuthServer, token: str, **extra: str) -> Any:
    return post(
        http,
        oauth.token_endpoint,
        grant_type="refresh_token",
        refresh_token=token,
        client_id=PUBLIC_CLIENT,
        **extra,
    )


def test_refresh_rotates_and_refuses_the_old_token(
    http: httpx.Client, oauth_server: OAuthServer
) -> None:
    first = device_tokens(http, oauth_server)
    status, second = refresh(http, oauth_server, first["refresh_token"])
    assert status == 200
    assert second["refresh_token"] != first["refresh_token"]
    assert refresh(http, oauth_server, first["refresh_token"])[1]["error"] == "invalid_grant"
    status, third = refresh(http, oauth_server, second["refresh_token"])
    assert status == 200
    assert oauth_server.refresh_count == 2
    assert [t.index for t in oauth_server.access_tokens()] == [1, 2, 3]
    assert oauth_server.token_info(third["access_token"]).index == 3  # type: ignore[union-attr]
    wider = refresh(http, oauth_server, third["refresh_token"], scope=SCOPE + " extra")
    assert wider[1]["error"] == "invalid_scope"


def test_refresh_without_rotation_like_google(
    oauth_server_factory: Any, http: httpx.Client
) -> None:
    oauth = oauth_server_factory(interval=0, rotate_refresh_tokens=False)
    tokens = device_tokens(http, oauth)
    for _ in range(2):
        status, body = refresh(http, oauth, tokens["refresh_token"])
        assert status == 200
        assert "refresh_token" not in body


def test_revocation_means_invalid_grant(http: httpx.Client, oauth_server: OAuthServer) -> None:
    one, two = device_tokens(http, oauth_server), device_tokens(http, oauth_server)
    oauth_server.revoke(one["refresh_token"])
    assert refresh(http, oauth_server, one["refresh_token"])[1]["error"] == "invalid_grant"
    assert oauth_server.check_access_token(one["access_token"])[0] is False
    assert refresh(http, oauth_server, two["refresh_token"])[0] == 200
    oauth_server.revoke_all()
    assert all(not oauth_server.check_access_token(t["access_token"])[0] for t in (one, two))


def test_access_tokens_expire(oauth_server_factory: Any, http: httpx.Client) -> None:
    now = [1000.0]
    oauth = oauth_server_factory(interval=0, expires_in=30, clock=lambda: now[0])
    tokens = device_tokens(http, oauth)
    assert tokens["expires_in"] == 30
    assert oauth.check_access_token(tokens["access_token"])[0]
    now[0] += 30
    assert oauth.check_access_token(tokens["access_token"]) == (False, "")
    fresh = refresh(http, oauth, tokens["refresh_token"])[1]
    assert oauth.check_access_token(fresh["access_token"])[0]
    oauth.expire_access_tokens()
    assert not oauth.check_access_token(fresh["access_token"])[0]


def test_real_clock_expiry_with_zero_lifetime() -> None:
    with (
        running_oauth_server(interval=0, expires_in=0) as oauth,
        httpx.Client(trust_env=False) as client,
    ):
        tokens = device_tokens(client, oauth)
        assert oauth.check_access_token(tokens["access_token"])[0] is False


def test_introspection(http: httpx.Client, oauth_server: OAuthServer) -> None:
    tokens = device_tokens(http, oauth_server)
    url = oauth_server.introspection_endpoint
    auth = (DESKTOP_CLIENT, DESKTOP_SECRET)
    active = http.post(url, data={"token": tokens["access_token"]}, auth=auth).json()
    assert active["active"] is True
    assert (active["username"], active["email"], active["scope"]) == (USER, USER, SCOPE)
    assert active["exp"] > time.time()
    assert http.post(url, data={"token": tokens["access_token"]}).status_code == 400
    oauth_server.revoke(tokens["access_token"])
    assert http.post(url, data={"token": tokens["access_token"]}, auth=auth).json() == {
        "active": False
    }


# ---- SMTP XOAUTH2 ---------------------------------------------------------------------


def letter() -> EmailMessage:
    message = EmailMessage()
    message["From"] = USER
    message["To"] = "official@example.org"
    message["Subject"] = "Protest"
    message.set_content("Please reconsider.")
    return message


async def send_with(smtp: XOAuth2Server, token: str, user: str = USER) -> None:
    async def generator() -> str:
        return token

    await aiosmtplib.send(
        letter(),
        hostname=smtp.host,
        port=smtp.port,
        start_tls=True,
        cert_bundle=str(smtp.ca_file),
        username=user,
        oauth_token_generator=generator,
        timeout=5,
    )


@contextlib.contextmanager
def servers(**oauth_options: Any) -> Iterator[tuple[OAuthServer, XOAuth2Server]]:
    options = {"interval": 0, **oauth_options}
    with running_oauth_server(**options) as oauth, running_xoauth2_server(oauth) as smtp:
        yield oauth, smtp


def test_xoauth2_login_sends_and_records_the_token(http: httpx.Client) -> None:
    with servers() as (oauth, smtp):
        first = device_tokens(http, oauth)
        asyncio.run(send_with(smtp, first["access_token"]))
        second = refresh(http, oauth, first["refresh_token"])[1]
        asyncio.run(send_with(smtp, second["access_token"]))
    assert [m.rcpt_tos for m in smtp.messages] == [["official@example.org"]] * 2
    assert [m.login for m in smtp.messages] == [USER, USER]
    assert all(m.tls for m in smtp.messages)
    assert smtp.message_tokens() == [1, 2]  # the refreshed token signed in the second time
    assert smtp.xoauth2_attempts[1].token_fingerprint == fingerprint(second["access_token"])
    assert first["access_token"] not in repr(smtp.xoauth2_attempts) + repr(smtp.commands)


async def raw_auth(smtp: XOAuth2Server, token: str) -> tuple[Any, Any]:
    client = aiosmtplib.SMTP(
        hostname=smtp.host, port=smtp.port, start_tls=True, cert_bundle=str(smtp.ca_file)
    )
    async with client:
        await client.ehlo()
        challenge = await client.execute_command(
            b"AUTH", b"XOAUTH2", auth_xoauth2_encode(USER, token)
        )
        final = await client.execute_command(b"")
    return challenge, final


def test_bad_token_gets_gmails_challenge_then_535(http: httpx.Client) -> None:
    with servers(expires_in=60) as (oauth, smtp):
        tokens = device_tokens(http, oauth)
        oauth.expire_access_tokens()
        challenge, final = asyncio.run(raw_auth(smtp, tokens["access_token"]))
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
            asyncio.run(send_with(smtp, "not-a-token"))
    assert challenge.code == 334
    assert json.loads(base64.b64decode(challenge.message)) == {
        "status": "401",
        "schemes": "Bearer",
        "scope": "https://mail.google.com/",
    }
    assert f"{final.code} {final.message}" == REJECTED
    assert refused.value.code == 535
    assert [a.reason for a in smtp.xoauth2_attempts] == ["invalid token", "invalid token"]
    assert [a.token_index for a in smtp.xoauth2_attempts] == [1, None]
    assert smtp.messages == []


def test_token_of_another_user_or_scope_is_refused(http: httpx.Client) -> None:
    with servers() as (oauth, smtp):
        tokens = device_tokens(http, oauth)
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            asyncio.run(send_with(smtp, tokens["access_token"], user="other@example.org"))
        gmail_like = running_xoauth2_server(oauth, required_scope=GMAIL_SCOPE)
        with gmail_like as gmail, pytest.raises(aiosmtplib.SMTPAuthenticationError):
            asyncio.run(send_with(gmail, tokens["access_token"]))
        assert gmail.xoauth2_attempts[0].reason == "insufficient scope"
        oauth.revoke(tokens["refresh_token"])
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            asyncio.run(send_with(smtp, tokens["access_token"]))
    assert [a.reason for a in smtp.xoauth2_attempts] == ["user mismatch", "invalid token"]


def test_server_without_xoauth2(http: httpx.Client, oauth_server: OAuthServer) -> None:
    tokens = device_tokens(http, oauth_server)
    no_xoauth2 = running_xoauth2_server(oauth_server, offer_xoauth2=False)
    refused = pytest.raises(aiosmtplib.SMTPException, match="does not support XOAUTH2")
    with no_xoauth2 as smtp, refused:
        asyncio.run(send_with(smtp, tokens["access_token"]))
    assert smtp.xoauth2_attempts == []


def test_auth_needs_tls_and_mail_needs_auth(xoauth2_smtp: XOAuth2Server) -> None:
    async def scenario() -> tuple[int, int]:
        smtp = xoauth2_smtp
        client = aiosmtplib.SMTP(hostname=smtp.host, port=smtp.port, start_tls=False)
        async with client:
            await client.ehlo()
            auth = await client.execute_command(b"AUTH", b"XOAUTH2", b"eA==")
            await client.starttls(cert_bundle=str(smtp.ca_file))
            await client.ehlo()
            mail = await client.execute_command(b"MAIL", b"FROM:<user@example.org>")
        return auth.code, mail.code

    assert asyncio.run(scenario()) == (530, 530)
