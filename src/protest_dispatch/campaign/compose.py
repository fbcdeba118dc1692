"""Turn a validated campaign and a sender into letters and call scripts."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from protest_dispatch.campaign.audience import Audience, Selected, select
from protest_dispatch.campaign.edits import Edit, EditFileError, EditStore, fingerprint
from protest_dispatch.campaign.loading import LoadedCampaign
from protest_dispatch.campaign.markdown import without_images
from protest_dispatch.campaign.message import Letter, make_letter
from protest_dispatch.campaign.model import Sender, Target
from protest_dispatch.campaign.originality import (
    Originality,
    Reference,
    body_originality,
    body_words,
    note_span,
    noted_originality,
    shingles,
    words,
)
from protest_dispatch.campaign.templates import (
    RENDER_SECONDS,
    Edited,
    LetterRenderer,
    RenderedLetter,
    letter_problem,
)
from protest_dispatch.errors import CampaignError, Problem

PLACEHOLDER_SENDER = Sender(name="Your Name", email="you@example.org")


@dataclass(frozen=True)
class CallToMake:
    target: Target
    script: str


@dataclass(frozen=True)
class Checked:
    target: str
    recipients: tuple[str, ...]
    template: str
    own: Originality
    edited: Edited | None = None


class Composer:
    """Renders each selected target's letter for one sender, one at a time."""

    def __init__(
        self,
        *,
        loaded: LoadedCampaign,
        sender: Sender,
        lang: str | None = None,
        only: Sequence[str] = (),
        today: date | None = None,
        copy_me: bool = False,
        render_seconds: float = RENDER_SECONDS,
        edits: EditStore | None = None,
    ) -> None:
        self.loaded = loaded
        self.edits = edits
        self.sender = sender
        self.copy_me = copy_me
        info = loaded.campaign.campaign
        self.audience: Audience = select(
            campaign=loaded.campaign, country=sender.country, only=only
        )
        self.renderer = LetterRenderer(
            letters_dir=loaded.letters_dir,
            campaign_file=loaded.path,
            campaign={"id": info.id, "title": info.title},
            subject=info.subject,
            sender=sender,
            lang=lang,
            today=today or datetime.now(UTC).date(),
            render_seconds=render_seconds,
        )
        self._plain: LetterRenderer | None = None
        self._others: dict[str, frozenset[str]] = {}
        """Per template: shingles of every alternative (other senders' letters)."""
        self._cuts: dict[str, bool] = {}
        """Per template: whether cutting the note out gives the letter without it."""

    def text(self, selected: Selected) -> RenderedLetter:
        """The one place a target's letter is written, for email and paper alike: the
        sender's variants, their own version if they wrote one, and its own share."""
        line = self.loaded.target_line(selected.index)
        rendered = self.renderer.render(target=selected.target, line=line)
        edit = self._edit(selected)
        if edit is not None:
            rendered = self._use_edit(selected, rendered, edit, line=line)
        if self.sender.note or edit is not None:
            rendered = replace(rendered, own=self._own(selected, rendered, line=line))
        return rendered

    def letter(self, selected: Selected) -> Letter:
        info = self.loaded.campaign.campaign
        rendered = self.text(selected)
        return make_letter(
            target=selected.target,
            sender=self.sender,
            campaign_cc=info.cc,
            reply_to=info.reply_to,
            rendered=rendered,
            campaign_file=self.loaded.path,
            bcc=(self.sender.email,) if self.copy_me else (),
            attachments=self.loaded.attachments_for(selected.target),
        )

    def _own(
        self, selected: Selected, rendered: RenderedLetter, *, line: int | None
    ) -> Originality:
        """Compared with this sender's letter without the note, and every alternative.

        Rendering the letter again without the note would double a dry run's cost, so
        where the note's words are in the letter once, the rest is taken as the letter
        without it (the first letter of each template checks that this holds).
        """
        if self._plain is None:
            self._plain = self.renderer.without_note()
        target, name = selected.target, rendered.template
        body = body_words(rendered.text)
        span = note_span(body, self._note_words(markdown=rendered.markdown))
        if name not in self._others:
            turns = self._plain.render_every_variant(target=target, line=line)
            self._others[name] = frozenset().union(*(shingles(words(t)) for t in turns))
        if span is not None and rendered.edited is None:
            if name not in self._cuts:
                plain = body_words(self._plain.render(target=target, line=line).text)
                self._cuts[name] = body[: span[0]] + body[span[1] :] == plain
            if self._cuts[name]:
                return noted_originality(body, span=span, more=self._others[name])
        plain_text = self._plain.render(target=target, line=line).text
        reference = Reference([plain_text], more=self._others[name])
        return body_originality(body, reference=reference)

    def _edit(self, selected: Selected) -> Edit | None:
        if self.edits is None:
            return None
        target = selected.target.id
        try:
            return self.edits.load(target)
        except EditFileError as exc:
            raise CampaignError(
                [
                    Problem(
                        file=exc.path,
                        line=exc.line,
                        target=target,
                        field="your version",
                        message=f"your version of this letter {exc}",
                    )
                ]
            ) from None

    def _use_edit(
        self, selected: Selected, rendered: RenderedLetter, edit: Edit, *, line: int | None
    ) -> RenderedLetter:
        """The sender's own text as the body (not a template), the note before the sign-off."""
        note = self.sender.note
        printed = (without_images(note) if rendered.markdown else note) if note else None
        text = with_note(edit.text, printed)
        problem = letter_problem(text, markdown=rendered.markdown)
        if problem is not None:
            message, where = problem
            raise CampaignError(
                [
                    Problem(
                        file=edit.path,
                        line=where,
                        target=selected.target.id,
                        field="your version",
                        message=message,
                    )
                ]
            )
        if self._plain is None:
            self._plain = self.renderer.without_note()
        organisers = self._plain.render(target=selected.target, line=line).text
        changed = edit.base is not None and fingerprint(organisers) != edit.base
        mark = Edited(path=edit.path, edited_on=edit.edited_on, campaign_changed=changed)
        return replace(rendered, text=text, edited=mark)

    def campaign_text(self, selected: Selected) -> str:
        """This sender's letter as the campaign writes it, without the note."""
        if self._plain is None:
            self._plain = self.renderer.without_note()
        line = self.loaded.target_line(selected.index)
        return self._plain.render(target=selected.target, line=line).text

    @functools.cache  # noqa: B019 - one composer a run; two entries at most
    def _note_words(self, *, markdown: bool) -> list[str]:
        """The note's words as the letter prints it (a Markdown letter: images as text)."""
        note = self.sender.note or ""
        return words((without_images(note) or "") if markdown else note)

    def _check_variants(self, problems: list[Problem]) -> None:
        """Render every alternative; a letter without any (one turn) is done already, so
        the other targets of its template and subject are skipped: validate stays fast."""
        plain: set[tuple[str, bool]] = set()
        for selected in self.audience.letters:
            target = selected.target
            subjects = target.subject or self.loaded.campaign.campaign.subject
            key = (self.renderer.template_for(target.template or ""), isinstance(subjects, str))
            if key in plain:
                continue
            try:
                if len(self.variant_texts(selected)) == 1:
                    plain.add(key)
            except CampaignError as exc:
                problems.extend(exc.problems)

    def variant_texts(self, selected: Selected) -> list[str]:
        """The target's letter with every alternative in turn (see render_every_variant)."""
        return self.renderer.render_every_variant(
            target=selected.target, line=self.loaded.target_line(selected.index)
        )

    def language_fallbacks(self) -> tuple[str, ...]:
        """Targets whose letter has no variant in the ``--lang`` asked for, by id."""
        if self.renderer.lang is None:
            return ()
        return tuple(
            s.target.id
            for s in self.audience.letters
            if s.target.template is not None
            and self.renderer.template_for(s.target.template) == s.target.template
        )

    def calls(self) -> list[CallToMake]:
        return [
            CallToMake(target=s.target, script=self.call_script(s)) for s in self.audience.calls
        ]

    def call_script(self, selected: Selected) -> str:
        """The campaign's call script for this target, or a short one built from the subject."""
        target = selected.target
        line = self.loaded.target_line(selected.index)
        rendered = self.renderer.render_call_script(target=target, line=line)
        if rendered is not None:
            return rendered.strip()
        subject = self.renderer.render_subject(target=target, line=line)
        whom = target.name + (f", {target.role}" if target.role else "")
        origin = f", calling from {self.sender.country}" if self.sender.country else ""
        return (
            f"Hello, my name is {self.sender.name}{origin}. I am calling about this: "
            f"{subject}. Please pass my message on to {whom}, and ask them to act on it. "
            "Thank you."
        )

    def each_letter(self, problems: list[Problem]) -> Iterator[Letter]:
        """Every letter that renders, one at a time; what does not goes to ``problems``."""
        for selected in self.audience.letters:
            try:
                yield self.letter(selected)
            except CampaignError as exc:
                problems.extend(exc.problems)

    def checked_calls(self, problems: list[Problem]) -> list[CallToMake]:
        try:
            return self.calls()
        except CampaignError as exc:
            problems.extend(exc.problems)
            return []

    def check_all(self, *, every_variant: bool = False) -> list[Checked]:
        """Render every letter once, collecting every problem, before anything is sent.

        With ``every_variant`` (``validate``), also every alternative other senders may
        get. Returns a small summary per letter (not the letters: memory must not grow
        with the number of targets).
        """
        problems: list[Problem] = []
        checked = [
            Checked(
                target=letter.target.id,
                recipients=letter.envelope_recipients,
                template=letter.rendered.template,
                own=letter.rendered.own,
                edited=letter.rendered.edited,
            )
            for letter in self.each_letter(problems)
        ]
        if every_variant and not problems:
            self._check_variants(problems)
        self.checked_calls(problems)
        raise_problems(problems)
        return checked

    def check_paper(self) -> list[Checked]:
        """Render every letter to print that is not also an email, collecting every problem."""
        problems: list[Problem] = []
        checked: list[Checked] = []
        for selected in self.audience.paper:
            if selected.target.email is not None:
                continue  # checked as an email already
            try:
                rendered = self.text(selected)
            except CampaignError as exc:
                problems.extend(exc.problems)
                continue
            checked.append(
                Checked(
                    target=selected.target.id,
                    recipients=(),
                    template=rendered.template,
                    own=rendered.own,
                    edited=rendered.edited,
                )
            )
        raise_problems(problems)
        return checked


def raise_problems(problems: list[Problem]) -> None:
    if problems:
        raise CampaignError(_collapse(problems))


def _collapse(problems: list[Problem]) -> list[Problem]:
    """One line per fault in a letter, not one per target that uses the letter."""
    groups: dict[tuple[object, ...], list[Problem]] = {}
    for problem in problems:
        key = (problem.file, problem.line, problem.field, problem.message)
        groups.setdefault(key, []).append(problem)
    collapsed = []
    for same in groups.values():
        first = same[0]
        if len(same) > 1 and first.target is not None:
            first = replace(first, others=len(same) - 1)
        collapsed.append(first)
    return collapsed


def with_note(text: str, note: str | None) -> str:
    """The sender's version with their note, as its own paragraph before the sign-off."""
    if not note:
        return text
    lines = text.rstrip("\n").split("\n")
    filled = [i for i, line in enumerate(lines) if line.strip()]
    for index in reversed(filled[-4:]):
        if lines[index].rstrip().endswith(",") and len(lines[index].split()) <= 4:
            return "\n".join([*lines[:index], note, "", *lines[index:]]) + "\n"
    return "\n".join([*lines, "", note]) + "\n"
