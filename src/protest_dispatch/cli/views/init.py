"""What ``init`` says once the wizard has written the config file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from protest_dispatch.cli import output

if TYPE_CHECKING:
    from protest_dispatch.settings.writer import Answers


def keep_existing(path: Path) -> None:
    output.say(f"Kept {path} as it was; nothing was changed.")


def written(*, path: Path, answers: Answers) -> None:
    output.info(f"Wrote {path} (only you can read it).")
    if answers.username is None:
        output.say("No login: protest sends without a username or password.")
    elif answers.storage == "no":
        output.say(
            "The password is not stored: set PROTEST_SMTP_PASSWORD or "
            "PROTEST_SMTP_PASSWORD_COMMAND in the shell you send from."
        )
    output.say(
        "Next: 'protest doctor' checks the connection without sending anything; then "
        "'protest send --test' sends every letter to yourself first."
    )
