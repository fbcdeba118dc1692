"""What an incoming message says about letters: a bounce, an automatic reply, a reply.

Two steps, so the mailbox gives up as little as possible: :func:`read_headers`
decides from a few header fields whether a message may concern a letter at all;
only then is the whole message fetched and :func:`read_bounce` or
:func:`read_reply` looks inside. Matching against the send log (is this our
Message-ID, was the failed address the letter's recipient?) is in ``match``.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.utils import parsedate_to_datetime

from protest_dispatch.addresses import mailbox
from protest_dispatch.inbox.mentions import failed_near, sender
from protest_dispatch.inbox.text import body_text, decode_part
from protest_dispatch.vocabulary import DsnAction

HEADER_FIELDS = (
    "MESSAGE-ID",
    "IN-REPLY-TO",
    "REFERENCES",
    "AUTO-SUBMITTED",
    "CONTENT-TYPE",
    "FROM",
    "SUBJECT",
    "DATE",
    "X-AUTOREPLY",
    "X-AUTORESPOND",
    "PRECEDENCE",
    "X-FAILED-RECIPIENTS",
    "X-MS-EXCHANGE-INBOX-RULES-LOOP",
)
"""The only header fields fetched of a message before it is known to concern a letter."""

_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}@[^<>\s]{1,250}>")
_ID_LINE = re.compile(rb"^(?:Original-)?Message-ID:[ \t]*(<[^<>\s]{1,250}>)", re.I | re.M)
_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
_MDN_TYPES = ("message/disposition-notification", "message/global-disposition-notification")
_ACTIONS = frozenset(DsnAction)
"""The words an Action field may hold; only failed is a bounce (see ``match``)."""
_DAEMONS = frozenset(
    {"mailer-daemon", "postmaster", "mail-delivery-subsystem", "mailer_daemon", "mdaemon"}
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status|failure|has failed|notification)|failure notice|"
    r"returned mail|mail delivery failed|non[- ]?delivery",
    re.I,
)
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_COPY_MARKER = re.compile(
    r"^\s*-{2,}.*(copy|original|below|returned|headers).*$|"
    r"^(Return-Path|Received|From|Message-ID):",
    re.I | re.M,
)


def _policy() -> email.policy.EmailPolicy[EmailMessage]:
    return email.policy.default.clone(raise_on_defect=False)


@dataclass(frozen=True)
class Headers:
    """The few header fields that tell whether a message may concern a letter."""

    message_id: str | None
    identity: str
    """What the message is, whatever folder or UID it has: its Message-ID, or a hash of
    Date, From, Subject and In-Reply-To when it has none. Findings are keyed on it."""
    refers_to: tuple[str, ...]
    """Message-IDs in In-Reply-To and References, lower case."""
    from_address: str | None
    from_text: str
    subject: str
    date: datetime | None
    automatic: bool
    """Marked as sent by a machine (RFC 3834 Auto-Submitted or a common auto-responder mark)."""
    bounce_like: bool
    """A report, or from a mailer daemon: its body may name a letter."""


def read_headers(raw: bytes) -> Headers:
    """The header fields of ``raw`` (a whole message or just its header).

    Raises on absurd input (see :func:`~protest_dispatch.inbox.mentions.sender`): call it
    inside the per-message guard, like everything else that reads a message.
    """
    # compat32 and our own decoding: the default policy's header objects cost ~1 ms each,
    # so only From (whose address matters) gets one.
    msg = HeaderParser(policy=email.policy.compat32).parsestr(raw.decode("utf-8", errors="replace"))
    raw_from = msg.get("From")
    origin = sender(None if raw_from is None else str(raw_from))
    from_address = origin.address
    refers = tuple(
        found.lower()
        for name in ("In-Reply-To", "References")
        for found in _MESSAGE_ID.findall(_field(msg, name))
    )
    own_ids = _MESSAGE_ID.findall(_field(msg, "Message-ID"))
    auto = _field(msg, "Auto-Submitted").strip().lower()
    precedence = _field(msg, "Precedence").strip().lower()
    automatic = bool(
        (auto and not auto.startswith("no"))
        or _field(msg, "X-Autoreply")
        or _field(msg, "X-Autorespond")
        or _field(msg, "X-MS-Exchange-Inbox-Rules-Loop")
        or precedence in ("auto_reply", "auto-reply")
    )
    subject = _field(msg, "Subject")
    content_type = _field(msg, "Content-Type").lower()
    local = (from_address or "").partition("@")[0]
    bounce_like = (
        "multipart/report" in content_type
        or bool(_field(msg, "X-Failed-Recipients"))
        or local in _DAEMONS
        or bool(_BOUNCE_SUBJECT.search(subject) and automatic)
    )
    return Headers(
        message_id=own_ids[0] if own_ids else None,
        identity=own_ids[0].lower() if own_ids else _fingerprint(msg),
        refers_to=refers,
        from_address=from_address,
        from_text=origin.text,
        subject=subject,
        date=_date(_field(msg, "Date")),
        automatic=automatic,
        bounce_like=bounce_like,
    )


def _field(msg: Message, name: str) -> str:
    """A header's decoded text (RFC 2047 words too), '' when missing or beyond repair."""
    try:
        value = msg.get(name)
        if value is None:
            return ""
        if not isinstance(value, str):
            value = str(value)
        elif "=?" in value:
            value = str(make_header(decode_header(value)))
    except (ValueError, LookupError, IndexError, AttributeError, TypeError):  # broken words
        return ""
    return " ".join(value.split())


