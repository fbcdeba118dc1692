"""What the person should know before a letter goes, and why a letter is held back.

The campaign's notices are validate's too; the rest words the plan's letters that do not
go as planned: half-sent by a killed run, bounced, received under another id, resent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from protest_dispatch.cli import output
from protest_dispatch.errors import SET_SENDER_HINT
from protest_dispatch.vocabulary import LetterStatus

if TYPE_CHECKING:
    from protest_dispatch.commands.send import Plan, ReceivedBefore, Resend
    from protest_dispatch.commands.session import Session
    from protest_dispatch.sendlog.store import Entry


def notices(session: Session, *, origin: bool = True) -> None:
    """What the person should know; ``origin``: where the campaign copy came from."""
    audience = session.composer.audience
    if origin:
        from protest_dispatch.cli.views.trust import provenance

        provenance(session.trust, campaign_id=session.campaign_id)
    for warning in session.loaded.warnings:
        output.warn(str(warning))
    fallbacks = session.composer.language_fallbacks()
    if fallbacks:
        output.warn(
            f"{len(fallbacks)} target(s) have no letter in the language you asked for and get "
            f"the default letter: {', '.join(fallbacks)}."
        )
    if session.placeholder:
        output.warn(
            "No sender is configured: letters show the placeholder 'Your Name "
            f"<you@example.org>'. {SET_SENDER_HINT}"
        )
    if audience.needs_country:
        names = ", ".join(t.id for t in audience.needs_country)
        output.warn(
            f"{len(audience.needs_country)} target(s) only for senders in a given country were "
            f"skipped because your country is not set ({names}). Set it with --country or "
            "PROTEST_COUNTRY."
        )


BOUNCED_HINT = (
    "Fix the address in the campaign file and run send again ('protest status --bounced' "
    "lists it for the organisers), or add --retry-bounced to try the same address again."
)


def held_back(plan: Plan) -> None:
    """The letters skipped because they bounced, already arrived under another id, or
    went by post."""
    for entry, bounce in plan.bounced:
        output.warn(
            f"Skipping {entry.target}: the letter to {bounce.recipient} bounced on "
            f"{output.when(bounce.at)} UTC "
            f"({' '.join(filter(None, (bounce.status, bounce.diagnostic)))})."
        )
    if plan.bounced:
        output.say(BOUNCED_HINT)
    for before in plan.received_before:
        output.say(received_before(before))
    if plan.posted:
        ids = ", ".join(p.target for p in plan.posted)
        output.say(
            f"Not emailing {len(plan.posted)} letter(s) you posted on paper ({ids}): the "
            "official has it. To email one as well: protest send --only ID"
        )


def nothing_to_send(plan: Plan) -> str:
    """One line: why this run sends nothing, e.g. "Nothing to send: 2 already sent"."""
    parts = []
    if plan.already_sent:
        parts.append(f"{len(plan.already_sent)} already sent")
    if plan.received_before:
        ids = ", ".join(b.target for b in plan.received_before)
        parts.append(f"{len(plan.received_before)} already received under another id ({ids})")
    if plan.bounced:
        ids = ", ".join(entry.target for entry, _ in plan.bounced)
        parts.append(f"{len(plan.bounced)} skipped (bounced: {ids})")
    if plan.posted:
        ids = ", ".join(p.target for p in plan.posted)
        parts.append(f"{len(plan.posted)} posted on paper ({ids})")
    if plan.held:
        held = ", ".join(f"{entry.target} {entry.status}" for entry in plan.held)
        parts.append(f"{len(plan.held)} held from earlier runs ({held}: see 'protest status')")
    if plan.waiting_letters:
        parts.append(f"{len(plan.waiting_letters)} waiting for their office hours")
    return "Nothing to send" + (
        f": {', '.join(parts)}." if parts else ": the campaign has no letters for you."
    )


def recovered(letters: Sequence[Entry]) -> str:
    """The letters a killed run left half-sent, each by name: a person decides about each."""
    named = "; ".join(f"{e.target} (to {e.to})" for e in letters)
    return (
        f"{len(letters)} letter(s) were being sent when an earlier run stopped: {named}. They are "
        "now marked uncertain and will not be resent: check your Sent folder or ask the "
        "recipient, then resend only those that did not arrive with --retry-uncertain "
        "--only <target>."
    )


def resending(resend: Resend) -> str:
    old, bounce = resend.entry, resend.bounce
    why = " ".join(filter(None, (bounce.status, bounce.diagnostic)))
    where = (
        f"now to {resend.to}" if resend.address_changed else f"to the same address ({resend.to})"
    )
    line = (
        f"{old.target}: the letter to {bounce.recipient} bounced ({why}); it goes again as a "
        f"new letter, {where}."
    )
    if resend.copies_again:
        line += (
            f" The copy address(es) {', '.join(resend.copies_again)} got the first letter and "
            "get this one too, so they see it twice."
        )
    return line


def received_before(before: ReceivedBefore) -> str:
    earlier = before.earlier
    how = "got" if earlier.status == LetterStatus.SENT else f"may have got ({earlier.status})"
    return (
        f"Not sending '{before.target}': {before.to} already {how} this campaign's letter "
        f"as target '{earlier.target}' on {output.when(earlier.updated_at)} UTC."
    )
