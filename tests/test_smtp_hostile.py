"""Servers that misbehave: echoed passwords, replies that are not SMTP, silence, vanishing.

All against real sockets on 127.0.0.1: the aiosmtpd test server, or a bare TCP
server that says whatever the test wants.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from kit import cli, env_for, make_campaign, send
from profiles import budget
from protest_dispatch.errors import SmtpError, SmtpRefusedError, SmtpUnavailableError
from protest_dispatch.mail.smtp import SmtpConnection
from protest_dispatch.masking import MASK, Masker
from protest_dispatch.settings.smtp import SmtpSettings
from protest_dispatch.vocabulary import ExitCode, Security
from smtp_server import HOST, Server, free_port, running_server

ServerFactory = Callable[..., Server]
HELO = "campaign.example.org"
USER = "ana@example.org"
PASSWORD = "hunter2-Sup3r-secret"


def open_once(settings: SmtpSettings) -> None:
    async def go() -> None:
        async with SmtpConnection(settings=settings):
            pass

    asyncio.run(go())


# -- a password echoed back --------------------------------------------------------------


@pytest.mark.parametrize("how", ["plain", "unpadded", "split"])
def test_a_server_echoing_the_auth_argument_never_shows_the_password(how: str) -> None:
    with running_server(tls="starttls", auth=(USER, "other"), auth_echo=how) as server:
        settings = SmtpSettings(
            host=server.host,
            port=server.port,
            security=Security.STARTTLS,
            helo_name=HELO,
            ca_file=server.ca_file,
            username=USER,
            password=SecretStr(PASSWORD),
            timeout=5.0,
        )
        with pytest.raises(SmtpRefusedError) as caught:
            open_once(settings)
    shown = str(caught.value)
    sent = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    assert "authentication failed for [PLAIN" in shown  # the echo arrived, and was masked
    assert MASK in shown
    assert sent.rstrip("=")[:12] not in shown.replace(" ", "")
    assert PASSWORD not in shown
    assert caught.value.__cause__ is None  # no unmasked reply rides along in the chain
    assert caught.value.__suppress_context__


def login_forms(user: str, password: str) -> list[str]:
    plain = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    login = [base64.b64encode(p.encode()).decode() for p in (user, password)]
    return [plain, *login]


def echoes(token: str, where: float) -> list[str]:
    """The ways a server may repeat an argument: whole, unpadded, split over lines at
    ``where`` (a fraction of its length; any point, so a piece may be 1 character)."""
    cut = min(max(1, int(len(token) * where)), len(token) - 1)
    return [token, token.rstrip("="), f"{token[:cut]}\n535 5.7.8 {token[cut:]}"]


secrets = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=40,
).filter(lambda s: "*" not in s and "[" not in s and "]" not in s)
FRAME = "535 5.7.8 authentication failed for [{}]"


@settings(max_examples=budget(200))
@given(password=secrets, where=st.floats(min_value=0, max_value=1))
@example(password="\U00010000\u00bc0\U00010000", where=0.5)  # LOGIN's echo left 7 characters
def test_the_password_is_masked_in_every_form_it_was_sent_in(password: str, where: float) -> None:
    """No line shows 8 characters of a form, and no piece of a split form is left at all.

    Fragments are compared within each line: joining the lines would join a piece to
    the ``8`` of ``5.7.8`` and report a fragment the reader never sees.
    """
    masker = Masker(password)
    forms = login_forms(USER, password)
    for form in forms:
        masker.remember(form)
    for form in forms[0::2]:  # PLAIN's argument and LOGIN's password carry the secret
        core = form.rstrip("=")
        fragments = {core[i : i + 8] for i in range(max(1, len(core) - 7))}
        for echo in echoes(form, where):
            shown = masker(FRAME.format(echo))
            assert password not in shown
            for line in shown.splitlines():
                assert not any(fragment in line for fragment in fragments), (line, form)
            if password not in FRAME:  # else its literal mask may also hit the frame
                inside = shown[shown.index("[") + 1 : shown.rindex("]")]
                left = inside.replace("535 5.7.8", "").replace(MASK, "").split()
                assert left in ([], ["="], ["=="]), (shown, form)


def test_masking_leaves_ordinary_server_text_alone() -> None:
    masker = Masker("pw-1234567")
    masker.remember(base64.b64encode(b"\0ana\0pw-1234567").decode())
    assert masker("5.7.8 Authentication credentials invalid") == (
        "5.7.8 Authentication credentials invalid"
    )


# -- replies that are not SMTP, and silence -------------------------------------------------


@contextmanager
def raw_server(greeting: bytes | None) -> Iterator[int]:
    """A bare TCP server in a thread: says ``greeting`` (or nothing) to each client."""
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen()
    listener.settimeout(0.2)
    done = threading.Event()
    clients: list[socket.socket] = []

    def serve() -> None:
        while not done.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            clients.append(client)
            if greeting is not None:
                client.sendall(greeting)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        done.set()
        thread.join()
        for client in clients:
            client.close()
        listener.close()


def bare(port: int, *, timeout: float = 5.0) -> SmtpSettings:
    return SmtpSettings(
        host=HOST, port=port, security=Security.NONE, helo_name=HELO, timeout=timeout
    )


@pytest.mark.parametrize(
    ("greeting", "shown"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n", '"HTTP/1.1 400 Bad Request"'),
        (b"SSH-2.0-OpenSSH_9.6\x1b[31m\r\n", '"SSH-2.0-OpenSSH_9.6\\x1b[31m"'),
        (b"x" * 9000 + b"\r\n", "a line longer than SMTP allows"),
    ],
)
def test_a_reply_that_is_not_smtp_says_so(greeting: bytes, shown: str) -> None:
    with raw_server(greeting) as port, pytest.raises(SmtpRefusedError) as caught:
        open_once(bare(port))
    message = caught.value.message
    assert message == (
        f"The SMTP server at {HOST}:{port} does not speak SMTP (it answered: {shown})."
    )
    assert "\x1b" not in str(caught.value)
    assert caught.value.exit_code == ExitCode.FAILED  # a wrong port does not fix itself


def test_a_garbage_reply_is_quoted_short() -> None:
    with raw_server(b"Z" * 500 + b"\r\n") as port, pytest.raises(SmtpRefusedError) as caught:
        open_once(bare(port))
    assert "Z" * 80 + '..."' in caught.value.message
    assert "Z" * 81 not in caught.value.message


def test_a_silent_server_says_it_waited_for_the_greeting() -> None:
    with raw_server(None) as port, pytest.raises(SmtpUnavailableError) as caught:
        open_once(bare(port, timeout=0.3))
    assert caught.value.message == (
        f"The SMTP server {HOST}:{port} accepted the connection but did not answer within "
        "0.3 seconds with its greeting."
    )


def test_a_server_silent_after_the_greeting_says_which_command(
    smtp_server_factory: ServerFactory,
) -> None:
    server = smtp_server_factory(delay=1.0)  # EHLO waits a second
    with pytest.raises(SmtpUnavailableError) as caught:
        open_once(bare(server.port, timeout=0.3))
    assert "did not answer within 0.3 seconds while greeting the server" in str(caught.value)


# -- doctor and send agree ---------------------------------------------------------------


@contextmanager
def failing(kind: str, factory: ServerFactory) -> Iterator[int]:
    if kind == "nothing listening":
        yield free_port()
    elif kind == "not smtp":
        with raw_server(b"HTTP/1.1 400 Bad Request\r\n") as port:
            yield port
    elif kind == "too long":
        with raw_server(b"2" * 9000 + b"\r\n") as port:
            yield port
    elif kind == "busy greeting":
        with raw_server(b"421 4.3.2 busy, try later\r\n") as port:
            yield port
    else:
        with raw_server(b"554 5.7.1 no SMTP service for you\r\n") as port:
            yield port


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("nothing listening", ExitCode.TEMPFAIL),
        ("not smtp", ExitCode.FAILED),
        ("too long", ExitCode.FAILED),
        ("busy greeting", ExitCode.TEMPFAIL),
        ("refusing greeting", ExitCode.FAILED),
    ],
)
def test_doctor_and_send_classify_a_failure_alike(
    kind: str, expected: ExitCode, tmp_path: Path, smtp_server_factory: ServerFactory
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=1, campaign_cc=())
    with failing(kind, smtp_server_factory) as port:
        env = env_for(None, log=tmp_path / "log.sqlite3", port=port)
        sent = send(campaign, "--attempts", "1", env=env)
        doctor = cli(["doctor", "--timeout", "5"], env=env)
    assert sent.code == doctor.code == expected, (sent.output, doctor.output)
    assert "Nothing was sent." in sent.output  # true here: no letter went out
    assert "Nothing was sent." in doctor.output


# -- the server goes away in the middle of a run -------------------------------------------


def test_a_server_gone_mid_run_does_not_claim_nothing_was_sent(
    tmp_path: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(stop_listening_after=3)
    campaign = make_campaign(tmp_path / "c", targets=5, campaign_cc=())
    env = env_for(server, log=tmp_path / "log.sqlite3")

    run = send(campaign, "--attempts", "1", "--concurrency", "1", env=env)

    assert len(server.messages) == 3
    assert run.code == ExitCode.TEMPFAIL, run.output
    assert "refused the connection" in run.output
    assert "othing was sent" not in run.output.replace("; nothing was sent.", "")


def test_transport_errors_do_not_claim_what_the_run_did() -> None:
    port = free_port()
    with pytest.raises(SmtpError) as caught:
        open_once(bare(port))
    assert "othing was sent" not in str(caught.value)


def test_the_test_server_offers_only_real_auth_mechanisms() -> None:
    async def offered(port: int) -> list[str]:
        import aiosmtplib

        smtp = aiosmtplib.SMTP(hostname=HOST, port=port, start_tls=False, timeout=5)
        await smtp.connect()
        try:
            await smtp.ehlo()
            return sorted(smtp.server_auth_methods)
        finally:
            smtp.close()

    with running_server(auth=(USER, PASSWORD), auth_require_tls=False) as server:
        assert asyncio.run(offered(server.port)) == ["login", "plain"]
