"""The organiser's minisign key pair: made, opened with its passphrase, used to sign.

Files are minisign's own, so ``minisign -S -s FILE`` and ``protest sign --key FILE``
are interchangeable. The secret key is always encrypted (scrypt, minisign's
defaults); protest never writes one without a passphrase.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from protest_dispatch.errors import TrustError
from protest_dispatch.files import read_at_most

MAX_KEY_BYTES = 4096


@dataclass(frozen=True)
class KeyPair:
    secret_file: bytes
    public_file: bytes
    public_key: str
    """The ``RW...`` line to publish and to put in targets.yaml as campaign.public_key."""


def make_key_pair(*, passphrase: str) -> KeyPair:
    import minisign

    if not passphrase:
        raise TrustError("The passphrase is empty; the secret key must be protected by one.")
    pair = minisign.KeyPair.generate()
    with pair.secret_key as secret:
        secret.encrypt(passphrase)
        secret_file = bytes(secret) + b"\n"
    public = pair.public_key
    return KeyPair(
        secret_file=secret_file,
        public_file=bytes(public) + b"\n",
        public_key=public.to_base64().decode("ascii"),
    )


def read_secret_key(path: Path) -> bytes:
    try:
        data = read_at_most(path, MAX_KEY_BYTES)
    except OSError as exc:
        raise TrustError(f"Cannot read the secret key {path}: {exc.strerror}.", file=path) from None
    if data is None:
        raise TrustError(f"{path} is not a minisign secret key (too large).", file=path)
    return data


def _open(data: bytes, *, passphrase: str, where: Path) -> Any:
    import minisign

    try:
        secret = minisign.SecretKey.from_bytes(data)
    except minisign.Error:
        raise TrustError(
            f"{where} is not a minisign secret key.",
            file=where,
            hint="Name the secret key file 'protest keygen' (or 'minisign -G') wrote, "
            "not the .pub.",
        ) from None
    try:
        secret.decrypt(passphrase)
    except minisign.Error:
        secret.wipe()
        raise TrustError(f"The passphrase for {where} is wrong.", file=where) from None
    return secret


def sign(
    *, secret_key: bytes, passphrase: str, where: Path, data: bytes, trusted_comment: str
) -> tuple[str, bytes]:
    """The signing key's public half (``RW...``) and a minisign signature of ``data``."""
    with _open(secret_key, passphrase=passphrase, where=where) as secret:
        public = secret.get_public_key().to_base64().decode("ascii")
        signature = secret.sign(data, trusted_comment=trusted_comment)
    return public, bytes(signature) + b"\n"


def public_half(*, secret_key: bytes, passphrase: str, where: Path) -> str:
    with _open(secret_key, passphrase=passphrase, where=where) as secret:
        return str(secret.get_public_key().to_base64().decode("ascii"))
