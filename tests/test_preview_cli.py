"""Who gets a letter, who the sender is, and the validate / send --dry-run commands (issue 2)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kit import FROM, TODAY, cli, parse, write_campaign
from protest_dispatch.campaign.audience import select
from protest_dispatch.campaign.loading import load_campaign
from protest_dispatch.errors import InputError
from smtp_server import Server

REPO = Path(__file__).resolve().parents[1]

CAMPAIGN = """\
campaign:
  id: free-them
  subject: "Drop the charges"
  cc: [press@example.org]
targets:
  - id: court
    name: "Judge Example"
    email: court@example.org
    template: letter.md.j2
  - id: embassy-gb
    name: "Embassy in the UK"
    email: embassy-gb@example.org
    country: GB
    template: letter.md.j2
  - id: embassy-de
    name: "Embassy in Germany"
    email: embassy-de@example.org
    country: DE
    template: letter.md.j2
  - id: office
    name: "The Office"
    role: "Head of the Office"
    phone: "+44 20 7946 0001"
    call_script: office-call.txt.j2
  - id: hotline
    name: "Hotline"
    phone: "+44 20 7946 0002"
"""

LETTERS = {
    "letter.md.j2": "Dear {{ target.name }},\n\nDrop the charges.\n\n{{ sender.name }}\n",
    "office-call.txt.j2": "Hello, I am {{ sender.name }} calling {{ target.role }}.\n",
}


@pytest.fixture
def campaign(tmp_path: Path) -> Path:
    return write_campaign(tmp_path / "campaign", CAMPAIGN, LETTERS)


def ids(selected: tuple[object, ...]) -> list[str]:
    return [getattr(s, "target", s).id for s in selected]  # Selected or Target


def letter_ids(out: str) -> list[str]:
    return re.findall(r"^Letter \d+ of \d+: (\S+) ", out, re.MULTILINE)


def dry_run(campaign: Path, *args: str, expect: int = 0) -> tuple[str, str]:
    run = cli(["send", "--dry-run", "-t", str(campaign), *args], expect=expect)
    return run.out, run.err


# --- who gets a letter ---------------------------------------------------------------------


def test_without_a_country_only_unscoped_targets(campaign: Path) -> None:
    audience = select(campaign=load_campaign(path=campaign).campaign, country=None)
    assert ids(audience.letters) == ["court"]
    assert ids(audience.calls) == ["office", "hotline"]
    assert ids(audience.needs_country) == ["embassy-gb", "embassy-de"]
    assert audience.other_countries == ()


def test_country_scoped_targets_go_only_to_senders_there(campaign: Path) -> None:
    audience = select(campaign=load_campaign(path=campaign).campaign, country="GB")
    assert ids(audience.letters) == ["court", "embassy-gb"]
    assert ids(audience.other_countries) == ["embassy-de"]
    assert audience.needs_country == ()


def test_only_restricts_and_refuses_unknown_ids(campaign: Path) -> None:
    loaded = load_campaign(path=campaign).campaign
    audience = select(campaign=loaded, country="GB", only=["embassy-gb", "office"])
    assert (ids(audience.letters), ids(audience.calls)) == (["embassy-gb"], ["office"])
    with pytest.raises(InputError, match="'nobody'"):
        select(campaign=loaded, country="GB", only=["court", "nobody"])


def test_dry_run_says_when_country_targets_were_skipped(campaign: Path) -> None:
    out, err = dry_run(campaign, "--from", FROM)
    assert letter_ids(out) == ["court"]
    assert "embassy-gb@example.org" not in out
    assert "skipped because your country is not set (embassy-gb, embassy-de)" in err
    assert "--country" in err


@pytest.mark.parametrize("how", ["option", "env"])
def test_dry_run_with_a_country(campaign: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    args = ["--from", FROM]
    if how == "option":
        args += ["--country", "gb"]
    else:
        monkeypatch.setenv("PROTEST_COUNTRY", "GB")
    out, err = dry_run(campaign, *args)
    assert letter_ids(out) == ["court", "embassy-gb"]
    assert "To: Embassy in the UK <embassy-gb@example.org>" in out
    assert "embassy-de" not in out
    assert "country is not set" not in err


def test_only_on_the_command_line(campaign: Path) -> None:
    out, _ = dry_run(
        campaign, "--from", FROM, "--country", "GB", "--only", "embassy-gb", "--only", "office"
    )
    assert letter_ids(out) == ["embassy-gb"]
    assert "Phone: +44 20 7946 0001" in out
    assert "+44 20 7946 0002" not in out
    assert "court@example.org" not in out


def test_only_with_an_unknown_id_is_exit_2(campaign: Path) -> None:
    _, err = dry_run(campaign, "--from", FROM, "--only", "court", "--only", "nobody", expect=2)
    assert "'nobody'" in err
    assert "court" in err


def test_phone_only_target_is_a_call_with_number_and_script(campaign: Path) -> None:
    out, err = dry_run(campaign, "--from", FROM, "--only", "office", "--only", "hotline")
    assert letter_ids(out) == []
    assert "Calls to make (2)" in out
    assert "Call: The Office, Head of the Office" in out
    assert "Phone: +44 20 7946 0001" in out
    assert "Hello, I am Ana Example calling Head of the Office." in out
    assert "Call: Hotline" in out
    assert "Phone: +44 20 7946 0002" in out
    # No script of its own: the same one the call sheet gives, built from the subject.
    assert "I am calling about this: " in out
    assert "Please pass my message on to Hotline, and ask them to act on it." in out
    assert "0 letter(s) and 2 call(s)" in out
    assert "error" not in err.lower()


# --- who the sender is ---------------------------------------------------------------------


def test_sender_from_option(campaign: Path) -> None:
    out, err = dry_run(campaign, "--from", "Ana Example <ana@example.org>")
    assert "From: Ana Example <ana@example.org>" in out
    assert "\nAna Example\n" in out
    assert "placeholder" not in err


def test_sender_from_environment(campaign: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROTEST_FROM", "Bea Example <bea@example.org>")
    out, _ = dry_run(campaign)
    assert "From: Bea Example <bea@example.org>" in out
    out, _ = dry_run(campaign, "--from", FROM)
    assert "From: Ana Example <ana@example.org>" in out, "--from wins over PROTEST_FROM"


def test_sender_from_the_default_config_file(campaign: Path) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "protest" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('from = "Cy Example <cy@example.org>"\ncountry = "GB"\n', encoding="utf-8")
    out, err = dry_run(campaign)
    assert "From: Cy Example <cy@example.org>" in out
    assert letter_ids(out) == ["court", "embassy-gb"]
    assert "placeholder" not in err


def test_sender_from_a_named_config_file(campaign: Path, tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('from = "Di Example <di@example.org>"\n', encoding="utf-8")
    out, _ = dry_run(campaign, "--config", str(config))
    assert "From: Di Example <di@example.org>" in out


def test_missing_named_config_file_is_exit_2(campaign: Path, tmp_path: Path) -> None:
    _, err = dry_run(campaign, "--config", str(tmp_path / "nope.toml"), expect=2)
    assert "nope.toml" in err


@pytest.mark.parametrize(
    "value",
    ["ana@example.org", "Ana <not an address>", "Ana <ana@example.org>\nBcc: x@example.org"],
)
def test_bad_sender_is_exit_2(campaign: Path, value: str) -> None:
    _, err = dry_run(campaign, "--from", value, expect=2)
    assert "sender" in err


def test_bad_country_on_the_command_line_is_exit_2(campaign: Path) -> None:
    _, err = dry_run(campaign, "--from", FROM, "--country", "UK", expect=2)
    assert "GB" in err


def test_no_sender_dry_run_uses_a_marked_placeholder(campaign: Path) -> None:
    out, err = dry_run(campaign)
    assert "From: Your Name <you@example.org>" in out
    assert "No sender is configured" in err
    assert "--from" in err
    assert "PROTEST_FROM" not in out


def test_no_sender_real_send_refuses(campaign: Path) -> None:
    run = cli(["send", "-t", str(campaign), "--yes"], expect=2)
    assert "No sender is configured" in run.err
    assert "--from" in run.err
    assert not (Path(os.environ["XDG_DATA_HOME"]) / "protest").exists()


# --- the commands --------------------------------------------------------------------------


def table_rows(out: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip()[1:-1].split("│")]
        for line in out.splitlines()
        if line.startswith("│")
    ]


def test_validate_prints_the_summary_table(campaign: Path) -> None:
    run = cli(["validate", "-t", str(campaign), "--from", FROM, "--country", "GB"], expect=0)
    header = next(line for line in run.out.splitlines() if "target" in line)
    assert re.search(r"target\s*┃\s*channel\s*┃\s*recipients\s*┃\s*template\s*┃\s*own", header)
    rows = table_rows(run.out)
    assert ["court", "email", "court@example.org, press@example.org", "letter.md.j2", "0%"] in rows
    assert [
        "embassy-gb",
        "email",
        "embassy-gb@example.org, press@example.org",
        "letter.md.j2",
        "0%",
    ] in rows
    assert ["office", "call", "+44 20 7946 0001", "office-call.txt.j2", ""] in rows
    assert ["hotline", "call", "+44 20 7946 0002", "", ""] in rows
    assert ["embassy-de", "skipped (only for senders in DE)", "", "", ""] in rows
    assert "valid: 2 letter(s) and 2 call(s)" in run.out


def test_validate_renders_every_letter(campaign: Path) -> None:
    (campaign.parent / "letters" / "office-call.txt.j2").write_text("{{ target.nmae }}\n")
    run = cli(["validate", "-t", str(campaign), "--from", FROM], expect=2)
    assert "office-call.txt.j2, line 1, target 'office'" in run.err
    assert run.out == ""


def test_dry_run_shows_headers_and_body_and_sends_nothing(
    campaign: Path, smtp_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROTEST_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("PROTEST_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("PROTEST_SMTP_SECURITY", "none")
    out, _ = dry_run(campaign, "--from", FROM, "--country", "GB")
    court = out.split("Letter 1 of 2: court (letter.md.j2)")[1].split("Letter 2 of 2")[0]
    for line in (
        "From: Ana Example <ana@example.org>",
        "To: Judge Example <court@example.org>",
        "Cc: press@example.org",
        "Subject: Drop the charges",
        "Dear Judge Example,",
        "Drop the charges.",
        "Ana Example",
    ):
        assert line in court
    assert "Dry run: nothing was sent. 2 letter(s) and 2 call(s) shown." in out
    assert smtp_server.connections == 0
    assert smtp_server.messages == []
    assert not (Path(os.environ["XDG_DATA_HOME"]) / "protest").exists(), "no send log"


def test_out_writes_one_eml_per_letter(campaign: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out" / "nested"
    out, _ = dry_run(campaign, "--from", FROM, "--country", "GB", "--out", str(out_dir))
    assert sorted(p.name for p in out_dir.iterdir()) == ["court.eml", "embassy-gb.eml"]
    msg = parse((out_dir / "court.eml").read_bytes())
    assert msg["From"].addresses[0].addr_spec == "ana@example.org"
    assert msg["To"].addresses[0].addr_spec == "court@example.org"
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["press@example.org"]
    assert msg["Subject"] == "Drop the charges"
    assert msg["Message-ID"].endswith("@example.org>")
    plain = msg.get_body(("plain",))
    assert plain is not None
    body = plain.get_content().replace("\r\n", "\n")
    assert body == "Dear Judge Example,\n\nDrop the charges.\n\nAna Example\n"
    assert f"wrote 2 .eml file(s) to {out_dir}" in out


def test_out_without_dry_run_is_exit_2(campaign: Path, tmp_path: Path) -> None:
    run = cli(["send", "-t", str(campaign), "--from", FROM, "--out", str(tmp_path)], expect=2)
    assert "--dry-run" in run.err


def test_targets_option_takes_the_campaign_folder(campaign: Path) -> None:
    out, _ = dry_run(campaign.parent, "--from", FROM)
    assert letter_ids(out) == ["court"]
    run = cli(["validate", "--targets", str(campaign.parent), "--from", FROM], expect=0)
    assert "Campaign free-them" in run.out


def test_targets_default_to_the_current_folder(
    campaign: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(campaign.parent)
    run = cli(["send", "--dry-run", "--from", FROM], expect=0)
    assert letter_ids(run.out) == ["court"]


def test_usage_error_is_exit_2() -> None:
    run = cli(["send", "--no-such-option"], expect=2)
    assert "--no-such-option" in run.err


def test_module_help_runs_in_a_subprocess() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "protest_dispatch", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for command in ("validate", "send", "log"):
        assert command in done.stdout


# --- the example campaign at the repository root -------------------------------------------


EXAMPLE = REPO / "targets.yaml"


def test_example_campaign_validates() -> None:
    run = cli(["validate", "-t", str(EXAMPLE), "--country", "GB"], expect=0)
    rows = {row[0]: row for row in table_rows(run.out)}
    assert rows["foreign-ministry"][1:3] == ["email", "mid@mid.kz"]
    assert rows["embassy-gb"][1:3] == ["email", "London@mfa.kz"]
    assert rows["supreme-court"][1:3] == ["call", "+7 7172 747570"]
    assert rows["presidential-administration"][1:3] == ["call", "+7 7172 74 55 24"]


def test_example_campaign_dry_run_for_a_sender_in_britain(tmp_path: Path) -> None:
    out, err = dry_run(EXAMPLE, "--from", FROM, "--country", "GB", "--out", str(tmp_path))
    assert letter_ids(out) == ["foreign-ministry", "embassy-gb"]
    assert "Kurmanov" in out
    assert "Ukteshbayev" in out
    assert "Sailybaeva" in out
    assert "OSCE" in out
    assert "Phone: +7 7172 747570" in out
    assert "Phone: +7 7172 74 55 24" in out
    assert "error" not in err.lower()
    embassy = parse((tmp_path / "embassy-gb.eml").read_bytes())
    assert embassy["To"].addresses[0].addr_spec == "London@mfa.kz"
    assert embassy.get_content_type() == "multipart/alternative"


def test_example_campaign_dry_run_in_russian(tmp_path: Path) -> None:
    out, _ = dry_run(
        EXAMPLE, "--from", FROM, "--country", "GB", "--lang", "ru", "--out", str(tmp_path)
    )
    assert "foreign-ministry (foreign-ministry.ru.md.j2)" in out
    assert "embassy-gb (embassy.ru.md.j2)" in out
    msg = parse((tmp_path / "foreign-ministry.eml").read_bytes())
    plain = msg.get_body(("plain",))
    assert plain is not None
    assert "Курманов" in plain.get_content()


def test_example_campaign_has_a_russian_supreme_court_letter() -> None:
    assert (REPO / "letters" / "supreme-court.ru.md.j2").is_file()
    assert TODAY.year == 2011


# main() pauses the cyclic GC for start-up: every campaign command must resume it, or a long
# run (a 10,000-letter dry run, a send) would go on without it.
_REPORT_GC_AT_EXIT = """
import atexit, gc, sys
atexit.register(lambda: print("gc enabled at exit:", gc.isenabled()))
from protest_dispatch.cli.app import main
sys.argv = ["protest", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "-t", str(EXAMPLE)],
        ["send", "--dry-run", "-t", str(EXAMPLE)],
        ["calls", "-t", str(EXAMPLE)],
        ["called", "supreme-court", "--outcome", "reached", "-t", str(EXAMPLE)],
        ["status", "-t", str(EXAMPLE)],
        ["log"],
        ["doctor", "--smtp-host", "127.0.0.1", "--smtp-port", "9", "--timeout", "0.2"],
        ["init"],
        ["login"],
        ["logout"],
        ["inbox"],
        ["replies"],
        ["followup"],
    ],
    ids=lambda argv: argv[0],
)
def test_every_command_resumes_the_gc_that_start_up_paused(argv: list[str], tmp_path: Path) -> None:
    """Whatever the command and however it ends, it does not run with the cyclic GC off."""
    done = subprocess.run(
        [sys.executable, "-c", _REPORT_GC_AT_EXIT, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PROTEST_COUNTRY": "GB", "PROTEST_LOG": str(tmp_path / "log.db")},
    )
    assert "gc enabled at exit: True" in done.stdout, done.stderr
