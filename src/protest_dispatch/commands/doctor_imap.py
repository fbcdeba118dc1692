"""``protest doctor``'s IMAP steps: settings, connection, TLS, login, folders; no message read.

The mailbox is only listed (LIST, and the SPECIAL-USE ``\\Junk`` folder): no folder is
opened, so not even a message count is read.
"""

from __future__ import annotations

import dataclasses

from protest_dispatch.commands.checks import Check, failed, skipped
from protest_dispatch.errors import ConfigError, ProtestError
from protest_dispatch.inbox.scan import default_folders
from protest_dispatch.inbox.session import check_plaintext_allowed, connect, login, translate_errors
from protest_dispatch.inbox.signin import with_sign_in
from protest_dispatch.inbox.wire import Limits
from protest_dispatch.masking import Masker
from protest_dispatch.settings.config import Config
from protest_dispatch.settings.imap import (
    NO_PASSWORD_KEY,
    ImapSettings,
    imap_configured,
    imap_settings,
)
from protest_dispatch.vocabulary import CheckStatus

IMAP_STEPS = ("IMAP settings", "IMAP connection, TLS and certificate", "IMAP login", "IMAP folders")


def imap_checks(config: Config, *, sender_email: str | None, timeout: float) -> list[Check]:
    """The IMAP path's checks; later steps are skipped after the first failure."""
    if not imap_configured(config):
        return []  # reading the mailbox is optional; sending does not need it
    try:
        settings = with_sign_in(imap_settings(config, sender_email=sender_email or ""), config)
        check_plaintext_allowed(settings)
    except ProtestError as exc:
        return [failed("IMAP settings", exc), *skipped(IMAP_STEPS[1:])]
    settings = dataclasses.replace(settings, timeout=timeout)
    where = f"{settings.username} at {settings.host}:{settings.port} ({settings.security})"
    checks = [Check("IMAP settings", CheckStatus.OK, where)]
    return checks + _session(settings)


def _no_password(exc: ConfigError) -> Check:
    """No password stored: the sender gives it when reading (as 'protest init' offered),
    so its absence now is a note, not a failure."""
    return Check(
        IMAP_STEPS[2],
        CheckStatus.WARN,
        "not tried: no password is stored for the mailbox (you give it when you read it)",
        exc.hint,
    )


def _session(settings: ImapSettings) -> list[Check]:
    try:
        # doctor reads no mail: each exchange may take no longer than one read may
        client = connect(
            settings,
            limits=Limits(read_timeout=settings.timeout, exchange_seconds=settings.timeout),
        )
    except ProtestError as exc:
        return [failed(IMAP_STEPS[1], exc), *skipped(IMAP_STEPS[2:])]
    tls = client.socket().version() if hasattr(client.socket(), "version") else "none"
    checks = [Check(IMAP_STEPS[1], CheckStatus.OK, f"connected; TLS {tls}, certificate verified")]
    mask = Masker()
    try:
        try:
            with translate_errors(settings, doing="log in", mask=mask):
                login(client, settings, mask=mask)
        except ConfigError as exc:
            if exc.key != NO_PASSWORD_KEY:
                raise
            return [*checks, _no_password(exc), *skipped(IMAP_STEPS[3:])]
        except ProtestError as exc:
            return [*checks, failed(IMAP_STEPS[2], exc), *skipped(IMAP_STEPS[3:])]
        checks.append(Check(IMAP_STEPS[2], CheckStatus.OK, f"logged in as {settings.username}"))
        try:
            with translate_errors(settings, doing="list the folders", mask=mask):
                folders = default_folders(client)
        except ProtestError as exc:
            return [*checks, failed(IMAP_STEPS[3], exc)]
        checks.append(
            Check(IMAP_STEPS[3], CheckStatus.OK, "protest inbox reads " + ", ".join(folders))
        )
        return checks
    finally:
        try:
            client.logout()
        except Exception:  # the server may already have closed; nothing is left to do
            client.shutdown()
