"""A logged-in IMAP connection to the sender's mailbox, and nothing that could change it.

imapclient (maintained, UID-based, parses responses for us) does the protocol. TLS
is required and verified, as for SMTP: implicit TLS (port 993) or STARTTLS that
must succeed; ``none`` is refused unless the host can only mean this machine.
Folders are only ever opened with EXAMINE (``select_folder(readonly=True)``), and
the caller fetches with ``BODY.PEEK``: reading never sets ``\\Seen``. Every answer
is read within :class:`~protest_dispatch.inbox.wire.Limits` (a total deadline per
exchange, bounded literals), and a server answer protest cannot use is an error
naming the server, never a traceback.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from protest_dispatch.errors import (
    ConfigError,
    ImapAnswerError,
    ImapError,
    ImapRefusedError,
    ImapUnavailableError,
)
from protest_dispatch.inbox.wire import BadAnswer, ExchangeTimeout, Limits
from protest_dispatch.masking import Masker
from protest_dispatch.net.loopback import is_this_machine, resolve_loopback_only
from protest_dispatch.net.tls import verified_context
from protest_dispatch.settings.imap import ImapSettings
from protest_dispatch.vocabulary import AuthMode, Security

if TYPE_CHECKING:
    from imapclient import IMAPClient


@contextlib.contextmanager
def open_mailbox(
    settings: ImapSettings, *, limits: Limits | None = None, mask: Masker | None = None
) -> Iterator[IMAPClient]:
    """Connect, protect, log in; always log out. Errors become ImapError subclasses.

    ``mask`` learns the secrets of the login, for the caller's other server text.
    """
    check_plaintext_allowed(settings)
    client = connect(settings, limits=limits)
    mask = mask or Masker()
    try:
        with translate_errors(settings, doing="log in", mask=mask):
            login(client, settings, mask=mask)
        with translate_errors(settings, doing="read the mailbox", mask=mask):
            yield client
    finally:
        with contextlib.suppress(Exception):  # best effort: the server may be gone already
            client.logout()
        with contextlib.suppress(Exception):
            client.shutdown()


def check_plaintext_allowed(settings: ImapSettings) -> None:
    if settings.security != Security.NONE:
        return
    # with a proxy, no lookup: the name is the proxy's to resolve
    local = (
        is_this_machine(settings.host)
        if settings.proxy is not None
        else asyncio.run(resolve_loopback_only(settings.host))
    )
    if not local:
        raise ConfigError(
            f"imap_security is 'none' but {settings.host} is not this machine: the password "
            "and your mail would cross the network unencrypted.",
            key="imap_security",
            hint='Use imap_security = "tls" (port 993) or "starttls" (port 143).',
        )


def connect(settings: ImapSettings, *, limits: Limits | None = None) -> IMAPClient:
    """A connection protected as the settings say (TLS verified), not yet logged in."""
    from protest_dispatch.inbox.client import BoundedClient

    limits = limits or Limits(read_timeout=settings.timeout)
    context = verified_context(
        settings.ca_file, key="imap_ca_file", where="imap_ca_file or PROTEST_IMAP_CA_FILE"
    )
    with translate_errors(settings, doing="connect"):
        if settings.security == Security.TLS:
            return BoundedClient(
                settings.host,
                settings.port,
                limits=limits,
                ssl=True,
                ssl_context=context,
                timeout=settings.timeout,
                proxy=settings.proxy,
            )
        client = BoundedClient(
            settings.host,
            settings.port,
            limits=limits,
            ssl=False,
            timeout=settings.timeout,
            proxy=settings.proxy,
        )
    if settings.security == Security.STARTTLS:
        try:
            with translate_errors(settings, doing="start TLS"):
                client.starttls(context)
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
    return client


def login(client: IMAPClient, settings: ImapSettings, *, mask: Masker) -> None:
    """Log in; ``mask`` learns the password or token, and the SASL string as sent."""
    from imapclient.exceptions import LoginError

    credentials = settings.credentials()
    secret = credentials.secret.get_secret_value()
    mask.add(secret)
    if credentials.mechanism == "xoauth2":  # imapclient sends this, base64-encoded
        sasl = f"user={credentials.username}\x01auth=Bearer {secret}\x01\x01"
        mask.remember(base64.b64encode(sasl.encode()).decode("ascii"))
    try:
        if credentials.mechanism is AuthMode.XOAUTH2:
            client.oauth2_login(credentials.username, credentials.secret.get_secret_value())
        else:
            client.login(credentials.username, credentials.secret.get_secret_value())
    except LoginError:
        raise ImapRefusedError(
            f"The IMAP server {settings.host}:{settings.port} refused the login of "
            f"{credentials.username}.",
            host=settings.host,
            port=settings.port,
            hint="Check imap_username and the password (an app password for Gmail, Outlook "
            "and Fastmail); set PROTEST_IMAP_PASSWORD or imap_password_command if the "
            "mailbox password differs from the SMTP one.",
        ) from None


_PREPOSITION = {"connect": "to", "log in": "to", "start TLS": "with"}
"""How each ``doing`` meets "the IMAP server": connect to it, read the mailbox on it."""


@contextlib.contextmanager
def translate_errors(
    settings: ImapSettings, *, doing: str, mask: Callable[[str], str] = str
) -> Iterator[None]:
    """Socket, TLS and protocol errors as ImapError, worded with what to do next.

    The server's words pass through ``mask``: after login it knows the password.
    """
    from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, ProtocolError

    where = f"{settings.host}:{settings.port}"
    try:
        yield
    except ImapError:
        raise
    except ssl.SSLCertVerificationError as exc:
        raise ImapRefusedError(
            f"The certificate of the IMAP server {where} could not be verified "
            f"({exc.verify_message}); nothing was read.",
            host=settings.host,
            port=settings.port,
            hint="Check imap_host; for a server with its own certificate authority (such as "
            "Proton Mail Bridge) set imap_ca_file to its PEM file.",
        ) from None
    except ssl.SSLError as exc:
        raise ImapRefusedError(
            f"TLS with the IMAP server {where} failed ({exc.reason or exc}) while trying to "
            f"{doing}.",
            host=settings.host,
            port=settings.port,
            hint="Check imap_port and imap_security: tls goes with port 993, starttls with 143.",
        ) from None
    except BadAnswer as exc:
        raise ImapAnswerError(
            f"The IMAP server {where} sent an answer protest cannot use while trying to "
            f"{doing}: {exc}. Nothing in the mailbox was changed.",
            host=settings.host,
            port=settings.port,
            hint="This is a fault of the server or of something between you and it; tell "
            "your mail provider. Waiting will not help.",
        ) from None
    except ExchangeTimeout as exc:
        raise ImapUnavailableError(
            f"The IMAP server {where} was too slow while trying to {doing}: {exc}.",
            host=settings.host,
            port=settings.port,
            hint="Try again later; if it keeps happening, check the network.",
        ) from None
    except (IMAPClientAbortError, OSError) as exc:
        reason = "timed out" if isinstance(exc, TimeoutError | socket.timeout) else mask(str(exc))
        raise ImapUnavailableError(
            f"Could not {doing} {_PREPOSITION.get(doing, 'on')} the IMAP server {where}: "
            f"{reason or type(exc).__name__}.",
            host=settings.host,
            port=settings.port,
            hint="Check the network and imap_host / imap_port, then try again later.",
        ) from None
    except (ProtocolError, ValueError) as exc:  # imapclient parsing what is not IMAP
        raise ImapAnswerError(
            f"The IMAP server {where} sent an answer that is not IMAP while trying to "
            f"{doing} ({mask(str(exc))[:200]}). Nothing in the mailbox was changed.",
            host=settings.host,
            port=settings.port,
            hint="Check imap_host and imap_port; if they are right, the server is at fault: "
            "tell your mail provider. Waiting will not help.",
        ) from None
    except IMAPClientError as exc:
        raise ImapRefusedError(
            f"The IMAP server {where} refused to {doing}: {mask(str(exc))}.",
            host=settings.host,
            port=settings.port,
            hint='If it says STARTTLS is not supported, use imap_security = "tls" on port 993.',
        ) from None
