"""``protest edit ID``: the sender's own version of a letter. It prints nothing.

``start_edit`` writes the file the editor opens (the sender's version, or this
sender's letter as the campaign writes it); the caller runs the editor; then
``finish_edit`` keeps what was saved, or the previous version when the file was
saved empty or the editor failed. The file names come from slugs only.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from protest_dispatch.campaign.audience import Selected
from protest_dispatch.campaign.edits import (
    Edit,
    EditFileError,
    EditStore,
    fingerprint,
    read_edit_file,
)
from protest_dispatch.campaign.templates import letter_problem
from protest_dispatch.commands.session import Session
from protest_dispatch.errors import CampaignError, InputError, Problem
from protest_dispatch.vocabulary import EditOutcome

FALLBACK_EDITORS = ("nano", "vi")


@dataclass(frozen=True)
class EditPlan:
    target: str
    store: EditStore
    draft: Path
    """The file the editor opens: the body only, as Markdown."""
    campaign_copy: Path | None
    """The campaign's letter now, opened beside it when it changed since the last edit."""
    campaign_text: str
    previous: Edit | None
    markdown: bool
    resumed: bool
    """The draft is text a previous ``edit`` could not keep (it had a problem)."""


def editor_command(environ: Mapping[str, str]) -> list[str]:
    """``$VISUAL``, then ``$EDITOR`` (split like a shell would, but run without one),
    then nano, then vi."""
    for name in ("VISUAL", "EDITOR"):
        value = environ.get(name, "").strip()
        if value:
            try:
                argv = shlex.split(value)
            except ValueError as exc:
                raise InputError(
                    f"${name} ({value!r}) cannot be read as a command: {exc}.",
                    hint=f"Set {name} to your editor's command, like 'nano' or 'code --wait'.",
                ) from None
            if argv:
                return argv
    for fallback in FALLBACK_EDITORS:
        found = shutil.which(fallback)
        if found:
            return [found]
    raise InputError(
        "No editor found: $VISUAL and $EDITOR are not set, and neither nano nor vi is installed.",
        hint="Set EDITOR to your editor's command, like EDITOR=nano.",
    )


def _selected(session: Session, target_id: str) -> Selected:
    for selected in session.composer.audience.letters:
        if selected.target.id == target_id:
            return selected
    known = ", ".join(s.target.id for s in session.composer.audience.letters) or "none"
    raise InputError(
        f"'{target_id}' is not one of your letters in campaign {session.campaign_id}.",
        hint=f"Your letters: {known}.",
    )


def _store(session: Session) -> EditStore:
    store = session.composer.edits
    assert store is not None, "prepare() always gives the composer an edit store"
    return store


def start_edit(*, session: Session, target_id: str) -> EditPlan:
    selected = _selected(session, target_id)
    store = _store(session)
    campaign_text = session.composer.campaign_text(selected)
    try:
        previous = store.load(target_id)
        drafted = read_edit_file(store.draft(target_id))
    except EditFileError as exc:
        raise InputError(
            f"Your version of the letter to {target_id} ({exc.path}) {exc}.",
            hint=f"Remove it with 'protest edit {target_id} --reset'.",
        ) from None
    start = drafted or (previous.text if previous else campaign_text)
    store.write_scratch(store.draft(target_id), start)
    copy = None
    if previous is not None and previous.base not in (None, fingerprint(campaign_text)):
        copy = store.campaign_copy(target_id)
        store.write_scratch(copy, campaign_text)
    template = selected.target.template or ""
    return EditPlan(
        target=target_id,
        store=store,
        draft=store.draft(target_id),
        campaign_copy=copy,
        campaign_text=campaign_text,
        previous=previous,
        markdown=template.endswith(".md.j2"),
        resumed=drafted is not None,
    )


def finish_edit(*, plan: EditPlan, editor_status: int, now: datetime) -> EditOutcome:
    """Keep what the editor saved, if it may be kept; raises CampaignError if not."""
    store, target = plan.store, plan.target
    if plan.campaign_copy is not None:
        plan.campaign_copy.unlink(missing_ok=True)
    if editor_status != 0:
        plan.draft.unlink(missing_ok=True)
        return EditOutcome.EDITOR_FAILED
    try:
        text = read_edit_file(plan.draft) or ""
    except EditFileError as exc:
        plan.draft.unlink(missing_ok=True)
        raise InputError(f"The file the editor saved ({exc.path}) {exc}.") from None
    if not text.strip():
        plan.draft.unlink(missing_ok=True)
        return EditOutcome.EMPTY
    problem = letter_problem(text, markdown=plan.markdown)
    if problem is not None:
        message, line = problem
        raise CampaignError(
            [
                Problem(
                    file=plan.draft, line=line, target=target, field="your version", message=message
                )
            ],
            hint=f"Your text is kept there: 'protest edit {target}' opens it again to fix it.",
        )
    if plan.previous is None and text == plan.campaign_text:
        plan.draft.unlink(missing_ok=True)
        return EditOutcome.UNCHANGED
    store.save(target, text, base=fingerprint(plan.campaign_text), now=now)
    os.unlink(plan.draft)
    return EditOutcome.SAVED


def reset_edit(*, session: Session, target_id: str) -> bool:
    _selected(session, target_id)
    return _store(session).reset(target_id)
