"""The Jinja2 sandbox letters run in: what they may load, read and build.

Templates come with the campaign, so they run in Jinja2's immutable sandbox. They
may load only plain files that really lie inside ``letters/``, read attributes of
plain data only (:mod:`protest_dispatch.campaign.context`), and the operations that
could build a huge value in one uninterruptible C call (``*`` on text, ``%`` and
``format`` widths, ``replace``, ``join``, ``indent``, ``~``) are sized before they run.
"""

from __future__ import annotations

import functools
import os
import re
import stat
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from protest_dispatch.campaign.context import attribute_allowed
from protest_dispatch.campaign.variants import ChooseExtension, Forcing

MAX_LETTER_CHARS = 256 * 1024
MAX_NUMBER = 100_000
MAX_TEMPLATE_BYTES = 1024 * 1024
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _bounded(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
        raise SecurityError(f"the number {value} is larger than letters may use ({MAX_NUMBER})")
    return value


def _too_big(size: int) -> None:
    if size > MAX_LETTER_CHARS:
        raise SecurityError("the template builds a value larger than a letter may be")


def _weight(value: Any) -> int:
    """Roughly how long a value is as text, without building that text (shallow)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | tuple):
        return sum(len(i) if isinstance(i, str | list | tuple) else 1 for i in value)
    return 1


def _check_size(value: Any) -> Any:
    if isinstance(value, str | list | tuple):
        _too_big(len(value))
    return value


def _check_repeat(left: Any, right: Any) -> None:
    """``'x' * n`` is one C call: size it before it runs."""
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(times, int):
            _too_big(_weight(seq) * max(times, 0))


def _width(number: str) -> int:
    return int(number) if len(number) < 10 else MAX_LETTER_CHARS + 1


def _check_percent(template: str) -> None:
    """printf-style widths ('%999999999s') build their padding in one C call."""
    total = 0
    for width, precision in _PERCENT_SPEC.findall(template):
        if "*" in (width, precision):
            raise SecurityError("a '*' width in a % format is not allowed in letters")
        total += _width(width or "0") + _width(precision or "0")
    _too_big(total)


def _check_format(template: str) -> None:
    """str.format widths ('{:>999999999}') likewise; nested fields hide them, so refuse those."""
    total = 0
    for _, field_name, spec, _ in string.Formatter().parse(template):
        if field_name is None or not spec:
            continue
        if "{" in spec:
            raise SecurityError("nested fields in a format specification are not allowed")
        total += sum(_width(n) for n in re.findall(r"\d+", spec))
    _too_big(total)


def _check_replace(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    text, old, new = str(text), str(old), str(new)
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    _too_big(len(text) + found * len(new))


def _collect(items: Any, *, separator: str) -> list[Any]:
    """Gather what a join will glue together, stopping as soon as it is too much."""
    collected: list[Any] = []
    size = 0
    for item in items:
        size += len(separator) + (len(item) if isinstance(item, str) else len(str(item)))
        _too_big(size)
        collected.append(item)
    return collected


def _sized_call(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Size the string methods whose output can dwarf their input; may return new args."""
    owner = getattr(func, "__self__", None)
    if not isinstance(owner, str):
        return args
    name = getattr(func, "__name__", "")
    if name == "replace" and len(args) >= 2:
        _check_replace(owner, *args[:3])
    elif name == "join" and args:
        return (_collect(args[0], separator=owner), *args[1:])
    elif name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tabsize, int):
            _too_big(len(owner) + owner.count("\t") * tabsize)
    return args


