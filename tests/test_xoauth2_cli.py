"""End to end through the CLI: login, send with XOAUTH2, doctor, logout, and every failure.

Real servers on 127.0.0.1 only: the strict OAuth server (oauth_server.py) and the
Gmail-like XOAUTH2 SMTP server (smtp.py) that trusts only its live tokens.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from kit import (
    CHILD_DEADLINE,
    MemoryKeyring,
    Run,
    cli,
    make_campaign,
    read_until,
    reaped,
    send,
    subprocess_env,
    using_keyring,
)
from oauth_server import DESKTOP_SECRET, GMAIL_SCOPE, OAuthServer
from oauthkit import USER, virtual_pacing, xoauth2_env
from protest_dispatch.oauth.store import default_token_file
from smtp_server import free_port
from xoauth2_smtp import XOAuth2Server

OAuthFactory = Callable[..., OAuthServer]
SmtpFactory = Callable[..., XOAuth2Server]
ENTRY = f"oauth:{USER}@127.0.0.1"


@pytest.fixture
def oauth(oauth_server_factory: OAuthFactory) -> OAuthServer:
    """Approves the device sign-in at the second poll, as a user would after a moment."""
    return oauth_server_factory(interval=0, auto_approve_after=1)


@pytest.fixture
def smtp(oauth: OAuthServer, xoauth2_smtp_factory: SmtpFactory) -> XOAuth2Server:
    """Gmail-like XOAUTH2 server trusting ``oauth``'s tokens."""
    return xoauth2_smtp_factory(oauth)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "sendlog.sqlite3"


def stored_refresh_tokens() -> list[str]:
    path = default_token_file()
    return list(json.loads(path.read_text()).values()) if path.exists() else []


def secrets_of(oauth: OAuthServer, *extra: str) -> list[str]:
    """Every secret the runs could have leaked: refresh tokens stored now, and ``extra``."""
    return [*stored_refresh_tokens(), DESKTOP_SECRET, *extra]


def assert_no_secret(secrets: list[str], *runs: Run, log: Path | None = None) -> None:
    seen = "".join(run.output for run in runs)
    stored = b""
    if log is not None:
        stored = b"".join(p.read_bytes() for p in log.parent.glob(log.name + "*") if p.is_file())
        assert stored
    for secret in secrets:
        assert secret not in seen
        assert secret.encode() not in stored


def login(oauth: OAuthServer, env: Mapping[str, str], *args: str) -> Run:
    """``protest login`` waiting between polls in ``oauth``'s virtual time, not real seconds."""
    return cli(["login", *args], env=env, pacing=virtual_pacing(oauth))


def test_login_with_the_device_flow_then_send_delivers_with_xoauth2(
    tmp_path: Path, log: Path, oauth: OAuthServer, xoauth2_smtp_factory: SmtpFactory
) -> None:
    smtp = xoauth2_smtp_factory(oauth)
    env = xoauth2_env(oauth, smtp, log=log)
    campaign = make_campaign(tmp_path / "c", targets=3)

    signed = login(oauth, env)
    sent = send(campaign, "--concurrency", "2", env=env)

    assert signed.code == 0, signed.output
    grant = oauth.device_grants()[0]
    assert grant.user_code in signed.stderr
    assert oauth.verification_uri in signed.stderr
    assert "keyring does not work here" in signed.stderr  # the test keyring is the failing one
    assert sent.code == 0, sent.output
    assert sorted(m.login or "" for m in smtp.messages) == [USER] * 3
    assert all(a.ok for a in smtp.xoauth2_attempts)
    assert set(smtp.message_tokens()) == {2}  # one refresh for the run; token 1 was login's
    assert_no_secret(secrets_of(oauth), signed, sent, log=log)


