"""Turn a validated campaign and a sender into letters and call scripts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from protest_dispatch.campaign.audience import Audience, Selected, select
from protest_dispatch.campaign.loading import LoadedCampaign
from protest_dispatch.campaign.message import Letter, make_letter
from protest_dispatch.campaign.model import Sender, Target
from protest_dispatch.campaign.templates import RENDER_SECONDS, LetterRenderer, RenderedLetter
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
    ) -> None:
        self.loaded = loaded
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

    def text(self, selected: Selected) -> RenderedLetter:
        """The one place a target's letter is written, for email and paper alike."""
        return self.renderer.render(
            target=selected.target, line=self.loaded.target_line(selected.index)
        )

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

    def check_all(self) -> list[Checked]:
        """Render every letter once, collecting every problem, before anything is sent.

        Returns a small summary per letter (not the letters: memory must not grow with
        the number of targets).
        """
        problems: list[Problem] = []
        checked = [
            Checked(
                target=letter.target.id,
                recipients=letter.envelope_recipients,
                template=letter.rendered.template,
            )
            for letter in self.each_letter(problems)
        ]
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
                Checked(target=selected.target.id, recipients=(), template=rendered.template)
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
