"""``protest keygen FILE``: the organiser's key pair, FILE (secret) and FILE.pub."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from protest_dispatch.campaign.keys import make_key_pair
from protest_dispatch.errors import InputError


@dataclass(frozen=True)
class MadeKeys:
    secret: Path
    public: Path
    public_key: str


def keygen(*, path: Path, passphrase: str) -> MadeKeys:
    public_path = path.with_name(path.name + ".pub")
    for existing in (path, public_path):
        if existing.exists() or existing.is_symlink():
            raise InputError(
                f"{existing} already exists; protest keygen never replaces a key.",
                hint="Name a new file, or move the old key away first.",
            )
    pair = make_key_pair(passphrase=passphrase)
    try:
        _create(path, pair.secret_file, mode=0o600)
        _create(public_path, pair.public_file, mode=0o644)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise InputError(f"Cannot write the key to {path}: {exc.strerror}.") from None
    return MadeKeys(secret=path, public=public_path, public_key=pair.public_key)


def _create(path: Path, data: bytes, *, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
