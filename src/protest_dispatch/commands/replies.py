"""``protest replies`` and ``protest followup``: the officials' answers, found or told.

Replies are numbered 1, 2, ... in the order they were recorded, across campaigns,
so a number stays the same when new replies arrive and ``--show N`` works with or
without ``--campaign``. ``followup`` asks about letters sent at least
:data:`FOLLOWUP_DAYS` days ago (posted at least :data:`POST_FOLLOWUP_DAYS` days ago:
post is slower) that have neither a reply nor an answer yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from protest_dispatch.commands.log_access import existing_log, log_path
from protest_dispatch.errors import InputError
from protest_dispatch.sendlog.findings import Finding, FindingLog, followup_finding, letter_key
from protest_dispatch.sendlog.posts import PostLog
from protest_dispatch.sendlog.records import Post
from protest_dispatch.sendlog.store import Entry, SendLog, parse_time
from protest_dispatch.settings.config import Config
from protest_dispatch.vocabulary import Channel, FindingKind, LetterStatus

FOLLOWUP_DAYS = 14
POST_FOLLOWUP_DAYS = 21
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
    """A letter sent (or posted) long enough ago with no answer known."""

    campaign: str
    target: str
    sender: str
    to: str
    """The address, or "by post"."""
    letter_id: str
    """The email's Message-ID, or ``post:`` and the day it was posted."""
    sent_at: datetime
    channel: Channel


def unanswered(
    log: SendLog,
    *,
    campaign: str | None,
    now: datetime,
    days: int = FOLLOWUP_DAYS,
    post_days: int = POST_FOLLOWUP_DAYS,
) -> list[Unanswered]:
    """Letters sent ``days`` (posted ``post_days``) ago or more with no answer found or told.

    A letter whose To address bounced is left out: it never reached the official.
    """
    return [
        item
        for item in waiting(log, campaign=campaign)
        if due(item, days=days, post_days=post_days) <= now
    ]


def first_due(
    log: SendLog,
    *,
    campaign: str | None,
    now: datetime,
    days: int = FOLLOWUP_DAYS,
    post_days: int = POST_FOLLOWUP_DAYS,
) -> tuple[Unanswered, datetime] | None:
    """The letter whose follow-up comes next (not due yet), and when it will be due."""
    later = [
        (due(item, days=days, post_days=post_days), item)
        for item in waiting(log, campaign=campaign)
    ]
    later = [(when, item) for when, item in later if when > now]
    if not later:
        return None
    when, first = min(later, key=lambda pair: pair[0])
    return first, when


def due(
    item: Unanswered, *, days: int = FOLLOWUP_DAYS, post_days: int = POST_FOLLOWUP_DAYS
) -> datetime:
    """When a letter counts as unanswered: post is slower than email."""
    return item.sent_at + timedelta(days=post_days if item.channel == Channel.POST else days)


def waiting(
    log: SendLog,
    *,
    campaign: str | None,
    sender: str | None = None,
    settled: frozenset[FindingKind] = ANSWERED,
) -> list[Unanswered]:
    """:func:`unanswered_of` the letters, posts and findings in the send log."""
    return unanswered_of(
        entries=log.entries(campaign=campaign, sender=sender, status=LetterStatus.SENT),
        posts=PostLog(log).all(campaign=campaign, sender=sender),
        findings=FindingLog(log).all(campaign=campaign, sender=sender),
        settled=settled,
    )


def unanswered_of(
    *,
    entries: Iterable[Entry],
    posts: Iterable[Post],
    findings: Iterable[Finding],
    settled: frozenset[FindingKind] = ANSWERED,
) -> list[Unanswered]:
    """Letters sent or posted with no finding of a ``settled`` kind and no bounce of their own.

    ``followup`` stops asking once told "no reply" (the default); ``status`` still counts
    such a letter as unanswered, so it passes only REPLY. A reply to any letter of the
    same campaign, official and sender answers them all: to one a resend replaced, or
    to the one on paper. ``status`` passes what it has read already; the rest, the log.
    """
    grouped: dict[str, list[Finding]] = {}
    replied: set[tuple[str, str, str]] = set()
    for f in findings:
        grouped.setdefault(f.letter_key, []).append(f)
        if f.kind == FindingKind.REPLY:
            replied.add((f.campaign, f.target, f.sender))
    items: list[Unanswered] = []
    for entry in entries:
        if entry.status != LetterStatus.SENT:
            continue
        assert entry.message_id is not None, "a sent letter has its Message-ID"
        items.append(
            Unanswered(
                campaign=entry.campaign,
                target=entry.target,
                sender=entry.sender,
                to=entry.to,
                letter_id=entry.message_id,
                sent_at=parse_time(entry.updated_at),
                channel=Channel.EMAIL,
            )
        )
    posted: dict[tuple[str, str, str], Unanswered] = {}
    for post in posts:  # in the order posted: the latest post of a letter counts
        posted[(post.campaign, post.target, post.sender)] = Unanswered(
            campaign=post.campaign,
            target=post.target,
            sender=post.sender,
            to="by post",
            letter_id=post.letter_id,
            sent_at=datetime.fromisoformat(post.posted_on).replace(tzinfo=UTC),
            channel=Channel.POST,
        )
    items += posted.values()
    return [
        item
        for item in items
        if (item.campaign, item.target, item.sender) not in replied
        and not any(
            f.kind in settled or f.permanent_bounce
            for f in grouped.get(letter_key(item.letter_id), [])
        )
    ]


@contextmanager
def open_followup(
    *, config_path: Path | None, log: Path | None, write: bool
) -> Iterator[tuple[SendLog | None, Config]]:
    """The send log for ``followup``: read-only (never migrated) unless answers are to be
    recorded, which only a person at a terminal gives."""
    config = Config.load(path=config_path)
    path = log_path(log=log, config=config)
    if not path.exists():
        yield None, config
        return
    with SendLog.open(path=path, read_only=not write) as sendlog:
        yield sendlog, config


def record_answer(log: SendLog, item: Unanswered, *, replied: bool, now: datetime) -> Finding:
    kind = FindingKind.REPLY if replied else FindingKind.NO_REPLY
    finding = followup_finding(
        campaign=item.campaign,
        target=item.target,
        sender=item.sender,
        letter_id=item.letter_id,
        kind=kind,
        at=now.astimezone(UTC),
    )
    FindingLog(log).record([finding])
    return finding
