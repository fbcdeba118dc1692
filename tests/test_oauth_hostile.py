"""A token endpoint, a device flow and a browser redirect that fight back.

Issue 16 items 5 and 8, against the real OAuth test server told to misbehave
(:class:`oauth_server.Hostile`): every number it sends is clamped, every exchange
has a total deadline and a size cap, a token that is not a Bearer token is
refused, a grant for another account is refused, a keyring that breaks in any
way falls back to the file without losing the grant, and the loopback redirect
takes only its first request, on a random path.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend
from pydantic import SecretStr

from kit import cli, make_campaign, send, using_keyring
from oauth_server import DESKTOP_CLIENT, DESKTOP_SECRET, GMAIL_SCOPE, Hostile, OAuthServer
from oauthkit import USER, virtual_pacing, xoauth2_env
from protest_dispatch.errors import SignInError, TokenEndpointUnavailableError
from protest_dispatch.oauth import client as oauth_http
from protest_dispatch.oauth.browser import browser_sign_in
from protest_dispatch.oauth.device import Pacing, device_sign_in
from protest_dispatch.oauth.store import default_token_file
from protest_dispatch.settings.oauth import Endpoints, OAuthClient
from protest_dispatch.vocabulary import ExitCode, OAuthProvider
from test_oauth_signin import device_client
from xoauth2_smtp import XOAuth2Server

OAuthFactory = Callable[..., OAuthServer]
SmtpFactory = Callable[..., XOAuth2Server]
MB = 1024 * 1024


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "sendlog.sqlite3"


# -- numbers: the device flow's interval -----------------------------------------------


@pytest.mark.parametrize(
    ("raw", "first_wait"),
    [("NaN", 5), ("1e400", 60), ("1e20", 60), ("0", 1), ("-3", 1), ('"abc"', 5), ("0.2", 1)],
)
def test_the_device_flow_interval_is_clamped_to_one_to_sixty_seconds(
    oauth_server_factory: OAuthFactory, raw: str, first_wait: float
) -> None:
    oauth = oauth_server_factory(
        interval=0, auto_approve_after=2, hostile=Hostile(interval_json=raw)
    )
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        oauth.advance(seconds)

    grant = device_sign_in(
        device_client(oauth), show=lambda _: None, pacing=Pacing(sleep=sleep, clock=oauth.now)
    )

    assert grant.access_token
    assert waits == [first_wait] * 3  # never 0 (437 polls in 8 s), never inf or 1e20
    assert oauth.poll_count() == 3


# -- the token endpoint: a total deadline, a size cap -------------------------------------


def test_a_token_endpoint_that_drips_one_byte_at_a_time_meets_a_total_deadline(
    oauth_server_factory: OAuthFactory,
) -> None:
    oauth = oauth_server_factory(hostile=Hostile(drip_seconds=0.5))  # each read is quick

    started = time.monotonic()
    with pytest.raises(TokenEndpointUnavailableError) as caught:
        oauth_http.refresh(device_client(oauth), refresh_token="rt-unknown", timeout=2)
    took = time.monotonic() - started

    assert took < 3.5  # the answer would take 30 s; per-read time-outs never fire
    assert caught.value.exit_code == ExitCode.TEMPFAIL
    assert oauth.token_endpoint in caught.value.message
    assert "did not finish answering within 2 s" in caught.value.message


@pytest.mark.parametrize("announce", [True, False], ids=["content-length", "streamed"])
def test_a_600_mb_token_answer_is_refused_without_being_read(
    oauth_server_factory: OAuthFactory, announce: bool
) -> None:
    oauth = oauth_server_factory(hostile=Hostile(huge_body=600 * MB, announce_length=announce))

    started = time.monotonic()
    with pytest.raises(TokenEndpointUnavailableError) as caught:
        oauth_http.refresh(device_client(oauth), refresh_token="rt-unknown", timeout=20)
    deadline = time.monotonic() + 10
    while oauth.huge_sent == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # the server's writer notices the hang-up

    assert time.monotonic() - started < 10
    assert caught.value.exit_code == ExitCode.TEMPFAIL
    assert "larger than 1024 KiB" in caught.value.message
    assert oauth.token_endpoint in caught.value.message
    assert 0 < oauth.huge_sent < 64 * MB  # the client hung up long before 600 MB


def test_doctor_and_send_map_a_bounded_endpoint_failure_to_exit_75(
    tmp_path: Path, log: Path, oauth_server_factory: OAuthFactory, xoauth2_smtp_factory: SmtpFactory
) -> None:
    good = oauth_server_factory(interval=0, auto_approve_after=0)
    env = xoauth2_env(good, None, log=log)
    assert cli(["login"], env=env, pacing=virtual_pacing(good)).code == 0
    huge = oauth_server_factory(hostile=Hostile(huge_body=600 * MB, announce_length=False))
    smtp = xoauth2_smtp_factory(huge)
    env = xoauth2_env(good, smtp, log=log, PROTEST_OAUTH_TOKEN_URL=huge.token_endpoint)

    checked = cli(["doctor"], env=env)
    sent = send(make_campaign(tmp_path / "c", targets=1), "-q", env=env)

    assert sent.code == 75, sent.output
    assert huge.token_endpoint in sent.stderr
    assert checked.code != 0, checked.output
    assert "larger than 1024 KiB" in checked.output
    assert smtp.messages == []


# -- what the endpoint issues ----------------------------------------------------------


@pytest.mark.parametrize("token_type", ["mac", "DPoP", ""])
def test_a_token_that_is_not_a_bearer_token_is_refused_and_not_stored(
    log: Path, oauth_server_factory: OAuthFactory, token_type: str
) -> None:
    oauth = oauth_server_factory(
        interval=0, auto_approve_after=0, hostile=Hostile(token_type=token_type)
    )

    run = cli(["login"], env=xoauth2_env(oauth, None, log=log), pacing=virtual_pacing(oauth))

    assert run.code == 1, run.output
    assert "not a Bearer token" in run.stderr
    assert not default_token_file().exists()


def browser_client(oauth: OAuthServer, scope: str) -> OAuthClient:
    return OAuthClient(
        provider=OAuthProvider.GOOGLE,
        client_id=DESKTOP_CLIENT,
        client_secret=SecretStr(DESKTOP_SECRET),
        endpoints=Endpoints(
            authorization_url=oauth.authorization_endpoint,
            token_url=oauth.token_endpoint,
            device_authorization_url=None,
            scope=scope,
        ),
    )


@pytest.mark.parametrize(
    ("signed_in_as", "code", "words"),
    [
        (USER, 0, f"The provider confirms the account: {USER}."),
        (
            "mallory@example.org",
            1,
            f"signed in as mallory@example.org, but smtp_username is {USER}",
        ),
    ],
)
def test_login_shows_the_signed_in_account_and_refuses_another_one(
    log: Path,
    oauth_server_factory: OAuthFactory,
    fake_browser_log: Path,
    signed_in_as: str,
    code: int,
    words: str,
) -> None:
    oauth = oauth_server_factory(hostile=Hostile(user=signed_in_as))
    env = xoauth2_env(
        oauth, None, log=log, browser=True, PROTEST_OAUTH_SCOPE=f"{GMAIL_SCOPE} openid email"
    )

    run = cli(["login", "--store", "file"], env=env)

    assert run.code == code, run.output
    assert words in run.stderr
    assert default_token_file().exists() == (code == 0)


# -- the loopback redirect ---------------------------------------------------------------


def _redirect_of(url: str) -> tuple[str, Mapping[str, list[str]]]:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    return query["redirect_uri"][0], query


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code


@pytest.mark.parametrize("where", ["path /", "the right path"])
def test_the_redirect_listener_takes_only_its_first_request_on_a_random_path(
    oauth_server: OAuthServer, where: str
) -> None:
    """A local process that reaches the listener first ends the sign-in; it cannot
    put its own code in, and the browser's real answer is then turned away."""
    seen: list[str] = []
    statuses: list[int] = []
    racers: list[threading.Thread] = []

    def hijacked_browser(url: str) -> None:
        redirect, query = _redirect_of(url)
        seen.append(redirect)
        parts = urllib.parse.urlsplit(redirect)
        path = parts.path if where == "the right path" else "/"
        state = query["state"][0]
        forged = f"http://127.0.0.1:{parts.port}{path}?code=attackers-code&state={state}x"

        def race() -> None:  # the other process first, then the real browser
            statuses.append(_get(forged))
            # the listener answered the forged request, so a refusal now means it closed
            visit = oauth_server.follow_authorize(url, listener_was_up=True)
            statuses.append(visit.callback_status or -1)  # -1: the listener is gone

        racers.append(threading.Thread(target=race, daemon=True))
        racers[-1].start()

    with pytest.raises(SignInError) as caught:
        browser_sign_in(
            browser_client(oauth_server, GMAIL_SCOPE),
            show=lambda _: None,
            open_browser=hijacked_browser,
            wait=10,
        )

    racers[0].join(timeout=10)
    assert caught.value.reason == "state"
    assert statuses[0] == 400
    assert statuses[1] in (-1, 400)  # the browser's real answer is turned away
    assert ("POST", "/token") not in oauth_server.requests  # no code was exchanged
    path = urllib.parse.urlsplit(seen[0]).path
    assert len(path) > 16
    assert path != "/"


