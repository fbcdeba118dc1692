"""``protest status``: each campaign at a glance, from the send log (and the campaign file).

The log alone knows what happened; the campaign file adds what has not happened
yet: letters never attempted and calls still to make.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from protest_dispatch.campaign.audience import select
from protest_dispatch.campaign.model import Target
from protest_dispatch.commands.calls import by_target, is_reached
from protest_dispatch.commands.log_access import existing_log
from protest_dispatch.commands.people import DEFAULT_CAMPAIGN_FILE, Names
from protest_dispatch.commands.replies import Unanswered, due, unanswered_of
from protest_dispatch.delivery.quota import Quota
from protest_dispatch.sendlog.calls import CallLog
from protest_dispatch.sendlog.findings import Finding, FindingLog, letter_key, standing_bounce
from protest_dispatch.sendlog.posts import PostLog
from protest_dispatch.sendlog.records import Post
from protest_dispatch.sendlog.store import Call, Entry, SendLog
from protest_dispatch.settings.config import Config
from protest_dispatch.vocabulary import FindingKind, LetterStatus

if TYPE_CHECKING:
    from protest_dispatch.campaign.loading import LoadedCampaign


@dataclass(frozen=True)
class CampaignStatus:
    campaign: str
    entries: tuple[Entry, ...]
    calls: tuple[Call, ...]
    not_yet_sent: tuple[Target, ...] | None = None
    """Letters this sender has not attempted; None when the campaign file is not at hand."""
    to_call: tuple[Target, ...] | None = None
    """Phone targets not yet reached; None when the campaign file is not at hand."""
    findings: tuple[Finding, ...] = ()
    """What came of the letters (``protest inbox``, ``protest followup``), oldest first."""
    no_reply: tuple[Unanswered, ...] = ()
    """Letters sent (posted) long enough ago with no reply found or told, and no bounce."""
    posts: tuple[Post, ...] = ()
    """Letters on paper this sender posted (``protest posted``), each once, latest."""
    to_post: tuple[Target, ...] | None = None
    """Letters to print that are not posted yet; None when the campaign file is not at hand."""

    def found(self, kind: FindingKind) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    @property
    def bounced(self) -> list[Finding]:
        """The permanent bounce of each letter that still stands (not resent since, not
        overruled by a later delivery report)."""
        grouped: dict[str, list[Finding]] = {}
        for f in self.findings:
            grouped.setdefault(f.letter_key, []).append(f)
        standing = (
            standing_bounce(grouped.get(letter_key(e.message_id), []), to=e.to)
            for e in self.entries
            if e.message_id
        )
        return [f for f in standing if f is not None]

    def with_status(self, status: LetterStatus) -> list[Entry]:
        return [e for e in self.entries if e.status == status]

    def call_outcomes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for call in self.calls:
            counts[call.outcome] = counts.get(call.outcome, 0) + 1
        return counts


@dataclass
class StatusReport:
    campaigns: list[CampaignStatus] = field(default_factory=list)
    sender: str | None = None
    quota_free_at: datetime | None = None
    """When the provider limit next lets a letter go, if it is reached now."""
    names: Names = field(default_factory=Names)
    """The targets' names, when the campaign file is at hand."""


def gather(
    *,
    config_path: Path | None,
    targets: Path | None,
    campaign: str | None,
    from_: str | None,
    country: str | None,
    log: Path | None,
) -> StatusReport:
    """Read the settings, the campaign file if there is one here, and the send log."""
    config = Config.load(path=config_path)
    sender = config.sender(from_option=from_, country_option=country)
    if targets is None and DEFAULT_CAMPAIGN_FILE.is_file():
        targets = DEFAULT_CAMPAIGN_FILE
    loaded = None
    if targets is not None:  # YAML, the campaign model and signatures only with a file
        from protest_dispatch.campaign.loading import load_campaign
        from protest_dispatch.campaign.signing import KnownKeys, default_store, verify_campaign

        loaded = load_campaign(path=targets)
        verify_campaign(loaded=loaded, known=KnownKeys(default_store()))
    with existing_log(log=log, config=config) as (_, sendlog):
        return build(
            log=sendlog,
            config=config,
            campaign=campaign,
            loaded=loaded,
            sender=sender.email if sender else None,
            country=sender.country if sender else None,
        )


