"""``protest replies`` and ``protest followup``: the officials' answers, found or told.

Replies are numbered 1, 2, ... in the order they were recorded, across campaigns,
so a number stays the same when new replies arrive and ``--show N`` works with or
without ``--campaign``. ``followup`` asks about letters sent at least
:data:`FOLLOWUP_DAYS` days ago that have neither a reply nor an answer yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from protest_dispatch.commands.log_access import existing_log, log_path
from protest_dispatch.errors import InputError
from protest_dispatch.sendlog.findings import Finding, FindingLog, followup_finding
from protest_dispatch.sendlog.store import Entry, SendLog, parse_time
from protest_dispatch.settings.config import Config
from protest_dispatch.vocabulary import FindingKind, LetterStatus

FOLLOWUP_DAYS = 14
ANSWERED = frozenset({FindingKind.REPLY, FindingKind.NO_REPLY})


def numbered_replies(
    *, config_path: Path | None, log: Path | None, campaign: str | None
) -> list[tuple[int, Finding]]:
    """(number, reply) for every reply found in the mailbox, of ``campaign`` if given."""
    with existing_log(log=log, config=Config.load(path=config_path)) as (_, sendlog):
        if sendlog is None:
            return []
        found = FindingLog(sendlog).replies()
    return [
        (number, f) for number, f in enumerate(found, start=1) if campaign in (None, f.campaign)
    ]


def one_reply(*, config_path: Path | None, log: Path | None, number: int) -> Finding:
    listed = dict(numbered_replies(config_path=config_path, log=log, campaign=None))
    if number not in listed:
        raise InputError(
            f"There is no reply number {number}"
            + (f"; the replies are numbered 1 to {len(listed)}." if listed else "; none yet."),
            hint="Run 'protest replies' to see the numbers.",
        )
    return listed[number]


@dataclass(frozen=True)
class Unanswered:
    entry: Entry
    sent_at: datetime


def unanswered(
    log: SendLog, *, campaign: str | None, now: datetime, days: int = FOLLOWUP_DAYS
) -> list[Unanswered]:
    """Sent letters at least ``days`` old with no reply found and no answer recorded.

    A letter whose To address bounced is left out: it never reached the official.
    """
    findings = FindingLog(log).by_letter(campaign=campaign)
    due: list[Unanswered] = []
    for entry in log.entries(campaign=campaign, status=LetterStatus.SENT):
        sent_at = parse_time(entry.updated_at)
        if sent_at > now - timedelta(days=days):
            continue
        mine = findings.of(entry)
        if any(f.kind in ANSWERED or f.permanent_bounce for f in mine):
            continue
        due.append(Unanswered(entry=entry, sent_at=sent_at))
    return due


@contextmanager
def open_followup(
    *, config_path: Path | None, log: Path | None
) -> Iterator[tuple[SendLog | None, Config]]:
    config = Config.load(path=config_path)
    path = log_path(log=log, config=config)
    if not path.exists():
        yield None, config
        return
    with SendLog.open(path=path) as sendlog:
        yield sendlog, config


def record_answer(log: SendLog, item: Unanswered, *, replied: bool, now: datetime) -> Finding:
    kind = FindingKind.REPLY if replied else FindingKind.NO_REPLY
    finding = followup_finding(item.entry, kind=kind, at=now.astimezone(UTC))
    FindingLog(log).record([finding])
    return finding