def _sized_filter(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Size the filters whose output can dwarf their input; may return new args."""
    if name == "replace" and len(args) >= 4:  # (eval_ctx, s, old, new[, count])
        _check_replace(*args[1:5])
    elif name == "join" and len(args) >= 2 and kwargs.get("attribute") is None:
        separator = str(args[2] if len(args) > 2 else kwargs.get("d", ""))
        return (args[0], _collect(args[1], separator=separator), *args[2:])
    elif name == "indent" and args:  # (s, width=4, ...)
        width = args[1] if len(args) > 1 else kwargs.get("width", 4)
        step = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        text = str(args[0])
        _too_big(len(text) + (text.count("\n") + 1) * max(step, 0))
    elif name == "format" and args:
        _check_percent(str(args[0]))
    return args


def _bounded_filter(func: Callable[..., Any], name: str = "") -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            _bounded(value)
        args = _sized_filter(name, args, kwargs)
        return _check_size(func(*args, **kwargs))

    return wrapper


class _LettersLoader(jinja2.FileSystemLoader):
    """Loads only files that really lie inside letters/, symlinks resolved."""

    def __init__(self, root: Path) -> None:
        # utf-8-sig: a byte order mark from an editor must not end up in the letter
        super().__init__(str(root), encoding="utf-8-sig", followlinks=False)
        self.root = root.resolve()
        self.escapes = not self.root.is_relative_to(root.parent.resolve())

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        parts = template.replace("\\", "/").split("/")
        if template.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            raise SecurityError(f"'{template}' lies outside the letters/ folder")
        if self.escapes:
            raise SecurityError(
                "the letters/ folder is a link to a place outside the campaign's folder"
            )
        path = self.root.joinpath(*parts)
        _refuse_special_file(path, template)
        if path.is_file() and path.stat().st_size > MAX_TEMPLATE_BYTES:
            raise SecurityError(
                f"'{template}' is larger than {MAX_TEMPLATE_BYTES // 1024} KiB; "
                "a letter template is a few pages of text"
            )
        source, filename, uptodate = super().get_source(environment, template)
        if not Path(os.path.realpath(filename)).is_relative_to(self.root):
            raise SecurityError(f"'{template}' leads outside the letters/ folder")
        return source, filename, uptodate


def _refuse_special_file(path: Path, template: str) -> None:
    """A FIFO would block the read for ever, a device never end: refuse them unopened."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # missing: the loader says so in its own words
    if stat.S_ISREG(mode):
        return
    kind = (
        "a named pipe (FIFO)"
        if stat.S_ISFIFO(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a folder"
        if stat.S_ISDIR(mode)
        else "a special file"
    )
    raise SecurityError(
        f"'{template}' is {kind}, not a letter file; a letter must be a plain text file "
        "in the letters/ folder"
    )


class _LetterCodeGenerator(CodeGenerator):
    """Routes ``a ~ b`` through the environment, so it is sized like ``a + b``."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.sized_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class LetterEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with bounds on the arithmetic and calls that build huge strings.

    Immutable: letters never need ``list.append`` or ``dict.update``, and
    ``l.extend(l)`` in a loop doubles a list in C faster than a timer can stop it.
    """

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _LetterCodeGenerator

    def __init__(self, letters_dir: Path) -> None:
        super().__init__(
            loader=_LettersLoader(letters_dir),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,
            extensions=[ChooseExtension],
        )
        self.variants = Forcing()
        self.filters = {name: _bounded_filter(f, name) for name, f in self.filters.items()}
        self.globals["range"] = _bounded_filter(range)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """Only plain data's attributes: nothing that reads the clock, zone or machine."""
        return attribute_allowed(obj, attr) and super().is_safe_attribute(obj, attr, value)

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        if operator in ("*", "**"):
            _bounded(left)
            _bounded(right)
        if operator == "*":
            # checked before multiplying: 'a' * 100000 * 100000 would take 10 GB first
            _check_repeat(left, right)
        if operator == "%" and isinstance(left, str):
            _check_percent(left)
        return _check_size(super().call_binop(context, operator, left, right))

    def call(self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            _bounded(value)
        args = _sized_call(__obj, args, kwargs)
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def sized_concat(self, values: tuple[Any, ...]) -> str:
        parts = [str(value) for value in values]
        _too_big(sum(len(part) for part in parts))
        return "".join(parts)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_format(value.__self__)
        return wrapped
