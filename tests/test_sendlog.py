"""The send log against real SQLite files: roundtrips, refusals, locks and crashes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import protest_dispatch.sendlog.store as sendlog_module
from protest_dispatch.errors import InputError, LockedError, SendLogError
from protest_dispatch.sendlog.calls import CallLog
from protest_dispatch.sendlog.store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    UNCERTAIN_ERROR,
    Entry,
    SendLog,
    parse_time,
    utc_now,
)
from protest_dispatch.vocabulary import ExitCode, LetterStatus

SRC = Path(sendlog_module.__file__).resolve().parents[1]
CAMPAIGN = "court-2026"
ALICE = "alice@example.org"
BOB = "bob@example.org"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sendlog.sqlite3"


@pytest.fixture
def log(db: Path) -> Iterator[SendLog]:
    with SendLog.open(path=db) as opened:
        yield opened


def begin(log: SendLog, target: str, *, sender: str = ALICE, campaign: str = CAMPAIGN) -> Entry:
    return log.begin(
        campaign=campaign,
        target=target,
        sender=sender,
        to=f"{target}@example.org",
        cc=[f"clerk.{target}@example.org"],
        message_id=f"<{target}.{sender}@example.org>",
        recipients=2,
    )


def run_python(code: str) -> subprocess.Popen[str]:
    """Start a Python child that can import protest_dispatch from this tree."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_hard(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
    child.communicate(timeout=10)


# --- roundtrips -------------------------------------------------------------------------


def test_begin_commits_a_sending_row_with_everything_but_the_outcome(log: SendLog) -> None:
    entry = begin(log, "judge-a")

    assert entry == Entry(
        campaign=CAMPAIGN,
        target="judge-a",
        sender=ALICE,
        to="judge-a@example.org",
        cc=("clerk.judge-a@example.org",),
        status="sending",
        attempts=1,
        smtp_code=None,
        error=None,
        message_id=f"<judge-a.{ALICE}@example.org>",
        updated_at=entry.updated_at,
        refused=(),
        next_attempt_at=None,
    )
    assert log.get(campaign=CAMPAIGN, target="judge-a", sender=ALICE) == entry
    assert abs(parse_time(entry.updated_at) - datetime.now(UTC)) < timedelta(seconds=5)


def test_finish_records_the_outcome_and_survives_reopening(db: Path) -> None:
    with SendLog.open(path=db) as log:
        begin(log, "judge-a")
        done = log.finish(
            campaign=CAMPAIGN,
            target="judge-a",
            sender=ALICE,
            status="sent",
            smtp_code=250,
            refused=["clerk.judge-a@example.org: 550 no such user"],
        )
    assert done.status == "sent"
    assert done.smtp_code == 250
    assert done.refused == ("clerk.judge-a@example.org: 550 no such user",)

    with SendLog.open(path=db) as again:
        assert again.get(campaign=CAMPAIGN, target="judge-a", sender=ALICE) == done
        assert again.get(campaign=CAMPAIGN, target="judge-b", sender=ALICE) is None


def test_deferred_letter_keeps_its_retry_time_in_utc(log: SendLog) -> None:
    begin(log, "judge-a")
    entry = log.finish(
        campaign=CAMPAIGN,
        target="judge-a",
        sender=ALICE,
        status="deferred",
        smtp_code=451,
        error="451 try again later",
        next_attempt_at="2026-11-29T01:30:00+01:00",
    )
    assert entry.next_attempt_at == "2026-11-29T00:30:00Z"
    assert entry.error == "451 try again later"


