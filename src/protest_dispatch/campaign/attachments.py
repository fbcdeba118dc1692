"""Files sent with a letter, from the campaign's ``attachments/`` folder, checked before use.

A campaign comes from someone else, so an attachment name is untrusted: it may not
leave the folder (no ``..``, no absolute path, no symlink that resolves outside),
must be a regular file (a FIFO would hang the run, a device would never end), and
must be one of a few document types by its extension *and* its leading bytes, so
an executable named ``appeal.pdf`` is refused. Sizes are bounded per letter.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from protest_dispatch.campaign.problems import Where
from protest_dispatch.errors import InputError

if TYPE_CHECKING:
    from protest_dispatch.campaign.model import Campaign

FOLDER = "attachments"
MAX_FILES = 10
MAX_BYTES = 10 * 1024 * 1024
"""At most 10 files and 10 MiB in all per letter."""

CACHE_BYTES = 2 * MAX_BYTES
_cache: dict[tuple[Path, str], bytes] = {}
_CHANGED = "Check the campaign again with 'protest validate', then run the command again."
_ODT = b"application/vnd.oasis.opendocument.text"
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Kind:
    content_type: str
    extensions: tuple[str, ...]
    description: str


KINDS = (
    Kind("application/pdf", (".pdf",), "PDF"),
    Kind("image/png", (".png",), "PNG image"),
    Kind("image/jpeg", (".jpg", ".jpeg"), "JPEG image"),
    Kind("text/plain", (".txt",), "plain text (UTF-8)"),
    Kind("application/vnd.oasis.opendocument.text", (".odt",), "OpenDocument text"),
)
ALLOWED = ", ".join(f"{k.description} ({'/'.join(k.extensions)})" for k in KINDS)


@dataclass(frozen=True)
class Attachment:
    """One checked file: its name in the campaign, where it is, what it is."""

    name: str
    path: Path
    size: int
    content_type: str
    sha256: str

    @property
    def filename(self) -> str:
        """The name the recipient sees: the file's own name, never a folder or a path."""
        return PurePosixPath(self.name).name

    def read(self) -> bytes:
        """The bytes as checked; a file changed since then is refused, not sent.

        A campaign's shared file goes with every letter: it is read and checked once
        and kept (up to :data:`CACHE_BYTES` of files) instead of once per letter.
        """
        key = (self.path, self.sha256)
        cached = _cache.get(key)
        if cached is not None:
            return cached
        try:
            data = _read_regular(self.path, limit=self.size)
        except ValueError as exc:
            raise InputError(f"The attachment {exc}.", hint=_CHANGED) from None
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise InputError(
                f"The attachment {self.name!r} changed while protest ran.", hint=_CHANGED
            )
        while _cache and sum(map(len, _cache.values())) + len(data) > CACHE_BYTES:
            del _cache[next(iter(_cache))]  # the oldest first
        _cache[key] = data
        return data


def inspect(folder: Path, name: str) -> Attachment:
    """The attachment ``name`` under ``folder``, checked; ValueError says what is wrong."""
    relative = _relative(name)
    root = folder.resolve()
    if not folder.is_dir():
        raise ValueError(f"there is no {FOLDER}/ folder beside the campaign file to hold {name!r}")
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"{name!r} leads outside the {FOLDER}/ folder (a symlink?)")
    data = _read_regular(path, limit=MAX_BYTES)
    kind = _kind(name, data)
    return Attachment(
        name=name,
        path=path,
        size=len(data),
        content_type=kind.content_type,
        sha256=hashlib.sha256(data).hexdigest(),
    )


Fault = tuple[Where, str | None, str]
"""Where in the campaign file (a path of keys), which target, and what is wrong."""


