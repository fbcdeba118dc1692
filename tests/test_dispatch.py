"""The dispatcher against a real server: backoff delays, its budget, and stopping from outside.

The dispatcher takes its sleep, clock and backoff as arguments, so these tests
record the delays it asks for instead of measuring wall-clock gaps, and nothing
in the product is patched.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kit import FROM, env_for, make_campaign, official, subprocess_env
from protest_dispatch.commands.session import Session, prepare
from protest_dispatch.delivery.dispatch import Backoff, Dispatcher, Job, Summary
from protest_dispatch.delivery.options import SendOptions
from protest_dispatch.sendlog.store import SendLog
from protest_dispatch.settings.smtp import SmtpSettings
from protest_dispatch.vocabulary import ExitCode, LetterStatus, Security
from smtp_server import Server

ServerFactory = Callable[..., Server]


@pytest.fixture
def log(tmp_path: Path) -> Iterator[SendLog]:
    with SendLog.open(path=tmp_path / "log.sqlite3") as opened:
        yield opened


def session_for(tmp_path: Path, *, targets: int) -> Session:
    campaign = make_campaign(tmp_path / "c", targets=targets, campaign_cc=())
    return prepare(
        targets=campaign, config_path=None, from_=FROM, country=None, lang=None, dry_run=False
    )


def settings_for(server: Server) -> SmtpSettings:
    return SmtpSettings(
        host=server.host, port=server.port, security=Security.NONE, helo_name="example.org"
    )


class Sleeps:
    """An injected sleep that records what was asked and yields without waiting."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        await asyncio.sleep(0)


def dispatcher(
    session: Session,
    log: SendLog,
    server: Server,
    *,
    attempts: int,
    sleeps: Sleeps,
    backoff: Backoff,
    concurrency: int = 1,
) -> Dispatcher:
    return Dispatcher(
        composer=session.composer,
        log=log,
        settings=settings_for(server),
        campaign_id=session.campaign_id,
        options=SendOptions(concurrency=concurrency, rate=0, attempts=attempts),
        backoff=backoff,
        sleep=sleeps,
    )


def jobs(session: Session) -> list[Job]:
    return [Job(selected=s) for s in session.composer.audience.letters]


def test_retries_wait_twice_as_long_each_time_with_jitter(
    tmp_path: Path, smtp_server_factory: ServerFactory, log: SendLog
) -> None:
    server = smtp_server_factory(greylist=3, greylist_only={official(1)})
    session = session_for(tmp_path, targets=1)
    sleeps = Sleeps()
    jitters = iter([0.5, 1.0, 0.75])
    run = dispatcher(
        session,
        log,
        server,
        attempts=4,
        sleeps=sleeps,
        backoff=Backoff(first=1.0, budget=60.0, jitter=lambda: next(jitters)),
    )

    summary = asyncio.run(run.run(jobs(session)))

    assert sleeps.asked == [0.5, 2.0, 3.0]  # 1, 2 and 4 s, each scaled by its jitter
    assert server.rcpt_attempts[official(1)] == 4
    assert [r.status for r in summary.results] == [LetterStatus.SENT]
    entry = log.get(campaign=session.campaign_id, target="t01", sender="ana@example.org")
    assert entry is not None
    assert (entry.status, entry.attempts) == (LetterStatus.SENT, 4)


def test_jitter_stays_between_half_and_all_of_each_delay_within_the_budget() -> None:
    delays = list(Backoff(first=1.0, budget=1000.0).delays())
    assert len(delays) >= 9  # 1+2+...+256 = 511 fits even without jitter
    for number, delay in enumerate(delays):
        assert 0.5 * 2**number <= delay <= 2**number
    assert sum(delays) <= 1000.0


