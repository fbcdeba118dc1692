"""Small campaigns written into tmp_path from strings, and a way to run the CLI on them.

Used by the issue-2 tests (loading, templates, message, preview). Every address
is @example.org; nothing here talks to a network.
"""

from __future__ import annotations

import email
import email.policy
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from email.policy import Policy
from pathlib import Path
from typing import cast

import pytest
from typer.testing import CliRunner, Result

from protest_dispatch.campaign.compose import Composer
from protest_dispatch.campaign.loading import load_campaign
from protest_dispatch.campaign.message import Letter
from protest_dispatch.campaign.model import Sender
from protest_dispatch.cli.app import app
from protest_dispatch.errors import CampaignError, Problem

SENDER = Sender(name="Ana Example", email="ana@example.org", country="GB")
FROM = "Ana Example <ana@example.org>"
TODAY = date(2011, 9, 21)

BASIC = """\
campaign:
  id: free-them
  title: "Free them"
  subject: "Drop the charges, {{ target.name }}"
targets:
  - id: court
    name: "Judge Example"
    role: "Head of the Court"
    email: court@example.org
    template: court.md.j2
"""

BASIC_LETTERS = {
    "court.md.j2": "Dear {{ target.name }},\n\nPlease **drop the charges**.\n\n{{ sender.name }}\n",
}


def write_campaign(
    root: Path, yaml_text: str = BASIC, letters: Mapping[str, str] | None = None
) -> Path:
    """A campaign folder (targets.yaml + letters/) under ``root``; returns the file."""
    root.mkdir(parents=True, exist_ok=True)
    folder = root / "letters"
    folder.mkdir(exist_ok=True)
    for name, text in (BASIC_LETTERS if letters is None else letters).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    path = root / "targets.yaml"
    path.write_text(textwrap.dedent(yaml_text), encoding="utf-8")
    return path


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the n-th line containing ``needle``."""
    found = [n for n, line in enumerate(path.read_text("utf-8").splitlines(), 1) if needle in line]
    assert len(found) >= occurrence, f"{needle!r} is not in {path} {occurrence} time(s)"
    return found[occurrence - 1]


def problems_of(path: Path) -> list[Problem]:
    """Every problem load_campaign reports for the file (it must report some)."""
    with pytest.raises(CampaignError) as caught:
        load_campaign(path=path)
    assert caught.value.problems, "a CampaignError must carry its problems"
    return caught.value.problems


def only_problem(path: Path) -> Problem:
    problems = problems_of(path)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def composer(
    path: Path, *, sender: Sender = SENDER, lang: str | None = None, only: Sequence[str] = ()
) -> Composer:
    return Composer(
        loaded=load_campaign(path=path), sender=sender, lang=lang, only=only, today=TODAY
    )


def letters_of(composer: Composer) -> list[Letter]:
    """Every selected target's letter, rendered (the send path takes them one at a time)."""
    return [composer.letter(selected) for selected in composer.audience.letters]


def render_problems(path: Path, **kwargs: object) -> list[Problem]:
    """Problems found when every letter of a valid campaign file is rendered."""
    with pytest.raises(CampaignError) as caught:
        composer(path, **kwargs).check_all()  # type: ignore[arg-type]
    return caught.value.problems


def parse(data: bytes, *, policy: Policy = email.policy.default) -> EmailMessage:
    return cast(EmailMessage, email.message_from_bytes(data, policy=policy))


@dataclass(frozen=True)
class Run:
    result: Result

    @property
    def code(self) -> int:
        return self.result.exit_code

    @property
    def out(self) -> str:
        return self.result.stdout

    @property
    def err(self) -> str:
        return self.result.stderr


def run_cli(args: Sequence[str], *, expect: int | None = None) -> Run:
    """Invoke ``protest`` in-process; bad input must never end in a traceback."""
    from protest_dispatch.cli import output

    # The consoles read COLUMNS once, at import; keep rows on one line for asserts.
    output.stdout.width = 200
    output.stderr.width = 200
    result = CliRunner().invoke(app, list(args))
    run = Run(result)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(
            f"protest {' '.join(args)} crashed: {result.exception!r}\n{run.out}\n{run.err}"
        ) from result.exception
    assert "Traceback" not in result.output
    if expect is not None:
        assert run.code == expect, f"exit {run.code}, wanted {expect}\n{run.out}\n{run.err}"
    return run
