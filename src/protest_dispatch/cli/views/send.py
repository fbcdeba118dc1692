"""How each command's results look: tables and previews built on ``output``."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from protest_dispatch.campaign.compose import CallToMake, Checked, raise_problems
from protest_dispatch.campaign.message import Letter
from protest_dispatch.campaign.recipients import copies
from protest_dispatch.cli import output, own, timing
from protest_dispatch.errors import SET_SENDER_HINT, Problem
from protest_dispatch.sendlog.records import format_time
from protest_dispatch.vocabulary import ExitCode, LetterStatus

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.text import Text

    from protest_dispatch.commands.send import Plan, ReceivedBefore, Resend
    from protest_dispatch.commands.session import Session
    from protest_dispatch.delivery.dispatch import Job, Result, Summary
    from protest_dispatch.sendlog.store import Entry
    from protest_dispatch.settings.smtp import SmtpSettings


@dataclass(frozen=True)
class Display:
    """How a run is shown: flags of the CLI, never of the send core."""

    json: bool = False
    verbose: bool = False
    quiet: bool = False


def notices(session: Session, *, origin: bool = True) -> None:
    """What the person should know; ``origin``: where the campaign copy came from."""
    audience = session.composer.audience
    if origin:
        from protest_dispatch.cli.views.trust import provenance

        provenance(session.trust, campaign_id=session.campaign_id)
    for warning in session.loaded.warnings:
        output.warn(str(warning))
    fallbacks = session.composer.language_fallbacks()
    if fallbacks:
        output.warn(
            f"{len(fallbacks)} target(s) have no letter in the language you asked for and get "
            f"the default letter: {', '.join(fallbacks)}."
        )
    if session.placeholder:
        output.warn(
            "No sender is configured: letters show the placeholder 'Your Name "
            f"<you@example.org>'. {SET_SENDER_HINT}"
        )
    if audience.needs_country:
        names = ", ".join(t.id for t in audience.needs_country)
        output.warn(
            f"{len(audience.needs_country)} target(s) only for senders in a given country were "
            f"skipped because your country is not set ({names}). Set it with --country or "
            "PROTEST_COUNTRY."
        )


def dry_run(session: Session, *, out: Path | None) -> None:
    from protest_dispatch.commands.preview import letters

    total = len(session.composer.audience.letters)
    problems: list[Problem] = []
    shares = []
    edited = []
    for number, letter in enumerate(letters(session=session, out=out, problems=problems), 1):
        shares.append((letter.target.id, letter.rendered.own))
        edited.append((letter.target.id, letter.rendered.edited))
        source = "your version" if letter.rendered.edited else letter.rendered.template
        output.rule(
            f"Letter {number} of {total}: {letter.target.id} ({source}), "
            f"your own: {own.share(letter.rendered.own)}"
        )
        output.headers_and_body(letter_headers(letter), letter.rendered.text)
    calls(session.composer.checked_calls(problems))
    raise_problems(problems)
    notices(session)
    own.warn_changed(edited)
    own.warn_own_words(session, shares)
    own.warn_low(shares)
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
    if letter.attachments:
        headers.append(
            (
                "Attachments",
                ", ".join(f"{a.filename} ({size_text(a.size)})" for a in letter.attachments),
            )
        )
    return headers


def size_text(octets: int) -> str:
    """1,234 bytes, 12.3 KB or 1.2 MB: a file's size at a glance."""
    if octets < 1000:
        return f"{octets:,} bytes"
    if octets < 1_000_000:
        return f"{octets / 1000:.1f} KB"
    return f"{octets / 1_000_000:.1f} MB"


def calls(to_make: Sequence[CallToMake]) -> None:
    if not to_make:
        return
    output.rule(f"Calls to make ({len(to_make)})")
    for call in to_make:
        target = call.target
        who = f"{target.name}" + (f", {target.role}" if target.role else "")
        output.headers_and_body([("Call", who), ("Phone", target.phone or "")], call.script)


PLAN_ROWS = 20


def send_plan(
    session: Session,
    *,
    plan: Plan,
    settings: SmtpSettings,
    test: bool,
    display: Display,
    checked: Mapping[str, Checked] | None = None,
) -> None:
    checked = checked or {}
    if plan.recovered:
        output.warn(_recovered(plan.recovered))
    if display.quiet:  # 'protest inbox -q' reported each bounce once; cron needs no repeat
        return
    for entry, bounce in plan.bounced:
        output.warn(
            f"Skipping {entry.target}: the letter to {bounce.recipient} bounced on "
            f"{output.when(bounce.at)} UTC "
            f"({' '.join(filter(None, (bounce.status, bounce.diagnostic)))})."
        )
    if plan.bounced:
        output.say(BOUNCED_HINT)
    for before in plan.received_before:
        output.say(_received_before(before))
    if not plan.jobs:  # one plain line: the copy's origin matters only when it sends
        notices(session, origin=False)
        output.info(nothing_to_send(plan))
        timing.waiting_lines(plan.waiting_letters, rows=PLAN_ROWS)
        return
    notices(session)
    going = {job.selected.target.id for job in plan.jobs}
    own.warn_changed((t, c.edited) for t, c in checked.items() if t in going)
    own.warn_low((t, c.own) for t, c in checked.items() if t in going)
    mode = f" as TEST letters to yourself only ({session.sender.email})" if test else ""
    output.say(
        f"Ready to send {len(plan.jobs)} letter(s){mode} from {session.sender.name} "
        f"<{session.sender.email}> via {settings.host}:{settings.port} ({settings.security})."
    )
    output.stderr.print(
        output.table(
            None,
            ("target", "to", "copies", "state", "own"),
            _plan_rows(session, plan, test, checked=checked),
        )
    )
    if len(plan.jobs) > PLAN_ROWS:
        output.say(f"... and {len(plan.jobs) - PLAN_ROWS} more.")
    for resend in plan.resending:
        output.say(_resend(resend))
    if session.composer.copy_me and not test:
        output.say(f"Each letter also goes as a Bcc copy to you ({session.sender.email}).")
    for label, count in (
        ("already sent", len(plan.already_sent)),
        ("held from earlier runs (failed or uncertain)", len(plan.held)),
        ("left for a later run (--limit)", plan.waiting),
    ):
        if count:
            output.say(f"{count} letter(s) {label}.")
    timing.waiting_lines(plan.waiting_letters, rows=PLAN_ROWS)
    timing.outside_hours(plan.outside_hours)