def test_login_works_with_stdin_closed_and_stdout_a_pipe(
    log: Path, oauth: OAuthServer, smtp: XOAuth2Server
) -> None:
    env = subprocess_env(xoauth2_env(oauth, None, log=log))
    done = subprocess.run(
        [sys.executable, "-m", "protest_dispatch", "login"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert oauth.device_grants()[0].user_code in done.stderr
    assert len(stored_refresh_tokens()) == 1


@pytest.mark.slow
def test_ctrl_c_while_login_waits_for_the_user_exits_130_and_stores_nothing(
    log: Path, oauth_server_factory: OAuthFactory
) -> None:
    pending = oauth_server_factory(interval=1)  # never approved: login polls until stopped
    child = subprocess.Popen(
        [sys.executable, "-m", "protest_dispatch", "login"],
        env=subprocess_env(xoauth2_env(pending, None, log=log)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with reaped(child):
        # Ctrl-C once the person is told to sign in, not as soon as the server made a code
        assert child.stderr is not None
        read_until(child.stderr, b"Waiting for you to finish")
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=CHILD_DEADLINE)

    assert pending.device_grants(), "the sign-in had started"
    assert child.returncode == 130, err
    assert "Interrupted." in err
    assert "Aborted" not in err
    assert stored_refresh_tokens() == []


def test_login_stores_in_the_keyring_when_it_works_and_logout_removes_it(
    log: Path, oauth: OAuthServer
) -> None:
    env = xoauth2_env(oauth, None, log=log)
    with using_keyring(MemoryKeyring()) as backend:
        signed = login(oauth, env)
        stored = dict(backend.items)  # type: ignore[attr-defined]  # MemoryKeyring's own dict
        out = cli(["logout"], env=env)
        left = dict(backend.items)  # type: ignore[attr-defined]

    assert signed.code == 0, signed.output
    assert list(stored) == [("protest", ENTRY)]
    refresh = oauth.token_info(stored[("protest", ENTRY)])
    assert refresh is not None
    assert refresh.kind == "refresh"
    assert stored_refresh_tokens() == []  # nothing in the file
    assert out.code == 0, out.output
    assert "Removed the sign-in" in out.stderr
    assert left == {}


def test_login_store_file_writes_the_private_file_and_logout_removes_it(
    log: Path, oauth: OAuthServer
) -> None:
    env = xoauth2_env(oauth, None, log=log)
    with using_keyring(MemoryKeyring()) as backend:
        signed = login(oauth, env, "--store", "file")
        in_keyring = dict(backend.items)  # type: ignore[attr-defined]

    assert signed.code == 0, signed.output
    assert "keyring does not work" not in signed.output
    assert in_keyring == {}
    assert default_token_file().stat().st_mode & 0o777 == 0o600
    assert len(stored_refresh_tokens()) == 1
    assert cli(["logout"], env=env).code == 0
    assert stored_refresh_tokens() == []


def test_login_without_a_client_id_exits_2_naming_the_key(log: Path, oauth: OAuthServer) -> None:
    env = {**xoauth2_env(oauth, None, log=log), "PROTEST_OAUTH_CLIENT_ID": ""}

    run = login(oauth, env)

    assert run.code == 2, run.output
    assert "oauth_client_id" in run.stderr
    assert oauth.requests == []


def test_browser_login_uses_pkce_on_a_loopback_redirect_and_asks_for_offline_access(
    tmp_path: Path,
    log: Path,
    oauth_server_factory: OAuthFactory,
    xoauth2_smtp_factory: SmtpFactory,
    fake_browser_log: Path,
) -> None:
    oauth = oauth_server_factory(require_offline_access=True)
    smtp = xoauth2_smtp_factory(oauth, required_scope=GMAIL_SCOPE)
    env = xoauth2_env(oauth, smtp, log=log, browser=True)

    signed = login(oauth, env)
    sent = send(make_campaign(tmp_path / "c", targets=1), env=env)

    assert signed.code == 0, signed.output
    asked = oauth.authorize_requests[0]
    assert asked["code_challenge_method"] == "S256"
    assert asked["access_type"] == "offline"
    assert asked["prompt"] == "consent"
    assert asked["redirect_uri"].startswith("http://127.0.0.1:")
    assert oauth.authorization_endpoint in signed.stderr  # printed even though a browser opened
    visit = json.loads(fake_browser_log.read_text().splitlines()[0])
    assert visit["callback_status"] == 200
    listener = urllib.parse.urlsplit(asked["redirect_uri"])
    with pytest.raises(ConnectionRefusedError):  # one request, then closed
        socket.create_connection(("127.0.0.1", listener.port or 0), timeout=2).close()
    assert sent.code == 0, sent.output
    assert_no_secret(secrets_of(oauth), signed, sent, log=log)


@pytest.mark.parametrize(
    ("mode", "words"), [("wrong_state", "did not carry the state"), ("deny", "declined")]
)
def test_browser_login_refuses_a_forged_state_and_reports_a_denial(
    log: Path,
    oauth_server_factory: OAuthFactory,
    fake_browser_log: Path,
    mode: str,
    words: str,
) -> None:
    oauth = oauth_server_factory(authorize_mode=mode)
    env = xoauth2_env(oauth, None, log=log, browser=True)

    run = login(oauth, env)

    assert run.code == 1, run.output
    assert words in run.stderr
    assert stored_refresh_tokens() == []
    assert oauth.refresh_tokens() == []  # the code was never exchanged


def test_an_access_token_that_expires_mid_run_is_refreshed_for_the_next_connection(
    tmp_path: Path, log: Path, oauth_server_factory: OAuthFactory, xoauth2_smtp_factory: SmtpFactory
) -> None:
    oauth = oauth_server_factory(interval=0, auto_approve_after=0, expires_in=3)
    smtp = xoauth2_smtp_factory(oauth, hangup_after=1)  # a new connection for every letter
    env = xoauth2_env(oauth, smtp, log=log)
    assert login(oauth, env).code == 0

    sent = send(
        make_campaign(tmp_path / "c", targets=3), "--concurrency", "1", "--rate", "40", env=env
    )

    assert sent.code == 0, sent.output
    assert len(smtp.messages) == 3
    assert all(a.ok for a in smtp.xoauth2_attempts)
    tokens = smtp.message_tokens()
    assert len(set(tokens)) >= 2, tokens  # 1.5 s per letter: the 3 s token was renewed
    assert oauth.refresh_count == len(set(tokens))


def test_a_revoked_sign_in_stops_send_with_exit_1_and_says_run_login_once(
    tmp_path: Path, log: Path, oauth: OAuthServer, xoauth2_smtp_factory: SmtpFactory
) -> None:
    smtp = xoauth2_smtp_factory(oauth)
    env = xoauth2_env(oauth, smtp, log=log)
    assert login(oauth, env).code == 0
    oauth.revoke_all()
    campaign = make_campaign(tmp_path / "c", targets=2)

    loud = send(campaign, env=env)
    quiet = send(campaign, "-q", env=env)

    for run in (loud, quiet):
        assert run.code == 1, run.output
        assert run.stderr.count("protest login") == 1
        assert "invalid_grant" in run.stderr
    assert smtp.messages == []
    assert smtp.connections == 0  # no SMTP login was even tried


def test_an_unreachable_token_endpoint_defers_the_run_with_75(
    tmp_path: Path, log: Path, oauth: OAuthServer, xoauth2_smtp_factory: SmtpFactory
) -> None:
    smtp = xoauth2_smtp_factory(oauth)
    env = xoauth2_env(oauth, smtp, log=log)
    assert login(oauth, env).code == 0
    env["PROTEST_OAUTH_TOKEN_URL"] = f"http://127.0.0.1:{free_port()}/token"

    run = send(make_campaign(tmp_path / "c", targets=1), env=env)

    assert run.code == 75, run.output
    assert "could not be reached" in run.stderr
    assert smtp.messages == []


def test_send_without_a_sign_in_exits_1_and_never_starts_one(
    tmp_path: Path, log: Path, oauth: OAuthServer, smtp: XOAuth2Server
) -> None:
    env = xoauth2_env(oauth, smtp, log=log)

    run = send(make_campaign(tmp_path / "c", targets=1), env=env)

    assert run.code == 1, run.output
    assert "protest login" in run.stderr
    assert oauth.requests == []


def access_token(oauth: OAuthServer) -> str:
    """A live access token for USER, got the way a token helper such as oama gets one."""
    from protest_dispatch.oauth.device import Pacing, device_sign_in
    from test_oauth_signin import device_client

    pacing = Pacing(sleep=lambda _: None)
    return device_sign_in(device_client(oauth), show=lambda _: None, pacing=pacing).access_token


@pytest.fixture
def token_command(tmp_path: Path) -> Callable[[str], str]:
    """``make(token)``: a command that prints ``token`` and counts its runs in ``runs``."""
    runs = tmp_path / "runs"

    def make(token: str) -> str:
        secret = tmp_path / "token.txt"
        secret.write_text(token + "\n")
        return f"echo run >> '{runs}'; cat '{secret}'"

    return make


def test_a_token_command_runs_before_each_connection(
    tmp_path: Path,
    log: Path,
    oauth_server_factory: OAuthFactory,
    xoauth2_smtp_factory: SmtpFactory,
    token_command: Callable[[str], str],
) -> None:
    oauth = oauth_server_factory(interval=0, auto_approve_after=0)
    smtp = xoauth2_smtp_factory(oauth, hangup_after=1)
    token = access_token(oauth)
    env = xoauth2_env(oauth, smtp, log=log, PROTEST_SMTP_OAUTH_TOKEN_COMMAND=token_command(token))

    run = send(make_campaign(tmp_path / "c", targets=2), "--concurrency", "1", env=env)
    checked = cli(["doctor"], env=env)

    assert run.code == 0, run.output
    assert len(smtp.messages) == 2
    assert (tmp_path / "runs").read_text().count("run") == 2 + 2  # send: 2 connections; doctor
    assert checked.code == 0, checked.output
    assert "token command printed a token" in checked.stdout
    assert_no_secret([token], run, checked, log=log)


def test_a_refused_token_is_reported_with_googles_reason_and_stops_new_logins(
    tmp_path: Path,
    log: Path,
    oauth: OAuthServer,
    smtp: XOAuth2Server,
    token_command: Callable[[str], str],
) -> None:
    bogus = "ya29.not-a-token-this-server-issued"
    env = xoauth2_env(oauth, smtp, log=log, PROTEST_SMTP_OAUTH_TOKEN_COMMAND=token_command(bogus))

    run = send(make_campaign(tmp_path / "c", targets=3), "--concurrency", "3", env=env)

    assert run.code == 1, run.output
    assert "refused the OAuth2 token" in run.stderr
    assert "status 401" in run.stderr
    assert f"scope {GMAIL_SCOPE}" in run.stderr
    assert len(smtp.xoauth2_attempts) == 1  # one refusal, not one per connection
    assert smtp.messages == []
    assert_no_secret([bogus], run, log=log)


def test_a_token_command_that_fails_exits_2(
    tmp_path: Path, log: Path, oauth: OAuthServer, smtp: XOAuth2Server
) -> None:
    env = xoauth2_env(oauth, smtp, log=log, PROTEST_SMTP_OAUTH_TOKEN_COMMAND="exit 4")

    run = send(make_campaign(tmp_path / "c", targets=1), env=env)
    checked = cli(["doctor"], env=env)

    assert run.code == 2, run.output
    assert "smtp_oauth_token_command" in run.stderr
    assert checked.code == 2, checked.output
    assert "✗ OAuth token" in checked.stdout
    assert smtp.messages == []


def test_a_server_without_xoauth2_is_refused_with_exit_1(
    tmp_path: Path, log: Path, oauth: OAuthServer, xoauth2_smtp_factory: SmtpFactory
) -> None:
    smtp = xoauth2_smtp_factory(oauth, offer_xoauth2=False, auth=("someone", "password"))
    env = xoauth2_env(oauth, smtp, log=log)
    assert login(oauth, env).code == 0

    run = send(make_campaign(tmp_path / "c", targets=1), env=env)
    checked = cli(["doctor"], env=env)

    assert run.code == 1, run.output
    assert "does not offer XOAUTH2" in run.stderr
    assert checked.code == 1, checked.output
    assert "✗ Login (AUTH)" in checked.stdout
    assert smtp.messages == []


def test_doctor_checks_the_stored_sign_in_and_reports_a_revoked_one(
    log: Path, oauth: OAuthServer, smtp: XOAuth2Server
) -> None:
    env = xoauth2_env(oauth, smtp, log=log)
    assert login(oauth, env).code == 0

    good = cli(["doctor"], env=env)
    oauth.revoke_all()
    bad = cli(["doctor"], env=env)

    assert good.code == 0, good.output
    assert "✓ OAuth token" in good.stdout
    assert "accepted the username user@example.org and its OAuth2 token" in good.stdout
    assert smtp.messages == []
    assert bad.code == 1, bad.output
    assert "✗ OAuth token" in bad.stdout
    assert "protest login" in bad.stdout
    assert_no_secret(secrets_of(oauth), good, bad)


def test_password_users_and_help_never_import_the_oauth_libraries(
    tmp_path: Path, log: Path, smtp_server_factory: Callable[..., object]
) -> None:
    server = smtp_server_factory()
    campaign = make_campaign(tmp_path / "c", targets=1)
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('LOADED', sorted(m for m in ('authlib', 'httpx', "
        "'httpx2') if m in sys.modules), file=sys.stderr))\n"
        "from protest_dispatch.cli import main\n"
        "sys.argv = ['protest', *sys.argv[1:]]\n"
        "main()\n"
    )
    env = subprocess_env(
        {
            "PROTEST_FROM": "Ana Example <ana@example.org>",
            "PROTEST_SMTP_HOST": "127.0.0.1",
            "PROTEST_SMTP_PORT": str(server.port),  # type: ignore[attr-defined]
            "PROTEST_SMTP_SECURITY": "none",
            "PROTEST_LOG": str(log),
        }
    )
    outputs = []
    for args in (["--help"], ["send", "-t", str(campaign), "--yes", "--rate", "0"]):
        done = subprocess.run(
            [sys.executable, "-c", probe, *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stderr)

    assert all("LOADED []" in out for out in outputs), outputs


def test_the_smtp_session_presents_the_token_with_xoauth2_not_plain(
    oauth: OAuthServer, smtp: XOAuth2Server, log: Path
) -> None:
    """The transport alone: SmtpConnection asks the provider right before it connects."""
    from protest_dispatch.mail.smtp import SmtpConnection
    from protest_dispatch.settings.smtp import SmtpSettings
    from protest_dispatch.vocabulary import AuthMode, Security

    token = access_token(oauth)
    calls: list[str] = []

    async def provider() -> str:
        calls.append("token")
        return token

    settings = SmtpSettings(
        host="127.0.0.1",
        port=smtp.port,
        security=Security.STARTTLS,
        helo_name="example.org",
        username=USER,
        ca_file=smtp.ca_file,
        auth=AuthMode.XOAUTH2,
        token=provider,
    )

    async def go() -> None:
        async with SmtpConnection(settings=settings) as connection:
            delivery = await connection.deliver(
                mail_from="ana@example.org", to="official-1@example.org", copies=(), data=b"x\r\n"
            )
            assert delivery.outcome == "sent"

    asyncio.run(go())

    assert calls == ["token"]
    assert [a.ok for a in smtp.xoauth2_attempts] == [True]
    assert "AUTH" in smtp.verbs()
