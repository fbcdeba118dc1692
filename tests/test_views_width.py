"""What a person reads at 80 and 120 columns, on a real pseudo-terminal.

Tables never break a word: slugs, addresses and dates stay whole on one line (a table
too wide for the terminal becomes one block per row); dates are short and free of the
local zone; ISO 8601 appears only in --json and --csv; no line is wider than the
terminal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dovecot import Dovecot
from inboxkit import Sent, age_letters, values_for
from kit import FROM, SENDER, cli, write_campaign
from mailcorpus import render
from protest_dispatch.cli.output import when
from protest_dispatch.sendlog.findings import Finding, FindingLog
from protest_dispatch.sendlog.records import format_time
from protest_dispatch.sendlog.store import SendLog
from protest_dispatch.vocabulary import FindingKind, LetterStatus
from smtp_server import Server
from terminal import broken_words, screen, widest_line

CAMPAIGN = "save-library"
COPY = "copies@campaign.example.org"
TARGETS = {
    "councillor": ("Councillor Sam Roe", "sam.roe@council.example.org"),
    "minister-for-culture": (
        "Minister Alex Dunmore-Fairweather",
        "alex.dunmore-fairweather@ministry-of-culture.example.org",
    ),
    "mayor-office": ("Mayor Jo Patel", "mayor@city.example.org"),
}
DIAGNOSTIC = (
    "smtp; 550 5.1.1 <alex.dunmore-fairweather@ministry-of-culture.example.org>: Recipient "
    "address rejected: User unknown in virtual mailbox table"
)
REPLY = (
    "Dear Ana,\n\nThank you for writing. The committee will consider the future of the "
    "Central Library at its meeting on 12 January, and the public may speak there.\n\n"
    "Yours sincerely,\nSam Roe"
)
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
WIDTHS = (80, 120)


def _campaign(root: Path) -> Path:
    lines = [
        "campaign:",
        f"  id: {CAMPAIGN}",
        '  subject: "Keep the library open"',
        f"  cc: [{COPY}]",
    ]
    lines.append("targets:")
    for slug, (name, address) in TARGETS.items():
        lines += [
            f"  - id: {slug}",
            f'    name: "{name}"',
            f"    email: {address}",
            "    template: appeal.txt.j2",
        ]
    letter = "Dear {{ target.name }},\n\nPlease keep the library open.\n\n{{ sender.name }}\n"
    return write_campaign(root, "\n".join(lines) + "\n", {"appeal.txt.j2": letter})


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A campaign, and a send log in which one letter bounced and one was answered."""
    campaign = _campaign(tmp_path / "c")
    log = tmp_path / "log.sqlite3"
    (tmp_path / "config.toml").write_text("", encoding="utf-8")
    env = {
        "PROTEST_CONFIG": str(tmp_path / "config.toml"),
        "PROTEST_FROM": FROM,
        "PROTEST_LOG": str(log),
    }
    now = format_time(datetime.now(UTC))
    with SendLog.open(path=log) as sendlog:
        for slug, (_, address) in TARGETS.items():
            sendlog.begin(
                campaign=CAMPAIGN,
                target=slug,
                sender=SENDER,
                to=address,
                cc=[COPY],
                message_id=f"<{slug}.1@example.org>",
                recipients=2,
            )
            sendlog.finish(
                campaign=CAMPAIGN,
                target=slug,
                sender=SENDER,
                status=LetterStatus.SENT,
                smtp_code=250,
            )
        FindingLog(sendlog).record(
            [
                Finding(
                    campaign=CAMPAIGN,
                    target="minister-for-culture",
                    sender=SENDER,
                    letter_id="<minister-for-culture.1@example.org>",
                    kind=FindingKind.BOUNCED,
                    at=now,
                    source="bounce",
                    recipient=TARGETS["minister-for-culture"][1],
                    status="5.1.1",
                    diagnostic=DIAGNOSTIC,
                ),
                Finding(
                    campaign=CAMPAIGN,
                    target="councillor",
                    sender=SENDER,
                    letter_id="<councillor.1@example.org>",
                    kind=FindingKind.REPLY,
                    at=now,
                    source="reply",
                    from_=TARGETS["councillor"][1],
                    subject="Re: Keep the library open - thank you for your letter",
                    diagnostic="Thank you for writing. The committee will consider",
                    body=REPLY,
                ),
            ]
        )
    age_letters(log, days=20)  # due for a follow-up
    return campaign, env


def _tokens(env: dict[str, str]) -> list[str]:
    rows = json.loads(cli(["log", "--json"], env=env).stdout)
    dates = {when(row["updated_at"]) for row in rows}
    dates |= {when(e["at"]) for row in rows for e in row["events"]}
    return [*TARGETS, *(address for _, address in TARGETS.values()), *sorted(dates)]


def _read(args: list[str], *, env: dict[str, str], columns: int, typed: bytes = b"") -> str:
    code, shown = screen(args, env=env, columns=columns, typed=typed)
    assert code == 0, shown
    if not typed:  # answers typed ahead are echoed where the terminal had its cursor
        assert widest_line(shown) <= columns, shown
    assert not ISO.search(shown), f"an ISO time outside --json/--csv:\n{shown}"
    return shown


