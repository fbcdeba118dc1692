"""How much of each letter is the sender's own: the figures and the one warning a run."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from protest_dispatch.campaign.originality import LOW_SHARE
from protest_dispatch.cli import output

if TYPE_CHECKING:
    from protest_dispatch.campaign.compose import Checked
    from protest_dispatch.campaign.originality import Originality
    from protest_dispatch.campaign.templates import Edited
    from protest_dispatch.commands.session import Session

MOST_NAMED = 10


def share(own: Originality) -> str:
    """``31 words (9%)``: what the dry run, the plan and validate show per letter."""
    return f"{own.own_words} words ({own.own_share:.0%})"


def plan_cell(checked: Checked | None) -> str:
    """The plan's "own" column: the share, and whether the body is the sender's version."""
    if checked is None:
        return ""
    yours = ", yours" if checked.edited is not None else ""
    return f"{checked.own.own_share:.0%}{yours}"


def as_json(target: str, own: Originality) -> dict[str, Any]:
    return {"target": target, "own_share": round(own.own_share, 4), "own_words": own.own_words}


def warn_low(letters: Iterable[tuple[str, Originality]]) -> None:
    """One warning a run, naming the letters whose own share is below LOW_SHARE."""
    low = [target for target, own in letters if own.own_share < LOW_SHARE]
    if not low:
        return
    named = ", ".join(low[:MOST_NAMED]) + (
        f" and {len(low) - MOST_NAMED} more" if len(low) > MOST_NAMED else ""
    )
    output.warn(
        f"{len(low)} letter(s) are less than {LOW_SHARE:.0%} your own words: {named}. Mail "
        "filters drop letters that many people send word for word (WriteToThem filters "
        "duplicates automatically; the European Parliament once quarantined 457,325 identical "
        "protest emails). Add a few sentences of your own with --note or --note-file, or write "
        "your own version of a letter with 'protest edit ID'."
    )


def warn_own_words(session: Session, letters: Iterable[tuple[str, Originality]]) -> None:
    """The dry run's version of send's own_words refusal: a warning, exit 0."""
    required = session.loaded.campaign.campaign.own_words
    if required is None:
        return
    short = [(t, own.own_words) for t, own in letters if own.own_words < required]
    if short:
        listed = ", ".join(f"{t} ({n})" for t, n in short[:MOST_NAMED])
        output.warn(
            f"The campaign asks every letter to carry at least {required} words of your own; "
            f"{len(short)} letter(s) have fewer (own words in brackets): {listed}. 'protest "
            "send' will refuse them until you add yours (--note, --note-file, 'protest edit ID')."
        )


def warn_changed(letters: Iterable[tuple[str, Edited | None]]) -> None:
    """Letters the sender edited whose campaign text changed since: one warning each."""
    for target, edited in letters:
        if edited is not None and edited.campaign_changed:
            output.warn(
                f"The campaign's letter for {target} changed since you edited it on "
                f"{edited.edited_on or 'an earlier day'}: 'protest edit {target}' shows both."
            )
