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

    @staticmethod
    def usual_on_smtp_port(port: int) -> Security | None:
        """What a standard SMTP port speaks: TLS on 465, STARTTLS on 587 and 25 (relays)."""
        if port == _SMTP_PORTS[Security.TLS]:
            return Security.TLS
        return Security.STARTTLS if port in _SMTP_PORTS.values() else None


_SMTP_PORTS = {Security.STARTTLS: 587, Security.TLS: 465, Security.NONE: 25}
_IMAP_PORTS = {Security.STARTTLS: 143, Security.TLS: 993, Security.NONE: 143}


class FindingKind(StrEnum):
    """What came of a letter, as read from the sender's mailbox (or told by the sender)."""

    BOUNCED = "bounced"
    """The letter's own To address failed permanently or for good (DSN Action: failed)."""
    COPY_BOUNCED = "copy-bounced"
    """Only a copy's address failed: the official still got the letter."""
    DELAYED = "delayed"
    DELIVERED = "delivered"
    """A delivery report (DSN Action: delivered) for one of the letter's addresses: it arrived.
    A later failure report must name that address again before ``--retry-bounced`` resends."""
    AUTO_REPLY = "auto-reply"
    REPLY = "reply"
    NO_REPLY = "no-reply"
    """The sender told `protest followup` that no answer came, by any channel."""


class CheckStatus(StrEnum):
    """How one step of ``protest doctor``'s checklist went."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"
    """Not run: an earlier step failed and this one depends on it."""


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


class CampaignPhase(StrEnum):
    """Whether a campaign takes letters now (``starts``, ``ends`` and ``closed``)."""

    OPEN = "open"
    NOT_STARTED = "not-started"
    ENDED = "ended"
    CLOSED = "closed"


class SendWindow(StrEnum):
    """When a campaign's letters may go (``campaign.send_window``)."""

    ANY = "any"
    OFFICE_HOURS = "office_hours"
    """Only inside each target's office hours, in its own time zone."""


class PaperSize(StrEnum):
    """The sheet a letter on paper is laid out for (``protest print --paper``)."""

    A4 = "a4"
    """210 x 297 mm; the recipient sits in a DIN 5008 type B window."""
    LETTER = "letter"
    """8.5 x 11 inches; the recipient sits in a US #10 envelope's window."""


class Channel(StrEnum):
    """How a letter went to its target (``log --json``'s ``channel``)."""

    EMAIL = "email"
    POST = "post"


POSTED = "posted"
"""A letter on paper's status in ``log --json``: the sender said it is in the post."""


class MailDomain(StrEnum):
    """What DNS says about a domain that letters go to (``validate --check-domains``)."""

    ACCEPTS_MAIL = "accepts-mail"
    """MX records, or with none an A or AAAA address (RFC 5321 5.1)."""
    NO_SUCH_DOMAIN = "no-such-domain"
    """NXDOMAIN: no mail can reach it."""
    NULL_MX = "null-mx"
    """A single MX of preference 0 and exchange "." (RFC 7505): it takes no mail."""
    NO_MAIL_HOST = "no-mail-host"
    """The domain exists but has no MX, A or AAAA record."""
    UNCHECKED = "unchecked"
    """No usable answer (time-out, SERVFAIL, garbage): a warning, never an error."""


class TrustState(StrEnum):
    """Where an activist's copy of a campaign stands (signed campaigns, issue 20)."""

    SIGNED = "signed"
    """The signature verifies with the key this sender first saw for the campaign id."""
    FIRST_USE = "first-use"
    """The signature verifies; its key is now remembered for the campaign id."""
    UNSIGNED = "unsigned"
    """No signature: nobody can tell whether the copy is the organiser's."""


class Route(StrEnum):
    """Which way a connection to a server goes (config ``proxy``)."""

    DIRECT = "direct"
    """No proxy is set: straight to the server."""
    LOCAL = "local"
    """A proxy is set, but the server is this machine (Proton Mail Bridge): straight to it."""
    PROXY = "proxy"
    """Through the SOCKS5 proxy, which resolves the name; never directly."""


class EditOutcome(StrEnum):
    """What came of ``protest edit``: only ``saved`` changes the sender's version."""

    SAVED = "saved"
    EMPTY = "empty"
    """The file was saved empty: the previous version (or the campaign's) stays."""
    EDITOR_FAILED = "editor-failed"
    """The editor exited with an error: the previous version stays."""
    UNCHANGED = "unchanged"


class DsnAction(StrEnum):
    """A delivery status notification's Action for one address (RFC 3464, section 2.3.3).

    The mail system's word, not ours: a report read from the mailbox carries any text, and
    one whose Action is none of these is no report (inbox/classify), never an error.
    """

    FAILED = "failed"
    """Given up: of the letter's own To, a bounce; only this one is."""
    DELAYED = "delayed"
    DELIVERED = "delivered"
    RELAYED = "relayed"
    """Handed to a system that sends no reports: says nothing of the letter's fate."""
    EXPANDED = "expanded"
    """Delivered to a list that forwards it on: says nothing of the letter's fate either."""
