"""Every secret is masked in every form a hostile server or endpoint may repeat it in.

The class (issue 16 item 4): the masking that protects the SMTP password also
covers the access token, the XOAUTH2 SASL string, the refresh token, the client
secret and the mailbox password, literal, as base64 (whole, unpadded, in any
alignment), split over reply lines, or as any fragment of 8 or more characters,
wherever server or endpoint text is shown: ``doctor``, ``send -q``, ``login``.
Real servers on 127.0.0.1: the XOAUTH2 SMTP server and the OAuth server, told to
echo what they got.
"""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from inboxkit import Sent
from kit import Run, cli, make_campaign, send
from oauth_server import DESKTOP_SECRET, Hostile, OAuthServer
from oauthkit import USER, virtual_pacing, xoauth2_env
from protest_dispatch.masking import FRAGMENT, MASK, Masker, base64_forms
from protest_dispatch.oauth.store import default_token_file
from xoauth2_smtp import XOAuth2Server

OAuthFactory = Callable[..., OAuthServer]
SmtpFactory = Callable[..., XOAuth2Server]
BOGUS = "ya29.a0AfH6SMBx-not-a-token-this-server-issued_9f8e7d6c"


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sendlog.sqlite3"


def forms_of(secret: str) -> list[str]:
    """The ways a secret can be shown: as written and as base64 (any alignment)."""
    return [secret, *base64_forms(secret)]


def assert_masked(secrets: list[str], *runs: Run) -> None:
    """No secret, in any form, and no 8-character fragment of one, in any line shown."""
    for run in runs:
        for line in run.output.splitlines():
            for secret in secrets:
                for form in forms_of(secret):
                    fragments = {form[i : i + FRAGMENT] for i in range(len(form) - FRAGMENT + 1)}
                    assert not any(f in line for f in fragments), (secret, line)


def sasl(token: str) -> str:
    return base64.b64encode(f"user={USER}\x01auth=Bearer {token}\x01\x01".encode()).decode()


@pytest.mark.parametrize(
    "echo", ["sasl", "sasl-unpadded", "sasl-split", "token-split", "token-base64"]
)
def test_a_server_echoing_the_token_never_shows_it_in_doctor_or_send_quiet(
    echo: str,
    tmp_path: Path,
    log: Path,
    oauth_server: OAuthServer,
    xoauth2_smtp_factory: SmtpFactory,
) -> None:
    smtp = xoauth2_smtp_factory(oauth_server, echo=echo)
    token_file = tmp_path / "token.txt"
    token_file.write_text(BOGUS + "\n")
    env = xoauth2_env(
        oauth_server, smtp, log=log, PROTEST_SMTP_OAUTH_TOKEN_COMMAND=f"cat '{token_file}'"
    )

    checked = cli(["doctor"], env=env)
    quiet = send(make_campaign(tmp_path / "c", targets=1), "-q", env=env)

    assert checked.code == 1, checked.output
    assert quiet.code == 1, quiet.output
    for run in (checked, quiet):
        assert "refused" in run.output
        assert MASK in run.output  # the echo arrived, and was masked
    assert smtp.xoauth2_attempts  # the server really saw the token
    assert_masked([BOGUS, sasl(BOGUS)], checked, quiet)


def test_a_token_endpoint_echoing_the_refresh_token_and_client_secret_shows_neither(
    tmp_path: Path,
    log: Path,
    oauth_server_factory: OAuthFactory,
    xoauth2_smtp_factory: SmtpFactory,
) -> None:
    oauth = oauth_server_factory(
        interval=0, auto_approve_after=0, hostile=Hostile(echo_secrets=True)
    )
    smtp = xoauth2_smtp_factory(oauth)
    env = xoauth2_env(oauth, smtp, log=log, browser=False)
    env["PROTEST_OAUTH_CLIENT_SECRET"] = DESKTOP_SECRET  # sent, so the endpoint can echo it
    env["PROTEST_OAUTH_CLIENT_ID"] = "protest-desktop-client"
    signed = cli(["login", "--store", "file"], env=env, pacing=virtual_pacing(oauth))
    assert signed.code == 0, signed.output
    refresh = next(iter(__import__("json").loads(default_token_file().read_text()).values()))
    oauth.revoke_all()

    checked = cli(["doctor"], env=env)
    quiet = send(make_campaign(tmp_path / "c", targets=1), "-q", env=env)

    assert checked.code == 1, checked.output
    assert quiet.code == 1, quiet.output
    for run in (checked, quiet):
        assert "invalid_grant" in run.output
        assert MASK in run.output  # the description arrived, and was masked
    assert_masked([refresh, DESKTOP_SECRET], signed, checked, quiet)


