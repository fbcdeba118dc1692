"""``protest trust ID --key KEY``: accept a campaign's new signing key on purpose."""

from __future__ import annotations

from dataclasses import dataclass

from protest_dispatch.campaign.fields import public_key_text
from protest_dispatch.campaign.signing import KnownKeys
from protest_dispatch.errors import InputError


@dataclass(frozen=True)
class KeyChange:
    campaign_id: str
    old: str | None
    new: str


def planned_change(*, campaign_id: str, key: str, known: KnownKeys) -> KeyChange:
    try:
        public_key_text(key.strip())
    except ValueError as exc:
        raise InputError(f"--key {key!r} {exc}.") from None
    return KeyChange(campaign_id=campaign_id, old=known.get(campaign_id), new=key.strip())


def accept(*, change: KeyChange, known: KnownKeys) -> None:
    known.remember(change.campaign_id, change.new)
