"""``protest send`` as a real child process: killed with SIGKILL mid-batch, and locked out.

The server delays every reply a little so that a run of 30 letters is still going
when the test kills it; the rerun must then leave every letter sent exactly once
or marked uncertain, and nobody may get the same letter twice.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from kit import (
    by_target,
    deliveries_per_address,
    env_for,
    log_rows,
    make_campaign,
    official,
    send,
    spawn,
    statuses,
)
from smtp_server import ServerFactory

LETTERS = 30


def wait_until(
    condition: Callable[[], bool], *, child: subprocess.Popen[str], seconds: float = 20.0
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if child.poll() is not None:
            _, err = child.communicate()
            pytest.fail(f"the run ended (exit {child.returncode}) before the test could act: {err}")
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail("the run made no progress in time")
        time.sleep(0.005)


@pytest.mark.slow
@pytest.mark.parametrize(("concurrency", "kill_after"), [(3, 8), (1, 4)])
def test_a_run_killed_mid_batch_and_rerun_sends_every_letter_at_most_once(
    tmp_path: Path, smtp_server_factory: ServerFactory, concurrency: int, kill_after: int
) -> None:
    server = smtp_server_factory(delay=0.03)
    campaign = make_campaign(tmp_path / "c", targets=LETTERS)
    log = tmp_path / "log.sqlite3"
    env = env_for(server, log=log)

    child = spawn(campaign, "--rate", "0", "--concurrency", str(concurrency), env=env)
    wait_until(lambda: len(server.messages) >= kill_after, child=child)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL
    got_before_rerun = len(server.messages)
    assert got_before_rerun < LETTERS, "the run finished before it was killed"
    in_flight = [t for t, s in statuses(log).items() if s == "sending"]
    assert len(in_flight) <= concurrency

    server.update_faults(delay=0.0)  # the rerun need not be slow
    rerun = send(campaign, "--concurrency", str(concurrency), env=env)

    # the letters in flight at the kill became uncertain: a person has to decide (1)
    assert rerun.code == (1 if in_flight else 0), rerun.output
    ids = Counter(str(m.message["Message-ID"]) for m in server.messages)
    assert ids
    assert max(ids.values()) == 1, "a letter went out twice"
    per_address = deliveries_per_address(server)
    rows = by_target(log_rows(env))
    assert len(rows) == LETTERS
    uncertain = {t for t, row in rows.items() if row["status"] == "uncertain"}
    assert uncertain == set(in_flight), "only letters in flight at the kill may be uncertain"
    assert len(uncertain) <= concurrency
    for number in range(1, LETTERS + 1):
        target = f"t{number:02d}"
        received = per_address[official(number)]
        assert received <= 1, f"{official(number)} got the letter {received} times"
        if target not in uncertain:
            assert rows[target]["status"] == "sent"
            assert received == 1
    for row in rows.values():
        if row["status"] == "sent":
            assert row["message_id"] in ids


@pytest.mark.slow
def test_a_second_run_while_one_is_sending_exits_75_at_once_and_sends_nothing(
    tmp_path: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(delay=0.15)
    campaign = make_campaign(tmp_path / "c", targets=3)
    log = tmp_path / "log.sqlite3"
    env = env_for(server, log=log)
    child = spawn(campaign, "--rate", "0", "--concurrency", "1", env=env)
    wait_until(lambda: server.connections >= 1, child=child)  # it locks before connecting

    started = time.monotonic()
    second = send(campaign, env=env)
    elapsed = time.monotonic() - started

    assert second.code == 75, second.output
    assert "Another `protest send` is running" in second.stderr
    assert f"process {child.pid}" in second.stderr.replace("\n", "")
    assert elapsed < 3.0
    assert server.connections == 1  # the second run never connected
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, out + err
    counts = deliveries_per_address(server)
    assert [counts[official(n)] for n in (1, 2, 3)] == [1, 1, 1]


@pytest.mark.slow
def test_an_interrupted_run_accounts_for_every_letter_and_the_rerun_sends_the_rest(
    tmp_path: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(delay=0.03)
    total = 12
    campaign = make_campaign(tmp_path / "c", targets=total)
    log = tmp_path / "log.sqlite3"
    env = env_for(server, log=log)
    child = spawn(campaign, "--rate", "0", "--concurrency", "2", env=env)
    wait_until(lambda: len(server.messages) >= 3, child=child)

    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=20)

    assert "Traceback" not in err
    assert "Interrupted" in err
    rows = by_target(log_rows(env))
    sent = sum(1 for r in rows.values() if r["status"] == "sent")
    uncertain = sum(1 for r in rows.values() if r["status"] == "uncertain")
    assert uncertain <= 2
    assert child.returncode == (1 if uncertain else 130), out + err
    assert not [r for r in rows.values() if r["status"] == "sending"]
    counts = {
        cells[1].strip(): int(cells[2])
        for line in out.splitlines()
        if len(cells := line.split("│")) == 4 and cells[2].strip().isdigit()
    }
    assert counts.get("sent") == sent
    assert counts.get("uncertain", 0) == uncertain
    assert sent + uncertain + counts.get("not attempted", 0) == total

    server.update_faults(delay=0.0)
    rerun = send(campaign, env=env)
    assert rerun.code == 0, rerun.output
    per_address = deliveries_per_address(server)
    assert all(per_address[official(n)] <= 1 for n in range(1, total + 1))
    final = by_target(log_rows(env))
    assert sum(1 for r in final.values() if r["status"] == "sent") == total - uncertain
