"""``new``, ``schema``: writing a campaign (and, with the organiser's key, signing it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def new(
    folder: Annotated[
        Path, typer.Argument(metavar="DIR", help="A new or empty folder for the campaign.")
    ],
) -> None:
    """Start a new campaign: targets.yaml, a letter, a call script and a README in DIR."""
    from protest_dispatch.cli.views import new as views
    from protest_dispatch.commands.new import scaffold

    views.written(scaffold(folder=folder))


def schema() -> None:
    """Print the JSON Schema of the campaign file (draft-07), for editors."""
    from protest_dispatch.campaign.schema import schema_text
    from protest_dispatch.cli import output

    output.print_raw(schema_text())
