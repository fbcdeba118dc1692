"""Which characters untrusted text may carry, defined once for every layer.

Campaign files may come from the people a campaign targets. Control characters
would drive the activist's terminal; invisible and direction-changing characters
let a name, a subject or an address read differently from what it is, or hide
data in a letter (a zero-width space per bit). Headers refuse the whole class;
letters refuse the direction overrides and isolates (they reorder what the
official reads) but keep joiners, which Persian, Indic scripts and emoji need;
previews show every invisible character as ``<U+XXXX>``.
"""

from __future__ import annotations

import re
import unicodedata

TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""C0 and C1 controls but tab and newline: ESC and CSI sequences drive a terminal."""

ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""Every C0 and C1 control character, tab and newline included."""

_CONTROL_RUN = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def one_line(text: str) -> str:
    """Untrusted text (a server's or an endpoint's words) as one plain line: each run of
    control characters, C1 and CSI (U+009B) included, becomes one space."""
    return _CONTROL_RUN.sub(" ", text).strip()


DIRECTION_OVERRIDES = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Embeddings, overrides and isolates (LRE RLE PDF LRO RLO LRI RLI FSI PDI): the
"Trojan Source" characters, which make text display in an order other than its own."""

_INVISIBLE_EXTRA = frozenset(
    "\u034f"  # COMBINING GRAPHEME JOINER (Mn)
    "\u115f\u1160\u3164\uffa0"  # Hangul fillers: letters that draw nothing
    "\u2800"  # BRAILLE PATTERN BLANK
    "\u180b\u180c\u180d\u180f"  # Mongolian free variation selectors (Mn)
)
_VARIATION_SELECTORS = re.compile(r"[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"})


def is_invisible(char: str) -> bool:
    """A character that draws nothing or changes how its neighbours draw.

    Format characters (Cf: zero-width spaces and joiners, bidi marks, overrides and
    isolates, U+061C, U+180E, U+FEFF, U+FFF9-U+FFFB, the U+E0000 tag block), line and
    paragraph separators, controls, private-use and unassigned code points, variation
    selectors, and the letters that draw as blanks (Hangul fillers, the Braille blank).
    """
    return (
        char in _INVISIBLE_EXTRA
        or unicodedata.category(char) in _INVISIBLE_CATEGORIES
        or _VARIATION_SELECTORS.match(char) is not None
    )


def first_invisible(text: str) -> str | None:
    """The first invisible character in ``text``, if any; ASCII text is checked fast."""
    if text.isascii():
        found = ANY_CONTROL.search(text)
        return found.group() if found else None
    return next((char for char in text if is_invisible(char)), None)


def first_override(text: str) -> str | None:
    """The first direction override, embedding or isolate in ``text``, if any."""
    if text.isascii():
        return None
    return next((char for char in text if char in DIRECTION_OVERRIDES), None)


_JSON_UNSAFE = re.compile(r"[\x7f-\U0010ffff]")


def _json_escape(found: re.Match[str]) -> str:
    char = found.group()
    if not is_invisible(char):
        return char
    code = ord(char)
    if code > 0xFFFF:  # JSON escapes a code point beyond the BMP as a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def json_visible(dumped: str) -> str:
    """JSON text (as ``json.dumps`` writes it) with every invisible character escaped.

    ``json.dumps`` escapes only C0 controls, so DEL, C1 controls (U+009B is CSI, which
    a terminal acts on), direction overrides and zero-width characters would reach a
    terminal through ``| jq`` as they are. Escaped as ``\\u009b`` they decode to the
    same strings, and outside strings JSON has only ASCII, so the text stays valid.
    """
    return _JSON_UNSAFE.sub(_json_escape, dumped)


def codepoint(char: str) -> str:
    """``U+200B ZERO WIDTH SPACE``: how messages name a character nobody can see."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def visible(text: str) -> str:
    """Untrusted text for a terminal: controls as ``\\x1b``, invisibles as ``<U+200B>``.

    Tab and newline stay (a letter has lines), as do ordinary spaces.
    """
    text = TERMINAL_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    if text.isascii():
        return text
    return "".join(f"<U+{ord(c):04X}>" if c not in "\t\n" and is_invisible(c) else c for c in text)
