"""How ``protest edit`` looks: what became of the sender's version."""

from __future__ import annotations

from typing import TYPE_CHECKING

from protest_dispatch.cli import output
from protest_dispatch.vocabulary import EditOutcome

if TYPE_CHECKING:
    from pathlib import Path

    from protest_dispatch.commands.edit import EditPlan


def opening(plan: EditPlan, editor: list[str]) -> None:
    if plan.resumed:
        output.say(f"Opening the text you wrote last time, which was not saved: {plan.draft}")
    if plan.campaign_copy is not None:
        output.say(
            f"The campaign's letter to {plan.target} changed since you edited it on "
            f"{plan.previous.edited_on if plan.previous else 'an earlier day'}: {editor[0]} "
            f"opens your version ({plan.draft}) and the campaign's new letter "
            f"({plan.campaign_copy}); only your version is kept."
        )


def finished(plan: EditPlan, outcome: EditOutcome, *, status: int) -> None:
    target = plan.target
    keeps = (
        "your previous version is kept"
        if plan.previous is not None
        else "the campaign's letter is used"
    )
    if outcome is EditOutcome.SAVED:
        output.info(
            f"Saved your version of the letter to {target}; every command uses it from now "
            f"on ('protest send --dry-run --only {target}' shows it, 'protest edit {target} "
            "--reset' goes back to the campaign's)."
        )
    elif outcome is EditOutcome.EMPTY:
        output.say(f"You saved an empty file, so {keeps}.")
    elif outcome is EditOutcome.EDITOR_FAILED:
        output.say(f"The editor exited with an error (status {status}), so {keeps}.")
    else:
        output.say(f"You changed nothing, so {keeps}.")


def reset(target: str, *, existed: bool, path: Path) -> None:
    if existed:
        output.info(f"Removed your version of the letter to {target} ({path}).")
    else:
        output.info(f"There was no version of yours for {target}: the campaign's letter is used.")
