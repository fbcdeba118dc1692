"""Variants the organiser writes (issue 18, item 1): ``choose`` blocks and subject lists."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from kit import (
    FROM,
    SENDER,
    cli,
    composer,
    env_for,
    letters_of,
    line_of,
    only_problem,
    parse,
    render_problems,
    send,
    write_campaign,
)
from protest_dispatch.campaign.choice import pick
from protest_dispatch.campaign.model import Sender
from protest_dispatch.errors import CampaignError
from smtp_server import Server

CAMPAIGN = """\
campaign:
  id: free-them
  subject:
    - "Drop the charges, {{ target.name }}"
    - "Free the four"
    - "Release them now"
targets:
  - id: court
    name: "Judge Example"
    email: court@example.org
    template: appeal.txt.j2
  - id: ministry
    name: "The Ministry"
    email: ministry@example.org
    template: appeal.txt.j2
    subject: ["Stop the prosecution", "End this trial"]
"""

APPEAL = """\
Dear {{ target.name }},

{% choose %}
I am writing to protest against the trial.
{% or %}
I write to object to the trial.
{% or %}
{% endchoose %}
{% choose %}Please drop the charges.{% or %}Drop the charges, please.{% endchoose %}

{{ sender.name }}
"""

OPENINGS = (
    "I am writing to protest against the trial.",
    "I write to object to the trial.",
)


def _campaign(root: Path, letter: str = APPEAL, yaml_text: str = CAMPAIGN) -> Path:
    return write_campaign(root, yaml_text, {"appeal.txt.j2": letter})


def _opening(text: str) -> str:
    found = [o for o in OPENINGS if o in text]
    assert len(found) <= 1, text
    return found[0] if found else ""


def test_a_block_renders_exactly_one_alternative_and_an_empty_one_drops_it(
    tmp_path: Path,
) -> None:
    path = _campaign(tmp_path)
    seen = Counter()
    for n in range(60):
        sender = Sender(name="Ana", email=f"s{n}@example.org")
        for letter in letters_of(composer(path, sender=sender)):
            text = letter.rendered.text
            seen[_opening(text)] += 1
            assert ("Please drop the charges." in text) != ("Drop the charges, please." in text)
            assert "{%" not in text
            assert "choose" not in text
    assert set(seen) == {*OPENINGS, ""}, "every alternative, the empty one too, comes up"


def test_the_choice_is_the_documented_hash(tmp_path: Path) -> None:
    path = _campaign(tmp_path)
    [court, ministry] = letters_of(composer(path))
    for letter in (court, ministry):
        first = pick(campaign="free-them", sender=SENDER, target=letter.target.id, key="1", count=3)
        assert _opening(letter.rendered.text) == (*OPENINGS, "")[first]
    subject = pick(campaign="free-them", sender=SENDER, target="ministry", key="subject", count=2)
    assert ministry.subject == ("Stop the prosecution", "End this trial")[subject]


def test_the_sender_address_counts_casefolded(tmp_path: Path) -> None:
    path = _campaign(tmp_path)
    lower = letters_of(composer(path, sender=Sender(name="A", email="mixed.case@example.org")))
    upper = letters_of(composer(path, sender=Sender(name="A", email="Mixed.Case@example.org")))
    assert [x.rendered.text for x in lower] == [x.rendered.text for x in upper]


def test_over_1000_senders_each_of_3_alternatives_comes_up_267_to_400_times(
    tmp_path: Path,
) -> None:
    path = _campaign(tmp_path)
    openings: Counter[str] = Counter()
    subjects: Counter[str] = Counter()
    for n in range(1000):
        sender = Sender(name="Ana", email=f"activist-{n}@example.org")
        made = composer(path, sender=sender, only=["court"])
        [letter] = letters_of(made)
        openings[_opening(letter.rendered.text)] += 1
        subjects[letter.subject] += 1
    for counts in (openings, subjects):
        assert len(counts) == 3
        assert all(267 <= n <= 400 for n in counts.values()), counts


def test_the_same_sender_gets_the_same_letter_in_every_command_and_run(
    tmp_path: Path, smtp_server: Server
) -> None:
    server = smtp_server
    path = _campaign(tmp_path / "c")
    env = env_for(server, log=tmp_path / "log.sqlite3")
    bodies: list[dict[str, str]] = []
    for run in range(2):
        out = tmp_path / f"out-{run}"
        cli(["send", "-t", str(path), "--dry-run", "--out", str(out)], env=env, expect=0)
        bodies.append(
            {
                eml.stem: parse(eml.read_bytes()).get_body().get_content()  # type: ignore[union-attr]
                + parse(eml.read_bytes())["Subject"]
                for eml in out.glob("*.eml")
            }
        )
    assert send(path, "--test", env=env).code == 0
    assert send(path, env=env).code == 0
    by_rcpt: dict[str, list[str]] = {}
    for message in server.messages:
        body = message.message.get_body().get_content()  # type: ignore[union-attr]
        subject = re.sub(r"^\[TEST\] [a-z]+: ", "", str(message.message["Subject"]))
        target = "court" if "Dear Judge Example" in body else "ministry"
        by_rcpt.setdefault(target, []).append(body + subject)
    assert bodies[0] == bodies[1]
    assert len(server.messages) == 4
    for target, sent in by_rcpt.items():
        assert sent == [bodies[0][target]] * 2, target


def test_validate_refuses_a_block_over_the_bounds_with_file_and_line(tmp_path: Path) -> None:
    cases = {
        "nested": (
            "Dear all,\n{% choose %}a{% or %}\n{% choose %}b{% endchoose %}{% endchoose %}\n",
            3,
            "cannot hold another one",
        ),
        "or-outside": ("Dear all,\n\n{% or %}\n", 3, "goes only directly between"),
        "or-in-an-if": (
            "{% choose %}\n{% if 1 %}a{% or %}b{% endif %}\n{% endchoose %}\n",
            2,
            "goes only directly between",
        ),
        "21-alternatives": (
            "{% choose %}\n" + "a\n{% or %}\n" * 20 + "b{% endchoose %}\n",
            41,
            "at most 20 alternatives",
        ),
        "201-blocks": ("{% choose %}a{% or %}b{% endchoose %}\n" * 201, 201, "more than 200"),
        "unclosed": ("{% choose %}a{% or %}b\n", 1, "endchoose"),
    }
    for name, (letter, line, words) in cases.items():
        path = _campaign(tmp_path / name, letter)
        [problem] = render_problems(path)
        assert problem.file == path.parent / "letters" / "appeal.txt.j2", name
        assert problem.line == line, (name, problem)
        assert words in problem.message, (name, problem)
        run = cli(["validate", "-t", str(path), "--from", FROM], expect=2)
        assert f"appeal.txt.j2, line {line}" in run.output, run.output


def test_the_bounds_themselves_are_allowed(tmp_path: Path) -> None:
    letter = "{% choose %}" + "a{% or %}" * 19 + "b{% endchoose %}\n"
    letter += "{% choose %}x{% or %}y{% endchoose %}\n" * 199
    path = _campaign(tmp_path, letter)
    assert len(letters_of(composer(path))) == 2


@pytest.mark.parametrize(
    ("subject", "field", "words"),
    [
        ("[]", "subject", "is an empty list"),
        ("[" + ", ".join(f'"s{n}"' for n in range(21)) + "]", "subject", "at most 20"),
        ('["Fine", "Bad =?utf-8?q?x?= word"]', "subject[2]", "contains '=?'"),
        ('["Fine", ""]', "subject[2]", "must not be empty"),
        ('["Fine", yes]', "subject[2]", "must be text, not true"),
        ('["Fine", ["nested"]]', "subject[2]", "must be text"),
        ("{a: b}", "subject", "must be text"),
    ],
)
def test_a_bad_subject_list_is_refused_with_its_line(
    tmp_path: Path, subject: str, field: str, words: str
) -> None:
    text = CAMPAIGN.replace('["Stop the prosecution", "End this trial"]', subject)
    path = _campaign(tmp_path, yaml_text=text)
    problem = only_problem(path)
    assert problem.line == line_of(path, "    subject:")
    assert (problem.target, problem.field) == ("ministry", field)
    assert words in problem.message


def test_a_bad_subject_in_a_block_list_names_its_own_line(tmp_path: Path) -> None:
    text = CAMPAIGN.replace('    - "Free the four"', '    - "Free\\tthe =?four?="')
    path = _campaign(tmp_path, yaml_text=text)
    problem = only_problem(path)
    assert (problem.line, problem.field) == (line_of(path, "Free"), "campaign.subject[2]")


def test_every_subject_in_a_list_is_rendered_and_checked_for_its_sender(tmp_path: Path) -> None:
    text = CAMPAIGN.replace(
        '["Stop the prosecution", "End this trial"]', '["Fine", "{{ target.nosuch }}"]'
    )
    path = _campaign(tmp_path, yaml_text=text)
    with pytest.raises(CampaignError) as caught:
        composer(path).check_all(every_variant=True)
    [problem] = caught.value.problems
    assert (problem.target, problem.field) == ("ministry", "subject")
    assert "'nosuch'" in problem.message
    run = cli(["validate", "-t", str(path), "--from", FROM], expect=2)
    assert "target 'ministry', field 'subject'" in run.output


def test_validate_renders_every_alternative_not_only_the_senders(tmp_path: Path) -> None:
    letter = "Hi,\n{% choose %}fine{% or %}fine too{% or %}{{ sender.nosuch }}{% endchoose %}\n"
    path = _campaign(tmp_path, letter)
    run = cli(["validate", "-t", str(path), "--from", FROM], expect=2)
    assert "appeal.txt.j2, line 2" in run.output
    assert "'nosuch'" in run.output


def test_every_english_letter_of_the_example_offers_choices_in_two_places_at_least() -> None:
    root = Path(__file__).resolve().parents[1]
    english = [p for p in (root / "letters").glob("*.md.j2") if p.name.count(".") == 2]
    assert len(english) == 3
    for letter in english:
        assert letter.read_text("utf-8").count("{% choose %}") >= 2, letter.name
    path = root / "targets.yaml"
    run = cli(["validate", "-t", str(path), "--from", FROM, "--country", "GB"], expect=0)
    assert "The campaign is valid" in run.output


def test_the_cli_renders_each_sender_the_letter_the_distribution_was_measured_on(
    tmp_path: Path,
) -> None:
    """The 1,000-sender distribution above is measured on the Composer; the CLI's dry run
    gives every sender exactly the Composer's letter, so it holds for the CLI too."""
    path = _campaign(tmp_path)
    openings: Counter[str] = Counter()
    for n in range(24):
        email = f"activist-{n}@example.org"
        run = cli(
            ["send", "--dry-run", "--json", "-t", str(path), "--from", f"Ana <{email}>"],
            expect=0,
        )
        shown = {item["target"]: item for item in json.loads(run.stdout)["letters"]}
        made = letters_of(composer(path, sender=Sender(name="Ana", email=email)))
        for letter in made:
            item = shown[letter.target.id]
            assert (item["text"], item["subject"]) == (letter.rendered.text, letter.subject)
        openings[_opening(shown["court"]["text"])] += 1
    assert len(openings) == 3, openings
