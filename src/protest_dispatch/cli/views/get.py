"""How ``protest get`` shows a new campaign or what an update changes, and asks."""

from __future__ import annotations

import sys

from protest_dispatch.campaign.changes import Changes
from protest_dispatch.cli import output
from protest_dispatch.cli.views.trust import provenance
from protest_dispatch.commands.get import Staged
from protest_dispatch.errors import InputError


def summary(staged: Staged) -> None:
    campaign = staged.loaded.campaign
    info = campaign.campaign
    letters = sum(1 for t in campaign.targets if t.email)
    calls = len(campaign.targets) - letters
    title = f": {info.title}" if info.title else ""
    output.info(f"Campaign {info.id}{title}")
    output.info(
        f"{len(campaign.targets)} target(s): {letters} letter(s), {calls} call(s); "
        f"{staged.files} file(s) from {staged.source}"
    )
    asks = staged.changes is not None and staged.changes.needs_confirmation
    provenance(staged.trust, campaign_id=info.id, pending=asks)
    if staged.changes is not None:
        changes(staged.changes)


def changes(found: Changes) -> None:
    for target_id, name in found.added:
        output.info(f"+ new target {target_id}: {name}")
    for target_id, name in found.removed:
        output.info(f"- removed target {target_id}: {name}")
    if found.fields:
        output.show(
            output.table(
                "Changed",
                ("target", "field", "before", "now"),
                [
                    (f.target or "(campaign)", f.field + (" *" if f.address else ""), f.old, f.new)
                    for f in found.fields
                ],
            )
        )
    for change in found.files:
        output.info(f"{change.state}: {change.name}")
        for line in change.diff[:40]:
            output.info(f"    {line}")
        if len(change.diff) > 40:
            output.info(f"    ... and {len(change.diff) - 40} more changed line(s)")


def confirm(staged: Staged) -> bool:
    """Whether the activist says yes: where letters go is changing."""
    what = "Addresses changed (marked *) or targets were added"
    if not sys.stdin.isatty():
        raise InputError(
            f"{what}, and there is no terminal to confirm on: nothing was changed in "
            f"{staged.folder}.",
            hint="Read the changes above, then run it again in a terminal, or with --yes.",
        )
    output.prompt(f"{what}. Use the new copy in {staged.folder}? [y/N] ")
    if sys.stdin.readline().strip().lower() in ("y", "yes"):
        return True
    output.info(f"Nothing was changed in {staged.folder}.")
    return False


def unchanged(staged: Staged) -> None:
    output.info(f"{staged.folder} is up to date with {staged.source}; nothing changed.")


def applied(staged: Staged, *, previous: object) -> None:
    kept = f"; the old copy is in {previous}" if previous is not None else ""
    output.info(f"The campaign is in {staged.folder}{kept}.")
