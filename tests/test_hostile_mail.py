"""Hostile and broken incoming mail, all in one mailbox: one line each, never a traceback.

The corpus's hostile cases (tests/corpus/mail: broken MIME, 5 MB, 200-level nesting,
lying charsets, terminal escapes, a DSN for a stranger) plus the ones below, made
here: an HTML "reply" with a billion-laughs entity structure, a References header
with thousands of IDs, NUL bytes and raw 8-bit garbage in headers, and a bounce
report whose recipient blocks are nonsense.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from dovecot import Dovecot
from inboxkit import Sent, send_letters, values_for
from kit import SENDER, cli
from mailcorpus import CASES, render
from smtp_server import Server


@pytest.fixture
def sent(tmp_path: Path, smtp_server: Server, mailbox: Dovecot) -> Sent:
    log = tmp_path / "data" / "sendlog.sqlite3"
    return send_letters(tmp_path / "c", log=log, smtp_server=smtp_server, mailbox=mailbox)


HOSTILE = [c for c in CASES if c.broken or c.generated or c.kind == "none" or "esc" in c.name]


def _billion_laughs(row: Mapping[str, Any]) -> bytes:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i else "&lol;" * 10}">'
        for i in range(10)
    )
    return (
        f"From: Registry <{row['to']}>\r\nTo: {SENDER}\r\nSubject: Re: laughs\r\n"
        f"Message-ID: <laughs@court.example.org>\r\nIn-Reply-To: {row['message_id']}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f"<!DOCTYPE html [{entities}]><html><body><p>&lol9;</p></body></html>\r\n"
    ).encode()


def _many_references(row: Mapping[str, Any]) -> bytes:
    refs = " ".join(f"<n{i}@x.example.org>" for i in range(5000))
    return (
        f"From: Registry <{row['to']}>\r\nTo: {SENDER}\r\nSubject: Re: refs\r\n"
        f"Message-ID: <refs@court.example.org>\r\nReferences: {refs} {row['message_id']}\r\n"
        "\r\nNoted.\r\n"
    ).encode()


def _garbage_headers(row: Mapping[str, Any]) -> bytes:
    return (
        b"From: \x00\xff\xfe <" + row["to"].encode() + b">\r\nTo: " + SENDER.encode() + b"\r\n"
        b"Subject: =?x-nonsense?Q?=FF=00?= \x1b]0;pwned\x07\r\n"
        b"Date: 31 Feb 99999 25:61:61 +9999\r\nMessage-ID: <garbage@court.example.org>\r\n"
        b"In-Reply-To: " + row["message_id"].encode() + b"\r\n\r\n\x00\xff body\r\n"
    )


def _nonsense_dsn(row: Mapping[str, Any]) -> bytes:
    return (
        f"From: MAILER-DAEMON@mx.example.net\r\nTo: {SENDER}\r\nSubject: Undelivered\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; b="x"'
        f'; boundary="b"\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n'
        "Final-Recipient: ;;;\r\nAction: \x00failed\r\nStatus: 9.9.9.9\r\n\r\n"
        f"Final-Recipient: rfc822; <>\r\nAction: failed\r\n\r\n--b\r\n"
        f"Content-Type: text/rfc822-headers\r\n\r\nMessage-ID: {row['message_id']}\r\n--b--\r\n"
    ).encode()


def test_every_hostile_message_is_skipped_or_read_and_none_makes_a_wrong_finding(
    sent: Sent, mailbox: Dovecot
) -> None:
    _, env, rows = sent
    row = rows["t01"]
    for case in HOSTILE:
        mailbox.deliver(case.folder, render(case.name, **values_for(row)))
    for make in (_billion_laughs, _many_references, _garbage_headers, _nonsense_dsn):
        mailbox.deliver("INBOX", make(row))
    before = mailbox.snapshot()

    run = cli(["inbox", "--json"], env=env)

    assert run.code == 0, run.output
    assert "Traceback" not in run.output
    assert mailbox.snapshot() == before
    data = json.loads(run.stdout)
    kinds = {f["kind"] for f in data["new"]}
    assert kinds <= {"reply"}  # nothing hostile here is a bounce, delay or auto-reply
    assert all(len(w.splitlines()) == 1 for w in data["warnings"])
    laughs = [f for f in data["new"] if f["subject"] == "Re: laughs"]
    assert laughs
    assert len(laughs[0]["diagnostic"] or "") < 300
    human = cli(["replies"], env=env)
    assert human.code == 0
    assert "\x1b" not in human.output
    assert "\x07" not in human.output
    assert "\x00" not in human.output
    for number in range(1, len(data["new"]) + 1):
        shown = cli(["replies", "--show", str(number)], env=env)
        assert shown.code == 0, shown.output
        assert "\x1b" not in shown.output
