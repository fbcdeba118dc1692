"""``protest posted`` (issue 19, part 3): the send log knows what went by post."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kit import BASIC, FROM, cli, env_for, send, write_campaign
from protest_dispatch.campaign.loading import load_campaign
from protest_dispatch.cli.views import print as views
from protest_dispatch.commands.replies import unanswered
from protest_dispatch.sendlog.records import Post
from protest_dispatch.sendlog.store import SendLog
from smtp_server import Server

PAPER = """\
  - id: archive
    name: "The Archive"
    postal_address: "The Archive\\n1 Example Road\\nExample City"
    template: court.md.j2
  - id: registry
    name: "The Registry"
    postal_address: "The Registry\\n2 Example Road\\nExample City"
    template: court.md.j2
"""


def setup(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    path = write_campaign(tmp_path / "campaign", BASIC + PAPER)
    env = {"PROTEST_FROM": FROM, "PROTEST_LOG": str(tmp_path / "log.sqlite3"), "PROTEST_CONFIG": ""}
    return path, env


def test_posted_status_log_and_followup_round_trip(tmp_path: Path) -> None:
    path, env = setup(tmp_path)
    before = cli(["status", "-t", str(path)], env=env, expect=0).output
    assert "protest print" in before
    assert "archive, registry" in before

    long_ago = (datetime.now(UTC).date() - timedelta(days=30)).isoformat()
    done = cli(["posted", "archive", "--date", long_ago, "-t", str(path)], env=env, expect=0)
    assert f"on {long_ago}" in done.output
    assert "1 letter(s) still to print and post" in done.output

    status = cli(["status", "-t", str(path)], env=env, expect=0).output
    assert "posted" in status
    assert "Letters to print and post: registry." in status

    table = cli(["log"], env=env, expect=0).output
    assert "Letters posted" in table
    assert long_ago in table
    rows = json.loads(cli(["log", "--json"], env=env, expect=0).stdout)
    assert rows == [
        {
            "campaign": "free-them",
            "target": "archive",
            "sender": "ana@example.org",
            "channel": "post",
            "status": "posted",
            "posted_on": long_ago,
            "updated_at": rows[0]["updated_at"],
            "events": [],
        }
    ]

    (posted,) = csv.DictReader(io.StringIO(cli(["log", "--csv"], env=env, expect=0).stdout))
    assert (posted["target"], posted["channel"], posted["status"], posted["posted_on"]) == (
        "archive",
        "post",
        "posted",
        long_ago,
    )
    assert posted["to"] == posted["message_id"] == ""

    followup = cli(["followup"], env=env, expect=0).output
    assert "archive" in followup
    assert "by post" in followup
    with SendLog.open(path=Path(env["PROTEST_LOG"])) as log:
        now = datetime.now(UTC)
        assert [u.target for u in unanswered(log, campaign=None, now=now)] == ["archive"]
        # 20 days after posting it is not asked about yet; email's 14 days do not apply.
        early = datetime.fromisoformat(long_ago).replace(tzinfo=UTC) + timedelta(days=20)
        assert unanswered(log, campaign=None, now=early) == []


def test_followup_records_an_answer_to_a_posted_letter(tmp_path: Path) -> None:
    from protest_dispatch.commands.replies import record_answer

    path, env = setup(tmp_path)
    long_ago = (datetime.now(UTC).date() - timedelta(days=22)).isoformat()
    cli(["posted", "registry", "--date", long_ago, "-t", str(path)], env=env, expect=0)
    with SendLog.open(path=Path(env["PROTEST_LOG"])) as log:
        now = datetime.now(UTC)
        (item,) = unanswered(log, campaign=None, now=now)
        record_answer(log, item, replied=True, now=now)
        assert unanswered(log, campaign=None, now=now) == []
    events = json.loads(cli(["log", "--json"], env=env, expect=0).stdout)[0]["events"]
    assert [e["kind"] for e in events] == ["reply"]


def test_posting_again_asks_or_needs_again(tmp_path: Path) -> None:
    path, env = setup(tmp_path)
    cli(["posted", "archive", "-t", str(path)], env=env, expect=0)
    refused = cli(["posted", "archive", "-t", str(path)], env=env, expect=2)
    assert "--again" in refused.stderr
    cli(["posted", "archive", "--again", "-t", str(path)], env=env, expect=0)
    with sqlite3.connect(env["PROTEST_LOG"]) as conn:
        assert conn.execute("SELECT count(*) FROM posts").fetchone()[0] == 2


def test_posting_again_on_a_terminal_asks_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The question itself; without a terminal the command refuses instead (above)."""
    path, _ = setup(tmp_path)
    earlier = (Post("free-them", "archive", "ana@example.org", "2011-09-21", "x"),)
    target = load_campaign(path=path).campaign.targets[1]
    for typed, expected in (("y\n", True), ("\n", False), ("", False), ("maybe\nno\n", False)):
        monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
        assert views.confirm_again(target=target, earlier=earlier) is expected


