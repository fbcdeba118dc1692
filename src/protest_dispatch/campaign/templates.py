"""Render letters from untrusted Jinja2 templates.

Templates come with the campaign, so they run in the sandbox of
:mod:`protest_dispatch.campaign.sandbox` with ``StrictUndefined`` (a misspelt
variable is an error, not an empty gap), and are bounded in output size, time and
memory, so a hostile or careless template fails with a message instead of hanging
or exhausting memory; on Linux the address space is also capped while a template
runs, as a backstop for whatever was not foreseen. What a rendered letter may not
hold is checked in :func:`_check_body`.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError

from protest_dispatch.campaign.context import Today
from protest_dispatch.campaign.fields import MAX_SUBJECT, header_safe, shown
from protest_dispatch.campaign.markdown import first_image, without_images
from protest_dispatch.campaign.model import Sender, Target
from protest_dispatch.campaign.originality import NONE, Originality
from protest_dispatch.campaign.sandbox import MAX_LETTER_CHARS, LetterEnvironment
from protest_dispatch.campaign.variants import choose_subject
from protest_dispatch.errors import CampaignError, Problem
from protest_dispatch.text import TERMINAL_CONTROL, codepoint, first_override

RENDER_SECONDS = 5.0
MAX_RENDER_MEMORY = 256 * 1024 * 1024


class _Limit(Exception):
    """A template went over a bound; reported as a problem with that template."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class RenderedLetter:
    template: str
    subject: str
    text: str
    markdown: bool
    own: Originality = NONE
    """How much of it is the sender's own (campaign/originality.py)."""
    edited: Edited | None = None
    """Set when the body is the sender's own version (``protest edit``)."""


@dataclass(frozen=True)
class Edited:
    path: Path
    edited_on: str | None
    campaign_changed: bool
    """The campaign's letter is not the one the sender started from any more."""


