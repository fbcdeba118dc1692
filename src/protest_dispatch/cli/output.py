"""All printing goes through here: one console for results, one for messages.

Campaign data is untrusted, so it is always printed as ``Text`` (never parsed
as rich markup, control characters shown escaped, invisible and direction-changing
characters shown as ``<U+200B>``) and never as a format string. Only the preview
shows them so: the letter keeps its characters.

The consoles (``output.stdout``, ``output.stderr``) are made on first use, and
rich is imported only then: a quiet run from cron that has nothing to say never
loads it (about 20 ms of start-up).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from protest_dispatch.errors import ProtestError
from protest_dispatch.sendlog.records import parse_time
from protest_dispatch.text import json_visible, visible

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

_consoles: dict[str, Console] = {}


def _console(name: str) -> Console:
    console = _consoles.get(name)
    if console is None:
        from rich.console import Console

        if name == "stderr":
            console = Console(stderr=True, highlight=False)
        else:
            console = Console(highlight=False, soft_wrap=False)
        _consoles[name] = console
    return console


def __getattr__(name: str) -> Console:
    if name in ("stdout", "stderr"):
        return _console(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


STATUS_STYLES = {
    "sent": "green",
    "sending": "yellow",
    "deferred": "yellow",
    "failed": "red",
    "uncertain": "magenta",
    "reached": "green",
    "voicemail": "yellow",
    "no-answer": "yellow",
    "wrong-number": "red",
}


def plain(value: object, style: str = "") -> Text:
    """Untrusted text for the terminal: no markup, no escape sequences, no hidden characters."""
    from rich.text import Text

    return Text(visible("" if value is None else str(value)), style=style)


def width() -> int:
    return _console("stdout").width


def when(moment: str | datetime, *, now: datetime | None = None) -> str:
    """A time for a person: UTC to the minute, ``06 Dec 07:50`` (the year only when not this
    one). No local zone: the output may be pasted for others. ``--json`` keeps ISO 8601."""
    at = parse_time(moment) if isinstance(moment, str) else moment.astimezone(UTC)
    this_year = (now or datetime.now(UTC)).year
    return f"{at:%d %b %H:%M}" if at.year == this_year else f"{at:%d %b %Y %H:%M}"


def say(message: str, style: str = "") -> None:
    """A line for the person at the terminal (on stderr, so stdout stays clean data)."""
    _console("stderr").print(plain(message, style))


def prompt(question: str) -> None:
    """A question on stderr without a line break; the answer is read by the caller."""
    _console("stderr").print(plain(question), end="")


def info(message: str) -> None:
    _console("stdout").print(plain(message))


def warn(message: str) -> None:
    from rich.text import Text

    _console("stderr").print(Text.assemble(("warning: ", "yellow bold"), plain(message)))


def error(exc: ProtestError) -> None:
    from rich.text import Text

    _console("stderr").print(Text.assemble(("error: ", "red bold"), plain(exc.message)))
    if exc.hint:
        _console("stderr").print(plain(exc.hint, "dim"))


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    styles: Mapping[int, Mapping[str, str]] | None = None,
) -> Table:
    """A table of untrusted cells; ``styles`` colours column i by its value."""
    from rich.table import Table

    grid = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            style = (styles or {}).get(i, {}).get(str(value), "")
            cells.append(plain(value, style))
        grid.add_row(*cells)
    return grid


def show(renderable: Any) -> None:
    _console("stdout").print(renderable)


def rule(title: str) -> None:
    console = _console("stdout")
    if console.is_terminal:
        from rich.rule import Rule

        console.print(Rule(plain(title), align="left"))
    else:
        _write_plain(visible(f"{title} ----"))


def headers_and_body(headers: Sequence[tuple[str, str]], body: str) -> None:
    """A letter as it reads: lines as written (the terminal wraps them, rich need not)."""
    if not _console("stdout").is_terminal:
        lines = "".join(f"{name}: {visible(value)}\n" for name, value in headers)
        _write_plain(lines + visible(f"\n{body.rstrip()}\n"))
        return
    from rich.text import Text

    text = Text()
    for name, value in headers:
        text.append(f"{name}: ", "bold")
        text.append_text(plain(value))
        text.append("\n")
    text.append_text(plain(f"\n{body.rstrip()}\n"))
    _console("stdout").print(text, soft_wrap=True)


def _write_plain(visible: str) -> None:
    """Text already made visible, to a stdout that is not a terminal (a file, a pipe).

    There rich adds no colour and no wrapping, yet it cost half a millisecond a letter
    in a 10,000-letter dry run; this writes the same characters, tabs expanded as rich
    expands them.
    """
    sys.stdout.write(visible.expandtabs(8) + "\n")


def print_json(data: object) -> None:
    """Machine-readable output, written raw so no console wrapping can change it.

    The one JSON writer of the CLI: readable text stays as it is, but every character
    a terminal would act on or that hides text is escaped (``text.json_visible``).
    """
    sys.stdout.write(json_visible(json.dumps(data, ensure_ascii=False, indent=2)) + "\n")
    sys.stdout.flush()


def print_raw(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
