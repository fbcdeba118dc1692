"""Generated headers through the reader's whole path: Dovecot, the scan, the CLI.

Each example puts a few generated replies to a real letter in the mailbox: dates of
any shape (out of range, any offset, garbage), From headers with hostile display
names (controls, quotes, commas, nested comments, encoded words in charsets that
are no text encoding), subjects and body charsets of any kind. Then ``protest inbox``
runs. No exception may escape the per-message guard, every message is either
read or skipped with one warning line naming it, the bookmark passes them all,
and a reply is attributed to the official's address or to nobody, never to
another address.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dovecot import Dovecot
from inboxkit import Sent
from kit import SENDER, cli
from profiles import budget

CHARSETS = ["utf-8", "koi8-r", "base64", "rot13", "zlib", "idna", "x-unknown", "utf-7", "hex"]
SAFE = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00")
TEXT = st.text(SAFE, max_size=40)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sendlog.sqlite3"


@st.composite
def encoded_word(draw: st.DrawFn) -> str:
    charset = draw(st.sampled_from(CHARSETS))
    data = draw(TEXT).encode("utf-8")
    return f"=?{charset}?B?{base64.b64encode(data).decode()}?="


@st.composite
def display_name(draw: st.DrawFn) -> str:
    pieces = st.one_of(
        TEXT,
        encoded_word(),
        TEXT.map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'),
        st.sampled_from(["(", ")", "((a)(b", '"', ",", "<", ">", "\x1b[2J", "\x07", "\\", ";"]),
        TEXT.map(lambda t: f"({t})"),
    )
    return " ".join(draw(st.lists(pieces, max_size=4)))


@st.composite
def date(draw: st.DrawFn) -> str:
    year = draw(st.integers(0, 10_000))
    offset = draw(st.integers(-9999, 9999))
    sign = "-" if offset < 0 else "+"
    real = f"Fri, 31 Dec {year:04d} 23:59:59 {sign}{abs(offset):04d}"
    return draw(st.one_of(st.just(real), TEXT, st.just("Fri, 31 Dec 9999 23:59:59 -2359")))


@st.composite
def reply(draw: st.DrawFn, *, official: str, letter_id: str) -> bytes:
    name = draw(display_name())
    from_ = draw(
        st.one_of(
            st.just(f"{name} <{official}>"),
            st.just(f"{official} ({name})"),
            st.just(f"{name}, {official}"),
            st.just(f"{official})<attacker@evil.example.net>"),
            st.just(f"{name} <attacker@evil.example.net>, {official}"),
        )
    )
    subject = draw(st.one_of(TEXT, encoded_word()))
    charset = draw(st.sampled_from(CHARSETS))
    head = (
        f"From: {from_}\r\nTo: {SENDER}\r\nSubject: {subject}\r\nDate: {draw(date())}\r\n"
        f"In-Reply-To: {letter_id}\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset={charset}\r\n\r\n"
    )
    return head.encode("utf-8") + draw(st.binary(max_size=200)).replace(b"\r", b"") + b"\r\n"


@settings(
    max_examples=budget(25),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
@example(data=None)  # the two messages, whatever else is drawn
def test_no_generated_header_escapes_the_per_message_guard_or_names_a_wrong_sender(
    data: st.DataObject | None, sent: Sent, mailbox: Dovecot, tmp_path: Path
) -> None:
    _, env, rows = sent
    row = rows["t01"]
    official, letter_id = row["to"], row["message_id"]
    if data is None:
        messages = [
            f"From: {'(' * 5000}\r\nIn-Reply-To: {letter_id}\r\n\r\nx\r\n".encode(),
            f"From: <{official}>\r\nDate: Fri, 31 Dec 9999 23:59:59 -2359\r\n"
            f"In-Reply-To: {letter_id}\r\n\r\nx\r\n".encode(),
        ]
    else:
        messages = data.draw(
            st.lists(reply(official=official, letter_id=letter_id), min_size=1, max_size=4)
        )
    uids = [mailbox.deliver("INBOX", raw) for raw in messages]

    run = cli(["inbox", "--json"], env=env)  # in this process: an escaped exception raises

    assert run.code == 0, run.output
    found = json.loads(run.stdout)
    for warning in found["warnings"]:
        assert len(warning.splitlines()) == 1
    skipped = {int(w.split()[2]) for w in found["warnings"] if w.startswith("Skipped message")}
    assert skipped <= set(uids)
    assert all(f["from"] in (official, None) for f in found["new"])
    assert len(found["new"]) + len(skipped) <= len(uids)
    again = json.loads(cli(["inbox", "--json"], env=env).stdout)
    assert again["folders"][0]["searched"] == 0  # the bookmark passed every message
