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
from typing import TYPE_CHECKING

from protest_dispatch.errors import ProtestError
from protest_dispatch.sendlog.records import parse_time
from protest_dispatch.text import json_visible, visible
from protest_dispatch.vocabulary import CallOutcome, LetterStatus

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
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


STATUS_STYLES: dict[str, str] = {
    LetterStatus.SENT: "green",
    LetterStatus.SENDING: "yellow",
    LetterStatus.DEFERRED: "yellow",
    LetterStatus.FAILED: "red",
    LetterStatus.UNCERTAIN: "magenta",
    CallOutcome.REACHED: "green",
    CallOutcome.VOICEMAIL: "yellow",
    CallOutcome.NO_ANSWER: "yellow",
    CallOutcome.WRONG_NUMBER: "red",
}
"""How each letter status and call outcome is coloured in tables."""


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


def line(message: str) -> None:
    """One line of untrusted text that stays one line: cut with an ellipsis at the
    terminal's edge, whole in a pipe or a file (cron mail, grep)."""
    console = _console("stdout")
    if console.is_terminal:
        console.print(plain(message), no_wrap=True, overflow="ellipsis", crop=True)
    else:
        _write_plain(visible(message))


def paragraph(message: str) -> None:
    """Untrusted text to read or paste: wrapped between words on a terminal, with the
    lines as they are in a pipe or a file."""
    console = _console("stdout")
    if console.is_terminal:
        console.print(plain(message))
    else:
        _write_plain(visible(message))


def warn(message: str) -> None:
    from rich.text import Text

    _console("stderr").print(Text.assemble(("warning: ", "yellow bold"), plain(message)))


def error(exc: ProtestError) -> None:
    from rich.text import Text

    _console("stderr").print(Text.assemble(("error: ", "red bold"), plain(exc.message)))
    if exc.hint:
        _console("stderr").print(plain(exc.hint, "dim"))


PROSE = frozenset(
    {
        "error",
        "last error",
        "reason",
        "what happened",
        "note",
        "latest finding",
        "subject",
        "details",
        "recipients",
        "channel",
        "state",
        "outcome",
        "",
    }
)
"""Columns of words, which wrap between words. Every other column holds one token (a
slug, an address, a date, a number) that is never broken nor cut."""


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    styles: Mapping[int, Mapping[str, str]] | None = None,
) -> RenderableType:
    """A table of untrusted cells; ``styles`` colours column i by its value.

    No word is ever broken: a column of tokens (slugs, addresses, dates) keeps its
    width, and columns of words (``PROSE``) wrap between words. A column empty in every
    row is left out. When the tokens alone do not fit the terminal, each row becomes a
    short block of ``column: value`` lines instead.
    """
    from rich.cells import cell_len
    from rich.table import Table

    cells = [
        [plain(value, (styles or {}).get(i, {}).get(str(value), "")) for i, value in enumerate(row)]
        for row in rows
    ]
    shown = [i for i in range(len(columns)) if any(row[i].plain for row in cells)] or [0]
    natural = {
        i: max([cell_len(columns[i]), *(cell_len(row[i].plain) for row in cells)]) for i in shown
    }
    least = {
        i: min(natural[i], max(PROSE_MIN, *(_longest_word(row[i].plain) for row in cells)))
        if columns[i] in PROSE
        else natural[i]
        for i in shown
    }
    room = width() - 3 * len(shown) - 1  # rich's box: a rule and two spaces a column
    if sum(least.values()) > room:
        return _blocks(
            title, [columns[i] for i in shown], [[row[i] for i in shown] for row in cells]
        )
    widths = _share(natural, least, room=room)
    grid = Table(title=title, title_justify="left", show_lines=False)
    for i in shown:
        prose = columns[i] in PROSE
        grid.add_column(columns[i], width=widths[i], no_wrap=not prose, overflow="fold")
    for row in cells:
        grid.add_row(*(row[i] for i in shown))
    return grid


PROSE_MIN = 12
"""The narrowest a column of words gets before the table becomes blocks."""


def _longest_word(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(word) for word in text.split()), default=0)


def _share(natural: Mapping[int, int], least: Mapping[int, int], *, room: int) -> dict[int, int]:
    """Each column its least width, then the room left to the columns that want more,
    in even shares, up to their natural width."""
    widths = dict(least)
    growing = sorted(
        (i for i in widths if natural[i] > least[i]), key=lambda i: natural[i] - least[i]
    )
    spare = room - sum(widths.values())
    for n, i in enumerate(growing):
        share = min(natural[i] - widths[i], spare // (len(growing) - n))
        widths[i] += share
        spare -= share
    return widths


def _blocks(
    title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Text]]
) -> RenderableType:
    """Rows as blocks: the first cell as a heading, then one ``column: value`` line each."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    parts: list[RenderableType] = []
    if title:
        parts.append(Text(title, style="italic"))
    for row in rows:
        heading = row[0].copy()
        heading.stylize("bold")
        parts.append(heading)
        for column, cell in zip(columns[1:], row[1:], strict=True):
            if cell.plain:  # wrapped lines stay indented under the heading
                parts.append(Padding(Text.assemble((f"{column}: ", "dim"), cell), (0, 0, 0, 2)))
    return Group(*parts)


def show(renderable: RenderableType) -> None:
    _console("stdout").print(renderable)


def rule(title: str) -> None:
    console = _console("stdout")
    if console.is_terminal:
        from rich.rule import Rule

        console.print(Rule(plain(title), align="left"))
    else:
        _write_plain(visible(f"{title} ----"))


def headers_and_body(
    headers: Sequence[tuple[str, str]], body: str, *, wrap_words: bool = False
) -> None:
    """A letter as it reads: lines as written (the terminal wraps them, rich need not).

    ``wrap_words`` (a reply read as a page): on a terminal, lines wrap between words.
    """
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
    _console("stdout").print(text, soft_wrap=not wrap_words)


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
