"""One run per campaign and send log: an OS file lock beside the log's real file."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from protest_dispatch.errors import LockedError, SendLogError
from protest_dispatch.files import LockBusy, exclusive_lock


def _lock_name(campaign: str) -> str:
    """A file-name-safe, collision-free stand-in for the campaign id."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", campaign)[:64]
    if safe != campaign or not safe:
        safe += "-" + hashlib.sha256(campaign.encode()).hexdigest()[:12]
    return safe


def lock_path(log: Path, *, campaign: str) -> Path:
    """The lock file beside the log's real file, whatever path named it.

    A symlink, a relative path or ``..`` all resolve to one file and so to one lock;
    a second hard link to the log is a different name the lock cannot see
    (SECURITY.md, Known limits).
    """
    real = Path(os.path.realpath(log))
    return real.with_name(f"{real.name}.{_lock_name(campaign)}.lock")


@contextlib.contextmanager
def hold(log: Path, *, campaign: str) -> Iterator[None]:
    """Hold the one-run-per-campaign lock (files.exclusive_lock); a second run is refused."""
    path = lock_path(log, campaign=campaign)
    try:
        with exclusive_lock(path, wait=False, mark=f"{os.getpid()}\n"):
            yield
    except LockBusy as busy:
        by = f" (process {busy.holder})" if busy.holder.isdigit() else ""
        raise LockedError(
            f"Another `protest send` is running for campaign '{campaign}' with the "
            f"send log {log}{by}; lock file {path}.",
            hint="Wait for it to finish and run the command again. The lock is "
            "released automatically when that process ends.",
        ) from None
    except OSError as exc:
        raise SendLogError(
            f"Cannot lock {path}: {exc.strerror or exc}.",
            path=log,
            hint="Make the send log's folder writable by you, and keep it on a local "
            "disk: network file systems may not support file locks.",
        ) from exc
