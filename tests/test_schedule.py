"""When letters go (issue 18, items 4 and 5): office hours, the spread, dates, ``closed``.

Every run gets its moment from an injected clock (``cli(..., clock=...)``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kit import FROM, cli, env_for, line_of, only_problem, send, statuses, write_campaign
from protest_dispatch.campaign.hours import parse_office_hours
from protest_dispatch.campaign.loading import load_campaign
from protest_dispatch.campaign.schedule import waiting
from smtp_server import Server

LETTER = {"appeal.txt.j2": "Dear {{ target.name }},\n\nDrop the charges.\n\n{{ sender.name }}\n"}


def _yaml(campaign_extra: str = "", target_extra: str = "", targets: int = 2) -> str:
    lines = ["campaign:", "  id: free-them", '  subject: "Drop the charges"']
    lines += [f"  {line}" for line in campaign_extra.splitlines() if line]
    lines.append("targets:")
    for n in range(1, targets + 1):
        lines += [
            f"  - id: t{n}",
            f'    name: "Official {n}"',
            f"    email: official-{n}@example.org",
            "    template: appeal.txt.j2",
        ]
        lines += [f"    {line}" for line in target_extra.splitlines() if line]
    return "\n".join(lines) + "\n"


def _campaign(root: Path, campaign_extra: str = "", target_extra: str = "", **kw: int) -> Path:
    return write_campaign(root, _yaml(campaign_extra, target_extra, **kw), LETTER)


OFFICE = 'timezone: Asia/Almaty\noffice_hours: "09:00-18:00 Mon-Fri"\nsend_window: office_hours'
# Asia/Almaty is UTC+5 all year: 09:00 there is 04:00 UTC.
MONDAY_EARLY = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # Mon 07:00 in Almaty
MONDAY_OPEN = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # Mon 11:00 in Almaty
SATURDAY = datetime(2026, 12, 12, 6, 0, tzinfo=UTC)


# -- the grammar --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("09:00-18:00 Mon-Fri", [(540, 1080, {0, 1, 2, 3, 4})]),
        ("09:00-18:00", [(540, 1080, {0, 1, 2, 3, 4})]),
        ("Mon-Fri 09:00-18:00", [(540, 1080, {0, 1, 2, 3, 4})]),
        ("10:00-12:00 Mon,Wed,Fri", [(600, 720, {0, 2, 4})]),
        ("10:00-24:00 Sat", [(600, 1440, {5})]),
        (
            "09:00-13:00; 14:00-17:00 Mon-Thu",
            [(540, 780, {0, 1, 2, 3, 4}), (840, 1020, {0, 1, 2, 3})],
        ),
        ("22:00-23:00 Fri-Mon", [(1320, 1380, {4, 5, 6, 0})]),
    ],
)
def test_office_hours_that_are_valid(text: str, spans: list[tuple[int, int, set[int]]]) -> None:
    parsed = parse_office_hours(text)
    assert [(s.start, s.end, set(s.days)) for s in parsed.spans] == spans


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("09:00-18:00 Mnd", "'Mnd' is not a day"),
        ("25:00-26:00", "'25:00' is not a time of day"),
        ("09:60-18:00", "'09:60' is not a time of day"),
        ("18:00-09:00", "ends at 09:00, not after it starts (18:00)"),
        ("09:00-09:00", "not after it starts"),
        ("24:00-24:00", "24:00 may only end a span"),
        ("9-17", "needs one time range HH:MM-HH:MM"),
        ("09:00-12:00;; 13:00-17:00", "span 2 is empty"),
        ("09:00-12:00 13:00-17:00", "needs one time range"),
        ("", "is empty"),
    ],
)
def test_bad_office_hours_are_refused_by_validate_with_file_line_and_field(
    tmp_path: Path, text: str, words: str
) -> None:
    path = _campaign(
        tmp_path, target_extra=f'timezone: Asia/Almaty\noffice_hours: "{text}"', targets=1
    )
    problem = only_problem(path)
    assert (problem.line, problem.target, problem.field) == (
        line_of(path, "office_hours"),
        "t1",
        "office_hours",
    )
    assert words in problem.message
    run = cli(["validate", "-t", str(path), "--from", FROM], expect=2)
    assert f"line {problem.line}, target 't1', field 'office_hours'" in run.output


@pytest.mark.parametrize(
    ("campaign_extra", "target_extra", "field", "words"),
    [
        ("", 'office_hours: "09:00-18:00"', "timezone", "needs a 'timezone'"),
        ('office_hours: "09:00-18:00"', "", "campaign.timezone", "needs a 'timezone' too"),
        ("send_window: office_hours", "", "office_hours", "this target has none"),
        ("send_window: whenever", "", "campaign.send_window", "must be 'any' or 'office_hours'"),
        ("spread: 3 hours", "", "campaign.spread", 'must be a duration like "3h"'),
        ("spread: 0m", "", "campaign.spread", "longer than 0"),
        ("spread: 8d", "", "campaign.spread", "at most 7 days"),
        ("spread: 3h", "", "campaign.spread", "counts from a window's opening"),
        ("timezone: Mars/Olympus", "", "campaign.timezone", "must be a time zone name"),
        ("starts: 2026-02-01\nends: 2026-01-31", "", "campaign.ends", "before 'starts'"),
        ("starts: 1st of May", "", "campaign.starts", "YYYY-MM-DD"),
        ("ends: 2026-01-31 10:00", "", "campaign.ends", "YYYY-MM-DD"),
        ('closed: ""', "", "campaign.closed", "must not be empty"),
        ('closed: "Over \\e[2J"', "", "campaign.closed", "control character"),
    ],
)
def test_bad_schedule_fields_are_refused_with_line_and_field(
    tmp_path: Path, campaign_extra: str, target_extra: str, field: str, words: str
) -> None:
    path = _campaign(tmp_path, campaign_extra, target_extra, targets=1)
    problem = only_problem(path)
    assert problem.field == field
    assert words in problem.message
    assert problem.line is not None


# -- windows and the spread -------------------------------------------------------------


def test_a_letter_waits_for_its_window_and_goes_inside_it(tmp_path: Path) -> None:
    loaded = load_campaign(path=_campaign(tmp_path, OFFICE, targets=1))
    info, target = loaded.campaign.campaign, loaded.campaign.targets[0]
    early = waiting(info=info, target=target, sender="a@example.org", now=MONDAY_EARLY)
    assert early is not None
    assert early.opens_at == early.not_before == datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
    assert waiting(info=info, target=target, sender="a@example.org", now=MONDAY_OPEN) is None
    weekend = waiting(info=info, target=target, sender="a@example.org", now=SATURDAY)
    assert weekend is not None
    assert weekend.opens_at == datetime(2026, 12, 14, 4, 0, tzinfo=UTC)  # Monday again


def test_the_spread_puts_1000_senders_across_it_and_caps_it_at_the_window(
    tmp_path: Path,
) -> None:
    loaded = load_campaign(path=_campaign(tmp_path, OFFICE + "\nspread: 3h", targets=1))
    info, target = loaded.campaign.campaign, loaded.campaign.targets[0]
    opening = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
    hours: Counter[int] = Counter()
    for n in range(1000):
        sender = f"activist-{n}@example.org"
        wait = waiting(info=info, target=target, sender=sender, now=MONDAY_EARLY)
        assert wait is not None
        assert wait.opens_at == opening
        offset = wait.not_before - opening
        assert timedelta(0) <= offset < timedelta(hours=3)
        hours[int(offset.total_seconds() // 3600)] += 1
        # the same moment in every run; gone once it has passed, in the window
        assert waiting(info=info, target=target, sender=sender, now=wait.not_before) is None
        before = wait.not_before - timedelta(seconds=1)
        if before >= opening:
            assert waiting(info=info, target=target, sender=sender, now=before) is not None
    assert all(280 <= hours[h] <= 390 for h in range(3)), hours
    short = load_campaign(
        path=_campaign(
            tmp_path / "short",
            'timezone: Asia/Almaty\noffice_hours: "09:00-10:00"\nsend_window: office_hours\n'
            "spread: 3h",
            targets=1,
        )
    )
    for n in range(200):
        wait = waiting(
            info=short.campaign.campaign,
            target=short.campaign.targets[0],
            sender=f"s{n}@example.org",
            now=MONDAY_EARLY,
        )
        assert wait is not None
        assert wait.not_before - opening < timedelta(hours=1)


def test_a_spread_from_the_start_date_without_office_hours(tmp_path: Path) -> None:
    loaded = load_campaign(path=_campaign(tmp_path, "starts: 2026-12-07\nspread: 2h", targets=1))
    info, target = loaded.campaign.campaign, loaded.campaign.targets[0]
    start = datetime(2026, 12, 7, tzinfo=UTC)
    wait = waiting(info=info, target=target, sender="a@example.org", now=start)
    assert wait is not None
    assert start <= wait.not_before < start + timedelta(hours=2)
    later = start + timedelta(days=3)
    assert waiting(info=info, target=target, sender="a@example.org", now=later) is None


# -- send with windows, through the CLI ------------------------------------------------------


def test_outside_office_hours_letters_wait_exit_0_and_go_in_a_later_run(
    tmp_path: Path, smtp_server: Server
) -> None:
    path = _campaign(tmp_path / "c", OFFICE)
    log = tmp_path / "log.sqlite3"
    env = env_for(smtp_server, log=log)
    run = send(path, "--json", env=env, clock=MONDAY_EARLY)
    assert run.code == 0, run.output
    data = json.loads(run.stdout)
    assert smtp_server.messages == []
    assert [w["target"] for w in data["waiting"]] == ["t1", "t2"]
    assert data["waiting"][0]["opens_at"] == "2026-12-07T04:00:00Z"
    assert data["waiting"][0]["not_before"] == "2026-12-07T04:00:00Z"
    assert data["waiting"][0]["timezone"] == "Asia/Almaty"
    assert data["counts"]["waiting"] == 2
    assert not log.exists() or statuses(log) == {}, "a waiting letter is not recorded"
    text = send(path, env=env, clock=MONDAY_EARLY)
    assert text.code == 0
    assert "2 letter(s) wait for their office hours" in text.output
    assert "Mon 7 Dec 09:00 Asia/Almaty (04:00 UTC)" in text.output
    inside = send(path, env=env, clock=MONDAY_OPEN)
    assert inside.code == 0, inside.output
    assert len(smtp_server.messages) == 2
    assert statuses(log) == {"t1": "sent", "t2": "sent"}


def test_now_sends_waiting_letters_and_the_prompt_says_so(
    tmp_path: Path, smtp_server: Server
) -> None:
    path = _campaign(tmp_path / "c", OFFICE)
    env = env_for(smtp_server, log=tmp_path / "log.sqlite3")
    run = send(path, "--now", env=env, clock=SATURDAY)
    assert run.code == 0, run.output
    assert len(smtp_server.messages) == 2
    assert "outside their officials' office hours" in run.output


def test_test_letters_do_not_wait_for_office_hours(tmp_path: Path, smtp_server: Server) -> None:
    path = _campaign(tmp_path / "c", OFFICE)
    env = env_for(smtp_server, log=tmp_path / "log.sqlite3")
    assert send(path, "--test", env=env, clock=SATURDAY).code == 0
    assert len(smtp_server.messages) == 2


# -- campaign dates and closed --------------------------------------------------------------


def test_before_starts_send_sends_nothing_says_when_and_exits_0(
    tmp_path: Path, smtp_server: Server
) -> None:
    path = _campaign(tmp_path / "c", "starts: 2026-12-10\nends: 2026-12-20")
    env = env_for(smtp_server, log=tmp_path / "log.sqlite3")
    run = send(path, env=env, clock=MONDAY_OPEN)
    assert run.code == 0
    assert "has not started yet: it opens on 2026-12-10 (00:00 UTC)" in run.output
    quiet = send(path, "-q", env=env, clock=MONDAY_OPEN)
    assert quiet.output == ""
    data = json.loads(send(path, "--json", env=env, clock=MONDAY_OPEN).stdout)
    assert (data["phase"], data["opens_at"]) == ("not-started", "2026-12-10T00:00:00Z")
    assert smtp_server.messages == []
    # --test and --dry-run still work
    assert send(path, "--test", env=env, clock=MONDAY_OPEN).code == 0
    assert len(smtp_server.messages) == 2
    dry = cli(["send", "-t", str(path), "--dry-run"], env=env, clock=MONDAY_OPEN)
    assert dry.code == 0
    assert "Dry run: nothing was sent. 2 letter(s)" in dry.output
    # on the first day and the last day (UTC) it sends
    assert send(path, env=env, clock=datetime(2026, 12, 20, 23, 59, tzinfo=UTC)).code == 0
    assert len(smtp_server.messages) == 4


def test_after_ends_send_sends_nothing_and_says_it_ended(
    tmp_path: Path, smtp_server: Server
) -> None:
    path = _campaign(tmp_path / "c", "ends: 2026-12-06")
    env = env_for(smtp_server, log=tmp_path / "log.sqlite3")
    run = send(path, "-q", env=env, clock=MONDAY_EARLY)
    assert run.code == 0
    assert "Campaign free-them ended on 2026-12-06 (UTC). Nothing was sent." in run.output
    assert smtp_server.messages == []


def test_a_closed_campaign_says_its_text_escaped_everywhere_and_sends_nothing(
    tmp_path: Path, smtp_server: Server
) -> None:
    closed = 'closed: "The charges were dropped on 3 May [bold]. Thank you!\\u200b"'
    path = _campaign(tmp_path / "c", closed)
    env = env_for(smtp_server, log=tmp_path / "log.sqlite3")
    run = send(path, "-q", env=env, clock=MONDAY_OPEN)
    assert run.code == 0
    assert "is closed: The charges were dropped on 3 May [bold]. Thank you!<U+200B>" in run.output
    assert "crontab -e" in run.output
    data = json.loads(send(path, "--json", env=env, clock=MONDAY_OPEN).stdout)
    assert data["phase"] == "closed"
    assert data["closed"].startswith("The charges were dropped")
    assert smtp_server.messages == []
    validate = cli(["validate", "-t", str(path), "--from", FROM], env=env)
    assert validate.code == 0
    assert "The campaign is closed: The charges were dropped" in validate.output
    calls = cli(["calls", "-t", str(path)], env=env)
    assert "is closed: The charges were dropped" in calls.output
    followup = cli(["followup", "-t", str(path)], env=env)
    assert "is closed: The charges were dropped" in followup.output


def test_validate_shows_the_dates_window_and_spread(tmp_path: Path) -> None:
    path = _campaign(tmp_path, OFFICE + "\nspread: 1h30m\nstarts: 2026-12-01\nends: 2026-12-31")
    run = cli(["validate", "-t", str(path), "--from", FROM], expect=0)
    assert "Letters go from 2026-12-01 until 2026-12-31 (inclusive), in UTC." in run.output
    assert "only in each target's office hours" in run.output
    assert "within 1 h 30 min of the window's opening" in run.output


def test_the_call_sheet_says_open_now_or_when_the_office_opens(
    campaign: Callable[..., Path],
) -> None:
    path = campaign(calls=True)
    open_now = cli(["calls", "-t", str(path)], clock=MONDAY_OPEN, expect=0)
    assert "Mon-Fri 09:00-18:00 (Asia/Almaty): open now" in open_now.output
    closed = cli(["calls", "-t", str(path)], clock=SATURDAY, expect=0)
    assert "Mon-Fri 09:00-18:00 (Asia/Almaty): opens Mon 09:00" in closed.output
