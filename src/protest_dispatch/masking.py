"""Hide every secret, in every form it may come back in, before server text is shown.

A server may echo what it got: ``535 5.7.8 authentication failed for [PLAIN
AGFuYQBodW50ZXIy...]`` carries the password as base64, a token endpoint may say
"the refresh token <rt> was revoked", and either may split the secret over two
reply lines. So a :class:`Masker` knows each secret of a session (the password,
the access and refresh tokens, the client secret, the mailbox password) and each
argument that went on the wire (base64), and masks:

- the secret as written, and its base64 in each of the three alignments it can have
  inside a longer string (standard and URL-safe alphabets);
- any fragment of 8 or more characters of any of these forms, with or without
  ``=`` padding;
- a form split over lines or spaces: a run of characters that ends a line is read
  together with the run that starts the next one (after an SMTP reply code such as
  ``535-5.7.8``), so the 3 characters left on one line are masked with the rest on
  the next. Every character of a fragment that is 8 long once its pieces are
  joined is masked, however short each piece.

An empty or whitespace-only secret is never a pattern (it would match everywhere).
"""

from __future__ import annotations

import base64
import bisect
import re
from collections.abc import Iterable

MASK = "********"
FRAGMENT = 8
"""A fragment this long (6 bytes of base64) is masked wherever a secret's form holds it."""

_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]+")
_WORD_RUN = re.compile(r"\S+")
_REPLY_CODE = re.compile(r"(?m)^[ \t]*(?:\d{3}[ -])?(?:\d\.\d{1,3}\.\d{1,3}(?=\s|$))?")
"""What a continued reply line starts with: ``535-``, ``5.7.8``, both, or nothing."""
_GLUE = re.compile(r"[ \t]*(?:\r?\n[ \t]*)?")
"""Between two pieces of one split secret: spaces, or one line break."""
_PADDING = re.compile(re.escape(MASK) + r"(?:\s*=)+")
_URLSAFE = str.maketrans("+/", "-_")


def base64_forms(secret: str) -> list[str]:
    """The base64 of ``secret`` in each of the three alignments it can have in a longer
    string, less the characters it shares with its neighbours, in both alphabets."""
    data = secret.encode("utf-8")
    forms = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode("ascii").rstrip("=")
        first = -(-8 * offset // 6)  # the first character holding no bit of the neighbour
        last = len(encoded) - (1 if (offset + len(data)) % 3 else 0)
        forms.append(encoded[first:last])
    return forms


class Masker:
    """Masks one session's secrets; tell it each secret and each argument sent."""

    def __init__(self, *secrets: str | None) -> None:
        self._literals: list[str] = []
        self._forms: list[str] = []
        self._grams: set[str] = set()
        self._shorts: set[str] = set()
        self._word_grams: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """A secret as the user has it (password, token): masked as written and as base64."""
        if secret is None or not secret.strip() or secret in self._literals:
            return
        self._literals.append(secret)
        self._literals.sort(key=len, reverse=True)  # a longer secret first: it may hold another
        compact = "".join(secret.split())  # as pieces joined across spaces and lines read
        if len(compact) >= FRAGMENT:
            self._word_grams.update(_grams(compact, FRAGMENT))
        for form in base64_forms(secret):
            self._remember(form)
            self._remember(form.translate(_URLSAFE))

    def remember(self, argument: str) -> None:
        """An argument that went to the server as it was sent (an AUTH line's base64)."""
        core = argument.strip().rstrip("=").strip()
        self._remember(core)
        self._remember(core.translate(_URLSAFE))

    def _remember(self, core: str) -> None:
        if core and core not in self._forms:
            self._forms.append(core)
            if len(core) >= FRAGMENT:
                self._grams.update(_grams(core, FRAGMENT))
            else:
                self._shorts.add(core)

    def __call__(self, text: str) -> str:
        if not self._literals and not self._forms:
            return text
        spans = _covered(text, _BASE64_RUN, self._grams, self._shorts)
        spans += _covered(text, _WORD_RUN, self._word_grams, set())
        text = _replace(text, spans)
        for literal in self._literals:  # last: a short one could cut a form in two
            text = text.replace(literal, MASK)
        return _PADDING.sub(MASK, text)


def _grams(form: str, size: int) -> set[str]:
    return {form[i : i + size] for i in range(len(form) - size + 1)}


def _covered(
    text: str, run: re.Pattern[str], grams: set[str], shorts: set[str]
) -> list[tuple[int, int]]:
    """The spans of ``text`` inside a fragment of a form, with split pieces joined.

    ``grams`` are the 8-character fragments of the long forms; a form shorter than that
    (``shorts``) is masked only where whole pieces make it up exactly, so a 2-character
    argument does not mask those 2 letters inside every word. Linear in the text: an
    endpoint's answer may be a megabyte.
    """
    if not grams and not shorts:
        return []
    codes = [m.span() for m in _REPLY_CODE.finditer(text) if m.end() > m.start()]
    code_starts = [start for start, _ in codes]
    spans: list[tuple[int, int]] = []
    chain: list[tuple[int, int]] = []
    for match in run.finditer(text):
        piece = match.span()
        at = bisect.bisect_right(code_starts, piece[0]) - 1
        if at >= 0 and piece[1] <= codes[at][1]:
            continue  # a reply code's digits, not a piece of anything
        if chain and not _joined(text, chain[-1][1], piece[0], codes, code_starts):
            spans += _hits(text, chain, grams, shorts)
            chain = []
        chain.append(piece)
    if chain:
        spans += _hits(text, chain, grams, shorts)
    return spans


def _joined(
    text: str, end: int, start: int, codes: list[tuple[int, int]], code_starts: list[int]
) -> bool:
    """Whether only spaces, a line break and a reply code lie between two pieces."""
    if start - end > 40:  # longer than any such gap
        return False
    gap = text[end:start]
    at = bisect.bisect_left(code_starts, end)
    while at < len(codes) and codes[at][0] < start:
        code_start, code_end = codes[at]
        if code_end <= start:
            gap = gap.replace(text[code_start:code_end], "", 1)
        at += 1
    return _GLUE.fullmatch(gap) is not None


def _hits(
    text: str, chain: list[tuple[int, int]], grams: set[str], shorts: set[str]
) -> list[tuple[int, int]]:
    """The parts of the pieces in ``chain`` that a fragment of a form covers."""
    joined = "".join(text[start:end] for start, end in chain)
    covered = [False] * len(joined)
    for i in range(len(joined) - FRAGMENT + 1):
        if joined[i : i + FRAGMENT] in grams:
            covered[i : i + FRAGMENT] = [True] * FRAGMENT
    starts = [0]
    for start, end in chain:
        starts.append(starts[-1] + end - start)
    for first in range(len(chain)):  # whole pieces that together make a short form
        for last in range(first + 1, len(chain) + 1):
            if starts[last] - starts[first] >= FRAGMENT:
                break
            if joined[starts[first] : starts[last]] in shorts:
                covered[starts[first] : starts[last]] = [True] * (starts[last] - starts[first])
    if not any(covered):
        return []
    spans = []
    offset = 0
    for start, end in chain:
        marks = covered[offset : offset + end - start]
        offset += end - start
        if any(marks):
            first = marks.index(True)
            last = len(marks) - marks[::-1].index(True)
            spans.append((start + first, start + last))
    return spans


def _replace(text: str, spans: Iterable[tuple[int, int]]) -> str:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        text = text[:start] + MASK + text[end:]
    return text
