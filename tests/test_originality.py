"""How much of a letter is the sender's own (issue 18, item 3): figures on known texts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit import FROM, cli, composer, env_for, letters_of, send, write_campaign
from protest_dispatch.campaign.model import Sender
from protest_dispatch.campaign.originality import (
    SHINGLE,
    Reference,
    body_words,
    originality,
)
from smtp_server import Server

ORGANISER = (
    "I am writing to protest against the prosecution of four members of the movement. "
    "The charges arise from a campaign that defends families whom banks are trying to evict "
    "from their homes, and prosecuting them is out of all proportion. I call on the "
    "authorities to drop the charges and to let the two activists travel to Warsaw."
)
OWN = "My grandmother lost her flat to a bank in 1998 and I have not forgotten what it did to us"
assert len(OWN.split()) == 20


def _reference(*texts: str) -> Reference:
    return Reference(texts)


def test_the_organisers_text_is_not_the_senders_own() -> None:
    letter = f"Dear Minister,\n\n{ORGANISER}\n\nYours faithfully,\nAna Example\n"
    result = originality(letter, reference=_reference(ORGANISER))
    assert (result.own_words, result.own_share) == (0, 0.0)
    assert result.words == len(ORGANISER.split())


def test_a_paragraph_of_ones_own_counts_word_for_word() -> None:
    letter = f"Dear Minister,\n\n{ORGANISER}\n\n{OWN}.\n\nYours faithfully,\nAna Example\n"
    result = originality(letter, reference=_reference(ORGANISER))
    organiser_words = len(ORGANISER.split())
    assert result.own_words == 20
    assert result.own_share == pytest.approx(20 / (organiser_words + 20))


def test_the_salutation_and_the_sign_off_do_not_count() -> None:
    assert body_words("Dear Ms Rakhimbekova,\nPlease act now.\nYours sincerely,\nAna\nGB") == [
        "please",
        "act",
        "now",
    ]
    assert body_words("Your Excellency:\nPlease act.\nKind regards,\nAna") == ["please", "act"]


def test_case_whitespace_and_markdown_marks_do_not_make_text_ones_own() -> None:
    shouted = (
        ORGANISER.upper().replace(" ", "  \n ").replace("drop the charges", "**drop** the charges")
    )
    result = originality(shouted, reference=_reference(ORGANISER))
    assert result.own_words == 0


def test_another_senders_alternative_is_still_the_organisers_text() -> None:
    other = "I wish to register my strongest possible objection to this prosecution today"
    letter = f"{ORGANISER}\n\n{other}.\n"
    alone = originality(letter, reference=_reference(ORGANISER))
    assert alone.own_words == len(other.split())
    assert originality(letter, reference=Reference([ORGANISER, other])).own_words == 0


def test_a_short_letter_is_the_organisers_if_its_words_appear_in_order() -> None:
    assert (
        originality(
            "Please drop the charges.",
            reference=_reference(ORGANISER + " Please drop the charges now"),
        ).own_words
        == 0
    )
    short = originality("Free them all now.", reference=_reference(ORGANISER))
    assert short.own_words == 4
    assert short.words < SHINGLE


# -- through the campaign and the CLI --------------------------------------------------------

CAMPAIGN = """\
campaign:
  id: free-them
  subject: "Drop the charges"
  {own_words}
targets:
  - id: court
    name: "Judge Example"
    email: court@example.org
    template: appeal.txt.j2
  - id: ministry
    name: "The Ministry"
    email: ministry@example.org
    template: appeal.txt.j2
