"""How a run sends: connections, pace and tries, with their defaults defined once.

The CLI shows these defaults in ``--help`` and imports this module at start-up, so
it imports nothing but the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SendOptions:
    concurrency: int = 2
    """SMTP connections at once, each reused for many letters."""
    rate: float = 20.0
    """Letters per minute across all connections, evenly spaced; 0 is no cap."""
    attempts: int = 3
    """Tries per letter within a run on temporary errors."""
    test: bool = False
    """Every letter to the sender only, subject [TEST], not recorded as sent."""
    campaign_sha256: str | None = None
    """The campaign copy's fingerprint, recorded with every letter (issue 20)."""