class LetterRenderer:
    """Renders every target's subject and letter for one sender."""

    def __init__(
        self,
        *,
        letters_dir: Path,
        campaign_file: Path,
        campaign: dict[str, Any],
        subject: str | tuple[str, ...],
        sender: Sender,
        lang: str | None,
        today: date,
        render_seconds: float = RENDER_SECONDS,
    ) -> None:
        self.letters_dir = letters_dir
        self.render_seconds = render_seconds
        self.campaign_file = campaign_file
        self.env = LetterEnvironment(letters_dir)
        self.campaign = campaign
        self.subject = subject
        self.sender_model = sender
        self.today_date = today
        self.sender = sender.model_dump()
        # The note is the sender's own text, given at run time: in a Markdown letter its
        # image syntax stays text (the letter's own images are refused in _check_body).
        self.markdown_sender = {**self.sender, "note": without_images(sender.note)}
        self.lang = lang
        self.today = Today.of(today)
        self._names: dict[str, str] = {}
        self._subjects: dict[str, jinja2.Template] = {}  # compiled once, not once per target

    def without_note(self) -> LetterRenderer:
        """The same renderer for the same sender without a note: the organiser's text."""
        plain = LetterRenderer(
            letters_dir=self.letters_dir,
            campaign_file=self.campaign_file,
            campaign=self.campaign,
            subject=self.subject,
            sender=self.sender_model.model_copy(update={"note": None}),
            lang=self.lang,
            today=self.today_date,
            render_seconds=self.render_seconds,
        )
        plain._names = self._names
        return plain

    def template_for(self, name: str) -> str:
        """The language variant beside the letter if there is one (name.LL.md.j2)."""
        if name not in self._names:
            chosen = name
            if self.lang:
                folder, slash, base = name.rpartition("/")
                stem, _, ext = base.partition(".")
                variant = f"{folder}{slash}{stem}.{self.lang}.{ext}"
                if (self.letters_dir / variant).is_file():
                    chosen = variant
            self._names[name] = chosen
        return self._names[name]

    def render(self, *, target: Target, line: int | None = None) -> RenderedLetter:
        assert target.template is not None, "only targets with a letter are rendered"
        name = self.template_for(target.template)
        # One bound for subject and body together: arming it costs as much as a small
        # render. The outer _problems catches a timer that fires between the two.
        with (
            self._problems(name=name, target=target, line=line, field="template"),
            self._bound(),
        ):
            context = self._context(target, line=line)
            if name.endswith(".md.j2"):
                context = {**context, "sender": self.markdown_sender}
            text = self._render(name, context, target=target, line=line)
        return RenderedLetter(
            template=name,
            subject=context["campaign"]["subject"],
            text=text,
            markdown=name.endswith(".md.j2"),
        )

    def render_every_variant(self, *, target: Target, line: int | None = None) -> list[str]:
        """The letter's text with each alternative of every block and subject list in turn.

        Turn ``i`` takes alternative ``i`` of every block (modulo its count), so every
        alternative is rendered, and checked, at least once.
        """
        forcing = self.env.variants
        texts: list[str] = []
        try:
            forcing.widest, turn = 1, 0
            while turn < forcing.widest:
                forcing.index = turn
                texts.append(self.render(target=target, line=line).text)
                turn += 1
        finally:
            forcing.index = None
        return texts

    def render_call_script(self, *, target: Target, line: int | None = None) -> str | None:
        if target.call_script is None:
            return None
        name = self.template_for(target.call_script)
        with (
            self._problems(name=name, target=target, line=line, field="template"),
            self._bound(),
        ):
            return self._render(name, self._context(target, line=line), target=target, line=line)

    def render_subject(self, *, target: Target, line: int | None = None) -> str:
        """The target's rendered subject: what a call is about when it has no script."""
        with (
            self._problems(name=None, target=target, line=line, field="subject"),
            self._bound(),
        ):
            subject: str = self._context(target, line=line)["campaign"]["subject"]
        return subject

    def _bound(self) -> _limits:
        return _limits(self.render_seconds)

    def _context(self, target: Target, *, line: int | None) -> dict[str, Any]:
        values = target.model_dump()
        source = choose_subject(
            target.subject or self.subject,
            campaign=self.campaign["id"],
            sender=self.sender["email"],
            target=target.id,
            forcing=self.env.variants,
        )
        base = {"target": values, "sender": self.sender, "today": self.today}
        subject = self._render_string(
            source,
            {**base, "campaign": {**self.campaign, "subject": None}},
            target=target,
            line=line,
        )
        return {**base, "campaign": {**self.campaign, "subject": subject}}

    def _render_string(
        self, source: str, context: dict[str, Any], *, target: Target, line: int | None
    ) -> str:
        with self._problems(name=None, target=target, line=line, field="subject"):
            if source not in self._subjects:
                self._subjects[source] = self.env.from_string(source)
            subject = self._subjects[source].render(context).strip()
            if len(subject) > MAX_SUBJECT:
                raise _Limit(
                    f"the subject is {len(subject)} characters long; keep it under {MAX_SUBJECT}"
                )
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
            parts: list[str] = []
            size = 0
            template = self.env.get_template(name)
            for chunk in template.generate(context):
                size += len(chunk)
                if size > MAX_LETTER_CHARS:
                    raise _Limit(
                        f"the letter grows beyond {MAX_LETTER_CHARS // 1024} KiB; "
                        "check the template's loops"
                    )
                parts.append(chunk)
            text = "".join(parts)
            _check_body(text, markdown=name.endswith(".md.j2"))
            return text
        raise AssertionError("unreachable")  # pragma: no cover - _problems always raises

    @contextmanager
    def _problems(
        self, *, name: str | None, target: Target, line: int | None, field: str
    ) -> Iterator[None]:
        """Turn every way a template can fail into one located, plain-worded problem."""
        try:
            yield
        except (
            _Limit,
            SecurityError,
            jinja2.TemplateError,
            _Timeout,
            ArithmeticError,
            TypeError,
            ValueError,
            LookupError,
            AttributeError,
            RecursionError,
            MemoryError,
        ) as exc:
            file, template_line = self._where(name, exc)
            raise CampaignError(
                [
                    Problem(
                        file=file or self.campaign_file,
                        line=template_line or (line if file is None else None),
                        target=target.id,
                        field=field,
                        message=shown(_explain(exc, name, seconds=self.render_seconds)),
                    )
                ]
            ) from None

    def _where(self, name: str | None, exc: BaseException) -> tuple[Path | None, int | None]:
        if isinstance(exc, jinja2.TemplateSyntaxError) and exc.name:
            return self.letters_dir / exc.name, exc.lineno
        if isinstance(exc, jinja2.TemplateNotFound) and exc.name == name:
            return None, None  # the target's own letter is missing: point at the target
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


