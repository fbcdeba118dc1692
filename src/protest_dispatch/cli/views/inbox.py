"""What ``protest inbox`` shows; every text from mail is untrusted.

Subjects, senders and reply texts come from strangers: they are printed through
``output.plain`` (control characters escaped, no markup), never as format strings.
"""

from __future__ import annotations

from collections.abc import Sequence

from protest_dispatch.cli import output
from protest_dispatch.commands.inbox import InboxReport
from protest_dispatch.sendlog.findings import Finding
from protest_dispatch.text import visible
from protest_dispatch.vocabulary import FindingKind

WHAT = {
    FindingKind.BOUNCED: "bounced",
    FindingKind.COPY_BOUNCED: "a copy bounced (the official still got the letter)",
    FindingKind.DELAYED: "delayed (the server is still trying)",
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
    output.say(f"Read {searched} new message(s) in {names} of {report.account}.")
    if not shown:
        output.info("Nothing new about your letters.")
        return
    output.show(
        output.table(
            f"New about your letters ({len(shown)})",
            ("campaign", "target", "what", "who", "status", "details", "at"),
            (_row(f) for f in shown),
        )
    )
    if any(f.kind == FindingKind.REPLY for f in shown):
        output.say("Read the replies with 'protest replies'.")
    if any(f.permanent_bounce for f in shown):
        output.say(
            "Bounced letters are skipped by 'protest send' until the address is fixed in the "
            "campaign file; 'protest status --bounced' lists them for the organiser."
        )


def _row(finding: Finding) -> Sequence[object]:
    details = finding.diagnostic or finding.subject or ""
    return (
        finding.campaign,
        finding.target,
        finding.kind.value,
        finding.recipient or finding.from_ or "",
        finding.status or "",
        details[:120],
        finding.at,
    )


def describe(finding: Finding, *, to: str | None = None) -> str:
    """One line for cron mail: what happened to which letter."""
    who = finding.recipient or to or finding.from_ or "?"
    why = f" ({finding.status} {finding.diagnostic or ''})".rstrip() if finding.status else ""
    if finding.kind == FindingKind.REPLY:
        why = f": {finding.subject or ''}"
    return f"{finding.campaign}/{finding.target}: {WHAT[finding.kind]} - {who}{why} at {finding.at}"
