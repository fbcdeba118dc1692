"""What ``protest replies`` and ``followup`` show; every text from mail is untrusted.

Subjects, senders and reply texts come from strangers: they are printed through
``output.plain`` (control characters escaped, no markup), never as format strings.
"""

from __future__ import annotations

from collections.abc import Sequence

from protest_dispatch.cli import output
from protest_dispatch.cli.views.inbox import finding_event
from protest_dispatch.commands.replies import FOLLOWUP_DAYS, Unanswered
from protest_dispatch.sendlog.findings import Finding
from protest_dispatch.text import visible


def replies(numbered: Sequence[tuple[int, Finding]], *, as_json: bool) -> None:
    if as_json:
        output.print_json([{"number": n, **finding_event(f), "text": f.body} for n, f in numbered])
        return
    if not numbered:
        output.info("No replies found yet. Run 'protest inbox' to read your mailbox.")
        return
    output.show(
        output.table(
            f"Replies ({len(numbered)})",
            ("#", "campaign", "target", "from", "date", "subject", "first lines"),
            (
                (n, f.campaign, f.target, f.from_ or "", f.at, f.subject or "", f.diagnostic or "")
                for n, f in numbered
            ),
        )
    )
    output.say("Read one with 'protest replies --show N'.")


def reply(number: int, finding: Finding) -> None:
    output.headers_and_body(
        [
            ("Reply", f"#{number} ({finding.campaign}, {finding.target})"),
            ("From", finding.from_ or ""),
            ("Date", finding.at),
            ("Subject", finding.subject or ""),
        ],
        finding.body or "(no text)",
    )


def followup_list(items: Sequence[Unanswered], *, asking: bool) -> None:
    if not items:
        output.info(f"No letter sent {FOLLOWUP_DAYS} or more days ago is waiting for an answer.")
        return
    if not asking:
        output.show(
            output.table(
                f"Letters sent {FOLLOWUP_DAYS}+ days ago with no reply found ({len(items)})",
                ("campaign", "target", "to", "sent"),
                ((i.entry.campaign, i.entry.target, i.entry.to, i.entry.updated_at) for i in items),
            )
        )
        output.say("Run 'protest followup' on a terminal to record whether they replied.")


def ask_followup(item: Unanswered) -> str:
    """'y', 'n' or 's' for "Did <official> reply?"; replies by post or phone count too."""
    import typer

    entry = item.entry
    output.say(
        f"{entry.campaign}: your letter to {entry.target} <{entry.to}> went out "
        f"{item.sent_at:%Y-%m-%d}."
    )
    while True:
        answer: str = typer.prompt(
            visible(f"Did {entry.target} reply? (y)es / (n)o / (s)kip"),
            default="s",
            show_default=False,
        )
        choice = answer.strip().lower()[:1]
        if choice in ("y", "n", "s"):
            return choice
        output.say("Please answer y, n or s.")


def followup_recorded(recorded: int, skipped: int) -> None:
    output.info(f"Recorded {recorded} answer(s); skipped {skipped}.")
