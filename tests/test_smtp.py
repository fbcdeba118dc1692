"""The SMTP transport against a real aiosmtpd server on 127.0.0.1 (see smtp_server.py)."""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import socket
from collections.abc import AsyncIterator, Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from pydantic import SecretStr

from protest_dispatch.errors import (
    ConfigError,
    SmtpRefusedError,
    SmtpUnavailableError,
)
from protest_dispatch.mail.smtp import SmtpConnection, check_plaintext_allowed
from protest_dispatch.mail.verdict import Delivery
from protest_dispatch.net.loopback import resolve_loopback_only
from protest_dispatch.settings.smtp import SmtpSettings
from protest_dispatch.vocabulary import Security
from smtp_server import HOST, Server, Tls, free_port, running_server

HELO = "campaign.example.org"
FROM = "activist@campaign.example.org"
TO = "clerk@court.example.org"
CC = "press@court.example.org"
CC2 = "chair@court.example.org"
PASSWORD = "s3cret-app-password"


def settings_for(server: Server, **overrides: Any) -> SmtpSettings:
    security = {"none": "none", "starttls": "starttls", "implicit": "tls"}[server.tls]
    values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": security,
        "helo_name": HELO,
        "ca_file": server.ca_file,
        "timeout": 2.0,
        "data_timeout": 2.0,
    }
    values.update(overrides)
    return SmtpSettings(**values)


def letter(*, to: str = TO, copies: Sequence[str] = (), body: str = "Free them all.\n") -> bytes:
    message = EmailMessage()
    message["From"] = FROM
    message["To"] = to
    if copies:
        message["Cc"] = ", ".join(copies)
    message["Subject"] = "An appeal"
    message["Message-ID"] = "<appeal-1@campaign.example.org>"
    message.set_content(body)
    return message.as_bytes(policy=email.policy.SMTP)


async def send(
    settings: SmtpSettings, *, to: str = TO, copies: Sequence[str] = (), data: bytes | None = None
) -> Delivery:
    async with SmtpConnection(settings=settings) as connection:
        return await connection.deliver(
            mail_from=FROM, to=to, copies=copies, data=letter(to=to) if data is None else data
        )


def deliver_once(server: Server, **kwargs: Any) -> Delivery:
    settings = kwargs.pop("settings", None) or settings_for(server)
    return asyncio.run(send(settings, **kwargs))


# -- settings ------------------------------------------------------------------


def test_default_ports_and_password_hidden_from_repr() -> None:
    assert {s.value: s.smtp_port for s in Security} == {"starttls": 587, "tls": 465, "none": 25}
    settings = SmtpSettings(
        host="smtp.example.org",
        port=587,
        security="starttls",
        helo_name=HELO,
        username="me",
        password=SecretStr(PASSWORD),
    )
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings)


# -- delivering ------------------------------------------------------------------


def test_sent_letter_arrives_with_exact_envelope_and_bytes() -> None:
    data = letter(copies=[CC], body="First line.\n.A line that starts with a dot.\n")
    with running_server() as server:
        delivery = deliver_once(server, copies=[CC], data=data)

        assert delivery.outcome == "sent"
        assert delivery.code == 250
        assert "queued as Q00001" in delivery.message
        assert delivery.refused == ()
        assert delivery.reconnect is False
        [received] = server.messages
        assert received.mail_from == FROM
        assert received.rcpt_tos == [TO, CC]
        assert received.data == data  # dot-stuffing undone by the server: bytes as given
        assert received.message["Subject"] == "An appeal"
        assert ".A line that starts with a dot." in received.message.get_content()
        assert server.verbs_until_quit() == ["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"]


def test_ehlo_uses_the_configured_name_not_the_machine_name() -> None:
    with running_server() as server:
        deliver_once(server)

        assert server.helo_names == [HELO]
        assert socket.getfqdn() != HELO


