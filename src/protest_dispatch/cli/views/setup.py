"""How ``init`` and ``doctor`` report, built on ``output``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text

from protest_dispatch.cli import output

if TYPE_CHECKING:
    from protest_dispatch.commands.checks import Report
    from protest_dispatch.settings.writer import Answers

_MARKS = {
    "ok": ("✓", "green"),
    "warn": ("!", "yellow"),
    "fail": ("✗", "red bold"),
    "skip": ("-", "dim"),
}
_ASCII = {"✓": "ok", "✗": "FAIL"}


def _mark(status: str) -> tuple[str, str]:
    symbol, style = _MARKS[status]
    encoding = (output.stdout.encoding or "utf-8").lower()
    try:
        symbol.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        symbol = _ASCII.get(symbol, symbol)  # cron mail with LANG=C cannot show a tick
    return symbol, style


def doctor(report: Report) -> None:
    for check in report.checks:
        symbol, style = _mark(check.status)
        output.show(
            Text.assemble(
                (f"{symbol} ", style), (f"{check.name}: ", "bold"), output.plain(check.detail)
            )
        )
        if check.status in ("fail", "warn") and check.hint:
            output.show(output.plain(f"  How to fix: {check.hint}", "dim"))
    failures = [c for c in report.checks if c.status == "fail"]
    if failures:
        output.info(
            f'{len(failures)} problem(s). Fix the first one ("{failures[0].name}") '
            "and run 'protest doctor' again. Nothing was sent."
        )
    else:
        output.info(
            "All checks passed; nothing was sent. Next: 'protest send --test' sends "
            "every letter to yourself first."
        )


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
