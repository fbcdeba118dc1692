"""The sender's own version of a letter: ``protest/edits/<campaign>/<target>.md``.

What the sender saves with ``protest edit ID`` is their own words, never a
template (``{{`` stays as typed), kept in their data folder with mode 600 and
used by every command instead of the template's body. Beside it,
``<target>.json`` keeps the SHA-256 of the campaign's text they started from, so
a campaign that changed its letter afterwards can say so.

The files live in the sender's own folder, but a file there may still have been
planted or damaged: it is opened without following a symbolic link and without
blocking on a FIFO, must be a regular UTF-8 file of at most
:data:`MAX_EDIT_CHARS` characters, and is checked like a letter.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from protest_dispatch.files import make_private_folder, write_private

MAX_EDIT_CHARS = 100_000
_MAX_BYTES = MAX_EDIT_CHARS * 4 + 4  # UTF-8 takes at most 4 bytes a character


class EditFileError(ValueError):
    """An edit file that cannot be used; the message says why and what to do."""

    def __init__(self, message: str, *, path: Path, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


@dataclass(frozen=True)
class Edit:
    path: Path
    text: str
    base: str | None
    """SHA-256 of the campaign's text for this sender when they saved (None: unknown)."""
    edited_on: str | None
    """The date they saved it (YYYY-MM-DD, UTC)."""


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EditStore:
    """One campaign's edit files for this sender."""

    def __init__(self, *, folder: Path) -> None:
        self.folder = folder

    def path(self, target: str) -> Path:
        """``target`` is a slug (checked by the campaign model): a safe file name."""
        return self.folder / f"{target}.md"

    def draft(self, target: str) -> Path:
        return self.folder / f"{target}.draft.md"

    def campaign_copy(self, target: str) -> Path:
        return self.folder / f"{target}.campaign.md"

    def _meta(self, target: str) -> Path:
        return self.folder / f"{target}.json"

    def load(self, target: str) -> Edit | None:
        path = self.path(target)
        text = read_edit_file(path)
        if text is None:
            return None
        base = edited_on = None
        meta = read_edit_file(self._meta(target))
        if meta is not None:
            try:
                data = json.loads(meta)
                base = data.get("base") if isinstance(data.get("base"), str) else None
                when = data.get("edited_on")
                edited_on = when if isinstance(when, str) and len(when) == 10 else None
            except (ValueError, AttributeError):
                pass  # a damaged note of the base: then no change can be told, nothing worse
        return Edit(path=path, text=text, base=base, edited_on=edited_on)

    def save(self, target: str, text: str, *, base: str, now: datetime) -> Path:
        make_private_folder(self.folder)
        path = self.path(target)
        write_private(path, text.encode("utf-8"))
        meta = {"base": base, "edited_on": now.strftime("%Y-%m-%d")}
        write_private(self._meta(target), json.dumps(meta).encode("utf-8"))
        return path

    def write_scratch(self, path: Path, text: str) -> None:
        make_private_folder(self.folder)
        write_private(path, text.encode("utf-8"))

    def reset(self, target: str) -> bool:
        """Remove the sender's version (and its draft); whether there was one."""
        existed = os.path.lexists(self.path(target))
        for path in (
            self.path(target),
            self._meta(target),
            self.draft(target),
            self.campaign_copy(target),
        ):
            path.unlink(missing_ok=True)
        return existed


def read_edit_file(path: Path) -> str | None:
    """The file's text, None if there is none; EditFileError if it may not be used."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise EditFileError(
                "is a symbolic link; your version of a letter must be a plain file "
                "(remove the link, or run 'protest edit ID --reset')",
                path=path,
            ) from None
        raise EditFileError(f"cannot be read: {exc.strerror}", path=path) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "not a plain file"
            raise EditFileError(
                f"is {kind}; your version of a letter must be a plain file "
                "(remove it, or run 'protest edit ID --reset')",
                path=path,
            )
        data = os.read(fd, _MAX_BYTES + 1)
    finally:
        os.close(fd)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EditFileError(
            "is not UTF-8 text; save it as UTF-8",
            path=path,
            line=data[: exc.start].count(b"\n") + 1,
        ) from None
    if len(data) > _MAX_BYTES or len(text) > MAX_EDIT_CHARS:
        raise EditFileError(
            f"holds more than {MAX_EDIT_CHARS:,} characters; a letter is a page or two",
            path=path,
        )
    return text
