"""Read the new messages of a few folders, header first, and find what concerns letters.

Per account and folder the send log remembers UIDVALIDITY and the highest UID
read; the next run asks the server (``UID SEARCH``) only for newer messages since
the first letter was sent, and a changed UIDVALIDITY means "start again" (findings
are de-duplicated, so a rescan records nothing twice). Headers are fetched in
batches; the whole message only of those that may concern a letter, and at most
:data:`MAX_FETCH` bytes of it. Memory stays flat however big the folder.

One message never stops the reader: everything read from a message (its header
fields, dates, addresses, MIME structure, charsets) is read inside a per-message
guard. A message that cannot be read costs one warning naming its folder and UID;
the bookmark moves past it like past any other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from protest_dispatch.inbox.classify import HEADER_FIELDS, Headers, parse, read_headers
from protest_dispatch.inbox.match import Incoming, Matched, match, needs_body, refers_to_letter
from protest_dispatch.inbox.wire import BadAnswer, number, oversized
from protest_dispatch.sendlog.findings import Finding, FindingLog, MailboxState
from protest_dispatch.sendlog.store import Entry

if TYPE_CHECKING:
    from imapclient import IMAPClient

HEADER_BATCH = 500
BODY_BATCH = 20
MAX_FETCH = 2 * 1024 * 1024
"""Bytes of one message fetched at most: enough for any reply's text and a bounce's report."""
MAX_HEADER = 64 * 1024
"""Bytes of a message's few header fields fetched at most."""
_T = TypeVar("_T")
_Candidate = tuple[int, Headers, datetime]
_HEADER_ITEM = f"BODY.PEEK[HEADER.FIELDS ({' '.join(HEADER_FIELDS)})]<0.{MAX_HEADER}>"


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
    uidvalidity = number(info.get(b"UIDVALIDITY"), name="UIDVALIDITY")
    uidnext = info.get(b"UIDNEXT")  # optional in IMAP4rev1; checked before anything is read
    following = number(uidnext, name="UIDNEXT") if uidnext is not None else 1
    state = findings.mailbox_state(account=account, folder=folder)
    scanned = FolderScan(folder=folder)
    start = 1
    if state is not None and state.uidvalidity == uidvalidity:
        start = state.last_uid + 1
    else:
        scanned.rescanned = state is not None
    found = client.search(search_criteria(start, since, letters))
    uids = sorted(u for u in (number(u, name="UID") for u in found) if u >= start)
    scanned.searched = len(uids)
    reader = _Reader(client, folder=folder, letters=letters, sender=sender)
    new: list[Finding] = []
    for batch in _batched(reader.candidates(uids), BODY_BATCH):
        matched = reader.read(batch)
        scanned.fetched += reader.fetched
        new.extend(findings.record(matched))
    last = max(following - 1, uids[-1] if uids else 0, start - 1)
    if state is None or (uidvalidity, last) != (state.uidvalidity, state.last_uid):
        findings.save_mailbox_state(
            account=account, folder=folder, state=MailboxState(uidvalidity, last)
        )
    return scanned, new, reader.warnings


BOUNCE_TERMS: tuple[tuple[str, ...], ...] = (
    ("FROM", "mailer-daemon"),
    ("FROM", "postmaster"),
    ("FROM", "mail-delivery-subsystem"),
    ("HEADER", "Content-Type", "report"),
    ("HEADER", "X-Failed-Recipients", "@"),
    ("SUBJECT", "undeliver"),
    ("SUBJECT", "delivery"),
    ("SUBJECT", "failure"),
    ("SUBJECT", "returned mail"),
)
"""What a bounce looks like to the server's SEARCH: the daemons, the report, the words."""


