"""The letters on paper a sender posted (``protest posted``), in the send log's file."""

from __future__ import annotations

import sqlite3
from datetime import date

from protest_dispatch.sendlog.logfile import select
from protest_dispatch.sendlog.records import Post, utc_now
from protest_dispatch.sendlog.store import SendLog


class PostLog:
    """The posts table of an open send log (schema version 3)."""

    def __init__(self, log: SendLog) -> None:
        self._log = log

    def _table_present(self) -> bool:
        return self._log.has_table("posts", action="read the letters posted")

    def record(self, *, campaign: str, target: str, sender: str, posted_on: date) -> Post:
        post = Post(
            campaign=campaign,
            target=target,
            sender=sender,
            posted_on=posted_on.isoformat(),
            recorded_at=utc_now(),
        )
        with self._log.writing("record a letter posted") as conn:
            conn.execute(
                "INSERT INTO posts (campaign, target, sender, posted_on, recorded_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (post.campaign, post.target, post.sender, post.posted_on, post.recorded_at),
            )
        return post

    def all(
        self,
        *,
        campaign: str | None = None,
        target: str | None = None,
        sender: str | None = None,
    ) -> list[Post]:
        """Letters posted matching every filter given, in the order they were posted."""
        if not self._table_present():
            return []
        with self._log.reading("list the letters posted") as conn:
            rows = select(
                conn,
                columns="campaign, target, sender, posted_on, recorded_at",
                table="posts",
                order="posted_on, id",
                campaign=campaign,
                target=target,
                sender=sender,
            )
            return [self._post(row) for row in rows]

    def _post(self, row: sqlite3.Row) -> Post:
        try:
            posted_on = date.fromisoformat(str(row["posted_on"])).isoformat()
        except ValueError as exc:
            raise self._log.damaged_row(exc) from None
        return Post(
            campaign=str(row["campaign"]),
            target=str(row["target"]),
            sender=str(row["sender"]),
            posted_on=posted_on,
            recorded_at=str(row["recorded_at"]),
        )
