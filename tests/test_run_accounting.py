"""What a run tells the activist and cron: nothing sent twice, exit codes that mean what they say.

Renamed targets, answers at the confirmation prompt (on a real terminal), SIGTERM during
a send, notes read without a bound, and what a run says when the server goes away.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kit import (
    CHILD_DEADLINE,
    FROM,
    SENDER,
    cli,
    env_for,
    make_campaign,
    official,
    read_until,
    reaped,
    send,
    spawn,
    statuses,
    subprocess_env,
)
from smtp_server import Server, ServerFactory, running_server


def _rename(campaign: Path, old: str, new: str) -> None:
    text = campaign.read_text(encoding="utf-8")
    campaign.write_text(text.replace(f"id: {old}\n", f"id: {new}\n"), encoding="utf-8")


def test_a_renamed_target_is_not_sent_its_letter_again(tmp_path: Path, smtp_server: Server) -> None:
    campaign = make_campaign(tmp_path / "c", targets=2)
    env = env_for(smtp_server, log=tmp_path / "log.db")
    assert send(campaign, env=env).code == 0
    _rename(campaign, "t01", "court-renamed")

    again = send(campaign, "--json", env=env)

    assert again.code == 0, again.output
    assert len(smtp_server.messages) == 2, "the renamed target got the letter a second time"
    report = json.loads(again.stdout)
    assert report["counts"]["skipped"] == 2
    (before,) = report["already_received"]
    assert before["target"] == "court-renamed"
    assert before["earlier_target"] == "t01"
    assert before["to"] == official(1)
    plain = send(campaign, env=env)
    assert "Not sending 'court-renamed'" in plain.stderr
    assert "as target 't01' on " in plain.stderr


def test_an_address_that_got_the_letter_as_a_copy_is_not_sent_it_again_under_an_id(
    tmp_path: Path, smtp_server: Server
) -> None:
    """The To of a new target compared case-insensitively with every earlier To and copy."""
    clerk = "Clerk@Example.org"
    campaign = make_campaign(tmp_path / "c", targets=1, target_cc={1: [clerk]})
    env = env_for(smtp_server, log=tmp_path / "log.db")
    assert send(campaign, env=env).code == 0
    with campaign.open("a", encoding="utf-8") as file:
        file.write(
            '  - id: clerk\n    name: "The Clerk"\n    email: clerk@example.ORG\n'
            "    template: appeal.txt.j2\n"
        )

    again = send(campaign, env=env)

    assert again.code == 0, again.output
    assert len(smtp_server.messages) == 1
    assert "as target 't01'" in again.stderr


def test_retry_failed_keeps_its_meaning_for_the_target_itself(
    tmp_path: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(refuse={official(1): (550, "5.1.1 no such user")})
    campaign = make_campaign(tmp_path / "c", targets=1, campaign_cc=())
    env = env_for(server, log=tmp_path / "log.db")
    assert send(campaign, env=env).code == 1
    server.update_faults(refuse={})
    assert send(campaign, env=env).code == 0
    assert server.messages == []  # held: failed letters wait for --retry-failed
    assert send(campaign, "--retry-failed", env=env).code == 0
    assert [m.rcpt_tos for m in server.messages] == [[official(1)]]


# -- the confirmation prompt, on a real terminal ---------------------------------------------


def _on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """``protest`` with a pseudo-terminal as stdin, so it asks before sending."""
    master, slave = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "protest_dispatch", *args],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(env),
    )
    os.close(slave)
    return child, master


def _wait_for_prompt(child: subprocess.Popen[bytes]) -> bytes:
    assert child.stderr is not None
    return read_until(child.stderr, b"[y/N]")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("answer", "code"),
    [("ctrl-c", 130), ("ctrl-d", 0), ("no", 0), ("enter", 0)],
)
def test_the_prompt_says_nothing_was_sent_and_exits_by_the_answer(
    tmp_path: Path, smtp_server: Server, answer: str, code: int
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=2)
    env = env_for(smtp_server, log=tmp_path / "log.db", PROTEST_COPY_ME="true")
    child, master = _on_a_terminal(["send", "-t", str(campaign), "--rate", "0"], env)
    try:
        with reaped(child):
            shown = _wait_for_prompt(child)
            if answer == "ctrl-c":
                child.send_signal(signal.SIGINT)
            else:
                os.write(master, {"ctrl-d": b"\x04", "no": b"n\n", "enter": b"\n"}[answer])
            _, err = child.communicate(timeout=CHILD_DEADLINE)
    finally:
        os.close(master)
    assert child.returncode == code, err
    assert b"Nothing was sent." in err
    assert b"Aborted" not in err
    assert f"each with a Bcc copy to you ({SENDER})".encode() in shown
    assert smtp_server.messages == []


@pytest.mark.slow
def test_the_test_prompt_names_your_own_address_and_subjects_name_the_target(
    tmp_path: Path, smtp_server: Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=2)
    env = env_for(smtp_server, log=tmp_path / "log.db")
    child, master = _on_a_terminal(["send", "-t", str(campaign), "--rate", "0", "--test"], env)
    try:
        with reaped(child):
            shown = _wait_for_prompt(child)
            os.write(master, b"y\n")
            child.communicate(timeout=CHILD_DEADLINE)
    finally:
        os.close(master)
    assert f"test letter(s) to yourself ({SENDER})".encode() in shown
    assert child.returncode == 0
    subjects = sorted(str(m.message["Subject"]) for m in smtp_server.messages)
    assert subjects == ["[TEST] t01: Drop the charges", "[TEST] t02: Drop the charges"]
    assert {a for m in smtp_server.messages for a in m.rcpt_tos} == {SENDER}


def _wait_for_messages(server: Server, child: subprocess.Popen[str], count: int) -> None:
    deadline = time.monotonic() + 30
    while len(server.messages) < count:
        assert time.monotonic() < deadline, "the run did not get going"
        assert child.poll() is None, child.communicate()
        time.sleep(0.01)


# -- SIGTERM during a send ---------------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_during_a_send_accounts_for_every_letter_and_prints_the_summary(
    tmp_path: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(delay=0.2)
    campaign = make_campaign(tmp_path / "c", targets=20)
    log = tmp_path / "log.db"
    child = spawn(campaign, "--rate", "0", "--concurrency", "1", env=env_for(server, log=log))
    _wait_for_messages(server, child, 2)
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=30)

    assert child.returncode in (1, 143), err  # 1 if the letter in flight became uncertain
    assert "sending" not in statuses(log).values()
    assert "Campaign free-them" in out
    assert "Interrupted" in err
    assert len(server.messages) < 20


# -- bounded reads and what a stopped run says -------------------------------------------------


def test_a_note_file_that_never_ends_is_refused_at_once(tmp_path: Path) -> None:
    campaign = make_campaign(tmp_path / "c", targets=1)
    started = time.monotonic()
    run = cli(
        ["send", "--dry-run", "-t", str(campaign), "--note-file", "/dev/zero"],
        env={"PROTEST_FROM": FROM},
    )
    assert run.code == 2
    assert "holds more than 10000 characters" in run.stderr
    assert time.monotonic() - started < 5


@pytest.mark.slow
def test_a_run_stopped_by_the_server_says_what_it_sent(tmp_path: Path) -> None:
    """The server goes away mid-run: cron's mail must count what this run did send."""
    campaign = make_campaign(tmp_path / "c", targets=6)
    log = tmp_path / "log.db"
    with running_server(delay=0.1) as server:
        args = ("--rate", "0", "--concurrency", "1", "--attempts", "1", "-q")
        child = spawn(campaign, *args, env=env_for(server, log=log))
        _wait_for_messages(server, child, 3)
    out, err = child.communicate(timeout=60)
    sent = sum(1 for status in statuses(log).values() if status == "sent")

    assert child.returncode in (1, 75), out + err
    assert sent >= 3
    assert f"This run sent {sent} letter(s) before it stopped" in out + err
    assert "Nothing was sent" not in out + err


