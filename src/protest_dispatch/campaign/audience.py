"""Who gets a letter from this sender, and who is a call to make."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from protest_dispatch.campaign.model import Campaign, Target
from protest_dispatch.errors import InputError


@dataclass(frozen=True)
class Selected:
    """One target with its position in the file (for line numbers in messages)."""

    index: int
    target: Target


@dataclass(frozen=True)
class Audience:
    letters: tuple[Selected, ...]
    calls: tuple[Selected, ...]
    other_countries: tuple[Target, ...]
    needs_country: tuple[Target, ...]
    """Country-scoped targets skipped because the sender has not said where they are."""
    paper: tuple[Selected, ...] = ()
    """Letters to print: targets with a postal address and a letter but no email, and
    those named with ``--only`` that have a postal address (a sender who prefers paper)."""
    named: frozenset[str] = frozenset()
    """The ids named with ``--only``: what the sender asked for by name, on purpose."""


def select(*, campaign: Campaign, country: str | None, only: Sequence[str] = ()) -> Audience:
    known = {t.id for t in campaign.targets}
    unknown = [i for i in only if i not in known]
    if unknown:
        raise InputError(
            f"--only names {', '.join(repr(i) for i in unknown)}, which "
            f"{'is' if len(unknown) == 1 else 'are'} not a target of this campaign.",
            hint=f"Targets: {', '.join(sorted(known))}.",
        )
    wanted = set(only)
    letters: list[Selected] = []
    calls: list[Selected] = []
    other: list[Target] = []
    needs: list[Target] = []
    paper: list[Selected] = []
    for index, target in enumerate(campaign.targets):
        if wanted and target.id not in wanted:
            continue
        if target.country is not None and target.country != country:
            (needs if country is None else other).append(target)
            continue
        selected = Selected(index, target)
        if target.email is not None:
            letters.append(selected)
        elif target.is_call:
            calls.append(selected)
        if target.has_paper_letter and (target.email is None or target.id in wanted):
            paper.append(selected)
    return Audience(
        tuple(letters), tuple(calls), tuple(other), tuple(needs), tuple(paper), frozenset(wanted)
    )
