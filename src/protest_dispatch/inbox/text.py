"""The readable text of an incoming message: plain or HTML, any charset, never a crash.

Mail from strangers is hostile until shown otherwise: charsets that lie or do not
exist, HTML only, broken MIME. Everything here degrades to replacement characters
or an empty string; escaping control characters is the printer's job (the CLI).
"""

from __future__ import annotations

import codecs
import re
from email.message import EmailMessage, Message
from html.parser import HTMLParser

MAX_TEXT = 100_000
"""Characters of text kept from one message (a 5 MB reply is not read to the end)."""

_BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote", "pre"})
_SKIPPED = frozenset({"script", "style", "head", "title"})


class _TextOnly(HTMLParser):
    """HTML to text: tags dropped, blocks become lines, scripts and styles skipped.

    Only the five XML entities and numeric references are expanded (convert_charrefs),
    so no entity can grow into more text than it stands for.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._size = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        elif tag in _BLOCKS:
            self._add("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCKS:
            self._add("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._add(data)

    def _add(self, text: str) -> None:
        if self._size < MAX_TEXT:
            self.parts.append(text)
            self._size += len(text)


def html_to_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html[: MAX_TEXT * 4])
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_NOT_CHARSETS = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined"})
"""Python codecs that decode bytes to text but are no mail charset (a name in a hostile
message must not pick Python's escape-sequence interpreter, or a codec that refuses)."""


def text_charset(name: str | None) -> str:
    """``name`` if it is a text encoding a message may really be in, else ``utf-8``.

    ``codecs.lookup`` also finds base64, rot13, zlib and other transforms, which
    ``bytes.decode`` refuses: such a charset must cost replacement characters, never
    the message.
    """
    try:
        info = codecs.lookup(name or "utf-8")
    except (LookupError, ValueError, TypeError):
        return "utf-8"
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return "utf-8"
    return info.name


def decode_part(part: Message) -> str:
    """A text part's content in its charset; an unknown, lying or non-text charset
    gives U+FFFD where the bytes do not fit, and the text is kept."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    data = payload[: MAX_TEXT * 4]
    try:
        return data.decode(text_charset(part.get_content_charset()), errors="replace")
    except (LookupError, UnicodeError):  # a codec that still refuses: read it as UTF-8
        return data.decode("utf-8", errors="replace")


def body_text(msg: EmailMessage) -> str:
    """The message's text, preferring plain over HTML; '' when it has none."""
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
    except (RecursionError, LookupError, ValueError):  # absurd nesting or broken headers
        part = None
    if part is None:
        return ""
    text = decode_part(part)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return text.replace("\r\n", "\n")[:MAX_TEXT].strip()


def first_lines(text: str, *, lines: int = 3, width: int = 200) -> str:
    """The first non-empty lines that are not quotes of the letter, for a listing."""
    kept = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith(">")
    ]
    return " ".join(kept[:lines])[:width]