# -- what -q prints, and what status says once the limit is reached -----------------------------


def test_quiet_prints_nothing_for_a_deferral_or_a_reached_limit(
    tmp_path: Path, smtp_server_factory: ServerFactory
) -> None:
    server = smtp_server_factory(greylist=1, greylist_only={official(1)})
    campaign = make_campaign(tmp_path / "c", targets=3, campaign_cc=())
    env = env_for(server, log=tmp_path / "log.db", PROTEST_LIMIT_PER_HOUR="2")

    run = send(campaign, "-q", "--attempts", "1", env=env)

    assert run.code == 75
    assert run.output == ""


def test_quiet_prints_an_unreachable_server(tmp_path: Path) -> None:
    campaign = make_campaign(tmp_path / "c", targets=1)
    env = env_for(None, log=tmp_path / "log.db", port=9)  # discard: nothing listens

    run = send(campaign, "-q", "--attempts", "1", env=env)

    assert run.code == 75
    assert "refused the connection" in run.stderr


def test_status_says_until_when_the_limit_holds_the_rest(
    tmp_path: Path, smtp_server: Server
) -> None:
    campaign = make_campaign(tmp_path / "c", targets=3, campaign_cc=())
    env = env_for(smtp_server, log=tmp_path / "log.db", PROTEST_LIMIT_PER_HOUR="2")
    assert send(campaign, "-q", env=env).code == 75

    status = cli(["status", "-t", str(campaign)], env=env)

    assert status.code == 0
    assert "1 letter(s) not sent yet: t03" in status.stderr
    assert "Your provider's sending limit is reached until " in status.stderr


