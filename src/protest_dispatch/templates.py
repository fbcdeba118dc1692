"""Render letters from untrusted Jinja2 templates.

Templates come with the campaign, so they run in Jinja2's sandbox with
``StrictUndefined`` (a misspelt variable is an error, not an empty gap), may
only load files inside ``letters/``, and are bounded in output size, numbers and
time, so a hostile or careless template fails with a message instead of
hanging or exhausting memory.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from .errors import CampaignError, Problem
from .model import MAX_SUBJECT, Sender, Target, header_safe

MAX_LETTER_CHARS = 256 * 1024
MAX_NUMBER = 100_000
RENDER_SECONDS = 5.0


class _Limit(Exception):
    """A template went over a bound; reported as a problem with that template."""


@dataclass(frozen=True)
class RenderedLetter:
    template: str
    subject: str
    text: str
    markdown: bool


def _bounded(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
        raise SecurityError(f"the number {value} is larger than letters may use ({MAX_NUMBER})")
    return value


def _bounded_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            _bounded(value)
        return func(*args, **kwargs)

    return wrapper


class _LettersLoader(jinja2.FileSystemLoader):
    """Loads only files that really lie inside letters/, symlinks resolved."""

    def __init__(self, root: Path) -> None:
        super().__init__(str(root), followlinks=False)
        self.root = root.resolve()

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        parts = template.replace("\\", "/").split("/")
        if template.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            raise SecurityError(f"'{template}' lies outside the letters/ folder")
        source, filename, uptodate = super().get_source(environment, template)
        if not Path(os.path.realpath(filename)).is_relative_to(self.root):
            raise SecurityError(f"'{template}' leads outside the letters/ folder")
        return source, filename, uptodate


class LetterEnvironment(SandboxedEnvironment):
    """The sandbox, with bounds on the arithmetic and calls that build huge strings."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, letters_dir: Path) -> None:
        super().__init__(
            loader=_LettersLoader(letters_dir),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,
        )
        self.filters = {name: _bounded_filter(f) for name, f in self.filters.items()}
        self.globals["range"] = _bounded_filter(range)

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        if operator in ("*", "**"):
            _bounded(left)
            _bounded(right)
        result = super().call_binop(context, operator, left, right)
        if isinstance(result, str | list | tuple) and len(result) > MAX_LETTER_CHARS:
            raise SecurityError("the template builds a value larger than a letter may be")
        return result

    def call(self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            _bounded(value)
        return super().call(__context, __obj, *args, **kwargs)


class LetterRenderer:
    """Renders every target's subject and letter for one sender."""

    def __init__(
        self, *, letters_dir: Path, campaign_file: Path, campaign: dict[str, Any],
        subject: str, sender: Sender, lang: str | None, today: date,
    ) -> None:
        self.letters_dir = letters_dir
        self.campaign_file = campaign_file
        self.env = LetterEnvironment(letters_dir)
        self.campaign = campaign
        self.subject = subject
        self.sender = sender.model_dump()
        self.lang = lang
        self.today = today
        self._names: dict[str, str] = {}

    def template_for(self, name: str) -> str:
        """The language variant beside the letter if there is one (name.LL.md.j2)."""
        if name not in self._names:
            chosen = name
            if self.lang:
                stem, _, ext = name.partition(".")
                variant = f"{stem}.{self.lang}.{ext}"
                if (self.letters_dir / variant).is_file():
                    chosen = variant
            self._names[name] = chosen
        return self._names[name]

    def render(self, *, target: Target, line: int | None = None) -> RenderedLetter:
        assert target.template is not None, "only targets with a letter are rendered"
        name = self.template_for(target.template)
        context = self._context(target, line=line)
        text = self._render(name, context, target=target, line=line)
        return RenderedLetter(
            template=name, subject=context["campaign"]["subject"], text=text,
            markdown=name.endswith(".md.j2"),
        )

    def render_call_script(self, *, target: Target, line: int | None = None) -> str | None:
        if target.call_script is None:
            return None
        name = self.template_for(target.call_script)
        return self._render(name, self._context(target, line=line), target=target, line=line)

    def _context(self, target: Target, *, line: int | None) -> dict[str, Any]:
        values = target.model_dump()
        source = target.subject or self.subject
        base = {"target": values, "sender": self.sender, "today": self.today}
        subject = self._render_string(
            source, {**base, "campaign": {**self.campaign, "subject": None}},
            target=target, line=line,
        )
        return {**base, "campaign": {**self.campaign, "subject": subject}}

    def _render_string(
        self, source: str, context: dict[str, Any], *, target: Target, line: int | None
    ) -> str:
        with self._problems(name=None, target=target, line=line, field="subject"):
            with _time_limit():
                subject = self.env.from_string(source).render(context).strip()
            if len(subject) > MAX_SUBJECT:
                raise _Limit(f"the subject is {len(subject)} characters long; "
                             f"keep it under {MAX_SUBJECT}")
            if not subject:
                raise _Limit("the subject is empty")
            try:
                header_safe(subject)
            except ValueError as exc:
                raise _Limit(f"the rendered subject {exc}") from None
        return subject

    def _render(
        self, name: str, context: dict[str, Any], *, target: Target, line: int | None
    ) -> str:
        with self._problems(name=name, target=target, line=line, field="template"):
            template = self.env.get_template(name)
            parts: list[str] = []
            size = 0
            with _time_limit():
                for chunk in template.generate(context):
                    size += len(chunk)
                    if size > MAX_LETTER_CHARS:
                        raise _Limit(f"the letter grows beyond {MAX_LETTER_CHARS // 1024} KiB; "
                                     "check the template's loops")
                    parts.append(chunk)
            return "".join(parts)
        raise AssertionError("unreachable")  # pragma: no cover - _problems always raises

    @contextmanager
    def _problems(
        self, *, name: str | None, target: Target, line: int | None, field: str
    ) -> Iterator[None]:
        """Turn every way a template can fail into one located, plain-worded problem."""
        try:
            yield
        except (_Limit, SecurityError, jinja2.TemplateError, _Timeout, ArithmeticError,
                TypeError, ValueError, LookupError, AttributeError, RecursionError) as exc:
            file, template_line = self._where(name, exc)
            raise CampaignError([Problem(
                file=file or self.campaign_file,
                line=template_line or (line if file is None else None),
                target=target.id, field=field, message=_explain(exc, name),
            )]) from None

    def _where(self, name: str | None, exc: BaseException) -> tuple[Path | None, int | None]:
        if isinstance(exc, jinja2.TemplateSyntaxError) and exc.name:
            return self.letters_dir / exc.name, exc.lineno
        if isinstance(exc, jinja2.TemplateNotFound):
            return None, None
        if name is None:
            return None, None
        found: tuple[Path | None, int | None] = (self.letters_dir / name, None)
        tb: TracebackType | None = exc.__traceback__
        while tb is not None:
            filename = tb.tb_frame.f_code.co_filename
            if filename.startswith(str(self.letters_dir)):
                found = (Path(filename), tb.tb_lineno)
            tb = tb.tb_next
        return found


def _explain(exc: BaseException, name: str | None) -> str:
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"there is no letter '{exc.name}' in the letters/ folder"
    if isinstance(exc, jinja2.UndefinedError):
        return (f"{exc.message}; check the spelling (letters can use target, sender, "
                "campaign and today)")
    if isinstance(exc, SecurityError):
        return f"the letter tried something letters may not do: {exc}"
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"the template has a syntax error: {exc.message}"
    if isinstance(exc, _Timeout):
        return f"rendering took longer than {RENDER_SECONDS:.0f} s; check the template's loops"
    if isinstance(exc, RecursionError):
        return "the template calls itself without end"
    if isinstance(exc, _Limit):
        return str(exc)
    return f"the template failed: {exc}"


class _Timeout(Exception):
    pass


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise _Timeout


@contextmanager
def _time_limit() -> Iterator[None]:
    """Interrupt runaway loops; only the main thread can take signals, elsewhere size caps hold."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, RENDER_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
