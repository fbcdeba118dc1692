"""The ``send`` command's course: check, lock, plan, deliver, account. It prints nothing.

Everything that can be refused is refused before the first connection: settings,
every letter's rendering, the send log and its lock. The caller shows the plan,
asks for confirmation if it wants to, and then calls :meth:`SendRun.deliver`.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from protest_dispatch.addresses import mailbox, same_mailbox
from protest_dispatch.campaign.audience import Selected
from protest_dispatch.campaign.compose import Checked
from protest_dispatch.campaign.recipients import copies
from protest_dispatch.campaign.schedule import Phase, Waiting, campaign_phase, waiting
from protest_dispatch.commands.log_access import log_path
from protest_dispatch.commands.session import Session
from protest_dispatch.delivery.dispatch import (
    BACKOFF_BUDGET,
    Backoff,
    Dispatcher,
    Job,
    Result,
    Summary,
)
from protest_dispatch.delivery.options import SendOptions
from protest_dispatch.delivery.quota import Quota
from protest_dispatch.errors import OwnWordsError
from protest_dispatch.mail.smtp import check_plaintext_allowed
from protest_dispatch.sendlog.findings import Finding, FindingLog
from protest_dispatch.sendlog.posts import PostLog
from protest_dispatch.sendlog.records import Post
from protest_dispatch.sendlog.store import Entry, SendLog
from protest_dispatch.settings.smtp import SmtpOverrides, SmtpSettings, smtp_settings
from protest_dispatch.vocabulary import AuthMode, ExitCode, LetterStatus


@dataclass(frozen=True)
class SendRequest:
    """What to send and how; how the run is shown is the caller's business."""

    options: SendOptions = field(default_factory=SendOptions)
    limit: int | None = None
    retry_failed: bool = False
    retry_uncertain: bool = False
    retry_bounced: bool = False
    """Send only the letters whose To address bounced, to the same address again."""
    log: Path | None = None
    smtp: SmtpOverrides = field(default_factory=SmtpOverrides)
    now: datetime | None = None
    """The moment the run decides by (office hours, spread); None: the system clock."""
    outside_hours: bool = False
    """``--now``: also the letters waiting for their office hours or spread offset."""

    @property
    def test(self) -> bool:
        return self.options.test


@dataclass(frozen=True)
class ReceivedBefore:
    """A letter not sent: its address already got this campaign's letter under another id."""

    target: str
    to: str
    earlier: Entry
    """The earlier letter: its target id, status and date."""


@dataclass(frozen=True)
class Resend:
    """A bounced letter this run sends again: a new letter, with a new Message-ID."""

    entry: Entry
    """The bounced letter as the send log has it."""
    bounce: Finding
    to: str
    """Where it goes now: the campaign file's address (or the same one on --retry-bounced)."""
    copies_again: tuple[str, ...]
    """Copy addresses that had the bounced letter and get this one too: they see it twice."""

    @property
    def address_changed(self) -> bool:
        return not same_mailbox(self.to, self.bounce.recipient or "")


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)
    already_sent: list[Entry] = field(default_factory=list)
    received_before: list[ReceivedBefore] = field(default_factory=list)
    held: list[Entry] = field(default_factory=list)
    recovered: list[Entry] = field(default_factory=list)
    waiting: int = 0
    bounced: list[tuple[Entry, Finding]] = field(default_factory=list)
    """Letters skipped because their To address bounced permanently (see --retry-bounced)."""
    resending: list[Resend] = field(default_factory=list)
    """Bounced letters this run sends again (new address, or --retry-bounced)."""
    waiting_letters: list[Waiting] = field(default_factory=list)
    """Letters outside their target's office hours (or before their spread offset):
    not attempted and not recorded, so the next run in the window sends them."""
    outside_hours: list[Waiting] = field(default_factory=list)
    """Letters this run sends although they would wait (--now)."""
    posted: list[Post] = field(default_factory=list)
    """Letters this sender posted on paper and never emailed: the official has the letter,
    so it is not emailed as well unless named with --only."""

    def resend_of(self, target: str) -> Resend | None:
        return next((r for r in self.resending if r.entry.target == target), None)

    @property
    def skipped(self) -> int:
        """Letters this run does not send because their address already has them."""
        return len(self.already_sent) + len(self.received_before)


