"""A run as letters go: progress on a terminal or a line a letter, then the summary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from protest_dispatch.campaign.compose import Checked
from protest_dispatch.cli import output, own, timing
from protest_dispatch.cli.views.send.preview import calls
from protest_dispatch.sendlog.records import format_time
from protest_dispatch.vocabulary import ExitCode, LetterStatus

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.text import Text

    from protest_dispatch.commands.send import Plan
    from protest_dispatch.commands.session import Session
    from protest_dispatch.delivery.dispatch import Result, Summary


@dataclass(frozen=True)
class Display:
    """How a run is shown: flags of the CLI, never of the send core."""

    json: bool = False
    verbose: bool = False
    quiet: bool = False


class SendProgress:
    """A progress bar on a terminal; one plain line per letter for cron mail."""

    def __init__(self, *, total: int, display: Display) -> None:
        self.display = display
        self.bar: Progress | None = None
        if total and not display.json and not display.quiet and output.stderr.is_terminal:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("sending"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeRemainingColumn(),
                console=output.stderr,
            )
            self.task = self.bar.add_task("send", total=total)

    def __enter__(self) -> SendProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def update(self, result: Result) -> None:
        if self.bar is not None:
            self.bar.advance(self.task)
            if result.status != LetterStatus.SENT or self.display.verbose:
                self.bar.console.print(_result_line(result, verbose=self.display.verbose))
            return
        if self.display.json or (self.display.quiet and not _needs_a_person(result)):
            return
        # one line per letter for cron mail and grep: never wrapped at the 80 columns
        # rich assumes without a terminal
        output.stdout.print(_result_line(result, verbose=self.display.verbose), soft_wrap=True)


def _needs_a_person(result: Result) -> bool:
    """What -q prints: a failed or uncertain letter, or a refused copy; never a deferral."""
    return result.status in (LetterStatus.FAILED, LetterStatus.UNCERTAIN) or bool(result.refused)


def _result_line(result: Result, *, verbose: bool) -> Text:
    quiet_success = result.status == LetterStatus.SENT and not verbose
    detail = "" if quiet_success else f" {result.code or ''} {result.message}".rstrip()
    line = output.plain(f"{result.status:<9}", output.STATUS_STYLES.get(result.status, ""))
    line.append_text(output.plain(f" {result.target} <{result.to}>{detail}"))
    for refused in result.refused:
        line.append_text(output.plain(f" (copy refused: {refused})"))
    return line


_JSON_COUNT_KEYS = {
    "skipped (already sent)": "skipped",
    "skipped (bounced)": "bounced",
    "skipped (posted)": "posted",
    "held from earlier runs": "held",
    "not attempted": "not_attempted",
    "waiting for office hours": "waiting",
    "calls to make": "calls",
}


def send_summary(
    session: Session,
    *,
    plan: Plan,
    summary: Summary,
    test: bool,
    display: Display,
    code: int,
    checked: Mapping[str, Checked] | None = None,
) -> None:
    to_call = session.composer.audience.calls
    counts = {
        "sent": summary.count(LetterStatus.SENT),
        "skipped (already sent)": plan.skipped,
        "skipped (bounced)": len(plan.bounced),
        "skipped (posted)": len(plan.posted),
        "deferred": summary.count(LetterStatus.DEFERRED),
        "failed": summary.count(LetterStatus.FAILED),
        "uncertain": summary.count(LetterStatus.UNCERTAIN),
        "held from earlier runs": len(plan.held),
        "not attempted": summary.not_attempted + plan.waiting,
        "waiting for office hours": len(plan.waiting_letters),
        "calls to make": len(to_call),
    }
    if display.json:
        output.print_json(
            {
                "campaign": session.campaign_id,
                "sender": session.sender.email,
                "test": test,
                "exit_code": code,
                "counts": {_JSON_COUNT_KEYS.get(k, k): v for k, v in counts.items()},
                "results": [asdict(r) for r in summary.results],
                "already_received": [
                    {
                        "target": b.target,
                        "to": b.to,
                        "earlier_target": b.earlier.target,
                        "earlier_status": b.earlier.status,
                        "earlier_at": b.earlier.updated_at,
                    }
                    for b in plan.received_before
                ],
                "stopped": summary.stopped.message if summary.stopped else None,
                "quota_free_at": format_time(summary.quota_free_at)
                if summary.quota_free_at
                else None,
                "waiting": timing.waiting_json(plan.waiting_letters),
                "letters": [own.as_json(t, c.own) for t, c in (checked or {}).items()],
                "calls": [
                    {"target": s.target.id, "name": s.target.name, "phone": s.target.phone}
                    for s in to_call
                ],
            }
        )
    elif not plan.jobs:  # the plan said it in one line; a table of zeros says nothing more
        if not display.quiet:
            calls(session.composer.calls())
    elif not display.quiet or code == ExitCode.FAILED:
        output.show(
            output.table(
                f"Campaign {session.campaign_id}" + (" (test)" if test else ""),
                ("outcome", "letters"),
                ((k, v) for i, (k, v) in enumerate(counts.items()) if v or i == 0),  # sent: always
            )
        )
        _advice(summary)
        if not display.quiet:
            calls(session.composer.calls())
    if summary.stopped is not None:
        output.error(summary.stopped)
        sent = summary.count(LetterStatus.SENT)
        if sent and not display.json:
            output.say(
                f"This run sent {sent} letter(s) before it stopped; the rest go with the next run."
            )
        elif not summary.handed_over and not display.json:
            output.say("Nothing was sent.")  # the transport cannot know this; the summary does


def _advice(summary: Summary) -> None:
    if summary.count(LetterStatus.UNCERTAIN):
        output.say(
            "Uncertain: the connection broke after the letter was handed over, so the "
            "server may have it. Check your Sent folder or ask the recipient; resend only "
            "with --retry-uncertain."
        )
    if summary.count(LetterStatus.DEFERRED):
        output.say("Deferred letters are retried by the next run (exit code 75 means 'try later').")
    if summary.count(LetterStatus.FAILED):
        output.say(
            "Failed letters were refused by the server; see 'protest log --status "
            "failed'. Fix the address, then use --retry-failed."
        )
    if summary.quota_free_at is not None:
        output.say(
            f"Your provider's sending limit is reached; the rest can go after "
            f"{output.when(summary.quota_free_at)} UTC."
        )
    if summary.interrupted:
        output.say("Interrupted: letters not yet sent will go with the next run.")
