"""The IMAP test kit itself: the private Dovecot (tests/dovecot.py) and the mail corpus."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import http.server
import json
import re
import ssl
import threading
import urllib.parse
from collections.abc import Callable

import pytest
from imapclient import imapclient
from imapclient.exceptions import LoginError

import dovecot as dovecot_module
from dovecot import Dovecot, Tls
from mailcorpus import CASES, MAIL_DIR, Case, render

MESSAGE = (
    b"From: Registry <registry@court.example.org>\r\n"
    b"To: ana@example.org\r\n"
    b"Subject: Re: Release the detained journalists\r\n"
    b"Message-ID: <testkit.1@court.example.org>\r\n"
    b"\r\n"
    b"Received.\r\n"
)


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_login_over_tls_verified_against_the_fixture_ca(dovecot: Dovecot, tls: Tls) -> None:
    with dovecot.client(tls=tls) as imap:
        assert b"SPECIAL-USE" in imap.capabilities()
        assert imap.socket().version() in {"TLSv1.2", "TLSv1.3"}


def test_the_certificate_is_not_trusted_without_the_fixture_ca(dovecot: Dovecot) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        imapclient.IMAPClient(
            dovecot.host, dovecot.imaps_port, ssl_context=ssl.create_default_context(), timeout=5
        )


def test_plain_port_offers_starttls(dovecot: Dovecot) -> None:
    with dovecot.client(tls="none", login=False) as imap:
        assert b"STARTTLS" in imap.capabilities()


def test_wrong_password_is_refused(dovecot: Dovecot) -> None:
    with pytest.raises(LoginError), dovecot.client(password="wrong"):
        pass
    with pytest.raises(LoginError), dovecot.client(dovecot.user, dovecot.other_password):
        pass


def test_examine_inbox_and_peek_leave_no_seen_flag(mailbox: Dovecot) -> None:
    when = dt.datetime(2024, 5, 6, 9, 13, 5, tzinfo=dt.UTC)
    uid = mailbox.deliver("INBOX", MESSAGE, internal_date=when)
    with mailbox.client() as imap:
        assert imap.select_folder("INBOX", readonly=True)[b"EXISTS"] == 1
        data = imap.fetch([uid], ["BODY.PEEK[]", "INTERNALDATE", "FLAGS"])[uid]
        assert data[b"BODY[]"] == MESSAGE
        assert data[b"INTERNALDATE"].astimezone(dt.UTC) == when
    assert mailbox.flags("INBOX") == {uid: frozenset()}
    assert mailbox.fetch_raw("INBOX") == {uid: MESSAGE}


def test_junk_and_sent_are_found_by_special_use(dovecot: Dovecot) -> None:
    with dovecot.client() as imap:
        assert imap.find_special_folder(imapclient.JUNK) == "Junk"
        assert imap.find_special_folder(imapclient.SENT) == "Sent"


def test_reset_and_snapshot(mailbox: Dovecot) -> None:
    seen = mailbox.deliver("INBOX", MESSAGE, flags=[r"\Seen"])
    junk = mailbox.deliver("Junk", MESSAGE)
    mailbox.deliver("INBOX", MESSAGE, user=mailbox.other_user)
    with mailbox.client() as imap:
        imap.create_folder("Archive/2024")
    assert mailbox.snapshot() == {
        "INBOX": {seen: frozenset({r"\Seen"})},
        "Junk": {junk: frozenset()},
        "Sent": {},
        "Archive/2024": {},
    }
    assert len(mailbox.flags("INBOX", user=mailbox.other_user)) == 1
    mailbox.reset()
    assert mailbox.folders() == ["INBOX", "Junk", "Sent"]
    assert mailbox.snapshot() == {"INBOX": {}, "Junk": {}, "Sent": {}}
    assert mailbox.flags("INBOX", user=mailbox.other_user) == {}


# The corpus ------------------------------------------------------------------

SENT_ID = "<0123456789abcdef0123456789abcdef@example.org>"
TO = "clerk@ministry.example.org"
COPY = "lawyer@example.net"


def _read_everything(raw: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    for part in message.walk():
        for value in part.values():
            str(value)
        if part.get_content_maintype() == "text":
            part.get_content()
    return message


def test_every_template_has_a_case_and_every_case_a_template() -> None:
    files = {path.name.removesuffix(".eml.tmpl") for path in MAIL_DIR.glob("*.eml.tmpl")}
    assert files == {case.name for case in CASES if not case.generated}
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_corpus_case_renders_and_parses(case: Case) -> None:
    raw = render(case.name, message_id=SENT_ID, to=TO, copy=COPY)
    assert b"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert not re.search(rb"\{[a-z_]+\}", raw), "a placeholder was left unfilled"
    domains = {m.lower() for m in re.findall(rb"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)", raw)}
    assert all(d.endswith((b"example.org", b"example.net")) for d in domains), domains
    if case.name not in {"bounce-unknown-message-id", "unrelated"}:
        assert SENT_ID.encode() in raw
    failed = case.failed_recipient({"to": TO, "copy": COPY})
    if failed:
        assert failed.encode() in raw
    if case.diagnostic:
        assert case.diagnostic.encode() in re.sub(rb"\r\n[ \t]+", b" ", raw)  # unfolded
    if case.status:
        assert case.status.encode() in raw
    if case.broken or case.defects:
        with contextlib.suppress(LookupError, ValueError, UnicodeError, RecursionError):
            _read_everything(raw)
    else:
        message = _read_everything(raw)
        assert not message.defects
        assert message["Message-ID"]


def test_dovecot_stores_every_case_byte_for_byte(mailbox: Dovecot) -> None:
    rendered = {case.name: render(case.name, message_id=SENT_ID) for case in CASES}
    uids = {name: mailbox.deliver("INBOX", raw) for name, raw in rendered.items()}
    stored = mailbox.fetch_raw("INBOX")
    for name, uid in uids.items():
        assert stored[uid] == rendered[name], name
    assert all(flags == frozenset() for flags in mailbox.flags("INBOX").values())


# Fixture edge cases -----------------------------------------------------------


@pytest.mark.parametrize("ci", ["true", ""])
def test_without_dovecot_ci_fails_and_elsewhere_skips(
    monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    monkeypatch.setattr(dovecot_module, "find_dovecot", lambda: None)
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if ci else pytest.skip.Exception
    with contextlib.ExitStack() as stack, pytest.raises(expected, match="tests/services"):
        dovecot_module._start(stack)


class _Introspection(http.server.BaseHTTPRequestHandler):
    """RFC 7662 token introspection: "good-<user>" is an active token for <user>."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        token = urllib.parse.parse_qs(body.decode()).get("token", [""])[0]
        user = token.removeprefix("good-")
        answer = {"active": True, "username": user} if token.startswith("good-") else {}
        data = json.dumps(answer or {"active": False}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_oauth2_bearer_tokens_checked_by_introspection(
    dovecot_factory: Callable[..., Dovecot],
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Introspection)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/introspect"
        imap_server = dovecot_factory(oauth2_introspection_url=url)
        user = imap_server.user
        with imap_server.client(login=False) as imap:
            assert b"AUTH=XOAUTH2" in imap.capabilities()
            imap.oauth2_login(user, f"good-{user}")
        with imap_server.client(login=False) as imap:
            imap.oauthbearer_login(user, f"good-{user}")
        for token in ("expired", f"good-{imap_server.other_user}"):
            with pytest.raises(LoginError), imap_server.client(login=False) as imap:
                imap.oauth2_login(user, token)
        with imap_server.client():  # passwords still work
            pass
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