def make_plan(*, session: Session, log: SendLog, request: SendRequest) -> Plan:
    """Which letters this run sends: new and deferred ones, the rest only on request.

    A letter whose address already got this campaign's letter from this sender,
    as To or copy under another target id (a renamed target), is not sent again.
    """
    plan = Plan()
    if not request.test:
        plan.recovered = log.recover(campaign=session.campaign_id)
    findings = None if request.test else FindingLog(log)
    received = {} if request.test else _received(log, session=session)
    posted = {} if request.test else _posted(log, session=session)
    info = session.loaded.campaign.campaign
    now = request.now or datetime.now(UTC)
    for selected in session.composer.audience.letters:
        target = selected.target
        on_paper = posted.get(target.id)
        entry = (
            None
            if request.test
            else log.get(
                campaign=session.campaign_id, target=target.id, sender=session.sender.email
            )
        )
        bounce = findings.bounce_of(entry) if findings and entry else None
        earlier = received.get(mailbox(target.email or ""))
        if entry is not None and bounce is not None and entry.status == LetterStatus.SENT:
            _plan_bounced(
                plan,
                selected=selected,
                entry=entry,
                bounce=bounce,
                request=request,
                campaign_cc=session.loaded.campaign.campaign.cc,
            )
        elif request.retry_bounced:
            continue
        elif earlier is not None and earlier.target != target.id:
            plan.received_before.append(
                ReceivedBefore(target=target.id, to=target.email or "", earlier=earlier)
            )
        elif on_paper is not None and (entry is None or entry.status in _NOT_DELIVERED):
            plan.posted.append(on_paper)
        elif (
            entry is None
            or entry.status == LetterStatus.DEFERRED
            or (entry.status == LetterStatus.FAILED and request.retry_failed)
            or (entry.status == LetterStatus.UNCERTAIN and request.retry_uncertain)
        ):
            wait = (
                None
                if request.test
                else waiting(info=info, target=target, sender=session.sender.email, now=now)
            )
            if wait is not None and not request.outside_hours:
                plan.waiting_letters.append(wait)
                continue
            if wait is not None:
                plan.outside_hours.append(wait)
            plan.jobs.append(Job(selected=selected, previous=entry))
        elif entry.status == LetterStatus.SENT:
            plan.already_sent.append(entry)
        else:
            plan.held.append(entry)
    if request.limit is not None and len(plan.jobs) > request.limit:
        plan.waiting = len(plan.jobs) - request.limit
        plan.jobs = plan.jobs[: request.limit]
    return plan


_NOT_DELIVERED = frozenset({LetterStatus.DEFERRED, LetterStatus.FAILED, LetterStatus.UNCERTAIN})


def _posted(log: SendLog, *, session: Session) -> dict[str, Post]:
    """This sender's letters on paper, by target, except those named with --only."""
    named = session.composer.audience.named
    return {
        p.target: p
        for p in PostLog(log).all(campaign=session.campaign_id, sender=session.sender.email)
        if p.target not in named
    }


def phase(*, session: Session, now: datetime) -> Phase:
    """Whether the campaign takes letters at ``now`` (its dates and ``closed``)."""
    return campaign_phase(session.loaded.campaign.campaign, now=now)


def _plan_bounced(
    plan: Plan,
    *,
    selected: Selected,
    entry: Entry,
    bounce: Finding,
    request: SendRequest,
    campaign_cc: Sequence[str],
) -> None:
    """Resend when the campaign file now gives another address, or on --retry-bounced."""
    target = selected.target
    to = target.email or ""
    resend = Resend(
        entry=entry,
        bounce=bounce,
        to=to,
        copies_again=_copies_again(entry, selected=selected, campaign_cc=campaign_cc),
    )
    if request.retry_bounced or resend.address_changed:
        plan.jobs.append(Job(selected=selected, previous=replace(entry, message_id=None)))
        plan.resending.append(resend)
    else:
        plan.bounced.append((entry, bounce))


def _copies_again(
    entry: Entry, *, selected: Selected, campaign_cc: Sequence[str]
) -> tuple[str, ...]:
    """The new letter's copies that already got the bounced one (and did not refuse it)."""
    target = selected.target
    had = {mailbox(a) for a in entry.cc} - _refused(entry)
    now = copies(to=target.email or "", campaign_cc=campaign_cc, target_cc=target.cc)
    return tuple(a for a in now if mailbox(a) in had)


def _received(log: SendLog, *, session: Session) -> dict[str, Entry]:
    """Every address that may hold this campaign's letter from this sender: To and copies
    of letters sent or uncertain, less copies the server refused; the earliest letter wins."""
    found: dict[str, Entry] = {}
    entries = log.entries(campaign=session.campaign_id, sender=session.sender.email)
    for entry in sorted(entries, key=lambda e: e.updated_at):
        if entry.status not in (LetterStatus.SENT, LetterStatus.UNCERTAIN):
            continue
        refused = _refused(entry)
        for address in (entry.to, *entry.cc):
            key = mailbox(address)
            if key not in refused:
                found.setdefault(key, entry)
    return found