def test_posted_refuses_what_cannot_have_been_posted(tmp_path: Path) -> None:
    path, env = setup(tmp_path)
    unknown = cli(["posted", "nobody", "-t", str(path)], env=env, expect=2)
    assert "not a target" in unknown.stderr
    no_address = cli(["posted", "court", "-t", str(path)], env=env, expect=2)
    assert "no letter to post" in no_address.stderr
    future = (datetime.now(UTC).date() + timedelta(days=5)).isoformat()
    ahead = cli(["posted", "archive", "--date", future, "-t", str(path)], env=env, expect=2)
    assert "in the future" in ahead.stderr
    bad = cli(["posted", "archive", "--date", "21/09/2011", "-t", str(path)], env=env, expect=2)
    assert "YYYY-MM-DD" in bad.stderr
    nobody = {k: v for k, v in env.items() if k != "PROTEST_FROM"}
    assert cli(["posted", "archive", "-t", str(path)], env=nobody, expect=2).code == 2
    assert not Path(env["PROTEST_LOG"]).exists() or _posts(env) == 0


def _posts(env: dict[str, str]) -> int:
    with sqlite3.connect(env["PROTEST_LOG"]) as conn:
        return int(conn.execute("SELECT count(*) FROM posts").fetchone()[0])


def test_printing_records_nothing(tmp_path: Path) -> None:
    path, env = setup(tmp_path)
    env["PROTEST_POSTAL_ADDRESS"] = r"1 Example Street\nLondon"
    cli(["print", "-t", str(path), "--out", str(tmp_path / "out")], env=env, expect=0)
    assert not Path(env["PROTEST_LOG"]).exists()


def test_status_counts_a_posted_letter_unanswered_after_21_days_not_14(tmp_path: Path) -> None:
    path, env = setup(tmp_path)
    today = datetime.now(UTC).date()
    for target, days in (("archive", 22), ("registry", 18)):
        when = (today - timedelta(days=days)).isoformat()
        cli(["posted", target, "--date", when, "-t", str(path)], env=env, expect=0)
    status = cli(["status", "-t", str(path)], env=env, expect=0).output
    heading = "No reply after 14 days (21 by post)"
    assert heading in status
    unanswered_table = status.split(heading, 1)[1].split("\n\n")[0]
    assert "archive" in unanswered_table
    assert "by post" in unanswered_table
    assert f"posted {today - timedelta(days=22):%d %b %Y}" in unanswered_table
    assert "registry" not in unanswered_table


BOTH = """\
  - id: ministry
    name: "The Ministry"
    email: ministry@example.org
    postal_address: "The Ministry\\n3 Example Road\\nExample City"
    template: court.md.j2
"""


def test_a_letter_posted_on_paper_is_not_emailed_as_well_unless_named(
    tmp_path: Path, smtp_server: Server
) -> None:
    path = write_campaign(tmp_path / "campaign", BASIC + BOTH)
    env = env_for(smtp_server, log=tmp_path / "log.sqlite3", PROTEST_CONFIG="")
    done = cli(["posted", "ministry", "-t", str(path)], env=env, expect=0)
    assert "'protest send' will not email it as well" in _flat(done.output)
    assert "protest send --only ministry" in _flat(done.output)
    status = _flat(cli(["status", "-t", str(path)], env=env, expect=0).output)
    assert "not sent yet: court." in status
    run = send(path, env=env)
    assert run.code == 0, run.output
    assert [m.rcpt_tos for m in smtp_server.messages] == [["court@example.org"]]
    assert "Not emailing 1 letter(s) you posted on paper (ministry)" in _flat(run.output)
    again = send(path, "--json", env=env)
    assert json.loads(again.stdout)["counts"]["posted"] == 1
    assert "Nothing to send: 1 already sent, 1 posted on paper (ministry)." in _flat(
        send(path, env=env).output
    )
    assert send(path, "--only", "ministry", env=env).code == 0
    assert [m.rcpt_tos for m in smtp_server.messages][-1] == ["ministry@example.org"]


def test_posting_a_letter_already_emailed_says_so(tmp_path: Path, smtp_server: Server) -> None:
    path = write_campaign(tmp_path / "campaign", BASIC + BOTH)
    env = env_for(smtp_server, log=tmp_path / "log.sqlite3", PROTEST_CONFIG="")
    assert send(path, env=env).code == 0
    done = cli(["posted", "ministry", "-t", str(path)], env=env, expect=0)
    assert "You emailed it as well, on" in _flat(done.output)


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_status_json_gives_the_counts_and_lists_with_utc_times(
    tmp_path: Path, smtp_server: Server
) -> None:
    path = write_campaign(tmp_path / "campaign", BASIC + PAPER)
    env = env_for(smtp_server, log=tmp_path / "log.sqlite3", PROTEST_CONFIG="")
    assert send(path, env=env).code == 0
    long_ago = (datetime.now(UTC).date() - timedelta(days=22)).isoformat()
    cli(["posted", "archive", "--date", long_ago, "-t", str(path)], env=env, expect=0)
    run = cli(["status", "-t", str(path), "--json"], env=env, expect=0)
    report = json.loads(run.stdout)
    assert report["sender"] == "ana@example.org"
    (campaign,) = report["campaigns"]
    counts = campaign["counts"]
    assert (counts["sent"], counts["posted"], counts["to_post"], counts["not_sent_yet"]) == (
        1,
        1,
        1,
        0,
    )
    assert campaign["to_post"] == ["registry"]
    assert campaign["no_reply"] == [
        {
            "target": "archive",
            "to": "by post",
            "channel": "post",
            "sent_at": f"{long_ago}T00:00:00Z",
        }
    ]
    assert cli(["status", "--json", "--bounced"], env=env, expect=2).err