# -- called: only targets on the sender's call sheet --------------------------------------------


def _call_campaign(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "letters").mkdir()
    (root / "targets.yaml").write_text(
        "campaign:\n  id: calls\n  subject: Drop the charges\ntargets:\n"
        '  - id: court\n    name: "The Court"\n    phone: "+7 7172 747570"\n'
        '  - id: embassy-gb\n    name: "Embassy"\n    phone: "+44 20 7925 1234"\n    country: GB\n'
        '  - id: nophone\n    name: "No Phone"\n    email: nophone@example.org\n'
        "    template: a.txt.j2\n",
        encoding="utf-8",
    )
    (root / "letters" / "a.txt.j2").write_text("Dear {{ target.name }}\n", encoding="utf-8")
    return root / "targets.yaml"


@pytest.mark.parametrize(
    ("target", "country", "code", "says"),
    [
        ("court", "DE", 0, "Recorded"),
        ("embassy-gb", "GB", 0, "Recorded"),
        ("embassy-gb", "DE", 2, "only for senders in GB"),
        ("nophone", "DE", 2, "has no phone number"),
        ("nobody", "DE", 2, "is not a target of campaign calls"),
    ],
)
def test_called_takes_only_targets_on_your_call_sheet(
    tmp_path: Path, target: str, country: str, code: int, says: str
) -> None:
    campaign = _call_campaign(tmp_path / "c")
    env = {"PROTEST_FROM": FROM, "PROTEST_LOG": str(tmp_path / "log.db")}
    args = ["called", target, "--outcome", "voicemail", "-t", str(campaign)]

    run = cli([*args, "--country", country], env=env)

    assert run.code == code, run.output
    assert says.lower() in run.output.lower()
    if code:
        assert "Targets on your call sheet: court" in run.output


def test_a_wrong_outcome_lists_the_valid_ones(tmp_path: Path) -> None:
    campaign = _call_campaign(tmp_path / "c")
    run = cli(["called", "court", "--outcome", "answered", "-t", str(campaign)], env={})
    assert run.code == 2
    for outcome in ("reached", "voicemail", "no-answer", "wrong-number"):
        assert outcome in run.output
