"""Deliver a run's letters over a few reused SMTP connections, at most once each.

Each connection works through letters one at a time: the send log row is
committed as ``sending`` before the transaction starts and as the outcome after
the server's reply, so a killed run leaves at most one letter per connection
whose fate is unknown, and the next run marks exactly those ``uncertain``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator, Sequence
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
from protest_dispatch.errors import ProtestError, SmtpUnavailableError
from protest_dispatch.mail.smtp import Delivery, SmtpConnection
from protest_dispatch.sendlog.store import Entry, SendLog
from protest_dispatch.settings.smtp import SmtpSettings
from protest_dispatch.vocabulary import ExitCode, LetterStatus

BACKOFF_FIRST = 1.0
BACKOFF_BUDGET = 60.0


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
    """Provider sending limits; ``take`` answers whether n more recipients may go now."""

    def take(self, recipients: int) -> bool: ...


@dataclass
class Summary:
    results: list[Result] = field(default_factory=list)
    not_attempted: int = 0
    stopped: ProtestError | None = None
    quota_reached: bool = False
    quota_free_at: datetime | None = None
    interrupted: bool = False

    def count(self, status: str) -> int:
        """Results with ``status`` (a :class:`LetterStatus` or its value)."""
        return sum(1 for r in self.results if r.status == status)

    @property
    def exit_code(self) -> int:
        """1 wins over 75: a failure needs a person, a deferral only time."""
        if (
            self.count(LetterStatus.FAILED)
            or self.count(LetterStatus.UNCERTAIN)
            or self.interrupted
        ):
            return ExitCode.FAILED
        if self.stopped is not None:
            return self.stopped.exit_code
        if self.count(LetterStatus.DEFERRED) or self.quota_reached:
            return ExitCode.TEMPFAIL
        return ExitCode.OK


class RateLimiter:
    """Spaces letters evenly across all connections: one every 60/N seconds, no bursts."""

    def __init__(self, per_minute: float) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self.next_slot = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(now, self.next_slot)
        self.next_slot = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass(frozen=True)
class SendOptions:
    concurrency: int = 2
    rate: float = 20.0
    attempts: int = 3
    test: bool = False


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
    ) -> None:
        self.composer = composer
        self.log = log
        self.settings = settings
        self.campaign_id = campaign_id
        self.options = options
        self.on_result = on_result
        self.budget = budget
        self.limiter = RateLimiter(options.rate)
        self.summary = Summary()
        self.sender = composer.sender
        self._first_open = asyncio.Event()  # set once the first connection is in (or gave up)

    async def run(self, jobs: Sequence[Job]) -> Summary:
        queue: Iterator[Job] = iter(jobs)
        workers = max(1, min(self.options.concurrency, len(jobs)))
        await asyncio.gather(*(self._worker(queue, first=n == 0) for n in range(workers)))
        self.summary.not_attempted += sum(1 for _ in queue)
        return self.summary

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
                if self.budget is not None and not self.budget.take(
                    len(letter.envelope_recipients)
                ):
                    self.summary.quota_reached = True
                    self.summary.not_attempted += 1
                    return
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
        waited = 0.0
        last: Delivery | None = None
        attempts = 0
        unreachable: SmtpUnavailableError | None = None
        for attempt in range(1, self.options.attempts + 1):
            if attempt > 1:
                delay = BACKOFF_FIRST * 2 ** (attempt - 2)
                if waited + delay > BACKOFF_BUDGET:
                    break  # a longer wait is the next run's job, not a burst of quick retries
                delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret
                waited += delay
                await asyncio.sleep(delay)
            if not connection.is_open:
                try:
                    await connection.open()
                except SmtpUnavailableError as exc:
                    unreachable = exc
                    continue
                unreachable = None
                self._first_open.set()
            await self.limiter.wait()
            last, attempts = await self._attempt(connection, letter, message_id)
            if last.reconnect:
                await connection.close()
            if last.outcome != LetterStatus.DEFERRED:
                break
        if unreachable is not None:
            raise unreachable
        assert last is not None, "the loop either delivers once or raises"
        self._report(letter, last, attempts)

    async def _attempt(
        self, connection: SmtpConnection, letter: Letter, message_id: str
    ) -> tuple[Delivery, int]:
        """One transaction between two commits; returns the outcome and the attempts so far."""
        test = self.options.test
        data = message_bytes(build_message(letter=letter, message_id=message_id))
        recipients = letter.envelope_recipients
        attempts = 0
        if test:
            self.log.add_usage(sender=self.sender.email, recipients=len(recipients))
        else:
            attempts = self.log.begin(
                campaign=self.campaign_id,
                target=letter.target.id,
                sender=self.sender.email,
                to=letter.to,
                cc=letter.cc,
                message_id=message_id,
                recipients=len(recipients),
            ).attempts
        try:
            delivery = await connection.deliver(
                mail_from=self.sender.email, to=recipients[0], copies=recipients[1:], data=data
            )
        except asyncio.CancelledError:
            why = "the run was interrupted while this letter was being sent; the server may have it"
            if not test:
                self.log.finish(
                    campaign=self.campaign_id,
                    target=letter.target.id,
                    sender=self.sender.email,
                    status=LetterStatus.UNCERTAIN,
                    error=why,
                )
            # reported too, so an interrupted run still accounts for this letter
            result = Result(
                target=letter.target.id,
                to=letter.to,
                status=LetterStatus.UNCERTAIN,
                code=None,
                message=f"Delivery is uncertain: {why}.",
            )
            self.summary.results.append(result)
            self.on_result(result)
            raise
        if not test:
            self.log.finish(
                campaign=self.campaign_id,
                target=letter.target.id,
                sender=self.sender.email,
                status=delivery.outcome,
                smtp_code=delivery.code,
                error=None if delivery.outcome == LetterStatus.SENT else delivery.message,
                refused=delivery.refused,
            )
        return delivery, attempts

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
