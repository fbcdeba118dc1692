"""Files and folders that only their owner may read: they name whom someone wrote to."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


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
