"""The send log: the crash-safe record of every letter, so none is lost and none goes twice.

One SQLite file holds one row per (campaign, target, sender) plus usage records for
provider quotas; logged phone calls (:mod:`sendlog.calls`) and findings
(:mod:`sendlog.findings`) share the file. A letter is committed as ``sending`` *before*
it is handed to the SMTP server and committed again with its outcome afterwards, so a
run killed in between leaves a row that the next run turns into ``uncertain`` instead
of sending the letter again.

Durability: WAL mode with ``synchronous=NORMAL``. Every commit is written to the WAL
file before it returns, so it survives a killed process (``kill -9``, crash, OOM); only
a power cut or kernel crash can lose the last few commits, which is the trade we make
for thousands of commits per second. If the file system cannot do WAL (some network
file systems), the log falls back to a rollback journal with ``synchronous=FULL``.

The log stores addresses, outcomes and server replies, never message bodies or
passwords; there is deliberately no API for them.

All methods are synchronous and fast (well under a millisecond per commit on a local
disk), so asyncio code may call them directly on the event loop thread. The connection
belongs to the thread that opened it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from protest_dispatch.errors import SendLogError
from protest_dispatch.sendlog import lock
from protest_dispatch.sendlog.earlier import TABLE as EARLIER
from protest_dispatch.sendlog.earlier import keep_earlier
from protest_dispatch.sendlog.logfile import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    connect,
    connect_read_only,
    damaged_hint,
    immediate,
    select,
    wrap_error,
)
from protest_dispatch.sendlog.records import (
    LETTER_COLUMNS,
    Call,
    Entry,
    Reservation,
    as_status,
    check_count,
    format_time,
    json_list,
    opt_int,
    opt_str,
    parse_time,
    utc_now,
)
from protest_dispatch.vocabulary import LetterStatus

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "UNCERTAIN_ERROR",
    "Call",
    "Entry",
    "Reservation",
    "SendLog",
    "format_time",
    "parse_time",
    "utc_now",
]

DEFAULT_BUSY_TIMEOUT = 2.0

UNCERTAIN_ERROR = (
    "the previous run stopped while this letter was being sent; the server may have it"
)


class SendLog:
    """An open send log. Use ``SendLog.open(path=...)``, ideally as a context manager."""

    def __init__(self, *, path: Path, connection: sqlite3.Connection) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = connection
        self._locked: set[str] = set()
        self._tables: dict[str, bool] = {}
        # A log opened read-only is read as it is: one older than version 3 has no
        # campaign_sha256 column, which then reads as NULL.
        columns = {row[1] for row in connection.execute("PRAGMA table_info(letters)")}
        self._select = (
            LETTER_COLUMNS
            if "campaign_sha256" in columns or not columns
            else LETTER_COLUMNS.replace("campaign_sha256", "NULL AS campaign_sha256")
        )

    @property
    def path(self) -> Path:
        return self._path

    @classmethod
    def open(
        cls, *, path: Path, busy_timeout: float = DEFAULT_BUSY_TIMEOUT, read_only: bool = False
    ) -> SendLog:
        """Open or create the log, refusing anything we cannot trust before a letter is sent.

        ``busy_timeout`` (seconds) is how long to wait for another writer; the log is never
        held for longer than one commit by a well-behaved run. ``read_only`` opens an
        existing log without ever writing to it, so a user who may only read it can.
        """
        if busy_timeout < 0:
            raise ValueError(f"busy_timeout must be >= 0 seconds, got {busy_timeout!r}")
        opener = connect_read_only if read_only else connect
        return cls(path=path, connection=opener(path, busy_timeout=busy_timeout))

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.close()
        except sqlite3.Error as exc:
            raise wrap_error(exc, path=self._path, action="close it") from exc

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def lock_path(self, *, campaign: str) -> Path:
        return lock.lock_path(self._path, campaign=campaign)

    @contextlib.contextmanager
    def lock(self, *, campaign: str) -> Iterator[None]:
        """Hold the one-run-per-campaign lock (see :mod:`sendlog.lock`)."""
        with lock.hold(self._path, campaign=campaign):
            self._locked.add(campaign)
            try:
                yield
            finally:
                self._locked.discard(campaign)

    def recover(self, *, campaign: str) -> list[Entry]:
        """Mark letters a dead run left ``sending`` as ``uncertain`` and return them.

        Must run inside ``lock(campaign=...)``: without it a live run's letters would be
        marked uncertain.
        """
        if campaign not in self._locked:
            raise RuntimeError("SendLog.recover() needs lock(campaign=...) held by this log")
        with self._write("mark interrupted letters as uncertain") as conn:
            keys = conn.execute(
                "SELECT target, sender FROM letters WHERE campaign = ? AND status = 'sending'",
                (campaign,),
            ).fetchall()
            conn.execute(
                "UPDATE letters SET status = 'uncertain', error = ?, updated_at = ?"
                " WHERE campaign = ? AND status = 'sending'",
                (UNCERTAIN_ERROR, utc_now(), campaign),
            )
            found = [self._get(conn, campaign, str(t), str(s)) for t, s in keys]
        return sorted((e for e in found if e is not None), key=lambda e: (e.target, e.sender))

    def get(self, *, campaign: str, target: str, sender: str) -> Entry | None:
        with self._read("read a letter") as conn:
            return self._get(conn, campaign, target, sender)

    def entries(
        self,
        *,
        campaign: str | None = None,
        status: LetterStatus | None = None,
        sender: str | None = None,
        earlier: bool = False,
    ) -> list[Entry]:
        """Letters matching every filter given, ordered by campaign, target, sender;
        ``earlier``: the letters a resend replaced instead (:mod:`.earlier`)."""
        if status is not None:
            as_status(status)
        if earlier and not self.has_table(EARLIER, action="list earlier letters"):
            return []
        with self._read("list letters") as conn:
            rows = select(
                conn,
                columns=LETTER_COLUMNS if earlier else self._select,
                table=EARLIER if earlier else "letters",
                order="campaign, target, sender",
                campaign=campaign,
                status=status,
                sender=sender,
            )
            return [self._entry(row) for row in rows]

    def begin(
        self,
        *,
        campaign: str,
        target: str,
        sender: str,
        to: str,
        cc: Sequence[str],
        message_id: str,
        recipients: int,
        reservation: Reservation | None = None,
        campaign_sha256: str | None = None,
    ) -> Entry:
        """Commit "about to send" before the letter leaves, with its quota usage.

        ``campaign_sha256`` names the copy of the campaign it is sent under.

        This commit is what lets the next run see that a killed run may have sent it.
        With a ``reservation`` its usage row is this letter's; otherwise one is added.
        """
        check_count("recipients", recipients)
        if isinstance(cc, str):
            raise TypeError("cc must be a sequence of addresses, not one string")
        now = utc_now()
        with self._write("record a letter as being sent") as conn:
            keep_earlier(conn, campaign=campaign, target=target, sender=sender)
            cursor = conn.execute(
                f"INSERT INTO letters ({LETTER_COLUMNS})"  # noqa: S608 - fixed column names; values are bound
                " VALUES (?, ?, ?, ?, ?, 'sending', 1, NULL, NULL, ?, ?, '[]', NULL, ?)"
                " ON CONFLICT (campaign, target, sender) DO UPDATE SET"
                " to_addr = excluded.to_addr, cc = excluded.cc, status = 'sending',"
                " attempts = letters.attempts + 1, smtp_code = NULL, error = NULL,"
                " message_id = excluded.message_id, updated_at = excluded.updated_at,"
                " refused = '[]', next_attempt_at = NULL,"
                " campaign_sha256 = excluded.campaign_sha256"
                " WHERE letters.status NOT IN ('sent', 'sending')",
                (
                    campaign,
                    target,
                    sender,
                    to,
                    json.dumps(list(cc)),
                    message_id,
                    now,
                    campaign_sha256,
                ),
            )
            if cursor.rowcount != 1:
                raise SendLogError(
                    f"The send log {self._path} already records the letter of campaign "
                    f"'{campaign}' to target '{target}' from {sender} as sent or being sent; "
                    "it was not sent again.",
                    path=self._path,
                    hint="Another program may have changed the send log during the run. "
                    "Check `protest status` before sending again.",
                )
            if reservation is None:
                conn.execute(
                    "INSERT INTO usage (sender, at, recipients) VALUES (?, ?, ?)",
                    (sender, now, recipients),
                )
            entry = self._get(conn, campaign, target, sender)
        assert entry is not None  # written in the same transaction
        if reservation is not None:
            reservation.settled = True
        return entry

    def finish(
        self,
        *,
        campaign: str,
        target: str,
        sender: str,
        status: LetterStatus,
        smtp_code: int | None = None,
        error: str | None = None,
        refused: Sequence[str] = (),
        next_attempt_at: str | None = None,
    ) -> Entry:
        """Commit what the server said about a letter that ``begin`` recorded."""
        if as_status(status) == LetterStatus.SENDING:
            raise ValueError("finish() records an outcome; 'sending' is not one")
        if isinstance(refused, str):
            raise TypeError("refused must be a sequence of strings, not one string")
        retry_at = None if next_attempt_at is None else format_time(parse_time(next_attempt_at))
        with self._write("record the outcome of a letter") as conn:
            cursor = conn.execute(
                "UPDATE letters SET status = ?, smtp_code = ?, error = ?, refused = ?,"
                " next_attempt_at = ?, updated_at = ?"
                " WHERE campaign = ? AND target = ? AND sender = ?",
                (
                    status,
                    smtp_code,
                    error,
                    json.dumps(list(refused)),
                    retry_at,
                    utc_now(),
                    campaign,
                    target,
                    sender,
                ),
            )
            if cursor.rowcount != 1:
                raise SendLogError(
                    f"The send log {self._path} has no letter for campaign '{campaign}', "
                    f"target '{target}', sender {sender} to record the outcome '{status}' on.",
                    path=self._path,
                    hint="Another program may have changed the send log during the run. "
                    "Check `protest status` before sending again.",
                )
            entry = self._get(conn, campaign, target, sender)
        assert entry is not None  # updated in the same transaction
        return entry

    def add_usage(
        self, *, sender: str, recipients: int, reservation: Reservation | None = None
    ) -> None:
        """Count a message that is not a letter (a test send) against the sender's quota.

        With a ``reservation`` its usage row already counts; it is only marked used.
        """
        check_count("recipients", recipients)
        if reservation is not None:
            reservation.settled = True
            return
        with self._write("record quota usage") as conn:
            conn.execute(
                "INSERT INTO usage (sender, at, recipients) VALUES (?, ?, ?)",
                (sender, utc_now(), recipients),
            )

    def reserve_usage(
        self,
        *,
        sender: str,
        recipients: int,
        at: datetime,
        since: datetime,
        fits: Callable[[list[tuple[str, int]]], bool],
    ) -> Reservation | None:
        """Reserve ``recipients`` if ``fits`` accepts the usage since ``since``; one transaction.

        The check and the usage row share one IMMEDIATE transaction, so processes sharing
        this log reserve one after another and none sees a budget another already took.
        """
        check_count("recipients", recipients)
        with self._write("reserve quota for a letter") as conn:
            rows = conn.execute(
                "SELECT at, recipients FROM usage WHERE sender = ? AND at >= ? ORDER BY at, id",
                (sender, format_time(since)),
            ).fetchall()
            if not fits([(str(row["at"]), int(row["recipients"])) for row in rows]):
                return None
            cursor = conn.execute(
                "INSERT INTO usage (sender, at, recipients) VALUES (?, ?, ?)",
                (sender, format_time(at), recipients),
            )
            assert cursor.lastrowid is not None  # an INSERT into a rowid table
            return Reservation(id=cursor.lastrowid, sender=sender, recipients=recipients)

    def release_usage(self, reservation: Reservation) -> None:
        """Delete an unused reservation's usage row; a used one is kept (it was sent)."""
        if reservation.settled:
            return
        with self._write("give back reserved quota") as conn:
            conn.execute("DELETE FROM usage WHERE id = ?", (reservation.id,))
        reservation.settled = True  # released once; a second release changes nothing

    def usage_since(self, *, sender: str, since: datetime) -> list[tuple[str, int]]:
        """(time, recipients) sent by ``sender`` at or after ``since``, oldest first.

        ``since`` is cut to whole seconds, so a quota window counts slightly more, never less.
        """
        with self._read("read quota usage") as conn:
            rows = conn.execute(
                "SELECT at, recipients FROM usage WHERE sender = ? AND at >= ? ORDER BY at, id",
                (sender, format_time(since)),
            ).fetchall()
            return [(str(at), int(count)) for at, count in rows]

    def has_table(self, name: str, *, action: str) -> bool:
        """False for an older log opened read-only, which lacks a later version's table.

        A writable open migrates the log first, so only readers meet an old one, and
        nothing of that table was ever written through it.
        """
        if name not in self._tables:
            with self._read(action) as conn:
                row = conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
                ).fetchone()
            self._tables[name] = row is not None
        return self._tables[name]

    def reading(self, action: str) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """The connection, for sibling modules' queries (findings); errors worded as ours."""
        return self._read(action)

    def writing(self, action: str) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One IMMEDIATE transaction, for sibling modules' writes (findings)."""
        return self._write(action)

    @contextlib.contextmanager
    def _read(self, action: str) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        try:
            yield conn
        except sqlite3.Error as exc:
            raise wrap_error(exc, path=self._path, action=action) from exc

    @contextlib.contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction, committed on success and rolled back on any error."""
        conn = self._connection()
        try:
            with immediate(conn):
                yield conn
        except sqlite3.Error as exc:
            raise wrap_error(exc, path=self._path, action=action) from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise SendLogError(
                f"The send log {self._path} is already closed.",
                path=self._path,
                hint="This is a bug in protest; please report it.",
            )
        return self._conn

    def _get(
        self,
        conn: sqlite3.Connection,
        campaign: str,
        target: str,
        sender: str,
    ) -> Entry | None:
        row = conn.execute(
            f"SELECT {self._select} FROM letters"  # noqa: S608 - fixed column names; values are bound
            " WHERE campaign = ? AND target = ? AND sender = ?",
            (campaign, target, sender),
        ).fetchone()
        return None if row is None else self._entry(row)

    def _entry(self, row: sqlite3.Row) -> Entry:
        try:
            attempts = opt_int(row["attempts"])
            return Entry(
                campaign=str(row["campaign"]),
                target=str(row["target"]),
                sender=str(row["sender"]),
                to=str(row["to_addr"]),
                cc=json_list(row["cc"]),
                status=as_status(row["status"]),
                attempts=0 if attempts is None else attempts,
                smtp_code=opt_int(row["smtp_code"]),
                error=opt_str(row["error"]),
                message_id=opt_str(row["message_id"]),
                updated_at=str(row["updated_at"]),
                refused=json_list(row["refused"]),
                next_attempt_at=opt_str(row["next_attempt_at"]),
                campaign_sha256=opt_str(row["campaign_sha256"]),
            )
        except ValueError as exc:
            raise self.damaged_row(exc) from exc

    def damaged_row(self, exc: ValueError) -> SendLogError:
        """A row this log cannot read, worded as ours (also for sibling modules' tables)."""
        return SendLogError(
            f"The send log {self._path} has a damaged row: {exc}.",
            path=self._path,
            hint="Was it edited by hand? " + damaged_hint(self._path),
        )
