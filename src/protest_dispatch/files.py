"""Files and folders that only their owner may read: they name whom someone wrote to."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_FOLDER_MODE = 0o700


def data_folder() -> Path:
    """Where protest keeps the send log and the sign-in file unless told otherwise."""
    import platformdirs

    return platformdirs.user_data_path("protest")


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


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step, readable only by its owner; raises OSError.

    The bytes go to a new temporary file (mode 0o600 whatever the umask, never one
    that was already there) and are synced before the rename, so a crash leaves the
    old file or the new one, never half of either.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