def _check_body(text: str, *, markdown: bool) -> None:
    """What a letter may not hold, whoever wrote it: see the module docstring."""
    control = TERMINAL_CONTROL.search(text)
    if control:  # a preview would print it to the activist's terminal
        where = text.count("\n", 0, control.start()) + 1
        raise _Limit(
            f"the letter contains the control character "
            f"U+{ord(control.group()):04X} (on line {where} of the letter); "
            "terminal escape codes and the like are not allowed",
            line=where,
        )
    override = first_override(text)
    if override is not None:
        where = text.count("\n", 0, text.index(override)) + 1
        raise _Limit(
            f"the letter contains {codepoint(override)} (on line {where} of the letter), "
            "which makes the text around it display in another order than it is written; "
            "delete it (the preview shows it as <U+...>)",
            line=where,
        )
    image = first_image(text) if markdown else None
    if image is not None:
        raise _Limit(
            f"the letter shows an image (on line {image} of the letter): a mail program "
            "loads it from its server when the letter is opened, telling that server who "
            "read it; link to it instead, [like this](https://example.org/picture.png)",
            line=image,
        )


def letter_problem(text: str, *, markdown: bool) -> tuple[str, int | None] | None:
    """What is wrong with a letter's text and on which of its lines, if anything."""
    try:
        _check_body(text, markdown=markdown)
    except _Limit as exc:
        return str(exc), exc.line
    return None


_NO_ATTRIBUTE = re.compile(r"'(?:dict|[\w.]*\.Today) object' has no attribute '([^']*)'")


def _plain_undefined(message: str) -> str:
    """Jinja2 speaks of dict objects; say which name the letter used instead."""
    match = _NO_ATTRIBUTE.fullmatch(message)
    return f"the letter uses '{match[1]}', which is not defined" if match else message


def _explain(exc: BaseException, name: str | None, *, seconds: float) -> str:
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"there is no letter '{exc.name}' in the letters/ folder"
    if isinstance(exc, jinja2.UndefinedError):
        return (
            f"{_plain_undefined(exc.message or '')}; check the spelling (letters can use "
            "target, sender, campaign and today, each with the fields the README lists)"
        )
    if isinstance(exc, SecurityError):
        return f"the letter tried something letters may not do: {exc}"
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"the template has a syntax error: {exc.message}"
    if isinstance(exc, _Timeout):
        return f"rendering took longer than {seconds:g} s; check the template's loops"
    if isinstance(exc, RecursionError):
        return "the template calls itself without end"
    if isinstance(exc, MemoryError):
        return (
            f"rendering needs more than {MAX_RENDER_MEMORY // 2**20} MiB of memory; "
            "check the template's loops"
        )
    if isinstance(exc, _Limit):
        return str(exc)
    return f"the template failed: {exc}"


class _Timeout(Exception):
    pass


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise _Timeout


class _limits:  # lower case: used as ``with _limits(seconds):``, like the function it replaced
    """Time and memory bounds for one render, armed and lifted cheaply.

    Main thread only: signals and a process-wide limit cannot be scoped to another
    thread (there the size caps still hold). The address-space cap is a backstop for
    what the size checks do not foresee: one C call must not eat the machine. The
    timer stops before the cap is lifted. This costs ~8 us a letter; nested
    generator-based context managers cost ~19 us, as much as a small render.
    """

    __slots__ = ("_armed", "_previous", "_restore", "_seconds")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    def __enter__(self) -> None:
        self._armed = threading.current_thread() is threading.main_thread()
        if self._armed:
            self._restore = _lower_address_space()
            self._previous = signal.signal(signal.SIGALRM, _on_alarm)
            signal.setitimer(signal.ITIMER_REAL, self._seconds)

    def __exit__(self, *exc_info: object) -> None:
        if not self._armed:
            return
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:  # even if the alarm fires on the way out, the cap must not stay
            signal.signal(signal.SIGALRM, self._previous)
            if self._restore is not None:
                resource.setrlimit(resource.RLIMIT_AS, self._restore)


def _lower_address_space() -> tuple[int, int] | None:
    """Cap RLIMIT_AS at what is in use plus MAX_RENDER_MEMORY; return the limits to restore.

    Linux only: it reads /proc, and other systems do not enforce RLIMIT_AS. A
    tighter limit that someone already set is left alone.
    """
    try:
        statm = os.open("/proc/self/statm", os.O_RDONLY)
        try:
            in_use = int(os.read(statm, 128).split()[0]) * resource.getpagesize()
        finally:
            os.close(statm)
    except (OSError, ValueError, IndexError):
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = in_use + MAX_RENDER_MEMORY
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft != resource.RLIM_INFINITY and soft <= cap:
        return None
    try:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ValueError, OSError):
        return None
    return soft, hard