def test_each_sign_in_listens_on_its_own_random_path(oauth_server: OAuthServer) -> None:
    paths: list[str] = []

    def browser(url: str) -> None:
        paths.append(urllib.parse.urlsplit(_redirect_of(url)[0]).path)
        threading.Thread(target=oauth_server.follow_authorize, args=(url,), daemon=True).start()

    for _ in range(2):
        grant = browser_sign_in(
            browser_client(oauth_server, GMAIL_SCOPE), show=lambda _: None, open_browser=browser
        )
        assert grant.refresh_token

    assert len(set(paths)) == 2


# -- a keyring that breaks ------------------------------------------------------------------


class DBusError(Exception):
    """What SecretService raises when the session bus is gone (not a KeyringError)."""


class BrokenKeyring(KeyringBackend):
    """A keyring whose every call fails the way real ones do (jaraco/keyring#514)."""

    priority = 1

    def __init__(self, error: Exception) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # keyring's base is untyped
        self.error = error

    def get_password(self, service: str, username: str) -> str | None:
        raise self.error

    def set_password(self, service: str, username: str, password: str) -> None:
        raise self.error

    def delete_password(self, service: str, username: str) -> None:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [OSError(5, "Input/output error"), DBusError("org.freedesktop.DBus.Error.ServiceUnknown")],
    ids=["OSError", "DBusError"],
)
def test_a_broken_keyring_falls_back_to_the_file_and_never_loses_the_grant(
    tmp_path: Path,
    log: Path,
    oauth_server_factory: OAuthFactory,
    xoauth2_smtp_factory: SmtpFactory,
    error: Exception,
) -> None:
    oauth = oauth_server_factory(interval=0, auto_approve_after=0)
    smtp = xoauth2_smtp_factory(oauth)
    env = xoauth2_env(oauth, smtp, log=log)
    with using_keyring(BrokenKeyring(error)):
        signed = cli(["login"], env=env, pacing=virtual_pacing(oauth))
        checked = cli(["doctor"], env=env)
        sent = send(make_campaign(tmp_path / "c", targets=1), env=env)
        out = cli(["logout"], env=env)

    assert signed.code == 0, signed.output
    assert f"keyring does not work here ({type(error).__name__}" in signed.stderr
    assert checked.code == 0, checked.output
    assert "! OAuth token" in checked.stdout
    assert f"failed ({type(error).__name__}" in checked.stdout
    assert "✓ Login (AUTH)" in checked.stdout
    assert sent.code == 0, sent.output
    assert len(smtp.messages) == 1  # the grant in the file carried the letter
    assert out.code == 0, out.output
    assert "Removed the sign-in" in out.stderr
    assert f"The system keyring failed ({type(error).__name__}" in out.stderr
    assert json.loads(default_token_file().read_text()) == {}
