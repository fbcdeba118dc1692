"""Findings belong to a letter, not a target: a letter sent again to a corrected address
starts with no findings, end to end with the real CLI, SMTP and Dovecot.

The story as an organiser lives it: the address bounced; the organiser fixed it in
targets.yaml; the letter went to the new address. From then on every view speaks of
the new letter: the old bounce no longer hides it from ``followup`` or ``status``,
and ``log`` shows nothing found for it yet.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dovecot import Dovecot
from inboxkit import Sent, age_letters, read_inbox, values_for
from kit import CAMPAIGN, CAMPAIGN_CC, by_target, cli, log_rows, official, send
from mailcorpus import render
from smtp_server import Server

FIXED = "registry-new@example.org"


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sendlog.sqlite3"


def _bounced_and_fixed(sent: Sent, mailbox: Dovecot) -> None:
    """t01's letter bounced, the inbox saw it, and the organiser fixed the address."""
    campaign, env, rows = sent
    mailbox.deliver("INBOX", render("dsn-postfix", **values_for(rows["t01"])))
    read_inbox(env)
    campaign.write_text(campaign.read_text().replace(official(1), FIXED))


def test_a_letter_resent_to_a_fixed_address_starts_with_no_findings(
    sent: Sent, mailbox: Dovecot, smtp_server: Server, log: Path
) -> None:
    campaign, env, rows = sent
    _bounced_and_fixed(sent, mailbox)
    before = len(smtp_server.messages)

    run = send(campaign, env=env)

    # the plan: the letter goes again, says why, and warns that the copy sees it twice
    assert run.code == 0, run.output
    plan_row = next(line for line in run.stderr.splitlines() if "t01" in line and FIXED in line)
    assert "resend (address changed)" in plan_row
    assert " sent " not in plan_row
    said = " ".join(run.stderr.split())  # sentences wrap at the terminal's width
    assert f"t01: the letter to {official(1)} bounced" in said
    assert f"now to {FIXED}" in said
    assert f"The copy address(es) {CAMPAIGN_CC} got the first letter" in said
    assert "see it twice" in said
    # the copy gets it again, but only with the new To; nobody else is written to
    again = smtp_server.messages[before:]
    assert [sorted(m.rcpt_tos) for m in again] == [sorted([FIXED, CAMPAIGN_CC])]

    # log: the new letter, with a new Message-ID and nothing found for it yet
    after = by_target(log_rows(env))
    assert after["t01"]["to"] == FIXED
    assert after["t01"]["message_id"] != rows["t01"]["message_id"]
    assert after["t01"]["events"] == []
    table = cli(["log"], env=env).stdout
    t01_line = next(line for line in table.splitlines() if "t01" in line)
    assert "bounced" not in t01_line

    # followup and status: the new letter is waiting for an answer like any other
    age_letters(log, days=20)
    listed = cli(["followup"], env=env)
    assert listed.code == 0, listed.output
    assert FIXED in listed.stdout
    status = cli(["status", "-t", str(campaign)], env=env).stdout
    no_reply = status.split("No reply after 14 days", 1)[1].split("\n\n")[0]
    assert FIXED in no_reply
    assert cli(["status", "--bounced"], env=env).stdout.strip() == "No letter has bounced."

    # a reply to the new letter is the new letter's; the old bounce stays the old one's
    mailbox.deliver("INBOX", render("reply-plain", **values_for(after["t01"])))
    read_inbox(env)
    events = by_target(log_rows(env))["t01"]["events"]
    assert [e["kind"] for e in events] == ["reply"]
    listed = cli(["followup"], env=env)
    assert FIXED not in listed.stdout

    # and the next run sends nothing: the bounce of the old letter changes nothing now
    rerun = send(campaign, env=env)
    assert rerun.code == 0, rerun.output
    assert rerun.stdout.startswith("Nothing to send: 3 already sent")
    assert len(smtp_server.messages) == before + 1


def test_a_letter_that_bounced_and_was_not_fixed_is_left_out_of_followup_and_status(
    sent: Sent, mailbox: Dovecot, log: Path
) -> None:
    campaign, env, rows = sent
    mailbox.deliver("INBOX", render("dsn-postfix", **values_for(rows["t01"])))
    read_inbox(env)
    age_letters(log, days=20)

    listed = cli(["followup"], env=env).stdout
    no_reply = cli(["status", "-t", str(campaign)], env=env).stdout.split(
        "No reply after 14 days", 1
    )[1]

    assert official(1) not in listed
    assert official(2) in listed
    assert official(1) not in no_reply.split("\n\n")[0]
    assert by_target(log_rows(env))["t01"]["events"][0]["kind"] == "bounced"


def test_an_answer_to_the_letter_a_resend_replaced_is_still_found(
    sent: Sent, mailbox: Dovecot, smtp_server: Server, log: Path
) -> None:
    campaign, env, rows = sent
    _bounced_and_fixed(sent, mailbox)
    assert send(campaign, env=env).code == 0
    first = rows["t01"]["message_id"]
    assert by_target(log_rows(env))["t01"]["message_id"] != first

    # the copy address answers the first letter, after the resend replaced it in the log
    mailbox.deliver("INBOX", render("reply-plain", **values_for(rows["t01"])))
    read_inbox(env)
    (reply,) = json.loads(cli(["replies", "--json"], env=env).stdout)
    assert (reply["campaign"], reply["target"], reply["kind"]) == (CAMPAIGN, "t01", "reply")
    # it is the first letter's: the new letter still has nothing found
    assert by_target(log_rows(env))["t01"]["events"] == []
    # but the official's office has answered: followup does not ask about t01 again
    age_letters(log, days=20)
    listed = cli(["followup"], env=env)
    assert listed.code == 0, listed.output
    assert FIXED not in listed.stdout
    assert official(2) in listed.stdout
