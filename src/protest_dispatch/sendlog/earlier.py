"""Letters a resend replaced, kept because the official may still answer the first one.

A letter sent again (its bounce fixed, or an uncertain one retried) gets a new
Message-ID in its row of ``letters``. When the letter it replaces went out, or may
have, that row is copied to ``earlier_letters`` first, so ``protest inbox`` still
ties a reply or a delivery report about the first letter to its official.
"""

from __future__ import annotations

import sqlite3

from protest_dispatch.sendlog.records import LETTER_COLUMNS

TABLE = "earlier_letters"


def keep_earlier(conn: sqlite3.Connection, *, campaign: str, target: str, sender: str) -> None:
    """Copy the letter's row before it is replaced, if it may have reached anyone."""
    conn.execute(
        f"INSERT OR IGNORE INTO {TABLE} ({LETTER_COLUMNS})"  # noqa: S608 - fixed names; values are bound
        f" SELECT {LETTER_COLUMNS} FROM letters"
        " WHERE campaign = ? AND target = ? AND sender = ? AND message_id IS NOT NULL"
        " AND status IN ('sent', 'uncertain')",
        (campaign, target, sender),
    )