@pytest.mark.slow
@pytest.mark.parametrize("columns", WIDTHS)
def test_log_and_status_never_break_a_slug_an_address_or_a_date(
    world: tuple[Path, dict[str, str]], columns: int
) -> None:
    campaign, env = world
    tokens = _tokens(env)
    for args in (["log"], ["status", "-t", str(campaign)], ["validate", "-t", str(campaign)]):
        shown = _read(args, env=env, columns=columns)
        wanted = tokens if args[0] != "validate" else [*TARGETS, TARGETS["councillor"][1]]
        assert broken_words(shown, wanted) == [], f"{args} at {columns}:\n{shown}"


@pytest.mark.slow
@pytest.mark.parametrize("columns", WIDTHS)
def test_replies_list_one_per_entry_and_show_reads_as_a_page(
    world: tuple[Path, dict[str, str]], columns: int
) -> None:
    campaign, env = world
    listed = _read(["replies", "-t", str(campaign)], env=env, columns=columns)
    assert "#1  " in listed
    assert "Councillor Sam Roe (councillor)" in listed

    page = _read(["replies", "--show", "1", "-t", str(campaign)], env=env, columns=columns)
    words = REPLY.split()
    assert " ".join(page.split()).count(" ".join(words)) == 1, page  # all of it, in order
    assert broken_words(page, words) == [], page  # wrapped between words


@pytest.mark.slow
def test_followup_and_the_organisers_list_name_people_not_slugs(
    world: tuple[Path, dict[str, str]],
) -> None:
    campaign, env = world
    asked = _read(["followup", "-t", str(campaign)], env=env, columns=80, typed=b"s\ns\n")
    assert "Did Mayor Jo Patel (mayor-office) reply?" in asked
    assert "councillor" not in asked.split("Recorded")[0]  # it replied: not asked

    bounced = cli(["status", "--bounced", "-t", str(campaign)], env=env).stdout
    assert bounced.startswith(
        f"Campaign {CAMPAIGN}: 1 address(es) to fix\n"
        "- Minister Alex Dunmore-Fairweather (minister-for-culture): "
        f"{TARGETS['minister-for-culture'][1]} bounced on "
    )
    without_file = cli(["status", "--bounced"], env=env).stdout
    assert "- minister-for-culture: " in without_file  # ids when the file is not at hand


@pytest.mark.slow
@pytest.mark.parametrize("columns", WIDTHS)
def test_the_send_plan_fits_and_nothing_to_send_is_one_line(
    world: tuple[Path, dict[str, str]], columns: int, smtp_server: Server
) -> None:
    campaign, env = world
    env = {
        **env,
        "PROTEST_SMTP_HOST": smtp_server.host,
        "PROTEST_SMTP_PORT": str(smtp_server.port),
        "PROTEST_SMTP_SECURITY": "none",
    }
    shown = _read(["send", "-t", str(campaign), "--rate", "0"], env=env, columns=columns)
    lines = [line for line in shown.splitlines() if line.strip()]
    assert (
        lines[-1] == "Nothing to send: 2 already sent, 1 skipped (bounced: minister-for-culture)."
    )
    assert "Ready to send" not in shown
    assert "Bcc" not in shown
    assert "0/0" not in shown
    assert smtp_server.messages == []


@pytest.mark.slow
@pytest.mark.parametrize("columns", WIDTHS)
def test_inbox_shows_one_line_per_finding(sent: Sent, mailbox: Dovecot, columns: int) -> None:
    _, env, rows = sent
    mailbox.deliver("INBOX", render("dsn-postfix", **values_for(rows["t01"])))
    mailbox.deliver("INBOX", render("reply-plain", **values_for(rows["t02"])))
    shown = _read(["inbox"], env=env, columns=columns)
    lines = shown.splitlines()
    assert f"of {env['PROTEST_IMAP_USERNAME']} at {mailbox.host}:{mailbox.imaps_port}." in shown
    found = [line for line in lines if "free-them/t0" in line]
    assert len(found) == 2, shown
    assert any("bounced" in line and "free-them/t01" in line for line in found)
    assert any("reply" in line and "free-them/t02" in line for line in found)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sendlog.sqlite3"


def _times(data: object) -> Iterator[str]:
    if isinstance(data, dict):
        for value in data.values():
            yield from _times(value)
    elif isinstance(data, list):
        for value in data:
            yield from _times(value)
    elif isinstance(data, str) and ISO.match(data):
        yield data


def test_every_json_time_is_iso_8601_utc_with_z(world: tuple[Path, dict[str, str]]) -> None:
    _, env = world
    found = [
        t
        for args in (["log", "--json"], ["replies", "--json"])
        for t in _times(json.loads(cli(args, env=env).stdout))
    ]
    assert len(found) >= 5  # each letter's time, the bounce's and the reply's
    assert [t for t in found if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", t)] == []
