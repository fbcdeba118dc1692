"""What every command needs first: settings, the campaign, and who is sending."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from protest_dispatch.campaign.compose import PLACEHOLDER_SENDER, Composer
from protest_dispatch.campaign.edits import EditStore
from protest_dispatch.campaign.loading import LoadedCampaign, load_campaign
from protest_dispatch.campaign.model import Sender
from protest_dispatch.campaign.signing import KnownKeys, Trust, default_store, verify_campaign
from protest_dispatch.campaign.templates import RENDER_SECONDS
from protest_dispatch.errors import InputError, NoSenderError
from protest_dispatch.files import data_folder
from protest_dispatch.settings.config import Config

__all__ = ["Session", "prepare", "read_note"]

MAX_NOTE_CHARS = 10_000


@dataclass(frozen=True)
class Session:
    config: Config
    loaded: LoadedCampaign
    sender: Sender
    placeholder: bool
    composer: Composer
    trust: Trust
    """Whether this copy is signed, and by the key first seen for its id (issue 20)."""

    @property
    def campaign_id(self) -> str:
        return self.loaded.campaign.campaign.id


def prepare(
    *,
    targets: Path,
    config_path: Path | None,
    from_: str | None,
    country: str | None,
    lang: str | None,
    only: Sequence[str] = (),
    note: str | None = None,
    copy_me: bool | None = None,
    postal_address: str | None = None,
    proxy: str | None = None,
    dry_run: bool,
    render_seconds: float = RENDER_SECONDS,
) -> Session:
    config = Config.load(path=config_path).with_options(proxy=proxy)
    sender = config.sender(
        from_option=from_, country_option=country, note=note, postal_address_option=postal_address
    )
    placeholder = sender is None
    if sender is None:
        if not dry_run:
            raise NoSenderError(so="nothing can be sent")
        sender = config.sender(
            from_option=f"{PLACEHOLDER_SENDER.name} <{PLACEHOLDER_SENDER.email}>",
            country_option=country,
            note=note,
            postal_address_option=postal_address,
        )
        assert sender is not None, "a --from was given"
    loaded = load_campaign(path=targets)
    edits = EditStore(folder=data_folder() / "edits" / loaded.campaign.campaign.id)
    trust = verify_campaign(loaded=loaded, known=KnownKeys(default_store()))
    composer = Composer(
        loaded=loaded,
        sender=sender,
        lang=_lang(config.settings.lang if lang is None else lang),
        only=only,
        copy_me=bool(config.settings.copy_me if copy_me is None else copy_me),
        edits=edits,
        render_seconds=render_seconds,
    )
    return Session(
        config=config,
        loaded=loaded,
        sender=sender,
        placeholder=placeholder,
        composer=composer,
        trust=trust,
    )


def _lang(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if not value.isascii() or not value.isalpha() or not 2 <= len(value) <= 3:
        raise InputError(f"The language {value!r} is not a language code like 'ru' or 'de'.")
    return value


def read_note(*, note: str | None, note_file: Path | None) -> str | None:
    """The sender's own paragraph: from --note or a file, trimmed, bounded."""
    if note is not None and note_file is not None:
        raise InputError("Give your note with --note or with --note-file, not both.")
    if note_file is not None:
        note = _read_bounded(note_file)
    if note is None:
        return None
    note = note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise InputError(
            f"The note is {len(note)} characters long; keep it under {MAX_NOTE_CHARS}."
        )
    return note or None


def _read_bounded(path: Path) -> str:
    """At most one character past the limit, whatever the file is: /dev/zero or a pipe
    that never ends is refused at once instead of filling memory."""
    try:
        with path.open(encoding="utf-8") as file:
            text = file.read(MAX_NOTE_CHARS + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read the note file {path}: {exc}") from None
    if len(text) > MAX_NOTE_CHARS:
        raise InputError(
            f"The note file {path} holds more than {MAX_NOTE_CHARS} characters.",
            hint="Keep your own paragraph short: officials read a sentence or two.",
        )
    return text