def test_entries_filter_by_campaign_status_and_sender_in_order(log: SendLog) -> None:
    for target in ("judge-c", "judge-a", "judge-b"):
        begin(log, target)
    begin(log, "judge-a", sender=BOB)
    begin(log, "mayor", campaign="other")
    log.finish(campaign=CAMPAIGN, target="judge-b", sender=ALICE, status="sent")
    log.finish(
        campaign=CAMPAIGN,
        target="judge-c",
        sender=ALICE,
        status="failed",
        smtp_code=550,
        error="550 mailbox unavailable",
    )

    def keys(entries: list[Entry]) -> list[tuple[str, str, str]]:
        return [(e.campaign, e.target, e.sender) for e in entries]

    assert keys(log.entries()) == [
        (CAMPAIGN, "judge-a", ALICE),
        (CAMPAIGN, "judge-a", BOB),
        (CAMPAIGN, "judge-b", ALICE),
        (CAMPAIGN, "judge-c", ALICE),
        ("other", "mayor", ALICE),
    ]
    assert keys(log.entries(campaign="other")) == [("other", "mayor", ALICE)]
    assert keys(log.entries(status="sent")) == [(CAMPAIGN, "judge-b", ALICE)]
    assert keys(log.entries(sender=BOB)) == [(CAMPAIGN, "judge-a", BOB)]
    assert keys(log.entries(campaign=CAMPAIGN, status="sending", sender=ALICE)) == [
        (CAMPAIGN, "judge-a", ALICE),
    ]
    assert log.entries(campaign="nope") == []


def test_begin_again_counts_the_attempt_and_clears_the_old_outcome(log: SendLog) -> None:
    begin(log, "judge-a")
    log.finish(
        campaign=CAMPAIGN,
        target="judge-a",
        sender=ALICE,
        status="deferred",
        smtp_code=451,
        error="451 greylisted",
        refused=["x@example.org: 550 no"],
        next_attempt_at="2026-11-29T00:00:00Z",
    )
    second = log.begin(
        campaign=CAMPAIGN,
        target="judge-a",
        sender=ALICE,
        to="new@example.org",
        cc=[],
        message_id="<second@example.org>",
        recipients=1,
    )
    log.finish(campaign=CAMPAIGN, target="judge-a", sender=ALICE, status="uncertain")
    third = begin(log, "judge-a")

    assert second.attempts == 2
    assert (
        second.status,
        second.smtp_code,
        second.error,
        second.refused,
        second.next_attempt_at,
    ) == ("sending", None, None, (), None)
    assert (second.to, second.cc, second.message_id) == (
        "new@example.org",
        (),
        "<second@example.org>",
    )
    assert third.attempts == 3
    assert begin(log, "judge-b").attempts == 1


@pytest.mark.parametrize("status", ["sent", None])
def test_begin_refuses_a_letter_already_sent_or_in_flight(log: SendLog, status: str | None) -> None:
    begin(log, "judge-a")
    if status is not None:
        log.finish(campaign=CAMPAIGN, target="judge-a", sender=ALICE, status="sent")
    with pytest.raises(SendLogError, match="not sent again"):
        begin(log, "judge-a")
    assert log.get(campaign=CAMPAIGN, target="judge-a", sender=ALICE).attempts == 1  # type: ignore[union-attr]  # row exists


def test_finish_refuses_sending_and_unknown_letters(log: SendLog) -> None:
    begin(log, "judge-a")
    with pytest.raises(ValueError, match="sending"):
        log.finish(campaign=CAMPAIGN, target="judge-a", sender=ALICE, status="sending")
    with pytest.raises(ValueError, match="unknown status"):
        log.finish(campaign=CAMPAIGN, target="judge-a", sender=ALICE, status="bounced")  # type: ignore[arg-type]  # the point of the test
    with pytest.raises(SendLogError, match="no letter") as caught:
        log.finish(campaign=CAMPAIGN, target="judge-z", sender=ALICE, status="sent")
    assert caught.value.path == log.path
    assert log.entries(status="sending") != []


def test_the_schema_accepts_exactly_the_vocabulary_statuses(db: Path, log: SendLog) -> None:
    raw = sqlite3.connect(db)
    try:
        sql = raw.execute("SELECT sql FROM sqlite_master WHERE name = 'letters'").fetchone()[0]
    finally:
        raw.close()
    assert f"IN ({', '.join(repr(s.value) for s in LetterStatus)})" in sql


