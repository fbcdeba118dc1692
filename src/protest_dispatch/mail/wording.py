"""Every sentence the SMTP transport says to the user, in one place.

The transport cannot know what the run did before a failure, so none of these
says "nothing was sent"; the caller, which knows (``Summary.handed_over``,
doctor), says it where it is true. A letter's own refusal before DATA may still
say that *this letter* was not sent.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import TypeVar

import aiosmtplib

from protest_dispatch.errors import SmtpError, SmtpRefusedError, SmtpUnavailableError
from protest_dispatch.settings.smtp import SmtpSettings

AUTH_HINT = (
    "Check the username and password. For Gmail, Outlook and most big providers use an "
    "app password, not the account password. Set it with PROTEST_SMTP_PASSWORD or "
    "PROTEST_SMTP_PASSWORD_COMMAND."
)
CA_HINT = (
    "If the server uses a certificate from a private certificate authority, give that "
    "authority's PEM file with --smtp-ca-file (or PROTEST_SMTP_CA_FILE). Otherwise check "
    "that the host name is the one the certificate was issued for."
)
RETRY_HINT = "Run the command again later; a cron job will retry by itself."
PORT_HINT = (
    "Check the host and port: mail submission is usually port 587 with starttls or port "
    "465 with tls."
)
SHOWN_REPLY_CHARS = 80
"""How much of a reply that is not SMTP is quoted: enough to recognise, never a flood."""

_E = TypeVar("_E", bound=BaseException)


def find_in_chain(exc: BaseException, kind: type[_E]) -> _E | None:
    """The first ``kind`` among ``exc`` and its causes: aiosmtplib wraps OS errors."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def quoted(text: str) -> str:
    """Untrusted text shown escaped (no control characters) and cut short."""
    cut = text[:SHOWN_REPLY_CHARS]
    shown = repr(cut)[1:-1]
    return shown + ("..." if len(text) > SHOWN_REPLY_CHARS else "")


class Wording:
    """The errors of one connection.

    ``mask`` hides secrets in server text; ``tidy`` also flattens control characters.
    """

    def __init__(
        self,
        *,
        settings: SmtpSettings,
        mask: Callable[[str], str],
        tidy: Callable[[str], str],
    ) -> None:
        self._settings = settings
        self._mask = mask
        self._tidy = tidy

    @property
    def where(self) -> str:
        return f"{self._settings.host}:{self._settings.port}"

    def _refused(self, message: str, *, hint: str, code: int | None = None) -> SmtpRefusedError:
        s = self._settings
        return SmtpRefusedError(message, host=s.host, port=s.port, code=code, hint=hint)

    def _unavailable(
        self, message: str, *, hint: str = RETRY_HINT, code: int | None = None
    ) -> SmtpUnavailableError:
        s = self._settings
        return SmtpUnavailableError(message, host=s.host, port=s.port, code=code, hint=hint)

    def reply_error(self, what: str, code: int, text: str) -> SmtpError:
        """The server answered a step of opening with a refusal: 4xx waits, 5xx does not."""
        message = f"The SMTP server {self.where} {what} {code} {self._tidy(text)}"
        if 400 <= code < 500:
            return self._unavailable(message, code=code)
        return self._refused(
            message,
            code=code,
            hint="Check the SMTP host, port and --smtp-security settings and the server's "
            "explanation above.",
        )

    def not_smtp(self, exc: aiosmtplib.SMTPResponseException) -> SmtpRefusedError:
        """A reply that is not SMTP at all: another service on that port, or a broken one."""
        text = exc.message.removeprefix("Malformed SMTP response line:").strip()
        if text == "Response too long":
            answered = "a line longer than SMTP allows"
        else:
            answered = f'"{quoted(self._mask(text))}"'
        return self._refused(
            f"The SMTP server at {self.where} does not speak SMTP (it answered: {answered}).",
            hint=PORT_HINT,
        )

    def no_starttls(self) -> SmtpRefusedError:
        return self._refused(
            f"The SMTP server {self.where} does not offer STARTTLS, so the connection "
            "cannot be encrypted, and this tool never falls back to clear text.",
            hint="If your provider supports TLS from the first byte, use "
            "`--smtp-security tls` with port 465.",
        )

    def no_auth(self, username: str) -> SmtpRefusedError:
        return self._refused(
            f"The SMTP server {self.where} does not offer authentication (AUTH), so "
            f"the username {username!r} cannot be used.",
            hint=f"{PORT_HINT} Remove the username if this server needs no login.",
        )

    def no_mechanism(self, offered: str) -> SmtpRefusedError:
        return self._refused(
            f"The SMTP server {self.where} offers only login methods this tool does "
            f"not support ({offered}).",
            hint="Supported methods are PLAIN, LOGIN and CRAM-MD5. Ask your provider "
            "or use another SMTP server.",
        )

    def auth_refused(self, username: str, code: int, text: str) -> SmtpError:
        if 400 <= code < 500:
            return self.reply_error("could not check the username and password now:", code, text)
        return self._refused(
            f"The SMTP server {self.where} refused the username or password for "
            f"{username!r}: {code} {self._tidy(text)}.",
            code=code,
            hint=AUTH_HINT,
        )

    def network_error(self, exc: BaseException, *, doing: str) -> SmtpError:
        """A failure while opening, worded to say whether waiting helps."""
        if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code < 0:
            return self.not_smtp(exc)
        verify = find_in_chain(exc, ssl.SSLCertVerificationError)
        if verify is not None:
            return self._refused(
                f"The certificate of the SMTP server {self.where} did not verify "
                f"({verify.verify_message}).",
                hint=CA_HINT,
            )
        tls = find_in_chain(exc, ssl.SSLError)
        if tls is not None:
            return self._refused(
                f"The TLS handshake with the SMTP server {self.where} failed while {doing} "
                f"({tls.reason or tls}).",
                hint="Check --smtp-security and the port: `tls` is for port 465 (TLS from "
                "the first byte), `starttls` for port 587.",
            )
        unresolved = find_in_chain(exc, socket.gaierror)
        if unresolved is not None:
            return self._unavailable(
                f"The SMTP server name {self._settings.host!r} could not be resolved "
                f"({unresolved.strerror}).",
                hint="Check the host name, your network and DNS. " + RETRY_HINT,
            )
        return self._unavailable(f"The SMTP server {self.where} {self._detail(exc, doing)}.")

    def _detail(self, exc: BaseException, doing: str) -> str:
        timeout = self._settings.timeout
        if find_in_chain(exc, aiosmtplib.SMTPConnectTimeoutError) is not None:
            if find_in_chain(exc, aiosmtplib.SMTPReadTimeoutError) is not None:
                return (
                    f"accepted the connection but did not answer within {timeout:g} seconds "
                    "with its greeting"
                )
            return f"did not accept the connection within {timeout:g} seconds"
        if find_in_chain(exc, TimeoutError) is not None:
            return f"did not answer within {timeout:g} seconds while {doing}"
        if find_in_chain(exc, ConnectionRefusedError) is not None:
            return "refused the connection (is the host and port right, is the server up?)"
        if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
            return f"closed the connection while {doing}"
        if isinstance(exc, OSError | aiosmtplib.SMTPException):
            return f"could not be reached while {doing}: {self._tidy(str(exc))}"
        return f"failed while {doing}"


