"""How ``protest new`` says what it wrote and what to do next."""

from __future__ import annotations

from protest_dispatch.cli import output
from protest_dispatch.commands.new import Scaffold


def written(made: Scaffold) -> None:
    for path in made.files:
        output.info(f"wrote {path}")
    output.info(f"made {made.folder / 'attachments'}/ for files to send with the letters")
    output.info(
        f"Next: replace every example.org address in {made.folder / 'targets.yaml'}, write "
        f"the letter, then run 'protest validate -t {made.folder}'."
    )
