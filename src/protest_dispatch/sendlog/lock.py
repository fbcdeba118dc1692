"""One run per campaign and send log: an OS file lock beside the log's real file."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from protest_dispatch.errors import LockedError, SendLogError


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
    """Hold the one-run-per-campaign lock; the OS drops it when the process dies.

    The lock file stays on disk: deleting a flock file while others wait on it would
    let two runs hold "the" lock at once.
    """
    path = lock_path(log, campaign=campaign)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise SendLogError(
            f"Cannot create the lock file {path}: {exc.strerror or exc}.",
            path=log,
            hint="Make the send log's folder writable by you.",
        ) from exc
    try:
        _take(fd, log=log, path=path, campaign=campaign)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _take(fd: int, *, log: Path, path: Path, campaign: str) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        by = f" (process {holder})" if holder.isdigit() else ""
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
            hint="Keep the send log on a local disk; network file systems may not "
            "support file locks.",
        ) from exc
