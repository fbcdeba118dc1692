"""The dry run's course: every letter rendered once, optionally written as ``.eml``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from protest_dispatch.campaign.message import Letter, build_message, make_message_id, message_bytes
from protest_dispatch.commands.session import Session
from protest_dispatch.errors import InputError, Problem

EML_MODE = 0o600
"""A letter names its sender and target: only the user may read the written copy."""


def letters(*, session: Session, out: Path | None, problems: list[Problem]) -> Iterator[Letter]:
    """Each good letter in turn, written to ``out`` first if given; faults go to ``problems``.

    One pass, letter by letter: a preview may show the good letters before it
    lists what is wrong with the others, and memory stays flat.
    """
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"Cannot create the folder {out}: {exc.strerror}.") from None
    for letter in session.composer.each_letter(problems):
        if out is not None:
            write_eml(letter=letter, folder=out)
        yield letter


def write_eml(*, letter: Letter, folder: Path, message_id: str | None = None) -> Path:
    """The very bytes delivery would send, for reading or for another mail program."""
    path = folder / f"{letter.target.id}.eml"
    chosen = message_id or make_message_id(domain=letter.sender.domain)
    data = message_bytes(build_message(letter=letter, message_id=chosen))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, EML_MODE)
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), EML_MODE)  # an existing file keeps its mode otherwise
            file.write(data)
    except OSError as exc:
        raise InputError(
            f"Cannot write {path}: {exc.strerror}.",
            hint="Choose a folder you can write to with --out.",
        ) from None
    return path
