"""When letters may go: the campaign's dates, ``closed``, send windows and the spread.

Everything here takes the moment as an argument: the caller's clock decides, so
tests inject one and nothing reads the machine's time zone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from protest_dispatch.campaign.choice import fraction
from protest_dispatch.campaign.hours import OfficeHours, Window, parse_office_hours
from protest_dispatch.campaign.model import Campaign, CampaignInfo, Target
from protest_dispatch.campaign.problems import Where
from protest_dispatch.errors import Problem
from protest_dispatch.vocabulary import CampaignPhase, SendWindow


@dataclass(frozen=True)
class Phase:
    """Whether the campaign takes letters now, and if not, why."""

    phase: CampaignPhase
    opens_at: datetime | None = None
    """Before ``starts``: when it opens (00:00 UTC that day)."""
    ended_on: date | None = None
    closed: str | None = None
    """The organiser's text when the campaign is closed (untrusted: escape it)."""

    @property
    def sending(self) -> bool:
        return self.phase is CampaignPhase.OPEN


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def campaign_phase(info: CampaignInfo, *, now: datetime) -> Phase:
    """``closed`` wins over the dates; ``ends`` is the last day letters go (UTC)."""
    if info.closed is not None:
        return Phase(CampaignPhase.CLOSED, closed=info.closed)
    if info.starts is not None and now < midnight(info.starts):
        return Phase(CampaignPhase.NOT_STARTED, opens_at=midnight(info.starts))
    if info.ends is not None and now >= midnight(info.ends + timedelta(days=1)):
        return Phase(CampaignPhase.ENDED, ended_on=info.ends)
    return Phase(CampaignPhase.OPEN)


@dataclass(frozen=True)
class Hours:
    """A target's office hours with the zone they are in (its own, or the campaign's)."""

    hours: OfficeHours
    zone: str


def hours_of(target: Target, info: CampaignInfo) -> Hours | None:
    text = target.office_hours or info.office_hours
    zone = target.timezone or info.timezone
    if text is None or zone is None:
        return None
    return Hours(hours=parse_office_hours(text), zone=zone)


@dataclass(frozen=True)
class Waiting:
    """A letter that waits for its window: not deferred, failed or attempted."""

    target: str
    opens_at: datetime
    """The window's opening (UTC); in the past when the letter waits for its spread."""
    not_before: datetime
    """The opening plus this sender's spread offset: the letter goes from then on."""
    zone: str | None
    """The target's time zone, to say the opening in its local time too."""


def waiting(*, info: CampaignInfo, target: Target, sender: str, now: datetime) -> Waiting | None:
    """Whether this sender's letter to ``target`` must wait, and until when; None: it goes."""
    window: Window | None = None
    zone: str | None = None
    if info.send_window is SendWindow.OFFICE_HOURS:
        hours = hours_of(target, info)
        if hours is not None:
            zone = hours.zone
            window = hours.hours.window(zone=zone, now=now)
    elif info.spread is not None and info.starts is not None:
        start = midnight(info.starts)
        window = Window(start=start, end=start + info.spread)
    if window is None:
        return None
    offset = timedelta(0)
    if info.spread is not None:
        share = fraction(campaign=info.id, sender=sender, target=target.id, key="spread")
        offset = min(info.spread, window.end - window.start) * share
    not_before = window.start + offset
    if not_before <= now < window.end or (info.send_window is SendWindow.ANY and now >= not_before):
        return None
    return Waiting(target=target.id, opens_at=window.start, not_before=not_before, zone=zone)


def schedule_problems(
    path: Path, campaign: Campaign, lines: Mapping[Where, int]
) -> Iterator[Problem]:
    """Rules across fields: hours need a zone; an office-hours window needs hours."""
    info = campaign.campaign
    if info.office_hours is not None and info.timezone is None:
        yield Problem(
            file=path,
            line=lines.get(("campaign", "office_hours")),
            field="campaign.timezone",
            message="'office_hours' is set for the campaign, so it needs a 'timezone' too "
            "(like Asia/Almaty): office hours are local times",
        )
    for index, target in enumerate(campaign.targets):
        if target.office_hours is not None and target.timezone is None and info.timezone is None:
            yield Problem(
                file=path,
                line=lines.get(("targets", index, "office_hours")),
                target=target.id,
                field="timezone",
                message="has 'office_hours', so it needs a 'timezone' (like Asia/Almaty), "
                "or set campaign.timezone for every target",
            )
        elif (
            info.send_window is SendWindow.OFFICE_HOURS
            and target.email is not None
            and not (target.office_hours or info.office_hours)
        ):
            yield Problem(
                file=path,
                line=lines.get(("targets", index)),
                target=target.id,
                field="office_hours",
                message="the campaign sends only in office hours (send_window: office_hours), "
                "but this target has none; set its 'office_hours' and 'timezone', or "
                "campaign.office_hours and campaign.timezone for every target",
            )
    if info.spread is not None and info.send_window is SendWindow.ANY and info.starts is None:
        yield Problem(
            file=path,
            line=lines.get(("campaign", "spread")),
            field="campaign.spread",
            message="a spread counts from a window's opening: set 'send_window: office_hours', "
            "or a 'starts' date to count from",
        )
