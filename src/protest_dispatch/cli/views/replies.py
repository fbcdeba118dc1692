"""What ``protest replies`` and ``followup`` show; every text from mail is untrusted.

Subjects, senders and reply texts come from strangers: they are printed through
``output.plain`` (control characters escaped, no markup), never as format strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from protest_dispatch.cli import output
from protest_dispatch.cli.views.inbox import finding_event
from protest_dispatch.commands.people import Names
from protest_dispatch.commands.replies import FOLLOWUP_DAYS, POST_FOLLOWUP_DAYS, Unanswered
from protest_dispatch.sendlog.findings import Finding
from protest_dispatch.text import visible
from protest_dispatch.vocabulary import Channel


def replies(numbered: Sequence[tuple[int, Finding]], *, as_json: bool, names: Names) -> None:
    if as_json:
        output.print_json([{"number": n, **finding_event(f), "text": f.body} for n, f in numbered])
        return
    if not numbered:
        output.info("No replies found yet. Run 'protest inbox' to read your mailbox.")
        return
    output.info(f"Replies ({len(numbered)}):")
    for number, f in numbered:
        output.line(f"#{number}  {output.when(f.at)}  {names.label(f.campaign, f.target)}")
        output.line(f"    From: {f.from_ or ''}")
        output.line(f"    Subject: {f.subject or ''}")
        if f.diagnostic:
            output.line(f"    {f.diagnostic}")
    output.say("Read one with 'protest replies --show N'.")


def reply(number: int, finding: Finding, *, names: Names) -> None:
    """The reply as a page: its headers, then its text wrapped between words."""
    output.headers_and_body(
        [
            (
                "Reply",
                f"#{number}, to your letter to {names.label(finding.campaign, finding.target)}",
            ),
            ("Campaign", finding.campaign),
            ("From", finding.from_ or ""),
            ("Date", f"{output.when(finding.at)} UTC"),
            ("Subject", finding.subject or ""),
        ],
        finding.body or "(no text)",
        wrap_words=True,
    )


def followup_list(items: Sequence[Unanswered], *, asking: bool, names: Names) -> None:
    if asking:
        return
    output.info(
        f"Letters sent {FOLLOWUP_DAYS} or more days ago (posted {POST_FOLLOWUP_DAYS}) with no "
        f"reply found ({len(items)}):"
    )
    for item in items:
        output.line(
            f"{output.when(item.sent_at)}  {names.label(item.campaign, item.target)} "
            f"{_how(item)}, {item.campaign}"
        )
    output.say("Run 'protest followup' on a terminal to record whether they replied.")


def nothing_due(upcoming: tuple[Unanswered, datetime] | None, *, names: Names) -> None:
    """Nothing to ask now: say when the first question will come, if one will."""
    if upcoming is None:
        output.info("No letter is waiting for an answer: nothing to follow up.")
        return
    item, due = upcoming
    days = POST_FOLLOWUP_DAYS if item.channel == Channel.POST else FOLLOWUP_DAYS
    output.info(
        f"Nothing to follow up yet: the first letter, to "
        f"{names.label(item.campaign, item.target)}, is due on "
        f"{output.when(due)} UTC ({days} days after it went out)."
    )


def _how(item: Unanswered) -> str:
    return "by post" if item.channel == Channel.POST else f"<{item.to}>"


def ask_followup(item: Unanswered, *, names: Names) -> str:
    """'y', 'n' or 's' for "Did <official> reply?"; replies by post or phone count too."""
    import typer

    person = names.label(item.campaign, item.target)
    output.say(
        f"{item.campaign}: your letter to {person} {_how(item)} went out "
        f"{output.when(item.sent_at)} UTC."
    )
    while True:
        answer: str = typer.prompt(
            visible(f"Did {person} reply? (y)es / (n)o / (s)kip"),
            default="s",
            show_default=False,
        )
        choice = answer.strip().lower()[:1]
        if choice in ("y", "n", "s"):
            return choice
        output.say("Please answer y, n or s.")


def followup_recorded(recorded: int, skipped: int) -> None:
    output.info(f"Recorded {recorded} answer(s); skipped {skipped}.")
