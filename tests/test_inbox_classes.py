"""Issue 16's mailbox classes end to end: real letters sent, real Dovecot, the real CLI.

- Only a failure is a bounce, and a letter reported delivered is not sent again.
- Addresses are compared whole: a copy whose address contains the To is not the To.
- Nothing is recorded twice, even for a message without a Message-ID after UIDVALIDITY
  changed, or for one message filed in two folders.
- One message never stops the reader; reading commands stay read-only.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from dovecot import Dovecot
from inboxkit import Sent, imap_env, values_for
from kit import by_target, cli, env_for, log_rows, make_campaign, official, send
from mailcorpus import render
from smtp_server import Server


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sendlog.sqlite3"


def inbox(env: Mapping[str, str]) -> dict[str, Any]:
    run = cli(["inbox", "--json"], env=env)
    assert run.code == 0, run.output
    assert "Traceback" not in run.output
    data: dict[str, Any] = json.loads(run.stdout)
    return data


def kinds(env: Mapping[str, str], target: str) -> list[str]:
    return [e["kind"] for e in by_target(log_rows(env))[target]["events"]]


def test_a_delivery_report_is_no_bounce_and_retry_bounced_sends_nothing(
    sent: Sent, mailbox: Dovecot, smtp_server: Server
) -> None:
    campaign, env, rows = sent
    mailbox.deliver("INBOX", render("dsn-postfix-delivered", **values_for(rows["t01"])))
    mailbox.deliver("INBOX", render("mdn-read-receipt", **values_for(rows["t01"])))
    found = inbox(env)
    assert [(f["kind"], f["recipient"]) for f in found["new"]] == [("delivered", official(1))]
    assert "bounced" not in cli(["status", "-t", str(campaign)], env=env).stdout
    before = len(smtp_server.messages)

    for args in ((), ("--retry-bounced",)):
        run = send(campaign, *args, env=env)
        assert run.code == 0, run.output
    assert len(smtp_server.messages) == before  # nobody got the letter twice


def test_a_failure_before_the_delivery_report_is_overruled_and_one_after_it_counts(
    sent: Sent, mailbox: Dovecot, smtp_server: Server
) -> None:
    campaign, env, rows = sent
    mailbox.deliver("INBOX", render("dsn-postfix", **values_for(rows["t01"])))
    mailbox.deliver("INBOX", render("dsn-postfix-delivered", **values_for(rows["t01"])))
    inbox(env)
    assert kinds(env, "t01") == ["bounced", "delivered"]
    assert cli(["status", "--bounced"], env=env).stdout.strip() == "No letter has bounced."
    before = len(smtp_server.messages)
    assert send(campaign, "--retry-bounced", env=env).code == 0
    assert len(smtp_server.messages) == before

    mailbox.deliver("INBOX", render("dsn-gmail", **values_for(rows["t01"])))
    inbox(env)
    assert kinds(env, "t01") == ["bounced", "delivered", "bounced"]
    assert official(1) in cli(["status", "--bounced"], env=env).stdout
    assert send(campaign, "--retry-bounced", env=env).code == 0
    assert [m.rcpt_tos[0] for m in smtp_server.messages[before:]] == [official(1)]


def test_a_copy_whose_address_contains_the_to_is_a_copy_bounce(
    tmp_path: Path, log: Path, smtp_server: Server, mailbox: Dovecot
) -> None:
    press = f"press-{official(1)}"
    campaign = make_campaign(tmp_path / "c", targets=1, target_cc={1: [press]})
    env = {**env_for(smtp_server, log=log), **imap_env(mailbox)}
    assert send(campaign, env=env).code == 0
    row = by_target(log_rows(env))["t01"]
    assert press in row["cc"]
    mailbox.deliver("INBOX", render("bounce-provider-text", **{**values_for(row), "to": press}))

    found = inbox(env)

    assert [(f["kind"], f["recipient"]) for f in found["new"]] == [("copy-bounced", press)]


def test_a_reply_without_message_id_is_recorded_once_across_uidvalidity_and_folders(
    sent: Sent, mailbox: Dovecot, log: Path
) -> None:
    _, env, rows = sent
    raw = render("reply-plain", **values_for(rows["t02"]))
    raw = b"".join(line for line in raw.splitlines(keepends=True) if b"Message-ID:" not in line)
    mailbox.deliver("INBOX", raw)
    mailbox.deliver("Junk", raw)  # the same message, filed twice
    assert [f["kind"] for f in inbox(env)["new"]] == ["reply"]

    with sqlite3.connect(log) as conn:
        conn.execute("UPDATE mailbox_state SET uidvalidity = uidvalidity + 1")
    again = inbox(env)

    assert again["folders"][0]["rescanned"] is True
    assert again["new"] == []
    assert kinds(env, "t02") == ["reply"]
    assert len(json.loads(cli(["replies", "--json"], env=env).stdout)) == 1


def test_unreadable_messages_cost_one_warning_each_and_the_run_goes_on(
    sent: Sent, mailbox: Dovecot
) -> None:
    _, env, rows = sent
    bad = mailbox.deliver("INBOX", render("from-recursion", **values_for(rows["t01"])))
    mailbox.deliver("INBOX", render("date-out-of-range", **values_for(rows["t02"])))
    mailbox.deliver("INBOX", render("charset-rot13", **values_for(rows["t03"])))

    found = inbox(env)

    assert found["warnings"] == [
        f"Skipped message {bad} in 'INBOX': it could not be read (RecursionError)."
    ]
    assert sorted(f["target"] for f in found["new"]) == ["t02", "t03"]
    assert inbox(env)["folders"][0]["searched"] == 0


def test_followup_without_a_terminal_leaves_an_old_log_unchanged(sent: Sent, log: Path) -> None:
    _, env, _ = sent
    with sqlite3.connect(log) as conn:
        conn.execute("DROP TABLE findings")
        conn.execute("DROP TABLE mailbox_state")
        conn.execute("PRAGMA user_version = 1")
        conn.execute(
            "UPDATE letters SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-20 days')"
        )
    before = _contents(log)

    run = cli(["followup"], env=env)

    assert run.code == 0, run.output
    assert "t01" in run.stdout
    assert _contents(log) == before
    with sqlite3.connect(log) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1


def _contents(log: Path) -> dict[str, bytes]:
    """The log and its WAL (a reader's -shm read marks are no change to the log)."""
    return {p.name: p.read_bytes() for p in log.parent.iterdir() if not p.name.endswith("-shm")}


ATTACKER = "attacker@evil.example.net"
_WORD = "=?utf-8?b?" + base64.b64encode(f"<{ATTACKER}>".encode()).decode() + "?="
HOSTILE_FROM = {
    "encoded word with ESC": ("=?utf-8?q?Registry=1B[2J=07?= <{to}>", "to"),
    "quotes": ('"Registry \\"of\\" the Court, Astana" <{to}>', "to"),
    "nested comments": ("Registry (of (the) court) <{to}> (really)", "to"),
    "raw control in a quoted name": ('"Registry\x1b[2J" <{to}>', "to"),
    "encoded word that looks like an address": (_WORD + " <{to}>", "to"),
    "encoded CR LF (the parser refuses it)": (
        "=?utf-8?q?Registry=0D=0ABcc:_x@evil.example.net?= <{to}>",
        None,
    ),
    "CVE-2023-27043": ("{to})<" + ATTACKER + ">", None),
    "address glued to another": ("{to}<" + ATTACKER + ">", None),
    "the official's address as a display name": ('"{to}" <' + ATTACKER + ">", ATTACKER),
    "two mailboxes": ("{to}, " + ATTACKER, None),
}


def test_hostile_display_names_never_make_a_wrong_sender(sent: Sent, mailbox: Dovecot) -> None:
    _, env, rows = sent
    row = rows["t01"]
    for number, (from_, _) in enumerate(HOSTILE_FROM.values()):
        mailbox.deliver(
            "INBOX",
            (
                f"From: {from_.format(to=row['to'])}\r\nTo: {row['sender']}\r\n"
                f"Subject: case {number}\r\nMessage-ID: <case{number}@court.example.org>\r\n"
                f"In-Reply-To: {row['message_id']}\r\n\r\nNoted.\r\n"
            ).encode(),
        )

    found = {f["subject"]: f["from"] for f in inbox(env)["new"]}

    expected = {
        f"case {number}": row["to"] if who == "to" else who
        for number, (_, who) in enumerate(HOSTILE_FROM.values())
    }
    assert found == expected