def test_asdict_has_exactly_the_documented_keys_and_is_json_ready(log: SendLog) -> None:
    begin(log, "judge-a")
    entry = log.finish(
        campaign=CAMPAIGN,
        target="judge-a",
        sender=ALICE,
        status="sent",
        refused=["clerk@example.org: 550 no such user"],
    )
    data = asdict(entry)

    assert list(data) == [
        "campaign",
        "target",
        "sender",
        "to",
        "cc",
        "status",
        "attempts",
        "smtp_code",
        "error",
        "message_id",
        "updated_at",
        "refused",
        "next_attempt_at",
        "campaign_sha256",
    ]
    assert data["cc"] == ("clerk.judge-a@example.org",)
    assert data["refused"] == ("clerk@example.org: 550 no such user",)
    assert data["status"] == "sent"
    assert json.loads(json.dumps(data))["cc"] == ["clerk.judge-a@example.org"]

    call = CallLog(log).record(
        campaign=CAMPAIGN, target="judge-a", sender=ALICE, outcome="voicemail", note=None
    )
    assert list(asdict(call)) == ["campaign", "target", "sender", "outcome", "note", "at"]


def test_the_file_is_marked_as_ours_private_and_in_wal_mode(db: Path, log: SendLog) -> None:
    begin(log, "judge-a")
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT cc, refused FROM letters").fetchone() == (
            '["clerk.judge-a@example.org"]',
            "[]",
        )
    finally:
        raw.close()
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


# --- crash recovery ---------------------------------------------------------------------


def test_recover_turns_interrupted_letters_uncertain(db: Path) -> None:
    with SendLog.open(path=db) as dead_run:
        begin(dead_run, "judge-a")
        begin(dead_run, "judge-b")
        dead_run.finish(campaign=CAMPAIGN, target="judge-b", sender=ALICE, status="sent")
        begin(dead_run, "mayor", campaign="other")

    with SendLog.open(path=db) as log, log.lock(campaign=CAMPAIGN):
        found = log.recover(campaign=CAMPAIGN)
        assert [(e.target, e.status, e.error) for e in found] == [
            ("judge-a", "uncertain", UNCERTAIN_ERROR)
        ]
        assert log.get(campaign=CAMPAIGN, target="judge-a", sender=ALICE) == found[0]
        assert [e.status for e in log.entries(campaign="other")] == ["sending"]
        assert log.recover(campaign=CAMPAIGN) == []


def test_recover_without_the_lock_is_refused(log: SendLog) -> None:
    begin(log, "judge-a")
    with pytest.raises(RuntimeError, match="lock"):
        log.recover(campaign=CAMPAIGN)
    assert log.entries(status="sending") != []


