"""How ``protest validate`` looks: the campaign's table, its notices, dates and domains."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from protest_dispatch.addresses import same_mailbox
from protest_dispatch.campaign.placeholders import placeholder_addresses
from protest_dispatch.cli import output, own, timing
from protest_dispatch.cli.views.send.notices import notices
from protest_dispatch.cli.views.send.preview import size_text

if TYPE_CHECKING:
    from protest_dispatch.campaign.compose import Checked
    from protest_dispatch.commands.domains import DomainReport
    from protest_dispatch.commands.session import Session

TABLE_ROWS = 100
PLACEHOLDERS_SHOWN = 20


def validation(
    session: Session,
    *,
    letters: Sequence[Checked],
    paper: Sequence[Checked] = (),
    show_all: bool = False,
    domains: DomainReport | None = None,
) -> None:
    audience = session.composer.audience
    rows = [
        (
            c.target,
            "email",
            _recipients(session, c.recipients),
            "your version" if c.edited else c.template,
            f"{c.own.own_share:.0%}",
        )
        for c in letters
    ]
    addresses = {s.target.id: s.target.postal_address or "" for s in audience.paper}
    for checked in paper:
        first_line = addresses.get(checked.target, "").partition("\n")[0]
        rows.append(
            (
                checked.target,
                "post",
                f"{first_line}, ...",
                "your version" if checked.edited else checked.template,
                f"{checked.own.own_share:.0%}",
            )
        )
    for selected in audience.calls:
        rows.append(
            (
                selected.target.id,
                "call",
                selected.target.phone or "",
                selected.target.call_script or "",
                "",
            )
        )
    for target in (*audience.needs_country, *audience.other_countries):
        rows.append((target.id, f"skipped (only for senders in {target.country})", "", "", ""))
    shown = rows if show_all else rows[:TABLE_ROWS]
    output.show(
        output.table(
            f"Campaign {session.campaign_id}",
            ("target", "channel", "recipients", "template", "own"),
            shown,
        )
    )
    if len(shown) < len(rows):
        output.info(
            f"... and {len(rows) - len(shown)} more targets ('protest validate --all' "
            "lists every one)."
        )
    files = session.loaded.attachments
    if files:
        output.show(
            output.table(
                "Attachments",
                ("file", "size", "type", "SHA-256"),
                ((a.name, size_text(a.size), a.content_type, a.sha256) for a in files.values()),
            )
        )
    notices(session)
    _placeholders(session, show_all=show_all)
    for line in timing.campaign_lines(session.loaded.campaign.campaign):
        output.info(line)
    own.warn_changed((c.target, c.edited) for c in letters)
    if domains is not None:
        _domains(domains)
        if domains.errors:
            return
    on_paper = f", {len(paper)} letter(s) to print" if paper else ""
    output.info(
        f"The campaign is valid: {len(letters)} letter(s){on_paper} and {len(audience.calls)} "
        "call(s) for this sender."
    )


def _placeholders(session: Session, *, show_all: bool) -> None:
    """One warning per placeholder address, the first PLACEHOLDERS_SHOWN of them: a test
    campaign of thousands would otherwise bury everything else (``--all``: every one)."""
    found = list(placeholder_addresses(session.loaded))
    shown = found if show_all else found[:PLACEHOLDERS_SHOWN]
    for placeholder in shown:
        output.warn(str(placeholder))
    if len(shown) < len(found):
        output.warn(
            f"... and {len(found) - len(shown):,} more placeholder address(es); "
            "'protest validate --all' lists every one."
        )


def _domains(report: DomainReport) -> None:
    for warning in report.warnings:
        output.warn(str(warning))
    fine = len(report.answers) - report.unchecked - len(report.errors)
    output.info(
        f"Checked {len(report.answers)} domain(s) in DNS: {fine} accept mail, "
        f"{len(report.errors)} cannot receive mail, {report.unchecked} could not be checked."
    )


def _recipients(session: Session, recipients: Sequence[str]) -> str:
    """The letter's addresses, the sender's own Bcc copy marked as such."""
    own_copy = session.sender.email if session.composer.copy_me else None
    return ", ".join(
        f"{a} (Bcc: your copy)" if i and own_copy is not None and same_mailbox(a, own_copy) else a
        for i, a in enumerate(recipients)  # the first is the To, even when it is you
    )
