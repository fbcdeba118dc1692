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
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.utils import getaddresses, parsedate_to_datetime

from protest_dispatch.inbox.text import body_text, decode_part

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
    """The header fields of ``raw`` (a whole message or just its header)."""
    # compat32 and our own decoding: the default policy's header objects cost ~1 ms each.
    msg = HeaderParser(policy=email.policy.compat32).parsestr(raw.decode("utf-8", errors="replace"))
    from_text = _field(msg, "From")
    addresses = [addr for _name, addr in getaddresses([from_text]) if "@" in addr]
    from_address = addresses[0].lower() if addresses else None
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
        refers_to=refers,
        from_address=from_address,
        from_text=from_text,
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


def _date(text: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=_policy())
    assert isinstance(msg, EmailMessage)  # guaranteed by policy.default's message_factory
    return msg


@dataclass(frozen=True)
class RecipientReport:
    """What a bounce says about one address."""

    address: str
    action: str
    """``failed`` or ``delayed`` (RFC 3464 Action), lower case."""
    status: str | None
    diagnostic: str | None


@dataclass(frozen=True)
class Bounce:
    letter_ids: tuple[str, ...]
    """Message-IDs the bounce names (lower case): the returned headers, In-Reply-To."""
    reports: tuple[RecipientReport, ...]
    notice: str
    """The human-readable part before the returned message, to find addresses in."""


def read_bounce(msg: EmailMessage, *, headers: Headers) -> Bounce:
    """The failed or delayed addresses and the letters a bounce names."""
    reports = _dsn_reports(msg)
    notice = _notice_text(msg)
    if not reports:
        reports = _plain_reports(msg, notice=notice)
    ids = {i.lower() for i in _returned_ids(msg)} | set(headers.refers_to)
    if headers.message_id:
        ids.discard(headers.message_id.lower())
    return Bounce(letter_ids=tuple(sorted(ids)), reports=tuple(reports), notice=notice)


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
    address = recipient.partition(";")[2].strip().strip("<>").lower() if recipient else ""
    if "@" not in address or action not in ("failed", "delayed"):
        return None
    diagnostic = _field(block, "Diagnostic-Code")
    if ";" in diagnostic:
        diagnostic = diagnostic.partition(";")[2].strip()
    status = _field(block, "Status").split()
    return RecipientReport(
        address=address,
        action=action,
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
    found = [(a, "delayed") for a in temporary] + [(a, "failed") for a in permanent]
    reports = []
    for raw_address, action in found:
        address = raw_address.decode("ascii", errors="replace").strip("<>").lower()
        status, diagnostic = _explanation(notice, address)
        reports.append(RecipientReport(address, action, status, diagnostic))
    return reports


def reports_in_notice(bounce: Bounce, addresses: tuple[str, ...]) -> list[RecipientReport]:
    """When no detector found a failed address: the letter's addresses the notice names."""
    lowered = bounce.notice.lower()
    reports = []
    for address in addresses:
        if address.lower() in lowered:
            status, diagnostic = _explanation(bounce.notice, address.lower())
            reports.append(RecipientReport(address.lower(), "failed", status, diagnostic))
    return reports


def _explanation(notice: str, address: str) -> tuple[str | None, str | None]:
    """The enhanced status code and server text in the paragraph naming ``address``."""
    lowered = notice.lower()
    start = lowered.find(address)
    if start < 0:
        return None, None
    paragraph_end = notice.find("\n\n", start)
    paragraph = notice[start : paragraph_end if paragraph_end >= 0 else len(notice)]
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
