"""A letter on paper as plain data: the blocks and lines the typst layout shows as text.

The letter's Markdown (the very text the email carries) becomes paragraphs,
headings, lists and quotes of text spans; a link becomes its text followed by its
address in brackets, since paper cannot be clicked. Nothing here is markup for the
renderer: every string is shown exactly as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from markdown_it.token import Token

Block = dict[str, Any]


@dataclass(frozen=True)
class PaperLetter:
    """Everything one printed letter shows, already rendered and checked."""

    target_id: str
    sender_name: str
    sender_address: tuple[str, ...]
    date: str
    recipient: tuple[str, ...]
    subject: str
    text: str
    markdown: bool
    enclosures: tuple[str, ...] = ()

    def data(self) -> dict[str, Any]:
        body = markdown_blocks(self.text) if self.markdown else text_blocks(self.text)
        body, signature = _signed(body, self.sender_name)
        return {
            "name": self.sender_name,
            "signature": signature,
            "sender": list(self.sender_address),
            "return-line": " · ".join((self.sender_name, *self.sender_address)),
            "date": self.date,
            "recipient": list(self.recipient),
            "subject": self.subject,
            "body": body,
            "enclosures": list(self.enclosures),
            "enclosures-label": ENCLOSURES_LABEL,
        }

    def strings(self) -> list[tuple[str, str]]:
        """Every text the page shows, with what it is (for messages about a character)."""
        return [
            ("your name", self.sender_name),
            ("your postal address", "\n".join(self.sender_address)),
            ("the recipient's name, role and address", "\n".join(self.recipient)),
            ("the subject", self.subject),
            ("the letter", self.text),
            ("the enclosures", "\n".join(self.enclosures)),
        ]


ENCLOSURES_LABEL = "Enclosures:"


def _signed(body: list[Block], name: str) -> tuple[list[Block], str]:
    """The body and the line under the signature space.

    A letter usually ends with the sender's name ("Ana Example, GB"): on paper that
    line moves below the space for the hand signature instead of coming twice.
    """
    if body:
        last = body[-1]
        if last["kind"] == "paragraph":
            text = "".join(str(span.get("text", "")) for span in last["spans"])
        elif last["kind"] == "lines" and len(last["lines"]) == 1:
            text = last["lines"][0]
        else:
            text = ""
        if text.strip().startswith(name) and "\n" not in text:
            return body[:-1], text.strip()
    return body, name


def text_blocks(text: str) -> list[Block]:
    """A plain-text letter: paragraphs at blank lines, each line kept as written."""
    blocks: list[Block] = []
    for chunk in text.replace("\r\n", "\n").split("\n\n"):
        lines = [line.rstrip() for line in chunk.strip("\n").split("\n")]
        if any(lines):
            blocks.append({"kind": "lines", "lines": lines})
    return blocks


def markdown_blocks(text: str) -> list[Block]:
    """CommonMark, as the email's HTML part reads it (no raw HTML, no images)."""
    from protest_dispatch.campaign.markdown import parse

    tokens = parse(text)
    blocks, _ = _blocks(tokens, 0, closing=None)
    return blocks


def _blocks(tokens: list[Token], i: int, *, closing: str | None) -> tuple[list[Block], int]:
    blocks: list[Block] = []
    while i < len(tokens):
        token = tokens[i]
        kind = token.type
        if kind == closing:
            return blocks, i + 1
        if kind in ("paragraph_open", "heading_open"):
            inline = tokens[i + 1]
            spans = _spans(inline.children or [])
            if kind == "heading_open":
                blocks.append({"kind": "heading", "level": int(token.tag[1]), "spans": spans})
            elif spans:
                blocks.append({"kind": "paragraph", "spans": spans})
            i += 3  # open, inline, close
        elif kind in ("bullet_list_open", "ordered_list_open"):
            items: list[list[Block]] = []
            i += 1
            while tokens[i].type == "list_item_open":
                item, i = _blocks(tokens, i + 1, closing="list_item_close")
                items.append(item)
            start = token.attrGet("start")
            blocks.append(
                {
                    "kind": "list",
                    "ordered": kind == "ordered_list_open",
                    "start": int(start) if start is not None else 1,
                    "items": items,
                }
            )
            i += 1  # the list's close
        elif kind == "blockquote_open":
            inner, i = _blocks(tokens, i + 1, closing="blockquote_close")
            blocks.append({"kind": "quote", "blocks": inner})
        elif kind in ("fence", "code_block", "html_block"):
            lines = token.content.rstrip("\n").split("\n")
            blocks.append({"kind": "lines", "lines": lines})
            i += 1
        elif kind == "hr":
            blocks.append({"kind": "rule"})
            i += 1
        else:
            i += 1
    return blocks, i


def _spans(children: list[Token]) -> list[dict[str, Any]]:
    spans: list[dict[str, Any]] = []
    strong = emph = 0
    links: list[tuple[str, int]] = []  # (address, where its text starts in spans)

    def add(text: str) -> None:
        if text:
            spans.append({"text": text, "strong": strong > 0, "emph": emph > 0})

    for token in children:
        kind = token.type
        if kind in ("text", "code_inline", "html_inline"):
            add(token.content)
        elif kind == "softbreak":
            add(" ")
        elif kind == "hardbreak":
            spans.append({"break": True})
        elif kind == "strong_open":
            strong += 1
        elif kind == "strong_close":
            strong -= 1
        elif kind == "em_open":
            emph += 1
        elif kind == "em_close":
            emph -= 1
        elif kind == "link_open":
            links.append((str(token.attrGet("href") or ""), len(spans)))
        elif kind == "link_close" and links:
            address, start = links.pop()
            shown = "".join(str(s.get("text", "")) for s in spans[start:])
            if address and address not in (shown, f"mailto:{shown}"):
                add(f" ({address})")
    return spans
