"""The campaign file: loading, and one test per class of validation error (issue 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kit import BASIC, cli, line_of, only_problem, problems_of, write_campaign
from protest_dispatch.campaign.loading import load_campaign


def test_valid_file_loads_with_every_field(tmp_path: Path) -> None:
    path = write_campaign(
        tmp_path,
        """\
        campaign:
          id: free-them
          title: "Free them"
          subject: "Drop the charges"
          cc: [press@example.org]
          reply_to: replies@example.org
        targets:
          - id: court
            name: "Judge Example"
            role: "Head of the Court"
            email: court@example.org
            cc: [clerk@example.org]
            phone: "+44 20 7946 0000"
            country: gb
            template: court.md.j2
            subject: "Own subject"
          - id: office
            name: "An Office"
            phone: "+44 20 7946 0001"
        """,
    )
    loaded = load_campaign(path=path)
    info = loaded.campaign.campaign
    assert (info.id, info.title, info.subject) == ("free-them", "Free them", "Drop the charges")
    assert info.cc == ("press@example.org",)
    assert info.reply_to == "replies@example.org"
    court, office = loaded.campaign.targets
    assert court.country == "GB"
    assert court.cc == ("clerk@example.org",)
    assert court.subject == "Own subject"
    assert not court.is_call
    assert office.is_call
    assert loaded.letters_dir == tmp_path / "letters"
    assert loaded.target_line(1) == line_of(path, "id: office")


def test_campaign_folder_is_accepted(tmp_path: Path) -> None:
    write_campaign(tmp_path)
    assert load_campaign(path=tmp_path).path == tmp_path / "targets.yaml"


def test_unknown_key_is_an_error_with_a_spelling_hint(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, BASIC.replace("email:", "emial:"))
    problem = only_problem(path)
    assert problem.file == path
    assert problem.line == line_of(path, "emial:")
    assert problem.target == "court"
    assert problem.field == "emial"
    assert "did you mean 'email'" in problem.message


def test_unknown_campaign_key_is_an_error(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, BASIC.replace("  title:", "  titel:"))
    problem = only_problem(path)
    assert problem.field == "campaign.titel"
    assert (problem.line, problem.target) == (line_of(path, "titel"), None)
    assert "did you mean 'title'" in problem.message


@pytest.mark.parametrize(
    ("field", "needle", "target", "located_at"),
    [
        ("campaign.id", "  id: free-them", None, "campaign:"),
        ("campaign.subject", "  subject:", None, "campaign:"),
        ("id", "  - id: court", "#1", "name:"),
        ("name", "    name:", "court", "- id: court"),
    ],
)
def test_missing_required_field(
    tmp_path: Path, field: str, needle: str, target: str | None, located_at: str
) -> None:
    text = "".join(line for line in BASIC.splitlines(keepends=True) if needle not in line)
    if needle.startswith("  - id"):
        text = text.replace("    name:", "  - name:")
    path = write_campaign(tmp_path, text)
    problem = only_problem(path)
    assert problem.field == field
    assert problem.target == target
    assert problem.line == line_of(path, located_at)
    assert f"'{field.rpartition('.')[2]}' is required" in problem.message


def test_campaign_without_targets_is_an_error(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, BASIC.split("targets:")[0] + "targets: []\n")
    problem = only_problem(path)
    assert problem.field == "targets"
    assert problem.line == line_of(path, "targets:")
    assert "at least one target" in problem.message


@pytest.mark.parametrize(
    ("old", "new", "target", "field"),
    [
        ("id: court", "id: Supreme_Court", "Supreme_Court", "id"),
        ("id: free-them", "id: free them", None, "campaign.id"),
    ],
)
def test_bad_slug(tmp_path: Path, old: str, new: str, target: str | None, field: str) -> None:
    path = write_campaign(tmp_path, BASIC.replace(old, new))
    problem = only_problem(path)
    assert (problem.field, problem.target) == (field, target)
    assert problem.line == line_of(path, new)
    assert "lower-case letters" in problem.message


def test_target_needs_email_phone_or_postal_address(tmp_path: Path) -> None:
    text = BASIC.replace("    email: court@example.org\n", "")
    path = write_campaign(tmp_path, text)
    problem = only_problem(path)
    assert problem.target == "court"
    assert problem.field == "email"
    assert problem.line == line_of(path, "- id: court")
    assert "an email address, a phone number or a postal address" in problem.message


def test_email_without_template(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, BASIC.replace("    template: court.md.j2\n", ""))
    problem = only_problem(path)
    assert (problem.target, problem.field) == ("court", "template")
    assert problem.line == line_of(path, "- id: court")
    assert "needs a 'template'" in problem.message


@pytest.mark.parametrize(
    ("old", "new", "field", "needle"),
    [
        ("email: court@example.org", "email: court.example.org", "email", "email:"),
        (
            "email: court@example.org",
            "email: court@example.org, clerk@example.org",
            "email",
            "email:",
        ),
        ("email: court@example.org", "email: Judge <court@example.org>", "email", "email:"),
        (
            "email: court@example.org",
            "email: court@example.org\n    cc: [clerk@example.org, not-an-address]",
            "cc[2]",
            "cc:",
        ),
        ("  title:", "  reply_to: nobody@\n  title:", "campaign.reply_to", "reply_to:"),
    ],
)
def test_invalid_email(tmp_path: Path, old: str, new: str, field: str, needle: str) -> None:
    path = write_campaign(tmp_path, BASIC.replace(old, new))
    problem = only_problem(path)
    assert problem.field == field
    assert problem.line == line_of(path, needle)
    assert "valid email address" in problem.message


def test_duplicate_target_ids_name_both_lines(tmp_path: Path) -> None:
    path = write_campaign(
        tmp_path,
        BASIC
        + """\
  - id: court
    name: "Another Judge"
    email: other@example.org
    template: court.md.j2
