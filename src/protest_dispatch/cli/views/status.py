"""How ``status`` and ``status --bounced`` look, built on ``output``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from protest_dispatch.cli import output
from protest_dispatch.commands.replies import FOLLOWUP_DAYS, POST_FOLLOWUP_DAYS
from protest_dispatch.sendlog.records import format_time
from protest_dispatch.vocabulary import Channel, FindingKind, LetterStatus

if TYPE_CHECKING:
    from protest_dispatch.campaign.model import Target
    from protest_dispatch.commands.status import CampaignStatus, StatusReport

_Row = TypeVar("_Row")
NO_REPLY = f"no reply after {FOLLOWUP_DAYS} days ({POST_FOLLOWUP_DAYS} by post)"

ADVICE: dict[str, str] = {
    LetterStatus.DEFERRED: "Deferred letters go with the next 'protest send' (cron: exit code "
    "75 means exactly this).",
    LetterStatus.FAILED: "The server refused these for good. Fix the address in the campaign "
    "file (or tell the organisers), then run 'protest send --retry-failed'.",
    LetterStatus.UNCERTAIN: "The connection broke after the letter was handed over, so it may have "
    "arrived. Look in your Sent folder or ask the recipient; only if it did not arrive, run "
    "'protest send --retry-uncertain --only <target>'.",
    LetterStatus.SENDING: "Another run is sending these now, or a run stopped while sending "
    "them: the next 'protest send' then marks them uncertain.",
    "bounced": "These addresses do not take mail; 'protest send' skips them. Fix the address in "
    "the campaign file (or tell the organisers: 'protest status --bounced' lists them to "
    "paste), or try again with 'protest send --retry-bounced'.",
    "replies": "Read them with 'protest replies'.",
    NO_REPLY: "Record answers that came by post or phone with 'protest followup'.",
}


def status(report: StatusReport) -> None:
    if not report.campaigns:
        whose = f" for {report.sender}" if report.sender else ""
        output.info(
            f"Nothing recorded yet{whose}. Preview with 'protest send --dry-run', then "
            "send with 'protest send'."
        )
        return
    for campaign in report.campaigns:
        _campaign(campaign, report=report)


_STATUS_LABELS = (
    ("sent", LetterStatus.SENT),
    ("deferred", LetterStatus.DEFERRED),
    ("failed", LetterStatus.FAILED),
    ("uncertain", LetterStatus.UNCERTAIN),
    ("being sent", LetterStatus.SENDING),
)


def _counts(campaign: CampaignStatus) -> list[tuple[str, str, int | None]]:
    """Each count once, for the table and for --json: (label, JSON key, number), the
    number None where the campaign file was not at hand to say what is still to do."""

    def count(targets: Sequence[Target] | None) -> int | None:
        return None if targets is None else len(targets)

    return [
        *(
            (label, status.value, len(campaign.with_status(status)))
            for label, status in _STATUS_LABELS
        ),
        ("not sent yet", "not_sent_yet", count(campaign.not_yet_sent)),
        ("calls made", "calls_made", len(campaign.calls)),
        ("calls to make", "calls_to_make", count(campaign.to_call)),
        ("posted", "posted", len(campaign.posts)),
        ("to print and post", "to_post", count(campaign.to_post)),
        ("bounced", "bounced", len(campaign.bounced)),
        ("automatic replies", "auto_replies", len(campaign.found(FindingKind.AUTO_REPLY))),
        ("replies", "replies", len(campaign.found(FindingKind.REPLY))),
        (NO_REPLY, "no_reply", len(campaign.no_reply)),
    ]


def _campaign(campaign: CampaignStatus, *, report: StatusReport) -> None:
    outcomes = ", ".join(f"{k} {v}" for k, v in campaign.call_outcomes().items())
    counts: list[tuple[str, object]] = []
    for label, key, number in _counts(campaign):
        if key == "calls_made":  # always a row (a string, so 0 shows), with how they went
            counts.append((label, f"{number}" + (f" ({outcomes})" if outcomes else "")))
        elif number is not None:
            counts.append((label, number))
    output.rule(
        f"Campaign {campaign.campaign}" + (f", sent as {report.sender}" if report.sender else "")
    )
    output.show(
        output.table(
            None, ("", "count"), (row for i, row in enumerate(counts) if row[1] or i == 0)
        )  # sent: always
    )
    _entries(
        campaign.with_status(LetterStatus.DEFERRED),
        LetterStatus.DEFERRED,
        ("target", "to", "attempts", "next attempt", "last error"),
        lambda e: (
            e.target,
            e.to,
            e.attempts,
            output.when(e.next_attempt_at) if e.next_attempt_at else "next run",
            e.error or "",
        ),
    )
    _entries(
        campaign.bounced,
        "bounced",
        ("target", "address", "status", "reason", "bounced at"),
        lambda f: (
            f.target,
            f.recipient or "",
            f.status or "",
            f.diagnostic or "",
            output.when(f.at),
        ),
    )
    _entries(
        campaign.found(FindingKind.REPLY),
        "replies",
        ("target", "from", "date", "subject"),
        lambda f: (f.target, f.from_ or "(you said so)", output.when(f.at), f.subject or ""),
    )
    _entries(
        list(campaign.no_reply),
        NO_REPLY,
        ("target", "to", "sent"),
        lambda e: (
            e.target,
            e.to,
            f"posted {e.sent_at:%d %b %Y}" if e.channel == Channel.POST else output.when(e.sent_at),
        ),
    )
    _entries(
        campaign.with_status(LetterStatus.FAILED),
        LetterStatus.FAILED,
        ("target", "to", "smtp_code", "reason"),
        lambda e: (e.target, e.to, e.smtp_code or "", e.error or ""),
    )
    _entries(
        campaign.with_status(LetterStatus.UNCERTAIN),
        LetterStatus.UNCERTAIN,
        ("target", "to", "since", "what happened"),
        lambda e: (e.target, e.to, output.when(e.updated_at), e.error or ""),
    )
    _entries(
        campaign.with_status(LetterStatus.SENDING),
        LetterStatus.SENDING,
        ("target", "to", "since"),
        lambda e: (e.target, e.to, output.when(e.updated_at)),
    )
    if campaign.not_yet_sent:
        output.say(
            f"{len(campaign.not_yet_sent)} letter(s) not sent yet: "
            f"{_ids(campaign.not_yet_sent)}. 'protest send' sends them."
        )
    waiting = campaign.not_yet_sent or campaign.with_status(LetterStatus.DEFERRED)
    if waiting and report.quota_free_at is not None:
        output.say(
            "Your provider's sending limit is reached until "
            f"{output.when(report.quota_free_at)} UTC; a run after that sends the rest."
        )
    if campaign.to_call:
        output.say(
            f"Calls to make: {_ids(campaign.to_call)}. 'protest calls' shows the "
            "numbers and what to say."
        )
    if campaign.to_post:
        output.say(
            f"Letters to print and post: {_ids(campaign.to_post)}. 'protest print' writes "
            "them as PDF; once one is in the post, record it with 'protest posted ID'."
        )


def _ids(targets: tuple[Target, ...]) -> str:
    return ", ".join(t.id for t in targets)


def _entries(
    entries: Sequence[_Row],
    section: str,
    columns: tuple[str, ...],
    row: Callable[[_Row], Sequence[object]],
) -> None:
    """One table of the status view: a letter status, or bounced, replies, no reply."""
    if not entries:
        return
    output.show(output.table(section.capitalize(), columns, (row(e) for e in entries)))
    output.say(ADVICE[section], "dim")


def bounced_summary(report: StatusReport) -> None:
    """The addresses to fix, as plain text an organiser can paste into an issue or email."""
    lines: list[str] = []
    for campaign in report.campaigns:
        bounced = campaign.bounced
        if not bounced:
            continue
        lines.append(f"Campaign {campaign.campaign}: {len(bounced)} address(es) to fix")
        lines += [
            f"- {report.names.label(f.campaign, f.target)}: {f.recipient} bounced on "
            f"{output.when(f.at)} UTC: " + " ".join(filter(None, (f.status, f.diagnostic)))
            for f in bounced
        ]
        lines.append("")
    if not lines:
        output.info("No letter has bounced.")
        return
    output.paragraph("\n".join(lines).rstrip("\n"))


def status_json(report: StatusReport) -> None:
    """``status --json``: the same counts and lists, with ISO 8601 UTC times; ``null``
    where the campaign file was not at hand to say what is still to do."""
    output.print_json(
        {
            "sender": report.sender,
            "quota_free_at": format_time(report.quota_free_at) if report.quota_free_at else None,
            "campaigns": [_campaign_json(c) for c in report.campaigns],
        }
    )


def _campaign_json(campaign: CampaignStatus) -> dict[str, object]:
    def ids(targets: Sequence[Target] | None) -> list[str] | None:
        return None if targets is None else [t.id for t in targets]

    return {
        "campaign": campaign.campaign,
        "counts": {key: number for _, key, number in _counts(campaign)},
        "not_sent_yet": ids(campaign.not_yet_sent),
        "calls_to_make": ids(campaign.to_call),
        "to_post": ids(campaign.to_post),
        "bounced": [{"target": f.target, **f.event()} for f in campaign.bounced],
        "replies": [{"target": f.target, **f.event()} for f in campaign.found(FindingKind.REPLY)],
        "no_reply": [
            {
                "target": item.target,
                "to": item.to,
                "channel": item.channel.value,
                "sent_at": format_time(item.sent_at),
            }
            for item in campaign.no_reply
        ],
    }
