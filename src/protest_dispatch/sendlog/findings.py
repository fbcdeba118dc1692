"""What came of each letter: bounces, auto-replies, replies and the sender's own answers.

One row per incoming message (or per ``followup`` answer), tied to the letter it is
about by the letter's Message-ID. A letter sent again (to a corrected address) has a
new Message-ID and so starts with no findings: what came of the old letter never
speaks for the new one. (campaign, target, sender) only say whose letter. Rows are only ever
added; ``record`` ignores a finding whose source (the incoming Message-ID, or the
mailbox place) is already recorded for that letter, so reading a mailbox twice
records nothing twice. The table lives in the send log's file (schema version 2).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from protest_dispatch.addresses import same_mailbox
from protest_dispatch.sendlog.earlier import keep_earlier
from protest_dispatch.sendlog.logfile import select
from protest_dispatch.sendlog.store import Entry, SendLog, format_time, parse_time, utc_now
from protest_dispatch.vocabulary import FindingKind

_COLUMNS = (
    "campaign, target, sender, letter_id, kind, recipient, status, diagnostic, at,"
    " from_addr, subject, body, source"
)
BODY_LIMIT = 100_000
"""Characters of a reply's text kept for ``protest replies --show``."""


@dataclass(frozen=True)
class Finding:
    """One thing that came of a letter."""

    campaign: str
    target: str
    sender: str
    letter_id: str
    """The letter's Message-ID (as the send log stores it, with angle brackets)."""
    kind: FindingKind
    at: str
    """When it happened (the incoming mail's date, or when the sender answered), UTC."""
    source: str
    recipient: str | None = None
    status: str | None = None
    diagnostic: str | None = None
    from_: str | None = None
    subject: str | None = None
    body: str | None = None

    @property
    def letter_key(self) -> str:
        return letter_key(self.letter_id)

    @property
    def permanent_bounce(self) -> bool:
        """A bounce of the To address that waiting will not fix (5.x.x, or no code given)."""
        return self.kind == FindingKind.BOUNCED and not (self.status or "").startswith("4")

    def event(self) -> dict[str, object]:
        """The finding as one entry of ``log --json``'s ``events`` array."""
        return {
            "kind": self.kind.value,
            "recipient": self.recipient,
            "status": self.status,
            "diagnostic": self.diagnostic,
            "at": format_time(parse_time(self.at)),
            "from": self.from_,
            "subject": self.subject,
        }


def letter_key(message_id: str) -> str:
    """The key of one letter's findings: its Message-ID, compared ignoring case as IDs are."""
    return message_id.lower()


@dataclass(frozen=True)
class LetterFindings:
    """Findings grouped by letter (Message-ID), each list in the order recorded."""

    grouped: Mapping[str, list[Finding]] = field(default_factory=dict)

    def of(self, entry: Entry) -> list[Finding]:
        """What came of this letter; nothing for one not (yet again) handed to a server."""
        if entry.message_id is None:
            return []
        return self.grouped.get(letter_key(entry.message_id), [])


@dataclass(frozen=True)
class MailboxState:
    uidvalidity: int
    last_uid: int