def _fingerprint(msg: Message) -> str:
    """A message without a Message-ID, known by the fields a copy of it keeps."""
    names = ("Date", "From", "Subject", "In-Reply-To")
    fields = "\0".join(str(msg.get(name, "")) for name in names)
    return "sha256:" + hashlib.sha256(fields.encode("utf-8", "replace")).hexdigest()


def _date(text: str) -> datetime | None:
    """The Date in UTC; None when absent, broken or beyond datetime's range (year 9999
    at -2359 overflows when turned into UTC)."""
    try:
        moment = parsedate_to_datetime(text)
        if moment.tzinfo is None:
            return None
        return moment.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=_policy())
    assert isinstance(msg, EmailMessage)  # guaranteed by policy.default's message_factory
    return msg


@dataclass(frozen=True)
class RecipientReport:
    """What a bounce says about one address."""

    address: str
    action: DsnAction
    """The RFC 3464 Action (a plain-text bounce gives only failed or delayed)."""
    status: str | None
    diagnostic: str | None


@dataclass(frozen=True)
class Bounce:
    letter_ids: tuple[str, ...]
    """Message-IDs the bounce names (lower case): the returned headers, In-Reply-To."""
    reports: tuple[RecipientReport, ...]
    notice: str
    """The human-readable part before the returned message, to find addresses in."""
    structured: bool
    """An RFC 3464 report: its per-recipient Action fields are the whole truth, the
    notice's words are not searched."""
    read_notice: bool = False
    """A read receipt (RFC 8098 MDN): never a bounce, and not recorded."""


def read_bounce(msg: EmailMessage, *, headers: Headers) -> Bounce:
    """The failed, delayed or delivered addresses and the letters a report names."""
    types = {part.get_content_type() for part in msg.walk()}
    ids = {i.lower() for i in _returned_ids(msg)} | set(headers.refers_to)
    if headers.message_id:
        ids.discard(headers.message_id.lower())
    letter_ids = tuple(sorted(ids))
    if types & set(_MDN_TYPES) or "disposition-notification" in str(msg.get("Content-Type", "")):
        return Bounce(letter_ids, (), "", structured=True, read_notice=True)
    notice = _notice_text(msg)
    structured = bool(types & set(_DSN_TYPES))
    reports = _dsn_reports(msg) if structured else _plain_reports(msg, notice=notice)
    return Bounce(letter_ids, tuple(reports), notice, structured=structured)