def _refused(entry: Entry) -> set[str]:
    """The copies the server refused ("address: reply"), as mailboxes."""
    return {mailbox(r.split(":", 1)[0].strip()) for r in entry.refused}


@dataclass
class SendRun:
    """A checked, locked run: the plan is made; ``deliver`` sends it."""

    session: Session
    request: SendRequest
    settings: SmtpSettings
    log: SendLog
    plan: Plan
    checked: dict[str, Checked] = field(default_factory=dict)
    """Every letter of the campaign for this sender, checked: its own share among others."""
    stopped_by: signal.Signals | None = None
    """The signal in ``stop_on`` that stopped the run, if one did."""

    def deliver(
        self,
        *,
        on_result: Callable[[Result], None] = lambda _: None,
        stop_on: Sequence[signal.Signals] = (),
    ) -> Summary:
        """Send the plan's letters; ``on_result`` hears of each one as it is settled.

        A signal in ``stop_on`` (e.g. SIGTERM) stops the run cleanly, like Ctrl-C: the
        letter in flight is recorded uncertain and the summary says ``interrupted``.
        """
        session, plan, request = self.session, self.plan, self.request
        budget = Quota.configured(
            log=self.log, sender=session.sender.email, settings=session.config.settings
        )
        dispatcher = Dispatcher(
            composer=session.composer,
            log=self.log,
            settings=self.settings,
            campaign_id=session.campaign_id,
            options=replace(request.options, campaign_sha256=session.trust.fingerprint),
            on_result=on_result,
            budget=budget,
            backoff=_backoff(session.config.settings.retry_delay),
        )
        reopened = FindingLog(self.log)
        going = {job.selected.target.id for job in plan.jobs}
        for resend in plan.resending:
            if resend.entry.target in going:
                reopened.reopen(resend.entry, bounce=resend.bounce)
        try:
            summary = asyncio.run(self._run_stoppable(dispatcher, stop_on=stop_on))
        except KeyboardInterrupt:
            summary = dispatcher.summary
            summary.interrupted = True
            summary.not_attempted = len(plan.jobs) - len(summary.results)
        if budget is not None and budget.blocked_until is not None:
            summary.quota_free_at = budget.blocked_until
        return summary

    async def _run_stoppable(
        self, dispatcher: Dispatcher, *, stop_on: Sequence[signal.Signals]
    ) -> Summary:
        loop = asyncio.get_running_loop()

        def stop(signum: signal.Signals) -> None:
            self.stopped_by = signum
            dispatcher.stop()

        for signum in stop_on:
            loop.add_signal_handler(signum, stop, signum)
        try:
            return await dispatcher.run(self.plan.jobs)
        finally:
            for signum in stop_on:
                loop.remove_signal_handler(signum)


def _backoff(first: float | None) -> Backoff | None:
    return None if first is None else Backoff(first=first, budget=BACKOFF_BUDGET)


def exit_code(*, run: SendRun, summary: Summary) -> ExitCode:
    """The run's exit code: a person is needed (1) before an interrupt, before "try later".

    Letters recovered as uncertain from a killed run need a person as much as a letter
    that became uncertain in this one.
    """
    return summary.exit_code(recovered=bool(run.plan.recovered), stopped_by=run.stopped_by)


@contextmanager
def open_send(*, session: Session, request: SendRequest) -> Iterator[SendRun]:
    """Check everything that can be refused, lock the campaign, and plan the run."""
    settings = smtp_settings(session.config, given=request.smtp, helo_name=session.sender.domain)
    asyncio.run(check_plaintext_allowed(settings=settings))
    checked = {c.target: c for c in session.composer.check_all()}
    if settings.auth is AuthMode.XOAUTH2:
        from protest_dispatch.oauth.source import with_token_source

        settings = with_token_source(settings, session.config, renew=True)
    with (
        SendLog.open(path=log_path(log=request.log, config=session.config)) as log,
        log.lock(campaign=session.campaign_id),
    ):
        plan = make_plan(session=session, log=log, request=request)
        _check_own_words(session, plan=plan, checked=checked)
        yield SendRun(
            session=session,
            request=request,
            settings=settings,
            log=log,
            plan=plan,
            checked=checked,
        )


def _check_own_words(session: Session, *, plan: Plan, checked: dict[str, Checked]) -> None:
    """``campaign.own_words``: refuse the run (exit 2) if a letter it would send has fewer."""
    required = session.loaded.campaign.campaign.own_words
    if required is None:
        return
    short = [
        (job.selected.target.id, checked[job.selected.target.id].own.own_words)
        for job in plan.jobs
        if checked[job.selected.target.id].own.own_words < required
    ]
    if short:
        raise OwnWordsError(required=required, letters=short)