def test_refused_to_fails_without_data_or_copies() -> None:
    with running_server(refuse={TO: (550, "5.1.1 no such user")}) as server:

        async def scenario() -> tuple[Delivery, bool]:
            async with SmtpConnection(settings=settings_for(server)) as connection:
                delivery = await connection.deliver(
                    mail_from=FROM, to=TO, copies=[CC], data=letter()
                )
                return delivery, connection.is_open

        delivery, still_open = asyncio.run(scenario())

        assert delivery.outcome == "failed"
        assert delivery.code == 550
        assert "no such user" in delivery.message
        assert delivery.reconnect is False
        assert still_open
        assert server.messages == []
        assert server.rcpt_attempts[CC] == 0
        assert "DATA" not in server.verbs()
        assert server.verbs_until_quit()[-2:] == ["RSET", "QUIT"]


def test_greylisted_to_is_deferred_then_sent_on_the_same_connection() -> None:
    with running_server(greylist=1) as server:

        async def scenario() -> list[Delivery]:
            async with SmtpConnection(settings=settings_for(server)) as connection:
                first = await connection.deliver(mail_from=FROM, to=TO, copies=[], data=letter())
                second = await connection.deliver(mail_from=FROM, to=TO, copies=[], data=letter())
                return [first, second]

        first, second = asyncio.run(scenario())

        assert (first.outcome, first.code, first.reconnect) == ("deferred", 451, False)
        assert second.outcome == "sent"
        assert len(server.messages) == 1
        assert server.connections == 1


def test_refused_copy_is_recorded_and_the_letter_still_goes() -> None:
    with running_server(refuse={CC: (550, "5.1.1 mailbox unavailable")}) as server:
        delivery = deliver_once(server, copies=[CC, CC2])

        assert delivery.outcome == "sent"
        assert delivery.refused == (f"{CC}: 550 5.1.1 mailbox unavailable",)
        [received] = server.messages
        assert received.rcpt_tos == [TO, CC2]


def test_greylisted_copy_is_recorded_as_refused() -> None:
    with running_server(greylist=5, greylist_only={CC}) as server:
        delivery = deliver_once(server, copies=[CC])

        assert delivery.outcome == "sent"
        assert delivery.refused == (f"{CC}: 451 4.7.1 Greylisted, please try again later",)
        assert server.messages[0].rcpt_tos == [TO]


def test_repeated_copies_are_named_once() -> None:
    with running_server() as server:
        deliver_once(server, copies=[CC, TO, CC.upper(), CC2])

        assert server.messages[0].rcpt_tos == [TO, CC, CC2]


def test_552_at_end_of_data_fails_and_resets() -> None:
    with running_server(data_reply=(552, "5.3.4 message too big")) as server:
        delivery = deliver_once(server)

        assert (delivery.outcome, delivery.code, delivery.reconnect) == ("failed", 552, False)
        assert "message too big" in delivery.message
        assert server.messages == []
        assert server.verbs_until_quit()[-2:] == ["RSET", "QUIT"]


def test_451_at_end_of_data_is_deferred() -> None:
    with running_server(data_reply=(451, "4.3.0 queue full")) as server:
        delivery = deliver_once(server)

        assert (delivery.outcome, delivery.code, delivery.reconnect) == ("deferred", 451, False)


def test_connection_dropped_after_data_is_uncertain() -> None:
    with running_server(drop_after_data=True) as server:

        async def scenario() -> tuple[Delivery, bool]:
            connection = SmtpConnection(settings=settings_for(server))
            await connection.open()
            delivery = await connection.deliver(mail_from=FROM, to=TO, copies=[], data=letter())
            is_open = connection.is_open
            await connection.close()
            return delivery, is_open

        delivery, is_open = asyncio.run(scenario())

        assert delivery.outcome == "uncertain"
        assert delivery.reconnect is True
        assert delivery.code is None
        assert "may have accepted" in delivery.message
        assert not is_open
        assert len(server.unanswered) == 1  # the server did get the whole letter
        assert server.messages == []


