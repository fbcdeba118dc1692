"""The call sheet: whom to phone, what time it is there, what to say, and how it went.

A call stays on the sheet until someone logs that they reached the person: a
voicemail or no answer is a call still to make.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from protest_dispatch.campaign.audience import Selected
from protest_dispatch.campaign.model import Target
from protest_dispatch.errors import InputError, NoSenderError
from protest_dispatch.sendlog.calls import CallLog
from protest_dispatch.sendlog.store import Call, SendLog
from protest_dispatch.vocabulary import CallOutcome

if TYPE_CHECKING:  # status uses this module without loading the letters machinery
    from protest_dispatch.commands.session import Session

MAX_CALL_NOTE = 2000


@dataclass(frozen=True)
class LocalTime:
    zone: str
    now: datetime


@dataclass(frozen=True)
class Office:
    """The target's office hours as written, and whether the office is open at the moment."""

    hours: str
    zone: str
    open_now: bool
    opens_at: datetime | None
    """When it next opens (UTC), if it is closed now."""


@dataclass(frozen=True)
class SheetRow:
    target: Target
    local: LocalTime | None
    script: str
    calls: tuple[Call, ...]
    office: Office | None = None

    @property
    def last(self) -> Call | None:
        return self.calls[-1] if self.calls else None

    @property
    def reached(self) -> bool:
        return self.last is not None and self.last.outcome == CallOutcome.REACHED


@dataclass(frozen=True)
class Sheet:
    campaign: str
    rows: tuple[SheetRow, ...]
    hidden_reached: int
    """Targets already reached, left off the sheet (shown with --all)."""

    @property
    def to_make(self) -> int:
        return sum(1 for r in self.rows if not r.reached)


def phone_targets(session: Session, *, all_phones: bool) -> list[Selected]:
    """Call-only targets for this sender; with ``all_phones``, letter targets with a phone too."""
    audience = session.composer.audience
    chosen = list(audience.calls)
    if all_phones:
        chosen += [s for s in audience.letters if s.target.phone]
    return sorted(chosen, key=lambda s: s.index)


def latest_calls(
    log: SendLog | None, *, campaign: str, sender: str | None
) -> dict[str, list[Call]]:
    """Each target's logged calls, oldest first."""
    return by_target(CallLog(log).all(campaign=campaign, sender=sender) if log is not None else ())


def by_target(calls: Iterable[Call]) -> dict[str, list[Call]]:
    grouped: dict[str, list[Call]] = {}
    for call in calls:
        grouped.setdefault(call.target, []).append(call)
    return grouped


def is_reached(calls: Sequence[Call]) -> bool:
    """A target is done once its latest call reached someone; until then it stays on the sheet."""
    return bool(calls) and calls[-1].outcome == CallOutcome.REACHED


def build(
    *,
    session: Session,
    log: SendLog | None,
    all_phones: bool,
    now: datetime | None = None,
) -> Sheet:
    moment = now or datetime.now(UTC)
    sender = None if session.placeholder else session.sender.email
    logged = latest_calls(log, campaign=session.campaign_id, sender=sender)
    rows: list[SheetRow] = []
    hidden = 0
    for selected in phone_targets(session, all_phones=all_phones):
        target = selected.target
        calls = tuple(logged.get(target.id, ()))
        if is_reached(calls) and not all_phones:
            hidden += 1
            continue
        rows.append(
            SheetRow(
                target=target,
                local=local_time(target, now=moment),
                script=session.composer.call_script(selected),
                calls=calls,
                office=office(target, session=session, now=moment),
            )
        )
    return Sheet(campaign=session.campaign_id, rows=tuple(rows), hidden_reached=hidden)


def office(target: Target, *, session: Session, now: datetime) -> Office | None:
    """Open now, or when it opens: the same parsed hours the send window uses."""
    from protest_dispatch.campaign.schedule import hours_of

    hours = hours_of(target, session.loaded.campaign.campaign)
    if hours is None:
        return None
    window = hours.hours.window(zone=hours.zone, now=now)
    open_now = window is not None and now in window
    return Office(
        hours=hours.hours.text,
        zone=hours.zone,
        open_now=open_now,
        opens_at=None if open_now or window is None else window.start,
    )