def test_the_whole_wait_for_one_letter_is_bounded_then_it_is_deferred(
    tmp_path: Path, smtp_server_factory: ServerFactory, log: SendLog
) -> None:
    server = smtp_server_factory(greylist=99, greylist_only={official(1)})
    session = session_for(tmp_path, targets=2)
    sleeps = Sleeps()
    run = dispatcher(
        session,
        log,
        server,
        attempts=10,
        sleeps=sleeps,
        backoff=Backoff(first=1.0, budget=4.0, jitter=lambda: 1.0),
    )

    summary = asyncio.run(run.run(jobs(session)))

    # waits of 1 and 2 s fit the budget of 4; a third of 4 s would not, and the letter
    # is not hammered with quick retries once the budget is spent
    assert sleeps.asked == [1.0, 2.0]
    assert server.rcpt_attempts[official(1)] == 3
    assert {r.target: r.status for r in summary.results} == {
        "t01": LetterStatus.DEFERRED,
        "t02": LetterStatus.SENT,  # the next letter still went out
    }
    assert summary.exit_code() == ExitCode.TEMPFAIL


async def _stop_during_data(run: Dispatcher, server: Server, session: Session) -> Summary:
    task = asyncio.create_task(run.run(jobs(session)))
    while not server.unanswered:  # the first letter's data is in; no reply will come
        await asyncio.sleep(0.01)
    run.stop()
    return await task


def test_stop_from_outside_finishes_the_bookkeeping_and_returns_the_summary(
    tmp_path: Path, smtp_server_factory: ServerFactory, log: SendLog
) -> None:
    server = smtp_server_factory(stall_data=30)
    session = session_for(tmp_path, targets=3)
    run = dispatcher(session, log, server, attempts=1, sleeps=Sleeps(), backoff=Backoff(first=1.0))

    summary = asyncio.run(_stop_during_data(run, server, session))

    assert summary.interrupted
    assert [(r.target, r.status) for r in summary.results] == [("t01", LetterStatus.UNCERTAIN)]
    assert summary.not_attempted == 2
    assert summary.exit_code() == ExitCode.FAILED
    statuses = {e.target: e.status for e in log.entries()}
    assert statuses == {"t01": LetterStatus.UNCERTAIN}  # never left "sending"


def test_cancelling_the_run_task_does_the_same_bookkeeping_and_propagates(
    tmp_path: Path, smtp_server_factory: ServerFactory, log: SendLog
) -> None:
    server = smtp_server_factory(stall_data=30)
    session = session_for(tmp_path, targets=2)
    run = dispatcher(session, log, server, attempts=1, sleeps=Sleeps(), backoff=Backoff(first=1.0))

    async def cancel_it() -> None:
        task = asyncio.create_task(run.run(jobs(session)))
        while not server.unanswered:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_it())

    assert run.summary.interrupted
    assert [e.status for e in log.entries()] == [LetterStatus.UNCERTAIN]


def test_sigterm_stops_a_run_in_a_real_process_with_its_bookkeeping_done(
    tmp_path: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(stall_data=30)
    campaign = make_campaign(tmp_path / "c", targets=3, campaign_cc=())
    log = tmp_path / "log.sqlite3"
    script = textwrap.dedent(f"""
        import signal
        from pathlib import Path
        from protest_dispatch.commands.send import SendRequest, open_send
        from protest_dispatch.vocabulary import LetterStatus
        from protest_dispatch.commands.session import prepare
        session = prepare(targets=Path({str(campaign)!r}), config_path=None, from_={FROM!r},
                          country=None, lang=None, dry_run=False)
        from protest_dispatch.delivery.options import SendOptions
        request = SendRequest(options=SendOptions(rate=0, concurrency=1, attempts=1))
        with open_send(session=session, request=request) as run:
            summary = run.deliver(stop_on=(signal.SIGTERM,))
        print(summary.interrupted, summary.count(LetterStatus.UNCERTAIN), summary.not_attempted)
    """)
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        env=subprocess_env(env_for(server, log=log)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not server.unanswered and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.unanswered, "the first letter never reached DATA"
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=20)
    finally:
        child.kill()
    assert child.returncode == 0, err  # stopped cleanly, not killed (143)
    assert out.split() == ["True", "1", "2"]
    with SendLog.open(path=log, read_only=True) as reread:
        assert [(e.target, e.status) for e in reread.entries()] == [("t01", LetterStatus.UNCERTAIN)]
