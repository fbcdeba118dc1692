"""A campaign's MANIFEST: the SHA-256 of every file protest reads from its folder.

The format is ``sha256sum``'s (``<64 hex>  <path>`` a line, sorted), so anyone can
check a copy with ``sha256sum -c MANIFEST``. Paths are relative, with ``/``, inside
the folder; a line that names anything else is refused, never opened. Files protest
does not read (a README, ``.git``) are neither listed nor checked.
"""

from __future__ import annotations

import hashlib
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from protest_dispatch.errors import TamperedError
from protest_dispatch.text import ANY_CONTROL

MANIFEST = "MANIFEST"
SIGNATURE = "MANIFEST.minisig"
READ_FILES = ("targets.yaml", "targets.schema.json")
"""Files at the top of the folder that protest reads, when present."""
READ_FOLDERS = ("letters", "attachments")
"""Folders protest reads every file of: letters, call scripts, attachments."""
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_FILES = 10_000
_LINE = re.compile(r"([0-9a-f]{64})  (.+)")


@dataclass(frozen=True)
class Manifest:
    entries: dict[str, str]
    """Path (relative, '/') to its SHA-256 in hex."""

    def text(self) -> str:
        return "".join(f"{digest}  {path}\n" for path, digest in sorted(self.entries.items()))


def read_files(folder: Path) -> Iterator[str]:
    """The relative paths of every file protest reads in ``folder``, sorted."""
    found: list[str] = [name for name in READ_FILES if (folder / name).exists()]
    for name in READ_FOLDERS:
        top = folder / name
        if top.is_symlink():
            found.append(name)  # refused when hashed: a link may lead anywhere
            continue
        if top.is_dir():
            for path in top.rglob("*"):
                if path.is_symlink() or not path.is_dir():
                    found.append(path.relative_to(folder).as_posix())
    if len(found) > MAX_FILES:
        raise TamperedError(f"{folder} holds more than {MAX_FILES:,} files to sign.", file=folder)
    return iter(sorted(found))


def digest(folder: Path, relative: str) -> str:
    """SHA-256 of a regular file inside ``folder``; a link, device or folder is refused."""
    path = folder / relative
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise TamperedError(
            f"{path} is listed in the campaign's MANIFEST but is missing.", file=path
        ) from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file"
        raise TamperedError(
            f"{path} is {kind}; a signed campaign holds plain files only.", file=path
        )
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 16):
            hasher.update(chunk)
    return hasher.hexdigest()


def build(folder: Path) -> Manifest:
    return Manifest({relative: digest(folder, relative) for relative in read_files(folder)})


def parse(folder: Path, data: bytes) -> Manifest:
    """The manifest's lines, each path checked to lie inside the folder before any is opened."""
    where = folder / MANIFEST
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise TamperedError(f"{where} is not UTF-8 text.", file=where) from None
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = _LINE.fullmatch(line)
        if match is None:
            raise TamperedError(f"{where}, line {number}: not '<sha256>  <path>'.", file=where)
        relative = match.group(2)
        if not safe_path(relative):
            raise TamperedError(
                f"{where}, line {number}: the path {shown_path(relative)} lies outside the "
                "campaign folder; a manifest may only list files inside it.",
                file=where,
            )
        if relative in entries:
            raise TamperedError(f"{where}, line {number}: {relative} is listed twice.", file=where)
        entries[relative] = match.group(1)
    return Manifest(entries)


def safe_path(relative: str) -> bool:
    """Relative, '/'-separated, no '..', '.', empty part, backslash or control character."""
    if not relative or relative.startswith("/") or "\\" in relative or ANY_CONTROL.search(relative):
        return False
    parts = PurePosixPath(relative).parts
    return relative == "/".join(parts) and not any(p in ("", ".", "..") for p in parts)


def shown_path(relative: str) -> str:
    return repr(ANY_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", relative))


def verify(folder: Path, manifest: Manifest) -> None:
    """Every listed file as listed, and every file protest reads listed; else TamperedError."""
    for relative, expected in sorted(manifest.entries.items()):
        if digest(folder, relative) != expected:
            path = folder / relative
            raise TamperedError(
                f"{path} differs from the signed MANIFEST: it was changed after the "
                "organiser signed the campaign.",
                file=path,
            )
    for relative in read_files(folder):
        if relative not in manifest.entries:
            path = folder / relative
            raise TamperedError(
                f"{path} is not in the signed MANIFEST: protest would read it, but the "
                "organiser did not sign it.",
                file=path,
            )
