"""The words every layer shares, each defined once: statuses, outcomes, modes, exit codes."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class LetterStatus(StrEnum):
    """Where a letter stands in the send log; the last four are also a delivery's outcome."""

    SENDING = "sending"
    """Handed to the server, no verdict yet: a run that dies here leaves it uncertain."""
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    UNCERTAIN = "uncertain"


class CallOutcome(StrEnum):
    """How a phone call went; only ``reached`` takes a target off the call sheet."""

    REACHED = "reached"
    VOICEMAIL = "voicemail"
    NO_ANSWER = "no-answer"
    WRONG_NUMBER = "wrong-number"


class Security(StrEnum):
    """How the connection to a mail server is protected."""

    STARTTLS = "starttls"
    """Plain connect, then STARTTLS, required: never a fall-back to clear text."""
    TLS = "tls"
    """TLS from the first byte (SMTP port 465, IMAP port 993)."""
    NONE = "none"
    """No encryption: only to a server on this machine."""

    @property
    def smtp_port(self) -> int:
        return _SMTP_PORTS[self]

    @property
    def imap_port(self) -> int:
        return _IMAP_PORTS[self]


_SMTP_PORTS = {Security.STARTTLS: 587, Security.TLS: 465, Security.NONE: 25}
_IMAP_PORTS = {Security.STARTTLS: 143, Security.TLS: 993, Security.NONE: 143}


class FindingKind(StrEnum):
    """What came of a letter, as read from the sender's mailbox (or told by the sender)."""

    BOUNCED = "bounced"
    """The letter's own To address failed permanently or for good (DSN Action: failed)."""
    COPY_BOUNCED = "copy-bounced"
    """Only a copy's address failed: the official still got the letter."""
    DELAYED = "delayed"
    AUTO_REPLY = "auto-reply"
    REPLY = "reply"
    NO_REPLY = "no-reply"
    """The sender told `protest followup` that no answer came, by any channel."""


class ExitCode(IntEnum):
    """What a run tells cron and scripts; the README's table explains each."""

    OK = 0
    FAILED = 1
    """A person is needed: a letter failed or is uncertain, or the server refused us."""
    INVALID = 2
    """Invalid input: options, campaign, config or an unusable send log; nothing was sent."""
    TEMPFAIL = 75
    """Try later (EX_TEMPFAIL from sysexits.h): deferred, unreachable, limit reached, locked."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C (128 + SIGINT), the shell's convention."""
    TERMINATED = 143
    """Stopped by SIGTERM (128 + 15), after the in-flight letters were accounted for."""


class AuthMode(StrEnum):
    """How protest logs in to the SMTP server (config ``smtp_auth``)."""

    PASSWORD = "password"  # noqa: S105 - the name of a mode, not a password
    """PLAIN, LOGIN or CRAM-MD5 with a password: the default, unchanged for existing users."""
    XOAUTH2 = "xoauth2"
    """An OAuth2 access token (SASL XOAUTH2), as Microsoft and many Google accounts require."""


class OAuthProvider(StrEnum):
    """Whose OAuth endpoints ``protest login`` uses (config ``oauth_provider``)."""

    MICROSOFT = "microsoft"
    GOOGLE = "google"
    CUSTOM = "custom"
    """Endpoints and scope from the ``oauth_*_url`` and ``oauth_scope`` keys."""


class TokenStore(StrEnum):
    """Where ``protest login`` keeps the refresh token (``--store``)."""

    KEYRING = "keyring"
    FILE = "file"


class Route(StrEnum):
    """Which way a connection to a server goes (config ``proxy``)."""

    DIRECT = "direct"
    """No proxy is set: straight to the server."""
    LOCAL = "local"
    """A proxy is set, but the server is this machine (Proton Mail Bridge): straight to it."""
    PROXY = "proxy"
    """Through the SOCKS5 proxy, which resolves the name; never directly."""
