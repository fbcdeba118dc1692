"""Deliver a run's letters over a few reused SMTP connections, at most once each.

Each connection works through letters one at a time: the send log row is
committed as ``sending`` before the transaction starts and as the outcome after
the server's reply, so a killed run leaves at most one letter per connection
whose fate is unknown, and the next run marks exactly those ``uncertain``.

Stopping from outside: :meth:`Dispatcher.stop` (safe from a signal handler
installed with ``loop.add_signal_handler``) cancels the workers; a letter in
the middle of its transaction is recorded ``uncertain``, reserved quota of
letters not attempted is given back, and :meth:`Dispatcher.run` returns the
summary with ``interrupted`` set. Cancelling the task running ``run`` does the
same bookkeeping and then re-raises ``CancelledError``.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from protest_dispatch.campaign.audience import Selected
from protest_dispatch.campaign.compose import Composer
from protest_dispatch.campaign.message import (
    Letter,
    as_test,
    build_message,
    make_message_id,
    message_bytes,
)
from protest_dispatch.delivery.options import SendOptions
from protest_dispatch.errors import ProtestError, SmtpUnavailableError
from protest_dispatch.mail.smtp import SmtpConnection
from protest_dispatch.mail.verdict import Delivery
from protest_dispatch.sendlog.store import Entry, Reservation, SendLog
from protest_dispatch.settings.smtp import SmtpSettings
from protest_dispatch.vocabulary import ExitCode, LetterStatus

BACKOFF_FIRST = 1.0
"""Seconds before the first retry; each further retry waits twice as long (with jitter)."""
BACKOFF_BUDGET = 60.0
"""Seconds one letter may spend waiting between attempts; longer waits are the next run's."""

INTERRUPTED = "the run was interrupted while this letter was being sent; the server may have it"


@dataclass(frozen=True)
class Job:
    selected: Selected
    previous: Entry | None = None


@dataclass(frozen=True)
class Result:
    target: str
    to: str
    status: LetterStatus
    code: int | None
    message: str
    refused: tuple[str, ...] = ()
    attempts: int = 0


class Budget(Protocol):
    """Provider sending limits shared through the send log (see :mod:`delivery.quota`)."""

    def reserve(self, recipients: int) -> Reservation | None:
        """Take ``recipients`` for one letter now, or None if they do not fit."""

    def release(self, reservation: Reservation) -> None:
        """Give back a reservation whose letter was not attempted."""


@dataclass
class Summary:
    results: list[Result] = field(default_factory=list)
    not_attempted: int = 0
    stopped: ProtestError | None = None
    quota_reached: bool = False
    quota_free_at: datetime | None = None
    interrupted: bool = False

    def count(self, status: LetterStatus) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def handed_over(self) -> int:
        """Letters this run gave to the server (sent, or maybe: uncertain).

        When it is 0, a caller may truly say "Nothing was sent"; the transport's own
        errors never say so, because they cannot know what the run did before them.
        """
        return self.count(LetterStatus.SENT) + self.count(LetterStatus.UNCERTAIN)

    def exit_code(
        self, *, recovered: bool = False, stopped_by: signal.Signals | None = None
    ) -> ExitCode:
        """The run's exit code, the one place "1 beats 75" is decided.

        A person is needed (1: a letter failed or is uncertain, in this run or
        ``recovered`` from a killed one) beats a stop (130 for Ctrl-C, 143 for SIGTERM
        ``stopped_by``, or the error that stopped the run), which beats "try later"
        (75: a letter deferred or the sending limit reached): a failure needs a person,
        a deferral only time.
        """
        if recovered or self.count(LetterStatus.FAILED) or self.count(LetterStatus.UNCERTAIN):
            return ExitCode.FAILED
        if self.interrupted:
            return ExitCode.TERMINATED if stopped_by == signal.SIGTERM else ExitCode.INTERRUPTED
        if self.stopped is not None:
            return ExitCode(self.stopped.exit_code)
        if self.count(LetterStatus.DEFERRED) or self.quota_reached:
            return ExitCode.TEMPFAIL
        return ExitCode.OK


Sleep = Callable[[float], Awaitable[None]]


