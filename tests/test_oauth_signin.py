"""The sign-in flows and the token source against the real OAuth server on 127.0.0.1.

The device flow runs in the server's virtual time: the product's injected sleep moves
the server's clock, so interval and slow_down are checked exactly, with no waiting.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import socket
import stat
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest

from oauth_server import OUTLOOK_SMTP_SCOPE, PUBLIC_CLIENT, OAuthServer
from protest_dispatch.errors import (
    ConfigError,
    SignInError,
    SignInRequiredError,
    TokenEndpointUnavailableError,
)
from protest_dispatch.oauth.client import DeviceCode
from protest_dispatch.oauth.device import Pacing, device_sign_in
from protest_dispatch.oauth.source import CommandTokenSource, StoredTokenSource
from protest_dispatch.oauth.store import RefreshTokenStore
from protest_dispatch.settings.oauth import Endpoints, OAuthClient
from protest_dispatch.vocabulary import OAuthProvider, TokenStore
from smtp_server import free_port

ServerFactory = Callable[..., OAuthServer]


def device_client(oauth: OAuthServer, *, token_url: str | None = None) -> OAuthClient:
    return OAuthClient(
        provider=OAuthProvider.CUSTOM,
        client_id=PUBLIC_CLIENT,
        endpoints=Endpoints(
            authorization_url=None,
            token_url=token_url or oauth.token_endpoint,
            device_authorization_url=oauth.device_authorization_endpoint,
            scope=OUTLOOK_SMTP_SCOPE,
        ),
    )


class VirtualTime:
    """The product's sleep and clock, moving the OAuth server's clock instead of waiting."""

    def __init__(self, oauth: OAuthServer, *, short_first: float | None = None) -> None:
        self.oauth = oauth
        self.asked: list[float] = []
        self.short_first = short_first  # wake up early once, as a buggy timer would

    def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        if self.short_first is not None and len(self.asked) == 2:
            seconds = self.short_first
        self.oauth.advance(seconds)

    def pacing(self) -> Pacing:
        return Pacing(sleep=self.sleep, clock=self.oauth.now)


def frozen_clock() -> float:
    return 1000.0


def test_device_flow_polls_at_the_interval_and_shows_the_code_as_given(
    oauth_server_factory: ServerFactory,
) -> None:
    oauth = oauth_server_factory(interval=5, auto_approve_after=2, clock=frozen_clock)
    time = VirtualTime(oauth)
    shown: list[DeviceCode] = []

    grant = device_sign_in(device_client(oauth), show=shown.append, pacing=time.pacing())

    assert grant.refresh_token
    assert [c.user_code for c in shown] == [oauth.device_grants()[0].user_code]
    assert shown[0].verification_uri == oauth.verification_uri
    assert oauth.poll_outcomes() == ["authorization_pending", "authorization_pending", "token"]
    times = oauth.poll_times()
    assert [b - a for a, b in itertools.pairwise(times)] == [5, 5]
    assert time.asked == [5, 5, 5]


def test_after_slow_down_the_interval_grows_by_five_seconds_for_good(
    oauth_server_factory: ServerFactory,
) -> None:
    oauth = oauth_server_factory(interval=5, auto_approve_after=3, clock=frozen_clock)
    time = VirtualTime(oauth, short_first=1)  # the second poll comes too early

    device_sign_in(device_client(oauth), show=lambda _: None, pacing=time.pacing())

    assert oauth.poll_outcomes() == [
        "authorization_pending",
        "slow_down",
        "authorization_pending",
        "token",
    ]
    assert time.asked == [5, 5, 10, 10]


def test_a_denied_device_sign_in_is_a_sign_in_error(oauth_server_factory: ServerFactory) -> None:
    oauth = oauth_server_factory(interval=1, clock=frozen_clock)

    def deny_then_sleep(seconds: float) -> None:
        oauth.deny(oauth.wait_for_device_code().user_code)
        oauth.advance(seconds)

    with pytest.raises(SignInError) as caught:
        device_sign_in(
            device_client(oauth),
            show=lambda _: None,
            pacing=Pacing(sleep=deny_then_sleep, clock=oauth.now),
        )

    assert caught.value.reason == "access_denied"
    assert caught.value.exit_code == 1
    assert "protest login" in str(caught.value)


def test_a_device_code_that_expires_ends_the_sign_in(oauth_server_factory: ServerFactory) -> None:
    oauth = oauth_server_factory(interval=5, device_code_lifetime=12, clock=frozen_clock)
    time = VirtualTime(oauth)

    with pytest.raises(SignInError) as caught:
        device_sign_in(device_client(oauth), show=lambda _: None, pacing=time.pacing())

    assert caught.value.reason == "expired_token"
    assert oauth.poll_count() <= 3  # it gives up at the deadline instead of polling on


def test_an_unreachable_token_endpoint_means_try_later(oauth_server: OAuthServer) -> None:
    client = device_client(oauth_server, token_url=f"http://127.0.0.1:{free_port()}/token")
    store = RefreshTokenStore.for_account(username="user@example.org", host="127.0.0.1")
    store.save("a-refresh-token-for-tests", where=TokenStore.FILE)

    with pytest.raises(TokenEndpointUnavailableError) as caught:
        StoredTokenSource(client=client, store=store).current()

    assert caught.value.exit_code == 75
    assert "a-refresh-token-for-tests" not in str(caught.value)


def signed_in(oauth: OAuthServer, tmp_path: Path) -> tuple[OAuthClient, RefreshTokenStore]:
    """A device sign-in (approved at once) whose refresh token is in a private file."""
    client = device_client(oauth)
    grant = device_sign_in(client, show=lambda _: None, pacing=VirtualTime(oauth).pacing())
    assert grant.refresh_token is not None
    store = RefreshTokenStore.for_account(
        username="user@example.org", host="127.0.0.1", file=tmp_path / "data" / "tokens.json"
    )
    assert store.save(grant.refresh_token, where=TokenStore.FILE) is TokenStore.FILE
    return client, store


def test_the_token_file_is_private_and_holds_only_refresh_tokens(
    oauth_server_factory: ServerFactory, tmp_path: Path
) -> None:
    oauth = oauth_server_factory(interval=0, auto_approve_after=0)
    _, store = signed_in(oauth, tmp_path)

    assert stat.S_IMODE(store.file.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.file.parent.stat().st_mode) == 0o700
    stored = store.load()
    assert stored is not None
    info = oauth.token_info(stored[0])
    assert info is not None
    assert info.kind == "refresh"
    assert store.delete() == [TokenStore.FILE]
    assert store.load() is None


def test_concurrent_connections_share_one_refresh_and_the_rotated_token_is_stored(
    oauth_server_factory: ServerFactory, tmp_path: Path
) -> None:
    oauth = oauth_server_factory(interval=0, auto_approve_after=0, rotate_refresh_tokens=True)
    client, store = signed_in(oauth, tmp_path)
    source = StoredTokenSource(client=client, store=store, clock=oauth.now)

    async def five_connections() -> list[str]:
        return list(await asyncio.gather(*(source() for _ in range(5))))

    tokens = asyncio.run(five_connections())

    assert oauth.refresh_count == 1
    assert len(set(tokens)) == 1
    assert oauth.check_access_token(tokens[0])[0]
    stored = store.load()
    assert stored is not None
    newest = oauth.token_info(stored[0])
    assert newest is not None
    assert not newest.rotated
    assert not newest.revoked  # the stored token is the one the rotation issued


def test_a_token_near_its_end_is_refreshed_and_a_fresh_one_is_not(
    oauth_server_factory: ServerFactory, tmp_path: Path
) -> None:
    oauth = oauth_server_factory(interval=0, auto_approve_after=0, expires_in=600)
    client, store = signed_in(oauth, tmp_path)
    source = StoredTokenSource(client=client, store=store, clock=oauth.now, margin=60)

    first = source.current()
    oauth.advance(500)
    same = source.current()
    oauth.advance(50)  # 50 s left: inside the margin
    renewed = source.current()

    assert first == same
    assert renewed != first
    assert oauth.refresh_count == 2
    assert oauth.check_access_token(renewed)[0]


def test_a_revoked_sign_in_asks_for_protest_login_again(
    oauth_server_factory: ServerFactory, tmp_path: Path
) -> None:
    oauth = oauth_server_factory(interval=0, auto_approve_after=0)
    client, store = signed_in(oauth, tmp_path)
    oauth.revoke_all()

    with pytest.raises(SignInRequiredError) as caught:
        StoredTokenSource(client=client, store=store).current()

    assert caught.value.exit_code == 1
    assert "protest login" in str(caught.value)
    assert "invalid_grant" in str(caught.value)


def test_a_token_command_that_hangs_fails_prints_nothing_is_a_settings_error() -> None:
    hangs = CommandTokenSource("sleep 5", timeout=0.3)
    fails = CommandTokenSource("echo leaked-token-value; exit 3")
    silent = CommandTokenSource("true")

    for source, words in ((hangs, "did not finish"), (fails, "status 3"), (silent, "nothing")):
        with pytest.raises(ConfigError) as caught:
            source.current()
        assert caught.value.exit_code == 2
        assert caught.value.key == "smtp_oauth_token_command"
        assert words in str(caught.value)
        assert "leaked-token-value" not in str(caught.value)


def test_separate_runs_sharing_one_sign_in_never_present_a_rotated_refresh_token(
    oauth_server_factory: ServerFactory, tmp_path: Path
) -> None:
    """Two cron runs (here: eight sources, each with its own in-process lock) refresh at once."""
    oauth = oauth_server_factory(interval=0, auto_approve_after=0, rotate_refresh_tokens=True)
    client, store = signed_in(oauth, tmp_path)
    runs = [StoredTokenSource(client=client, store=store) for _ in range(8)]
    errors: list[BaseException] = []

    def refresh(source: StoredTokenSource) -> None:
        try:
            source.current()
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=refresh, args=(source,)) for source in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert oauth.refresh_count == 8
    stored = store.load()
    assert stored is not None
    newest = oauth.token_info(stored[0])
    assert newest is not None
    assert not newest.rotated
    assert not newest.revoked


def test_oauth_scope_extends_a_presets_scope_for_a_mailbox_reader() -> None:
    from protest_dispatch.settings.config import Config
    from protest_dispatch.settings.oauth import (
        MICROSOFT_IMAP_SCOPE,
        MICROSOFT_SMTP_SCOPE,
        oauth_client,
    )

    env = {"PROTEST_OAUTH_PROVIDER": "microsoft", "PROTEST_OAUTH_CLIENT_ID": "mine"}
    plain = oauth_client(Config.load(env=env))
    wider = f"{MICROSOFT_SMTP_SCOPE} {MICROSOFT_IMAP_SCOPE}"
    with_imap = oauth_client(Config.load(env={**env, "PROTEST_OAUTH_SCOPE": wider}))

    assert plain.endpoints.scope == MICROSOFT_SMTP_SCOPE
    assert {"openid", "email", "profile"} <= set(plain.endpoints.scope.split())
    assert plain.uses_device_flow
    assert with_imap.endpoints.scope == wider
    assert with_imap.endpoints.token_url == plain.endpoints.token_url


def test_the_browser_flow_ignores_an_idle_spare_connection_and_closes_after_one_request(
    oauth_server: OAuthServer, fake_browser_log: Path
) -> None:
    """Browsers open spare connections; the real redirect must still get through."""
    from pydantic import SecretStr

    from oauth_server import DESKTOP_CLIENT, DESKTOP_SECRET, GMAIL_SCOPE
    from protest_dispatch.oauth.browser import browser_sign_in

    client = OAuthClient(
        provider=OAuthProvider.GOOGLE,
        client_id=DESKTOP_CLIENT,
        client_secret=SecretStr(DESKTOP_SECRET),
        endpoints=Endpoints(
            authorization_url=oauth_server.authorization_endpoint,
            token_url=oauth_server.token_endpoint,
            device_authorization_url=None,
            scope=GMAIL_SCOPE,
        ),
    )
    idle: list[socket.socket] = []

    def browser(url: str) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        port = urllib.parse.urlsplit(query["redirect_uri"][0]).port
        idle.append(socket.create_connection(("127.0.0.1", port)))  # sends nothing
        threading.Thread(target=oauth_server.follow_authorize, args=(url,), daemon=True).start()

    started = time.monotonic()
    grant = browser_sign_in(client, show=lambda _: None, open_browser=browser, wait=20)
    took = time.monotonic() - started
    for sock in idle:
        sock.close()

    assert grant.refresh_token
    assert took < 5  # not held up by the idle connection's 10 s time-out
    assert len(oauth_server.refresh_tokens()) == 1


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"PROTEST_PROVIDER": "outlook"}, OAuthProvider.MICROSOFT),
        ({"PROTEST_SMTP_HOST": "smtp.office365.com"}, OAuthProvider.MICROSOFT),
        ({"PROTEST_SMTP_HOST": "smtp.gmail.com"}, OAuthProvider.GOOGLE),
        (
            {"PROTEST_PROVIDER": "gmail", "PROTEST_OAUTH_PROVIDER": "microsoft"},
            OAuthProvider.MICROSOFT,
        ),
    ],
)
def test_the_oauth_provider_follows_from_the_mail_provider_unless_set(
    settings: dict[str, str], expected: OAuthProvider
) -> None:
    from protest_dispatch.settings.config import Config
    from protest_dispatch.settings.oauth import oauth_client

    env = {"PROTEST_OAUTH_CLIENT_ID": "mine", **settings}

    assert oauth_client(Config.load(env=env)).provider is expected


def test_without_a_client_id_the_error_names_that_key_first() -> None:
    from protest_dispatch.settings.config import Config
    from protest_dispatch.settings.oauth import oauth_client

    with pytest.raises(ConfigError) as caught:
        oauth_client(Config.load(env={}))

    assert caught.value.key == "oauth_client_id"
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("challenge", "expected"),
    [
        (
            base64.b64encode(b'{"status":"401","schemes":"Bearer","scope":"s"}').decode(),
            ("401", "s"),
        ),
        ("not base64!", (None, None)),
        (base64.b64encode(b"[1, 2]").decode(), (None, None)),
        (base64.b64encode(b'{"status":"4\\u001b[31m01"}').decode(), ("4 [31m01", None)),
    ],
)
def test_a_hostile_servers_error_challenge_is_decoded_safely_or_ignored(
    challenge: str, expected: tuple[str | None, str | None]
) -> None:
    from protest_dispatch.mail.xoauth2 import _decode_challenge

    assert _decode_challenge(challenge) == expected


def test_every_preset_asks_whom_the_user_signed_in_as() -> None:
    """Without an ID token login cannot refuse a grant for another mailbox."""
    from protest_dispatch.settings.oauth import PRESETS

    for provider, endpoints in PRESETS.items():
        assert {"openid", "email"} <= set(endpoints.scope.split()), provider
