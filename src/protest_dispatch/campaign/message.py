"""Build the exact message that is sent (and written by ``--dry-run --out``).

The headers say who the letter is from and to, and nothing about the machine it
was written on: no host name in the Message-ID, no mailer banner, and the Date
in UTC, since a local offset tells a regime which time zone a critic lives in.
Envelope recipients come from the validated model, never from parsing headers.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.policy import Compat32
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

from protest_dispatch.addresses import mailbox
from protest_dispatch.campaign.markdown import render_html
from protest_dispatch.campaign.model import Sender, Target
from protest_dispatch.campaign.recipients import copies, too_many
from protest_dispatch.campaign.templates import RenderedLetter
from protest_dispatch.errors import CampaignError, Problem

_UTF8 = Charset("utf-8")  # headers: the shorter of Q and base64 words
_UTF8_BODY = Charset("utf-8")
_UTF8_BODY.body_encoding = QP
_LINE = 78  # RFC 5322's recommended line length


class _Wire(Compat32):
    """compat32 on the wire, without re-encoding header lines that need no folding.

    compat32 runs every header through ``Header.encode``; for a short ASCII line
    that returns the line unchanged, at a third of a letter's build time.
    """

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if (
            isinstance(value, str)
            and value.isascii()
            and "\n" not in value
            and "\r" not in value
            and len(name) + 2 + len(value) <= _LINE
        ):
            return f"{name}: {value}{self.linesep}"
        folded: str = super()._fold(name, value, sanitize)  # type: ignore[misc]  # private in typeshed
        return folded


_WIRE = _Wire(linesep="\r\n", max_line_length=_LINE)


@dataclass(frozen=True)
class Letter:
    """A letter ready to send: addressing decided, text rendered."""

    target: Target
    sender: Sender
    to: str
    to_name: str
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    reply_to: str | None
    rendered: RenderedLetter

    @property
    def subject(self) -> str:
        return self.rendered.subject

    @property
    def envelope_recipients(self) -> tuple[str, ...]:
        return (self.to, *self.cc, *self.bcc)


def make_letter(
    *,
    target: Target,
    sender: Sender,
    campaign_cc: Sequence[str],
    reply_to: str | None,
    rendered: RenderedLetter,
    campaign_file: Path,
    bcc: Sequence[str] = (),
) -> Letter:
    assert target.email is not None, "calls have no letter"
    cc = copies(to=target.email, campaign_cc=campaign_cc, target_cc=target.cc)
    seen = {mailbox(a) for a in (target.email, *cc)}
    blind = tuple(a for a in bcc if mailbox(a) not in seen)
    refused = too_many(1 + len(cc) + len(blind))
    if refused is not None:
        raise CampaignError(
            [Problem(file=campaign_file, target=target.id, field="cc", message=refused)]
        )
    return Letter(
        target=target,
        sender=sender,
        to=target.email,
        to_name=target.name,
        cc=cc,
        bcc=blind,
        reply_to=reply_to,
        rendered=rendered,
    )


def as_test(letter: Letter) -> Letter:
    """The same letter addressed to its sender only, for ``send --test``.

    The subject names the target, so a test of many letters can be told apart.
    """
    return replace(
        letter,
        to=letter.sender.email,
        to_name=letter.sender.name,
        cc=(),
        bcc=(),
        rendered=replace(
            letter.rendered, subject=f"[TEST] {letter.target.id}: {letter.rendered.subject}"
        ),
    )


def make_message_id(*, domain: str) -> str:
    """A Message-ID in the sender's own domain (make_msgid would use the host name)."""
    return f"<{secrets.token_hex(16)}@{domain}>"


def build_message(*, letter: Letter, message_id: str, date: datetime | None = None) -> Message:
    """The letter as a MIME message: UTF-8, quoted-printable, 7-bit clean on the wire.

    Built with the compat32 API from pre-encoded headers: the modern header registry
    parses every header it is given again, which made building a letter cost more
    than sending it. The inputs are validated (no line breaks, no encoded words), and
    tests parse every kind of letter back with the modern parser.
    """
    msg = Message()
    msg["From"] = _address(letter.sender.name, letter.sender.email, header="From")
    msg["To"] = _address(letter.to_name, letter.to, header="To")
    if letter.cc:
        msg["Cc"] = ", ".join(letter.cc)
    if letter.reply_to:
        msg["Reply-To"] = letter.reply_to
    subject = letter.subject
    encoded: Any = subject if subject.isascii() else Header(subject, _UTF8, header_name="Subject")
    msg["Subject"] = encoded  # compat32 takes a Header object and folds it itself
    msg["Date"] = format_datetime((date or datetime.now(UTC)).astimezone(UTC))
    msg["Message-ID"] = message_id
    msg["MIME-Version"] = "1.0"
    if not letter.rendered.markdown:
        _set_text(msg, letter.rendered.text, "plain")
        return msg
    msg["Content-Type"] = "multipart/alternative"
    msg.set_boundary(_boundary(letter.rendered.text))
    for text, subtype in (
        (letter.rendered.text, "plain"),
        (render_html(letter.rendered.text), "html"),
    ):
        part = Message()
        _set_text(part, text, subtype)
        del part["MIME-Version"]
        msg.attach(part)
    return msg


def _address(name: str, address: str, *, header: str) -> Any:
    """Name and address; a non-ASCII name as RFC 2047 words of at most 75 characters.

    formataddr would write one encoded word however long the name, which some
    mail readers then show undecoded.
    """
    if name.isascii():
        return formataddr((name, address))
    value = Header(name, _UTF8, header_name=header)
    value.append(f"<{address}>", "us-ascii")
    return value


def _set_text(part: Message, text: str, subtype: str) -> None:
    part["Content-Type"] = f"text/{subtype}"
    part.set_payload(text, _UTF8_BODY)


def _boundary(text: str) -> str:
    """Derived from the letter, so two builds differ only in Date and Message-ID.

    Both parts are quoted-printable, where '=' is always followed by a hex digit or a
    line break, so a boundary starting '=_' can never occur in the content.
    """
    return "=_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


def message_bytes(message: Message) -> bytes:
    return message.as_bytes(policy=_WIRE)