def test_server_silent_after_data_is_uncertain() -> None:
    with running_server(stall_data=10.0) as server:
        settings = settings_for(server, data_timeout=0.5)
        delivery = deliver_once(server, settings=settings)

        assert (delivery.outcome, delivery.reconnect) == ("uncertain", True)
        assert "did not answer within 0.5 seconds" in delivery.message


def test_421_on_mail_defers_and_asks_for_a_new_connection() -> None:
    with running_server(mail_reply=(421, "4.7.0 too busy, closing")) as server:

        async def scenario() -> tuple[Delivery, bool]:
            async with SmtpConnection(settings=settings_for(server)) as connection:
                delivery = await connection.deliver(mail_from=FROM, to=TO, copies=[], data=letter())
                return delivery, connection.is_open

        delivery, is_open = asyncio.run(scenario())

        assert (delivery.outcome, delivery.code, delivery.reconnect) == ("deferred", 421, True)
        assert not is_open
        assert server.rcpt_attempts[TO] == 0


@pytest.mark.parametrize(("code", "outcome"), [(451, "deferred"), (550, "failed")])
def test_mail_from_refusals_keep_the_connection(code: int, outcome: str) -> None:
    with running_server(mail_reply=(code, "sender says no")) as server:
        delivery = deliver_once(server)

        assert (delivery.outcome, delivery.code, delivery.reconnect) == (outcome, code, False)
        assert "RCPT" not in server.verbs()
        assert "RSET" in server.verbs()


def test_hangup_after_n_messages_then_a_fresh_connection_works() -> None:
    with running_server(hangup_after=2) as server:

        async def scenario() -> list[Delivery]:
            connection = SmtpConnection(settings=settings_for(server))
            await connection.open()
            deliveries = []
            for _ in range(3):
                deliveries.append(
                    await connection.deliver(mail_from=FROM, to=TO, copies=[], data=letter())
                )
            assert deliveries[-1].reconnect
            await connection.close()
            await connection.open()
            deliveries.append(
                await connection.deliver(mail_from=FROM, to=TO, copies=[], data=letter())
            )
            await connection.close()
            return deliveries

        deliveries = asyncio.run(scenario())

        assert [d.outcome for d in deliveries] == ["sent", "sent", "deferred", "sent"]
        assert deliveries[2].code == 421
        assert server.connections == 2
        assert [m.connection for m in server.messages] == [1, 1, 2]


def test_timeout_before_data_defers_and_reconnects() -> None:
    with running_server() as server:

        async def scenario() -> Delivery:
            async with SmtpConnection(settings=settings_for(server, timeout=0.5)) as connection:
                server.update_faults(delay=2.0)
                return await connection.deliver(mail_from=FROM, to=TO, copies=[], data=letter())

        delivery = asyncio.run(scenario())

        assert (delivery.outcome, delivery.reconnect) == ("deferred", True)
        assert "nothing was delivered" in delivery.message


def test_five_letters_share_one_connection() -> None:
    with running_server() as server:

        async def scenario() -> list[Delivery]:
            async with SmtpConnection(settings=settings_for(server)) as connection:
                return [
                    await connection.deliver(
                        mail_from=FROM,
                        to=f"official{i}@court.example.org",
                        copies=[],
                        data=letter(to=f"official{i}@court.example.org"),
                    )
                    for i in range(5)
                ]

        deliveries = asyncio.run(scenario())

        assert [d.outcome for d in deliveries] == ["sent"] * 5
        assert server.connections == 1
        assert [m.rcpt_tos for m in server.messages] == [
            [f"official{i}@court.example.org"] for i in range(5)
        ]


def test_deliver_on_a_closed_connection_defers_without_writing() -> None:
    with running_server() as server:

        async def scenario() -> Delivery:
            connection = SmtpConnection(settings=settings_for(server))
            await connection.open()
            await connection.close()
            await connection.close()  # idempotent
            return await connection.deliver(mail_from=FROM, to=TO, copies=[], data=letter())

        delivery = asyncio.run(scenario())

        assert (delivery.outcome, delivery.reconnect) == ("deferred", True)
        assert server.verbs_until_quit() == ["EHLO", "QUIT"]


