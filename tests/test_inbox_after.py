"""What findings change: send skips bounced letters, status, replies, followup, old logs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from dovecot import Dovecot
from inboxkit import Sent, age_letters, read_inbox, values_for
from kit import by_target, cli, log_rows, make_campaign, official, send
from mailcorpus import render
from protest_dispatch.sendlog.logfile import SCHEMA_VERSION
from protest_dispatch.sendlog.store import SendLog
from smtp_server import Server


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sendlog.sqlite3"


def test_send_skips_a_bounced_letter_and_says_how_to_go_on(
    sent: Sent, mailbox: Dovecot, smtp_server: Server
) -> None:
    campaign, env, rows = sent
    mailbox.deliver("INBOX", render("dsn-postfix", **values_for(rows["t01"])))
    read_inbox(env)
    before = len(smtp_server.messages)

    run = send(campaign, env=env)

    assert run.code == 0, run.output
    assert len(smtp_server.messages) == before
    assert "Skipping t01" in run.stderr
    assert "5.1.1" in run.stderr
    assert "--retry-bounced" in run.stderr


def test_retry_bounced_sends_only_the_bounced_letter_again(
    sent: Sent, mailbox: Dovecot, smtp_server: Server, tmp_path: Path
) -> None:
    campaign, env, rows = sent
    make_campaign(tmp_path / "c", targets=4)  # t04 is new: --retry-bounced must not send it
    mailbox.deliver("INBOX", render("dsn-gmail", **values_for(rows["t02"])))
    read_inbox(env)
    before = len(smtp_server.messages)

    run = send(campaign, "--retry-bounced", env=env)

    assert run.code == 0, run.output
    again = smtp_server.messages[before:]
    assert [m.rcpt_tos[0] for m in again] == [official(2)]
    after = by_target(log_rows(env))
    assert after["t02"]["status"] == "sent"
    assert after["t02"]["message_id"] != rows["t02"]["message_id"]
    assert "t04" not in after


def test_a_new_address_in_the_campaign_file_gets_the_letter(
    sent: Sent, mailbox: Dovecot, smtp_server: Server
) -> None:
    campaign, env, rows = sent
    mailbox.deliver("INBOX", render("bounce-qmail", **values_for(rows["t01"])))
    read_inbox(env)
    fixed = "registry-new@example.org"
    campaign.write_text(campaign.read_text().replace(official(1), fixed))
    before = len(smtp_server.messages)

    run = send(campaign, env=env)

    assert run.code == 0, run.output
    assert [m.rcpt_tos[0] for m in smtp_server.messages[before:]] == [fixed]
    assert by_target(log_rows(env))["t01"]["to"] == fixed
    assert "Skipping" not in run.stderr
    again = cli(["status", "--bounced"], env=env)
    assert "No letter has bounced" in again.stdout


def test_a_copy_bounce_or_delay_does_not_stop_the_letter(
    sent: Sent, mailbox: Dovecot, smtp_server: Server
) -> None:
    campaign, env, rows = sent
    mailbox.deliver("INBOX", render("dsn-copy-only", **values_for(rows["t01"])))
    mailbox.deliver("INBOX", render("dsn-delayed", **values_for(rows["t02"])))
    read_inbox(env)
    run = send(campaign, env=env)
    assert "Skipping" not in run.stderr
    assert cli(["status", "--bounced"], env=env).stdout.strip() == "No letter has bounced."


def test_status_shows_bounces_replies_and_letters_without_reply(
    sent: Sent, mailbox: Dovecot, log: Path
) -> None:
    campaign, env, rows = sent
    mailbox.deliver("INBOX", render("dsn-exchange", **values_for(rows["t01"])))
    mailbox.deliver("INBOX", render("reply-plain", **values_for(rows["t02"])))
    read_inbox(env)
    age_letters(log, days=15)

    run = cli(["status", "-t", str(campaign)], env=env)

    assert run.code == 0, run.output
    out = run.stdout
    assert "bounced" in out
    assert "5.1.10" in out
    assert "Recipient not found" in out
    assert "Replies" in out
    assert official(2) in out
    assert "no reply after 14 days" in out
    no_reply_table = out.split("No reply after 14 days", 1)[1]
    assert "t03" in no_reply_table
    assert "t02" not in no_reply_table.split("\n\n")[0]

    organiser = cli(["status", "--bounced"], env=env).stdout
    assert organiser.splitlines()[0] == "Campaign free-them: 1 address(es) to fix"
    assert f"- t01: {official(1)} bounced on" in organiser
    assert "5.1.10 550 5.1.10 RESOLVER.ADR.RecipientNotFound" in organiser


def test_replies_are_numbered_and_shown_with_control_characters_escaped(
    sent: Sent, mailbox: Dovecot
) -> None:
    _, env, rows = sent
    mailbox.deliver("INBOX", render("reply-html", **values_for(rows["t01"])))
    mailbox.deliver("INBOX", render("terminal-escapes", **values_for(rows["t02"])))
    read_inbox(env)

    listing = cli(["replies"], env=env)
    assert listing.code == 0, listing.output
    assert "\x1b" not in listing.output
    assert "\x07" not in listing.output
    data = json.loads(cli(["replies", "--json"], env=env).stdout)
    assert [(r["number"], r["target"]) for r in data] == [(1, "t01"), (2, "t02")]

    html = cli(["replies", "--show", "1"], env=env)
    assert "The court has received your appeal" in html.stdout
    assert "<p>" not in html.stdout
    assert "<html" not in html.stdout

    hostile = cli(["replies", "--show", "2"], env=env)
    assert hostile.code == 0
    assert "\x1b" not in hostile.output
    assert "\x07" not in hostile.output
    assert "\\x1b[2J" in hostile.stdout

    missing = cli(["replies", "--show", "3"], env=env)
    assert missing.code == 2
    assert "numbered 1 to 2" in missing.stderr


def test_followup_without_a_terminal_lists_and_records_nothing(sent: Sent, log: Path) -> None:
    _, env, _ = sent
    early = cli(["followup"], env=env).stdout
    assert early.startswith("Nothing to follow up yet: the first letter, to t01, is due on ")
    assert "(14 days after it went out)" in early
    age_letters(log, days=20)
    run = cli(["followup"], env=env)
    assert run.code == 0
    assert all(t in run.stdout for t in ("t01", "t02", "t03"))
    assert all(row["events"] == [] for row in log_rows(env))


def test_followup_records_the_answers_given_on_a_terminal(sent: Sent, log: Path) -> None:
    from datetime import UTC, datetime

    from protest_dispatch.commands.replies import record_answer, unanswered

    _, env, _ = sent
    age_letters(log, days=20)
    with SendLog.open(path=log) as sendlog:
        due = unanswered(sendlog, campaign=None, now=datetime.now(UTC))
        assert [d.target for d in due] == ["t01", "t02", "t03"]
        record_answer(sendlog, due[0], replied=True, now=datetime.now(UTC))
        record_answer(sendlog, due[1], replied=False, now=datetime.now(UTC))
        left = unanswered(sendlog, campaign=None, now=datetime.now(UTC))
    assert [d.target for d in left] == ["t03"]
    events = {t: [e["kind"] for e in r["events"]] for t, r in by_target(log_rows(env)).items()}
    assert events == {"t01": ["reply"], "t02": ["no-reply"], "t03": []}
    assert "t01" not in cli(["followup"], env=env).stdout


def test_a_version_1_send_log_is_upgraded_in_place_and_keeps_its_letters(
    sent: Sent, log: Path
) -> None:
    _, env, rows = sent
    with sqlite3.connect(log) as conn:
        conn.execute("DROP TABLE findings")
        conn.execute("DROP TABLE mailbox_state")
        conn.execute("DROP TABLE posts")
        conn.execute("PRAGMA user_version = 1")
    before = log.read_bytes()
    old = log_rows(env)  # read-only: an old log is read as it is, not changed
    assert all(row["events"] == [] for row in old)
    assert cli(["replies"], env=env).code == 0
    assert log.read_bytes() == before
    with SendLog.open(path=log):
        pass
    with sqlite3.connect(log) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert {"letters", "usage", "calls", "findings", "mailbox_state", "posts"} <= tables
    after = by_target(log_rows(env))
    assert {t: r["message_id"] for t, r in after.items()} == {
        t: r["message_id"] for t, r in rows.items()
    }


def test_doctor_checks_the_imap_path_without_reading_a_message(
    sent: Sent, mailbox: Dovecot
) -> None:
    _, env, rows = sent
    mailbox.deliver("INBOX", render("reply-plain", **values_for(rows["t01"])))
    before = mailbox.snapshot()

    good = cli(["doctor", "--timeout", "5"], env=env)

    assert mailbox.snapshot() == before
    assert "✓ IMAP connection, TLS and certificate: connected; TLS TLSv1." in good.stdout
    assert f"✓ IMAP login: logged in as {mailbox.user}" in good.stdout
    assert "✓ IMAP folders: protest inbox reads INBOX, Junk" in good.stdout
    refused = cli(["doctor", "--timeout", "5"], env={**env, "PROTEST_IMAP_PASSWORD": "nope"})
    assert refused.code == 1
    assert "✗ IMAP login" in refused.stdout
    assert "- IMAP folders: skipped" in refused.stdout
    untrusted = cli(["doctor", "--timeout", "5"], env={**env, "PROTEST_IMAP_CA_FILE": ""})
    assert untrusted.code == 1
    assert "✗ IMAP connection, TLS and certificate" in untrusted.stdout


def test_init_asks_whether_to_read_the_mailbox_and_guesses_the_imap_server(
    tmp_path: Path,
) -> None:
    import tomllib

    from kit import answers

    path = tmp_path / "config.toml"
    result = cli(
        ["init", "--config", str(path)],
        input=answers(
            "Ana Example", "ana@example.org", "", "", "other", "smtp.example.org", "starttls", "",
            "", "", "", "", "", "", "y", "", "", "",
            "",  # no Tor
        ),
    )  # fmt: skip
    assert result.code == 0, result.output
    values = tomllib.loads(path.read_text(encoding="utf-8"))
    assert (values["imap_host"], values["imap_port"], values["imap_security"]) == (
        "imap.example.org",
        993,
        "tls",
    )
    declined = cli(
        ["init", "--config", str(path), "--force"],
        input=answers("Ana Example", "ana@example.org", "", "", "fastmail", "", "", "", "n", ""),
    )
    assert declined.code == 0, declined.output
    assert "imap_host" not in tomllib.loads(path.read_text(encoding="utf-8"))


def test_followup_on_a_terminal_asks_for_each_letter_and_records_the_answers(
    sent: Sent, log: Path
) -> None:
    import os
    import subprocess
    import sys

    from kit import subprocess_env

    _, env, _ = sent
    age_letters(log, days=20)
    terminal, child_side = os.openpty()
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "protest_dispatch", "followup"],
            stdin=child_side,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=subprocess_env(env),
            text=True,
        )
        os.close(child_side)
        os.write(terminal, b"y\nmaybe\nn\ns\n")
        out, err = child.communicate(timeout=120)
    finally:
        os.close(terminal)
    assert child.returncode == 0, out + err
    assert out.count("Did t0") == 4  # t01, t02 twice (a wrong answer is asked again), t03
    assert "Please answer y, n or s." in err
    assert "Recorded 2 answer(s); skipped 1." in out
    events = {t: [e["kind"] for e in r["events"]] for t, r in by_target(log_rows(env)).items()}
    assert events == {"t01": ["reply"], "t02": ["no-reply"], "t03": []}