""",
    )
    problem = only_problem(path)
    first, second = line_of(path, "- id: court"), line_of(path, "- id: court", 2)
    assert (problem.target, problem.field, problem.line) == ("court", "id", second)
    assert f"line {first}" in problem.message
    assert f"line {second}" in str(problem)


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    path = write_campaign(
        tmp_path, BASIC.replace("    template:", "    email: other@example.org\n    template:")
    )
    problem = only_problem(path)
    assert problem.field == "email"
    assert problem.target == "court"
    assert problem.line == line_of(path, "email: other@example.org")
    assert "twice" in problem.message


@pytest.mark.parametrize(
    ("country", "words"),
    [("XX", "two-letter ISO 3166-1"), ("UK", "GB"), ("GBR", "two-letter"), ("44", "two-letter")],
)
def test_bad_country_code(tmp_path: Path, country: str, words: str) -> None:
    path = write_campaign(
        tmp_path, BASIC.replace("    template:", f"    country: {country}\n    template:")
    )
    problem = only_problem(path)
    assert (problem.target, problem.field) == ("court", "country")
    assert problem.line == line_of(path, "country:")
    assert words in problem.message


THREE_PROBLEMS = """\
campaign:
  id: free-them
  subject: "Drop the charges"
targets:
  - id: court
    name: "Judge Example"
    emial: court@example.org
    template: court.md.j2
  - id: Bad_Slug
    name: "An Office"
    phone: "+44 20 7946 0001"
  - id: embassy
    name: "Embassy"
    phone: "+44 20 7946 0002"
    country: UK
"""


def test_all_problems_are_listed_at_once(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, THREE_PROBLEMS)
    problems = problems_of(path)
    located = {(p.line, p.target, p.field) for p in problems}
    assert located == {
        (line_of(path, "emial"), "court", "emial"),
        (line_of(path, "Bad_Slug"), "Bad_Slug", "id"),
        (line_of(path, "country: UK"), "embassy", "country"),
    }
    assert all(p.file == path for p in problems)


def test_duplicate_ids_are_listed_with_other_problems(tmp_path: Path) -> None:
    path = write_campaign(
        tmp_path,
        THREE_PROBLEMS
        + """\
  - id: court
    name: "Second Court"
    phone: "+44 20 7946 0003"
