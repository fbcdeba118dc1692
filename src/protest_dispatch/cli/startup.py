"""Start-up's end: when the cyclic GC that ``main()`` paused resumes.

Start-up (imports, option parsing, loading the campaign) makes objects that live
until exit; collecting them again and again cost ~40 ms of a 0.4 s start. So the
cyclic GC is paused until the command has loaded its campaign (``ready``); commands
that load none resume it at once (the root callback).
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from protest_dispatch.commands.session import Session

LOADS_CAMPAIGN = frozenset(
    {"validate", "send", "print", "posted", "calls", "called", "cron", "edit"}
)
"""Commands that keep the GC paused until their campaign is loaded (see main)."""


def ready(session: Session) -> Session:
    """The command's campaign is loaded: start-up ends and the GC resumes here."""
    start_up_done()
    return session


def start_up_done() -> None:
    """Resume the GC that main() paused, freezing first what start-up made.

    Called once a command has loaded its campaign; later collections skip the frozen
    objects. Where main() did not pause the GC (tests, other callers) nothing changes.
    """
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
