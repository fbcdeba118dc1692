"""Retry timing of ``protest send``: exponential backoff with jitter, bounded in total.

The product starts near a second and stops waiting after about a minute; these
tests scale both down through the module constants and measure when the real
server saw each attempt.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from protest_dispatch.mail import dispatch
from sendkit import by_target, env_for, log_rows, make_campaign, official, record_mail_times, send
from smtp_server import ServerFactory


def test_retries_wait_twice_as_long_each_time_with_jitter(
    tmp_path: Path, smtp_server_factory: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatch, "BACKOFF_FIRST", 0.2)
    server = smtp_server_factory(greylist=3, greylist_only={official(1)})
    times = record_mail_times(server)
    campaign = make_campaign(tmp_path / "c", targets=1)
    env = env_for(server, log=tmp_path / "log.sqlite3")

    run = send(campaign, "--attempts", "4", env=env)

    assert run.code == 0, run.output
    assert server.rcpt_attempts[official(1)] == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 3
    slack = 0.25  # the transaction itself, and a busy machine
    for number, gap in enumerate(gaps):
        full = 0.2 * 2**number
        assert full * 0.5 <= gap <= full + slack, (number, gaps)  # jitter: half to all of it
    row = by_target(log_rows(env))["t01"]
    assert (row["status"], row["attempts"]) == ("sent", 4)


def test_the_whole_wait_for_one_letter_is_bounded_then_it_is_deferred(
    tmp_path: Path, smtp_server_factory: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatch, "BACKOFF_FIRST", 0.1)
    monkeypatch.setattr(dispatch, "BACKOFF_BUDGET", 0.4)
    server = smtp_server_factory(greylist=99, greylist_only={official(1)})
    times = record_mail_times(server)
    campaign = make_campaign(tmp_path / "c", targets=2)
    env = env_for(server, log=tmp_path / "log.sqlite3")

    run = send(campaign, "--attempts", "10", "--concurrency", "1", env=env)

    assert run.code == 75, run.output
    # waits of 0.1 and 0.2 s (less with jitter) fit the budget; a third of 0.4 s would not,
    # and the letter is not hammered with quick retries once the budget is spent
    assert server.rcpt_attempts[official(1)] == 3
    first_letter = times[:3]
    gaps = [b - a for a, b in itertools.pairwise(first_letter)]
    assert min(gaps) >= 0.05, gaps
    assert first_letter[-1] - first_letter[0] <= 0.4 + 0.3
    rows = by_target(log_rows(env))
    assert rows["t01"]["status"] == "deferred"
    assert rows["t02"]["status"] == "sent"  # the next letter still went out
    assert "deferred" in run.stdout
