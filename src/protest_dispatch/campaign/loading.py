"""Read a campaign file into the model, with every problem located by line.

The file is read as plain YAML data with its lines (:mod:`yamlfile`), then checked:
the model, duplicate ids, too many recipients, the schedule, shared mailboxes and the
attachments, every problem reported at once with its file, line, target and field
(:mod:`problems`), so an organiser fixes them all in one round.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from protest_dispatch.campaign.attachments import FOLDER, Attachment, check_files
from protest_dispatch.campaign.mailboxes import shared_mailboxes
from protest_dispatch.campaign.model import Campaign, Target
from protest_dispatch.campaign.problems import Lines, field_name, located, nearest_line, visible
from protest_dispatch.campaign.recipients import copies, too_many
from protest_dispatch.campaign.schedule import schedule_problems
from protest_dispatch.campaign.yamlfile import parse, read_text
from protest_dispatch.errors import CampaignError, Problem


@dataclass(frozen=True)
class LoadedCampaign:
    """A valid campaign plus where things are, for messages about it later."""

    campaign: Campaign
    path: Path
    letters_dir: Path
    lines: Lines = field(repr=False)
    warnings: tuple[Problem, ...] = ()
    """What is allowed but probably a mistake (a target's To is another's copy)."""
    attachments: dict[str, Attachment] = field(default_factory=dict, repr=False)
    """Every file the campaign names under attachments/, checked, by its name."""

    def target_line(self, index: int) -> int | None:
        return self.lines.get(("targets", index))

    def attachments_for(self, target: Target) -> tuple[Attachment, ...]:
        """The campaign's files, then the target's own, each once."""
        names = dict.fromkeys((*self.campaign.campaign.attachments, *target.attachments))
        return tuple(self.attachments[name] for name in names)


def resolve_campaign_path(path: Path) -> Path:
    """Accept the campaign folder as well as its targets.yaml."""
    return path / "targets.yaml" if path.is_dir() else path


def load_campaign(*, path: Path) -> LoadedCampaign:
    path = resolve_campaign_path(path)
    text = read_text(path)
    data, lines, found = parse(path, text)
    campaign, warnings = _validate(path, data, lines, found)
    return LoadedCampaign(
        campaign=campaign,
        path=path,
        letters_dir=path.parent / "letters",
        lines=lines,
        warnings=tuple(visible(warnings)),
        attachments=_attachments(path, campaign, lines),
    )


def _attachments(path: Path, campaign: Campaign, lines: Lines) -> dict[str, Attachment]:
    """Every file named, checked, with each letter's count and size; every problem at once."""
    checked, faults = check_files(path.parent / FOLDER, campaign)
    if faults:
        raise CampaignError(
            visible(
                [
                    Problem(
                        file=path,
                        line=nearest_line(lines, where),
                        target=target_id,
                        field=field_name(where),
                        message=message,
                    )
                    for where, target_id, message in faults
                ]
            )
        )
    return checked


def _validate(
    path: Path, data: dict[str, Any], lines: Lines, found: list[Problem]
) -> tuple[Campaign, list[Problem]]:
    """Every problem at once: YAML-level ones, field ones and duplicate ids together.

    Returns the campaign and its warnings: what is allowed but probably a mistake.
    """
    problems = list(found)
    warnings: list[Problem] = []
    campaign: Campaign | None = None
    try:
        campaign = Campaign.model_validate(data)
    except ValidationError as exc:
        problems.extend(located(path, data, lines, exc))
    problems.extend(_duplicate_ids(path, data, lines))
    if campaign is not None:
        problems.extend(_too_many_recipients(path, campaign, lines))
        problems.extend(schedule_problems(path, campaign, lines))
        errors, warnings = shared_mailboxes(path=path, campaign=campaign, lines=lines)
        problems.extend(errors)
    if problems or campaign is None:
        raise CampaignError(visible(sorted(problems, key=lambda p: p.line or 0)))
    return campaign, warnings


def _duplicate_ids(path: Path, data: Any, lines: Lines) -> Iterator[Problem]:
    targets = data.get("targets") if isinstance(data, dict) else None
    if not isinstance(targets, list):
        return
    seen: dict[str, int] = {}
    for index, item in enumerate(targets):
        raw = item.get("id") if isinstance(item, dict) else None
        if not isinstance(raw, str):
            continue
        target_id = raw.strip()
        if target_id in seen:
            first = lines.get(("targets", seen[target_id]))
            yield Problem(
                file=path,
                line=lines.get(("targets", index, "id")),
                target=target_id,
                field="id",
                message=f"the id '{target_id}' is already used by the target on line {first}; "
                "every target needs its own id",
            )
        else:
            seen[target_id] = index


def _too_many_recipients(path: Path, campaign: Campaign, lines: Lines) -> Iterator[Problem]:
    """Providers refuse a message with too many recipients; say so before sending."""
    shared = campaign.campaign.cc
    for index, target in enumerate(campaign.targets):
        if target.email is None:
            continue
        refused = too_many(
            1 + len(copies(to=target.email, campaign_cc=shared, target_cc=target.cc))
        )
        if refused is not None:
            yield Problem(
                file=path,
                line=lines.get(("targets", index, "cc"), lines.get(("targets", index))),
                target=target.id,
                field="cc",
                message=refused,
            )
