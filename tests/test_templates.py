"""Letters: the sandbox, strict variables, letters/ as the only root, languages (issue 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit import ANA, BASIC, FROM, TODAY, cli, composer, line_of, render_problems, write_campaign
from protest_dispatch.campaign.model import Sender

TWO_LETTERS = """\
campaign:
  id: free-them
  subject: "Drop the charges"
targets:
  - id: court
    name: "Judge Example"
    email: court@example.org
    template: court.md.j2
  - id: ministry
    name: "The Ministry"
    email: ministry@example.org
    template: ministry.txt.j2
"""


def test_misspelt_variable_names_the_letter_and_its_line(tmp_path: Path) -> None:
    path = write_campaign(
        tmp_path,
        letters={
            "court.md.j2": "Dear {{ target.name }},\n\nPlease act.\n\n{{ sendr.name }}\n",
        },
    )
    [problem] = render_problems(path)
    assert problem.file == tmp_path / "letters" / "court.md.j2"
    assert problem.line == 5
    assert (problem.target, problem.field) == ("court", "template")
    assert "'sendr' is undefined" in problem.message


def test_misspelt_attribute_is_an_error_not_a_gap(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, letters={"court.md.j2": "Dear {{ target.nmae }},\n"})
    [problem] = render_problems(path)
    assert (problem.file, problem.line) == (tmp_path / "letters" / "court.md.j2", 1)
    assert "nmae" in problem.message


def test_misspelt_variable_in_subject_names_the_campaign_file(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, BASIC.replace("{{ target.name }}", "{{ target.nmae }}"))
    [problem] = render_problems(path)
    assert problem.file == path
    assert problem.line == line_of(path, "- id: court")
    assert (problem.target, problem.field) == ("court", "subject")
    assert "nmae" in problem.message


def test_every_letter_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = write_campaign(
        tmp_path,
        TWO_LETTERS,
        letters={
            "court.md.j2": "{{ nope }}\n",
            "ministry.txt.j2": "{% if %}\n",
        },
    )
    problems = render_problems(path)
    assert {(p.target, p.file.name) for p in problems} == {
        ("court", "court.md.j2"),
        ("ministry", "ministry.txt.j2"),
    }


def test_one_fault_in_a_shared_letter_is_one_problem_naming_how_many_targets(
    tmp_path: Path,
) -> None:
    shared = TWO_LETTERS.replace("ministry.txt.j2", "court.md.j2")
    path = write_campaign(tmp_path, shared, letters={"court.md.j2": "Dear {{ target.nmae }}\n"})
    [problem] = render_problems(path)
    assert (problem.target, problem.others) == ("court", 1)
    assert "target 'court' (and 1 more)" in str(problem)
    assert "the letter uses 'nmae', which is not defined" in problem.message


def test_missing_letter_file_is_a_problem(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, letters={})
    [problem] = render_problems(path)
    assert (problem.target, problem.field) == ("court", "template")
    assert "no letter 'court.md.j2'" in problem.message


@pytest.mark.parametrize("name", ["../outside.md.j2", "sub/../../outside.md.j2", "ABSOLUTE"])
def test_template_outside_letters_is_refused(tmp_path: Path, name: str) -> None:
    outside = tmp_path / "outside.md.j2"
    outside.write_text("SECRET {{ target.name }}\n", encoding="utf-8")
    name = str(outside) if name == "ABSOLUTE" else name
    path = write_campaign(
        tmp_path / "campaign", BASIC.replace("template: court.md.j2", f'template: "{name}"')
    )
    [problem] = render_problems(path)
    assert (problem.target, problem.field) == ("court", "template")
    assert "outside the letters/ folder" in problem.message
    run = cli(["send", "--dry-run", "-t", str(path)], expect=2)
    assert "SECRET" not in run.out + run.err
    assert "outside the letters/ folder" in run.err


def test_include_that_leaves_letters_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("SECRET\n", encoding="utf-8")
    path = write_campaign(
        tmp_path / "campaign",
        letters={
            "court.md.j2": "Dear {{ target.name }},\n{% include '../secret.txt' %}\n",
        },
    )
    [problem] = render_problems(path)
    assert problem.file == tmp_path / "campaign" / "letters" / "court.md.j2"
    assert "outside the letters/ folder" in problem.message
    run = cli(["validate", "-t", str(path)], expect=2)
    assert "SECRET" not in run.out + run.err


def test_symlink_out_of_letters_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("SECRET\n", encoding="utf-8")
    path = write_campaign(
        tmp_path / "campaign",
        letters={
            "court.md.j2": "{% include 'part.txt' %}\n",
        },
    )
    (tmp_path / "campaign" / "letters" / "part.txt").symlink_to(tmp_path / "secret.txt")
    [problem] = render_problems(path)
    assert "outside the letters/ folder" in problem.message


def test_include_inside_letters_works(tmp_path: Path) -> None:
    path = write_campaign(
        tmp_path,
        letters={
            "court.md.j2": "{% include 'parts/demands.txt' %}Yours, {{ sender.name }}\n",
            "parts/demands.txt": "Drop the charges against {{ target.name }}.\n",
        },
    )
    [letter] = composer(path).letters()
    assert letter.rendered.text == "Drop the charges against Judge Example.\nYours, Ana Example\n"


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ target.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
        "{{ ('a' * 100000) * 100000 }}",
    ],
)
def test_sandbox_violation_is_a_validation_error(tmp_path: Path, body: str) -> None:
    path = write_campaign(tmp_path, letters={"court.md.j2": f"Dear judge,\n{body}\n"})
    [problem] = render_problems(path)
    assert (problem.target, problem.field) == ("court", "template")
    assert problem.file == tmp_path / "letters" / "court.md.j2"
    run = cli(["validate", "-t", str(path)], expect=2)
    assert "court.md.j2" in run.err


LANG_LETTERS = {
    "court.md.j2": "Dear {{ target.name }},\n",
    "court.ru.md.j2": "Уважаемая {{ target.name }},\n",
    "ministry.txt.j2": "To the ministry.\n",
}


def test_lang_picks_the_variant_and_falls_back(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, TWO_LETTERS, letters=LANG_LETTERS)
    court, ministry = composer(path, lang="ru").letters()
    assert court.rendered.template == "court.ru.md.j2"
    assert court.rendered.text == "Уважаемая Judge Example,\n"
    assert ministry.rendered.template == "ministry.txt.j2"
    assert ministry.rendered.text == "To the ministry.\n"
    english, _ = composer(path).letters()
    assert english.rendered.template == "court.md.j2"


def test_lang_variant_in_a_dotted_subfolder(tmp_path: Path) -> None:
    path = write_campaign(
        tmp_path,
        BASIC.replace("template: court.md.j2", "template: v1.0/court.md.j2"),
        letters={"v1.0/court.md.j2": "English\n", "v1.0/court.ru.md.j2": "Русский\n"},
    )
    [letter] = composer(path, lang="ru").letters()
    assert (letter.rendered.template, letter.rendered.text) == ("v1.0/court.ru.md.j2", "Русский\n")


@pytest.mark.parametrize("how", ["option", "env"])
def test_lang_from_the_cli_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    path = write_campaign(tmp_path, TWO_LETTERS, letters=LANG_LETTERS)
    args = ["send", "--dry-run", "-t", str(path), "--from", FROM]
    if how == "option":
        args += ["--lang", "ru"]
    else:
        monkeypatch.setenv("PROTEST_LANG", "ru")
    run = cli(args, expect=0)
    assert "Уважаемая Judge Example," in run.out
    assert "court.ru.md.j2" in run.out
    assert "To the ministry." in run.out


def test_bad_language_code_is_exit_2(tmp_path: Path) -> None:
    path = write_campaign(tmp_path)
    run = cli(["send", "--dry-run", "-t", str(path), "--lang", "../x"], expect=2)
    assert "language" in run.err


def test_letters_see_target_sender_campaign_and_today(tmp_path: Path) -> None:
    path = write_campaign(
        tmp_path,
        """\
        campaign:
          id: free-them
          title: "Free them"
          subject: "Drop the charges, {{ target.role }}"
        targets:
          - id: court
            name: "Judge Example"
            role: "Head of the Court"
            email: court@example.org
            phone: "+44 20 7946 0000"
            country: GB
            template: court.txt.j2
        """,
        letters={
            "court.txt.j2": (
                "{{ target.id }}|{{ target.name }}|{{ target.role }}|{{ target.email }}|"
                "{{ target.phone }}|{{ target.country }}\n"
                "{{ sender.name }}|{{ sender.email }}|{{ sender.country }}\n"
                "{{ campaign.id }}|{{ campaign.title }}|{{ campaign.subject }}\n"
                "{{ today.isoformat() }}|{{ today.year }}\n"
            )
        },
    )
    [letter] = composer(path).letters()
    assert letter.rendered.text.splitlines() == [
        "court|Judge Example|Head of the Court|court@example.org|+44 20 7946 0000|GB",
        "Ana Example|ana@example.org|GB",
        "free-them|Free them|Drop the charges, Head of the Court",
        f"{TODAY.isoformat()}|2011",
    ]
    assert letter.subject == "Drop the charges, Head of the Court"


def test_target_subject_overrides_the_campaign_subject(tmp_path: Path) -> None:
    path = write_campaign(
        tmp_path,
        BASIC.replace("    template:", '    subject: "For {{ target.role }} only"\n    template:'),
    )
    [letter] = composer(path).letters()
    assert letter.subject == "For Head of the Court only"


def test_no_autoescaping_in_letters(tmp_path: Path) -> None:
    path = write_campaign(
        tmp_path,
        TWO_LETTERS.replace('"The Ministry"', '"Smith & Sons <Legal>"'),
        letters={
            "court.md.j2": "A & B\n",
            "ministry.txt.j2": 'To {{ target.name }}: 1 < 2 & "q"\n',
        },
    )
    court, ministry = composer(path).letters()
    assert ministry.rendered.text == 'To Smith & Sons <Legal>: 1 < 2 & "q"\n'
    assert court.rendered.text == "A & B\n"


def test_sender_note_reaches_the_letter(tmp_path: Path) -> None:
    path = write_campaign(
        tmp_path,
        letters={
            "court.md.j2": "{% if sender.note %}{{ sender.note }}{% else %}no note{% endif %}\n"
        },
    )
    noted = Sender(name=ANA.name, email=ANA.email, note="I was there.")
    assert next(composer(path, sender=noted).letters()).rendered.text.strip() == "I was there."
    assert next(composer(path).letters()).rendered.text.strip() == "no note"


def test_multiline_value_in_subject_is_refused(tmp_path: Path) -> None:
    path = write_campaign(
        tmp_path,
        BASIC.replace(
            'role: "Head of the Court"', 'role: "Head\\nBcc: victim@example.org"'
        ).replace("{{ target.name }}", "{{ target.role }}"),
    )
    [problem] = render_problems(path)
    assert (problem.target, problem.field) == ("court", "subject")
    assert "line break" in problem.message