class RateLimiter:
    """Spaces letters evenly across all connections: one every 60/N seconds, no bursts."""

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self.next_slot = 0.0
        self._clock = clock
        self._sleep = sleep

    async def wait(self) -> None:
        if not self.interval:
            return
        now = self._clock()
        slot = max(now, self.next_slot)
        self.next_slot = slot + self.interval
        if slot > now:
            await self._sleep(slot - now)


@dataclass(frozen=True)
class Backoff:
    """How long to wait between attempts at one letter, and for how long in all."""

    first: float = BACKOFF_FIRST
    budget: float = BACKOFF_BUDGET
    jitter: Callable[[], float] = lambda: random.uniform(0.5, 1.0)  # noqa: S311 - not a secret

    def delays(self) -> Iterator[float]:
        """The wait before each retry, jittered, until the next would exceed the budget."""
        waited = 0.0
        full = self.first
        while waited + full <= self.budget:
            delay = full * self.jitter()
            waited += delay
            yield delay
            full *= 2


class Dispatcher:
    def __init__(
        self,
        *,
        composer: Composer,
        log: SendLog,
        settings: SmtpSettings,
        campaign_id: str,
        options: SendOptions,
        on_result: Callable[[Result], None] = lambda _: None,
        budget: Budget | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.composer = composer
        self.log = log
        self.settings = settings
        self.campaign_id = campaign_id
        self.options = options
        self.on_result = on_result
        self.budget = budget
        # read at construction, so the module defaults stay one place to change them
        self.backoff = backoff or Backoff()
        self.sleep = sleep
        self.limiter = RateLimiter(options.rate, clock=clock, sleep=sleep)
        self.summary = Summary()
        self.sender = composer.sender
        self._first_open = asyncio.Event()  # set once the first connection is in (or gave up)
        self._workers: asyncio.Future[list[None]] | None = None
        self._stop_requested = False

    async def run(self, jobs: Sequence[Job]) -> Summary:
        """Send ``jobs``; returns the summary, also after :meth:`stop`."""
        queue: Iterator[Job] = iter(jobs)
        workers = max(1, min(self.options.concurrency, len(jobs)))
        self._workers = asyncio.gather(*(self._worker(queue, first=n == 0) for n in range(workers)))
        try:
            await self._workers
        except asyncio.CancelledError:
            self.summary.interrupted = True
            self.summary.not_attempted = len(jobs) - len(self.summary.results)
            if not self._stop_requested:
                raise  # our own task was cancelled: the canceller expects to see it
            return self.summary
        self.summary.not_attempted += sum(1 for _ in queue)
        return self.summary

    def stop(self) -> None:
        """Stop the run from outside (e.g. on SIGTERM); :meth:`run` then returns."""
        self._stop_requested = True
        if self._workers is not None:
            self._workers.cancel()

    def _stop(self, reason: ProtestError) -> None:
        if self.summary.stopped is None:
            self.summary.stopped = reason

    async def _worker(self, queue: Iterator[Job], *, first: bool) -> None:
        """Work through the queue on one connection.

        With a login, only the first worker connects at once and the others wait until
        it is in, so a wrong password costs one failed login, not one per worker
        (providers lock accounts after a few). Without one, all connect at once.
        """
        connection = SmtpConnection(settings=self.settings)
        if not first and self.settings.username is not None:
            await self._first_open.wait()
        try:
            while self.summary.stopped is None and not self.summary.quota_reached:
                job = next(queue, None)
                if job is None:
                    return
                letter = self.composer.letter(job.selected)
                if self.options.test:
                    letter = as_test(letter)
                try:
                    await self._send(connection, job, letter)
                except ProtestError as exc:
                    self._stop(exc)
                    self.summary.not_attempted += 1
        finally:
            if first:
                self._first_open.set()
            await connection.close()

    async def _send(self, connection: SmtpConnection, job: Job, letter: Letter) -> None:
        """One letter, retried on transient failures within a bounded wait."""
        message_id = (job.previous.message_id if job.previous else None) or make_message_id(
            domain=self.sender.domain
        )
        delays = self.backoff.delays()
        last: tuple[Delivery, int] | None = None
        unreachable: SmtpUnavailableError | None = None
        for attempt in range(self.options.attempts):
            if attempt:
                delay = next(delays, None)
                if delay is None:
                    break  # a longer wait is the next run's job, not a burst of quick retries
                await self.sleep(delay)
            outcome = await self._try(connection, letter, message_id)
            if outcome is None:
                break
            if isinstance(outcome, SmtpUnavailableError):
                unreachable = outcome
                continue
            unreachable, last = None, outcome
            if last[0].outcome != LetterStatus.DEFERRED:
                break
        if unreachable is not None:
            raise unreachable
        if last is None:  # the sending limit was reached before the first attempt
            self.summary.not_attempted += 1
            return
        self._report(letter, *last)

    async def _try(
        self, connection: SmtpConnection, letter: Letter, message_id: str
    ) -> tuple[Delivery, int] | SmtpUnavailableError | None:
        """One attempt within the sending limit; None if the limit is reached.

        The recipients are reserved first and given back if the letter is not attempted.
        """
        reservation = None
        if self.budget is not None:
            reservation = self.budget.reserve(len(letter.envelope_recipients))
            if reservation is None:
                self.summary.quota_reached = True
                return None
        try:
            return await self._try_reserved(connection, letter, message_id, reservation)
        finally:
            if reservation is not None and self.budget is not None:
                self.budget.release(reservation)  # nothing to give back once it was used

    async def _try_reserved(
        self,
        connection: SmtpConnection,
        letter: Letter,
        message_id: str,
        reservation: Reservation | None,
    ) -> tuple[Delivery, int] | SmtpUnavailableError:
        """Connect if need be, wait for a slot, deliver; or say why it could not connect."""
        if not connection.is_open:
            try:
                await connection.open()
            except SmtpUnavailableError as exc:
                return exc
            self._first_open.set()
        await self.limiter.wait()
        delivery, attempts = await self._attempt(connection, letter, message_id, reservation)
        if delivery.reconnect:
            await connection.close()
        return delivery, attempts

    async def _attempt(
        self,
        connection: SmtpConnection,
        letter: Letter,
        message_id: str,
        reservation: Reservation | None,
    ) -> tuple[Delivery, int]:
        """One transaction between two commits; returns the outcome and the attempts so far."""
        data = message_bytes(build_message(letter=letter, message_id=message_id))
        recipients = letter.envelope_recipients
        attempts = 0
        if self.options.test:
            self.log.add_usage(
                sender=self.sender.email, recipients=len(recipients), reservation=reservation
            )
        else:
            attempts = self.log.begin(
                campaign=self.campaign_id,
                target=letter.target.id,
                sender=self.sender.email,
                to=letter.to,
                cc=letter.cc,
                message_id=message_id,
                recipients=len(recipients),
                reservation=reservation,
                campaign_sha256=self.options.campaign_sha256,
            ).attempts
        try:
            delivery = await connection.deliver(
                mail_from=self.sender.email, to=recipients[0], copies=recipients[1:], data=data
            )
        except asyncio.CancelledError:
            self._interrupted(letter)
            raise
        self._finish(letter, delivery)
        return delivery, attempts

    def _interrupted(self, letter: Letter) -> None:
        """Account for a letter cut off mid-transaction: it may have arrived."""
        if not self.options.test:
            self.log.finish(
                campaign=self.campaign_id,
                target=letter.target.id,
                sender=self.sender.email,
                status=LetterStatus.UNCERTAIN,
                error=INTERRUPTED,
            )
        # reported too, so an interrupted run still accounts for this letter
        result = Result(
            target=letter.target.id,
            to=letter.to,
            status=LetterStatus.UNCERTAIN,
            code=None,
            message=f"Delivery is uncertain: {INTERRUPTED}.",
        )
        self.summary.results.append(result)
        self.on_result(result)

    def _finish(self, letter: Letter, delivery: Delivery) -> None:
        if self.options.test:
            return
        self.log.finish(
            campaign=self.campaign_id,
            target=letter.target.id,
            sender=self.sender.email,
            status=delivery.outcome,
            smtp_code=delivery.code,
            error=None if delivery.outcome == LetterStatus.SENT else delivery.message,
            refused=delivery.refused,
        )

    def _report(self, letter: Letter, delivery: Delivery, attempts: int) -> None:
        result = Result(
            target=letter.target.id,
            to=letter.to,
            status=delivery.outcome,
            code=delivery.code,
            message=delivery.message,
            refused=delivery.refused,
            attempts=attempts,
        )
        self.summary.results.append(result)
        self.on_result(result)
