"""What ``protest inbox`` shows; every text from mail is untrusted.

Subjects, senders and reply texts come from strangers: they are printed through
``output.plain`` (control characters escaped, no markup), never as format strings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from protest_dispatch.cli import output
from protest_dispatch.sendlog.findings import Finding
from protest_dispatch.text import visible
from protest_dispatch.vocabulary import FindingKind

if TYPE_CHECKING:  # replies and followup use this module and open no connection
    from protest_dispatch.commands.inbox import InboxReport

WHAT = {
    FindingKind.BOUNCED: "bounced",
    FindingKind.COPY_BOUNCED: "a copy bounced (the official still got the letter)",
    FindingKind.DELAYED: "delayed (the server is still trying)",
    FindingKind.DELIVERED: "delivered (a delivery report says it arrived)",
    FindingKind.AUTO_REPLY: "automatic reply (proof it arrived)",
    FindingKind.REPLY: "reply",
    FindingKind.NO_REPLY: "no reply",
}


def finding_event(finding: Finding, *, to: str | None = None) -> dict[str, object]:
    """One finding for --json: the letter it is about, then the event fields."""
    return {
        "campaign": finding.campaign,
        "target": finding.target,
        "to": to,
        **finding.event(),
    }


def inbox(report: InboxReport, *, as_json: bool, quiet: bool) -> None:
    shown = report.needs_attention if quiet else report.new
    if as_json:
        output.print_json(
            {
                "account": report.account,
                "letters": report.letters,
                "folders": [
                    {"folder": f.folder, "searched": f.searched, "rescanned": f.rescanned}
                    for f in report.folders
                ],
                "new": [finding_event(f, to=report.to.get(f.letter_id)) for f in shown],
                "warnings": report.warnings,
            }
        )
        return
    for warning in report.warnings:
        output.warn(warning)
    if quiet:  # one unwrapped line each, for cron's mail
        output.print_raw(
            "".join(visible(describe(f, to=report.to.get(f.letter_id))) + "\n" for f in shown)
        )
        return
    if not report.letters:
        output.info("The send log has no sent letters from you yet: nothing to look for.")
        return
    searched = sum(f.searched for f in report.folders)
    names = ", ".join(f.folder for f in report.folders) or "no folder"
    user, _, server = report.account.rpartition("@")
    output.say(f"Read {searched} new message(s) in {names} of {user} at {server}.")
    if not shown:
        output.info("Nothing new about your letters.")
        return
    output.info(f"New about your letters ({len(shown)}):")
    for finding in shown:
        output.line(describe(finding, to=report.to.get(finding.letter_id)))
    if any(f.kind == FindingKind.REPLY for f in shown):
        output.say("Read the replies with 'protest replies'.")
    if any(f.permanent_bounce for f in shown):
        output.say(
            "Bounced letters are skipped by 'protest send' until the address is fixed in the "
            "campaign file; 'protest status --bounced' lists them for the organiser."
        )


def describe(finding: Finding, *, to: str | None = None) -> str:
    """One line: when, which letter, what happened (the time in UTC, as in every table)."""
    who = finding.recipient or to or finding.from_ or "?"
    why = f" ({finding.status} {finding.diagnostic or ''})".rstrip() if finding.status else ""
    if finding.kind == FindingKind.REPLY:
        why = f": {finding.subject or ''}"
    return (
        f"{output.when(finding.at)}  {finding.campaign}/{finding.target}: "
        f"{WHAT[finding.kind]} - {who}{why}"
    )
