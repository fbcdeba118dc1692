"""``protest log``: the send log as a table, JSON or CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from typing import Any

from protest_dispatch.cli import output
from protest_dispatch.commands.log import LogReport
from protest_dispatch.sendlog.findings import Finding
from protest_dispatch.sendlog.records import Post
from protest_dispatch.text import visible
from protest_dispatch.vocabulary import POSTED, Channel

WIDE_COLUMNS = (
    "campaign",
    "target",
    "to",
    "status",
    "attempts",
    "smtp_code",
    "updated_at",
    "error",
)
NARROW_COLUMNS = ("target", "to", "status", "updated_at", "error")
"""Below WIDE_AT columns the campaign (in the title), attempts and code give way."""
WIDE_AT = 120
LATEST = "latest finding"
"""The column `protest inbox` and `followup` add: the last thing that came of a letter."""
CSV_COLUMNS = (
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
    "channel",
    "posted_on",
)
"""New columns go at the end: scripts may read the CSV by position."""


def show(report: LogReport, *, campaign: str | None, status: str | None, fmt: str) -> None:
    rows = [asdict(entry) for entry in report.entries]
    if fmt == "json":
        output.print_json(
            [
                {**row, "channel": Channel.EMAIL, "events": [f.event() for f in report.events(e)]}
                for row, e in zip(rows, report.entries, strict=True)
            ]
            + [
                {**_posted(post), "events": [f.event() for f in report.events(post)]}
                for post in report.posts
            ]
        )
    elif fmt == "csv":
        _csv([{**row, "channel": Channel.EMAIL} for row in rows] + list(map(_posted, report.posts)))
    elif not report.exists:
        output.info(f"Nothing has been sent yet: there is no send log at {report.path}.")
    else:
        _tables(report, rows, filtered=bool(campaign or status))


def _posted(post: Post) -> dict[str, Any]:
    """A letter on paper as a row: JSON and CSV give it the same fields."""
    return {
        "campaign": post.campaign,
        "target": post.target,
        "sender": post.sender,
        "channel": Channel.POST,
        "status": POSTED,
        "posted_on": post.posted_on,
        "updated_at": post.recorded_at,
    }


def _csv(rows: list[dict[str, Any]]) -> None:
    """Cells escaped as the table escapes them: a spreadsheet or terminal runs no codes."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: visible(_cell(v)) for k, v in row.items()})
    output.print_raw(buffer.getvalue())


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def _tables(report: LogReport, rows: list[dict[str, Any]], *, filtered: bool) -> None:
    if not rows and not report.posts:
        output.info("The send log has no letters yet" + (" matching that." if filtered else "."))
    elif rows:
        wide = output.width() >= WIDE_AT
        columns = WIDE_COLUMNS if wide else NARROW_COLUMNS
        for row, entry in zip(rows, report.entries, strict=True):
            row[LATEST] = _latest(report.events(entry))
        if any(row[LATEST] for row in rows):
            columns = (*columns, LATEST)
        campaigns = sorted({row["campaign"] for row in rows})
        title = f"Send log ({report.path})"
        if not wide:
            title += f", campaign {', '.join(campaigns)}"
        output.show(
            output.table(
                title,
                columns,
                ([_short(c, row[c]) for c in columns] for row in rows),
                styles={columns.index("status"): output.STATUS_STYLES},
            )
        )
    if report.calls:
        output.show(
            output.table(
                "Calls",
                ("campaign", "target", "outcome", "note", "at"),
                (
                    (c.campaign, c.target, c.outcome, c.note or "", output.when(c.at))
                    for c in report.calls
                ),
                styles={2: output.STATUS_STYLES},
            )
        )
    if report.posts:
        output.show(
            output.table(
                "Letters posted",
                ("campaign", "target", "posted on", LATEST),
                (
                    (p.campaign, p.target, p.posted_on, _latest(report.events(p)))
                    for p in report.posts
                ),
            )
        )


def _latest(findings: list[Finding]) -> str:
    """The last thing that came of a letter, in a few words."""
    if not findings:
        return ""
    last = findings[-1]
    parts = (last.kind.value, last.status, last.recipient or last.from_, output.when(last.at))
    return " ".join(p for p in parts if p)


def _short(column: str, value: object) -> object:
    """Short times in the table (the JSON and CSV keep ISO 8601 to the second)."""
    if column == "updated_at" and isinstance(value, str):
        return output.when(value)
    return value
