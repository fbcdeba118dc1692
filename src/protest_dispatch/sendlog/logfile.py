"""The send log's file: where it may live, whether it is ours, and setting it up.

Everything here runs before a letter can be sent: a log that is missing its folder,
is somebody else's database, was written by a newer protest or is damaged is refused
with a message that says what to do, and SQLite's own errors are worded the same way.
The records and what they mean live in :mod:`protest_dispatch.sendlog`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from protest_dispatch.errors import SendLogError, SendLogUnavailableError
from protest_dispatch.files import make_private_folder
from protest_dispatch.sendlog.migrations import MIGRATED_TABLES, MIGRATIONS
from protest_dispatch.vocabulary import CallOutcome, LetterStatus

APPLICATION_ID = int.from_bytes(b"PrtS", "big")
"""Marks the file as ours in the SQLite header (``PRAGMA application_id``)."""

SCHEMA_VERSION = 5
"""Stored as ``PRAGMA user_version``; bump it with a migration when the schema changes."""

_BASE_TABLES = frozenset({"letters", "usage", "calls"})
"""The tables of version 1, which every later version keeps."""

_SQLITE_MAGIC = b"SQLite format 3\x00"
_TABLES = _BASE_TABLES | MIGRATED_TABLES

_STATUSES = ", ".join(repr(s.value) for s in LetterStatus)
_OUTCOMES = ", ".join(repr(o.value) for o in CallOutcome)
_SCHEMA = f"""
CREATE TABLE letters (
    campaign        TEXT NOT NULL,
    target          TEXT NOT NULL,
    sender          TEXT NOT NULL,
    to_addr         TEXT NOT NULL,
    cc              TEXT NOT NULL DEFAULT '[]',
    status          TEXT NOT NULL CHECK (status IN ({_STATUSES})),
    attempts        INTEGER NOT NULL CHECK (attempts >= 0),
    smtp_code       INTEGER,
    error           TEXT,
    message_id      TEXT,
    updated_at      TEXT NOT NULL,
    refused         TEXT NOT NULL DEFAULT '[]',
    next_attempt_at TEXT,
    PRIMARY KEY (campaign, target, sender)
) WITHOUT ROWID;
CREATE INDEX letters_status ON letters (campaign, status);
CREATE TABLE usage (
    id         INTEGER PRIMARY KEY,
    sender     TEXT NOT NULL,
    at         TEXT NOT NULL,
    recipients INTEGER NOT NULL CHECK (recipients >= 0)
);
CREATE INDEX usage_sender_at ON usage (sender, at);
CREATE TABLE calls (
    id       INTEGER PRIMARY KEY,
    campaign TEXT NOT NULL,
    target   TEXT NOT NULL,
    sender   TEXT NOT NULL,
    outcome  TEXT NOT NULL CHECK (outcome IN ({_OUTCOMES})),
    note     TEXT,
    at       TEXT NOT NULL
);
CREATE INDEX calls_campaign ON calls (campaign, target);
"""


def connect(path: Path, *, busy_timeout: float) -> sqlite3.Connection:
    """A connection to a checked, ready log at ``path``, created (private) if missing."""
    make_folder(path.parent, path=path)
    check_file(path)
    try:
        conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    except sqlite3.Error as exc:
        raise wrap_error(exc, path=path, action="open it") from exc
    conn.row_factory = sqlite3.Row
    try:
        check(conn, path=path, busy_timeout=busy_timeout)
        set_up(conn, path=path)
    except BaseException:
        conn.close()
        raise
    return conn


def connect_read_only(path: Path, *, busy_timeout: float) -> sqlite3.Connection:
    """A connection that cannot write, to an existing log the user may only be able to read.

    ``mode=ro`` sees every commit, including those still in the WAL of a live run, but
    needs the ``-shm`` file to exist or be creatable. In a folder the user cannot write,
    with no ``-wal`` file (the last writer closed cleanly and checkpointed everything
    into the main file), the log is opened ``immutable`` instead: nothing is in a WAL to
    miss, and SQLite then needs no ``-shm`` and takes no lock.
    """
    check_file(path, read_only=True)
    try:
        conn = _open_uri(path, busy_timeout=busy_timeout, immutable=False)
    except sqlite3.Error as exc:
        if _needs_folder_write(exc) and not Path(f"{path}-wal").exists():
            try:
                conn = _open_uri(path, busy_timeout=busy_timeout, immutable=True)
            except sqlite3.Error as again:
                raise wrap_error(again, path=path, action="read it") from again
        else:
            raise wrap_error(exc, path=path, action="read it") from exc
    try:
        check(conn, path=path, busy_timeout=busy_timeout)
    except BaseException:
        conn.close()
        raise
    return conn


def _open_uri(path: Path, *, busy_timeout: float, immutable: bool) -> sqlite3.Connection:
    """Open read-only by URI and read the header, so a missing ``-shm`` shows up here."""
    uri = Path(os.path.abspath(path)).as_uri() + "?mode=ro" + ("&immutable=1" if immutable else "")
    conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout, isolation_level=None)
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except BaseException:
        conn.close()
        raise
    conn.row_factory = sqlite3.Row
    return conn


def _needs_folder_write(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    return primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN)


def damaged_hint(path: Path) -> str:
    return (
        "Do not delete it: it is the record of which letters already went out. Keep a copy "
        f"and try `sqlite3 {path} .recover | sqlite3 {path}.recovered`, or restore a backup; "
        "start a new send log only if you know which letters were sent."
    )


def wrap_error(exc: sqlite3.Error, *, path: Path, action: str) -> SendLogError:
    """Turn a SQLite error into a message that says what to do, keyed on SQLite's error code.

    Busy, locked, full and I/O errors pass with time (exit 75); a foreign, damaged or
    unwritable file needs a person (exit 2).
    """
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return SendLogUnavailableError(
            f"The send log {path} is locked by another program; could not {action}.",
            path=path,
            hint="Another `protest` run or a database tool has it open for writing. "
            "Wait for it to finish or close it, then run the command again.",
        )
    if primary == sqlite3.SQLITE_NOTADB:
        return SendLogError(
            f"{path} is not a SQLite database (file is not a database), so it cannot be the "
            "send log.",
            path=path,
            hint="Check the send log path (--log, PROTEST_LOG or the config file); "
            "move the file away if it is not needed.",
        )
    if primary == sqlite3.SQLITE_CORRUPT:
        return SendLogError(
            f"The send log {path} is damaged (database disk image is malformed); "
            f"could not {action}.",
            path=path,
            hint=damaged_hint(path),
        )
    if primary in (
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PERM,
        sqlite3.SQLITE_AUTH,
    ):
        return SendLogError(
            f"The send log {path} cannot be written; could not {action} ({exc}).",
            path=path,
            hint="Make the file and its folder writable by you, or point the send log "
            "path at a folder you own.",
        )
    if primary in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR):
        return SendLogUnavailableError(
            f"The send log {path} could not be written; could not {action} ({exc}).",
            path=path,
            hint="Check free disk space and that the disk is healthy, then run again.",
        )
    return SendLogError(
        f"The send log {path} failed; could not {action} ({exc}).",
        path=path,
        hint="Run the command again; if it keeps failing, check the file with "
        f"`sqlite3 {path} 'PRAGMA integrity_check'`.",
    )


def make_folder(folder: Path, *, path: Path) -> None:
    """Create missing folders private to the user (0o700): the log names whom they wrote to."""
    try:
        make_private_folder(folder)
    except OSError as exc:
        raise SendLogError(
            f"Cannot create the folder {folder} for the send log {path}: {exc.strerror or exc}.",
            path=path,
            hint="Check the send log path (--log, PROTEST_LOG or the config file); every part "
            "of it before the file name must be a folder you can write.",
        ) from exc
    if not folder.is_dir():
        raise SendLogError(
            f"Cannot use {folder} as the folder of the send log {path}: it is not a folder.",
            path=path,
            hint="Check the send log path (--log, PROTEST_LOG or the config file).",
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SendLogError(
            f"The folder {folder} of the send log {path} cannot be written.",
            path=path,
            hint="SQLite needs to create files beside the log. Make the folder writable "
            "by you or point the send log path at a folder you own.",
        )


def check_file(path: Path, *, read_only: bool = False) -> None:
    """Refuse files that are obviously not ours before SQLite touches them."""
    if path.is_dir():
        raise SendLogError(
            f"The send log path {path} is a folder, not a file.",
            path=path,
            hint="Point the send log path at a file name inside that folder, e.g. "
            f"{path / 'sendlog.sqlite3'}.",
        )
    flags = os.O_RDONLY if read_only else os.O_RDWR | os.O_CREAT
    try:
        fd = os.open(path, flags | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        doing = "reading" if read_only else "writing"
        raise SendLogError(
            f"Cannot open the send log {path} for {doing}: {exc.strerror or exc}.",
            path=path,
            hint=f"Make the file and its folder {'readable' if read_only else 'writable'} by "
            "you, or point the send log path at a folder you own.",
        ) from exc
    with os.fdopen(fd, "rb") as handle:
        head = handle.read(len(_SQLITE_MAGIC))
    if head and head != _SQLITE_MAGIC:
        raise SendLogError(
            f"{path} is not a SQLite database (file is not a database), so it cannot be "
            "the send log.",
            path=path,
            hint="Check the send log path (--log, PROTEST_LOG or the config file); "
            "move the file away if it is not needed.",
        )


@contextlib.contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """One IMMEDIATE transaction: committed on success, rolled back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def check(conn: sqlite3.Connection, *, path: Path, busy_timeout: float) -> None:
    """Refuse a file that is not a healthy log of ours; writes nothing."""
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        app_id, version, tables = _identity(conn)
        _check_identity(path=path, app_id=app_id, version=version, tables=tables)
        problems = [
            line.strip()
            for row in conn.execute("PRAGMA quick_check").fetchall()
            for line in str(row[0]).splitlines()
            if line.strip()
        ]
    except sqlite3.Error as exc:
        raise wrap_error(exc, path=path, action="open it") from exc
    if problems != ["ok"]:
        shown = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "")
        raise SendLogError(
            f"The send log {path} is damaged (integrity check failed: {shown}).",
            path=path,
            hint=damaged_hint(path),
        )


