"""Realistic incoming mail for ``protest inbox`` tests: bounces, auto-replies, replies, junk.

Every case answers (or pretends to answer) a letter the product really sent. Render
one for that letter and put it in the test mailbox::

    from mailcorpus import CASES, render

    @pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
    def test_inbox_finds(case, mailbox, ...):
        raw = render(case.name, message_id=sent_id, to=official, copy=clerk)
        mailbox.deliver(case.folder, raw)
        ...  # run `protest inbox`, then compare with case.kind,
        ...  # case.failed_recipient(values), case.status, case.diagnostic

``render(name, **values) -> bytes`` fills the placeholders of
``corpus/mail/<name>.eml.tmpl`` (or builds a generated case) and returns the message
with CRLF line ends. Placeholders (defaults in :data:`DEFAULTS`):

- ``{message_id}``: the sent letter's Message-ID, with its angle brackets.
- ``{to}``, ``{to_name}``: the official it went to; ``{copy}``: a Cc address.
- ``{sender}``, ``{sender_name}``: the activist (owner of the mailbox).
- ``{subject}``: the letter's subject (RFC 2047-encoded when not ASCII).
- ``{date}``: the letter's Date; ``{now}``: the Date of the incoming mail.
- ``{nonce}``: random hex, fresh per render (for the incoming mail's own Message-ID).
- ``{esc}``, ``{bel}``: the control characters ESC and BEL (for the hostile cases).

Only ``{lower_case_name}`` is a placeholder; other braces (CSS) stay as they are.
Blocks encode their (rendered) text, so templates stay readable UTF-8:
``{%base64 CHARSET%}...{%end%}``, ``{%qp CHARSET%}...{%end%}``,
``{%8bit CHARSET%}...{%end%}`` (raw bytes in that charset) and
``{%word CHARSET%}...{%end%}`` (an RFC 2047 ``B`` encoded word, for headers).
Leading lines starting with ``#`` are comments (what the file is) and are dropped.

Expectations (:class:`Case`): ``kind`` is one of ``bounced`` (the letter's own
recipient failed), ``copy-bounced`` (only a Cc failed), ``delayed`` (not failed
yet), ``delivered`` (a delivery report: never a bounce), ``auto-reply``, ``reply``
or ``none`` (must be ignored). ``sender_known`` is False where the reply's From
names no valid single mailbox (it must then be recorded from nobody, never from a
guess). ``skipped`` cases cannot be read at all: one warning names folder and UID.
``recipient`` names the placeholder of the failed address (``"to"`` or ``"copy"``);
``status`` is the RFC 3463 code the message states (DSN ``Status:`` field, or the enhanced code in a
plain-text bounce); ``diagnostic`` is a substring of the server's explanation.
``broken`` cases are malformed on purpose: the parser may record defects or raise.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import email.utils
import quopri
import re
import secrets
from collections.abc import Callable, Mapping
from email.header import Header
from pathlib import Path
from typing import Literal

MAIL_DIR = Path(__file__).parent / "corpus" / "mail"

Kind = Literal["bounced", "copy-bounced", "delayed", "delivered", "auto-reply", "reply", "none"]

DEFAULTS: dict[str, str] = {
    "message_id": "<3f9c2a7e51d04b6c8e2f1a0b9c7d6e5f@example.org>",
    "to": "registry@court.example.org",
    "to_name": "Registry of the Supreme Court",
    "copy": "press@rights.example.net",
    "sender": "ana@example.org",
    "sender_name": "Ana Example",
    "subject": "Release the detained journalists",
    "date": "Mon, 06 May 2024 09:12:44 +0000",
    "now": "Mon, 06 May 2024 09:13:05 +0000",
    "esc": "\x1b",
    "bel": "\x07",
}


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    kind: Kind
    description: str
    recipient: Literal["to", "copy"] | None = None
    status: str | None = None
    diagnostic: str | None = None
    broken: bool = False
    generated: bool = False
    folder: str = "INBOX"
    sender_known: bool = True
    skipped: bool = False
    defects: bool = False
    """Hostile on purpose but meant to be read: the standard parser, asked for everything,
    records defects or raises (unlike ``broken``, the finding is still required)."""

    def failed_recipient(self, values: Mapping[str, str] | None = None) -> str | None:
        """The failed address for these placeholder values (None if nothing failed)."""
        if self.recipient is None:
            return None
        return {**DEFAULTS, **(values or {})}[self.recipient]

    def render(self, **values: str) -> bytes:
        return render(self.name, **values)


CASES: list[Case] = [
    # RFC 3464 delivery status notifications
    Case("dsn-postfix", "bounced", "Postfix DSN, text/rfc822-headers", "to", "5.1.1",
         "User unknown in virtual mailbox table"),
    Case("dsn-exim", "bounced", "Exim with its DSN (Status 5.0.0, 5.1.1 in the diagnostic), "
         "message/rfc822", "to", "5.0.0", "No such user here"),
    Case("dsn-exchange", "bounced", "Exchange/Outlook NDR: text + HTML, report, headers",
         "to", "5.1.10", "Recipient not found by SMTP address lookup"),
    Case("dsn-gmail", "bounced", "Gmail-style DSN from mailer-daemon@googlemail...", "to",
         "5.1.1", "The email account that you tried to reach does not exist"),
    Case("dsn-yahoo", "bounced", "Yahoo-style DSN", "to", "5.0.0",
         "This user doesn't have a"),
    Case("dsn-delayed", "delayed", "Sendmail-style warning, Action: delayed", "to", "4.4.7",
         "Deferred: Connection timed out"),
    Case("dsn-copy-only", "copy-bounced", "Postfix DSN: only the Cc failed (mailbox full)",
         "copy", "5.2.2", "Mailbox full"),
    Case("dsn-postfix-auto-submitted", "bounced",
         "Postfix DSN that also says Auto-Submitted: auto-replied (still a bounce)", "to",
         "5.7.1", "Recipient address rejected: Access denied"),
    # Reports that are no failure: only a failure is a bounce
    Case("dsn-postfix-delivered", "delivered",
         "Postfix 'Successful Mail Delivery Report', Action: delivered", "to", "2.0.0",
         "delivered to maildir"),
    Case("dsn-postfix-relayed", "none", "Postfix success report, Action: relayed"),
    Case("mdn-read-receipt", "none", "read receipt (RFC 8098 message/disposition-notification)"),
    Case("notice-delivered-text", "none", "plain-text success notice naming the To"),
    Case("bounce-substring", "none",
         "plain-text bounce naming only press-<To>, which contains the To as a substring"),
    # Bounces that are not RFC 3464
    Case("bounce-qmail", "bounced", "qmail-send plain text", "to", "5.1.1",
         "does not like recipient"),
    Case("bounce-exim-old", "bounced", "old Exim plain text with X-Failed-Recipients", "to",
         "5.1.1", "User unknown"),
    Case("bounce-provider-text", "bounced", "provider plain text (Yahoo-like), no DSN", "to",
         None, "mailbox not found"),
    # Auto-replies
    Case("auto-rfc3834", "auto-reply", "RFC 3834: Auto-Submitted: auto-replied, In-Reply-To"),
    Case("auto-x-autoreply", "auto-reply", "X-Autoreply: yes, References only"),
    Case("auto-x-autorespond", "auto-reply", "X-Autorespond, In-Reply-To"),
    Case("auto-precedence", "auto-reply", "Precedence: auto_reply, In-Reply-To"),
    Case("auto-exchange-ooo", "auto-reply",
         "Exchange 'Automatic reply': X-MS-Exchange-Inbox-Rules-Loop, X-Auto-Response-Suppress"),
    # Replies from the official
    Case("reply-plain", "reply", "plain text, UTF-8, In-Reply-To and References"),
    Case("reply-html", "reply", "HTML only"),
    Case("reply-qp", "reply", "quoted-printable UTF-8 (Russian), text and HTML"),
    Case("reply-base64", "reply", "base64 UTF-8 text with a base64 PDF-ish attachment"),
    Case("reply-koi8r", "reply", "KOI8-R, 8bit, Russian, encoded-word subject"),
    Case("reply-cp1251", "reply", "windows-1251, quoted-printable, Russian"),
    Case("reply-references-only", "reply", "no In-Reply-To, References only"),
    Case("reply-in-junk", "reply", "plain reply the provider filed as junk", folder="Junk"),
    # Hostile or broken
    Case("broken-no-boundary", "reply", "multipart without a boundary parameter", broken=True),
    Case("broken-unterminated", "reply", "multipart never closed, base64 cut off", broken=True),
    Case("huge", "reply", "5 MB text body (generated)", generated=True),
    Case("deep-multipart", "reply", "multipart nested 200 levels (generated)", generated=True),
    Case("nested-rfc822", "reply",
         "message/rfc822 nested 60 levels, 3 siblings each (generated, ~300 parts)",
         generated=True),
    Case("charset-unknown", "reply", "charset=x-unknown", broken=True),
    Case("charset-lies", "reply", "says utf-8, is windows-1251", broken=True),
    Case("terminal-escapes", "reply",
         "ESC [2J, OSC 8 hyperlink, BEL in the subject (encoded word) and the body"),
    Case("date-out-of-range", "reply", "Date: Fri, 31 Dec 9999 23:59:59 -2359 (overflows)"),
    Case("from-recursion", "none", "From: 5,000 '(' (RecursionError in the parser, generated)",
         generated=True, skipped=True, defects=True),
    Case("from-cve-2023-27043", "reply", "From: <To>)<attacker@evil.example.net>",
         sender_known=False, defects=True),
    *[
        Case(f"charset-{codec}", "reply",
             f"text/plain; charset={codec}: a Python codec, no text encoding (generated)",
             generated=True, defects=True)
        for codec in ("base64", "rot13", "zlib", "idna")
    ],
    Case("dsn-stranger", "none",
         "DSN for an address the letter was never sent to (ignore it)"),
    Case("bounce-unknown-message-id", "none",
         "bounce for a Message-ID the send log never generated (ignore it)"),
    Case("reply-from-self", "none", "the sender answering their own letter (not a reply)"),
    Case("unrelated", "none", "ordinary mail that refers to no letter"),
]  # fmt: skip

BY_NAME: dict[str, Case] = {case.name: case for case in CASES}

_BLOCK = re.compile(r"\{%(base64|qp|8bit|word) ([A-Za-z0-9_-]+)%\}(.*?)\{%end%\}", re.DOTALL)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def values_for(**values: str) -> dict[str, str]:
    """The placeholder values a render uses: defaults, a fresh nonce, then ``values``."""
    merged = {**DEFAULTS, "nonce": secrets.token_hex(8), **values}
    unknown = set(values) - set(merged)
    if unknown:
        raise KeyError(f"unknown placeholders: {sorted(unknown)}")
    return merged


def render(name: str, **values: str) -> bytes:
    """The case ``name`` as bytes (CRLF line ends) with the placeholders filled."""
    case = BY_NAME[name]
    filled = values_for(**values)
    if not filled["subject"].isascii():
        filled["subject"] = Header(filled["subject"], "utf-8").encode()
    if case.generated:
        return _crlf(_GENERATORS[name](filled))
    return _crlf(render_text(template(name), filled))


def template(name: str) -> str:
    text = (MAIL_DIR / f"{name}.eml.tmpl").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "".join(lines)


def render_text(text: str, values: Mapping[str, str]) -> bytes:
    """Fill placeholders, then encode the blocks; the rest is UTF-8."""

    def fill(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise KeyError(f"template uses an unknown placeholder {match.group(0)}")
        return values[match.group(1)]

    text = _PLACEHOLDER.sub(fill, text)
    out = bytearray()
    position = 0
    for match in _BLOCK.finditer(text):
        out += text[position : match.start()].encode("utf-8")
        out += _encode_block(match.group(1), match.group(2), match.group(3))
        position = match.end()
    out += text[position:].encode("utf-8")
    return bytes(out)


def _encode_block(how: str, charset: str, text: str) -> bytes:
    if how == "word":
        return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?=".encode()
    data = text.replace("\r\n", "\n").encode(charset)
    if how == "8bit":
        return data
    if how == "base64":
        encoded = base64.encodebytes(data.replace(b"\n", b"\r\n"))
        return encoded.rstrip(b"\n")
    return quopri.encodestring(data).rstrip(b"\n")


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _reply_headers(values: Mapping[str, str], subject: str) -> str:
    return (
        f"Return-Path: <{values['to']}>\n"
        f"From: {values['to_name']} <{values['to']}>\n"
        f"To: {values['sender_name']} <{values['sender']}>\n"
        f"Subject: {subject}\n"
        f"Date: {values['now']}\n"
        f"Message-ID: <{values['nonce']}.generated@court.example.org>\n"
        f"In-Reply-To: {values['message_id']}\n"
        f"References: {values['message_id']}\n"
        "MIME-Version: 1.0\n"
    )


def _huge(values: Mapping[str, str], size: int = 5 * 1024 * 1024) -> bytes:
    line = "The court has received your appeal and will consider it in due course.\n"
    body = line * (size // len(line) + 1)
    return (
        _reply_headers(values, f"Re: {values['subject']}")
        + "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        + body
    ).encode()


def _deep_multipart(values: Mapping[str, str], depth: int = 200) -> bytes:
    parts = [_reply_headers(values, f"Re: {values['subject']}")]
    parts.append('Content-Type: multipart/mixed; boundary="b0"\n\npreamble\n')
    for level in range(1, depth):
        parts.append(f'--b{level - 1}\nContent-Type: multipart/mixed; boundary="b{level}"\n\n')
    parts.append(
        f"--b{depth - 1}\nContent-Type: text/plain; charset=utf-8\n\n"
        "We have received your letter.\n"
    )
    parts.extend(f"--b{level}--\n" for level in reversed(range(depth)))
    return "".join(parts).encode()


def _nested_rfc822(values: Mapping[str, str], depth: int = 60, copies: int = 3) -> bytes:
    """message/rfc822 inside message/rfc822, ``depth`` levels; each level has ``copies``
    small siblings, so a parser that expands every part sees ~depth*copies parts."""
    inner = (
        f"From: {values['to']}\nTo: {values['sender']}\nSubject: lol\n"
        f"Message-ID: {values['message_id']}\n\nlol\n"
    )
    for level in range(depth):
        boundary = f"lol{level}"
        siblings = "".join(
            f"--{boundary}\nContent-Type: text/plain\n\nlol {level}.{copy}\n"
            for copy in range(copies)
        )
        inner = (
            f"From: {values['to']}\nSubject: lol {level}\nMIME-Version: 1.0\n"
            f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
            f"{siblings}--{boundary}\nContent-Type: message/rfc822\n\n{inner}\n--{boundary}--\n"
        )
    top = _reply_headers(values, f"Re: {values['subject']}")
    body = inner.split("\n\n", 1)
    # the outermost level becomes the reply itself (its headers replaced by a reply's)
    content_type = next(line for line in body[0].splitlines() if line.startswith("Content-Type"))
    return f"{top}{content_type}\n\n{body[1]}".encode()


def _from_recursion(values: Mapping[str, str], depth: int = 5000) -> bytes:
    head = _reply_headers(values, f"Re: {values['subject']}")
    head = head.replace(f"From: {values['to_name']} <{values['to']}>", "From: " + "(" * depth)
    return (head + "Content-Type: text/plain; charset=utf-8\n\nNoted.\n").encode()


def _codec_charset(codec: str) -> Callable[[Mapping[str, str]], bytes]:
    def make(values: Mapping[str, str]) -> bytes:
        return (
            _reply_headers(values, f"Re: {values['subject']}")
            + f"Content-Type: text/plain; charset={codec}\nContent-Transfer-Encoding: 8bit\n\n"
            + "The court has received your appeal.\n"
        ).encode()

    return make


_GENERATORS: dict[str, Callable[[Mapping[str, str]], bytes]] = {
    "huge": _huge,
    "deep-multipart": _deep_multipart,
    "nested-rfc822": _nested_rfc822,
    "from-recursion": _from_recursion,
    **{f"charset-{c}": _codec_charset(c) for c in ("base64", "rot13", "zlib", "idna")},
}


def now_header(when: dt.datetime | None = None) -> str:
    """An RFC 5322 date for ``{date}`` or ``{now}``."""
    return email.utils.format_datetime(when or dt.datetime.now(dt.UTC))
