"""The send log for every command: where it is, and opening it only to read.

``protest log``, ``inbox``, ``replies``, ``followup`` and ``status`` need the log but
not the campaign (jinja2, markdown), so this module imports neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from protest_dispatch.sendlog.store import SendLog
from protest_dispatch.settings.config import Config, default_log_path


def log_path(*, log: Path | None, config: Config) -> Path:
    chosen = config.settings.log if log is None else log
    return chosen.expanduser() if chosen else default_log_path()


@contextmanager
def existing_log(*, log: Path | None, config: Config) -> Iterator[tuple[Path, SendLog | None]]:
    """The send log if there is one: commands that only read must not create it."""
    path = log_path(log=log, config=config)
    if not path.exists():
        yield path, None
        return
    with SendLog.open(path=path, read_only=True) as sendlog:
        yield path, sendlog
