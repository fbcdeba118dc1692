"""Sending as a person: test sends, own words, receipts and provider limits, end to end."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kit import (
    CALLS_SUBJECT,
    CAMPAIGN_CC,
    SENDER,
    by_target,
    env_for,
    log_rows,
    make_campaign,
    official,
    send,
)
from smtp_server import Server

NOTE = "I met Ainur in 2010; she is a teacher, not a criminal."


def text_of(server: Server, index: int) -> str:
    part = server.messages[index].message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def usage(log: Path) -> int:
    with sqlite3.connect(log) as conn:
        return int(conn.execute("SELECT COALESCE(SUM(recipients), 0) FROM usage").fetchone()[0])


def test_a_test_send_goes_to_the_sender_only_and_is_not_recorded(
    tmp_path: Path, smtp_server: Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=2)
    log = tmp_path / "log.sqlite3"
    env = env_for(smtp_server, log=log, PROTEST_COPY_ME="true")
    result = send(campaign, "--test", env=env)
    assert result.code == 0, result.output
    assert [m.rcpt_tos for m in smtp_server.messages] == [[SENDER], [SENDER]]
    for received in smtp_server.messages:
        message = received.message
        assert str(message["Subject"]).startswith("[TEST] ")
        assert message["To"].addresses[0].addr_spec == SENDER
        assert message["Cc"] is None
        assert message["Bcc"] is None
        assert CAMPAIGN_CC not in received.data.decode()
    assert log_rows(env) == []
    assert usage(log) == 2, "test letters still count against the provider's limit"

    real = send(campaign, env=env)
    assert real.code == 0, real.output
    assert {r["target"]: r["status"] for r in log_rows(env)} == {"t01": "sent", "t02": "sent"}
    assert smtp_server.messages[2].rcpt_tos[0] == official(1)


def test_the_note_appears_where_the_letter_puts_it(tmp_path: Path, smtp_server: Server) -> None:
    campaign = make_campaign(
        tmp_path / "c", targets=1, calls=True, campaign_cc=(), subject=CALLS_SUBJECT
    )
    env = env_for(smtp_server, log=tmp_path / "log.sqlite3")
    result = send(campaign, "--only", "t01", "--note", f"  {NOTE}\n", env=env)
    assert result.code == 0, result.output
    body = text_of(smtp_server, 0)
    assert NOTE in body
    assert body.index("drop the charges") < body.index(NOTE) < body.index("Yours,")

    note_file = tmp_path / "note.txt"
    note_file.write_text("From a file: free them all.\n", encoding="utf-8")
    from_file = send(campaign, "--only", "desk", "--note-file", str(note_file), env=env)
    assert from_file.code == 0, from_file.output
    assert "From a file: free them all." in text_of(smtp_server, 1)

    both = send(campaign, "--note", "x", "--note-file", str(note_file), env=env)
    assert both.code == 2
    assert len(smtp_server.messages) == 2


def test_copy_me_is_in_the_envelope_and_in_no_header(tmp_path: Path, smtp_server: Server) -> None:
    campaign = make_campaign(tmp_path / "c", targets=1)
    config = tmp_path / "config.toml"
    config.write_text("copy_me = true\n", encoding="utf-8")
    env = env_for(smtp_server, log=tmp_path / "log.sqlite3", PROTEST_CONFIG=str(config))
    result = send(campaign, env=env)
    assert result.code == 0, result.output
    [received] = smtp_server.messages
    assert received.rcpt_tos == [official(1), CAMPAIGN_CC, SENDER]
    headers = received.data.split(b"\r\n\r\n", 1)[0].decode()
    assert not re.search(r"(?im)^bcc:", headers)
    for name in ("To", "Cc", "Reply-To"):
        assert SENDER not in str(received.message.get(name, ""))

    second = make_campaign(tmp_path / "d", targets=1, campaign_id="another")
    opted_out = send(second, "--no-copy-me", env=env)
    assert opted_out.code == 0, opted_out.output
    assert smtp_server.messages[1].rcpt_tos == [official(1), CAMPAIGN_CC]


def test_a_run_sends_what_fits_the_hourly_limit_and_says_when_the_rest_can_go(
    tmp_path: Path, smtp_server: Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=4, campaign_cc=())
    env = env_for(smtp_server, log=tmp_path / "log.sqlite3", PROTEST_LIMIT_PER_HOUR="2")
    before = datetime.now(UTC).replace(microsecond=0)
    first = send(campaign, env=env)
    assert first.code == 75, first.output
    assert len(smtp_server.messages) == 2
    found = re.search(r"the rest can go after (\d\d \w{3} \d\d:\d\d) UTC", first.output)
    assert found, first.output
    free_at = datetime.strptime(f"{before.year} {found.group(1)}", "%Y %d %b %H:%M").replace(
        tzinfo=UTC
    )
    assert before + timedelta(minutes=59) <= free_at <= before + timedelta(hours=1, minutes=1)
    assert "not attempted" in first.stdout

    again = send(campaign, env=env)
    assert again.code == 75, again.output
    assert len(smtp_server.messages) == 2, "the second run within the hour sent more"
    statuses = {t: r["status"] for t, r in by_target(log_rows(env)).items()}
    assert statuses == {"t01": "sent", "t02": "sent"}

    counted = send(campaign, "--json", env={**env, "PROTEST_LIMIT_PER_HOUR": "4"})
    assert counted.code == 0, counted.output
    summary = json.loads(counted.stdout)
    assert summary["counts"]["sent"] == 2
    assert summary["counts"]["skipped"] == 2
    assert summary["quota_free_at"] is None


def test_copies_count_against_the_limit(tmp_path: Path, smtp_server: Server) -> None:
    """Every To, Cc and Bcc is a recipient: a letter with a copy and a receipt costs three."""
    campaign = make_campaign(tmp_path / "c", targets=2)
    env = env_for(smtp_server, log=tmp_path / "log.sqlite3", PROTEST_LIMIT_PER_DAY="5")
    result = send(campaign, "--copy-me", env=env)
    assert result.code == 75, result.output
    assert [len(m.rcpt_tos) for m in smtp_server.messages] == [3]


def test_shell_completion_is_available() -> None:
    # Typer looks for a shell among the process's ancestors, and a runner under cron or
    # CI may have none; the variable (read when the app is built) turns that off.
    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "protest_dispatch", "--show-completion", "bash"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "_PROTEST_COMPLETE" in done.stdout
