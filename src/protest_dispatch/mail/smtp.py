"""SMTP transport: one connection, many letters, every reply classified.

The dispatcher owns retries, pacing and the send log; this module owns the
protocol. It opens a connection only when that is safe (TLS as configured,
certificate verified, no password in clear text), drives each transaction
itself so that a refused To stops the letter before DATA, and tells "the
server said no" apart from "we cannot know whether the server has it"
(RFC 1047): only the second may ever be reported as ``uncertain``.

Nothing here logs or prints; the message body never appears in any text.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import aiosmtplib

from protest_dispatch.errors import (
    ConfigError,
    SmtpError,
    SmtpRefusedError,
    SmtpUnavailableError,
)
from protest_dispatch.mail.loopback import resolve_loopback_only
from protest_dispatch.settings.smtp import SmtpSettings
from protest_dispatch.vocabulary import LetterStatus, Security

__all__ = [
    "Delivery",
    "SmtpConnection",
    "check_plaintext_allowed",
    "resolve_loopback_only",
]

_AUTH_HINT = (
    "Check the username and password. For Gmail, Outlook and most big providers use an "
    "app password, not the account password. Set it with PROTEST_SMTP_PASSWORD or "
    "PROTEST_SMTP_PASSWORD_COMMAND."
)
_CA_HINT = (
    "If the server uses a certificate from a private certificate authority, give that "
    "authority's PEM file with --smtp-ca-file (or PROTEST_SMTP_CA_FILE). Otherwise check "
    "that the host name is the one the certificate was issued for."
)
_RETRY_HINT = "Nothing was sent. Run the command again later; a cron job will retry by itself."

# PLAIN first: it is what every submission server supports, and it runs over TLS.
_AUTH_METHODS = ("plain", "login", "cram-md5")
# Replies meaning "not this mechanism" rather than "wrong credentials": try the next one.
_MECHANISM_UNSUPPORTED = frozenset({500, 501, 502, 504})

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]+")
_PLAIN_ADDRESS = re.compile(r"[^@,;:()\[\]\\]+@[^@,;:()\[\]\\]+")  # no lists, comments, groups
_UNSAFE_IN_ADDRESS = re.compile(r"[\s<>\"\x00-\x1f\x7f]")
_LINE_ENDINGS = re.compile(rb"\r\n|\r|\n")
_DNS_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*")


@dataclass(frozen=True)
class Delivery:
    """What became of one letter, and whether the connection is still good.

    ``sent``: the server took responsibility (250). ``deferred``: a 4xx or a
    failure before DATA; nothing was delivered, try again later. ``failed``: a
    5xx or a letter that cannot go through this server; retrying will not help.
    ``uncertain``: the letter was transmitted but no verdict came back; the
    server may have it, so it must not be sent again blindly.
    """

    outcome: LetterStatus
    code: int | None  # the SMTP reply code that decided it, if any
    message: str  # server text, or a plain description of the local error
    refused: tuple[str, ...] = ()  # copies refused at RCPT, as "addr: 550 text"
    reconnect: bool = False  # open a fresh connection before the next letter


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
        if settings.security not in tuple(Security):
            raise ConfigError(
                f"Unknown SMTP security {settings.security!r}.",
                hint="Use one of: starttls, tls, none.",
            )
        await check_plaintext_allowed(settings=settings)
        helo_name = _checked_helo_name(settings.helo_name)
        password = _password(settings)
        smtp = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            local_hostname=helo_name,
            timeout=settings.timeout,
            use_tls=settings.security == "tls",
            start_tls=False,  # we decide, and we never fall back to clear text
            validate_certs=True,
            tls_context=None if settings.security == "none" else _tls_context(settings.ca_file),
        )
        try:
            await self._handshake(smtp, helo_name=helo_name, password=password)
        except BaseException:
            smtp.close()
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
                return await self._transaction(mail_from=mail_from, to=to, copies=copies, data=data)
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

    # -- opening --------------------------------------------------------------

    async def _handshake(self, smtp: aiosmtplib.SMTP, *, helo_name: str, password: str) -> None:
        settings = self._settings
        try:
            await smtp.connect()
        except aiosmtplib.SMTPConnectResponseError as exc:
            raise self._reply_error("greeted us with", exc.code, exc.message) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise self._network_error(exc, doing="connecting") from exc
        await self._ehlo(smtp, helo_name)
        if settings.security == "starttls":
            if not smtp.supports_extension("starttls"):
                raise SmtpRefusedError(
                    f"The SMTP server {self._where} does not offer STARTTLS, so nothing was "
                    "sent: the connection cannot be encrypted and this tool never falls back "
                    "to clear text.",
                    host=settings.host,
                    port=settings.port,
                    hint="If your provider supports TLS from the first byte, use "
                    "`--smtp-security tls` with port 465.",
                )
            try:
                await smtp.starttls()
            except aiosmtplib.SMTPResponseException as exc:
                raise self._reply_error("refused STARTTLS with", exc.code, exc.message) from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                raise self._network_error(exc, doing="starting TLS") from exc
            await self._ehlo(smtp, helo_name)
        if settings.username is not None:
            await self._login(smtp, settings.username, password)

    async def _ehlo(self, smtp: aiosmtplib.SMTP, helo_name: str) -> None:
        try:
            await smtp.ehlo()
        except aiosmtplib.SMTPHeloError as exc:
            raise self._reply_error(
                f"refused our greeting EHLO {helo_name} with", exc.code, exc.message
            ) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise self._network_error(exc, doing="greeting the server") from exc

    async def _login(self, smtp: aiosmtplib.SMTP, username: str, password: str) -> None:
        settings = self._settings
        if not smtp.supports_extension("auth"):
            raise SmtpRefusedError(
                f"The SMTP server {self._where} does not offer authentication (AUTH), so "
                f"the username {username!r} cannot be used; nothing was sent.",
                host=settings.host,
                port=settings.port,
                hint="Check the host and port: mail submission is usually port 587 with "
                "starttls or port 465 with tls. Remove the username if this server needs "
                "no login.",
            )
        methods = [m for m in _AUTH_METHODS if m in smtp.server_auth_methods]
        if not methods:
            offered = " ".join(smtp.server_auth_methods).upper() or "none"
            raise SmtpRefusedError(
                f"The SMTP server {self._where} offers only login methods this tool does "
                f"not support ({offered}); nothing was sent.",
                host=settings.host,
                port=settings.port,
                hint="Supported methods are PLAIN, LOGIN and CRAM-MD5. Ask your provider "
                "or use another SMTP server.",
            )
        try:
            await self._authenticate(smtp, methods, username, password)
        except aiosmtplib.SMTPAuthenticationError as exc:
            if 400 <= exc.code < 500:
                raise self._reply_error(
                    "could not check the username and password now:", exc.code, exc.message
                ) from exc
            raise SmtpRefusedError(
                f"The SMTP server {self._where} refused the username or password for "
                f"{username!r}: {exc.code} {self._tidy(exc.message)}. Nothing was sent.",
                host=settings.host,
                port=settings.port,
                code=exc.code,
                hint=_AUTH_HINT,
            ) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise self._network_error(exc, doing="logging in") from exc

    async def _authenticate(
        self, smtp: aiosmtplib.SMTP, methods: list[str], username: str, password: str
    ) -> None:
        """Log in with the first method the server really supports.

        Unlike ``SMTP.login``, which tries every advertised method after any
        failure, a refusal of the credentials ends it: one wrong password must
        count as one failed login on the provider's side, not three.
        """
        for position, method in enumerate(methods):
            try:
                if method == "plain":
                    await smtp.auth_plain(username, password)
                elif method == "login":
                    await smtp.auth_login(username, password)
                else:
                    await smtp.auth_crammd5(username, password)
            except aiosmtplib.SMTPAuthenticationError as exc:
                last = position == len(methods) - 1
                if exc.code not in _MECHANISM_UNSUPPORTED or last:
                    raise
            else:
                return

    @property
    def _where(self) -> str:
        return f"{self._settings.host}:{self._settings.port}"

    def _tidy(self, text: str) -> str:
        """Server text made safe to show: no password echo, no control characters."""
        secret = self._settings.password
        if secret is not None and secret.get_secret_value():
            text = text.replace(secret.get_secret_value(), "********")
        return _CONTROL_CHARS.sub(" ", text).strip()

    def _reply_error(self, what: str, code: int, text: str) -> SmtpError:
        settings = self._settings
        message = f"The SMTP server {self._where} {what} {code} {self._tidy(text)}"
        if 400 <= code < 500:
            return SmtpUnavailableError(
                message, host=settings.host, port=settings.port, code=code, hint=_RETRY_HINT
            )
        return SmtpRefusedError(
            message,
            host=settings.host,
            port=settings.port,
            code=code,
            hint="Nothing was sent. Check the SMTP host, port and --smtp-security settings "
            "and the server's explanation above.",
        )

    def _network_error(self, exc: BaseException, *, doing: str) -> SmtpError:
        """Turn a failure while opening into an error that says whether waiting helps."""
        settings = self._settings
        where = self._where
        verify = _find_in_chain(exc, ssl.SSLCertVerificationError)
        if verify is not None:
            return SmtpRefusedError(
                f"The certificate of the SMTP server {where} did not verify "
                f"({verify.verify_message}), so nothing was sent.",
                host=settings.host,
                port=settings.port,
                hint=_CA_HINT,
            )
        tls = _find_in_chain(exc, ssl.SSLError)
        if tls is not None:
            return SmtpRefusedError(
                f"The TLS handshake with the SMTP server {where} failed while {doing} "
                f"({tls.reason or tls}), so nothing was sent.",
                host=settings.host,
                port=settings.port,
                hint="Check --smtp-security and the port: `tls` is for port 465 (TLS from "
                "the first byte), `starttls` for port 587.",
            )
        unresolved = _find_in_chain(exc, socket.gaierror)
        if unresolved is not None:
            return SmtpUnavailableError(
                f"The SMTP server name {settings.host!r} could not be resolved "
                f"({unresolved.strerror}); nothing was sent.",
                host=settings.host,
                port=settings.port,
                hint="Check the host name, your network and DNS. " + _RETRY_HINT,
            )
        if _find_in_chain(exc, TimeoutError) is not None:
            detail = f"did not answer within {settings.timeout:g} seconds while {doing}"
        elif _find_in_chain(exc, ConnectionRefusedError) is not None:
            detail = "refused the connection (is the host and port right, is the server up?)"
        elif isinstance(exc, aiosmtplib.SMTPServerDisconnected):
            detail = f"closed the connection while {doing}"
        elif isinstance(exc, OSError | aiosmtplib.SMTPException):
            detail = f"could not be reached while {doing}: {self._tidy(str(exc))}"
        else:
            detail = f"failed while {doing}"
        return SmtpUnavailableError(
            f"The SMTP server {where} {detail}.",
            host=settings.host,
            port=settings.port,
            hint=_RETRY_HINT,
        )

    # -- delivering -------------------------------------------------------------

    async def _transaction(
        self, *, mail_from: str, to: str, copies: Sequence[str], data: bytes
    ) -> Delivery:
        smtp = self._smtp
        if smtp is None or not smtp.is_connected:
            self._drop()
            return Delivery(
                LetterStatus.DEFERRED,
                None,
                "The connection to the SMTP server was closed before this letter; nothing "
                "was sent.",
                reconnect=True,
            )
        extra = _unique_copies(to, copies)
        for address in (mail_from, to, *extra):
            problem = _address_problem(address)
            if problem is not None:
                return Delivery(
                    LetterStatus.FAILED, None, f"The address {address!r} cannot be used: {problem}."
                )
        options: list[str] = []
        utf8 = not all(a.isascii() for a in (mail_from, to, *extra))
        if utf8:
            if not smtp.supports_extension("smtputf8"):
                return Delivery(
                    LetterStatus.FAILED,
                    None,
                    "An address contains non-ASCII characters but the SMTP server does not "
                    "support SMTPUTF8, so this letter cannot be sent through it.",
                )
            options.append("SMTPUTF8")
        if not data.isascii():
            if not smtp.supports_extension("8bitmime"):
                return Delivery(
                    LetterStatus.FAILED,
                    None,
                    "The letter contains 8-bit text but the SMTP server does not accept "
                    "8BITMIME, so it cannot be sent through this server.",
                )
            options.append("BODY=8BITMIME")
        if smtp.supports_extension("size"):
            options.append(f"SIZE={_wire_size(data)}")
        encoding = "utf-8" if utf8 else "ascii"
        timeout = self._settings.timeout

        try:
            await smtp.mail(mail_from, options=options, encoding=encoding, timeout=timeout)
        except aiosmtplib.SMTPResponseException as exc:
            return await self._refused_before_data(
                smtp, f"the sender <{mail_from}>", exc.code, exc.message
            )
        except (aiosmtplib.SMTPException, OSError, ValueError) as exc:
            return await self._broken_before_data(smtp, exc, during="MAIL FROM")

        try:
            await _rcpt(smtp, to, encoding=encoding, timeout=timeout)
        except aiosmtplib.SMTPResponseException as exc:
            return await self._refused_before_data(
                smtp, f"the recipient <{to}>", exc.code, exc.message
            )
        except (aiosmtplib.SMTPException, OSError, ValueError) as exc:
            return await self._broken_before_data(smtp, exc, during=f"RCPT TO <{to}>")

        refused: list[str] = []
        for copy in extra:
            try:
                await _rcpt(smtp, copy, encoding=encoding, timeout=timeout)
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code == 421 or not 400 <= exc.code < 600:
                    return await self._refused_before_data(
                        smtp, f"the copy recipient <{copy}>", exc.code, exc.message
                    )
                refused.append(f"{copy}: {exc.code} {self._tidy(exc.message)}")
            except (aiosmtplib.SMTPException, OSError, ValueError) as exc:
                return await self._broken_before_data(smtp, exc, during=f"RCPT TO <{copy}>")

        try:
            reply = await smtp.data(data, timeout=self._settings.data_timeout)
        except aiosmtplib.SMTPResponseException as exc:
            return await self._refused_at_data(smtp, exc.code, exc.message, tuple(refused))
        except (aiosmtplib.SMTPException, OSError) as exc:
            self._drop()
            if _find_in_chain(exc, TimeoutError) is not None:
                why = (
                    f"the server did not answer within {self._settings.data_timeout:g} "
                    "seconds after the letter was transmitted"
                )
            else:
                why = "the connection was lost after the letter was transmitted"
            return Delivery(
                LetterStatus.UNCERTAIN,
                None,
                f"Delivery is uncertain: {why}, before the server confirmed it. The server "
                "may have accepted it; check before sending it again.",
                tuple(refused),
                reconnect=True,
            )
        return Delivery(LetterStatus.SENT, reply.code, self._tidy(reply.message), tuple(refused))

    async def _refused_before_data(
        self, smtp: aiosmtplib.SMTP, whom: str, code: int, text: str
    ) -> Delivery:
        """A reply refused MAIL or RCPT: nothing was delivered, only the verdict varies."""
        if code == 421:
            outcome = LetterStatus.DEFERRED
            reconnect = True
            message = f"The server is closing the connection ({code} {self._tidy(text)})"
        elif 400 <= code < 600:
            outcome = LetterStatus.DEFERRED if code < 500 else LetterStatus.FAILED
            reconnect = False
            message = f"The server refused {whom}: {code} {self._tidy(text)}"
        else:  # a reply no SMTP server should give here: the dialogue is out of step
            outcome = LetterStatus.DEFERRED
            reconnect = True
            message = f"The server gave an unexpected reply about {whom}: {self._tidy(text)}"
        return await self._end_transaction(
            smtp, Delivery(outcome, code, f"{message}; nothing was sent.", reconnect=reconnect)
        )

    async def _broken_before_data(
        self, smtp: aiosmtplib.SMTP, exc: BaseException, *, during: str
    ) -> Delivery:
        if isinstance(exc, ValueError):  # an address aiosmtplib will not put on the wire
            return await self._end_transaction(
                smtp,
                Delivery(
                    LetterStatus.FAILED, None, f"An address in {during} cannot be used: {exc}."
                ),
            )
        self._drop()
        if _find_in_chain(exc, TimeoutError) is not None:
            why = f"the server did not answer {during} within {self._settings.timeout:g} seconds"
        else:
            why = f"the connection was lost during {during}"
        return Delivery(
            LetterStatus.DEFERRED, None, f"Not sent: {why}; nothing was delivered.", reconnect=True
        )

    async def _refused_at_data(
        self, smtp: aiosmtplib.SMTP, code: int, text: str, refused: tuple[str, ...]
    ) -> Delivery:
        """A reply to DATA or to the end of data is a verdict, unless it is nonsense."""
        tidy = self._tidy(text)
        if 400 <= code < 600:
            outcome = LetterStatus.DEFERRED if code < 500 else LetterStatus.FAILED
            delivery = Delivery(
                outcome,
                code,
                f"The server refused the letter: {code} {tidy}",
                refused,
                reconnect=code == 421,
            )
            if code == 421:
                self._drop()  # aiosmtplib closes on 421 for commands, not for DATA
                return delivery
            return await self._end_transaction(smtp, delivery)
        self._drop()
        return Delivery(
            LetterStatus.UNCERTAIN,
            code,
            f"Delivery is uncertain: the server answered the letter with an unexpected reply "
            f"({code} {tidy}). It may have accepted it; check before sending it again.",
            refused,
            reconnect=True,
        )

    async def _end_transaction(self, smtp: aiosmtplib.SMTP, delivery: Delivery) -> Delivery:
        """RSET after a refusal so the next letter starts clean, or give the session up."""
        if delivery.reconnect:
            self._drop()
            return delivery
        try:
            await smtp.rset(timeout=self._settings.timeout)
        except (aiosmtplib.SMTPException, OSError):
            self._drop()
            return Delivery(
                delivery.outcome, delivery.code, delivery.message, delivery.refused, True
            )
        return delivery

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()


async def check_plaintext_allowed(*, settings: SmtpSettings) -> None:
    """Refuse a login without encryption unless the server is this machine.

    Raises :class:`ConfigError` (exit 2). Runs before any connection;
    :meth:`SmtpConnection.open` calls it too.
    """
    if settings.security != "none" or settings.username is None:
        return
    if await resolve_loopback_only(settings.host):
        return
    raise ConfigError(
        f"Refusing to log in to the SMTP server {settings.host}:{settings.port} without "
        "encryption: with `--smtp-security none` the password would cross the network in "
        f"clear text, and {settings.host!r} is not (or could not be confirmed to be) this "
        "machine.",
        hint="Use `--smtp-security starttls` (usually port 587) or `--smtp-security tls` "
        "(usually port 465). Clear text is allowed only for a server on localhost.",
    )


_E = TypeVar("_E", bound=BaseException)


def _find_in_chain(exc: BaseException, kind: type[_E]) -> _E | None:
    """The first ``kind`` among ``exc`` and its causes: aiosmtplib wraps OS errors."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _tls_context(ca_file: Path | None) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=None if ca_file is None else str(ca_file))
    except OSError as exc:  # ssl.SSLError is an OSError: not PEM, or unreadable
        reason = exc.strerror or str(exc)
        raise ConfigError(
            f"The CA file {ca_file} could not be loaded: {reason}.",
            file=ca_file,
            hint="Give a PEM file holding the certificate authority that signed the "
            "server's certificate (--smtp-ca-file or PROTEST_SMTP_CA_FILE).",
        ) from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _checked_helo_name(name: str) -> str:
    """The EHLO argument as an ASCII domain (IDNA for non-ASCII), or ConfigError."""
    candidate = name.strip()
    try:
        ascii_name = candidate.encode("idna").decode("ascii") if candidate else ""
    except UnicodeError:
        ascii_name = ""
    if not _DOMAIN.fullmatch(ascii_name) or len(ascii_name) > 253:
        raise ConfigError(
            f"The HELO name {name!r} is not a valid domain name.",
            hint="It should be the domain of the sender's email address, e.g. example.org.",
        )
    return ascii_name


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