""",
    )
    fields = {(p.target, p.field) for p in problems_of(path)}
    assert ("court", "id") in fields
    assert ("court", "emial") in fields
    assert len(fields) == 4


def test_duplicate_yaml_keys_are_listed_with_other_problems(tmp_path: Path) -> None:
    path = write_campaign(
        tmp_path, THREE_PROBLEMS.replace("    template:", '    name: "Again"\n    template:')
    )
    located = {(p.line, p.target, p.field) for p in problems_of(path)}
    assert (line_of(path, "Again"), "court", "name") in located
    assert len(located) == 4


def test_targets_that_are_not_a_list(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, BASIC.split("targets:")[0] + "targets:\n  court: x\n")
    problem = only_problem(path)
    assert (problem.field, problem.line) == ("targets", line_of(path, "targets:"))
    assert "list of targets" in problem.message


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, BASIC.replace('title: "Free them"', 'title: "Free them'))
    problem = only_problem(path)
    assert problem.file == path
    assert problem.line is not None
    assert "not valid YAML" in problem.message


def test_cli_lists_every_problem_with_file_line_target_and_field(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, THREE_PROBLEMS)
    run = cli(["validate", "-t", str(path)], expect=2)
    assert f"{path}, line {line_of(path, 'emial')}, target 'court', field 'emial'" in run.err
    assert f"{path}, line {line_of(path, 'Bad_Slug')}, target 'Bad_Slug', field 'id'" in run.err
    assert (
        f"{path}, line {line_of(path, 'country: UK')}, target 'embassy', field 'country'" in run.err
    )
    assert "3 problems" in run.err
    assert "did you mean 'email'" in run.err
    assert run.out == ""


def test_cli_missing_campaign_file_is_exit_2(tmp_path: Path) -> None:
    run = cli(["send", "--dry-run", "-t", str(tmp_path / "nowhere.yaml")], expect=2)
    assert "There is no campaign file" in run.err
    assert "-t PATH" in run.err


@pytest.mark.parametrize("text", [THREE_PROBLEMS, "campaign: ["])
def test_bad_campaign_in_a_real_process_is_exit_2_without_traceback(
    tmp_path: Path, text: str
) -> None:
    path = write_campaign(tmp_path, text)
    done = subprocess.run(
        [sys.executable, "-m", "protest_dispatch", "send", "--dry-run", "-t", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ.copy(),
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert str(path) in done.stderr


@pytest.mark.parametrize(
    "text",
    [
        "campaign: x\ntargets: x\n",
        "campaign:\ntargets:\n",
        "campaign: {id: a, subject: s}\ntargets: [1, x, [], {}]\n",
        "campaign: {id: 12, subject: [s], cc: x@example.org}\ntargets: [{id: a, name: {n: 1}}]\n",
        "campaign: {id: a, subject: s}\ntargets: {a: 1}\n",
        "campaign: {id: a, subject: s}\ntargets:\n  - {id: a, name: n, phone: yes}\n",
        "{1: 2, campaign: {id: a, subject: s}, targets: []}\n",
        "campaign: {id: a, subject: s}\nextra: 1\ntargets: [{id: a, name: n, phone: '+44 1'}]\n",
    ],
)
def test_odd_shapes_are_located_problems_not_crashes(tmp_path: Path, text: str) -> None:
    path = write_campaign(tmp_path, text)
    problems = problems_of(path)
    for problem in problems:
        assert problem.file == path
        assert problem.line is not None, str(problem)
        assert "Input should" not in problem.message, "pydantic's wording leaked"
    cli(["validate", "-t", str(path)], expect=2)


# -- one mailbox, one letter ---------------------------------------------------------------

SAME_MAILBOX = """\
campaign:
  id: free-them
  subject: "Drop the charges"
targets:
  - id: mfa
    name: "Ministry"
    email: mfa@example.org
    template: court.md.j2
  - id: mfa-again
    name: "Ministry"
    email: MFA@Example.org
    template: court.md.j2
  - id: court
    name: "Court"
    email: court@example.org
    cc: [Mfa@example.org]
    template: court.md.j2
