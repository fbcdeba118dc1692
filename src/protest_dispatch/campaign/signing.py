"""Signed campaigns: minisign signatures over the MANIFEST, and trust on first use.

py-minisign reads and writes minisign's own key and signature files, so organisers
may sign with the ``minisign`` tool as well; it is imported only when a signature
is made or checked. A signature proves that whoever holds the secret key signed
exactly these files; which key that should be, protest learns the first time a
sender uses the campaign id (as ssh learns a host key) and keeps in the data folder.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from protest_dispatch.campaign import manifest
from protest_dispatch.campaign.fields import shown
from protest_dispatch.campaign.loading import LoadedCampaign
from protest_dispatch.errors import TamperedError, TrustError
from protest_dispatch.files import data_folder, make_private_folder, read_at_most, write_private
from protest_dispatch.vocabulary import TrustState

MAX_SIGNATURE_BYTES = 4096
MAX_STORE_BYTES = 1024 * 1024
KNOWN_KEYS_FILE = "trusted-keys.json"


@dataclass(frozen=True)
class Trust:
    """What the activist can know about where their copy of the campaign came from."""

    state: TrustState
    public_key: str | None
    fingerprint: str
    """SHA-256 of the MANIFEST (signed) or of targets.yaml (unsigned): what was sent under."""
    trusted_comment: str | None = None
    """The signature's trusted comment, control characters escaped."""


def is_signed(folder: Path) -> bool:
    """Whether the campaign in ``folder`` carries a signature (``protest cron`` asks this).

    Only a signed campaign may be updated unattended; every command that reads it
    verifies the signature, so a signature that does not verify stops them anyway.
    """
    return (folder / manifest.SIGNATURE).is_file()


def default_store() -> Path:
    return data_folder() / KNOWN_KEYS_FILE


class KnownKeys:
    """Campaign id -> the public key first seen signing it, in the data folder (mode 600)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, Any]:
        try:
            raw = read_at_most(self.path, MAX_STORE_BYTES)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise TrustError(f"Cannot read {self.path}: {exc.strerror}.", file=self.path) from None
        try:
            data = None if raw is None else json.loads(raw)
        except ValueError:
            data = None
        campaigns = data.get("campaigns") if isinstance(data, dict) else None
        if not isinstance(campaigns, dict):
            raise TrustError(
                f"{self.path}, where protest remembers campaign keys, is damaged.",
                file=self.path,
                hint="Look at it, or move it away: every signed campaign is then trusted anew.",
            )
        return campaigns

    def get(self, campaign_id: str) -> str | None:
        entry = self._read().get(campaign_id)
        key = entry.get("public_key") if isinstance(entry, dict) else None
        return key if isinstance(key, str) else None

    def remember(self, campaign_id: str, public_key: str) -> None:
        campaigns = self._read()
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        campaigns[campaign_id] = {"public_key": public_key, "since": since}
        text = json.dumps({"campaigns": campaigns}, indent=2, sort_keys=True) + "\n"
        try:
            make_private_folder(self.path.parent)
            write_private(self.path, text.encode("utf-8"))
        except OSError as exc:
            raise TrustError(f"Cannot write {self.path}: {exc.strerror}.", file=self.path) from None


def _public_key(text: str, *, where: Path) -> Any:
    import minisign

    try:
        return minisign.PublicKey.from_base64(text)
    except minisign.Error:
        raise TrustError(
            f"{where}: campaign.public_key is not a minisign public key.", file=where
        ) from None


def verify_signature(*, public_key: str, data: bytes, signature: bytes, where: Path) -> str:
    """The signature's trusted comment if ``signature`` is ``public_key``'s over ``data``."""
    import minisign

    key = _public_key(public_key, where=where)
    try:
        parsed = minisign.Signature.from_bytes(signature)
        key.verify(data, parsed)
    except minisign.Error as exc:
        raise TamperedError(
            f"{where} does not verify with the campaign's public key ({exc}): the MANIFEST "
            "or the signature was changed, or another key signed it.",
            file=where,
        ) from None
    return shown(parsed.trusted_comment.replace("\t", "  "))


def verify_campaign(*, loaded: LoadedCampaign, known: KnownKeys, remember: bool = True) -> Trust:
    """Check a campaign's signature and files, and its key against the one first seen.

    Raises TrustError (exit 2, nothing sent) when the copy cannot be trusted. With
    ``remember=False`` a first use is reported but not recorded: ``protest get`` pins
    the key only once the activist accepts the copy, so a copy they turned down (its
    addresses looked wrong) cannot lock out the organiser's real key.
    """
    folder = loaded.path.parent
    campaign_id = loaded.campaign.campaign.id
    public_key = loaded.campaign.campaign.public_key
    remembered = known.get(campaign_id)
    if not is_signed(folder):
        if remembered is not None:
            raise TrustError(
                f"The campaign '{campaign_id}' in {folder} is not signed, but an earlier copy "
                f"was signed by the key {remembered}. This copy may not be the organiser's.",
                file=folder / manifest.SIGNATURE,
                hint="Get the signed campaign from the organiser ('protest get'). If they "
                "really stopped signing, remove the id from " + str(known.path) + ".",
            )
        fingerprint = hashlib.sha256(loaded.path.read_bytes()).hexdigest()
        return Trust(state=TrustState.UNSIGNED, public_key=None, fingerprint=fingerprint)
    signature_path = folder / manifest.SIGNATURE
    if public_key is None:
        raise TrustError(
            f"{signature_path} is there, but targets.yaml has no campaign.public_key to "
            "check it with.",
            file=loaded.path,
            hint="The organiser adds 'public_key: RW...' under 'campaign:' and signs again.",
        )
    data = _bounded(folder / manifest.MANIFEST, manifest.MAX_MANIFEST_BYTES)
    comment = verify_signature(
        public_key=public_key,
        data=data,
        signature=_bounded(signature_path, MAX_SIGNATURE_BYTES),
        where=signature_path,
    )
    listed = manifest.parse(folder, data)
    manifest.verify(folder, listed)
    if loaded.path.name not in listed.entries:  # -t other.yaml beside a signed targets.yaml
        raise TamperedError(
            f"{loaded.path} is not in the signed MANIFEST: it is not the campaign file the "
            "organiser signed.",
            file=loaded.path,
        )
    state = TrustState.SIGNED
    if remembered is None:
        if remember:
            known.remember(campaign_id, public_key)
        state = TrustState.FIRST_USE
    elif remembered != public_key:
        raise TrustError(
            f"The campaign '{campaign_id}' is signed by the key {public_key}, but you first "
            f"used it signed by {remembered}. Someone may have swapped the campaign.",
            file=loaded.path,
            hint="Ask the organiser, by a channel you trust, whether they changed keys. Only "
            f"then accept the new key: protest trust {campaign_id} --key {public_key}",
        )
    return Trust(
        state=state,
        public_key=public_key,
        fingerprint=hashlib.sha256(data).hexdigest(),
        trusted_comment=comment,
    )


def _bounded(path: Path, limit: int) -> bytes:
    try:
        data = read_at_most(path, limit)
    except FileNotFoundError:
        raise TamperedError(f"{path} is missing, but the campaign is signed.", file=path) from None
    except OSError as exc:
        raise TamperedError(f"Cannot read {path}: {exc.strerror}.", file=path) from None
    if data is None:
        raise TamperedError(f"{path} is larger than {limit:,} bytes.", file=path)
    return data


def trusted_comment(campaign_id: str) -> str:
    return f"timestamp:{int(time.time())}\tfile:{manifest.MANIFEST}\tcampaign:{campaign_id}"
