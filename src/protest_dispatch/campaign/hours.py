"""Office hours: a small checked grammar, and when a target's office is open.

``office_hours`` is one or more spans separated by ``;``. A span is
``HH:MM-HH:MM`` (24-hour; ``24:00`` may end a span; the end after the start),
optionally with days: ``Mon-Fri``, ``Mon,Wed,Fri``, ``Sat`` (before or after the
times). Without days a span means Mon-Fri. So ``09:00-18:00 Mon-Fri`` and
``09:00-13:00; 14:00-18:00 Mon-Thu; 09:00-12:00 Fri`` are both office hours.

Times are local to the target's ``timezone``; windows are computed day by day in
that zone, so a change of clocks moves them as it moves the office.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WEEKDAYS = frozenset(range(5))
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_TIMES = re.compile(r"(\S+?)\s*-\s*(\S+:\S+)")
_DAY_RANGE = re.compile(r"([A-Za-z]+)\s*-\s*([A-Za-z]+)")
MAX_SPANS = 50
DAY = 24 * 60


@dataclass(frozen=True)
class Span:
    start: int
    """Minutes after local midnight."""
    end: int
    days: frozenset[int]
    """0 is Monday, as in ``date.weekday()``."""


@dataclass(frozen=True)
class Window:
    """One opening of an office, in UTC: ``start`` <= moment < ``end``."""

    start: datetime
    end: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True)
class OfficeHours:
    text: str
    spans: tuple[Span, ...]

    def window(self, *, zone: str, now: datetime) -> Window | None:
        """The window open at ``now``, else the next one to open (within a week)."""
        tz = ZoneInfo(zone)
        today = now.astimezone(tz).date()
        for offset in range(-1, 9):
            for window in self._windows_on(today + timedelta(days=offset), tz):
                if now < window.end:
                    return window
        return None

    def _windows_on(self, day: date, tz: ZoneInfo) -> list[Window]:
        """That day's spans, merged where they touch or overlap, earliest first."""
        spans = sorted((s.start, s.end) for s in self.spans if day.weekday() in s.days)
        merged: list[list[int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return [Window(_at(day, start, tz), _at(day, end, tz)) for start, end in merged]


def _at(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    if minutes == DAY:
        return _at(day + timedelta(days=1), 0, tz)
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=tz)
    return local.astimezone(UTC)


def parse_office_hours(text: str) -> OfficeHours:
    """The spans, or a ValueError saying which part is wrong and how to write it."""
    parts = [part.strip() for part in text.split(";")]
    if not any(parts):
        raise ValueError(f"is empty; {_EXAMPLE}")
    if len(parts) > MAX_SPANS:
        raise ValueError(f"has {len(parts)} spans; at most {MAX_SPANS} are allowed")
    spans = []
    for number, part in enumerate(parts, 1):
        where = f"span {number} ('{part}')" if len(parts) > 1 else f"'{part}'"
        if not part:
            raise ValueError(f"span {number} is empty (two ';' in a row?); {_EXAMPLE}")
        try:
            spans.append(_span(part))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    return OfficeHours(text=text, spans=tuple(spans))


_EXAMPLE = 'write spans like "09:00-18:00 Mon-Fri" or "09:00-13:00; 14:00-17:00 Mon,Wed"'


def _span(part: str) -> Span:
    found = list(_TIMES.finditer(part))
    if len(found) != 1:
        raise ValueError(f"needs one time range HH:MM-HH:MM; {_EXAMPLE}")
    times = found[0]
    start = _minutes(times.group(1), end=False)
    end = _minutes(times.group(2), end=True)
    if end <= start:
        raise ValueError(
            f"ends at {times.group(2)}, not after it starts ({times.group(1)}); a span "
            'cannot run past midnight: split it into two, like "22:00-24:00 Mon; '
            '00:00-02:00 Tue"'
        )
    days_text = (part[: times.start()] + " " + part[times.end() :]).strip()
    return Span(start=start, end=end, days=_days(days_text) if days_text else _WEEKDAYS)


def _minutes(text: str, *, end: bool) -> int:
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"'{text}' is not a time like 09:00 (24-hour HH:MM)")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if end and (hours, minutes) == (24, 0):
        return DAY
    if hours > 23 or minutes > 59:
        allowed = " (24:00 may only end a span)" if hours == 24 else ""
        raise ValueError(f"'{text}' is not a time of day: hours 00-23, minutes 00-59{allowed}")
    return hours * 60 + minutes


def _days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for item in (i.strip() for i in text.split(",")):
        ranged = _DAY_RANGE.fullmatch(item)
        if ranged:
            first, last = _day(ranged.group(1)), _day(ranged.group(2))
            days.update((first + n) % 7 for n in range((last - first) % 7 + 1))
        else:
            days.add(_day(item))
    return frozenset(days)


def _day(name: str) -> int:
    for number, known in enumerate(DAY_NAMES):
        if name.strip().lower() == known.lower():
            return number
    raise ValueError(
        f"'{name.strip()}' is not a day; use {', '.join(DAY_NAMES)}, a range like Mon-Fri "
        "or a list like Mon,Wed,Fri"
    )
