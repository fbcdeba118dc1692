"""What ``protest print`` shows: the files written, and what to do with them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from protest_dispatch.cli import output
from protest_dispatch.vocabulary import PaperSize

if TYPE_CHECKING:
    from protest_dispatch.commands.print import Printed
    from protest_dispatch.commands.session import Session

_PAPER_NAMES = {PaperSize.A4: "A4", PaperSize.LETTER: "US letter"}


def printed(session: Session, result: Printed) -> None:
    for warning in session.loaded.warnings:
        output.warn(str(warning))
    if not result.targets:
        output.info(
            "Nothing to print: no target you can write to has a postal address and a letter. "
            "To print a letter that has an email address, name it with --only ID."
        )
        return
    for path in result.files:
        output.info(str(path))
    where = result.files[0] if result.one else result.files[0].parent
    output.info(
        f"Wrote {len(result.targets)} letter(s) on {_PAPER_NAMES[result.paper]} paper to "
        f"{where}. Print, sign, fold into a window envelope and post each; then record it "
        "with 'protest posted ID'."
    )