def build(
    *,
    log: SendLog | None,
    config: Config,
    campaign: str | None,
    loaded: LoadedCampaign | None,
    sender: str | None,
    country: str | None,
    now: datetime | None = None,
) -> StatusReport:
    """One status per campaign in the log (or just ``campaign``), the file's campaign first."""
    now = now or datetime.now(UTC)
    report = StatusReport(sender=sender, names=Names.of(loaded))
    entries = log.entries(campaign=campaign, sender=sender) if log is not None else []
    calls = CallLog(log).all(campaign=campaign, sender=sender) if log is not None else []
    posts = PostLog(log).all(campaign=campaign, sender=sender) if log is not None else []
    names = sorted(
        {e.campaign for e in entries} | {c.campaign for c in calls} | {p.campaign for p in posts}
    )
    file_id = loaded.campaign.campaign.id if loaded is not None else None
    if file_id is not None and campaign in (None, file_id):
        names = [file_id, *(n for n in names if n != file_id)]
    found = FindingLog(log).all(campaign=campaign, sender=sender) if log is not None else []
    for name in names:
        mine = tuple(e for e in entries if e.campaign == name)
        made = tuple(c for c in calls if c.campaign == name)
        posted = tuple({p.target: p for p in posts if p.campaign == name}.values())
        if loaded is not None and name == file_id:
            one = _with_file(
                loaded, entries=mine, calls=made, posts=posted, sender=sender, country=country
            )
        else:
            one = CampaignStatus(campaign=name, entries=mine, calls=made, posts=posted)
        theirs = tuple(f for f in found if f.campaign == name)
        report.campaigns.append(
            replace(
                one,
                findings=theirs,
                no_reply=_no_reply(mine, posted, theirs, now=now),
            )
        )
    report.quota_free_at = _quota_free_at(log=log, config=config, sender=sender)
    return report


def _with_file(
    loaded: LoadedCampaign,
    *,
    entries: tuple[Entry, ...],
    calls: tuple[Call, ...],
    posts: tuple[Post, ...],
    sender: str | None,
    country: str | None,
) -> CampaignStatus:
    campaign_id = loaded.campaign.campaign.id
    audience = select(campaign=loaded.campaign, country=country)
    attempted = {e.target for e in entries}
    reached = {target for target, made in by_target(calls).items() if is_reached(made)}
    posted = {p.target for p in posts}
    return CampaignStatus(
        campaign=campaign_id,
        entries=entries,
        calls=calls,
        # A letter posted on paper is not emailed as well (send skips it): not "unsent".
        not_yet_sent=tuple(
            s.target for s in audience.letters if s.target.id not in attempted | posted
        ),
        to_call=tuple(s.target for s in audience.calls if s.target.id not in reached),
        posts=posts,
        to_post=tuple(s.target for s in audience.paper if s.target.id not in posted),
    )


def _no_reply(
    entries: tuple[Entry, ...],
    posts: tuple[Post, ...],
    findings: tuple[Finding, ...],
    *,
    now: datetime,
) -> tuple[Unanswered, ...]:
    """Letters sent FOLLOWUP_DAYS (posted POST_FOLLOWUP_DAYS) ago or more with no reply and
    no bounce of their own: the same rule as ``followup``, except that a "no reply" the
    sender recorded still counts as none (a letter sent again to a corrected address is a
    new letter: the old one's bounce does not count)."""
    items = unanswered_of(
        entries=entries, posts=posts, findings=findings, settled=frozenset({FindingKind.REPLY})
    )
    return tuple(sorted((i for i in items if due(i) <= now), key=lambda i: (i.sent_at, i.target)))


def _quota_free_at(*, log: SendLog | None, config: Config, sender: str | None) -> datetime | None:
    if log is None or sender is None:
        return None
    quota = Quota.configured(log=log, sender=sender, settings=config.settings)
    if quota is None:
        return None
    return quota.next_free(1)
