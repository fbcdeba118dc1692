"""Markdown to the HTML part of a letter, which may reference nothing remote.

The activist gets the letter too (the Bcc receipt, ``send --test``). A mail program
that loads remote content would fetch an image from its server and tell the
server's owner the activist's address and IP. So the HTML part holds links, which
a reader must click, but nothing a mail program fetches by itself:

- raw HTML is off (``<img>``, ``<link>``, ``style``, ``<iframe>`` arrive as text);
- the image rule is off, so ``![alt](url)``, reference-style ``![alt][ref]`` and
  ``![alt]`` could only ever come out as a ``!`` and a link;
- letter templates are stricter: :func:`first_image` finds image syntax, and the
  renderer refuses such a letter, with its line, when it is checked;
- ``--note``, the sender's own words given at run time, is never refused: its image
  syntax is escaped (:func:`without_images`) and reads as the text it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

_HTML_PAGE = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n<body>\n{body}</body></html>\n'
)
_parsers: dict[bool, MarkdownIt] = {}


def _parser(*, images: bool) -> MarkdownIt:
    """CommonMark without raw HTML; with the image rule only to find images."""
    parser = _parsers.get(images)
    if parser is None:
        from markdown_it import MarkdownIt

        parser = MarkdownIt("commonmark", {"html": False})
        if not images:
            parser.disable("image")
        _parsers[images] = parser
    return parser


def parse(markdown: str) -> list[Token]:
    """The letter's block tokens, by the same parser as its HTML part (for paper)."""
    return _parser(images=False).parse(markdown)


def render_html(markdown: str) -> str:
    """The HTML part: no raw HTML, no images, only links and text formatting."""
    return _HTML_PAGE.format(body=_parser(images=False).render(markdown))


def without_images(markdown: str | None) -> str | None:
    """Image syntax made text: ``![`` becomes ``!\\[``, which Markdown shows as ``![``."""
    return None if markdown is None else markdown.replace("![", "!\\[")


def first_image(markdown: str) -> int | None:
    """The 1-based line of the first image in ``markdown``, or None if it has none.

    Every Markdown image starts with ``![``, so text without one is not parsed.
    """
    if "![" not in markdown:
        return None
    for block in _parser(images=True).parse(markdown):
        for token in block.children or ():
            if token.type == "image":
                return (block.map[0] + 1) if block.map else 1
    return None
