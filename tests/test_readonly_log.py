"""Reading commands open the send log read-only: a user who may only read it can read it.

CI runs as root, where chmod stops nothing, so the user who may only read is a real
other user: the check runs in a child process that drops to ``nobody`` before it
starts. Under a normal user the same child runs as that user against chmod'ed files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from protest_dispatch.cli.app import app
from protest_dispatch.errors import SendLogError
from protest_dispatch.sendlog.calls import CallLog
from protest_dispatch.sendlog.store import SendLog

SRC = Path(__file__).resolve().parents[1] / "src"
CAMPAIGN = "court-2026"
ALICE = "alice@example.org"


def record(log: SendLog, target: str) -> None:
    log.begin(
        campaign=CAMPAIGN,
        target=target,
        sender=ALICE,
        to=f"{target}@example.org",
        cc=(),
        message_id=f"<{target}@example.org>",
        recipients=1,
    )
    log.finish(campaign=CAMPAIGN, target=target, sender=ALICE, status="sent", smtp_code=250)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder another user can reach (pytest's tmp_path is private to the user)."""
    folder = Path(tempfile.mkdtemp(prefix="protest-ro-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for item in [folder, *folder.rglob("*")]:
            item.chmod(0o700 if item.is_dir() else 0o600)
        shutil.rmtree(folder)


def test_a_read_only_open_reads_everything_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "sendlog.sqlite3"
    with SendLog.open(path=db) as log:
        record(log, "judge-a")
        CallLog(log).record(
            campaign=CAMPAIGN, target="judge-b", sender=ALICE, outcome="reached", note=None
        )
    before = digest(db)
    with SendLog.open(path=db, read_only=True) as log:
        assert [e.target for e in log.entries()] == ["judge-a"]
        assert [c.outcome for c in CallLog(log).all()] == ["reached"]
        with pytest.raises(SendLogError, match="cannot be written"):
            record(log, "judge-c")
    assert digest(db) == before


def test_reading_commands_leave_the_log_untouched(tmp_path: Path) -> None:
    db = tmp_path / "sendlog.sqlite3"
    with SendLog.open(path=db) as log:
        record(log, "judge-a")
    before = digest(db)
    result = CliRunner().invoke(app, ["log", "--log", str(db), "--json"])
    assert result.exit_code == 0, result.output
    assert '"judge-a"' in result.stdout
    assert digest(db) == before


def _reader_argv() -> tuple[list[str], dict[str, object]]:
    """A Python the reading user can run, and how to become that user."""
    if os.geteuid() != 0:
        return [sys.executable], {}
    import pwd

    nobody = pwd.getpwnam("nobody")

    def drop() -> None:
        os.setgid(nobody.pw_gid)
        os.setgroups([])
        os.setuid(nobody.pw_uid)

    for candidate in (sys.executable, shutil.which("python3") or "", "/usr/bin/python3"):
        if not candidate:
            continue
        try:
            probe = subprocess.run(
                [candidate, "-c", "import sqlite3, sys; assert sys.version_info >= (3, 11)"],
                preexec_fn=drop,  # the child must not keep root's rights
                capture_output=True,
                check=False,
                cwd="/",
            )
        except OSError:  # root's own Python may live where nobody may go
            continue
        if probe.returncode == 0:
            return [candidate], {"preexec_fn": drop}
    pytest.skip("no Python 3.11 that the user nobody may run")


def read_as_other_user(db: Path, *, read_only: bool) -> subprocess.CompletedProcess[str]:
    argv, extra = _reader_argv()
    code = textwrap.dedent(f"""
        from pathlib import Path
        from protest_dispatch.errors import SendLogError
        from protest_dispatch.sendlog.store import SendLog
        try:
            with SendLog.open(path=Path({str(db)!r}), read_only={read_only}) as log:
                print(",".join(e.target for e in log.entries()))
        except SendLogError as exc:
            print("refused:", exc.message, exc.exit_code)
    """)
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(SRC), "HOME": "/"}
    return subprocess.run(
        [*argv, "-c", code], capture_output=True, text=True, env=env, check=False, cwd="/", **extra
    )


def _make_read_only(*paths: Path) -> None:
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)


def test_a_log_in_a_folder_the_user_may_only_read(shared: Path) -> None:
    """Closed cleanly: no -wal, no -shm, and no right to create them."""
    db = shared / "sendlog.sqlite3"
    with SendLog.open(path=db) as log:
        record(log, "judge-a")
        record(log, "judge-b")
    assert not Path(f"{db}-wal").exists()
    _make_read_only(db, shared)

    writer = read_as_other_user(db, read_only=False)
    assert "refused:" in writer.stdout, writer.stderr  # the test is real: writing is denied
    reader = read_as_other_user(db, read_only=True)
    assert reader.stdout.strip() == "judge-a,judge-b", reader.stderr


def test_a_log_being_written_is_read_with_its_latest_commits(shared: Path) -> None:
    """A live run holds a WAL: the reader must see the commits still in it."""
    db = shared / "sendlog.sqlite3"
    with SendLog.open(path=db) as live:
        record(live, "judge-a")
        live._connection().execute("PRAGMA wal_autocheckpoint = 0")
        record(live, "judge-b")  # only in the WAL
        wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
        assert wal.stat().st_size > 0
        for path in (wal, shm):
            path.chmod(0o644)
        _make_read_only(db, shared)
        reader = read_as_other_user(db, read_only=True)
        shared.chmod(0o755)  # so the writer can clean up when it closes
    assert reader.stdout.strip() == "judge-a,judge-b", reader.stderr


def test_a_damaged_log_is_still_refused_read_only(tmp_path: Path) -> None:
    db = tmp_path / "sendlog.sqlite3"
    db.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with pytest.raises(SendLogError) as caught:
        SendLog.open(path=db, read_only=True)
    assert caught.value.exit_code == 2
