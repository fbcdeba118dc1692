"""Files and folders that only their owner may read: they name whom someone wrote to."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

PRIVATE_FOLDER_MODE = 0o700


def data_folder() -> Path:
    """Where protest keeps the send log and the sign-in file unless told otherwise."""
    import platformdirs

    return platformdirs.user_data_path("protest")


def read_at_most(path: Path, limit: int) -> bytes | None:
    """The bytes of ``path``, or None when it holds more than ``limit``; raises OSError.

    Reads at most one byte past the limit, whatever the file is: a huge file, a pipe
    that never ends or /dev/zero costs ``limit`` bytes, not all of memory.
    """
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    return None if len(data) > limit else data


def tighten_private_folder(folder: Path) -> int | None:
    """Make an existing ``folder`` of ours 0o700 if others may enter it; the mode it had.

    A folder made by hand, or by an older version, with the umask's 0o755 lets every
    user of the machine list whom the activist wrote to and stat their sign-in file.
    Returns None when nothing changed (no folder, not ours, already private, or chmod
    was refused: the files inside are 0o600 either way).
    """
    try:
        found = folder.stat()
        if found.st_uid != os.getuid() or not found.st_mode & 0o077:
            return None
        os.chmod(folder, PRIVATE_FOLDER_MODE)
    except OSError:
        return None
    return found.st_mode & 0o777


def make_private_folder(folder: Path) -> None:
    """Create the missing folders of ``folder`` with mode 0o700; raises OSError."""
    missing: list[Path] = []
    current = folder
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for item in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made by another process meanwhile
            item.mkdir(mode=0o700)
            os.chmod(item, 0o700)


def write_private(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Replace ``path`` with ``data`` in one step, readable only by its owner; raises OSError.

    The bytes go to a new temporary file (mode 0o600 whatever the umask, never one
    that was already there) and are synced before the rename, so a crash leaves the
    old file or the new one, never half of either. ``sync=False`` skips the sync for
    files that are cheap to make again (printed letters): a killed process still
    leaves no half file, but a power cut may.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, data)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise


class LockBusy(Exception):
    """Another process holds the lock; ``holder`` is what it wrote in the file (its pid)."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


@contextlib.contextmanager
def exclusive_lock(path: Path, *, wait: bool, mark: str | None = None) -> Iterator[None]:
    """Hold an exclusive OS lock (flock) on ``path``, a 0o600 file made if missing.

    Without ``wait``, raises LockBusy at once when another process holds it; ``mark``
    (the pid) is then what the holder wrote. Raises OSError when the file cannot be
    made or locked. The OS releases the lock when the process dies, and the file stays
    on disk: deleting a flock file while others wait on it would let two processes
    hold "the" lock at once.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise LockBusy(os.pread(fd, 32, 0).decode(errors="replace").strip()) from None
        if mark is not None:
            os.ftruncate(fd, 0)
            os.pwrite(fd, mark.encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock
