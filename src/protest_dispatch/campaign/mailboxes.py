"""One mailbox, one letter from each sender: the same address on two targets is caught.

``email: mfa@example.org`` on one target and ``MFA@example.org`` on another would
put two letters from the same person in one mailbox, which reads as spam and gets
senders banned. As the To of two targets it is an error; as one target's To and
another's copy (or a copy on every letter) it is a warning, since a campaign may
mean it. Targets limited to different countries never reach the same sender, so
they may share an address (one ministry, one letter per country's senders).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from protest_dispatch.addresses import mailbox
from protest_dispatch.campaign.model import Campaign, Target
from protest_dispatch.campaign.problems import Lines
from protest_dispatch.errors import Problem


def shared_mailboxes(
    *, path: Path, campaign: Campaign, lines: Lines
) -> tuple[list[Problem], list[Problem]]:
    """Errors (one To on two targets) and warnings (a To that is also a copy)."""
    tos: dict[str, list[int]] = {}
    for index, target in enumerate(campaign.targets):
        if target.email is not None:
            tos.setdefault(mailbox(target.email), []).append(index)
    errors = list(_same_to(path, campaign, lines, tos))
    warnings = [*_campaign_copy_is_a_to(path, campaign, lines, tos)]
    warnings += _target_copy_is_a_to(path, campaign, lines, tos)
    return errors, warnings


def _meet(one: Target, other: Target) -> bool:
    """Whether one sender can get both targets: their countries do not exclude each other."""
    return one.country is None or other.country is None or one.country == other.country


def _earlier_same_to(targets: tuple[Target, ...], indexes: list[int]) -> Iterator[tuple[int, int]]:
    """(index, earlier index) for each target whose To an earlier one it can meet has.

    Linear in the targets: it keeps the first target seen overall, without a country,
    and per country, which are the only ones a later target needs to be compared with.
    """
    first_any: int | None = None
    unscoped: int | None = None
    by_country: dict[str, int] = {}
    for index in indexes:
        country = targets[index].country
        if country is None:
            earlier = first_any
        else:
            found = [i for i in (unscoped, by_country.get(country)) if i is not None]
            earlier = min(found) if found else None
        if earlier is not None:
            yield index, earlier
        first_any = index if first_any is None else first_any
        if country is None:
            unscoped = index if unscoped is None else unscoped
        else:
            by_country.setdefault(country, index)


def _same_to(
    path: Path, campaign: Campaign, lines: Lines, tos: dict[str, list[int]]
) -> Iterator[Problem]:
    targets = campaign.targets
    for indexes in tos.values():
        for index, earlier in _earlier_same_to(targets, indexes):
            yield Problem(
                file=path,
                line=lines.get(("targets", index, "email")),
                target=targets[index].id,
                field="email",
                message=f"{targets[index].email} is already the address of target "
                f"'{targets[earlier].id}' (line {lines.get(('targets', earlier, 'email'))}; "
                "addresses are compared ignoring case), so that mailbox would get two "
                "letters from every sender; keep one of the two targets, or give each its "
                "own address",
            )


def _campaign_copy_is_a_to(
    path: Path, campaign: Campaign, lines: Lines, tos: dict[str, list[int]]
) -> Iterator[Problem]:
    for number, address in enumerate(campaign.campaign.cc):
        for index in tos.get(mailbox(address), ()):
            target = campaign.targets[index]
            yield Problem(
                file=path,
                line=lines.get(("campaign", "cc", number)),
                field=f"campaign.cc[{number + 1}]",
                message=f"{address} gets a copy of every letter and is also the address of "
                f"target '{target.id}' (line {lines.get(('targets', index, 'email'))}), so "
                "that mailbox gets its own letter and a copy of every other one",
            )


def _target_copy_is_a_to(
    path: Path, campaign: Campaign, lines: Lines, tos: dict[str, list[int]]
) -> Iterator[Problem]:
    targets = campaign.targets
    for index, target in enumerate(targets):
        if target.email is None:
            continue
        for number, address in enumerate(target.cc):
            other = next(
                (
                    i
                    for i in tos.get(mailbox(address), ())
                    if i != index and _meet(targets[i], target)
                ),
                None,
            )
            if other is not None:
                yield Problem(
                    file=path,
                    line=lines.get(("targets", index, "cc", number)),
                    target=target.id,
                    field=f"cc[{number + 1}]",
                    message=f"{address} is also the address of target '{targets[other].id}' "
                    f"(line {lines.get(('targets', other, 'email'))}), so that mailbox gets "
                    "two letters from every sender: its own and this copy",
                )
