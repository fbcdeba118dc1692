"""Build the exact message that is sent (and written by ``--dry-run --out``).

The headers say who the letter is from and to, and nothing about the machine it
was written on: no host name in the Message-ID, no mailer banner, and the Date
in UTC, since a local offset tells a regime which time zone a critic lives in.
Envelope recipients come from the validated model, never from parsing headers.
"""

from __future__ import annotations

import base64
import hashlib
import re
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
from urllib.parse import quote

from protest_dispatch.addresses import mailbox
from protest_dispatch.campaign.attachments import Attachment
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
    attachments: tuple[Attachment, ...] = ()

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
    attachments: Sequence[Attachment] = (),
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
        attachments=tuple(attachments),
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
    if not letter.attachments:
        _set_content(msg, letter.rendered)
        return msg
    # multipart/mixed: the letter's own text (and HTML) first, then each file.
    msg["Content-Type"] = "multipart/mixed"
    msg.set_boundary(_boundary(letter.rendered.text, *(a.sha256 for a in letter.attachments)))
    content = Message()
    _set_content(content, letter.rendered)
    del content["MIME-Version"]
    msg.attach(content)
    for attachment in letter.attachments:
        msg.attach(_attachment_part(attachment))
    return msg


def _set_content(msg: Message, rendered: RenderedLetter) -> None:
    """The letter as text/plain, or text and HTML as multipart/alternative (Markdown)."""
    if not rendered.markdown:
        _set_text(msg, rendered.text, "plain")
        return
    msg["Content-Type"] = "multipart/alternative"
    msg.set_boundary(_boundary(rendered.text))
    for text, subtype in ((rendered.text, "plain"), (render_html(rendered.text), "html")):
        part = Message()
        _set_text(part, text, subtype)
        del part["MIME-Version"]
        msg.attach(part)


def _attachment_part(attachment: Attachment) -> Message:
    """One file, base64, under its own name only: no folder, no local path."""
    part = Message()
    kind = attachment.content_type
    part["Content-Type"] = f"{kind}; charset=utf-8" if kind == "text/plain" else kind
    part["Content-Disposition"] = _disposition(attachment.filename)
    part["Content-Transfer-Encoding"] = "base64"
    data = base64.encodebytes(attachment.read()).decode("ascii")
    part.set_payload(data)
    return part


_PLAIN_NAME = re.compile(r"[A-Za-z0-9._ ()+,-]{1,60}")


def _disposition(filename: str) -> str:
    """``attachment`` with the file name; RFC 2231 (UTF-8, continued) unless it is plain ASCII.

    The parameter is split into ``filename*0*``, ``filename*1*``, ... so that no line
    of the header grows past 78 characters, however long the name.
    """
    if _PLAIN_NAME.fullmatch(filename):
        return f'attachment; filename="{filename}"'
    quoted = quote(filename.encode("utf-8"), safe="")
    chunks: list[str] = []
    start = 0
    while start < len(quoted):
        end = min(start + 50, len(quoted))
        while end < len(quoted) and "%" in quoted[end - 2 : end]:
            end -= 1  # never split a %XX
        chunks.append(quoted[start:end])
        start = end
    prefix = "utf-8''"
    parts = [f"filename*{n}*={prefix if n == 0 else ''}{c}" for n, c in enumerate(chunks)]
    return "attachment;\n " + ";\n ".join(parts)


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


def _boundary(text: str, *more: str) -> str:
    """Derived from the letter, so two builds differ only in Date and Message-ID.

    Text parts are quoted-printable, where '=' is always followed by a hex digit or a
    line break, and attachments base64, which has no '_', so a boundary starting '=_'
    can never occur in the content. ``more`` (the files' digests) tells the outer
    multipart/mixed boundary from the inner one.
    """
    seed = "\0".join((text, *more)) + ("\0mixed" if more else "")
    return "=_" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:40]


def message_bytes(message: Message) -> bytes:
    return message.as_bytes(policy=_WIRE)
