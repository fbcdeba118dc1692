"""Signed campaigns for the tests: keys made with ``protest keygen``, folders signed with
``protest sign``; the passphrase comes from PROTEST_KEY_PASSWORD_COMMAND."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kit import cli

PASSPHRASE_ENV = {"PROTEST_KEY_PASSWORD_COMMAND": "echo correct-horse"}


@dataclass(frozen=True)
class Key:
    secret: Path
    public: str


def make_key(path: Path) -> Key:
    run = cli(["keygen", str(path)], env=PASSPHRASE_ENV, expect=0)
    public = run.out.strip().splitlines()[-1]
    assert re.fullmatch(r"RW[A-Za-z0-9+/]{54}", public), run.out
    return Key(secret=path, public=public)


def set_public_key(folder: Path, public: str) -> None:
    targets = folder / "targets.yaml"
    text = targets.read_text(encoding="utf-8")
    text = re.sub(r"\n  public_key: \S+", "", text)
    text = text.replace("campaign:\n", f"campaign:\n  public_key: {public}\n", 1)
    targets.write_text(text, encoding="utf-8")


def sign(folder: Path, key: Key, *, expect: int = 0) -> str:
    return cli(
        ["sign", str(folder), "--key", str(key.secret)], env=PASSPHRASE_ENV, expect=expect
    ).output


def signed_campaign(folder: Path, key: Key) -> Path:
    """A fresh scaffold in ``folder``, with the key's public half, signed."""
    cli(["new", str(folder)], expect=0)
    set_public_key(folder, key.public)
    sign(folder, key)
    return folder
