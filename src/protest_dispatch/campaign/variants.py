"""Variants the organiser writes: ``{% choose %}...{% or %}...{% endchoose %}``.

A letter that thousands send word for word is what receiving filters drop, so a
template may offer alternatives and each sender gets one of them. The choice is
not random: it is a hash of (campaign id, sender address casefolded, target id,
the block's number in its template), so the same sender gets the same letter for
that target in every command and on every run, and across senders the
alternatives come out as evenly as a uniform hash gives. A subject list is
chosen the same way with ``"subject"`` in place of the block number, and the
send spread uses the same hash with its own key.

The tag is a Jinja2 extension inside the sandbox: it adds no global, filter or
test, and reads nothing but the render's own ``campaign``, ``sender`` and
``target`` values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.parser import Parser
from jinja2.runtime import Context

from protest_dispatch.campaign.choice import pick
from protest_dispatch.campaign.fields import MAX_ALTERNATIVES

MAX_BLOCKS = 200
"""``choose`` blocks in one template."""


def choose_subject(
    subjects: str | Sequence[str], *, campaign: str, sender: str, target: str, forcing: Forcing
) -> str:
    """One subject template of a list (or the only one), chosen like a ``choose`` block."""
    if isinstance(subjects, str):
        return subjects
    if forcing.index is not None:
        forcing.widest = max(forcing.widest, len(subjects))
        return subjects[forcing.index % len(subjects)]
    index = pick(
        campaign=campaign, sender=sender, target=target, key="subject", count=len(subjects)
    )
    return subjects[index]


class Forcing:
    """Renders every alternative in turn (``validate``, the originality check).

    With ``index`` set, every block renders its alternative number ``index``
    (modulo its count), and ``widest`` learns how many turns cover them all.
    """

    __slots__ = ("index", "widest")

    def __init__(self) -> None:
        self.index: int | None = None
        self.widest = 1


class _ParseState:
    __slots__ = ("blocks", "inside")

    def __init__(self) -> None:
        self.blocks = 0
        self.inside = False


class ChooseExtension(Extension):
    """``{% choose %}A{% or %}B{% or %}{% endchoose %}`` renders exactly one of A, B, nothing.

    Bounds are syntax errors, so ``validate`` reports them with the template's file
    and line: at most :data:`MAX_ALTERNATIVES` alternatives, :data:`MAX_BLOCKS`
    blocks a template, no block inside a block, no ``{% or %}`` outside one.
    """

    tags = {"choose", "or"}  # noqa: RUF012 - Jinja2's own class attribute, a set by design

    def parse(self, parser: Parser) -> nodes.Node:
        token = next(parser.stream)
        lineno = token.lineno
        if token.value == "or":
            parser.fail(
                "'{% or %}' separates the alternatives of a '{% choose %}' block and "
                "goes only directly between '{% choose %}' and '{% endchoose %}'",
                lineno,
            )
        state = self._state(parser)
        if state.inside:
            parser.fail(
                "a '{% choose %}' block cannot hold another one; write the combinations "
                "out as alternatives of one block",
                lineno,
            )
        state.blocks += 1
        if state.blocks > MAX_BLOCKS:
            parser.fail(
                f"this template has more than {MAX_BLOCKS} '{{% choose %}}' blocks; "
                "split the letter or offer fewer choices",
                lineno,
            )
        alternatives: list[list[nodes.Node]] = []
        state.inside = True
        try:
            while True:
                alternatives.append(parser.parse_statements(("name:or", "name:endchoose")))
                end = next(parser.stream)
                if end.value == "endchoose":
                    break
                if len(alternatives) >= MAX_ALTERNATIVES:
                    parser.fail(
                        f"a '{{% choose %}}' block may offer at most {MAX_ALTERNATIVES} "
                        "alternatives",
                        end.lineno,
                    )
        finally:
            state.inside = False
        return self._render(number=state.blocks, alternatives=alternatives, lineno=lineno)

    def _state(self, parser: Parser) -> _ParseState:
        """Counted per template: each parse has its own Parser."""
        state = getattr(parser, "_protest_choose", None)
        if state is None:
            state = _ParseState()
            parser._protest_choose = state  # type: ignore[attr-defined]  # our mark on its parser
        return state

    def _render(
        self, *, number: int, alternatives: list[list[nodes.Node]], lineno: int
    ) -> nodes.Node:
        """An ``if`` chain on the chosen index: only the chosen alternative runs."""
        count = len(alternatives)
        if count == 1:
            return nodes.Scope(alternatives[0], lineno=lineno)

        def chosen(index: int) -> nodes.Expr:
            call = self.call_method(
                "_pick",
                [nodes.ContextReference(), nodes.Const(number), nodes.Const(count)],
                lineno=lineno,
            )
            return nodes.Compare(call, [nodes.Operand("eq", nodes.Const(index))], lineno=lineno)

        arms = [
            nodes.If(chosen(i), body, [], [], lineno=lineno)
            for i, body in enumerate(alternatives[:-1])
        ]
        first, *others = arms
        first.elif_ = others
        first.else_ = alternatives[-1]
        return first

    def _pick(self, context: Context, number: int, count: int) -> int:
        """The render's own values, not what the template may have set over them."""
        forcing = getattr(self.environment, "variants", None)
        if isinstance(forcing, Forcing) and forcing.index is not None:
            forcing.widest = max(forcing.widest, count)
            return forcing.index % count
        campaign, sender, target = (_id(context, name) for name in ("campaign", "sender", "target"))
        return pick(campaign=campaign, sender=sender, target=target, key=str(number), count=count)


_KEYS = {"campaign": "id", "sender": "email", "target": "id"}


def _id(context: Context, name: str) -> str:
    value: Any = context.parent.get(name)
    key = _KEYS[name]
    if not isinstance(value, dict) or not isinstance(value.get(key), str):
        raise LookupError(f"'{{% choose %}}' needs {name}.{key} to choose an alternative")
    return str(value[key])
