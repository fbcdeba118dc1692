"""``protest send`` and ``protest log`` end to end: the real CLI against a real SMTP server.

Every server is aiosmtpd on 127.0.0.1 (smtp_server.py); the campaign is made in
tmp_path with @example.org addresses. Backoff is shortened through the
PROTEST_RETRY_DELAY setting; nothing in the product is replaced.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kit import (
    CAMPAIGN,
    CAMPAIGN_CC,
    LOG_KEYS,
    SENDER,
    by_target,
    cli,
    deliveries_per_address,
    env_for,
    log_rows,
    make_campaign,
    official,
    record_mail_times,
    send,
    short_timeouts,
    subprocess_env,
)
from protest_dispatch.sendlog.store import SendLog
from smtp_server import Server, ServerFactory, free_port

pytestmark = pytest.mark.usefixtures("fast_retries")


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "log.sqlite3"


# -- sending ---------------------------------------------------------------------------------


def test_each_letter_arrives_once_with_its_copies_and_the_log_says_sent(
    tmp_path: Path, log: Path, smtp_server: Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=3, target_cc={2: ["clerk-2@example.org"]})
    env = env_for(smtp_server, log=log)

    run = send(campaign, env=env)

    assert run.code == 0, run.output
    envelopes = sorted(m.rcpt_tos for m in smtp_server.messages)
    assert envelopes == [
        [official(1), CAMPAIGN_CC],
        [official(2), CAMPAIGN_CC, "clerk-2@example.org"],
        [official(3), CAMPAIGN_CC],
    ]
    for received in smtp_server.messages:
        message = received.message
        assert received.mail_from == SENDER
        assert message["From"].addresses[0].addr_spec == SENDER
        assert message["To"].addresses[0].addr_spec == received.rcpt_tos[0]
        assert [a.addr_spec for a in message["Cc"].addresses] == received.rcpt_tos[1:]
        assert message["Subject"] == "Drop the charges"
        assert "Please drop the charges." in message.get_body().get_content()
    rows = by_target(log_rows(env))
    assert set(rows) == {"t01", "t02", "t03"}
    ids = {str(m.message["Message-ID"]): m.rcpt_tos[0] for m in smtp_server.messages}
    for row in rows.values():
        allowed = LOG_KEYS | {"sender", "next_attempt_at", "events", "campaign_sha256", "channel"}
        assert LOG_KEYS <= set(row) <= allowed
        assert row["events"] == []
        assert row["status"] == "sent"
        assert row["smtp_code"] == 250
        assert row["attempts"] == 1
        assert row["error"] is None
        assert row["refused"] == []
        assert ids[row["message_id"]] == row["to"]
        assert row["updated_at"].endswith("Z")
    assert rows["t02"]["cc"] == [CAMPAIGN_CC, "clerk-2@example.org"]
    stored = b"".join(p.read_bytes() for p in log.parent.glob(log.name + "*") if p.is_file())
    assert b"Please drop the charges" not in stored  # never the body


def test_a_rerun_sends_nothing_and_reports_the_letters_as_already_sent(
    tmp_path: Path, log: Path, smtp_server: Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=3)
    env = env_for(smtp_server, log=log)
    assert send(campaign, env=env).code == 0
    before = len(smtp_server.messages)

    again = send(campaign, env=env)

    assert again.code == 0, again.output
    assert len(smtp_server.messages) == before == 3
    # one plain line: no "Ready to send 0", no Bcc sentence, no table of zeros
    assert again.stdout == "Nothing to send: 3 already sent.\n"
    assert again.stderr == ""


def test_without_a_terminal_and_without_yes_nothing_is_sent(
    tmp_path: Path, log: Path, smtp_server: Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=2)

    run = send(campaign, env=env_for(smtp_server, log=log), yes=False)

    assert run.code == 2
    assert "no terminal" in run.stderr
    assert "--yes" in run.stderr
    assert smtp_server.messages == []
    assert smtp_server.connections == 0


def test_a_refused_to_fails_the_letter_before_data_and_only_retry_failed_resends_it(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(refuse={official(2): (550, "5.1.1 no such user here")})
    campaign = make_campaign(tmp_path / "c", targets=2, target_cc={2: ["clerk-2@example.org"]})
    env = env_for(server, log=log)

    run = send(campaign, "--concurrency", "1", env=env)

    assert run.code == 1, run.output
    assert [m.rcpt_tos[0] for m in server.messages] == [official(1)]
    counts = deliveries_per_address(server)
    assert counts["clerk-2@example.org"] == 0  # the copies got nothing alone
    assert counts[CAMPAIGN_CC] == 1
    assert server.rcpt_attempts["clerk-2@example.org"] == 0
    assert server.verbs().count("DATA") == 1
    row = by_target(log_rows(env))["t02"]
    assert row["status"] == "failed"
    assert row["smtp_code"] == 550
    assert "no such user here" in row["error"]
    assert "failed" in run.stdout
    assert "550" in run.stdout

    rerun = send(campaign, env=env)
    assert rerun.code == 0, rerun.output
    assert len(server.messages) == 1
    assert server.rcpt_attempts[official(2)] == 1
    assert "held from earlier runs" in rerun.stdout

    server.update_faults(refuse={})
    retried = send(campaign, "--retry-failed", env=env)
    assert retried.code == 0, retried.output
    assert [m.rcpt_tos for m in server.messages[1:]] == [
        [official(2), CAMPAIGN_CC, "clerk-2@example.org"]
    ]
    assert by_target(log_rows(env))["t02"]["status"] == "sent"


def test_a_greylisted_to_is_retried_within_the_run_and_sent_exactly_once(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(greylist=1, greylist_only={official(1)})
    campaign = make_campaign(tmp_path / "c", targets=2, target_cc={1: ["clerk-1@example.org"]})
    env = env_for(server, log=log)

    run = send(campaign, env=env)

    assert run.code == 0, run.output
    assert server.rcpt_attempts[official(1)] == 2
    counts = deliveries_per_address(server)
    assert counts[official(1)] == 1
    assert counts["clerk-1@example.org"] == 1
    assert counts[CAMPAIGN_CC] == 2
    row = by_target(log_rows(env))["t01"]
    assert (row["status"], row["attempts"], row["smtp_code"]) == ("sent", 2, 250)


def test_a_greylisted_letter_with_one_attempt_is_deferred_and_the_next_run_sends_it(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(greylist=1, greylist_only={official(1)})
    campaign = make_campaign(tmp_path / "c", targets=2)
    env = env_for(server, log=log)

    run = send(campaign, "--attempts", "1", env=env)

    assert run.code == 75, run.output
    assert [m.rcpt_tos[0] for m in server.messages] == [official(2)]
    row = by_target(log_rows(env))["t01"]
    assert (row["status"], row["smtp_code"]) == ("deferred", 451)
    assert "Greylisted" in row["error"]
    assert "deferred" in run.stdout

    rerun = send(campaign, "--attempts", "1", env=env)
    assert rerun.code == 0, rerun.output
    assert deliveries_per_address(server)[official(1)] == 1
    assert len(server.messages) == 2
    sent = by_target(log_rows(env))["t01"]
    assert sent["status"] == "sent"
    assert sent["message_id"] == row["message_id"]  # the same letter, not a new one


def test_a_refused_copy_does_not_stop_the_letter_and_is_recorded_and_shown(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(refuse={"gone@example.org": (550, "5.1.1 mailbox gone")})
    campaign = make_campaign(tmp_path / "c", targets=1, target_cc={1: ["gone@example.org"]})
    env = env_for(server, log=log)

    run = send(campaign, env=env)

    assert run.code == 0, run.output
    assert [m.rcpt_tos for m in server.messages] == [[official(1), CAMPAIGN_CC]]
    row = by_target(log_rows(env))["t01"]
    assert row["status"] == "sent"
    assert len(row["refused"]) == 1
    assert "gone@example.org" in row["refused"][0]
    assert "550" in row["refused"][0]
    assert "copy refused: gone@example.org" in run.stdout


def test_a_letter_refused_at_data_fails(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(data_reply=(552, "5.3.4 message too big"))
    campaign = make_campaign(tmp_path / "c", targets=1)
    env = env_for(server, log=log)

    run = send(campaign, env=env)

    assert run.code == 1, run.output
    assert server.messages == []
    row = by_target(log_rows(env))["t01"]
    assert (row["status"], row["smtp_code"]) == ("failed", 552)
    assert "message too big" in row["error"]


def test_a_connection_dropped_after_data_is_uncertain_and_resent_only_on_request(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(drop_after_data=True)
    campaign = make_campaign(tmp_path / "c", targets=1)
    env = env_for(server, log=log)

    run = send(campaign, env=env)

    assert run.code == 1, run.output
    assert len(server.unanswered) == 1
    row = by_target(log_rows(env))["t01"]
    assert row["status"] == "uncertain"
    assert row["attempts"] == 1  # never resent blindly within the run
    assert row["message_id"] == str(server.unanswered[0].message["Message-ID"])
    assert "uncertain" in run.stdout
    assert "--retry-uncertain" in run.stderr

    server.update_faults(drop_after_data=False)
    rerun = send(campaign, env=env)
    assert rerun.code == 0, rerun.output
    assert server.messages == []
    assert "held from earlier runs" in rerun.stdout

    resent = send(campaign, "--retry-uncertain", env=env)
    assert resent.code == 0, resent.output
    assert len(server.messages) == 1
    assert str(server.messages[0].message["Message-ID"]) == row["message_id"]
    assert by_target(log_rows(env))["t01"]["status"] == "sent"


def test_no_reply_after_data_within_the_timeout_is_uncertain(
    tmp_path: Path,
    log: Path,
    smtp_server_factory: ServerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    short_timeouts(monkeypatch, timeout=5.0, data_timeout=0.5)
    server = smtp_server_factory(stall_data=2.0)
    campaign = make_campaign(tmp_path / "c", targets=1)
    env = env_for(server, log=log)

    run = send(campaign, env=env)

    assert run.code == 1, run.output
    row = by_target(log_rows(env))["t01"]
    assert row["status"] == "uncertain"
    assert "0.5 seconds" in row["error"]
    assert server.verbs().count("DATA") == 1


def test_a_server_that_hangs_up_every_two_messages_still_gets_every_letter_once(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(hangup_after=2)
    campaign = make_campaign(tmp_path / "c", targets=5)
    env = env_for(server, log=log)

    run = send(campaign, "--concurrency", "1", env=env)

    assert run.code == 0, run.output
    counts = deliveries_per_address(server)
    assert [counts[official(n)] for n in range(1, 6)] == [1, 1, 1, 1, 1]
    assert server.connections == 3
    assert {r["status"] for r in log_rows(env)} == {"sent"}


def test_an_unreachable_server_defers_the_run_and_a_later_run_sends_everything(
    tmp_path: Path, log: Path, smtp_server: Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=3)
    down = env_for(None, log=log, port=free_port())

    run = send(campaign, env=down)

    assert run.code == 75, run.output
    assert "refused the connection" in run.stderr
    assert [r for r in log_rows(down) if r["status"] == "sent"] == []

    later = send(campaign, env=env_for(smtp_server, log=log))
    assert later.code == 0, later.output
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [official(n) for n in (1, 2, 3)]


def test_limit_sends_only_that_many_and_leaves_the_rest_for_the_next_run(
    tmp_path: Path, log: Path, smtp_server: Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=5)
    env = env_for(smtp_server, log=log)

    run = send(campaign, "--limit", "2", env=env)

    assert run.code == 0, run.output
    assert len(smtp_server.messages) == 2
    assert "3 letter(s) left for a later run" in run.stderr
    assert len(log_rows(env)) == 2

    rest = send(campaign, env=env)
    assert rest.code == 0, rest.output
    counts = deliveries_per_address(smtp_server)
    assert [counts[official(n)] for n in range(1, 6)] == [1, 1, 1, 1, 1]


def test_concurrency_uses_at_most_that_many_connections_and_reuses_them(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(delay=0.01)
    campaign = make_campaign(tmp_path / "c", targets=9)

    run = send(campaign, "--concurrency", "3", env=env_for(server, log=log))

    assert run.code == 0, run.output
    assert len(server.messages) == 9
    assert 2 <= server.connections <= 3  # in parallel, and each connection reused
    per_connection = {m.connection for m in server.messages}
    assert len(per_connection) == server.connections
    assert server.verbs().count("EHLO") == server.connections


def test_rate_spaces_letters_evenly(tmp_path: Path, log: Path, smtp_server: Server) -> None:
    times = record_mail_times(smtp_server)
    campaign = make_campaign(tmp_path / "c", targets=4)

    run = send(campaign, "--concurrency", "2", env=env_for(smtp_server, log=log), rate="120")

    assert run.code == 0, run.output
    assert len(times) == 4
    gaps = [b - a for a, b in zip(sorted(times), sorted(times)[1:], strict=False)]
    assert min(gaps) >= 0.45, gaps  # 60/120 s apart across both connections
    assert sorted(times)[-1] - sorted(times)[0] >= 1.4


def test_a_second_run_while_the_lock_is_held_exits_75_at_once(
    tmp_path: Path, log: Path, smtp_server: Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=2)
    env = env_for(smtp_server, log=log)

    with SendLog.open(path=log) as held, held.lock(campaign=CAMPAIGN):
        run = send(campaign, env=env)

    assert run.code == 75, run.output
    assert "Another `protest send` is running" in run.stderr
    assert smtp_server.connections == 0
    assert send(campaign, env=env).code == 0  # released with the holder


def test_a_letter_left_sending_by_a_dead_run_becomes_uncertain_and_is_not_resent(
    tmp_path: Path, log: Path, smtp_server: Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=2)
    env = env_for(smtp_server, log=log)
    with SendLog.open(path=log) as dead:
        dead.begin(
            campaign=CAMPAIGN,
            target="t01",
            sender=SENDER,
            to=official(1),
            cc=[CAMPAIGN_CC],
            message_id="<dead@example.org>",
            recipients=2,
        )

    run = send(campaign, env=env)

    assert run.code == 1, run.output  # a letter became uncertain: a person has to decide
    assert [m.rcpt_tos[0] for m in smtp_server.messages] == [official(2)]
    said = " ".join(run.stderr.split())
    # cron mails this to a person who has to decide about each letter: name them
    assert (
        f"1 letter(s) were being sent when an earlier run stopped: t01 (to {official(1)})" in said
    )
    assert send(campaign, env=env).code == 0  # told once; the next run has nothing new
    rows = by_target(log_rows(env))
    assert rows["t01"]["status"] == "uncertain"
    assert rows["t01"]["message_id"] == "<dead@example.org>"


def test_a_failure_wins_over_a_deferral_in_the_exit_code(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(
        refuse={official(1): (550, "5.1.1 no such user")},
        greylist=5,
        greylist_only={official(2)},
    )
    campaign = make_campaign(tmp_path / "c", targets=2)

    run = send(campaign, "--attempts", "2", env=env_for(server, log=log))

    assert run.code == 1, run.output
    statuses = {r["target"]: r["status"] for r in log_rows(env_for(server, log=log))}
    assert statuses == {"t01": "failed", "t02": "deferred"}


# -- TLS, login, greeting ----------------------------------------------------------------------


def test_starttls_is_the_default_and_a_server_without_it_gets_nothing(
    tmp_path: Path, log: Path, smtp_server: Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=2)
    env = env_for(smtp_server, log=log)
    del env["PROTEST_SMTP_SECURITY"]

    run = send(campaign, env=env)

    assert run.code == 1, run.output
    assert "does not offer STARTTLS" in run.stderr
    assert smtp_server.messages == []
    assert "MAIL" not in smtp_server.verbs()
    assert log_rows(env) == []


def test_starttls_with_the_private_ca_file_sends(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(tls="starttls", require_starttls=True)
    assert server.ca_file is not None
    campaign = make_campaign(tmp_path / "c", targets=2)
    env = env_for(server, log=log, PROTEST_SMTP_SECURITY="starttls")

    by_option = send(campaign, "--only", "t01", "--smtp-ca-file", str(server.ca_file), env=env)
    by_env = send(campaign, env={**env, "PROTEST_SMTP_CA_FILE": str(server.ca_file)})

    assert by_option.code == 0, by_option.output
    assert by_env.code == 0, by_env.output
    assert [m.rcpt_tos[0] for m in server.messages] == [official(1), official(2)]
    assert all(m.tls for m in server.messages)


def test_starttls_with_an_untrusted_certificate_stops_the_run(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(tls="starttls")
    campaign = make_campaign(tmp_path / "c", targets=2)

    run = send(campaign, env=env_for(server, log=log, PROTEST_SMTP_SECURITY="starttls"))

    assert run.code == 1, run.output
    assert "certificate" in run.stderr
    assert "did not verify" in run.stderr
    assert "--smtp-ca-file" in run.stderr
    assert server.messages == []
    assert "MAIL" not in server.verbs()


def test_implicit_tls_sends(tmp_path: Path, log: Path, smtp_server_factory: ServerFactory) -> None:
    server = smtp_server_factory(tls="implicit")
    campaign = make_campaign(tmp_path / "c", targets=1)
    env = env_for(server, log=log, PROTEST_SMTP_CA_FILE=str(server.ca_file))

    run = send(campaign, "--smtp-security", "tls", env=env)

    assert run.code == 0, run.output
    assert [m.tls for m in server.messages] == [True]


PASSWORD = "correct-horse-battery"


def test_login_with_the_password_from_the_environment_or_a_command(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(tls="starttls", auth=("ana", PASSWORD))
    campaign = make_campaign(tmp_path / "c", targets=2)
    env = env_for(
        server,
        log=log,
        PROTEST_SMTP_SECURITY="starttls",
        PROTEST_SMTP_CA_FILE=str(server.ca_file),
        PROTEST_SMTP_USERNAME="ana",
    )

    by_env = send(campaign, "--only", "t01", env={**env, "PROTEST_SMTP_PASSWORD": PASSWORD})
    by_command = send(campaign, env={**env, "PROTEST_SMTP_PASSWORD_COMMAND": f"echo {PASSWORD}"})

    assert by_env.code == 0, by_env.output
    assert by_command.code == 0, by_command.output
    assert [m.login for m in server.messages] == ["ana", "ana"]
    assert PASSWORD not in by_env.output + by_command.output


def test_a_wrong_password_stops_the_run_and_never_shows_or_stores_it(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(tls="starttls", auth=("ana", PASSWORD))
    campaign = make_campaign(tmp_path / "c", targets=2)
    wrong = "wrong-secret-4711"
    env = env_for(
        server,
        log=log,
        PROTEST_SMTP_SECURITY="starttls",
        PROTEST_SMTP_CA_FILE=str(server.ca_file),
        PROTEST_SMTP_USERNAME="ana",
        PROTEST_SMTP_PASSWORD=wrong,
    )

    run = send(campaign, "--concurrency", "2", env=env)
    shown = cli(["log", "--json"], env=env)

    assert run.code == 1, run.output
    assert "refused the username or password" in run.stderr
    assert server.messages == []
    assert server.auth_attempts == [("ana", False)]  # one failed login, not one per connection
    assert "not attempted │ 2" in run.stdout
    assert wrong not in run.output + shown.output
    stored = b"".join(p.read_bytes() for p in log.parent.glob(log.name + "*") if p.is_file())
    assert stored  # the log exists, so the check below looks at something
    assert wrong.encode() not in stored


def test_clear_text_login_to_a_remote_host_is_refused_before_connecting(
    tmp_path: Path, log: Path
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=1)
    env = env_for(
        None, log=log, port=25, PROTEST_SMTP_USERNAME="ana", PROTEST_SMTP_PASSWORD=PASSWORD
    )

    run = send(campaign, "--smtp-host", "mail.example.org", env=env)

    assert run.code == 2, run.output
    assert "without encryption" in run.stderr
    assert PASSWORD not in run.output
    assert not log.exists()


def test_clear_text_login_to_loopback_is_allowed(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(auth=("ana", PASSWORD), auth_require_tls=False)
    campaign = make_campaign(tmp_path / "c", targets=1)
    env = env_for(server, log=log, PROTEST_SMTP_USERNAME="ana", PROTEST_SMTP_PASSWORD=PASSWORD)

    run = send(campaign, env=env)

    assert run.code == 0, run.output
    assert [m.login for m in server.messages] == ["ana"]


def test_there_is_no_password_option(tmp_path: Path, log: Path) -> None:
    campaign = make_campaign(tmp_path / "c", targets=1)
    env = env_for(None, log=log, port=free_port())

    helped = cli(["send", "--help"], env=env)
    passed = send(campaign, "--smtp-password", "hunter2", env=env)

    assert helped.code == 0
    assert "--smtp-ca-file" in helped.stdout
    assert "password" not in helped.stdout.lower()
    assert passed.code == 2
    assert "No such option" in passed.stderr


def test_the_ehlo_name_is_the_senders_domain(
    tmp_path: Path, log: Path, smtp_server: Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=3)

    run = send(campaign, "--concurrency", "2", env=env_for(smtp_server, log=log))

    assert run.code == 0, run.output
    assert smtp_server.helo_names
    assert set(smtp_server.helo_names) == {"example.org"}


# -- the send log ----------------------------------------------------------------------------


def test_a_corrupt_send_log_stops_the_run_before_any_connection(
    tmp_path: Path, log: Path, smtp_server: Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=2)
    log.write_bytes(b"\x00garbage, not a database\xff" * 64)

    run = send(campaign, env=env_for(smtp_server, log=log))

    assert run.code == 2, run.output
    assert "not a SQLite database" in run.stderr
    assert "--log" in run.stderr  # the hint names an option that exists
    assert str(log) in run.stderr.replace("\n", "")
    assert smtp_server.connections == 0
    assert log.read_bytes().startswith(b"\x00garbage")


def test_log_lists_rows_as_json_csv_and_by_status_and_campaign(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(refuse={official(2): (550, "5.1.1 no such user")})
    first = make_campaign(tmp_path / "a", targets=2)
    second = make_campaign(tmp_path / "b", targets=1, campaign_id="other-campaign")
    env = env_for(server, log=log)
    assert send(first, env=env).code == 1
    assert send(second, env=env).code == 0

    everything = log_rows(env)
    failed = log_rows(env, "--status", "failed")
    other = log_rows(env, "--campaign", "other-campaign")
    as_csv = cli(["log", "--csv", "--campaign", CAMPAIGN], env=env)
    table = cli(["log"], env=env)
    bad_status = cli(["log", "--status", "lost"], env=env)

    assert [(r["campaign"], r["target"]) for r in everything] == [
        (CAMPAIGN, "t01"),
        (CAMPAIGN, "t02"),
        ("other-campaign", "t01"),
    ]
    assert [(r["target"], r["status"], r["smtp_code"]) for r in failed] == [("t02", "failed", 550)]
    assert [(r["campaign"], r["status"]) for r in other] == [("other-campaign", "sent")]
    assert as_csv.code == 0
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert set(rows[0]) >= LOG_KEYS
    assert [(r["target"], r["status"], r["cc"]) for r in rows] == [
        ("t01", "sent", CAMPAIGN_CC),
        ("t02", "failed", CAMPAIGN_CC),
    ]
    assert table.code == 0
    assert "official-2@example.org" in table.stdout
    assert "failed" in table.stdout
    assert bad_status.code == 2


# -- what the run prints -----------------------------------------------------------------------


def test_without_a_terminal_each_letter_gets_one_plain_line_and_a_summary(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(refuse={official(3): (550, "5.1.1 no such user")})
    campaign = make_campaign(tmp_path / "c", targets=3)

    run = send(campaign, env=env_for(server, log=log))

    assert run.code == 1
    lines = [line for line in run.stdout.splitlines() if line.startswith(("sent", "failed"))]
    assert len(lines) == 3
    by_letter = {line.split()[1]: line for line in lines}
    assert by_letter["t01"] == "sent      t01 <official-1@example.org>"
    assert by_letter["t02"] == "sent      t02 <official-2@example.org>"
    assert by_letter["t03"].startswith("failed    t03 <official-3@example.org> 550 ")
    assert by_letter["t03"].endswith("5.1.1 no such user; nothing was sent.")
    assert "\r" not in run.stdout
    assert "\x1b" not in run.stdout
    for label in ("outcome", "sent", "failed"):
        assert label in run.stdout


def test_cron_gets_one_unwrapped_line_per_letter_even_with_a_long_server_reply(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    long_reply = "5.1.1 <official-2@example.org>: Recipient address rejected: " + "x" * 80
    server = smtp_server_factory(
        refuse={
            official(2): (550, long_reply),
            "gone@example.org": (550, "5.1.1 mailbox gone"),
        }
    )
    campaign = make_campaign(tmp_path / "c", targets=3, target_cc={1: ["gone@example.org"]})
    env = subprocess_env(env_for(server, log=log))
    env.pop("COLUMNS", None)  # like cron: no terminal, no width

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "protest_dispatch",
            "send",
            "-t",
            str(campaign),
            "--yes",
            "--rate",
            "0",
            "--concurrency",
            "1",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("sent      t01 <official-1@example.org>")
    assert "(copy refused: gone@example.org: 550 5.1.1 mailbox gone)" in lines[0]
    assert lines[1].startswith("failed    t02 <official-2@example.org> 550 ")
    assert lines[1].endswith("nothing was sent.")
    assert "x" * 80 in lines[1]
    assert lines[2] == "sent      t03 <official-3@example.org>"


def test_quiet_still_shows_a_refused_copy(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(refuse={"gone@example.org": (550, "5.1.1 mailbox gone")})
    campaign = make_campaign(tmp_path / "c", targets=2, target_cc={1: ["gone@example.org"]})

    run = send(campaign, "-q", env=env_for(server, log=log))

    assert run.code == 0, run.output
    assert "copy refused: gone@example.org" in run.stdout
    assert "t02" not in run.stdout


def test_the_summary_names_every_outcome_and_the_calls(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(
        refuse={official(2): (550, "5.1.1 no such user")},
        greylist=9,
        greylist_only={official(3)},
        drop_after_data=False,
    )
    campaign = make_campaign(tmp_path / "c", targets=4)
    text = campaign.read_text(encoding="utf-8")
    campaign.write_text(
        text + '  - id: phone-only\n    name: "Desk"\n    phone: "+44 20 7946 0000"\n',
        encoding="utf-8",
    )
    env = env_for(server, log=log)
    assert send(campaign, "--only", "t01", env=env).code == 0

    run = send(campaign, "--attempts", "1", env=env)

    assert run.code == 1, run.output
    for label in ("sent", "skipped (already sent)", "deferred", "failed", "calls to make"):
        assert label in run.stdout, label
    calls = run.stdout.split("Calls to make (1)")[1]
    assert "Call: Desk" in calls
    assert "Phone: +44 20 7946 0000" in calls
    default_script = "I am calling about this: Drop the charges. Please pass my message on to Desk"
    assert default_script in calls, "no script of its own: the call sheet's, from the subject"
    server.update_faults(drop_after_data=True, greylist=0)
    uncertain = send(campaign, env=env)
    assert "uncertain" in uncertain.stdout


def test_quiet_prints_nothing_when_everything_was_sent(
    tmp_path: Path, log: Path, smtp_server: Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=2)

    run = send(campaign, "-q", env=env_for(smtp_server, log=log))

    assert run.code == 0
    assert len(smtp_server.messages) == 2
    assert run.stdout == ""
    assert run.stderr == ""


def test_quiet_still_reports_a_failure(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(refuse={official(1): (550, "5.1.1 no such user")})
    campaign = make_campaign(tmp_path / "c", targets=2)

    run = send(campaign, "-q", env=env_for(server, log=log))

    assert run.code == 1
    assert "t01" in run.stdout
    assert "550" in run.stdout
    assert "t02" not in run.stdout


def test_json_prints_a_machine_readable_summary(
    tmp_path: Path, log: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(refuse={official(2): (550, "5.1.1 no such user")})
    campaign = make_campaign(tmp_path / "c", targets=2)

    run = send(campaign, "--json", env=env_for(server, log=log))

    assert run.code == 1
    summary = json.loads(run.stdout)
    assert summary["campaign"] == CAMPAIGN
    assert summary["sender"] == SENDER
    assert summary["exit_code"] == 1
    assert summary["counts"] == {
        "sent": 1,
        "skipped": 0,
        "bounced": 0,
        "posted": 0,
        "deferred": 0,
        "failed": 1,
        "uncertain": 0,
        "held": 0,
        "not_attempted": 0,
        "waiting": 0,
        "calls": 0,
    }
    assert summary["calls"] == []
    results = {r["target"]: r for r in summary["results"]}
    assert results["t01"]["status"] == "sent"
    assert (results["t02"]["status"], results["t02"]["code"]) == ("failed", 550)
