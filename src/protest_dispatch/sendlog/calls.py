"""The phone calls an activist logged (``protest called``), in the send log's file."""

from __future__ import annotations

import sqlite3

from protest_dispatch.errors import InputError
from protest_dispatch.sendlog.logfile import select
from protest_dispatch.sendlog.records import Call, as_outcome, opt_str, utc_now
from protest_dispatch.sendlog.store import SendLog
from protest_dispatch.vocabulary import CallOutcome


class CallLog:
    """The calls table of an open send log."""

    def __init__(self, log: SendLog) -> None:
        self._log = log

    def record(
        self,
        *,
        campaign: str,
        target: str,
        sender: str,
        outcome: CallOutcome,
        note: str | None,
    ) -> Call:
        checked = as_outcome(outcome)
        if checked is None:
            raise InputError(
                f"Unknown call outcome '{outcome}'.",
                hint=f"Use one of: {', '.join(CallOutcome)}.",
            )
        call = Call(
            campaign=campaign,
            target=target,
            sender=sender,
            outcome=checked,
            note=note,
            at=utc_now(),
        )
        with self._log.writing("record a call") as conn:
            conn.execute(
                "INSERT INTO calls (campaign, target, sender, outcome, note, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (call.campaign, call.target, call.sender, call.outcome, call.note, call.at),
            )
        return call

    def all(
        self,
        *,
        campaign: str | None = None,
        target: str | None = None,
        sender: str | None = None,
    ) -> list[Call]:
        """Logged calls matching every filter given, oldest first."""
        with self._log.reading("list calls") as conn:
            rows = select(
                conn,
                columns="campaign, target, sender, outcome, note, at",
                table="calls",
                order="at, id",
                campaign=campaign,
                target=target,
                sender=sender,
            )
            return [self._call(row) for row in rows]

    def _call(self, row: sqlite3.Row) -> Call:
        outcome = as_outcome(row["outcome"])
        if outcome is None:
            raise self._log.damaged_row(ValueError(f"unknown call outcome {row['outcome']!r}"))
        return Call(
            campaign=str(row["campaign"]),
            target=str(row["target"]),
            sender=str(row["sender"]),
            outcome=outcome,
            note=opt_str(row["note"]),
            at=str(row["at"]),
        )