@pytest.mark.parametrize(
    "bad",
    [
        "clerk@court.example.org>\r\nRCPT TO:<evil@example.org",
        "clerk@court.example.org SIZE=1",
        "Clerk <clerk@court.example.org>",
        "not-an-address",
    ],
)
def test_unsafe_addresses_fail_before_anything_is_sent(bad: str) -> None:
    with running_server() as server:
        delivery = deliver_once(server, to=bad, data=letter())

        assert delivery.outcome == "failed"
        assert "cannot be used" in delivery.message
        assert "MAIL" not in server.verbs()


def test_non_ascii_address_uses_smtputf8() -> None:
    with running_server() as server:
        delivery = deliver_once(server, to="clérk@court.example.org")

        assert delivery.outcome == "sent"
        [received] = server.messages
        assert received.rcpt_tos == ["clérk@court.example.org"]
        assert "SMTPUTF8" in received.mail_options


def test_non_ascii_address_fails_without_smtputf8() -> None:
    with running_server(smtputf8=False) as server:
        delivery = deliver_once(server, to="clérk@court.example.org")

        assert delivery.outcome == "failed"
        assert "SMTPUTF8" in delivery.message
        assert "MAIL" not in server.verbs()


def test_eight_bit_letter_needs_8bitmime() -> None:
    data = "Subject: x\r\n\r\nFreiheit für alle, Grüße!\r\n".encode()
    with running_server() as server:
        delivery = deliver_once(server, data=data)
        assert delivery.outcome == "sent"
        assert "BODY=8BITMIME" in server.messages[0].mail_options
        assert server.messages[0].data == data
    with running_server(hide_extensions={"8BITMIME"}) as server:
        delivery = deliver_once(server, data=data)
        assert delivery.outcome == "failed"
        assert "8BITMIME" in delivery.message
        assert "MAIL" not in server.verbs()


# -- opening: reachability -------------------------------------------------------------


def test_nothing_listening_is_unavailable() -> None:
    port = free_port()
    settings = SmtpSettings(host=HOST, port=port, security="none", helo_name=HELO, timeout=2.0)

    with pytest.raises(SmtpUnavailableError) as caught:
        asyncio.run(send(settings))

    assert caught.value.exit_code == 75
    assert f"{HOST}:{port}" in str(caught.value)
    assert "refused the connection" in str(caught.value)


@contextlib.asynccontextmanager
async def raw_server(greeting: bytes | None) -> AsyncIterator[int]:
    """A bare TCP server: says ``greeting`` (or nothing) and waits for the client to leave."""
    handlers: set[asyncio.Task[Any]] = set()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        if greeting is not None:
            writer.write(greeting)
            await writer.drain()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(client, HOST, 0)
    try:
        async with server:
            yield int(server.sockets[0].getsockname()[1])
    finally:
        # let each handler see the client leave, so none is cancelled at loop shutdown
        if handlers:
            await asyncio.wait(handlers, timeout=2.0)


def test_421_greeting_is_unavailable() -> None:
    async def scenario() -> None:
        async with raw_server(b"421 4.3.2 busy, try later\r\n") as port:
            settings = SmtpSettings(host=HOST, port=port, security="none", helo_name=HELO)
            await SmtpConnection(settings=settings).open()

    with pytest.raises(SmtpUnavailableError) as caught:
        asyncio.run(scenario())

    assert caught.value.code == 421
    assert "busy, try later" in str(caught.value)


def test_554_greeting_is_refused() -> None:
    async def scenario() -> None:
        async with raw_server(b"554 no SMTP service here\r\n") as port:
            settings = SmtpSettings(host=HOST, port=port, security="none", helo_name=HELO)
            await SmtpConnection(settings=settings).open()

    with pytest.raises(SmtpRefusedError) as caught:
        asyncio.run(scenario())

    assert caught.value.code == 554


