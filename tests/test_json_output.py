"""Every ``--json`` escapes what a terminal would act on, since people pipe it to ``jq``.

``json.dumps`` escapes C0 controls only; a reply whose subject carries CSI (U+009B),
OSC (U+009D), ST (U+009C) or a right-to-left override (U+202E) reached the terminal
raw through ``protest replies --json | jq``. The CLI has one JSON writer
(``output.print_json``); these tests run the real commands against a real Dovecot.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dovecot import Dovecot
from inboxkit import Sent
from kit import SENDER, cli
from protest_dispatch.text import is_invisible, json_visible

HOSTILE = "\u009b31m \u009d52;c;aGk=\u009c \u202egnp.exe \u2066x\u2069 \u200b \x7f \U000e0041"
ESCAPED = ("\\u009b", "\\u009d", "\\u009c", "\\u202e", "\\u2066", "\\u200b", "\\u007f")


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sendlog.sqlite3"


def _reply(row: dict[str, object]) -> bytes:
    subject = "=?utf-8?b?" + base64.b64encode(HOSTILE.encode()).decode() + "?="
    return (
        f"From: Registry <{row['to']}>\r\nTo: {SENDER}\r\nSubject: {subject}\r\n"
        f"Message-ID: <json-escapes@court.example.org>\r\nIn-Reply-To: {row['message_id']}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        f"We read it. {HOSTILE}\r\n"
    ).encode()


def _assert_escaped(stdout: str) -> object:
    for raw in ("\u009b", "\u009d", "\u009c", "\u202e", "\u2066", "\u200b", "\x7f", "\U000e0041"):
        assert raw not in stdout
    assert all(escape in stdout for escape in ESCAPED)
    assert "\\udb40\\udc41" in stdout  # a tag character, as a JSON surrogate pair
    return json.loads(stdout)


def test_inbox_replies_and_log_json_escape_c1_controls_and_overrides(
    sent: Sent, mailbox: Dovecot
) -> None:
    _, env, rows = sent
    mailbox.deliver("INBOX", _reply(dict(rows["t01"])))

    new = _assert_escaped(cli(["inbox", "--json"], env=env, expect=0).stdout)
    replies = _assert_escaped(cli(["replies", "--json"], env=env, expect=0).stdout)
    letters = _assert_escaped(cli(["log", "--json"], env=env, expect=0).stdout)

    assert isinstance(new, dict)
    assert [f["subject"] for f in new["new"]] == [HOSTILE]  # the same text, decoded
    assert isinstance(replies, list)
    assert HOSTILE in replies[0]["text"]
    assert isinstance(letters, list)
    assert any(e["subject"] == HOSTILE for row in letters for e in row["events"])


@given(st.text())
def test_the_json_writer_keeps_every_string_and_escapes_every_invisible_character(
    value: str,
) -> None:
    dumped = json_visible(json.dumps({"k": value, value: [value]}, ensure_ascii=False))
    assert json.loads(dumped) == {"k": value, value: [value]}
    assert not any(is_invisible(char) for char in dumped if char not in "\n")
