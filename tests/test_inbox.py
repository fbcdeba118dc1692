"""``protest inbox`` against a real Dovecot on 127.0.0.1, with letters really sent first.

Letters go out through the aiosmtpd test server (so the send log holds Message-IDs
the product generated); the corpus's bounces and replies to them are put in the
Dovecot mailbox; then the real CLI reads it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from dovecot import Dovecot
from inboxkit import Sent, imap_env, values_for
from kit import SENDER, by_target, cli, log_rows
from mailcorpus import CASES, Case, render
from smtp_server import free_port


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sendlog.sqlite3"


def inbox_json(env: Mapping[str, str], *args: str) -> dict[str, Any]:
    run = cli(["inbox", "--json", *args], env=env)
    assert run.code == 0, run.output
    data: dict[str, Any] = json.loads(run.stdout)
    return data


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_corpus_message_makes_its_finding_and_changes_nothing_in_the_mailbox(
    case: Case, sent: Sent, mailbox: Dovecot
) -> None:
    _, env, rows = sent
    letter = rows["t01"]
    mailbox.deliver(case.folder, render(case.name, **values_for(letter)))
    before = mailbox.snapshot()

    data = inbox_json(env)

    assert mailbox.snapshot() == before  # nothing read, moved, flagged or deleted
    new = data["new"]
    if case.skipped:
        uid = max(before[case.folder])
        assert data["warnings"] == [
            f"Skipped message {uid} in {case.folder!r}: it could not be read (RecursionError)."
        ]
        assert inbox_json(env)["folders"][0]["searched"] == 0  # the bookmark moved past it
    if case.kind == "none":
        assert new == []
        return
    if case.broken and not new:
        return  # malformed on purpose: skipping it (with at most a warning) is allowed
    assert [(f["kind"], f["target"]) for f in new] == [(case.kind, "t01")]
    found = new[0]
    expected_recipient = case.failed_recipient(values_for(letter))
    if expected_recipient is not None:
        assert found["recipient"] == expected_recipient
        assert found["status"] == case.status
        assert case.diagnostic in found["diagnostic"]
    if case.kind == "reply":
        assert found["from"] == (letter["to"] if case.sender_known else None)
        assert case.broken or found["diagnostic"]  # the text is kept, whatever its charset
    assert found["at"].endswith("Z")  # one time format in every --json
    events = by_target(log_rows(env))["t01"]["events"]
    assert [e["kind"] for e in events] == [case.kind]
    assert by_target(log_rows(env))["t02"]["events"] == []


def test_a_second_run_records_nothing_twice_and_reads_only_new_mail(
    sent: Sent, mailbox: Dovecot
) -> None:
    _, env, rows = sent
    mailbox.deliver("INBOX", render("dsn-postfix", **values_for(rows["t01"])))
    mailbox.deliver("INBOX", render("unrelated", **values_for(rows["t01"])))
    first = inbox_json(env)
    assert [f["kind"] for f in first["new"]] == ["bounced"]

    again = inbox_json(env)
    assert again["new"] == []
    assert [f["searched"] for f in again["folders"]] == [0, 0]

    mailbox.deliver("INBOX", render("reply-plain", **values_for(rows["t02"])))
    third = inbox_json(env)
    assert [(f["kind"], f["target"]) for f in third["new"]] == [("reply", "t02")]
    assert third["folders"][0]["searched"] == 1


def test_a_changed_uidvalidity_rescans_without_recording_twice(
    sent: Sent, mailbox: Dovecot, log: Path
) -> None:
    _, env, rows = sent
    mailbox.deliver("INBOX", render("auto-rfc3834", **values_for(rows["t03"])))
    assert len(inbox_json(env)["new"]) == 1
    with sqlite3.connect(log) as conn:
        conn.execute("UPDATE mailbox_state SET uidvalidity = uidvalidity + 1")
    data = inbox_json(env)
    assert data["new"] == []
    assert data["folders"][0]["rescanned"] is True
    assert data["folders"][0]["searched"] == 1


def test_a_fake_bounce_changes_nothing_and_send_still_skips_nothing(
    sent: Sent, mailbox: Dovecot
) -> None:
    _, env, rows = sent
    mailbox.deliver("INBOX", render("dsn-stranger", **values_for(rows["t01"])))
    mailbox.deliver("INBOX", render("bounce-unknown-message-id", **values_for(rows["t01"])))
    data = inbox_json(env)
    assert data["new"] == []
    assert any("may be forged" in w for w in data["warnings"])
    assert all(row["events"] == [] for row in log_rows(env))


def test_quiet_prints_only_what_needs_attention(sent: Sent, mailbox: Dovecot) -> None:
    _, env, rows = sent
    mailbox.deliver("INBOX", render("auto-rfc3834", **values_for(rows["t01"])))
    mailbox.deliver("INBOX", render("dsn-gmail", **values_for(rows["t02"])))
    run = cli(["inbox", "-q"], env=env)
    assert run.code == 0, run.output
    lines = run.stdout.splitlines()
    assert len(lines) == 1
    assert "t02" in lines[0]
    assert "bounced" in lines[0]
    assert "5.1.1" in lines[0]


def test_the_junk_folder_is_read_by_default_and_folder_narrows_it(
    sent: Sent, mailbox: Dovecot
) -> None:
    _, env, rows = sent
    mailbox.deliver("Junk", render("reply-in-junk", **values_for(rows["t01"])))
    assert inbox_json(env, "--folder", "INBOX")["new"] == []
    assert [f["kind"] for f in inbox_json(env)["new"]] == ["reply"]


def test_starttls_on_the_plain_port_works(sent: Sent, mailbox: Dovecot) -> None:
    _, env, rows = sent
    mailbox.deliver("INBOX", render("reply-plain", **values_for(rows["t01"])))
    env = {
        **env,
        "PROTEST_IMAP_PORT": str(mailbox.imap_port),
        "PROTEST_IMAP_SECURITY": "starttls",
    }
    assert [f["kind"] for f in inbox_json(env)["new"]] == ["reply"]


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"PROTEST_IMAP_PASSWORD": "wrong"}, 1, "refused the login"),
        ({"PROTEST_IMAP_CA_FILE": ""}, 1, "could not be verified"),
        ({"PROTEST_IMAP_PORT": "closed"}, 75, "Could not connect to the IMAP server"),
        ({"PROTEST_IMAP_HOST": "imap.example.org", "PROTEST_IMAP_SECURITY": "none"}, 2,
         "not this machine"),
        ({"PROTEST_IMAP_SECURITY": "ssl"}, 2, "must be one of"),
    ],
)  # fmt: skip
def test_failures_exit_with_the_send_codes_and_say_what_to_do(
    sent: Sent,
    change: dict[str, str],
    code: int,
    words: str,
) -> None:
    _, env, _ = sent
    if change.get("PROTEST_IMAP_PORT") == "closed":
        change = {"PROTEST_IMAP_PORT": str(free_port())}
    run = cli(["inbox"], env={**env, **change})
    assert run.code == code, run.output
    assert words in run.stderr
    assert "Traceback" not in run.output


def test_no_imap_server_configured_is_a_settings_error(log: Path) -> None:
    env = {"PROTEST_FROM": f"Ana <{SENDER}>", "PROTEST_LOG": str(log)}
    run = cli(["inbox"], env=env)
    assert run.code == 2
    assert "No IMAP server is configured" in run.stderr


def test_password_is_never_in_the_output_or_the_log(
    sent: Sent, mailbox: Dovecot, log: Path
) -> None:
    _, env, rows = sent
    mailbox.deliver("INBOX", render("reply-plain", **values_for(rows["t01"])))
    run = cli(["inbox"], env=env)
    assert run.code == 0, run.output
    assert mailbox.password not in run.output
    stored = b"".join(p.read_bytes() for p in log.parent.glob(log.name + "*") if p.is_file())
    assert mailbox.password.encode() not in stored


def test_xoauth2_logs_in_with_the_token_the_token_command_prints(
    sent: Sent, dovecot_factory: Callable[..., Dovecot]
) -> None:
    import http.server
    import threading

    from test_imap_testkit import _Introspection

    _, env, rows = sent
    introspection = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Introspection)
    thread = threading.Thread(
        target=introspection.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        url = f"http://127.0.0.1:{introspection.server_port}/introspect"
        server = dovecot_factory(oauth2_introspection_url=url)
        server.deliver("INBOX", render("reply-plain", **values_for(rows["t01"])))
        oauth = {
            **env,
            **imap_env(server),
            "PROTEST_SMTP_AUTH": "xoauth2",
            "PROTEST_SMTP_OAUTH_TOKEN_COMMAND": f"echo good-{server.user}",
        }
        oauth.pop("PROTEST_IMAP_PASSWORD")  # the token, not a password, must log in
        assert [f["kind"] for f in inbox_json(oauth)["new"]] == ["reply"]
        expired = {**oauth, "PROTEST_SMTP_OAUTH_TOKEN_COMMAND": "echo expired"}
        refused = cli(["inbox"], env=expired)
        assert refused.code == 1
        assert "refused the login" in refused.stderr
    finally:
        introspection.shutdown()
        introspection.server_close()
        thread.join()
