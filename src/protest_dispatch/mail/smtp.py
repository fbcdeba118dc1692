"""SMTP transport: one session, many letters, every reply classified.

The dispatcher owns retries, pacing and the send log; this module owns the
session. It opens a connection only when that is safe (TLS as configured,
certificate verified, no password in clear text) and hands each letter to a
:class:`Transaction` of its own, one at a time. A letter's commands are
:mod:`mail.transaction`'s; what a reply means for a letter is
:mod:`mail.verdict`'s; every sentence is :mod:`mail.wording`'s; logging in is
:mod:`mail.auth`'s.

Nothing here logs or prints; the message body never appears in any text, and
server text passes through a :class:`Masker` before it appears in any message.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from types import TracebackType
from typing import Self

import aiosmtplib

from protest_dispatch.errors import ConfigError, ProxyUnavailableError, SmtpUnavailableError
from protest_dispatch.mail import auth, wording, xoauth2
from protest_dispatch.mail.envelope import checked_helo_name
from protest_dispatch.mail.transaction import BROKEN, Transaction
from protest_dispatch.mail.verdict import Delivery
from protest_dispatch.mail.wording import Wording
from protest_dispatch.masking import Masker
from protest_dispatch.net.connect import open_proxied
from protest_dispatch.net.loopback import resolve_loopback_only
from protest_dispatch.net.proxy import route
from protest_dispatch.net.tls import verified_context
from protest_dispatch.settings.smtp import SmtpSettings
from protest_dispatch.text import one_line
from protest_dispatch.vocabulary import AuthMode, LetterStatus, Route, Security


class SmtpConnection:
    """One SMTP session that carries many letters, one transaction at a time.

    Use as ``async with SmtpConnection(settings=s) as conn:``. After a
    :class:`Delivery` with ``reconnect=True`` the session is already closed;
    call :meth:`open` again before the next letter. If ``deliver`` is
    cancelled the session is dropped, and a cancellation that hit during DATA
    leaves that letter's fate unknown: the caller must treat it as uncertain.
    """

    def __init__(self, *, settings: SmtpSettings) -> None:
        self._settings = settings
        self._smtp: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()  # one transaction at a time on one session
        self._masker = Masker(_secret(settings))
        self._say = Wording(settings=settings, mask=self._masker, tidy=self._tidy)

    @property
    def settings(self) -> SmtpSettings:
        return self._settings

    @property
    def is_open(self) -> bool:
        return self._smtp is not None and self._smtp.is_connected

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect, secure, greet and log in, or raise an :class:`SmtpError` saying why not.

        Settings problems (bad HELO name, unreadable CA file, a password that
        would travel in clear text) raise :class:`ConfigError` before any
        connection is made.
        """
        if self.is_open:
            raise RuntimeError("SmtpConnection.open() called on a connection that is open")
        self._drop()
        settings = self._settings
        await check_plaintext_allowed(settings=settings)
        helo_name = checked_helo_name(settings.helo_name)
        oauth = settings.auth is AuthMode.XOAUTH2 and settings.username is not None
        password = await xoauth2.fresh_token(settings) if oauth else _password(settings)
        self._masker.add(password)  # the token this connection presents
        sock = await self._proxied_socket()
        smtp = aiosmtplib.SMTP(
            hostname=settings.host,  # TLS verifies this name, also through a proxy
            port=None if sock else settings.port,  # aiosmtplib refuses both
            sock=sock,
            local_hostname=helo_name,
            timeout=settings.timeout,
            use_tls=settings.security == Security.TLS,
            start_tls=False,  # we decide, and we never fall back to clear text
            validate_certs=True,
            tls_context=None
            if settings.security == Security.NONE
            else verified_context(
                settings.ca_file, key="smtp_ca_file", where="--smtp-ca-file or PROTEST_SMTP_CA_FILE"
            ),
        )
        try:
            await self._handshake(smtp, helo_name=helo_name, password=password)
        except BaseException:
            smtp.close()
            if sock is not None:
                sock.close()
            raise
        self._smtp = smtp

    async def deliver(
        self, *, mail_from: str, to: str, copies: Sequence[str], data: bytes
    ) -> Delivery:
        """Send one letter to ``to`` with ``copies``; never raises for SMTP trouble.

        ``data`` is the finished message (headers and body) and goes out as
        given, apart from the CRLF line endings and dot-stuffing the protocol
        requires. Copies that repeat the To or each other are named only once.
        """
        async with self._lock:
            try:
                smtp = self._smtp
                if smtp is None or not smtp.is_connected:
                    self._drop()
                    return Delivery(
                        LetterStatus.DEFERRED, None, wording.CLOSED_BEFORE_LETTER, reconnect=True
                    )
                transaction = Transaction(
                    smtp, settings=self._settings, tidy=self._tidy, drop=self._drop
                )
                return await transaction.run(mail_from=mail_from, to=to, copies=copies, data=data)
            except asyncio.CancelledError:
                self._drop()
                raise

    async def close(self) -> None:
        """Say QUIT and hang up without waiting for the reply; never raises; safe twice.

        As Postfix does by default (smtp_skip_quit_response): every letter on the
        session is settled already, so the reply could change nothing and would only
        cost one more round trip at the end of every run.
        """
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            if smtp.is_connected and smtp.protocol is not None:
                smtp.protocol.write(b"QUIT\r\n")
        except (aiosmtplib.SMTPException, OSError, RuntimeError):
            pass  # the session is over either way; a failed goodbye changes nothing
        finally:
            smtp.close()

    async def _proxied_socket(self) -> socket.socket | None:
        """The connection through the proxy, or None when aiosmtplib connects directly."""
        settings = self._settings
        if settings.proxy is None or not settings.proxied:
            return None
        try:
            return await open_proxied(
                settings.proxy, settings.host, settings.port, timeout=settings.timeout
            )
        except ProxyUnavailableError as exc:  # so the dispatcher defers the letters
            raise SmtpUnavailableError(
                exc.message, host=settings.host, port=settings.port, hint=exc.hint
            ) from None

    async def _handshake(self, smtp: aiosmtplib.SMTP, *, helo_name: str, password: str) -> None:
        try:
            await smtp.connect()
        except aiosmtplib.SMTPConnectResponseError as exc:
            raise self._say.reply_error("greeted us with", exc.code, exc.message) from exc
        except BROKEN as exc:
            raise self._say.network_error(exc, doing="connecting") from exc
        await self._ehlo(smtp, helo_name)
        if self._settings.security == Security.STARTTLS:
            await self._starttls(smtp, helo_name)
        if self._settings.username is None:
            return
        if self._settings.auth is AuthMode.XOAUTH2:
            await self._xoauth2(smtp, token=password)
        else:
            await self._login(smtp, self._settings.username, password)

    async def _xoauth2(self, smtp: aiosmtplib.SMTP, *, token: str) -> None:
        try:
            await xoauth2.sign_in(
                smtp,
                settings=self._settings,
                token=token,
                remember=self._masker.remember,
                tidy=self._tidy,
            )
        except BROKEN as exc:
            raise self._say.network_error(exc, doing="signing in with XOAUTH2") from exc

    async def _starttls(self, smtp: aiosmtplib.SMTP, helo_name: str) -> None:
        if not smtp.supports_extension("starttls"):
            raise self._say.no_starttls()
        try:
            await smtp.starttls()
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code < 0:
                raise self._say.not_smtp(exc) from exc
            raise self._say.reply_error("refused STARTTLS with", exc.code, exc.message) from exc
        except BROKEN as exc:
            raise self._say.network_error(exc, doing="starting TLS") from exc
        await self._ehlo(smtp, helo_name)

    async def _ehlo(self, smtp: aiosmtplib.SMTP, helo_name: str) -> None:
        try:
            await smtp.ehlo()
        except aiosmtplib.SMTPHeloError as exc:
            raise self._say.reply_error(
                f"refused our greeting EHLO {helo_name} with", exc.code, exc.message
            ) from exc
        except BROKEN as exc:
            raise self._say.network_error(exc, doing="greeting the server") from exc

    async def _login(self, smtp: aiosmtplib.SMTP, username: str, password: str) -> None:
        if not smtp.supports_extension("auth"):
            raise self._say.no_auth(username)
        mechanisms = auth.usable(smtp.server_auth_methods)
        if not mechanisms:
            raise self._say.no_mechanism(" ".join(smtp.server_auth_methods).upper() or "none")
        try:
            await auth.authenticate(
                smtp,
                username=username,
                credentials=password,
                mechanisms=mechanisms,
                remember=self._masker.remember,
            )
        except aiosmtplib.SMTPAuthenticationError as exc:
            # from None: the chained original holds the server's reply unmasked
            raise self._say.auth_refused(username, exc.code, exc.message) from None
        except BROKEN as exc:
            raise self._say.network_error(exc, doing="logging in") from None

    def _tidy(self, text: str) -> str:
        """Server text made safe to show: no password in any form, no control characters."""
        return one_line(self._masker(text))

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()


