"""The run's clock: the system's, or one handed to the app (tests pass ``obj=Injected``).

Commands that decide by the time (campaign dates, office hours, the spread) read
it here once and hand the moment to the core, which never reads a clock itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import typer


@dataclass(frozen=True)
class Injected:
    """What a caller may hand the app as click's ``obj``: a clock instead of the system's."""

    now: Callable[[], datetime]


def now(context: typer.Context) -> datetime:
    injected = context.find_root().obj
    if isinstance(injected, Injected):
        return injected.now().astimezone(UTC)
    return datetime.now(UTC)
