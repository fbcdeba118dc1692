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


_SMTP_PORTS = {Security.STARTTLS: 587, Security.TLS: 465, Security.NONE: 25}


class AuthMode(StrEnum):
    """How protest logs in to the SMTP server once a username is set."""

    PASSWORD = "password"  # noqa: S105 - the name of a login method, not a password
    """AUTH PLAIN/LOGIN with a password from the environment, a command or the keyring."""
    XOAUTH2 = "xoauth2"
    """AUTH XOAUTH2 with an OAuth 2.0 access token (Microsoft 365, Google)."""


class OAuthProvider(StrEnum):
    """Whose OAuth 2.0 endpoints issue the token; ``custom`` names them in the config."""

    MICROSOFT = "microsoft"
    GOOGLE = "google"
    CUSTOM = "custom"


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
