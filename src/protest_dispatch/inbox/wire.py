"""What the IMAP server may send us: bounded in time, in size, and in its numbers.

The server is the activist's provider, but its answers are still input. imaplib
(under imapclient) reads a literal of any announced size into memory and waits
as long as bytes trickle in. Here every exchange (a command and its whole answer,
or the greeting) has a total deadline, not only a time-out per read; an answer
may hold at most :attr:`Limits.exchange_bytes`; a literal larger than
:attr:`Limits.literal_bytes` is read past in small pieces, never kept, and stands
as :data:`OVERSIZED` so the reader can skip that one message; and every number
the scan uses (UIDVALIDITY, UIDNEXT, UIDs) must be an IMAP number, 1 to 2^32 - 1.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_NUMBER = 2**32 - 1
"""RFC 3501 and RFC 9051: UIDs, UIDVALIDITY and UIDNEXT are 32-bit unsigned numbers."""
OVERSIZED = b"\x00protest: literal of %d bytes not read\x00"
_OVERSIZED = re.compile(rb"\x00protest: literal of (\d{1,20}) bytes not read\x00")


class BadAnswer(Exception):
    """The server's answer cannot be used: a number out of range, an answer too big."""


class ExchangeTimeout(TimeoutError):
    """The server did not finish an answer within the exchange's total deadline."""


@dataclass
class Limits:
    """The bounds of one connection; the clock is injected for tests."""

    exchange_seconds: float = 300.0
    """Total time for one command's whole answer (a batch of 20 messages of 2 MB is
    40 MB: five minutes is 1 Mbit/s)."""
    literal_bytes: int = 2 * 1024 * 1024
    """The largest literal kept: the most of one message ``scan`` asks for."""
    exchange_bytes: int = 64 * 1024 * 1024
    """The most one answer may hold in memory (a batch of bodies is at most 40 MB)."""
    read_timeout: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _deadline: float = field(default=0.0, init=False)
    _received: int = field(default=0, init=False)

    def start(self) -> None:
        self._deadline = self.clock() + self.exchange_seconds
        self._received = 0

    def remaining(self) -> float:
        left = self._deadline - self.clock()
        if left <= 0:
            raise ExchangeTimeout(
                f"it did not finish answering within {self.exchange_seconds:g} seconds"
            )
        return left

    def count(self, size: int) -> None:
        self._received += size
        if self._received > self.exchange_bytes:
            raise BadAnswer(
                f"it sent more than {self.exchange_bytes // (1024 * 1024)} MB in answer to "
                "one command"
            )


def oversized(value: object) -> int | None:
    """The announced size of a literal that was not read, if ``value`` stands for one."""
    if not isinstance(value, bytes) or len(value) > 64:
        return None
    found = _OVERSIZED.fullmatch(value)
    return int(found.group(1)) if found else None


def number(value: object, *, name: str) -> int:
    """An IMAP number from the server, checked: 1 to 2^32 - 1, else :class:`BadAnswer`."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    if isinstance(value, int) or (text.isascii() and text.isdigit() and len(text) <= 10):
        found = int(text)
        if 1 <= found <= MAX_NUMBER:
            return found
    raise BadAnswer(f"its {name} {text[:40]!r} is not a number from 1 to {MAX_NUMBER}")
