"""``protest log``'s course: every letter and call in the send log, with its findings.

It imports nothing of the campaign (jinja2, markdown): ``log`` needs only the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from protest_dispatch.commands.log_access import existing_log
from protest_dispatch.errors import InputError
from protest_dispatch.sendlog.calls import CallLog
from protest_dispatch.sendlog.findings import Finding, FindingLog, LetterFindings, letter_key
from protest_dispatch.sendlog.posts import PostLog
from protest_dispatch.sendlog.records import Post
from protest_dispatch.sendlog.store import Call, Entry
from protest_dispatch.settings.config import Config
from protest_dispatch.vocabulary import LetterStatus


@dataclass(frozen=True)
class LogReport:
    path: Path
    exists: bool
    entries: tuple[Entry, ...] = ()
    calls: tuple[Call, ...] = ()
    """Empty when a status filter is given: calls have outcomes, not statuses."""
    findings: LetterFindings = field(default_factory=LetterFindings)
    """What came of each letter (by its Message-ID), oldest first."""
    posts: tuple[Post, ...] = ()
    """Letters on paper posted (``protest posted``); empty with a status filter, like calls."""

    def events(self, entry: Entry | Post) -> list[Finding]:
        if isinstance(entry, Post):
            return list(self.findings.grouped.get(letter_key(entry.letter_id), []))
        return self.findings.of(entry)


def read_log(
    *, log: Path | None, config: Config, campaign: str | None, status: str | None
) -> LogReport:
    """What the log says, without creating it: a command that only reads writes nothing."""
    chosen = _status(status)
    with existing_log(log=log, config=config) as (path, sendlog):
        if sendlog is None:
            return LogReport(path=path, exists=False)
        entries = sendlog.entries(campaign=campaign, status=chosen)
        calls = () if chosen is not None else tuple(CallLog(sendlog).all(campaign=campaign))
        posts = () if chosen is not None else tuple(PostLog(sendlog).all(campaign=campaign))
        found = FindingLog(sendlog).by_letter(campaign=campaign)
        return LogReport(
            path=path,
            exists=True,
            entries=tuple(entries),
            calls=calls,
            findings=found,
            posts=posts,
        )


def _status(value: str | None) -> LetterStatus | None:
    if value is None:
        return None
    try:
        return LetterStatus(value)
    except ValueError:
        raise InputError(
            f"--status {value!r} is not a status.",
            hint=f"Use one of: {', '.join(LetterStatus)}.",
        ) from None