def test_silent_server_times_out_as_unavailable() -> None:
    async def scenario() -> None:
        async with raw_server(None) as port:
            settings = SmtpSettings(
                host=HOST, port=port, security="none", helo_name=HELO, timeout=0.5
            )
            await SmtpConnection(settings=settings).open()

    with pytest.raises(SmtpUnavailableError, match=r"did not answer within 0\.5 seconds"):
        asyncio.run(scenario())


def test_invalid_helo_name_is_a_config_error() -> None:
    settings = SmtpSettings(host=HOST, port=free_port(), security="none", helo_name="bad name")

    with pytest.raises(ConfigError, match="HELO name"):
        asyncio.run(SmtpConnection(settings=settings).open())


# -- opening: TLS ------------------------------------------------------------------


def test_starttls_required_but_not_offered_sends_nothing() -> None:
    with running_server(tls="none") as server:
        settings = settings_for(
            server, security="starttls", username="me", password=SecretStr(PASSWORD)
        )

        with pytest.raises(SmtpRefusedError) as caught:
            asyncio.run(send(settings))

        assert caught.value.exit_code == 1
        assert "does not offer STARTTLS" in str(caught.value)
        assert "--smtp-security tls" in str(caught.value)
        assert server.verbs() == ["EHLO"]
        assert server.auth_attempts == []
        assert server.messages == []


def test_stripped_starttls_is_not_a_downgrade() -> None:
    with running_server(tls="starttls", hide_extensions={"STARTTLS"}) as server:
        with pytest.raises(SmtpRefusedError, match="does not offer STARTTLS"):
            asyncio.run(send(settings_for(server)))

        assert "MAIL" not in server.verbs()


def test_starttls_with_trusted_private_ca_sends() -> None:
    with running_server(tls="starttls", require_starttls=True) as server:
        delivery = deliver_once(server)

        assert delivery.outcome == "sent"
        assert server.messages[0].tls
        assert server.verbs()[:3] == ["EHLO", "STARTTLS", "EHLO"]
        assert server.helo_names == [HELO, HELO]


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_untrusted_certificate_is_refused(tls: Tls, tmp_path: Path) -> None:
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    with running_server(tls=tls) as server:
        with pytest.raises(SmtpRefusedError) as caught:
            asyncio.run(send(settings_for(server, ca_file=other_ca)))

        message = str(caught.value)
        assert "certificate" in message
        assert "did not verify" in message
        assert "--smtp-ca-file" in message
        assert "MAIL" not in server.verbs()
        assert server.messages == []


def test_system_store_does_not_trust_a_private_ca() -> None:
    with (
        running_server(tls="implicit") as server,
        pytest.raises(SmtpRefusedError, match="certificate"),
    ):
        asyncio.run(send(settings_for(server, ca_file=None)))


def test_implicit_tls_with_trusted_ca_sends() -> None:
    with running_server(tls="implicit") as server:
        settings = settings_for(server)
        assert settings.security == "tls"
        delivery = deliver_once(server, settings=settings)

        assert delivery.outcome == "sent"
        assert server.messages[0].tls
        assert "STARTTLS" not in server.verbs()


def test_implicit_tls_against_a_plain_server_is_refused() -> None:
    with running_server(tls="none") as server:
        settings = settings_for(server, security="tls")

        with pytest.raises(SmtpRefusedError, match="TLS handshake"):
            asyncio.run(send(settings))


def test_unreadable_ca_file_is_a_config_error(tmp_path: Path) -> None:
    settings = SmtpSettings(
        host=HOST,
        port=free_port(),
        security="tls",
        helo_name=HELO,
        ca_file=tmp_path / "missing.pem",
    )

    with pytest.raises(ConfigError, match="CA file"):
        asyncio.run(SmtpConnection(settings=settings).open())


# -- opening: authentication ---------------------------------------------------------