"""

LETTER = (
    "Dear {{ target.name }},\n\n"
    "{% choose %}I am writing to protest against{% or %}I write to object to{% endchoose %} "
    + ORGANISER.removeprefix("I am writing to protest against ")
    + "\n{% if sender.note %}\n{{ sender.note }}\n{% endif %}\n"
    "Yours faithfully,\n{{ sender.name }}\n"
)


def _campaign(root: Path, own_words: int | None = None) -> Path:
    text = CAMPAIGN.format(own_words=f"own_words: {own_words}" if own_words else "")
    return write_campaign(root, text, {"appeal.txt.j2": LETTER})


def test_every_letter_gets_its_own_share_and_only_a_note_makes_one(tmp_path: Path) -> None:
    path = _campaign(tmp_path)
    plain = letters_of(composer(path))
    assert [x.rendered.own.own_words for x in plain] == [0, 0]
    noted = Sender(name="Ana Example", email="ana@example.org", note=OWN + ".")
    for letter in letters_of(composer(path, sender=noted)):
        assert letter.rendered.own.own_words == 20
        assert 0.1 < letter.rendered.own.own_share < 0.3
    copied = Sender(
        name="Ana", email="ana@example.org", note="I write to object to " + ORGANISER[32:]
    )
    assert all(x.rendered.own.own_words == 0 for x in letters_of(composer(path, sender=copied)))


def test_the_dry_run_shows_each_share_and_warns_once_naming_the_letters(
    tmp_path: Path,
) -> None:
    path = _campaign(tmp_path)
    run = cli(["send", "-t", str(path), "--dry-run", "--from", FROM], expect=0)
    assert run.output.count("your own: 0 words (0%)") == 2
    assert run.output.count("less than 20% your own words") == 1
    assert "court, ministry" in run.output
    assert "--note" in run.output
    assert "protest edit ID" in run.output
    long_note = " ".join([OWN] * 3) + "."
    mine = cli(
        ["send", "-t", str(path), "--dry-run", "--from", FROM, "--note", long_note], expect=0
    )
    assert "less than 20% your own words" not in mine.output
    assert mine.output.count("your own: 60 words") == 2


def test_json_gives_every_letter_its_own_share_and_out_writes_nothing_extra(
    tmp_path: Path, smtp_server: Server
) -> None:
    path = _campaign(tmp_path / "c")
    env = env_for(smtp_server, log=tmp_path / "log.sqlite3")
    run = send(path, "--json", "--note", OWN, env=env)
    assert run.code == 0, run.output
    letters = {x["target"]: x for x in json.loads(run.stdout)["letters"]}
    assert set(letters) == {"court", "ministry"}
    for item in letters.values():
        assert item["own_words"] == 20
        assert 0 < item["own_share"] < 1
    dry = cli(["send", "-t", str(path), "--dry-run", "--json", "--note", OWN, "--from", FROM])
    previewed = {x["target"]: x for x in json.loads(dry.stdout)["letters"]}
    assert {t: (x["own_words"], x["own_share"]) for t, x in previewed.items()} == {
        t: (x["own_words"], x["own_share"]) for t, x in letters.items()
    }
    assert "Dry run: nothing was sent." in dry.err
    out = tmp_path / "out"
    cli(["send", "-t", str(path), "--dry-run", "--out", str(out), "--from", FROM], expect=0)
    assert sorted(p.name for p in out.iterdir()) == ["court.eml", "ministry.eml"]
    assert b"own" not in (out / "court.eml").read_bytes().lower().split(b"\r\n\r\n")[0]


def test_own_words_refuses_send_and_test_with_exit_2_and_the_dry_run_warns(
    tmp_path: Path, smtp_server: Server
) -> None:
    path = _campaign(tmp_path / "c", own_words=15)
    env = env_for(smtp_server, log=tmp_path / "log.sqlite3")
    for extra in ([], ["--test"]):
        run = send(path, *extra, "--note", "I was there.", env=env)
        assert run.code == 2, run.output
        assert "at least 15 words of your own" in run.output
        assert "court (3), ministry (3)" in run.output
    assert smtp_server.connections == 0
    dry = cli(["send", "-t", str(path), "--dry-run", "--from", FROM], expect=0)
    assert "at least 15 words of your own" in dry.output
    assert "court (0), ministry (0)" in dry.output
    assert send(path, "--note", OWN, env=env).code == 0
    assert len(smtp_server.messages) == 2