def test_a_token_command_printing_only_spaces_exits_2_printed_nothing(
    tmp_path: Path, log: Path, oauth_server: OAuthServer, xoauth2_smtp: XOAuth2Server
) -> None:
    env = xoauth2_env(
        oauth_server, xoauth2_smtp, log=log, PROTEST_SMTP_OAUTH_TOKEN_COMMAND="echo '   '"
    )

    run = send(make_campaign(tmp_path / "c", targets=1), "-q", env=env)

    assert run.code == 2, run.output
    assert "printed nothing" in run.stderr
    assert xoauth2_smtp.connections == 0


def test_an_empty_or_blank_secret_is_never_a_pattern() -> None:
    masker = Masker("", "   ", None, "\t\n")
    masker.remember("")
    masker.remember("  ==")
    reply = "535 5.7.8 Username and Password not accepted. Learn more at https://x.example"
    assert masker(reply) == reply


def test_every_form_of_every_secret_is_masked_split_anywhere() -> None:
    secrets = [BOGUS, "refresh-1//0gXyZ-abcdefghijklmnop", DESKTOP_SECRET, "imap pass wörd 42"]
    masker = Masker(*secrets)
    masker.remember(sasl(BOGUS))
    for secret in secrets:
        for form in [*forms_of(secret), sasl(BOGUS)]:
            for cut in range(1, len(form)):
                shown = masker(f"535-5.7.8 no [{form[:cut]}\n535 5.7.8 {form[cut:]}] sorry")
                inside = shown[shown.index("[") + 1 : shown.index("]")]
                left = [p for p in inside.replace("535 5.7.8", "").split() if p.strip("=")]
                assert left, shown
                assert set(left) == {MASK}, (form, cut, shown)  # "=" tells nothing


IMAP_PASSWORD = "imap-Secret-pass-4711"


@contextmanager
def echoing_imap() -> Iterator[int]:
    """An IMAP server that takes any LOGIN, then refuses everything, repeating the password
    as written, as base64, and with its halves apart: a careless or hostile server."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    done = threading.Event()

    def session(client: socket.socket) -> None:
        with client, client.makefile("rb") as lines:
            client.sendall(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
            for raw in lines:
                tag, _, rest = raw.decode("utf-8", "replace").strip().partition(" ")
                command = rest.split(" ")[0].upper()
                if command == "CAPABILITY":
                    client.sendall(f"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n".encode())
                elif command == "LOGIN":
                    client.sendall(f"{tag} OK logged in\r\n".encode())
                elif command == "LOGOUT":
                    client.sendall(f"* BYE\r\n{tag} OK bye\r\n".encode())
                    return
                else:
                    pw = IMAP_PASSWORD
                    b64 = base64.b64encode(pw.encode()).decode()
                    said = f"[ALERT] password {pw} ({pw[:9]} {pw[9:]}) is {b64}"
                    client.sendall(f"{tag} NO {said}\r\n".encode())

    def serve() -> None:
        while not done.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=session, args=(client,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        done.set()
        thread.join(timeout=5)
        listener.close()


def test_an_imap_server_echoing_the_password_never_shows_it_in_doctor_or_inbox(
    sent: Sent,
) -> None:
    _, env, _ = sent
    with echoing_imap() as port:
        imap = {
            "PROTEST_IMAP_HOST": "127.0.0.1",
            "PROTEST_IMAP_PORT": str(port),
            "PROTEST_IMAP_SECURITY": "none",
            "PROTEST_IMAP_USERNAME": USER,
            "PROTEST_IMAP_PASSWORD": IMAP_PASSWORD,
        }
        checked = cli(["doctor"], env={**env, **imap})
        read = cli(["inbox", "-q", "--folder", "INBOX"], env={**env, **imap})

    assert "IMAP login" in checked.output
    assert read.code == 0, read.output  # a folder it cannot open is a warning
    assert "[ALERT] password ********" in read.output  # the echo arrived, and was masked
    assert_masked([IMAP_PASSWORD], checked, read)


def test_login_never_shows_the_code_verifier_or_client_secret_an_endpoint_echoes(
    log: Path, oauth_server_factory: OAuthFactory, fake_browser_log: Path
) -> None:
    oauth = oauth_server_factory(code_lifetime=0, hostile=Hostile(echo_secrets=True))
    env = xoauth2_env(oauth, None, log=log, browser=True)

    run = cli(["login"], env=env)

    assert run.code == 1, run.output
    assert "authorization code expired" in run.stderr  # the endpoint's words arrived
    assert "The code_verifier ********" in run.stderr  # and each secret in them was masked
    assert "The client_secret ********" in run.stderr
    error = run.stderr[run.stderr.index("error:") :]  # the URL shown before names the client
    assert_masked([DESKTOP_SECRET], Run(code=run.code, stdout="", stderr=error))
    assert not default_token_file().exists()
