"""How ``protest trust`` shows a key change and asks before accepting it."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from protest_dispatch.cli import output
from protest_dispatch.commands.trust import KeyChange
from protest_dispatch.errors import InputError
from protest_dispatch.vocabulary import TrustState

if TYPE_CHECKING:
    from protest_dispatch.campaign.signing import Trust


def confirm(change: KeyChange) -> bool:
    if not sys.stdin.isatty():
        raise InputError(
            "Not changing the key: there is no terminal to confirm on.",
            hint="Run it in a terminal, or add --yes once you checked the key with the organiser.",
        )
    output.say(f"Campaign '{change.campaign_id}'")
    output.say(f"  key until now: {change.old or '(none remembered)'}")
    output.say(f"  new key:       {change.new}")
    output.prompt("Did the organiser tell you, by a channel you trust, to use the new key? [y/N] ")
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        return False
    return answer.strip().lower() in ("y", "yes")


def accepted(change: KeyChange) -> None:
    output.info(f"From now on, '{change.campaign_id}' must be signed by {change.new}.")


def kept(change: KeyChange) -> None:
    output.info(f"Nothing changed: '{change.campaign_id}' keeps the key {change.old or '(none)'}.")


def unchanged(change: KeyChange) -> None:
    output.info(f"'{change.campaign_id}' already trusts {change.new}; nothing to do.")


def provenance(verdict: Trust, *, campaign_id: str, pending: bool = False) -> None:
    """Where this copy of the campaign came from, as far as anyone can tell.

    ``pending``: the copy is not accepted yet (``protest get``), so neither is its key.
    """
    if verdict.state == TrustState.UNSIGNED:
        output.warn("unsigned campaign: check that it came from the organiser.")
    elif verdict.state == TrustState.FIRST_USE:
        when = "will be remembered if you use this copy" if pending else "is remembered"
        output.say(
            f"Signed campaign: first use of '{campaign_id}', so its key {verdict.public_key} "
            f"{when}; a copy signed by another key will be refused."
        )
    else:
        output.say(f"Signed campaign: verified with the key {verdict.public_key}.")
    if verdict.trusted_comment:
        output.say(
            f"  {_signed_on(verdict.trusted_comment)}trusted comment: {verdict.trusted_comment}"
        )


def _signed_on(comment: str) -> str:
    """minisign's trusted comment starts ``timestamp:<seconds>``: the signing time, if so."""
    stamp = comment.removeprefix("timestamp:").split(None, 1)[0] if comment else ""
    if not comment.startswith("timestamp:") or not stamp.isdigit() or len(stamp) > 11:
        return ""
    return f"signed {output.when(datetime.fromtimestamp(int(stamp), UTC))} UTC; "
