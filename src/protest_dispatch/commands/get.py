"""``protest get``: fetch a campaign, check it, show what changed, then swap it in whole.

The new copy is unpacked beside DIR, loaded, and verified (signature, manifest, the
key first seen for its id) before anything is shown; DIR is replaced only when the
activist agrees, in one atomic exchange on Linux (renameat2), keeping the old copy
as DIR.previous. Any failure before that leaves DIR as it was, and a key seen for
the first time is remembered only when the copy is put in place.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from protest_dispatch.campaign.archive import MAX_BYTES, unpack
from protest_dispatch.campaign.changes import Changes, compare
from protest_dispatch.campaign.loading import LoadedCampaign, load_campaign
from protest_dispatch.campaign.signing import KnownKeys, Trust, default_store, verify_campaign
from protest_dispatch.errors import ArchiveError, InputError, ProtestError
from protest_dispatch.files import read_at_most
from protest_dispatch.net.download import download
from protest_dispatch.net.proxy import Proxy
from protest_dispatch.vocabulary import TrustState

TIMEOUT = 30.0


@dataclass(frozen=True)
class Staged:
    """A verified new copy, unpacked beside the campaign folder, not yet in place."""

    source: str
    folder: Path
    staging: Path
    loaded: LoadedCampaign
    trust: Trust
    files: int
    changes: Changes | None
    """None on a first get into a missing or empty folder."""


def source_of(*, source: str | None, folder: Path) -> str:
    """The archive to fetch: as given, or the campaign's own update_url."""
    if source is not None:
        return source
    targets = folder / "targets.yaml"
    if not targets.is_file():
        raise InputError(
            f"No campaign address given, and {folder} holds no campaign whose update_url "
            "could say where it comes from.",
            hint="protest get URL_OR_FILE [DIR]",
        )
    url = load_campaign(path=targets).campaign.campaign.update_url
    if url is None:
        raise InputError(
            f"{targets} has no campaign.update_url, so protest does not know where updates "
            "come from.",
            hint="Give the address: protest get URL_OR_FILE [DIR]",
        )
    return url


def stage(
    *,
    source: str,
    folder: Path,
    ca_file: Path | None,
    timeout: float = TIMEOUT,
    proxy: Proxy | None = None,
) -> Staged:
    """Fetch, unpack beside ``folder`` and verify; ``proxy`` is the sender's proxy setting.

    With a proxy the download goes through it, and fails closed (exit 75) when it cannot.
    """
    folder = Path(os.path.abspath(folder))  # "." has no name and no parent to stage beside
    old = _existing(folder)
    data = _read(source, ca_file=ca_file, timeout=timeout, proxy=proxy)
    staging = folder.parent / f".{folder.name}.get-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        files = unpack(data=data, into=staging, source=source)
        loaded = load_campaign(path=staging)
        trust = verify_campaign(loaded=loaded, known=KnownKeys(default_store()), remember=False)
        changes = None if old is None else compare(old, loaded)
    except ProtestError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        # Name the files as the archive holds them, not the staging folder.
        exc.message = exc.message.replace(f"{staging}/", f"{source}: ").replace(
            str(staging), source
        )
        exc.args = (exc.message,)
        raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Staged(source, folder, staging, loaded, trust, files, changes)


def _existing(folder: Path) -> LoadedCampaign | None:
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} is a file, not a campaign folder.")
    if not folder.exists() or not any(folder.iterdir()):
        return None
    if not (folder / "targets.yaml").is_file():
        raise InputError(
            f"{folder} is not empty and holds no campaign (no targets.yaml); protest get "
            "replaces only a campaign folder.",
            hint="Name a new folder: protest get URL_OR_FILE DIR",
        )
    try:
        return load_campaign(path=folder)
    except ProtestError:
        return None  # a broken copy: the update is shown as new, and replaces it


def _read(source: str, *, ca_file: Path | None, timeout: float, proxy: Proxy | None) -> bytes:
    if "://" in source:
        return download(
            url=source, ca_file=ca_file, timeout=timeout, max_bytes=MAX_BYTES, proxy=proxy
        ).data
    path = Path(source)
    try:
        data = read_at_most(path, MAX_BYTES)
    except OSError as exc:
        raise ArchiveError(f"Cannot read {path}: {exc.strerror}.", source=source) from None
    if data is None:
        raise ArchiveError(f"{path} is larger than {MAX_BYTES // 2**20} MB.", source=source)
    return data


def discard(staged: Staged) -> None:
    shutil.rmtree(staged.staging, ignore_errors=True)


def apply(staged: Staged) -> Path | None:
    """Put the new copy in place; the old one, if any, becomes DIR.previous (returned).

    A first-seen key is remembered only now, once the activist has accepted the copy.
    """
    previous = _swap(staged)
    trust = staged.trust
    if trust.state is TrustState.FIRST_USE and trust.public_key is not None:
        KnownKeys(default_store()).remember(staged.loaded.campaign.campaign.id, trust.public_key)
    return previous


def _swap(staged: Staged) -> Path | None:
    folder = staged.folder
    previous = folder.with_name(folder.name + ".previous")
    try:
        if not folder.exists():
            os.replace(staged.staging, folder)
            return None
        if previous.exists():
            shutil.rmtree(previous)
        if _exchange(staged.staging, folder):
            os.replace(staged.staging, previous)
        else:
            os.replace(folder, previous)
            try:
                os.replace(staged.staging, folder)
            except OSError:
                os.replace(previous, folder)
                raise
    except OSError as exc:
        discard(staged)
        raise InputError(f"Cannot put the new campaign in {folder}: {exc.strerror}.") from None
    return previous


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EXDEV):
        return False
    raise OSError(code, os.strerror(code))
