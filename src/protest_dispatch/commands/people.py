"""Who a target is, for a person: the name from the campaign file, when one is at hand.

Commands that read only the send log (``followup``, ``replies``) know targets by id;
a person knows them by name. The campaign file is read when given, or when a
``targets.yaml`` lies in the current folder; without it the ids stand alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from protest_dispatch.errors import ProtestError

if TYPE_CHECKING:
    from protest_dispatch.campaign.loading import LoadedCampaign

DEFAULT_CAMPAIGN_FILE = Path("targets.yaml")


@dataclass(frozen=True)
class Names:
    """(campaign id, target id) -> the target's name, for the campaigns at hand."""

    by_target: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def label(self, campaign: str, target: str) -> str:
        """``Councillor Sam Roe (councillor)``, or the id alone when the name is unknown."""
        name = self.by_target.get((campaign, target))
        return f"{name} ({target})" if name else target

    @classmethod
    def of(cls, loaded: LoadedCampaign | None) -> Names:
        if loaded is None:
            return cls()
        campaign = loaded.campaign
        return cls({(campaign.campaign.id, t.id): t.name for t in campaign.targets})


def campaign_names(*, targets: Path | None) -> Names:
    """The names in the campaign file given, or in ./targets.yaml if there is one.

    A file given by the user must load; a ``targets.yaml`` that merely lies here and
    does not load leaves the ids alone (the command does not need it).
    """
    if targets is None and not DEFAULT_CAMPAIGN_FILE.is_file():
        return Names()  # and YAML is never loaded: these commands start fast
    from protest_dispatch.campaign.loading import load_campaign

    if targets is not None:
        return Names.of(load_campaign(path=targets))
    try:
        return Names.of(load_campaign(path=DEFAULT_CAMPAIGN_FILE))
    except ProtestError:
        return Names()
