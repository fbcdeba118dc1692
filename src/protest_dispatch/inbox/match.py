"""Tie an incoming message to the letter it is about, or to none.

A finding counts only if it names a Message-ID this send log generated, and a
bounce only if the failed address was a recipient of that letter: anyone can mail
the activist a fake bounce, and a fake must change nothing. One incoming message
makes at most one finding per letter; a bounce wins over an automatic reply (a
Postfix bounce carries ``Auto-Submitted: auto-replied`` too).

Only a failure is a bounce: an RFC 3464 report counts for a recipient whose Action
is ``failed``; ``delayed`` is a delay, ``delivered`` a delivery, ``relayed`` and
``expanded`` nothing. A read receipt (RFC 8098) is nothing. Addresses are compared
as whole mailboxes (``protest_dispatch.addresses.mailbox``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from protest_dispatch.addresses import mailbox, same_mailbox
from protest_dispatch.inbox.classify import (
    Bounce,
    Headers,
    RecipientReport,
    read_bounce,
    read_reply,
    reports_in_notice,
)
from protest_dispatch.inbox.text import first_lines
from protest_dispatch.sendlog.findings import Finding
from protest_dispatch.sendlog.store import Entry, format_time
from protest_dispatch.vocabulary import DsnAction, FindingKind

_RANK = {
    FindingKind.BOUNCED: 4,
    FindingKind.COPY_BOUNCED: 3,
    FindingKind.DELAYED: 2,
    FindingKind.DELIVERED: 1,
}
_SKEW = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""A message's Date outside [1970, arrival + a day] is no date: its arrival time is used
(a year 254 or 9999 would also sort and print wrongly)."""


@dataclass
class Matched:
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Incoming:
    """One message as the scan knows it: where it is, its header, and its parsed whole."""

    headers: Headers
    source: str
    received: datetime


def needs_body(headers: Headers, *, letters: Mapping[str, Entry], sender: str) -> bool:
    """Whether the whole message must be fetched to know what it says about a letter.

    An automatic reply that is not a bounce is known from its header alone.
    """
    if headers.bounce_like:
        return True
    return not headers.automatic and refers_to_letter(headers, letters=letters, sender=sender)


def refers_to_letter(headers: Headers, *, letters: Mapping[str, Entry], sender: str) -> bool:
    return not same_mailbox(headers.from_address or "", sender) and any(
        ref in letters for ref in headers.refers_to
    )


def match(
    incoming: Incoming, msg: EmailMessage | None, *, letters: Mapping[str, Entry], sender: str
) -> Matched:
    """The findings a message makes on letters of this log (``msg``: its parsed whole,
    or None when the header is enough, see :func:`needs_body`)."""
    headers = incoming.headers
    if headers.bounce_like and msg is not None:
        bounce = read_bounce(msg, headers=headers)
        if bounce.read_notice:
            return Matched()
        if bounce.reports or any(i in letters for i in bounce.letter_ids):
            return _bounce_findings(incoming, bounce, letters=letters)
    if not refers_to_letter(headers, letters=letters, sender=sender):
        return Matched()
    entry = next(letters[ref] for ref in headers.refers_to if ref in letters)
    kind = FindingKind.AUTO_REPLY if headers.automatic else FindingKind.REPLY
    text = read_reply(msg).text if kind == FindingKind.REPLY and msg is not None else None
    finding = _finding(
        incoming,
        entry,
        kind=kind,
        recipient=headers.from_address,
        diagnostic=first_lines(text) if text else None,
        body=text,
    )
    return Matched(findings=[finding])


def _bounce_findings(
    incoming: Incoming, bounce: Bounce, *, letters: Mapping[str, Entry]
) -> Matched:
    result = Matched()
    for letter_id in bounce.letter_ids:
        entry = letters.get(letter_id)
        if entry is None:
            continue
        recipients = (entry.to, *entry.cc)
        wanted = {mailbox(address) for address in recipients}
        reports = [r for r in bounce.reports if mailbox(r.address) in wanted] or (
            [] if bounce.reports else reports_in_notice(bounce, recipients)
        )
        if not reports:
            result.warnings.append(
                f"Ignored a bounce about your letter to {entry.target} ({entry.campaign}): "
                "it names no address that letter went to, so it may be forged."
            )
            continue
        kinds = [(kind, r) for r in reports if (kind := _kind(r, entry)) is not None]
        if not kinds:
            continue  # relayed or expanded: the report says nothing about arrival
        kind, report = max(kinds, key=lambda pair: _RANK[pair[0]])
        result.findings.append(
            _finding(
                incoming,
                entry,
                kind=kind,
                recipient=report.address,
                status=report.status,
                diagnostic=report.diagnostic,
            )
        )
    return result


def _kind(report: RecipientReport, entry: Entry) -> FindingKind | None:
    if report.action == DsnAction.DELAYED:
        return FindingKind.DELAYED
    if report.action == DsnAction.DELIVERED:
        return FindingKind.DELIVERED
    if report.action != DsnAction.FAILED:
        return None
    if same_mailbox(report.address, entry.to):
        return FindingKind.BOUNCED
    return FindingKind.COPY_BOUNCED


def _finding(
    incoming: Incoming,
    entry: Entry,
    *,
    kind: FindingKind,
    recipient: str | None,
    status: str | None = None,
    diagnostic: str | None = None,
    body: str | None = None,
) -> Finding:
    assert entry.message_id is not None, "letters are matched by their Message-ID"
    headers = incoming.headers
    date = headers.date
    when = date if date is not None and _EPOCH <= date <= incoming.received + _SKEW else None
    return Finding(
        campaign=entry.campaign,
        target=entry.target,
        sender=entry.sender,
        letter_id=entry.message_id,
        kind=kind,
        at=format_time((when or incoming.received).astimezone(UTC)),
        source=incoming.source,
        recipient=recipient,
        status=status,
        diagnostic=diagnostic,
        from_=headers.from_address,
        subject=headers.subject[:300] or None,
        body=body,
    )