def check_files(folder: Path, campaign: Campaign) -> tuple[dict[str, Attachment], list[Fault]]:
    """Every file the campaign names, checked once, and each letter's count and size."""
    places: list[Fault] = [
        (("campaign", "attachments", i), None, name)
        for i, name in enumerate(campaign.campaign.attachments)
    ]
    for index, target in enumerate(campaign.targets):
        places += [
            (("targets", index, "attachments", i), target.id, name)
            for i, name in enumerate(target.attachments)
        ]
    checked: dict[str, Attachment] = {}
    faults: list[Fault] = []
    for where, target_id, name in places:
        if name not in checked:
            try:
                checked[name] = inspect(folder, name)
            except ValueError as exc:
                faults.append((where, target_id, str(exc)))
    if faults:
        return checked, faults
    for index, target in enumerate(campaign.targets):
        names = dict.fromkeys((*campaign.campaign.attachments, *target.attachments))
        problem = letter_problem([checked[name] for name in names])
        if problem is not None:
            faults.append((("targets", index, "attachments"), target.id, problem))
    return checked, faults


def letter_problem(attachments: Sequence[Attachment]) -> str | None:
    """Why these files may not go with one letter (too many, too large), or None."""
    if len(attachments) > MAX_FILES:
        return (
            f"a letter may carry at most {MAX_FILES} files; this one would carry {len(attachments)}"
        )
    total = sum(a.size for a in attachments)
    if total > MAX_BYTES:
        return (
            f"the files of one letter may be at most {MAX_BYTES // 2**20} MiB in all; "
            f"these are {total / 2**20:.1f} MiB"
        )
    return None


def _relative(name: str) -> PurePosixPath:
    if not name or name != name.strip():
        raise ValueError("must be a file name inside attachments/, like appeal.pdf")
    if "\\" in name or ":" in name:
        raise ValueError(f"{name!r} must use '/' between folders and no drive letter")
    path = PurePosixPath(name)
    if path.is_absolute():
        raise ValueError(f"{name!r} is an absolute path; name a file inside {FOLDER}/")
    if ".." in path.parts or "." in path.parts:
        raise ValueError(f"{name!r} may not use '..' or '.': name a file inside {FOLDER}/")
    return path


def _read_regular(path: Path, *, limit: int) -> bytes:
    """A regular file's bytes, at most ``limit``; a FIFO or device is refused unopened."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ValueError(f"there is no file {path.name!r} in the {FOLDER}/ folder") from None
    except OSError as exc:
        raise ValueError(f"{path.name!r} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        what = (
            "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a pipe or device?)"
        )
        raise ValueError(f"{path.name!r} is {what}")
    if info.st_size > limit:
        raise ValueError(
            f"{path.name!r} is {info.st_size / 2**20:.1f} MiB; a letter's files may be at most "
            f"{MAX_BYTES // 2**20} MiB in all"
        )
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ValueError(f"{path.name!r} cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):  # swapped since the stat
            raise ValueError(f"{path.name!r} is not a regular file")
        data = file.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path.name!r} grew beyond {limit:,} bytes while it was read")
    return data


def _kind(name: str, data: bytes) -> Kind:
    suffix = PurePosixPath(name).suffix.lower()
    kind = next((k for k in KINDS if suffix in k.extensions), None)
    if kind is None:
        raise ValueError(f"{name!r} is not a kind of file letters may carry; allowed: {ALLOWED}")
    if not _looks_like(kind, data):
        raise ValueError(
            f"{name!r} is named as {kind.description} but its contents are not "
            f"{kind.description}; it may be another kind of file in disguise"
        )
    return kind


def _looks_like(kind: Kind, data: bytes) -> bool:
    if kind.content_type == "application/pdf":
        return data.startswith(b"%PDF-")
    if kind.content_type == "image/png":
        return data.startswith(b"\x89PNG\r\n\x1a\n")
    if kind.content_type == "image/jpeg":
        return data.startswith(b"\xff\xd8\xff")
    if kind.content_type == "text/plain":
        return _is_text(data)
    return _is_odt(data)


def _is_text(data: bytes) -> bool:
    """UTF-8 without control characters (but tab, line breaks and form feed)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _BINARY.search(data) is None


def _is_odt(data: bytes) -> bool:
    """A zip whose first entry is ``mimetype``, stored, naming OpenDocument text (ODF 1.2)."""
    if not data.startswith(b"PK\x03\x04") or data[30:38] != b"mimetype":
        return False
    if data[38 : 38 + len(_ODT)] != _ODT:
        return False
    try:  # the central directory only: nothing is decompressed (a zip bomb stays shut)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "content.xml" in archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return False