# -- one letter's outcome (a Delivery's message) ---------------------------------------

CLOSED_BEFORE_LETTER = (
    "The connection to the SMTP server was closed before this letter; nothing was sent."
)
NO_SMTPUTF8 = (
    "An address contains non-ASCII characters but the SMTP server does not support "
    "SMTPUTF8, so this letter cannot be sent through it."
)
NO_8BITMIME = (
    "The letter contains 8-bit text but the SMTP server does not accept 8BITMIME, so it "
    "cannot be sent through this server."
)
MAY_HAVE_IT = "The server may have accepted it; check before sending it again."


def too_big(size: int, limit: int) -> str:
    return (
        f"The letter is {_megabytes(size)} with its attachments, and the server takes at most "
        f"{_megabytes(limit)} (its SIZE limit); nothing was sent. Attach smaller or fewer "
        "files, or link to them."
    )


def _megabytes(octets: int) -> str:
    return f"{octets / 1_000_000:.1f} MB" if octets >= 100_000 else f"{octets:,} bytes"


def bad_address(address: str, problem: str) -> str:
    return f"The address {address!r} cannot be used: {problem}."


def bad_address_in(during: str, exc: BaseException) -> str:
    return f"An address in {during} cannot be used: {exc}."


def closing(code: int, text: str) -> str:
    return f"The server is closing the connection ({code} {text}); nothing was sent."


def refused(whom: str, code: int, text: str) -> str:
    return f"The server refused {whom}: {code} {text}; nothing was sent."


def unexpected(whom: str, text: str) -> str:
    return f"The server gave an unexpected reply about {whom}: {text}; nothing was sent."


def broken_before_data(during: str, *, timeout: float | None) -> str:
    """Lost (``timeout`` None) or silent during a command before DATA: nothing delivered."""
    if timeout is not None:
        why = f"the server did not answer {during} within {timeout:g} seconds"
    else:
        why = f"the connection was lost during {during}"
    return f"Not sent: {why}; nothing was delivered."


def refused_letter(code: int, text: str) -> str:
    return f"The server refused the letter: {code} {text}"


def uncertain_after_data(*, timeout: float | None) -> str:
    """The data went out and no verdict came back (RFC 1047)."""
    if timeout is not None:
        why = (
            f"the server did not answer within {timeout:g} seconds after the letter was transmitted"
        )
    else:
        why = "the connection was lost after the letter was transmitted"
    return f"Delivery is uncertain: {why}, before the server confirmed it. {MAY_HAVE_IT}"


def unexpected_at_data(code: int, text: str) -> str:
    return (
        "Delivery is uncertain: the server answered the letter with an unexpected reply "
        f"({code} {text}). It may have accepted it; check before sending it again."
    )