def test_a_killed_run_leaves_its_begun_letter_in_the_log(db: Path) -> None:
    child = run_python(f"""
        import os, signal
        from pathlib import Path
        from protest_dispatch.sendlog.store import SendLog
        log = SendLog.open(path=Path({str(db)!r}))
        log.begin(campaign={CAMPAIGN!r}, target="judge-a", sender={ALICE!r},
                  to="judge-a@example.org", cc=[], message_id="<m@example.org>", recipients=1)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    _, err = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, err

    with SendLog.open(path=db) as log, log.lock(campaign=CAMPAIGN):
        assert [e.status for e in log.recover(campaign=CAMPAIGN)] == ["uncertain"]


# --- refusing to open -------------------------------------------------------------------


def test_open_refuses_a_file_that_is_not_a_database(db: Path) -> None:
    db.parent.mkdir()
    garbage = b"From: someone\r\n" + bytes(range(256)) * 8
    db.write_bytes(garbage)
    with pytest.raises(SendLogError, match="not a SQLite database") as caught:
        SendLog.open(path=db)
    assert caught.value.path == db
    assert caught.value.hint
    assert db.read_bytes() == garbage


def _filled_log(db: Path) -> bytes:
    with SendLog.open(path=db) as log:
        for number in range(300):
            begin(log, f"judge-{number:04d}")
    return db.read_bytes()


@pytest.mark.parametrize("damage", ["overwrite-page-2", "overwrite-page-3", "truncate"])
def test_open_refuses_a_damaged_database(db: Path, damage: str) -> None:
    data = bytearray(_filled_log(db))
    page = 4096
    assert len(data) > 5 * page
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        number = int(damage.rsplit("-", 1)[1])
        data[(number - 1) * page : number * page] = b"\xa5" * page
    db.write_bytes(bytes(data))

    with pytest.raises(SendLogError, match="damaged") as caught:
        SendLog.open(path=db)
    assert caught.value.path == db
    assert "recover" in (caught.value.hint or "")


@pytest.mark.parametrize("application_id", [0, 0x12345678])
def test_open_refuses_another_programs_database(db: Path, application_id: int) -> None:
    db.parent.mkdir()
    raw = sqlite3.connect(db)
    raw.execute(f"PRAGMA application_id = {application_id}")
    raw.execute("CREATE TABLE contacts (name TEXT)")
    raw.commit()
    raw.close()
    before = db.read_bytes()

    with pytest.raises(SendLogError, match="another program") as caught:
        SendLog.open(path=db)
    assert "contacts" in caught.value.message
    assert db.read_bytes() == before


def test_open_refuses_a_newer_schema(db: Path) -> None:
    SendLog.open(path=db).close()
    raw = sqlite3.connect(db)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.commit()
    raw.close()

    with pytest.raises(SendLogError, match="newer protest") as caught:
        SendLog.open(path=db)
    assert "pgrade" in (caught.value.hint or "")


def test_open_refuses_a_folder_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a folder")
    for path in (tmp_path / "afile" / "log.sqlite3", tmp_path / "afile" / "sub" / "log.sqlite3"):
        with pytest.raises(SendLogError, match="folder") as caught:
            SendLog.open(path=path)
        assert caught.value.path == path


def test_open_refuses_a_path_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(SendLogError, match="is a folder"):
        SendLog.open(path=tmp_path)


def test_open_and_writes_refuse_a_database_locked_by_another_process(db: Path) -> None:
    with SendLog.open(path=db, busy_timeout=0.1) as log:
        other = sqlite3.connect(db, isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            with pytest.raises(SendLogError, match="locked by another program") as caught:
                SendLog.open(path=db, busy_timeout=0.1)
            assert caught.value.path == db
            assert caught.value.exit_code == ExitCode.TEMPFAIL  # wait and retry, says the hint
            with pytest.raises(SendLogError, match="locked by another program") as caught:
                begin(log, "judge-a")
            assert caught.value.exit_code == ExitCode.TEMPFAIL
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert begin(log, "judge-a").attempts == 1


def fill(log: SendLog) -> None:
    for number in range(200):
        begin(log, f"judge-{number:03d}")


def test_a_full_disk_is_a_temporary_failure_not_invalid_input(db: Path) -> None:
    with SendLog.open(path=db) as log:
        # SQLite reports SQLITE_FULL once the file may not grow: the real disk-full path
        log._connection().execute("PRAGMA max_page_count = 1")
        with pytest.raises(SendLogError, match="could not be written") as caught:
            fill(log)
        assert caught.value.exit_code == ExitCode.TEMPFAIL
        assert "disk space" in str(caught.value)


def test_a_foreign_file_stays_invalid_input(tmp_path: Path) -> None:
    foreign = tmp_path / "notes.txt"
    foreign.write_text("not a database at all, just a long enough line of text\n")
    with pytest.raises(SendLogError, match="not a SQLite database") as caught:
        SendLog.open(path=foreign)
    assert caught.value.exit_code == ExitCode.INVALID


def test_a_closed_log_raises_send_log_errors_not_sqlite_errors(db: Path) -> None:
    log = SendLog.open(path=db)
    log.close()
    log.close()
    with pytest.raises(SendLogError, match="closed"):
        log.entries()


# --- the run lock -----------------------------------------------------------------------


def test_lock_is_exclusive_per_campaign_and_released_after_the_block(db: Path) -> None:
    with SendLog.open(path=db) as first, SendLog.open(path=db) as second:
        with first.lock(campaign=CAMPAIGN):
            with pytest.raises(LockedError) as caught, second.lock(campaign=CAMPAIGN):
                pass
            assert caught.value.exit_code == ExitCode.TEMPFAIL == 75
            assert "another `protest send` is running" in caught.value.message.lower()
            assert str(first.lock_path(campaign=CAMPAIGN)) in caught.value.message
            assert f"process {os.getpid()}" in caught.value.message
            with second.lock(campaign="other"):
                pass
        with second.lock(campaign=CAMPAIGN):
            pass


@pytest.mark.parametrize("form", ["symlink", "relative", "dotdot", "symlinked folder"])
def test_one_lock_per_log_file_whatever_the_path(
    db: Path, form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    SendLog.open(path=db).close()
    if form == "symlink":
        other = db.parent / "alias.sqlite3"
        other.symlink_to(db)
    elif form == "relative":
        monkeypatch.chdir(db.parent.parent)
        other = Path(db.parent.name) / db.name
    elif form == "dotdot":
        (db.parent / "sub").mkdir()
        other = db.parent / "sub" / ".." / db.name
    else:
        folder = db.parent.parent / "elsewhere"
        folder.symlink_to(db.parent)
        other = folder / db.name
    with SendLog.open(path=db) as first, SendLog.open(path=other) as second:
        assert second.lock_path(campaign=CAMPAIGN) == first.lock_path(campaign=CAMPAIGN)
        with first.lock(campaign=CAMPAIGN):
            with pytest.raises(LockedError) as caught, second.lock(campaign=CAMPAIGN):
                pass
            assert caught.value.exit_code == ExitCode.TEMPFAIL
    assert sorted(p.name for p in db.parent.glob("*.lock")) == [f"{db.name}.{CAMPAIGN}.lock"]


def test_lock_file_names_are_safe_for_any_campaign_id(log: SendLog) -> None:
    odd = log.lock_path(campaign="../a/b c")
    assert odd.parent == log.path.parent
    assert odd != log.lock_path(campaign="___a_b_c")
    with log.lock(campaign="../a/b c"):
        assert odd.exists()


def test_lock_is_released_when_the_holder_is_killed(db: Path) -> None:
    SendLog.open(path=db).close()
    child = run_python(f"""
        import time
        from pathlib import Path
        from protest_dispatch.sendlog.store import SendLog
        log = SendLog.open(path=Path({str(db)!r}))
        with log.lock(campaign={CAMPAIGN!r}):
            print("locked", flush=True)
            time.sleep(60)
    """)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "locked"
        with SendLog.open(path=db) as log:
            with pytest.raises(LockedError), log.lock(campaign=CAMPAIGN):
                pass
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
            with log.lock(campaign=CAMPAIGN):
                pass
    finally:
        kill_hard(child)


# --- usage and calls --------------------------------------------------------------------


def test_usage_since_returns_own_usage_in_the_window_oldest_first(db: Path) -> None:
    with SendLog.open(path=db) as log:
        begin(log, "judge-a")
        log.add_usage(sender=ALICE, recipients=1)
        log.add_usage(sender=BOB, recipients=7)
    raw = sqlite3.connect(db)
    raw.execute(
        "INSERT INTO usage (sender, at, recipients) VALUES (?, ?, ?)",
        (ALICE, "2020-01-01T00:00:00Z", 5),
    )
    raw.commit()
    raw.close()

    with SendLog.open(path=db) as log:
        recent = log.usage_since(sender=ALICE, since=datetime.now(UTC) - timedelta(hours=1))
        everything = log.usage_since(sender=ALICE, since=datetime(2019, 1, 1, tzinfo=UTC))
        with pytest.raises(ValueError, match="time zone"):
            log.usage_since(sender=ALICE, since=datetime(2020, 1, 1))
    assert [count for _, count in recent] == [2, 1]
    assert [count for _, count in everything] == [5, 2, 1]
    assert everything[0][0] == "2020-01-01T00:00:00Z"


def test_add_usage_refuses_negative_counts(log: SendLog) -> None:
    with pytest.raises(ValueError, match="recipients"):
        log.add_usage(sender=ALICE, recipients=-1)


def test_calls_roundtrip_with_filters_oldest_first(db: Path) -> None:
    with SendLog.open(path=db) as log:
        first = CallLog(log).record(
            campaign=CAMPAIGN,
            target="judge-a",
            sender=ALICE,
            outcome="reached",
            note="said she would read it",
        )
        second = CallLog(log).record(
            campaign=CAMPAIGN, target="judge-b", sender=BOB, outcome="no-answer", note=None
        )
        third = CallLog(log).record(
            campaign="other", target="judge-a", sender=ALICE, outcome="wrong-number", note=None
        )
        with pytest.raises(InputError, match="Unknown call outcome") as caught:
            CallLog(log).record(
                campaign=CAMPAIGN, target="judge-a", sender=ALICE, outcome="hung-up", note=None
            )
        assert "voicemail" in (caught.value.hint or "")

    with SendLog.open(path=db) as log:
        assert CallLog(log).all() == [first, second, third]
        assert CallLog(log).all(campaign=CAMPAIGN) == [first, second]
        assert CallLog(log).all(target="judge-a") == [first, third]
        assert CallLog(log).all(sender=BOB) == [second]
        assert CallLog(log).all(campaign="other", target="judge-a", sender=ALICE) == [third]


def test_the_log_works_from_a_coroutine_on_the_event_loop_thread(log: SendLog) -> None:
    async def send_one() -> Entry:
        begin(log, "judge-a")
        await asyncio.sleep(0)
        return log.finish(campaign=CAMPAIGN, target="judge-a", sender=ALICE, status="sent")

    assert asyncio.run(send_one()).status == "sent"


# --- times and paths --------------------------------------------------------------------


def test_times_are_utc_seconds_with_z() -> None:
    now = utc_now()
    assert len(now) == 20
    assert now.endswith("Z")
    assert parse_time("2026-11-28T23:59:01Z") == datetime(2026, 11, 28, 23, 59, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="time zone"):
        parse_time("2026-11-28T23:59:01")


def test_a_letter_that_may_have_arrived_is_kept_when_a_retry_replaces_it(log: SendLog) -> None:
    """An uncertain letter retried gets a new Message-ID; the first may still be answered."""
    begin(log, "judge-a")
    log.finish(campaign=CAMPAIGN, target="judge-a", sender=ALICE, status="deferred")
    begin(log, "judge-a")  # a deferred letter reached nobody: nothing to keep
    assert log.entries(earlier=True) == []
    log.finish(campaign=CAMPAIGN, target="judge-a", sender=ALICE, status="uncertain")
    log.begin(
        campaign=CAMPAIGN,
        target="judge-a",
        sender=ALICE,
        to="judge-a@example.org",
        cc=[],
        message_id="<retry@example.org>",
        recipients=1,
    )
    (kept,) = log.entries(earlier=True)
    assert (kept.message_id, kept.status) == (f"<judge-a.{ALICE}@example.org>", "uncertain")
    assert log.get(campaign=CAMPAIGN, target="judge-a", sender=ALICE).message_id == (
        "<retry@example.org>"
    )
