"""The letters about to go, as a table, and the question before they do."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING

from protest_dispatch.campaign.compose import Checked
from protest_dispatch.campaign.recipients import copies
from protest_dispatch.cli import output, own, timing
from protest_dispatch.cli.views.send.notices import (
    held_back,
    nothing_to_send,
    notices,
    recovered,
    resending,
)

if TYPE_CHECKING:
    from protest_dispatch.cli.views.send.run import Display
    from protest_dispatch.commands.send import Plan
    from protest_dispatch.commands.session import Session
    from protest_dispatch.delivery.dispatch import Job
    from protest_dispatch.settings.smtp import SmtpSettings


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
        output.warn(recovered(plan.recovered))
    if display.quiet:  # 'protest inbox -q' reported each bounce once; cron needs no repeat
        return
    held_back(plan)
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
        f"<{session.sender.email}> via {settings.host}:{settings.port} ({settings.security})"
        f"{f', through {settings.proxy}' if settings.proxied else ''}."
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
        output.say(resending(resend))
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
