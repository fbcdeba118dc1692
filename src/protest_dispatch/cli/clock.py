"""The run's clock: the system's, or one handed to the app (tests pass ``obj=Injected``).

Commands that decide by the time (campaign dates, office hours, the spread) read
it here once and hand the moment to the core, which never reads a clock itself.
A sign-in's waits between polls come from here too, so a test runs the real loop
in the OAuth server's virtual time instead of sleeping, and so does the bound on
rendering a letter, so a test of an endless template need not wait out the real one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from protest_dispatch.oauth.device import Pacing


@dataclass(frozen=True)
class Injected:
    """What a caller may hand the app as click's ``obj``: a clock instead of the system's,
    the device sign-in's sleep and clock instead of real waiting, and the time a letter
    may take to render instead of ``RENDER_SECONDS``."""

    now: Callable[[], datetime] | None = None
    pacing: Pacing | None = None
    render_seconds: float | None = None


def _injected(context: typer.Context) -> Injected | None:
    injected = context.find_root().obj
    return injected if isinstance(injected, Injected) else None


def now(context: typer.Context) -> datetime:
    injected = _injected(context)
    if injected is not None and injected.now is not None:
        return injected.now().astimezone(UTC)
    return datetime.now(UTC)


def pacing(context: typer.Context) -> Pacing:
    """How the device sign-in waits between polls: real time unless a caller injected it."""
    from protest_dispatch.oauth.device import Pacing

    injected = _injected(context)
    if injected is not None and injected.pacing is not None:
        return injected.pacing
    return Pacing()


def render_seconds(context: typer.Context) -> float:
    """How long one letter may take to render: the product's bound unless injected."""
    from protest_dispatch.campaign.templates import RENDER_SECONDS

    injected = _injected(context)
    if injected is not None and injected.render_seconds is not None:
        return injected.render_seconds
    return RENDER_SECONDS
