"""Read the new messages of a few folders, header first, and find what concerns letters.

Per account and folder the send log remembers UIDVALIDITY and the highest UID
read; the next run asks the server (``UID SEARCH``) only for newer messages since
the first letter was sent, and a changed UIDVALIDITY means "start again" (findings
are de-duplicated, so a rescan records nothing twice). Headers are fetched in
batches; the whole message only of those that may concern a letter, and at most
:data:`MAX_FETCH` bytes of it. Memory stays flat however big the folder.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, TypeVar

from protest_dispatch.inbox.classify import HEADER_FIELDS, Headers, parse, read_headers
from protest_dispatch.inbox.match import Incoming, match, needs_body
from protest_dispatch.sendlog.findings import Finding, FindingLog, MailboxState
from protest_dispatch.sendlog.store import Entry

if TYPE_CHECKING:
    from imapclient import IMAPClient

HEADER_BATCH = 1000
BODY_BATCH = 20
MAX_FETCH = 2 * 1024 * 1024
"""Bytes of one message fetched at most: enough for any reply's text and a bounce's report."""
_T = TypeVar("_T")
_HEADER_ITEM = f"BODY.PEEK[HEADER.FIELDS ({' '.join(HEADER_FIELDS)})]"


@dataclass
class FolderScan:
    folder: str
    searched: int = 0
    """Messages the server's search returned (new since the last run)."""
    fetched: int = 0
    """Messages fetched whole because they may concern a letter."""
    rescanned: bool = False
    """UIDVALIDITY changed since the last run: the folder was read from the start."""


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    """Findings recorded by this run (not those recorded before)."""
    warnings: list[str] = field(default_factory=list)
    folders: list[FolderScan] = field(default_factory=list)


def default_folders(client: IMAPClient) -> list[str]:
    """INBOX and the folder SPECIAL-USE marks ``\\Junk``, where bounces often land."""
    from imapclient.exceptions import IMAPClientError

    folders = ["INBOX"]
    try:
        junk = client.find_special_folder(b"\\Junk")
    except IMAPClientError:
        junk = None
    if junk and junk not in folders:
        folders.append(junk)
    return folders


def scan(
    client: IMAPClient,
    *,
    account: str,
    folders: Sequence[str],
    findings: FindingLog,
    letters: Mapping[str, Entry],
    sender: str,
    since: date | None,
) -> ScanResult:
    """Scan each folder; record what concerns letters and move each folder's bookmark."""
    result = ScanResult()
    for folder in folders:
        outcome = _scan_folder(
            client,
            account=account,
            folder=folder,
            findings=findings,
            letters=letters,
            sender=sender,
            since=since,
        )
        if isinstance(outcome, str):
            result.warnings.append(outcome)
            continue
        scanned, new, warnings = outcome
        result.folders.append(scanned)
        result.findings.extend(new)
        result.warnings.extend(warnings)
    return result


def _scan_folder(
    client: IMAPClient,
    *,
    account: str,
    folder: str,
    findings: FindingLog,
    letters: Mapping[str, Entry],
    sender: str,
    since: date | None,
) -> tuple[FolderScan, list[Finding], list[str]] | str:
    from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

    try:
        info = client.select_folder(folder, readonly=True)  # EXAMINE: never changes a flag
    except IMAPClientAbortError:
        raise
    except IMAPClientError as exc:
        return f"Skipped the folder {folder!r}: the server would not open it ({exc})."
    uidvalidity = int(info.get(b"UIDVALIDITY", 0))
    uidnext = int(info.get(b"UIDNEXT", 1))
    state = findings.mailbox_state(account=account, folder=folder)
    scanned = FolderScan(folder=folder)
    start = 1
    if state is not None and state.uidvalidity == uidvalidity:
        start = state.last_uid + 1
    else:
        scanned.rescanned = state is not None
    criteria: list[object] = ["UID", f"{start}:*"]
    if since is not None:
        criteria += ["SINCE", since]
    uids = sorted(uid for uid in client.search(criteria) if uid >= start)
    scanned.searched = len(uids)
    new: list[Finding] = []
    warnings: list[str] = []
    for wanted in _batched(_candidates(client, uids, letters=letters, sender=sender), BODY_BATCH):
        scanned.fetched += len(wanted)
        matched, problems = _read_whole(
            client, wanted, account=account, folder=folder, uidvalidity=uidvalidity,
            letters=letters, sender=sender,
        )  # fmt: skip
        new.extend(findings.record(matched))
        warnings.extend(problems)
    last = max(uidnext - 1, uids[-1] if uids else 0, start - 1)
    if state is None or (uidvalidity, last) != (state.uidvalidity, state.last_uid):
        findings.save_mailbox_state(
            account=account, folder=folder, state=MailboxState(uidvalidity, last)
        )
    return scanned, new, warnings


def _candidates(
    client: IMAPClient, uids: list[int], *, letters: Mapping[str, Entry], sender: str
) -> Iterator[tuple[int, Headers, datetime]]:
    """(uid, header, arrival) of the messages that may concern a letter, batch by batch."""
    for batch in _batched(uids, HEADER_BATCH):
        data = client.fetch(batch, [_HEADER_ITEM, "INTERNALDATE"])
        for uid in batch:
            item = data.get(uid)
            if item is None:
                continue  # expunged since the search
            raw = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER")), b"")
            headers = read_headers(raw if isinstance(raw, bytes) else b"")
            if needs_body(headers, letters=letters, sender=sender):
                yield uid, headers, _arrival(item.get(b"INTERNALDATE"))


def _read_whole(
    client: IMAPClient,
    wanted: list[tuple[int, Headers, datetime]],
    *,
    account: str,
    folder: str,
    uidvalidity: int,
    letters: Mapping[str, Entry],
    sender: str,
) -> tuple[list[Finding], list[str]]:
    data = client.fetch([uid for uid, _, _ in wanted], [f"BODY.PEEK[]<0.{MAX_FETCH}>"])
    found: list[Finding] = []
    problems: list[str] = []
    for uid, headers, arrived in wanted:
        item = data.get(uid, {})
        raw = next((v for k, v in item.items() if k.startswith(b"BODY[]")), None)
        if not isinstance(raw, bytes):
            continue
        place = f"{account}/{folder}/{uidvalidity}/{uid}"
        source = headers.message_id.lower() if headers.message_id else place
        incoming = Incoming(headers=headers, source=source, received=arrived)
        try:
            matched = match(incoming, parse(raw), letters=letters, sender=sender)
        except Exception as exc:  # hostile mail must cost one line, not the run
            problems.append(
                f"Skipped message {uid} in {folder!r}: it could not be read ({type(exc).__name__})."
            )
            continue
        found.extend(matched.findings)
        problems.extend(matched.warnings)
    return found, problems


def _arrival(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


def _batched(items: Sequence[_T] | Iterator[_T], size: int) -> Iterator[list[_T]]:
    batch: list[_T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
