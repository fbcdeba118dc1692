"""Provider sending limits, counted in recipients across runs from the send log.

Providers count every To, Cc and Bcc address; going over gets a mailbox
suspended, so a run sends what fits and says when the rest can go. The budget is
shared by every process and campaign that uses one send log: each letter's
recipients are reserved in one write transaction on the log before it is sent,
so two runs started in the same minute cannot both take the last places.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from protest_dispatch.sendlog.store import Reservation, SendLog, parse_time

if TYPE_CHECKING:
    from protest_dispatch.settings.model import Settings

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
        self.log = log
        self.sender = sender
        self.per_hour = per_hour
        self.per_day = per_day
        self.clock = clock
        self.blocked_until: datetime | None = None

    @classmethod
    def configured(cls, *, log: SendLog, sender: str, settings: Settings) -> Quota | None:
        """The sender's budget from ``limit_per_hour`` and ``limit_per_day``; None if neither."""
        per_hour, per_day = settings.limit_per_hour, settings.limit_per_day
        if not (per_hour or per_day):
            return None
        return cls(log=log, sender=sender, per_hour=per_hour, per_day=per_day)

    @property
    def now(self) -> datetime:
        return self.clock()

    def used_in(self, window: timedelta) -> int:
        """Recipients counted in the last ``window``, by every run on this log."""
        return sum(
            n
            for _, n in self._used(
                self.log.usage_since(sender=self.sender, since=self.now - window)
            )
        )

    def next_free(self, recipients: int = 1) -> datetime | None:
        """When ``recipients`` more may go, or None if they may go now; reserves nothing."""
        return self._blocked(self._used(self._recent()), recipients)

    def reserve(self, recipients: int) -> Reservation | None:
        """Take ``recipients`` from the budget if they fit, atomically across processes.

        Returns the reservation (give it to ``SendLog.begin`` or ``release`` it), or None
        and sets :attr:`blocked_until`.
        """
        now = self.now

        def fits(rows: Sequence[tuple[str, int]]) -> bool:
            self.blocked_until = self._blocked(self._used(rows), recipients, now=now)
            return self.blocked_until is None

        return self.log.reserve_usage(
            sender=self.sender, recipients=recipients, at=now, since=now - self._span, fits=fits
        )

    def release(self, reservation: Reservation) -> None:
        """Give back recipients reserved for a letter that was not attempted."""
        self.log.release_usage(reservation)

    @property
    def _span(self) -> timedelta:
        """The widest window a limit is set for: older usage cannot matter."""
        return DAY if self.per_day is not None else HOUR

    def _recent(self) -> list[tuple[str, int]]:
        return self.log.usage_since(sender=self.sender, since=self.now - self._span)

    @staticmethod
    def _used(rows: Sequence[tuple[str, int]]) -> list[tuple[datetime, int]]:
        return [(parse_time(at), n) for at, n in rows]

    def _blocked(
        self, used: list[tuple[datetime, int]], recipients: int, *, now: datetime | None = None
    ) -> datetime | None:
        moment = self.now if now is None else now
        for limit, window in ((self.per_hour, HOUR), (self.per_day, DAY)):
            start = moment - window
            in_window = sorted((at, n) for at, n in used if at > start)
            if limit is not None and sum(n for _, n in in_window) + recipients > limit:
                return _free_at(
                    in_window, limit=limit, window=window, recipients=recipients, now=moment
                )
        return None


def _free_at(
    in_window: list[tuple[datetime, int]],
    *,
    limit: int,
    window: timedelta,
    recipients: int,
    now: datetime,
) -> datetime:
    """When enough earlier sending leaves the window for ``recipients`` more."""
    total = sum(n for _, n in in_window)
    for at, n in in_window:
        total -= n
        if total + recipients <= limit:
            return at + window
    return now + window
