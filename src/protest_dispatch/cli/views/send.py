"""How each command's results look: tables and previews built on ``output``."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from protest_dispatch.campaign.compose import CallToMake, Checked, raise_problems
from protest_dispatch.campaign.message import Letter, copies, make_message_id, write_eml
from protest_dispatch.cli import output
from protest_dispatch.errors import InputError, Problem
from protest_dispatch.vocabulary import ExitCode

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.text import Text

    from protest_dispatch.commands.send import Plan
    from protest_dispatch.commands.session import Session
    from protest_dispatch.mail.dispatch import Result, Summary
    from protest_dispatch.sendlog.store import SendLog
    from protest_dispatch.settings.smtp import SmtpSettings


@dataclass(frozen=True)
class Display:
    """How a run is shown: flags of the CLI, never of the send core."""

    json: bool = False
    verbose: bool = False
    quiet: bool = False


def _notices(session: Session) -> None:
    audience = session.composer.audience
    if session.placeholder:
        output.warn(
            "No sender is configured: letters show the placeholder 'Your Name "
            "<you@example.org>'. Set yours with 'protest init', or --from \"Your Name "
            '<you@example.org>" and --country.'
        )
    if audience.needs_country:
        names = ", ".join(t.id for t in audience.needs_country)
        output.warn(
            f"{len(audience.needs_country)} target(s) only for senders in a given country were "
            f"skipped because your country is not set ({names}). Set it with --country or "
            "PROTEST_COUNTRY."
        )


TABLE_ROWS = 100


def validation(session: Session, *, letters: Sequence[Checked], show_all: bool = False) -> None:
    audience = session.composer.audience
    rows = [(c.target, "email", ", ".join(c.recipients), c.template) for c in letters]
    for selected in audience.calls:
        rows.append(
            (
                selected.target.id,
                "call",
                selected.target.phone or "",
                selected.target.call_script or "",
            )
        )
    for target in (*audience.needs_country, *audience.other_countries):
        rows.append((target.id, f"skipped (only for senders in {target.country})", "", ""))
    shown = rows if show_all else rows[:TABLE_ROWS]
    output.show(
        output.table(
            f"Campaign {session.campaign_id}",
            ("target", "channel", "recipients", "template"),
            shown,
        )
    )
    if len(shown) < len(rows):
        output.info(
            f"... and {len(rows) - len(shown)} more targets ('protest validate --all' "
            "lists every one)."
        )
    _notices(session)
    output.info(
        f"The campaign is valid: {len(letters)} letter(s) and {len(audience.calls)} "
        "call(s) for this sender."
    )


def dry_run(session: Session, *, out: Path | None) -> None:
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"Cannot create the folder {out}: {exc.strerror}.") from None
    total = len(session.composer.audience.letters)
    problems: list[Problem] = []
    # One pass, letter by letter: a preview may show the good letters before it
    # lists what is wrong with the others (exit 2); memory stays flat.
    for number, letter in enumerate(session.composer.each_letter(problems), start=1):
        output.rule(f"Letter {number} of {total}: {letter.target.id} ({letter.rendered.template})")
        output.headers_and_body(letter_headers(letter), letter.rendered.text)
        if out is not None:
            write_eml(
                letter=letter, folder=out, message_id=make_message_id(domain=letter.sender.domain)
            )
    calls(session.composer.checked_calls(problems))
    raise_problems(problems)
    _notices(session)
    written = f" and wrote {total} .eml file(s) to {out}" if out is not None else ""
    output.info(
        f"Dry run: nothing was sent. {total} letter(s) and "
        f"{len(session.composer.audience.calls)} call(s) shown{written}."
    )


def letter_headers(letter: Letter) -> list[tuple[str, str]]:
    headers = [
        ("From", f"{letter.sender.name} <{letter.sender.email}>"),
        ("To", f"{letter.to_name} <{letter.to}>"),
    ]
    if letter.cc:
        headers.append(("Cc", ", ".join(letter.cc)))
    if letter.bcc:
        headers.append(("Bcc (your copy, not shown to others)", ", ".join(letter.bcc)))
    if letter.reply_to:
        headers.append(("Reply-To", letter.reply_to))
    headers.append(("Subject", letter.subject))
    return headers


def calls(to_make: Sequence[CallToMake]) -> None:
    if not to_make:
        return
    output.rule(f"Calls to make ({len(to_make)})")
    for call in to_make:
        target = call.target
        who = f"{target.name}" + (f", {target.role}" if target.role else "")
        output.headers_and_body([("Call", who), ("Phone", target.phone or "")], call.script)


LOG_COLUMNS = ("campaign", "target", "to", "status", "attempts", "smtp_code", "updated_at", "error")
CSV_COLUMNS = (
    "campaign",
    "target",
    "sender",
    "to",
    "cc",
    "status",
    "attempts",
    "smtp_code",
    "error",
    "message_id",
    "updated_at",
    "refused",
    "next_attempt_at",
)


def no_log(path: Path, *, as_json: bool, as_csv: bool) -> None:
    if as_json:
        output.print_json([])
    elif as_csv:
        output.print_raw(",".join(CSV_COLUMNS) + "\r\n")
    else:
        output.info(f"Nothing has been sent yet: there is no send log at {path}.")


def log(
    sendlog: SendLog, *, campaign: str | None, status: str | None, as_json: bool, as_csv: bool
) -> None:
    from dataclasses import asdict

    from protest_dispatch.vocabulary import LetterStatus

    if status is not None and status not in tuple(LetterStatus):
        raise InputError(
            f"--status {status!r} is not a status.",
            hint=f"Use one of: {', '.join(LetterStatus)}.",
        )
    entries = sendlog.entries(
        campaign=campaign, status=None if status is None else LetterStatus(status)
    )
    rows = [asdict(entry) for entry in entries]
    if as_json:
        output.print_json(rows)
        return
    if as_csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ";".join(v) if isinstance(v, tuple) else v for k, v in row.items()})
        output.print_raw(buffer.getvalue())
        return
    if not rows:
        output.info(
            "The send log has no letters yet" + (" matching that." if campaign or status else ".")
        )
    else:
        output.show(
            output.table(
                f"Send log ({sendlog.path})",
                LOG_COLUMNS,
                ([row[c] for c in LOG_COLUMNS] for row in rows),
                styles={3: output.STATUS_STYLES},
            )
        )
    calls_made = sendlog.calls(campaign=campaign)
    if calls_made and not status:
        output.show(
            output.table(
                "Calls",
                ("campaign", "target", "outcome", "note", "at"),
                ((c.campaign, c.target, c.outcome, c.note or "", c.at) for c in calls_made),
                styles={2: output.STATUS_STYLES},
            )
        )


PLAN_ROWS = 20


def send_plan(
    session: Session, *, plan: Plan, settings: SmtpSettings, test: bool, display: Display
) -> None:
    if plan.recovered:
        output.warn(
            f"{len(plan.recovered)} letter(s) were being sent when an earlier run stopped; they "
            "are now marked uncertain and will not be resent (see 'protest log --status "
            "uncertain', and --retry-uncertain)."
        )
    if display.quiet:
        return
    _notices(session)
    mode = " as TEST letters to yourself only" if test else ""
    output.say(
        f"Ready to send {len(plan.jobs)} letter(s){mode} from {session.sender.name} "
        f"<{session.sender.email}> via {settings.host}:{settings.port} ({settings.security})."
    )
    if plan.jobs:
        campaign_cc = session.loaded.campaign.campaign.cc
        rows = [
            (
                target.id,
                target.email or "",
                len(copies(to=target.email or "", campaign_cc=campaign_cc, target_cc=target.cc)),
                j.previous.status if j.previous else "new",
            )
            for j in plan.jobs[:PLAN_ROWS]
            for target in (j.selected.target,)
        ]
        output.stderr.print(output.table(None, ("target", "to", "copies", "state"), rows))
        if len(plan.jobs) > PLAN_ROWS:
            output.say(f"... and {len(plan.jobs) - PLAN_ROWS} more.")
    for label, count in (
        ("already sent", len(plan.already_sent)),
        ("held from earlier runs (failed or uncertain)", len(plan.held)),
        ("left for a later run (--limit)", plan.waiting),
    ):
        if count:
            output.say(f"{count} letter(s) {label}.")


def confirm(*, plan: Plan, test: bool) -> bool:
    import typer

    what = "test letter(s) to yourself" if test else "letter(s)"
    return typer.confirm(f"Send {len(plan.jobs)} {what} now?", default=False, err=True)


def cancelled() -> None:
    output.say("Nothing was sent.")


class SendProgress:
    """A progress bar on a terminal; one plain line per letter for cron mail."""

    def __init__(self, *, total: int, display: Display) -> None:
        self.display = display
        self.bar: Progress | None = None
        if not display.json and not display.quiet and output.stderr.is_terminal:
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
            if result.status != "sent" or self.display.verbose:
                self.bar.console.print(_result_line(result, verbose=self.display.verbose))
            return
        if self.display.json or (
            self.display.quiet and result.status == "sent" and not result.refused
        ):
            return
        # one line per letter for cron mail and grep: never wrapped at the 80 columns
        # rich assumes without a terminal
        output.stdout.print(_result_line(result, verbose=self.display.verbose), soft_wrap=True)


def _result_line(result: Result, *, verbose: bool) -> Text:
    quiet_success = result.status == "sent" and not verbose
    detail = "" if quiet_success else f" {result.code or ''} {result.message}".rstrip()
    line = output.plain(f"{result.status:<9}", output.STATUS_STYLES.get(result.status, ""))
    line.append_text(output.plain(f" {result.target} <{result.to}>{detail}"))
    for refused in result.refused:
        line.append_text(output.plain(f" (copy refused: {refused})"))
    return line


_JSON_COUNT_KEYS = {
    "skipped (already sent)": "skipped",
    "held from earlier runs": "held",
    "not attempted": "not_attempted",
    "calls to make": "calls",
}


def send_summary(
    session: Session, *, plan: Plan, summary: Summary, test: bool, display: Display
) -> None:
    to_call = session.composer.audience.calls
    counts = {
        "sent": summary.count("sent"),
        "skipped (already sent)": len(plan.already_sent),
        "deferred": summary.count("deferred"),
        "failed": summary.count("failed"),
        "uncertain": summary.count("uncertain"),
        "held from earlier runs": len(plan.held),
        "not attempted": summary.not_attempted + plan.waiting,
        "calls to make": len(to_call),
    }
    if display.json:
        output.print_json(
            {
                "campaign": session.campaign_id,
                "sender": session.sender.email,
                "test": test,
                "exit_code": summary.exit_code,
                "counts": {_JSON_COUNT_KEYS.get(k, k): v for k, v in counts.items()},
                "results": [asdict(r) for r in summary.results],
                "stopped": summary.stopped.message if summary.stopped else None,
                "quota_free_at": summary.quota_free_at.isoformat()
                if summary.quota_free_at
                else None,
                "calls": [
                    {"target": s.target.id, "name": s.target.name, "phone": s.target.phone}
                    for s in to_call
                ],
            }
        )
    elif not display.quiet or summary.exit_code == ExitCode.FAILED:
        output.show(
            output.table(
                f"Campaign {session.campaign_id}" + (" (test)" if test else ""),
                ("outcome", "letters"),
                ((k, v) for k, v in counts.items() if v or k == "sent"),
            )
        )
        _advice(summary)
        if not display.quiet:
            calls(session.composer.calls())
    if summary.stopped is not None:
        output.error(summary.stopped)
        if not summary.handed_over:  # the transport cannot know this; the summary does
            output.say("Nothing was sent.")


def _advice(summary: Summary) -> None:
    if summary.count("uncertain"):
        output.say(
            "Uncertain: the connection broke after the letter was handed over, so the "
            "server may have it. Check your Sent folder or ask the recipient; resend only "
            "with --retry-uncertain."
        )
    if summary.count("deferred"):
        output.say("Deferred letters are retried by the next run (exit code 75 means 'try later').")
    if summary.count("failed"):
        output.say(
            "Failed letters were refused by the server; see 'protest log --status "
            "failed'. Fix the address, then use --retry-failed."
        )
    if summary.quota_free_at is not None:
        output.say(
            f"Your provider's sending limit is reached; the rest can go after "
            f"{summary.quota_free_at:%Y-%m-%d %H:%M} UTC."
        )
    if summary.interrupted:
        output.say("Interrupted: letters not yet sent will go with the next run.")