"""


def test_one_mailbox_as_two_targets_to_is_an_error_naming_both_lines(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, SAME_MAILBOX)
    problem = only_problem(path)
    assert (problem.target, problem.field) == ("mfa-again", "email")
    assert problem.line == line_of(path, "MFA@Example.org")
    first = line_of(path, "email: mfa@example.org")
    assert f"already the address of target 'mfa' (line {first};" in problem.message
    run = cli(["validate", "-t", str(path)], expect=2)
    assert "two letters from every sender" in run.err


def test_targets_for_different_countries_may_share_an_address(tmp_path: Path) -> None:
    text = SAME_MAILBOX.replace(
        "    email: mfa@example.org\n", '    email: mfa@example.org\n    country: "NO"\n'
    ).replace("    email: MFA@Example.org\n", "    email: MFA@Example.org\n    country: DE\n")
    loaded = load_campaign(path=write_campaign(tmp_path, text))
    assert [t.id for t in loaded.campaign.targets] == ["mfa", "mfa-again", "court"]
    # the court's copy still meets each of them: one warning for the first it meets
    [warning] = loaded.warnings
    assert (warning.target, warning.field) == ("court", "cc[1]")


def test_an_unscoped_target_meets_every_country_scoped_one(tmp_path: Path) -> None:
    text = SAME_MAILBOX.replace(
        "    email: MFA@Example.org\n", "    email: MFA@Example.org\n    country: DE\n"
    )
    problem = only_problem(write_campaign(tmp_path, text))
    assert problem.target == "mfa-again"


def test_a_to_that_is_another_targets_copy_is_a_warning_shown_by_validate_and_dry_run(
    tmp_path: Path,
) -> None:
    text = SAME_MAILBOX.replace(
        '  - id: mfa-again\n    name: "Ministry"\n    email: MFA@Example.org\n'
        "    template: court.md.j2\n",
        "",
    )
    path = write_campaign(tmp_path, text)
    [warning] = load_campaign(path=path).warnings
    assert (warning.target, warning.field) == ("court", "cc[1]")
    assert warning.line == line_of(path, "cc: [Mfa@example.org]")
    assert f"target 'mfa' (line {line_of(path, 'email: mfa@example.org')})" in warning.message
    for command in (["validate"], ["send", "--dry-run"]):
        run = cli([*command, "-t", str(path)], expect=0)
        assert "warning:" in run.err
        assert "Mfa@example.org is also the address of target 'mfa'" in run.err


def test_a_campaign_copy_that_is_a_targets_to_is_a_warning(tmp_path: Path) -> None:
    text = BASIC.replace("  subject:", "  cc: [COURT@example.org]\n  subject:")
    path = write_campaign(tmp_path, text)
    [warning] = load_campaign(path=path).warnings
    assert warning.field == "campaign.cc[1]"
    assert "a copy of every letter" in warning.message


# -- small messages ------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["NO", "no", "yes", "On", "OFF"])
def test_a_bare_yaml_boolean_says_to_quote_it(tmp_path: Path, word: str) -> None:
    path = write_campaign(
        tmp_path, BASIC.replace("    template:", f"    country: {word}\n    template:")
    )
    problem = only_problem(path)
    assert problem.field == "country"
    assert "in quotes" in problem.message


@pytest.mark.parametrize(
    "phone", ["+7 7172 747570", "+44 (20) 7946-0000", "+1-202-555-0100 ext. 12", "+4930123456"]
)
def test_international_phone_numbers_are_accepted(tmp_path: Path, phone: str) -> None:
    path = write_campaign(
        tmp_path, BASIC.replace("    template:", f'    phone: "{phone}"\n    template:')
    )
    assert load_campaign(path=path).campaign.targets[0].phone == phone


@pytest.mark.parametrize(
    "phone", ["7172 747570", "+7 717", "+7 7172 747570 0000 0000", "+7 (717) abc"]
)
def test_other_phone_numbers_show_the_expected_form(tmp_path: Path, phone: str) -> None:
    path = write_campaign(
        tmp_path, BASIC.replace("    template:", f'    phone: "{phone}"\n    template:')
    )
    problem = only_problem(path)
    assert problem.field == "phone"
    assert '"+7 7172 747570"' in problem.message
