"""The call sheet and the call log: ``protest calls``, ``protest called``, ``protest log``."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kit import CALLS_SUBJECT, SENDER, cli, make_campaign, sender_env
from protest_dispatch.commands.calls import country_zones, zone_for_country


def offset_label(zone: str) -> str:
    offset = datetime.now(UTC).astimezone(ZoneInfo(zone)).strftime("%z")
    return f"({zone}, UTC{offset[:3]}:{offset[3:]})"


def blocks(stdout: str) -> dict[str, str]:
    """Target id -> its part of the sheet."""
    found: dict[str, str] = {}
    current = None
    for line in stdout.splitlines():
        if line.startswith("Id: "):
            current = line[4:].strip()
            found[current] = ""
        if current is not None:
            found[current] += line + "\n"
    return found


def test_the_sheet_shows_number_local_time_hours_and_script(tmp_path: Path) -> None:
    campaign = make_campaign(tmp_path / "c", calls=True, campaign_cc=(), subject=CALLS_SUBJECT)
    result = cli(
        ["calls", "-t", str(campaign), "--country", "GB"], env=sender_env(tmp_path / "log.sqlite3")
    )
    assert result.code == 0, result.output
    sheet = blocks(result.stdout)
    assert list(sheet) == ["court", "admin", "embassy-gb"]  # no letters, no other country
    court = sheet["court"]
    assert "Phone: +7 7172 000000" in court
    assert offset_label("Asia/Almaty") in court
    assert "Office hours: Mon-Fri 09:00-18:00" in court
    assert "Hello, this is Ana Example. I am calling Judge Example" in court
    assert "Last call: not called yet" in court
    admin = sheet["admin"]
    assert "Local time: unknown" in admin
    assert "I am calling about this: Drop the charges against the four." in admin
    assert "The Administration" in admin
    assert offset_label("Europe/London") in sheet["embassy-gb"]
    assert "protest called <id> --outcome" in result.stderr
    assert not (tmp_path / "log.sqlite3").exists(), "showing the sheet creates no send log"


def test_a_country_with_clocks_that_disagree_has_no_local_time(tmp_path: Path) -> None:
    campaign = make_campaign(tmp_path / "c", calls=True, campaign_cc=(), subject=CALLS_SUBJECT)
    result = cli(
        ["calls", "-t", str(campaign), "--country", "US", "--only", "embassy-us"],
        env=sender_env(tmp_path / "log.sqlite3"),
    )
    assert result.code == 0, result.output
    assert "Local time: unknown" in blocks(result.stdout)["embassy-us"]


def test_a_target_stays_on_the_sheet_until_reached(tmp_path: Path) -> None:
    log = tmp_path / "log.sqlite3"
    env = sender_env(log)
    campaign = make_campaign(tmp_path / "c", calls=True, campaign_cc=(), subject=CALLS_SUBJECT)
    first = cli(
        [
            "called",
            "court",
            "--outcome",
            "voicemail",
            "--note",
            "left a message",
            "-t",
            str(campaign),
        ],
        env=env,
    )
    assert first.code == 0, first.output
    assert "court (Judge Example): voicemail" in first.stdout
    assert "2 call(s) left to make" in first.stderr

    sheet = blocks(cli(["calls", "-t", str(campaign)], env=env).stdout)
    assert "Last call: voicemail" in sheet["court"]
    assert "(left a message); 1 call(s) so far" in sheet["court"]

    reached = cli(["called", "court", "--outcome", "reached", "-t", str(campaign)], env=env)
    assert reached.code == 0, reached.output
    assert "1 call(s) left to make" in reached.stderr
    after = cli(["calls", "-t", str(campaign)], env=env)
    assert list(blocks(after.stdout)) == ["admin"]
    assert "1 target(s) already reached are not shown" in after.stderr

    everything = blocks(cli(["calls", "-t", str(campaign), "--all"], env=env).stdout)
    assert list(everything) == ["court", "admin", "desk"]
    assert "Done: reached" in everything["court"]
    assert "I am calling about this" in everything["desk"]

    with sqlite3.connect(log) as conn:
        rows = conn.execute(
            "SELECT target, sender, outcome, note FROM calls ORDER BY id"
        ).fetchall()
    assert rows == [
        ("court", SENDER, "voicemail", "left a message"),
        ("court", SENDER, "reached", None),
    ]

    shown = cli(["log"], env=env)
    assert shown.code == 0
    assert "Calls" in shown.stdout
    assert "left a message" in shown.stdout
    assert "reached" in shown.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody", "--outcome", "reached"], "'nobody' is not a target"),
        (["t01", "--outcome", "reached"], "has no phone number"),
        (["court", "--outcome", "busy"], "busy"),
    ],
)
def test_called_refuses_what_it_cannot_record(
    tmp_path: Path, args: list[str], message: str
) -> None:
    log = tmp_path / "log.sqlite3"
    campaign = make_campaign(tmp_path / "c", calls=True, campaign_cc=(), subject=CALLS_SUBJECT)
    result = cli(["called", *args, "-t", str(campaign)], env=sender_env(log))
    assert result.code == 2
    assert message in result.output
    assert not log.exists()


def test_called_needs_a_sender(tmp_path: Path) -> None:
    log = tmp_path / "log.sqlite3"
    campaign = make_campaign(tmp_path / "c", calls=True, campaign_cc=(), subject=CALLS_SUBJECT)
    result = cli(
        ["called", "court", "--outcome", "reached", "-t", str(campaign)],
        env={"PROTEST_LOG": str(log)},
    )
    assert result.code == 2
    assert "No sender is configured, so the call cannot be recorded" in result.stderr
    assert not log.exists()


def test_called_is_logged_per_sender(tmp_path: Path) -> None:
    log = tmp_path / "log.sqlite3"
    campaign = make_campaign(tmp_path / "c", calls=True, campaign_cc=(), subject=CALLS_SUBJECT)
    other = sender_env(log, PROTEST_FROM="Ben Example <ben@example.org>")
    assert (
        cli(["called", "admin", "--outcome", "reached", "-t", str(campaign)], env=other).code == 0
    )
    mine = blocks(cli(["calls", "-t", str(campaign)], env=sender_env(log)).stdout)
    assert "Last call: not called yet" in mine["admin"]
    as_json = cli(["log", "--json"], env=sender_env(log))
    assert json.loads(as_json.stdout) == []


def test_zone_from_country() -> None:
    if not country_zones():
        pytest.skip("this machine has no tz database tables (zone.tab)")
    winter = datetime(2025, 1, 15, 12, tzinfo=UTC)
    assert zone_for_country("GB", now=winter) == "Europe/London"
    assert zone_for_country("US", now=winter) is None
    assert zone_for_country("ZZ", now=winter) is None
    assert zone_for_country("DE", now=winter) in ("Europe/Berlin", "Europe/Busingen")