def unreached(session: Session, log: SendLog) -> list[Target]:
    """This sender's call targets nobody has logged as reached."""
    logged = latest_calls(log, campaign=session.campaign_id, sender=session.sender.email)
    return [
        s.target
        for s in session.composer.audience.calls
        if not is_reached(logged.get(s.target.id, []))
    ]


def clean_note(note: str | None) -> str | None:
    if note is None or not note.strip():
        return None
    note = note.strip()
    if len(note) > MAX_CALL_NOTE:
        raise InputError(f"The note is {len(note)} characters long; keep it under {MAX_CALL_NOTE}.")
    return note


def require_sender(session: Session) -> None:
    """Calls are logged per sender, like letters: a placeholder cannot have made one."""
    if session.placeholder:
        raise NoSenderError(so="the call cannot be recorded")


def find_target(session: Session, target_id: str) -> Target:
    """A target on this sender's call sheet (with ``--all``), by id."""
    on_sheet = {s.target.id: s.target for s in phone_targets(session, all_phones=True)}
    if target_id in on_sheet:
        return on_sheet[target_id]
    listed = ", ".join(on_sheet) or "none"
    hint = f"Targets on your call sheet: {listed}. See 'protest calls --all'."
    target = next((t for t in session.loaded.campaign.targets if t.id == target_id), None)
    if target is None:
        why = f"'{target_id}' is not a target of campaign {session.campaign_id}."
    elif target.phone is None:
        why = f"The target '{target_id}' has no phone number, so there is no call to record."
    else:
        why = (
            f"The target '{target_id}' is not on your call sheet: it is only for senders "
            f"in {target.country}."
        )
    raise InputError(why, hint=hint)


@dataclass(frozen=True)
class Recorded:
    call: Call
    target: Target
    left: int
    """Calls still to make for this sender after this one."""


def record_call(
    *, session: Session, log_path: Path, target_id: str, outcome: CallOutcome, note: str | None
) -> Recorded:
    """Log a call the sender made; refused for anything not on their call sheet."""
    require_sender(session)
    target = find_target(session, target_id)
    clean = clean_note(note)
    with SendLog.open(path=log_path) as sendlog:
        call = CallLog(sendlog).record(
            campaign=session.campaign_id,
            target=target.id,
            sender=session.sender.email,
            outcome=outcome,
            note=clean,
        )
        left = len(unreached(session, sendlog))
    return Recorded(call=call, target=target, left=left)


# -- local time -------------------------------------------------------------------


def local_time(target: Target, *, now: datetime) -> LocalTime | None:
    zone = target.timezone or (
        zone_for_country(target.country, now=now) if target.country else None
    )
    if zone is None:
        return None
    try:
        return LocalTime(zone=zone, now=now.astimezone(zoneinfo.ZoneInfo(zone)))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def zone_for_country(country: str, *, now: datetime) -> str | None:
    """The country's zone if its clocks all agree right now (one zone, or several in step)."""
    zones = country_zones().get(country.upper(), ())
    offsets = set()
    for name in zones:
        try:
            offsets.add(now.astimezone(zoneinfo.ZoneInfo(name)).utcoffset())
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return None
    return zones[0] if zones and len(offsets) == 1 else None


@functools.cache
def country_zones() -> dict[str, tuple[str, ...]]:
    """Country code to zones, from the tz database's zone.tab (or zone1970.tab)."""
    for name in ("zone.tab", "zone1970.tab"):
        text = _tz_table(name)
        if text is not None:
            return _parse_zone_table(text.splitlines())
    return {}


def _tz_table(name: str) -> str | None:
    for folder in zoneinfo.TZPATH:
        path = Path(folder) / name
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    try:
        from importlib.resources import files

        return files("tzdata").joinpath("zoneinfo", name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, OSError, UnicodeDecodeError):
        return None


def _parse_zone_table(lines: Iterable[str]) -> dict[str, tuple[str, ...]]:
    zones: dict[str, list[str]] = {}
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            continue
        for code in fields[0].split(","):
            zones.setdefault(code.strip().upper(), []).append(fields[2].strip())
    return {code: tuple(names) for code, names in zones.items()}