def _dsn_reports(msg: EmailMessage) -> list[RecipientReport]:
    reports: list[RecipientReport] = []
    for part in msg.walk():
        if part.get_content_type() not in _DSN_TYPES:
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks[1:]:  # the first block is about the message, the rest per recipient
            report = _recipient_block(block) if isinstance(block, Message) else None
            if report is not None:
                reports.append(report)
    return reports


def _recipient_block(block: Message) -> RecipientReport | None:
    recipient = _field(block, "Final-Recipient") or _field(block, "Original-Recipient")
    action = _field(block, "Action").lower()
    address = mailbox(recipient.partition(";")[2].strip().strip("<>")) if recipient else ""
    if "@" not in address or action not in _ACTIONS:
        return None
    diagnostic = _field(block, "Diagnostic-Code")
    if ";" in diagnostic:
        diagnostic = diagnostic.partition(";")[2].strip()
    status = _field(block, "Status").split()
    return RecipientReport(
        address=address,
        action=DsnAction(action),
        status=status[0] if status and _STATUS.fullmatch(status[0]) else None,
        diagnostic=diagnostic[:500] or None,
    )


def _plain_reports(msg: EmailMessage, *, notice: str) -> list[RecipientReport]:
    """Addresses a non-RFC 3464 bounce gives up on, through flufl.bounce's detectors."""
    from flufl.bounce import all_failures

    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # third-party detectors on hostile mail: count it as none found
        temporary, permanent = frozenset(), frozenset()
    found = [(a, DsnAction.DELAYED) for a in temporary] + [(a, DsnAction.FAILED) for a in permanent]
    reports = []
    for raw_address, action in found:
        address = mailbox(raw_address.decode("ascii", errors="replace").strip("<>"))
        status, diagnostic = _explanation(notice, address)
        reports.append(RecipientReport(address, action, status, diagnostic))
    return reports


def reports_in_notice(bounce: Bounce, addresses: tuple[str, ...]) -> list[RecipientReport]:
    """When no detector found a failed address: the letter's addresses that a plain-text
    notice names as a whole address with a failure stated beside it (never a mention
    alone, never a longer address that contains it). An RFC 3464 report is never read so."""
    if bounce.structured:
        return []
    reports = []
    for address in addresses:
        if failed_near(bounce.notice, address) is not None:
            status, diagnostic = _explanation(bounce.notice, address)
            reports.append(RecipientReport(mailbox(address), DsnAction.FAILED, status, diagnostic))
    return reports


def _explanation(notice: str, address: str) -> tuple[str | None, str | None]:
    """The enhanced status code and server text beside the failed ``address``."""
    span = failed_near(notice, address)
    if span is None:
        return None, None
    paragraph = notice[span[0] : span[1]]
    lines = paragraph.splitlines()[1:] or paragraph.splitlines()
    text = " ".join(" ".join(lines).split())[:500]
    code = _STATUS.search(paragraph)
    return (code.group(1) if code else None), (text or None)


def _notice_text(msg: EmailMessage) -> str:
    """The first text part, up to where the returned message begins."""
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            text = decode_part(part)
            break
    else:
        return ""
    marker = _COPY_MARKER.search(text)
    return (text[: marker.start()] if marker else text)[:20_000]


def _returned_ids(msg: EmailMessage) -> set[str]:
    """Message-IDs of the returned letter: in rfc822 parts, returned headers, or quoted."""
    ids: set[str] = set()
    for part in msg.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                ids.update(_MESSAGE_ID.findall(_field(inner[0], "Message-ID")))
        elif kind in ("text/rfc822-headers", "text/plain"):
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                ids.update(m.decode("ascii", "replace") for m in _ID_LINE.findall(data))
    return ids


@dataclass(frozen=True)
class Reply:
    text: str


def read_reply(msg: EmailMessage) -> Reply:
    return Reply(text=body_text(msg))