async def check_plaintext_allowed(*, settings: SmtpSettings) -> None:
    """Refuse a login without encryption unless the server is this machine.

    Raises :class:`ConfigError` (exit 2). Runs before any connection;
    :meth:`SmtpConnection.open` calls it too.
    """
    if settings.security != Security.NONE or settings.username is None:
        return
    if settings.proxy is not None:  # no lookup: the name is the proxy's to resolve
        if route(settings.proxy, settings.host) is Route.LOCAL:
            return
    elif await resolve_loopback_only(settings.host):
        return
    raise ConfigError(
        f"Refusing to log in to the SMTP server {settings.host}:{settings.port} without "
        "encryption: with `--smtp-security none` the password would cross the network in "
        f"clear text, and {settings.host!r} is not (or could not be confirmed to be) this "
        "machine.",
        hint="Use `--smtp-security starttls` (usually port 587) or `--smtp-security tls` "
        "(usually port 465). Clear text is allowed only for a server on localhost.",
    )


def _secret(settings: SmtpSettings) -> str | None:
    return None if settings.password is None else settings.password.get_secret_value()


def _password(settings: SmtpSettings) -> str:
    if settings.username is None:
        return ""
    if settings.password is None:
        raise ConfigError(
            f"An SMTP username ({settings.username!r}) is set but no password.",
            hint="Set PROTEST_SMTP_PASSWORD or PROTEST_SMTP_PASSWORD_COMMAND, or remove the "
            "username if the server needs no login.",
        )
    return settings.password.get_secret_value()
