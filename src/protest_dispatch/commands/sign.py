"""``protest sign``: MANIFEST (every file protest reads) and MANIFEST.minisig."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from protest_dispatch.campaign import manifest
from protest_dispatch.campaign.keys import read_secret_key, sign
from protest_dispatch.campaign.loading import load_campaign, resolve_campaign_path
from protest_dispatch.campaign.signing import trusted_comment
from protest_dispatch.errors import InputError, TamperedError, TrustError


@dataclass(frozen=True)
class Signed:
    folder: Path
    files: tuple[str, ...]
    public_key: str


def sign_campaign(*, folder: Path, key: Path, passphrase: Callable[[], str]) -> Signed:
    """Sign the valid campaign in ``folder`` with the secret key file ``key``.

    Refuses (TrustError, exit 2) when campaign.public_key is missing or is not the
    key's public half: activists could not check the signature.
    """
    loaded = load_campaign(path=folder)
    folder = resolve_campaign_path(folder).parent
    secret = read_secret_key(key)
    try:
        listed = manifest.build(folder)
    except TamperedError as exc:  # a link or special file among the letters: the organiser's
        raise TrustError(
            exc.message,
            file=exc.file,
            hint="Put the file itself in its place (a signed campaign holds plain files), "
            "then sign again.",
        ) from None
    data = listed.text().encode("utf-8")
    public, signature = sign(
        secret_key=secret,
        passphrase=passphrase(),
        where=key,
        data=data,
        trusted_comment=trusted_comment(loaded.campaign.campaign.id),
    )
    expected = loaded.campaign.campaign.public_key
    if expected != public:
        what = (
            "has no campaign.public_key"
            if expected is None
            else (f"names the public key {expected}, which is not {key}'s")
        )
        raise TrustError(
            f"{loaded.path} {what}, so activists could not check the signature. Nothing "
            "was signed.",
            file=loaded.path,
            hint=f"Add this line under 'campaign:' in targets.yaml, then sign again:\n"
            f"  public_key: {public}",
        )
    try:
        _replace(folder / manifest.MANIFEST, data)
        _replace(folder / manifest.SIGNATURE, signature)
    except OSError as exc:
        raise InputError(f"Cannot write the signature into {folder}: {exc.strerror}.") from None
    return Signed(folder=folder, files=tuple(listed.entries), public_key=public)


def _replace(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