def set_up(conn: sqlite3.Connection, *, path: Path) -> None:
    """WAL mode and our schema on a checked file (created if it is new)."""
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        wal = mode is not None and str(mode[0]).lower() == "wal"
        conn.execute(f"PRAGMA synchronous = {'NORMAL' if wal else 'FULL'}")
        with immediate(conn):
            # Re-read under the write lock: another process may have created the schema.
            app_id, version, tables = _identity(conn)
            _check_identity(path=path, app_id=app_id, version=version, tables=tables)
            if version == 0:
                # Statement by statement: executescript() would commit our transaction first.
                for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                    conn.execute(statement)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            if version < SCHEMA_VERSION:
                _migrate(conn, since=max(version, 1))
    except sqlite3.Error as exc:
        raise wrap_error(exc, path=path, action="open it") from exc


def _migrate(conn: sqlite3.Connection, *, since: int) -> None:
    """Bring a log of version ``since`` up to date in the caller's transaction.

    Migrations only add (tables, indexes, with IF NOT EXISTS), so an older protest's
    rows stay as they were and a half-applied migration can simply run again.
    """
    for version in range(since + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[version]:
            words = statement.split()
            if words[:2] == ["ALTER", "TABLE"] and words[3:5] == ["ADD", "COLUMN"]:
                columns = {row[1] for row in conn.execute(f"PRAGMA table_info({words[2]})")}
                if words[5] in columns:  # added by a run of this migration that got this far
                    continue
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _identity(conn: sqlite3.Connection) -> tuple[int, int, set[str]]:
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    tables = {
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            " AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    }
    return app_id, version, tables


def _check_identity(*, path: Path, app_id: int, version: int, tables: set[str]) -> None:
    if app_id == 0 and version == 0 and not tables:
        return  # new or empty database: we will create our schema
    if app_id != APPLICATION_ID:
        listed = ", ".join(sorted(tables)[:5]) or "none"
        raise SendLogError(
            f"{path} is a SQLite database of another program (application id {app_id}, "
            f"tables: {listed}), not a protest send log.",
            path=path,
            hint="Point the send log path (--log, PROTEST_LOG or the config file) at a new "
            "file; protest will not change this one.",
        )
    if version > SCHEMA_VERSION:
        raise SendLogError(
            f"The send log {path} was written by a newer protest (schema version {version}; "
            f"this one knows up to {SCHEMA_VERSION}).",
            path=path,
            hint="Upgrade protest-dispatch (e.g. `pipx upgrade protest-dispatch`) and run "
            "the command again.",
        )
    missing = (_TABLES if version == SCHEMA_VERSION else _BASE_TABLES) - tables
    if version < 1 or missing:
        raise SendLogError(
            f"The send log {path} is incomplete (schema version {version}, missing "
            f"tables: {', '.join(sorted(missing)) or 'none'}).",
            path=path,
            hint=damaged_hint(path),
        )


def select(
    conn: sqlite3.Connection, *, columns: str, table: str, order: str, **filters: str | None
) -> list[sqlite3.Row]:
    """One table's rows matching every filter given (None: any): the read every table shares.

    Column, table and order names come from our code only; filter values are bound.
    """
    given = [(name, value) for name, value in filters.items() if value is not None]
    where = " WHERE " + " AND ".join(f"{name} = ?" for name, _ in given) if given else ""
    return conn.execute(
        f"SELECT {columns} FROM {table}{where} ORDER BY {order}",  # noqa: S608 - names are ours; values are bound
        [value for _, value in given],
    ).fetchall()
