"""``protest inbox``: read the sender's mailbox and record what came of each letter.

It prints nothing: the CLI shows the :class:`InboxReport`. Nothing is read when
the send log has no letter from this sender (there is nothing to match).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from protest_dispatch.commands.log_access import log_path
from protest_dispatch.errors import NoSenderError
from protest_dispatch.inbox.scan import FolderScan, default_folders, scan
from protest_dispatch.inbox.session import open_mailbox
from protest_dispatch.inbox.signin import with_sign_in
from protest_dispatch.masking import Masker
from protest_dispatch.sendlog.findings import Finding, FindingLog
from protest_dispatch.sendlog.store import Entry, SendLog, parse_time
from protest_dispatch.settings.config import Config
from protest_dispatch.settings.imap import imap_settings
from protest_dispatch.vocabulary import FindingKind, LetterStatus

ATTENTION = frozenset({FindingKind.BOUNCED, FindingKind.COPY_BOUNCED, FindingKind.REPLY})
"""What ``inbox -q`` still prints: an address to fix, or an official's answer to read."""


@dataclass(frozen=True)
class InboxRequest:
    campaign: str | None = None
    folders: tuple[str, ...] = ()
    log: Path | None = None
    config_path: Path | None = None
    proxy: str | None = None


@dataclass
class InboxReport:
    account: str
    new: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    folders: list[FolderScan] = field(default_factory=list)
    letters: int = 0
    """Letters in the send log the mailbox was searched for."""
    to: dict[str, str] = field(default_factory=dict)
    """Letter Message-ID -> its To address, to show whom each finding is about."""

    @property
    def needs_attention(self) -> list[Finding]:
        return [f for f in self.new if f.kind in ATTENTION]


def run(request: InboxRequest) -> InboxReport:
    """Connect, scan, record; the report lists only findings new to the send log."""
    config = Config.load(path=request.config_path).with_options(proxy=request.proxy)
    sender = config.sender()
    if sender is None:
        raise NoSenderError(so="protest cannot tell which mailbox is yours")
    settings = with_sign_in(imap_settings(config, sender_email=sender.email), config)
    account = f"{settings.username}@{settings.host}:{settings.port}"
    bookmark = account if request.campaign is None else f"{account}#{request.campaign}"
    report = InboxReport(account=account)
    path = log_path(log=request.log, config=config)
    if not path.exists():
        return report  # nothing sent yet, nothing to look for; the log is not created
    with SendLog.open(path=path) as log:
        findings = FindingLog(log)
        letters = {
            key: entry
            for key, entry in findings.letters_by_message_id(sender=sender.email).items()
            if request.campaign in (None, entry.campaign) and entry.status != LetterStatus.SENDING
        }
        report.letters = len(letters)
        report.to = {entry.message_id or "": entry.to for entry in letters.values()}
        if not letters:
            return report
        mask = Masker()  # the server's words in warnings may repeat the password
        with open_mailbox(settings, mask=mask) as client:
            folders = list(request.folders) or default_folders(client)
            result = scan(
                client,
                account=bookmark,
                folders=folders,
                findings=findings,
                letters=letters,
                sender=sender.email,
                since=_since(letters.values()),
            )
    report.new, report.folders = result.findings, result.folders
    report.warnings = [mask(warning) for warning in result.warnings]
    return report


def _since(letters: Iterable[Entry]) -> date | None:
    """The day before the first letter: IMAP SINCE has day precision and no time zone."""
    times = [parse_time(entry.updated_at) for entry in letters]
    return (min(times).date() - timedelta(days=1)) if times else None
