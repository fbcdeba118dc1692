"""Hide a password in every form it crossed the wire in, before server text is shown.

A server may echo what it got: ``535 5.7.8 authentication failed for [PLAIN
AGFuYQBodW50ZXIy...]`` carries the password as base64. So besides the literal
password, every AUTH argument sent is remembered and masked: whole, without its
``=`` padding, split across reply lines, and any fragment of it long enough to
carry a few bytes of the secret.
"""

from __future__ import annotations

import re

MASK = "********"

_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{8,}")
"""A fragment of 8+ base64 characters (6 bytes) is masked if an AUTH argument holds it."""


class Masker:
    """Masks one session's secrets; give it each AUTH argument as it is sent."""

    def __init__(self, *, password: str | None) -> None:
        self._literals = [password] if password else []
        self._sent: list[str] = []
        self._patterns: list[re.Pattern[str]] = []

    def remember(self, argument: str) -> None:
        """An AUTH argument (base64) or other secret that went to the server."""
        core = argument.strip().rstrip("=")
        if not core or core in self._sent:
            return
        self._sent.append(core)
        # whitespace (a folded or split reply) may fall between any two characters
        spaced = r"\s*".join(re.escape(c) for c in core)
        self._patterns.append(re.compile(spaced + r"(?:\s*=)*"))

    def __call__(self, text: str) -> str:
        for pattern in self._patterns:
            text = pattern.sub(MASK, text)
        if self._sent:
            text = _BASE64_RUN.sub(self._fragment, text)
        for literal in self._literals:
            text = text.replace(literal, MASK)
        return text

    def _fragment(self, match: re.Match[str]) -> str:
        found = match.group()
        return MASK if any(found in sent for sent in self._sent) else found