class FindingLog:
    """The findings table of an open send log."""

    def __init__(self, log: SendLog) -> None:
        self._log = log

    def _table_present(self) -> bool:
        return self._log.has_table("findings", action="read what came of letters")

    def record(self, findings: Iterable[Finding]) -> list[Finding]:
        """Add the findings not recorded yet, in one transaction; return those added."""
        added: list[Finding] = []
        now = utc_now()
        with self._log.writing("record what came of letters") as conn:
            for f in findings:
                cursor = conn.execute(
                    f"INSERT OR IGNORE INTO findings ({_COLUMNS}, recorded_at)"  # noqa: S608 - fixed column names; values are bound
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        f.campaign,
                        f.target,
                        f.sender,
                        f.letter_id,
                        f.kind.value,
                        f.recipient,
                        f.status,
                        f.diagnostic,
                        f.at,
                        f.from_,
                        f.subject,
                        None if f.body is None else f.body[:BODY_LIMIT],
                        f.source,
                        now,
                    ),
                )
                if cursor.rowcount == 1:
                    added.append(f)
        return added

    def all(self, *, campaign: str | None = None, sender: str | None = None) -> list[Finding]:
        """Every finding (optionally of one campaign or sender), oldest recorded first."""
        if not self._table_present():
            return []
        with self._log.reading("read what came of letters") as conn:
            rows = select(
                conn,
                columns=_COLUMNS,
                table="findings",
                order="id",
                campaign=campaign,
                sender=sender,
            )
        return [_finding(row) for row in rows]

    def by_letter(
        self, *, campaign: str | None = None, sender: str | None = None
    ) -> LetterFindings:
        """Findings grouped by letter, each list in the order they were recorded."""
        grouped: dict[str, list[Finding]] = {}
        for finding in self.all(campaign=campaign, sender=sender):
            grouped.setdefault(finding.letter_key, []).append(finding)
        return LetterFindings(grouped)

    def replies(self) -> list[Finding]:
        """Every reply found in the mailbox; ``protest replies`` numbers them from 1 in order."""
        return [
            f
            for f in self.all()
            if f.kind == FindingKind.REPLY and not f.source.startswith(FOLLOWUP_SOURCE)
        ]

    def bounce_of(self, entry: Entry) -> Finding | None:
        """The permanent bounce of this letter's To address that still stands, if any."""
        mine = self.by_letter(campaign=entry.campaign, sender=entry.sender).of(entry)
        return standing_bounce(mine, to=entry.to)

    def reopen(self, entry: Entry, *, bounce: Finding) -> None:
        """Let a bounced letter be sent again: 'sent' becomes 'failed', with the reason."""
        reason = f"bounced: {bounce.recipient} {bounce.status or ''} {bounce.diagnostic or ''}"
        with self._log.writing("reopen a bounced letter") as conn:
            keep_earlier(conn, campaign=entry.campaign, target=entry.target, sender=entry.sender)
            conn.execute(
                "UPDATE letters SET status = 'failed', error = ?, message_id = NULL,"
                " updated_at = ? WHERE campaign = ? AND target = ? AND sender = ?"
                " AND status = 'sent' AND message_id = ?",
                (
                    " ".join(reason.split())[:500],
                    utc_now(),
                    entry.campaign,
                    entry.target,
                    entry.sender,
                    entry.message_id,
                ),
            )

    def letters_by_message_id(self, *, sender: str | None = None) -> dict[str, Entry]:
        """Every letter with a Message-ID, keyed by it in lower case (IDs are compared so),
        the letters a resend replaced included: the official may answer the first one."""
        entries = self._log.entries(sender=sender, earlier=True) + self._log.entries(sender=sender)
        return {e.message_id.lower(): e for e in entries if e.message_id}

    def first_letter_time(self, *, sender: str | None = None) -> datetime | None:
        times = [parse_time(e.updated_at) for e in self._log.entries(sender=sender)]
        return min(times) if times else None

    def mailbox_state(self, *, account: str, folder: str) -> MailboxState | None:
        if not self._table_present():
            return None
        with self._log.reading("read the mailbox bookmark") as conn:
            row = conn.execute(
                "SELECT uidvalidity, last_uid FROM mailbox_state WHERE account = ? AND folder = ?",
                (account, folder),
            ).fetchone()
        return None if row is None else MailboxState(int(row[0]), int(row[1]))

    def save_mailbox_state(self, *, account: str, folder: str, state: MailboxState) -> None:
        with self._log.writing("save the mailbox bookmark") as conn:
            conn.execute(
                "INSERT INTO mailbox_state (account, folder, uidvalidity, last_uid)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (account, folder) DO UPDATE SET"
                " uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid",
                (account, folder, state.uidvalidity, state.last_uid),
            )


FOLLOWUP_SOURCE = "followup:"
"""Source prefix of the sender's own answers to ``protest followup``."""


def followup_finding(
    *,
    campaign: str,
    target: str,
    sender: str,
    letter_id: str,
    kind: FindingKind,
    at: datetime,
) -> Finding:
    """The sender's answer to "Did <official> reply?" as a finding on the letter.

    ``letter_id`` is the email's Message-ID, or ``post:`` and the day a letter on
    paper was posted.
    """
    return Finding(
        campaign=campaign,
        target=target,
        sender=sender,
        letter_id=letter_id,
        kind=kind,
        at=format_time(at),
        source=f"{FOLLOWUP_SOURCE}{letter_id}",
    )


def standing_bounce(findings: Iterable[Finding], *, to: str) -> Finding | None:
    """The latest permanent bounce among one letter's ``findings`` (in the order recorded),
    unless a delivery report for ``to`` was recorded after it: then the letter arrived, and
    neither ``send`` nor ``--retry-bounced`` nor ``status --bounced`` may treat it as
    bounced until a later failure report names that address again."""
    bounce: Finding | None = None
    for f in findings:
        if f.permanent_bounce:
            bounce = f
        elif f.kind == FindingKind.DELIVERED and same_mailbox(f.recipient or "", to):
            bounce = None
    return bounce


def latest(findings: Sequence[Finding]) -> Finding | None:
    """The finding that says most about a letter now: the last one recorded."""
    return findings[-1] if findings else None


def _finding(row: Sequence[object]) -> Finding:
    def opt(value: object) -> str | None:
        return None if value is None else str(value)

    return Finding(
        campaign=str(row[0]),
        target=str(row[1]),
        sender=str(row[2]),
        letter_id=str(row[3]),
        kind=FindingKind(str(row[4])),
        recipient=opt(row[5]),
        status=opt(row[6]),
        diagnostic=opt(row[7]),
        at=str(row[8]),
        from_=opt(row[9]),
        subject=opt(row[10]),
        body=opt(row[11]),
        source=str(row[12]),
    )
