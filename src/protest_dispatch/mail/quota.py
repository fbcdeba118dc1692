"""Provider sending limits, counted in recipients across runs from the send log.

Providers count every To, Cc and Bcc address; going over gets a mailbox
suspended, so a run sends what fits and says when the rest can go.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from protest_dispatch.sendlog.store import SendLog, parse_time

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class Quota:
    def __init__(
        self,
        *,
        log: SendLog,
        sender: str,
        per_hour: int | None,
        per_day: int | None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.per_hour = per_hour
        self.per_day = per_day
        self.clock = clock
        self.used: deque[tuple[datetime, int]] = deque(
            (parse_time(at), n) for at, n in log.usage_since(sender=sender, since=self.now - DAY)
        )
        self.blocked_until: datetime | None = None

    @property
    def now(self) -> datetime:
        return self.clock()

    def used_in(self, window: timedelta) -> int:
        """Recipients counted in the last ``window``."""
        start = self.now - window
        return sum(n for at, n in self.used if at > start)

    def take(self, recipients: int) -> bool:
        """Count ``recipients`` against the limits if they fit; otherwise say when they will."""
        for limit, window in ((self.per_hour, HOUR), (self.per_day, DAY)):
            if limit is not None and self.used_in(window) + recipients > limit:
                self.blocked_until = self._free_at(limit, window, recipients)
                return False
        self.used.append((self.now, recipients))
        return True

    def _free_at(self, limit: int, window: timedelta, recipients: int) -> datetime:
        """When enough earlier sending leaves the window for ``recipients`` more."""
        start = self.now - window
        in_window = sorted((at, n) for at, n in self.used if at > start)
        total = sum(n for _, n in in_window)
        for at, n in in_window:
            total -= n
            if total + recipients <= limit:
                return at + window
        return self.now + window