def test_login_after_starttls_sends() -> None:
    with running_server(tls="starttls", auth=("me", PASSWORD)) as server:
        settings = settings_for(server, username="me", password=SecretStr(PASSWORD))
        delivery = deliver_once(server, settings=settings)

        assert delivery.outcome == "sent"
        assert server.auth_attempts == [("me", True)]
        assert server.messages[0].login == "me"


def test_wrong_password_is_refused_without_echoing_it() -> None:
    wrong = "wrong-Pa55word"
    with running_server(tls="starttls", auth=("me", PASSWORD)) as server:
        settings = settings_for(server, username="me", password=SecretStr(wrong))

        with pytest.raises(SmtpRefusedError) as caught:
            asyncio.run(send(settings))

        error = caught.value
        assert error.code == 535
        assert "refused the username or password" in str(error)
        assert "app password" in str(error)
        assert "PROTEST_SMTP_PASSWORD" in str(error)
        assert wrong not in str(error)
        assert wrong not in repr(error)
        assert server.auth_attempts == [("me", False)]  # one failed login, not one per method
        assert "MAIL" not in server.verbs()


def test_no_auth_offered_after_tls_is_refused() -> None:
    with running_server(tls="starttls", hide_extensions={"AUTH"}) as server:
        settings = settings_for(server, username="me", password=SecretStr(PASSWORD))

        with pytest.raises(SmtpRefusedError, match=r"does not offer authentication \(AUTH\)"):
            asyncio.run(send(settings))

        assert "MAIL" not in server.verbs()


def test_username_without_password_is_a_config_error() -> None:
    settings = SmtpSettings(
        host=HOST, port=free_port(), security="starttls", helo_name=HELO, username="me"
    )

    with pytest.raises(ConfigError, match="no password"):
        asyncio.run(SmtpConnection(settings=settings).open())


def test_plaintext_login_to_localhost_is_allowed() -> None:
    with running_server(auth=("me", PASSWORD), auth_require_tls=False) as server:
        settings = settings_for(server, username="me", password=SecretStr(PASSWORD))
        delivery = deliver_once(server, settings=settings)

        assert delivery.outcome == "sent"
        assert server.auth_attempts == [("me", True)]


# -- clear-text guard --------------------------------------------------------------


def plain(host: str, *, username: str | None = "me", security: str = "none") -> SmtpSettings:
    return SmtpSettings(
        host=host,
        port=25,
        security=security,  # type: ignore[arg-type]
        helo_name=HELO,
        username=username,
        password=SecretStr(PASSWORD),
    )


@pytest.mark.parametrize("host", ["mail.example.org", "192.0.2.10", "2001:db8::1"])
def test_plaintext_password_to_another_host_is_refused(host: str) -> None:
    with pytest.raises(ConfigError) as caught:
        asyncio.run(check_plaintext_allowed(settings=plain(host)))

    assert caught.value.exit_code == 2
    assert "clear text" in str(caught.value)
    assert "starttls" in str(caught.value)
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST.", "::1", "[::1]"])
def test_plaintext_password_to_loopback_is_allowed(host: str) -> None:
    asyncio.run(check_plaintext_allowed(settings=plain(host)))


@pytest.mark.parametrize(
    "settings",
    [plain("mail.example.org", username=None), plain("mail.example.org", security="starttls")],
)
def test_plaintext_guard_only_applies_to_a_login_without_tls(settings: SmtpSettings) -> None:
    asyncio.run(check_plaintext_allowed(settings=settings))


def test_open_runs_the_plaintext_guard_before_connecting() -> None:
    with pytest.raises(ConfigError, match="clear text"):
        asyncio.run(SmtpConnection(settings=plain("mail.example.org")).open())


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.2", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("mail.example.org", False),  # does not resolve here: not provably loopback
        ("", False),
    ],
)
def test_resolve_loopback_only(host: str, expected: bool) -> None:
    assert asyncio.run(resolve_loopback_only(host)) is expected
