"""The ``send`` command's course: check, lock, plan, confirm, deliver, account.

Everything that can be refused is refused before the first connection: settings,
every letter's rendering, the send log and its lock.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path

from protest_dispatch.cli.views import send as views
from protest_dispatch.commands.session import Session, log_path
from protest_dispatch.errors import EXIT_OK, InputError
from protest_dispatch.mail.dispatch import Dispatcher, Job, SendOptions, Summary
from protest_dispatch.mail.quota import Quota
from protest_dispatch.mail.smtp import SmtpSettings, check_plaintext_allowed
from protest_dispatch.sendlog.store import Entry, SendLog
from protest_dispatch.settings.config import smtp_settings


@dataclass(frozen=True)
class SendRequest:
    yes: bool = False
    test: bool = False
    concurrency: int = 2
    rate: float = 20.0
    limit: int | None = None
    attempts: int = 3
    retry_failed: bool = False
    retry_uncertain: bool = False
    log: Path | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: str | None = None
    smtp_ca_file: Path | None = None
    json: bool = False
    verbose: bool = False
    quiet: bool = False


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)
    already_sent: list[Entry] = field(default_factory=list)
    held: list[Entry] = field(default_factory=list)
    recovered: list[Entry] = field(default_factory=list)
    waiting: int = 0


def make_plan(*, session: Session, log: SendLog, request: SendRequest) -> Plan:
    """Which letters this run sends: new and deferred ones, the rest only on request."""
    plan = Plan()
    if not request.test:
        plan.recovered = log.recover(campaign=session.campaign_id)
    for selected in session.composer.audience.letters:
        entry = (
            None
            if request.test
            else log.get(
                campaign=session.campaign_id, target=selected.target.id, sender=session.sender.email
            )
        )
        if (
            entry is None
            or entry.status == "deferred"
            or (entry.status == "failed" and request.retry_failed)
            or (entry.status == "uncertain" and request.retry_uncertain)
        ):
            plan.jobs.append(Job(selected=selected, previous=entry))
        elif entry.status == "sent":
            plan.already_sent.append(entry)
        else:
            plan.held.append(entry)
    if request.limit is not None and len(plan.jobs) > request.limit:
        plan.waiting = len(plan.jobs) - request.limit
        plan.jobs = plan.jobs[: request.limit]
    return plan


def run_send(*, session: Session, request: SendRequest) -> int:
    settings = smtp_settings(
        session.config,
        host=request.smtp_host,
        port=request.smtp_port,
        security=request.smtp_security,
        ca_file=request.smtp_ca_file,
        helo_name=session.sender.domain,
    )
    asyncio.run(check_plaintext_allowed(settings=settings))
    session.composer.check_all()
    with (
        SendLog.open(path=log_path(log=request.log, config=session.config)) as log,
        log.lock(campaign=session.campaign_id),
    ):
        plan = make_plan(session=session, log=log, request=request)
        if not request.json:
            views.send_plan(session, plan=plan, settings=settings, request=request)
        if plan.jobs and not _confirmed(plan=plan, request=request):
            views.cancelled()
            return EXIT_OK
        summary = _deliver(session=session, log=log, settings=settings, plan=plan, request=request)
    views.send_summary(session, plan=plan, summary=summary, request=request)
    return summary.exit_code


def _confirmed(*, plan: Plan, request: SendRequest) -> bool:
    if request.yes:
        return True
    if not sys.stdin.isatty():
        raise InputError(
            "Not sending: there is no terminal to confirm on.",
            hint="Preview with 'protest send --dry-run', then add --yes to send without "
            "asking (for cron).",
        )
    return views.confirm(plan=plan, test=request.test)


def _deliver(
    *, session: Session, log: SendLog, settings: SmtpSettings, plan: Plan, request: SendRequest
) -> Summary:
    per_hour = session.config.get("limit_per_hour")
    per_day = session.config.get("limit_per_day")
    budget = (
        Quota(log=log, sender=session.sender.email, per_hour=per_hour, per_day=per_day)
        if per_hour or per_day
        else None
    )
    progress = views.SendProgress(total=len(plan.jobs), request=request)
    dispatcher = Dispatcher(
        composer=session.composer,
        log=log,
        settings=settings,
        campaign_id=session.campaign_id,
        options=SendOptions(
            concurrency=request.concurrency,
            rate=request.rate,
            attempts=request.attempts,
            test=request.test,
        ),
        on_result=progress.update,
        budget=budget,
    )
    with progress:
        try:
            summary = asyncio.run(dispatcher.run(plan.jobs))
        except KeyboardInterrupt:
            summary = dispatcher.summary
            summary.interrupted = True
            summary.not_attempted = len(plan.jobs) - len(summary.results)
    if budget is not None and budget.blocked_until is not None:
        summary.quota_free_at = budget.blocked_until
    return summary
