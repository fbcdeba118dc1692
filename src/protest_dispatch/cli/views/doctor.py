"""How ``doctor`` reports its checklist, built on ``output``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from protest_dispatch.cli import output
from protest_dispatch.vocabulary import CheckStatus

if TYPE_CHECKING:
    from protest_dispatch.commands.checks import Report

_MARKS = {
    CheckStatus.OK: ("✓", "green"),
    CheckStatus.WARN: ("!", "yellow"),
    CheckStatus.FAIL: ("✗", "red bold"),
    CheckStatus.SKIP: ("-", "dim"),
}
_ASCII = {"✓": "ok", "✗": "FAIL"}  # the marks in ASCII, not statuses


def _mark(status: CheckStatus) -> tuple[str, str]:
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
        if check.status in (CheckStatus.FAIL, CheckStatus.WARN) and check.hint:
            output.show(output.plain(f"  How to fix: {check.hint}", "dim"))
    failures = [c for c in report.checks if c.status == CheckStatus.FAIL]
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