async def _rcpt(smtp: aiosmtplib.SMTP, address: str, *, encoding: str, timeout: float) -> None:
    """RCPT TO for an address ``_address_problem`` has passed.

    aiosmtplib's ``rcpt()`` parses the address again with email.utils, which was a
    third of the time a letter spends in the transport.
    """
    reply = await smtp.execute_command(
        b"RCPT", b"TO:<" + address.encode(encoding) + b">", timeout=timeout
    )
    if reply.code not in (250, 251):
        raise aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, address)


def _address_problem(address: str) -> str | None:
    """Why ``address`` cannot go on a MAIL or RCPT line exactly as given, if it cannot."""
    if not address or "@" not in address:
        return "it is not an email address"
    if _UNSAFE_IN_ADDRESS.search(address):
        return "it contains spaces, quotes, angle brackets or control characters"
    if not _PLAIN_ADDRESS.fullmatch(address):
        return "it is not a plain address of the form name@domain"
    return None


def _unique_copies(to: str, copies: Sequence[str]) -> list[str]:
    """Copies in order, without the To or repeats: one RCPT per mailbox, one letter each."""
    seen = {to.casefold()}
    unique: list[str] = []
    for copy in copies:
        if copy.casefold() not in seen:
            seen.add(copy.casefold())
            unique.append(copy)
    return unique


def _wire_size(data: bytes) -> int:
    """Octets as transmitted with CRLF line endings (RFC 1870), for the SIZE parameter."""
    normalized = _LINE_ENDINGS.sub(b"\r\n", data)
    return len(normalized) + (0 if normalized.endswith(b"\r\n") else 2)
