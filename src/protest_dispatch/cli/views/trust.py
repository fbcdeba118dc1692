"""How ``protest trust`` shows a key change and asks before accepting it."""

from __future__ import annotations

import sys

from protest_dispatch.cli import output
from protest_dispatch.commands.trust import KeyChange
from protest_dispatch.errors import InputError


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
