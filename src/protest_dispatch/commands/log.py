"""The send log for every command: where it is, opening it only to read, and ``log``'s course.

``protest log``, ``inbox``, ``replies`` and ``followup`` need the log but not the
campaign (jinja2, markdown), so this module imports neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from protest_dispatch.errors import InputError
from protest_dispatch.sendlog.findings import Finding, FindingLog, LetterFindings
from protest_dispatch.sendlog.store import Call, Entry, SendLog
from protest_dispatch.settings.config import Config, default_log_path
from protest_dispatch.vocabulary import LetterStatus


def log_path(*, log: Path | None, config: Config) -> Path:
    chosen = config.get("log", log)
    return Path(chosen).expanduser() if chosen else default_log_path()


@contextmanager
def existing_log(*, log: Path | None, config: Config) -> Iterator[tuple[Path, SendLog | None]]:
    """The send log if there is one: commands that only read must not create it."""
    path = log_path(log=log, config=config)
    if not path.exists():
        yield path, None
        return
    with SendLog.open(path=path, read_only=True) as sendlog:
        yield path, sendlog


@dataclass(frozen=True)
class LogReport:
    path: Path
    exists: bool
    entries: tuple[Entry, ...] = ()
    calls: tuple[Call, ...] = ()
    """Empty when a status filter is given: calls have outcomes, not statuses."""
    findings: LetterFindings = field(default_factory=LetterFindings)
    """What came of each letter (by its Message-ID), oldest first."""

    def events(self, entry: Entry) -> list[Finding]:
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
        calls = () if chosen is not None else tuple(sendlog.calls(campaign=campaign))
        found = FindingLog(sendlog).by_letter(campaign=campaign)
        return LogReport(
            path=path, exists=True, entries=tuple(entries), calls=calls, findings=found
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
