"""What ``protest print`` shows: the files written, and what to do with them."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from protest_dispatch.cli import output
from protest_dispatch.vocabulary import PaperSize

if TYPE_CHECKING:
    from protest_dispatch.campaign.model import Target
    from protest_dispatch.commands.print import Posted, Printed
    from protest_dispatch.commands.session import Session
    from protest_dispatch.sendlog.records import Post

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


def confirm_again(*, target: Target, earlier: tuple[Post, ...]) -> bool:
    """Ask on the terminal; Enter, Ctrl-D or "no" mean no."""
    days = ", ".join(p.posted_on for p in earlier)
    output.say(f"You recorded posting the letter to {target.name} ({target.id}) on {days}.")
    while True:
        output.prompt("Record that you posted it again? [y/N]: ")
        line = sys.stdin.readline()
        reply = line.strip().lower()
        if not line or reply in ("", "n", "no"):
            return False
        if reply in ("y", "yes"):
            return True
        output.say("Please answer y or n.")


def not_recorded() -> None:
    output.info("Nothing was recorded.")


def recorded_post(posted: Posted) -> None:
    left = (
        f" {posted.left} letter(s) still to print and post."
        if posted.left
        else " Every letter to print is posted."
    )
    target = posted.target
    if posted.emailed_at is not None:
        left += f" You emailed it as well, on {output.when(posted.emailed_at)}."
    elif target.email is not None:
        left += (
            f" 'protest send' will not email it as well; to send both, name it: "
            f"protest send --only {target.id}"
        )
    output.info(
        f"Recorded: your letter to {target.name} ({target.id}) went in the post "
        f"on {posted.post.posted_on}.{left}"
    )
