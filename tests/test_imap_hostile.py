"""``protest inbox`` against a hostile IMAP server (tests/hostile_imap.py) on 127.0.0.1.

Every number from the server is range-checked, every literal has a size cap (a
larger one is read past, never kept, and costs only its message), every exchange
has a total deadline, and each failure is an error naming the server: exit 1
where waiting cannot help, 75 where it may. Never a traceback.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from pydantic import SecretStr

from hostile_imap import HostileImap, Huge, Script
from inboxkit import Sent
from kit import SENDER, by_target, cli, log_rows
from protest_dispatch.errors import ImapUnavailableError
from protest_dispatch.inbox.session import open_mailbox
from protest_dispatch.inbox.wire import Limits
from protest_dispatch.settings.imap import Credentials, ImapSettings
from protest_dispatch.vocabulary import Security

HUGE = 400_000_000


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sendlog.sqlite3"


def against(server: HostileImap, env: Mapping[str, str]) -> dict[str, str]:
    hostile = {**env, "PROTEST_IMAP_HOST": "127.0.0.1", "PROTEST_IMAP_SECURITY": "none"}
    hostile["PROTEST_IMAP_PORT"] = str(server.port)
    hostile.pop("PROTEST_IMAP_CA_FILE", None)
    return hostile


def reply(row: Mapping[str, str]) -> tuple[bytes, bytes]:
    header = (
        f"From: Registry <{row['to']}>\r\nMessage-ID: <r1@court.example.org>\r\n"
        f"In-Reply-To: {row['message_id']}\r\nSubject: Re: the letter\r\n\r\n"
    ).encode()
    return header, header[:-2] + b"To: " + SENDER.encode() + b"\r\n\r\nReceived, thank you.\r\n"


NUMBERS = {
    "uidvalidity-abc": Script(uidvalidity=b"abc"),
    "uidvalidity-zero": Script(uidvalidity=b"0"),
    "uidvalidity-2^63": Script(uidvalidity=b"9223372036854775808"),
    "uidnext-2^64": Script(uidnext=b"18446744073709551616"),
    "uid-2^63": Script(search=b"1 9223372036854775808"),
}


@pytest.mark.parametrize("script", NUMBERS.values(), ids=NUMBERS.keys())
def test_a_number_out_of_range_is_an_error_naming_the_server(sent: Sent, script: Script) -> None:
    _, env, rows = sent
    script.messages = {1: reply(rows["t01"])}
    with HostileImap(script) as server:
        run = cli(["inbox", "--folder", "INBOX"], env=against(server, env))

    assert run.code == 1, run.output
    assert f"IMAP server 127.0.0.1:{server.port}" in run.stderr
    assert "Waiting will not help" in run.stderr
    assert all(row["events"] == [] for row in log_rows(env))


GARBAGE = {
    "fetch-unbalanced": (("FETCH", b"* 1 FETCH (UID 1 BODY[HEADER] (((\r\n{tag} OK done\r\n"), 1),
    "fetch-uid-abc": (("FETCH", b"* 1 FETCH (UID abc FLAGS ())\r\n{tag} OK done\r\n"), 1),
    "binary-noise": (("EXAMINE", b"\x00\xff\xfe))) not imap (((\r\n"), 75),
}


@pytest.mark.parametrize(("garbage", "code"), GARBAGE.values(), ids=GARBAGE.keys())
def test_garbage_is_an_error_naming_the_server(
    sent: Sent, garbage: tuple[str, bytes], code: int
) -> None:
    _, env, rows = sent
    script = Script(messages={1: reply(rows["t01"])}, garbage=garbage)
    with HostileImap(script) as server:
        run = cli(["inbox", "--folder", "INBOX"], env=against(server, env))

    assert run.code == code, run.output
    assert f"127.0.0.1:{server.port}" in run.stderr


@pytest.mark.parametrize("where", ["header", "whole message"])
def test_a_huge_literal_costs_its_message_not_the_memory_or_the_run(sent: Sent, where: str) -> None:
    _, env, rows = sent
    header, whole = reply(rows["t01"])
    huge = (Huge(HUGE), whole) if where == "header" else (header, Huge(HUGE))
    script = Script(messages={5: huge, 6: reply(rows["t02"])})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with HostileImap(script) as server:
        run = cli(["inbox", "--json", "--folder", "INBOX"], env=against(server, env))

    assert run.code == 0, run.output
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
    assert grown_mb < 100
    found = json.loads(run.stdout)
    assert found["warnings"] == [
        f"Skipped message 5 in 'INBOX': the server sent {HUGE:,} bytes for it, more than "
        "the 2,097,152 read."
    ]
    assert [(f["kind"], f["target"]) for f in found["new"]] == [("reply", "t02")]
    assert by_target(log_rows(env))["t01"]["events"] == []


def test_a_server_that_trickles_meets_the_total_deadline(sent: Sent) -> None:
    script = Script(trickle="EXAMINE", trickle_every=0.1, trickle_bytes=100_000)
    with HostileImap(script) as server:
        settings = ImapSettings(
            host="127.0.0.1",
            port=server.port,
            security=Security.NONE,
            username="ana",
            credentials=lambda: Credentials("ana", SecretStr("pw")),
            timeout=5.0,
        )
        started = time.monotonic()
        with (
            pytest.raises(ImapUnavailableError) as raised,
            open_mailbox(settings, limits=Limits(exchange_seconds=1.5, read_timeout=5.0)) as imap,
        ):
            imap.select_folder("INBOX", readonly=True)
        took = time.monotonic() - started

    assert took < 5  # each byte came within the read time-out: only the deadline stops it
    assert raised.value.exit_code == 75
    assert f"127.0.0.1:{server.port}" in str(raised.value)
    assert "1.5 seconds" in str(raised.value)


def test_doctor_against_a_trickling_server_stops_at_its_time_out(sent: Sent) -> None:
    _, env, _ = sent
    script = Script(trickle="LOGIN", trickle_every=0.1, trickle_bytes=100_000)
    with HostileImap(script) as server:
        started = time.monotonic()
        run = cli(["doctor", "--timeout", "1"], env=against(server, env))
        took = time.monotonic() - started

    assert run.code == 75, run.output
    assert "✗ IMAP login" in run.stdout
    assert took < 10
