"""Typeset letters as PDF with typst, which installs from the package index with its fonts.

The layout (``letter.typ``) is our code; the letters are data. Each compile gets
the letters as one JSON string in ``sys.inputs``, which the layout parses and shows
as text, so a letter holding typst's own syntax (``#read("/etc/passwd")``, ``$``,
``@label``, backticks) prints as those characters. The compiler runs in an empty
root folder, with empty package folders, and with the fonts typst embeds only (no
system font, so the same letter gives the same bytes on every machine). typst is
imported here only, when something is printed.
"""

from __future__ import annotations

import json
import tempfile
from bisect import bisect_right
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from protest_dispatch.errors import PrintError
from protest_dispatch.paper.document import PaperLetter
from protest_dispatch.text import codepoint
from protest_dispatch.vocabulary import PaperSize

if TYPE_CHECKING:
    import typst

FONT_FAMILIES = ("New Computer Modern", "New Computer Modern Math", "DejaVu Sans Mono")
"""Tried in this order for each character; all are embedded in typst."""


class Typesetter:
    """One typst compiler for many letters: fonts and layout are loaded once.

    Use as a context manager: it owns the empty folder the compiler runs in.
    """

    def __init__(self, *, paper: PaperSize) -> None:
        self.paper = paper
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._compiler: typst.Compiler | None = None
        self._layout = b""

    def __enter__(self) -> Typesetter:
        import typst

        self._folder = tempfile.TemporaryDirectory(prefix="protest-print-")
        empty = Path(self._folder.name)
        for name in ("root", "packages", "cache"):
            (empty / name).mkdir(mode=0o700)
        layout = files("protest_dispatch.paper").joinpath("letter.typ").read_bytes()
        self._layout = layout
        self._compiler = typst.Compiler(
            root=str(empty / "root"),
            font_paths=[],
            ignore_system_fonts=True,
            package_path=str(empty / "packages"),
            package_cache_path=str(empty / "cache"),
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._compiler = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def pdf(self, letters: Sequence[PaperLetter]) -> bytes:
        """One PDF with every letter, each starting on a new page; raises PrintError."""
        import typst

        assert self._compiler is not None, "use the Typesetter in a with block"
        for letter in letters:
            check_glyphs(letter)
        payload: dict[str, Any] = {
            "paper": self.paper.value,
            "fonts": list(FONT_FAMILIES),
            "title": letters[0].subject if len(letters) == 1 else "Letters",
            "author": letters[0].sender_name,
            "letters": [letter.data() for letter in letters],
        }
        try:
            result = self._compiler.compile(
                input=self._layout,
                format="pdf",
                sys_inputs={"letters": json.dumps(payload, ensure_ascii=False)},
            )
        except typst.TypstError as exc:
            raise PrintError(
                f"The letters could not be typeset: {exc.message}.",
                target=letters[0].target_id,
                hint="This is a bug in protest; please report it with the letter's template.",
            ) from None
        assert isinstance(result, bytes), "typst returns one PDF when no file is named"
        return result


def check_glyphs(letter: PaperLetter) -> None:
    """A character no letter font can draw is an error, never a silent empty box."""
    for what, text in letter.strings():
        missing = first_missing(text)
        if missing is not None:
            line = text.count("\n", 0, text.index(missing)) + 1
            where = f" on line {line}" if what == "the letter" else ""
            raise PrintError(
                f"The letter to {letter.target_id} cannot be printed: {what}{where} contains "
                f"{codepoint(missing)} ('{missing}'), which the letter fonts cannot draw.",
                target=letter.target_id,
                hint="Replace or remove that character (the fonts cover Latin, Greek and "
                "Cyrillic), or send this letter by email.",
            )


def first_missing(text: str) -> str | None:
    """The first character in ``text`` that no letter font draws (line breaks aside)."""
    missing = {char for char in set(text) - {"\n", "\t"} if not _drawn(ord(char))}
    return min(missing, key=text.index) if missing else None


def _drawn(point: int) -> bool:
    from protest_dispatch.paper.glyphs import RANGES, STARTS

    at = bisect_right(STARTS, point) - 1
    return at >= 0 and point <= RANGES[at][1]