BOUNCED_HINT = (
    "Fix the address in the campaign file and run send again ('protest status --bounced' "
    "lists it for the organisers), or add --retry-bounced to try the same address again."
)


def nothing_to_send(plan: Plan) -> str:
    """One line: why this run sends nothing, e.g. "Nothing to send: 2 already sent"."""
    parts = []
    if plan.already_sent:
        parts.append(f"{len(plan.already_sent)} already sent")
    if plan.received_before:
        ids = ", ".join(b.target for b in plan.received_before)
        parts.append(f"{len(plan.received_before)} already received under another id ({ids})")
    if plan.bounced:
        ids = ", ".join(entry.target for entry, _ in plan.bounced)
        parts.append(f"{len(plan.bounced)} skipped (bounced: {ids})")
    if plan.held:
        held = ", ".join(f"{entry.target} {entry.status}" for entry in plan.held)
        parts.append(f"{len(plan.held)} held from earlier runs ({held}: see 'protest status')")
    if plan.waiting_letters:
        parts.append(f"{len(plan.waiting_letters)} waiting for their office hours")
    return "Nothing to send" + (
        f": {', '.join(parts)}." if parts else ": the campaign has no letters for you."
    )


def _recovered(letters: Sequence[Entry]) -> str:
    """The letters a killed run left half-sent, each by name: a person decides about each."""
    named = "; ".join(f"{e.target} (to {e.to})" for e in letters)
    return (
        f"{len(letters)} letter(s) were being sent when an earlier run stopped: {named}. They are "
        "now marked uncertain and will not be resent: check your Sent folder or ask the "
        "recipient, then resend only those that did not arrive with --retry-uncertain "
        "--only <target>."
    )


def _resend(resend: Resend) -> str:
    old, bounce = resend.entry, resend.bounce
    why = " ".join(filter(None, (bounce.status, bounce.diagnostic)))
    where = (
        f"now to {resend.to}" if resend.address_changed else f"to the same address ({resend.to})"
    )
    line = (
        f"{old.target}: the letter to {bounce.recipient} bounced ({why}); it goes again as a "
        f"new letter, {where}."
    )
    if resend.copies_again:
        line += (
            f" The copy address(es) {', '.join(resend.copies_again)} got the first letter and "
            "get this one too, so they see it twice."
        )
    return line


def _plan_rows(
    session: Session, plan: Plan, test: bool, *, checked: Mapping[str, Checked]
) -> list[tuple[object, ...]]:
    campaign_cc = session.loaded.campaign.campaign.cc
    rows: list[tuple[object, ...]] = []
    for job in plan.jobs[:PLAN_ROWS]:
        target = job.selected.target
        to = target.email or ""
        count = len(copies(to=to, campaign_cc=campaign_cc, target_cc=target.cc))
        share = own.plan_cell(checked.get(target.id))
        rows.append(
            (target.id, session.sender.email, 0, _state(job, plan), share)
            if test
            else (target.id, to, count, _state(job, plan), share)
        )
    return rows


def _state(job: Job, plan: Plan) -> str:
    resend = plan.resend_of(job.selected.target.id)
    if resend is not None:
        return "resend (address changed)" if resend.address_changed else "resend (bounced)"
    return job.previous.status if job.previous else "new"


def _received_before(before: ReceivedBefore) -> str:
    earlier = before.earlier
    how = "got" if earlier.status == LetterStatus.SENT else f"may have got ({earlier.status})"
    return (
        f"Not sending '{before.target}': {before.to} already {how} this campaign's letter "
        f"as target '{earlier.target}' on {output.when(earlier.updated_at)} UTC."
    )


class Answer(StrEnum):
    YES = "yes"
    NO = "no"
    """No, or the end of input (Ctrl-D): a choice, not a failure."""
    INTERRUPTED = "interrupted"
    """Ctrl-C."""


def confirm(session: Session, *, plan: Plan, test: bool) -> Answer:
    """Ask on the terminal; Enter means no. Ctrl-C and Ctrl-D are answers, not crashes."""
    if test:
        what = f"test letter(s) to yourself ({session.sender.email})"
    else:
        what = "letter(s)"
        if session.composer.copy_me:
            what += f", each with a Bcc copy to you ({session.sender.email}),"
    if plan.outside_hours:
        what += f" ({len(plan.outside_hours)} outside the officials' office hours)"
    question = f"Send {len(plan.jobs)} {what} now? [y/N]: "
    try:
        while True:
            output.prompt(question)
            line = sys.stdin.readline()
            if not line:
                output.say("")
                return Answer.NO
            reply = line.strip().lower()
            if reply in ("y", "yes"):
                return Answer.YES
            if reply in ("", "n", "no"):
                return Answer.NO
            output.say("Please answer y or n.")
    except KeyboardInterrupt:
        output.say("")
        return Answer.INTERRUPTED


def cancelled() -> None:
    output.say("Nothing was sent.")


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
