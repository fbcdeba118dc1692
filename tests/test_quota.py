"""Provider limits hold across processes and campaigns that share one send log.

Recipients are reserved in one write transaction before each letter, so runs
started together cannot both take the last places; reservations of letters that
were never attempted are given back.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kit import env_for, make_campaign, send, spawn
from protest_dispatch.delivery.quota import HOUR, Quota
from protest_dispatch.sendlog.store import SendLog
from protest_dispatch.vocabulary import ExitCode
from smtp_server import Server, free_port

ServerFactory = Callable[..., Server]
SENDER = "ana@example.org"


def used(log: Path) -> int:
    with sqlite3.connect(log) as conn:
        return int(conn.execute("SELECT COALESCE(SUM(recipients), 0) FROM usage").fetchone()[0])


def test_two_runs_started_together_never_exceed_the_hourly_limit(
    tmp_path: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(delay=0.05)  # each letter takes a while: the runs overlap
    log = tmp_path / "log.sqlite3"
    env = env_for(server, log=log, PROTEST_LIMIT_PER_HOUR="4")
    campaigns = [
        make_campaign(tmp_path / name, targets=4, campaign_cc=(), campaign_id=name)
        for name in ("first", "second")
    ]
    children = [spawn(c, "--rate", "0", "--concurrency", "2", env=env) for c in campaigns]
    outputs = [child.communicate(timeout=60) for child in children]
    codes = [child.returncode for child in children]

    assert len(server.messages) == 4, outputs  # the whole budget, and not one more
    assert used(log) == 4
    assert ExitCode.TEMPFAIL in codes, (codes, outputs)  # someone was told to wait
    assert set(codes) <= {0, 75}, outputs


def test_reservations_from_many_connections_at_once_fit_the_limit(tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite3"
    SendLog.open(path=db).close()
    granted: list[int] = []
    start = threading.Barrier(4)

    def worker() -> None:
        with SendLog.open(path=db, busy_timeout=10) as log:
            quota = Quota(log=log, sender=SENDER, per_hour=10, per_day=None)
            start.wait()
            for _ in range(10):
                if quota.reserve(2) is not None:
                    granted.append(2)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 10
    assert used(db) == 10


def test_a_released_reservation_is_given_back_and_a_used_one_is_kept(tmp_path: Path) -> None:
    with SendLog.open(path=tmp_path / "log.sqlite3") as log:
        quota = Quota(log=log, sender=SENDER, per_hour=3, per_day=None)
        kept = quota.reserve(2)
        assert kept is not None
        log.begin(
            campaign="c",
            target="t1",
            sender=SENDER,
            to="t1@example.org",
            cc=("press@example.org",),
            message_id="<1@example.org>",
            recipients=2,
            reservation=kept,
        )
        assert quota.used_in(HOUR) == 2  # begin() added no second usage row
        spare = quota.reserve(1)
        assert spare is not None
        assert quota.reserve(1) is None
        assert quota.blocked_until is not None
        quota.release(spare)
        quota.release(kept)  # already used by begin(): nothing is given back
        assert quota.used_in(HOUR) == 2
        assert quota.reserve(1) is not None


def test_next_free_reserves_nothing(tmp_path: Path) -> None:
    moment = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    with SendLog.open(path=tmp_path / "log.sqlite3") as log:
        quota = Quota(log=log, sender=SENDER, per_hour=1, per_day=None, clock=lambda: moment)
        assert quota.next_free(1) is None
        assert quota.reserve(1) is not None
        assert quota.next_free(1) == moment + timedelta(hours=1)
        assert quota.used_in(HOUR) == 1


def test_letters_never_attempted_give_their_reservation_back(tmp_path: Path) -> None:
    campaign = make_campaign(tmp_path / "c", targets=3, campaign_cc=())
    log = tmp_path / "log.sqlite3"
    env = env_for(None, log=log, port=free_port(), PROTEST_LIMIT_PER_HOUR="10")

    run = send(campaign, "--attempts", "1", env=env)

    assert run.code == 75, run.output  # nothing listens there: try later
    assert used(log) == 0
