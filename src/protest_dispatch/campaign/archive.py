"""Unpack a campaign archive (.tar.gz or .zip) safely into a new folder.

The archive is untrusted: every entry's path must stay inside the folder (no ``..``,
no absolute path, no backslash, no control character), only plain files and
folders are taken (no symbolic or hard links, devices or FIFOs), and the count and
the bytes really written are bounded, so a zip bomb stops at the cap however its
headers lie. One top folder shared by every entry (``campaign/targets.yaml``) is
taken off.
"""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from protest_dispatch.campaign.manifest import safe_path, shown_path
from protest_dispatch.errors import ArchiveError

MAX_FILES = 1000
MAX_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Entry:
    name: str
    is_dir: bool
    open: object
    """A callable returning a binary file object, for files."""


def unpack(*, data: bytes, into: Path, source: str) -> int:
    """Write the archive's files under ``into`` (which must exist, empty); the file count."""
    entries = list(_entries(data, source))
    files = [e for e in entries if not e.is_dir]
    if len(files) > MAX_FILES:
        raise ArchiveError(f"{source} holds more than {MAX_FILES:,} files.", source=source)
    prefix = _common_top(entries)
    written = 0
    for entry in entries:
        name = entry.name.removeprefix(prefix)
        if not name:
            continue
        target = into / name
        if entry.is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        try:
            written += _copy(entry, target, room=MAX_BYTES - written, source=source)
        except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise ArchiveError(
                f"{source}: cannot unpack {shown_path(entry.name)} ({exc}).", source=source
            ) from None
    return len(files)


def _copy(entry: Entry, target: Path, *, room: int, source: str) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with entry.open() as source_file, target.open("xb") as out:  # type: ignore[operator]
        while chunk := source_file.read(1 << 16):
            written += len(chunk)
            if written > room:
                raise ArchiveError(
                    f"{source} unpacks to more than {MAX_BYTES // 2**20} MB (a zip bomb?).",
                    source=source,
                )
            out.write(chunk)
    return written


def _common_top(entries: list[Entry]) -> str:
    tops = {e.name.split("/", 1)[0] for e in entries}
    if len(tops) != 1 or any(e.name == next(iter(tops)) and not e.is_dir for e in entries):
        return ""
    top = next(iter(tops))
    return f"{top}/" if any("/" in e.name for e in entries) else ""


def _entries(data: bytes, source: str) -> Iterator[Entry]:
    if data[:2] == b"\x1f\x8b":
        yield from _tar_entries(data, source)
    elif data[:4] == b"PK\x03\x04":
        yield from _zip_entries(data, source)
    else:
        raise ArchiveError(
            f"{source} is not a .tar.gz or .zip archive.",
            source=source,
        )


def _checked_name(name: str, source: str) -> str:
    clean = name.removeprefix("./").rstrip("/")
    if not safe_path(clean):
        raise ArchiveError(
            f"{source} holds the path {shown_path(name)}, which would land outside the "
            "campaign folder; nothing was unpacked.",
            source=source,
        )
    return clean


def _tar_entries(data: bytes, source: str) -> Iterator[Entry]:
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")  # noqa: SIM115 - read lazily by the entries, in memory
        members = []
        declared = 0
        for count, member in enumerate(archive, 1):
            declared += max(0, member.size)
            if count > MAX_FILES + 1:
                raise ArchiveError(f"{source} holds more than {MAX_FILES:,} files.", source=source)
            if declared > MAX_BYTES:  # stop before decompressing past it (a gzip bomb)
                raise ArchiveError(
                    f"{source} unpacks to more than {MAX_BYTES // 2**20} MB.", source=source
                )
            members.append(member)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(f"{source} is not a readable .tar.gz ({exc}).", source=source) from None
    for member in members:
        name = _checked_name(member.name, source)
        if member.isdir():
            yield Entry(name, True, None)
        elif member.isfile():
            yield Entry(name, False, lambda m=member: _tar_file(archive, m))
        else:
            kind = "a link" if member.issym() or member.islnk() else "a device or special file"
            raise ArchiveError(
                f"{source} holds {shown_path(member.name)}, {kind}; a campaign holds plain "
                "files only, so nothing was unpacked.",
                source=source,
            )


def _tar_file(archive: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    handle = archive.extractfile(member)
    assert handle is not None, "a regular file"
    return handle


def _zip_entries(data: bytes, source: str) -> Iterator[Entry]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArchiveError(f"{source} is not a readable .zip ({exc}).", source=source) from None
    if len(infos) > MAX_FILES:
        raise ArchiveError(f"{source} holds more than {MAX_FILES:,} files.", source=source)
    for info in infos:
        name = _checked_name(info.filename, source)
        mode = info.external_attr >> 16
        if info.is_dir():
            yield Entry(name, True, None)
        elif stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # 0: made without Unix modes
            kind = "a link" if stat.S_ISLNK(mode) else "a device or special file"
            raise ArchiveError(
                f"{source} holds {shown_path(info.filename)}, {kind}; a campaign holds plain "
                "files only, so nothing was unpacked.",
                source=source,
            )
        else:
            yield Entry(name, False, lambda i=info: archive.open(i))
