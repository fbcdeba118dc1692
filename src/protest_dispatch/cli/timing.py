"""How the campaign's dates, ``closed`` and waiting letters look: send, calls and followup."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from protest_dispatch.cli import output
from protest_dispatch.vocabulary import CampaignPhase, ExitCode, SendWindow

if TYPE_CHECKING:
    from protest_dispatch.campaign.model import CampaignInfo
    from protest_dispatch.campaign.schedule import Phase, Waiting
    from protest_dispatch.commands.session import Session


def utc_z(moment: datetime) -> str:
    """ISO 8601 UTC with ``Z``, as every --json time."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def local_and_utc(moment: datetime, zone: str | None) -> str:
    """``Mon 7 Dec 09:00 Asia/Almaty (04:00 UTC)``; only UTC without a zone."""
    utc = f"{moment:%a %-d %b %H:%M} UTC"
    if zone is None:
        return utc
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%a %-d %b %H:%M} {zone} ({moment:%H:%M} UTC)"


def phase_sentence(session: Session, phase: Phase) -> str:
    campaign = session.campaign_id
    if phase.phase is CampaignPhase.CLOSED:
        return f"Campaign {campaign} is closed: {phase.closed}"
    if phase.phase is CampaignPhase.NOT_STARTED and phase.opens_at is not None:
        return (
            f"Campaign {campaign} has not started yet: it opens on "
            f"{phase.opens_at:%Y-%m-%d} (00:00 UTC). Nothing was sent."
        )
    return f"Campaign {campaign} ended on {phase.ended_on} (UTC). Nothing was sent."


def not_open(session: Session, *, phase: Phase, json: bool, quiet: bool) -> None:
    """``send`` when the campaign takes no letters: say why, send nothing, exit 0.

    A closed or ended campaign is said even with -q: it is what a cron job's owner
    needs to hear (and then remove the job); a campaign not yet open is not news.
    """
    if json:
        output.print_json(
            {
                "campaign": session.campaign_id,
                "sender": session.sender.email,
                "test": False,
                "exit_code": int(ExitCode.OK),
                "phase": str(phase.phase),
                "closed": phase.closed,
                "opens_at": utc_z(phase.opens_at) if phase.opens_at else None,
                "ended_on": phase.ended_on.isoformat() if phase.ended_on else None,
                "counts": {"sent": 0},
                "results": [],
                "waiting": [],
            }
        )
        return
    if quiet and phase.phase is CampaignPhase.NOT_STARTED:
        return
    output.say(phase_sentence(session, phase))
    if phase.phase is not CampaignPhase.NOT_STARTED:
        output.say(
            "Nothing was sent, and nothing more will be: if cron runs this, remove the "
            "line with 'crontab -e'."
        )


def said_closed(*, targets: Path | None, now: datetime) -> bool:
    """For commands that work without a campaign (followup): if the campaign given, or the
    ./targets.yaml here, is closed, say so and return True."""
    from protest_dispatch.campaign.loading import load_campaign
    from protest_dispatch.campaign.schedule import campaign_phase

    path = targets or Path("targets.yaml")
    if targets is None and not path.is_file():
        return False
    info = load_campaign(path=path).campaign.campaign
    state = campaign_phase(info, now=now)
    if state.closed is None:
        return False
    output.say(f"Campaign {info.id} is closed: {state.closed}")
    output.say("Nothing to follow up: the organisers have closed the campaign.")
    return True


def waiting_json(letters: Sequence[Waiting]) -> list[dict[str, Any]]:
    return [
        {
            "target": w.target,
            "opens_at": utc_z(w.opens_at),
            "not_before": utc_z(w.not_before),
            "timezone": w.zone,
        }
        for w in letters
    ]


def waiting_lines(letters: Sequence[Waiting], *, rows: int) -> None:
    """Each waiting letter and when it goes, in the target's time and in UTC."""
    if not letters:
        return
    output.say(
        f"{len(letters)} letter(s) wait for their office hours (not sent, not recorded; "
        "a later run sends them, --now sends them anyway):"
    )
    table = output.table(
        None,
        ("target", "window opens", "goes from"),
        (
            (
                w.target,
                local_and_utc(w.opens_at, w.zone),
                local_and_utc(w.not_before, w.zone),
            )
            for w in letters[:rows]
        ),
    )
    output.stderr.print(table)
    if len(letters) > rows:
        output.say(f"... and {len(letters) - rows} more.")


def outside_hours(letters: Sequence[Waiting], *, most: int = 5) -> None:
    """``send --now``: which letters go although they would wait."""
    if not letters:
        return
    ids = [w.target for w in letters]
    more = f" and {len(ids) - most} more" if len(ids) > most else ""
    output.warn(
        f"--now: {len(letters)} letter(s) go outside their officials' office hours or before "
        f"their spread offset ({', '.join(ids[:most])}{more})."
    )


def campaign_lines(info: CampaignInfo) -> list[str]:
    """What ``validate`` says of the campaign's dates, window, spread and ``closed``."""
    lines = []
    if info.starts or info.ends:
        starts = f"from {info.starts}" if info.starts else ""
        ends = f"until {info.ends} (inclusive)" if info.ends else ""
        lines.append(f"Letters go {' '.join(filter(None, (starts, ends)))}, in UTC.")
    if info.send_window is SendWindow.OFFICE_HOURS:
        lines.append("Letters go only in each target's office hours (send_window: office_hours).")
    if info.spread is not None:
        lines.append(
            f"Each sender's letter goes at a fixed moment within {_duration(info.spread)} "
            "of the window's opening (spread)."
        )
    if info.closed is not None:
        lines.append(f"The campaign is closed: {info.closed}")
    return lines


def _duration(span: Any) -> str:
    minutes = int(span.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return " ".join(
        filter(None, (f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""))
    )