def search_criteria(start: int, since: date | None, letters: Mapping[str, Entry]) -> list[object]:
    """Only new messages that answer one of our Message-ID domains or look like a bounce.

    The server does the first cut (its header index is fast); what comes back is still
    checked message by message. Message-IDs are made in the sender's own domain, so
    ``@domain>`` in In-Reply-To or References picks the answers to letters.
    """
    domains = sorted({key.rpartition("@")[2] for key in letters})
    terms: list[tuple[str, ...]] = [
        ("HEADER", field, f"@{domain}")
        for domain in domains
        for field in ("In-Reply-To", "References")
    ]
    terms += BOUNCE_TERMS
    criteria: list[object] = ["UID", f"{start}:*"]
    if since is not None and start == 1:  # later runs: the UID range is the narrower cut
        criteria += ["SINCE", since]
    for term in terms[:-1]:
        criteria += ["OR", *term]
    criteria += list(terms[-1])
    return criteria


class _Reader:
    """Reads one open folder: headers in batches, whole messages only where needed."""

    def __init__(
        self,
        client: IMAPClient,
        *,
        folder: str,
        letters: Mapping[str, Entry],
        sender: str,
    ) -> None:
        self._client = client
        self._folder = folder
        self._letters = letters
        self._sender = sender
        self.warnings: list[str] = []
        self.fetched = 0
        """Messages fetched whole by the last ``read``."""

    def candidates(self, uids: list[int]) -> Iterator[_Candidate]:
        """The messages whose header says they may concern a letter, batch by batch."""
        for batch in _batched(uids, HEADER_BATCH):
            data = self._client.fetch(batch, [_HEADER_ITEM, "INTERNALDATE"])
            for uid in batch:
                item = data.get(uid)
                if item is None:
                    continue  # expunged since the search
                raw = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER")), b"")
                headers = self._guarded(uid, partial(self._header, raw))
                if headers is None:
                    continue
                if self._needs_body(headers) or refers_to_letter(
                    headers, letters=self._letters, sender=self._sender
                ):
                    yield uid, headers, _arrival(item.get(b"INTERNALDATE"))

    def _header(self, raw: object) -> Headers:
        size = oversized(raw)
        if size is not None:
            raise _TooLarge(size)
        return read_headers(raw if isinstance(raw, bytes) else b"")

    def read(self, batch: list[_Candidate]) -> list[Finding]:
        """Findings of a batch: from the header where it suffices, else the whole message."""
        whole = [c for c in batch if self._needs_body(c[1])]
        self.fetched = len(whole)
        raw = self._fetch_whole([uid for uid, _, _ in whole]) if whole else {}
        found: list[Finding] = []
        for uid, headers, arrived in batch:
            incoming = Incoming(headers=headers, source=headers.identity, received=arrived)
            needed = self._needs_body(headers)
            matched = self._guarded(
                uid, partial(self._match, incoming, raw.get(uid), needed=needed)
            )
            if matched is not None:
                self.warnings.extend(matched.warnings)
                found.extend(matched.findings)
        return found

    def _needs_body(self, headers: Headers) -> bool:
        return needs_body(headers, letters=self._letters, sender=self._sender)

    def _fetch_whole(self, uids: list[int]) -> dict[int, bytes]:
        data = self._client.fetch(uids, [f"BODY.PEEK[]<0.{MAX_FETCH}>"])
        whole: dict[int, bytes] = {}
        for uid, item in data.items():
            raw = next((v for k, v in item.items() if k.startswith(b"BODY[]")), None)
            if isinstance(raw, bytes):
                whole[uid] = raw
        return whole

    def _match(self, incoming: Incoming, raw: bytes | None, *, needed: bool) -> Matched:
        size = oversized(raw)
        if size is not None:
            raise _TooLarge(size)
        msg = parse(raw) if raw is not None else None
        if needed and msg is None:
            return Matched()
        return match(incoming, msg, letters=self._letters, sender=self._sender)

    def _guarded(self, uid: int, read: Callable[[], _T]) -> _T | None:
        """``read()``, or None and one warning line if the message defeats it."""
        try:
            return read()
        except _TooLarge as exc:
            why = f"the server sent {exc.size:,} bytes for it, more than the {MAX_FETCH:,} read"
        except BadAnswer:
            raise  # the server's fault, not the message's
        except Exception as exc:  # hostile mail must cost one line, not the run
            why = f"it could not be read ({type(exc).__name__})"
        self.warnings.append(f"Skipped message {uid} in {self._folder!r}: {why}.")
        return None


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


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
