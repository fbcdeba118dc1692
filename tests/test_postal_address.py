"""Addresses on paper (issue 19, part 1): targets' and the sender's postal address, fax."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from kit import BASIC, FROM, answers, cli, composer, line_of, only_problem, write_campaign
from protest_dispatch.campaign.loading import load_campaign
from protest_dispatch.settings.config import Config

PAPER_TARGET = """\
  - id: archive
    name: "The Archive"
    postal_address: |
      The Archive
        1 Example Street
      Example City 12345
    template: court.md.j2
"""


def test_a_target_reached_only_by_post_loads_and_is_neither_letter_nor_call(
    tmp_path: Path,
) -> None:
    path = write_campaign(tmp_path, BASIC + PAPER_TARGET)
    archive = load_campaign(path=path).campaign.targets[1]
    assert archive.postal_address == "The Archive\n1 Example Street\nExample City 12345"
    assert not archive.is_call
    audience = composer(path).audience
    assert [s.target.id for s in audience.letters] == ["court"]
    assert audience.calls == ()
    assert [s.target.id for s in audience.paper] == ["archive"]


def test_only_adds_a_target_with_email_to_the_letters_to_print(tmp_path: Path) -> None:
    both = BASIC + '    postal_address: "Court\\nCity"\n'
    path = write_campaign(tmp_path, both)
    assert composer(path).audience.paper == ()
    assert [s.target.id for s in composer(path, only=["court"]).audience.paper] == ["court"]


def test_fax_is_checked_like_a_phone_number(tmp_path: Path) -> None:
    good = write_campaign(tmp_path / "good", BASIC + '    fax: "+44 20 7946 0000"\n')
    assert load_campaign(path=good).campaign.targets[0].fax == "+44 20 7946 0000"
    bad = write_campaign(tmp_path / "bad", BASIC + '    fax: "0207 946 0000"\n')
    problem = only_problem(bad)
    assert (problem.target, problem.field) == ("court", "fax")
    assert problem.line == line_of(bad, "fax:")
    assert "international phone number" in problem.message


def test_a_target_needs_email_phone_or_postal_address(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, BASIC.replace("    email: court@example.org\n", ""))
    problem = only_problem(path)
    assert "an email address, a phone number or a postal address" in problem.message


def test_a_target_with_only_a_postal_address_needs_a_letter(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, BASIC + PAPER_TARGET.replace("    template: court.md.j2\n", ""))
    problem = only_problem(path)
    assert (problem.target, problem.field) == ("archive", "template")
    assert "the letter to print" in problem.message


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ('"Court\\u0007\\nCity"', "control character U+0007"),
        ('"Court\\u200b\\nCity"', "U+200B ZERO WIDTH SPACE"),
        ('"Court\\u202eytiC"', "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ('"Court\\u001b[31m"', "control character U+001B"),
        ('"' + "\\n".join(f"Line {n}" for n in range(9)) + '"', "has 9 lines"),
        ('"' + "x" * 61 + '"', "line 1 has 61 characters"),
        ('" \\n \\n"', "is empty"),
        ("[Court, City]", "must be text"),
    ],
)
def test_a_bad_postal_address_is_refused_with_its_line_and_field(
    tmp_path: Path, address: str, reason: str
) -> None:
    path = write_campaign(tmp_path, BASIC + f"    postal_address: {address}\n")
    problem = only_problem(path)
    assert (problem.target, problem.field) == ("court", "postal_address")
    assert problem.line == line_of(path, "postal_address:")
    assert reason in problem.message
    result = cli(["validate", "-t", str(path)], env={"PROTEST_FROM": FROM})
    assert result.code == 2
    assert "postal_address" in result.stderr


def test_validate_lists_the_letters_to_print(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, BASIC + PAPER_TARGET)
    result = cli(["validate", "-t", str(path)], env={"PROTEST_FROM": FROM}, expect=0)
    assert "archive" in result.stdout
    assert "post" in result.stdout
    assert "1 letter(s), 1 letter(s) to print" in result.stdout


def test_validate_reports_a_broken_letter_that_is_only_printed(tmp_path: Path) -> None:
    path = write_campaign(
        tmp_path,
        BASIC + PAPER_TARGET.replace("court.md.j2", "archive.md.j2"),
        letters={"court.md.j2": "Dear judge", "archive.md.j2": "Dear {{ nobody }}"},
    )
    result = cli(["validate", "-t", str(path)], env={"PROTEST_FROM": FROM}, expect=2)
    assert "archive" in result.stderr
    assert "'nobody'" in result.stderr


def test_the_sender_postal_address_from_file_environment_and_option(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'from = "{FROM}"\npostal_address = """\n1 File Street\nFile City\n"""\n', "utf-8"
    )
    from_file = Config.load(path=config, env={}).sender()
    assert from_file is not None
    assert from_file.postal_address == "1 File Street\nFile City"
    env = {"PROTEST_POSTAL_ADDRESS": r"2 Env Street\nEnv City"}
    from_env = Config.load(path=config, env=env).sender()
    assert from_env is not None
    assert from_env.postal_address == "2 Env Street\nEnv City"
    from_option = Config.load(path=config, env=env).sender(postal_address_option="3 Option Rd")
    assert from_option is not None
    assert from_option.postal_address == "3 Option Rd"


def test_a_bad_sender_postal_address_names_where_it_came_from(tmp_path: Path) -> None:
    path = write_campaign(tmp_path)
    env = {"PROTEST_FROM": FROM, "PROTEST_POSTAL_ADDRESS": "1 Street\u202e"}
    result = cli(["validate", "-t", str(path)], env=env, expect=2)
    assert "PROTEST_POSTAL_ADDRESS" in result.stderr
    assert "U+202E" in result.stderr


def test_init_asks_for_the_postal_address_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "protest" / "config.toml"
    lines = ("Ana Example", "ana@example.org", "GB", "1 Example Street", "London", "")
    result = cli(
        ["init", "--config", str(path)],
        input=answers(*lines, "fastmail", "", "", "", "n", ""),
    )
    assert result.code == 0, result.output
    values = tomllib.loads(path.read_text(encoding="utf-8"))
    assert values["postal_address"] == "1 Example Street\nLondon"
    sender = Config.load(path=path, env={}).sender()
    assert sender is not None
    assert sender.postal_address == "1 Example Street\nLondon"


def test_init_asks_again_for_an_address_line_that_is_not_allowed(tmp_path: Path) -> None:
    path = tmp_path / "protest" / "config.toml"
    lines = ("Ana Example", "ana@example.org", "", "1 Street\u200b", "1 Street", "")
    result = cli(
        ["init", "--config", str(path)],
        input=answers(*lines, "fastmail", "", "", "", "n", ""),
    )
    assert result.code == 0, result.output
    assert "U+200B" in result.stderr
    assert tomllib.loads(path.read_text(encoding="utf-8"))["postal_address"] == "1 Street"
