"""The message builder: headers, copies, privacy, UTF-8, MIME shape, injection (issue 2).

Every message is parsed back with the stdlib parser; nothing compares raw strings.
"""

from __future__ import annotations

import getpass
import os
import re
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.policy import compat32
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit import ANA, BASIC, composer, letters_of, only_problem, parse, write_campaign
from profiles import budget
from protest_dispatch.campaign.markdown import first_image, render_html, without_images
from protest_dispatch.campaign.message import (
    Letter,
    build_message,
    make_message_id,
    message_bytes,
)
from protest_dispatch.campaign.model import Sender
from protest_dispatch.commands.preview import write_eml
from protest_dispatch.errors import ConfigError, InputError
from protest_dispatch.settings.config import Config

FULL = """\
campaign:
  id: free-them
  title: "Free them"
  subject: "Drop the charges against {{ target.name }}"
  cc: [Press@example.org, COURT@example.org, watch@example.org]
  reply_to: replies@example.org
targets:
  - id: court
    name: "Judge Example"
    email: court@example.org
    cc: [press@EXAMPLE.org, clerk@example.org, Clerk@example.org, court@example.org]
    template: court.md.j2
  - id: ministry
    name: "The Ministry"
    email: ministry@example.org
    template: ministry.txt.j2
"""

LETTERS = {
    "court.md.j2": "Dear {{ target.name }},\n\nPlease **drop the charges**.\n\n"
    "- first demand\n- second demand\n\n{{ sender.name }}\n",
    "ministry.txt.j2": "To {{ target.name }}:\n\nDrop the charges.\n",
}


def letters(
    tmp_path: Path,
    yaml_text: str = FULL,
    sender: Sender = ANA,
    files: dict[str, str] | None = None,
) -> list[Letter]:
    path = write_campaign(tmp_path, yaml_text, LETTERS if files is None else files)
    return list(letters_of(composer(path, sender=sender)))


def text_of(part: Message) -> str:
    """A text part's content; the wire's CRLF line ends read back as plain newlines."""
    content = part.get_content()  # type: ignore[attr-defined]  # EmailMessage under policy.default
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def built(letter: Letter, **kwargs: object) -> EmailMessage:
    """Build, serialise and parse back: what a mail program would see."""
    message_id = make_message_id(domain=letter.sender.domain)
    return parse(message_bytes(build_message(letter=letter, message_id=message_id, **kwargs)))  # type: ignore[arg-type]


def test_headers(tmp_path: Path) -> None:
    court, _ = letters(tmp_path)
    msg = built(court)
    [sender] = msg["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Ana Example", "ana@example.org")
    [to] = msg["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Judge Example", "court@example.org")
    assert [a.addr_spec for a in msg["Reply-To"].addresses] == ["replies@example.org"]
    assert msg["Subject"] == "Drop the charges against Judge Example"
    assert msg["Date"].datetime is not None
    assert msg["Message-ID"]
    assert msg["MIME-Version"] == "1.0"


def test_cc_merges_campaign_and_target_copies_without_repeats(tmp_path: Path) -> None:
    court, ministry = letters(tmp_path)
    msg = built(court)
    cc = [a.addr_spec for a in msg["Cc"].addresses]
    assert cc == ["Press@example.org", "watch@example.org", "clerk@example.org"]
    assert court.envelope_recipients == ("court@example.org", *cc)
    assert [a.addr_spec for a in built(ministry)["Cc"].addresses] == [
        "Press@example.org",
        "COURT@example.org",
        "watch@example.org",
    ]


def test_no_cc_header_without_copies(tmp_path: Path) -> None:
    [letter] = letters(tmp_path, BASIC, files={"court.md.j2": "Dear judge,\n"})
    msg = built(letter)
    assert msg["Cc"] is None
    assert msg["Reply-To"] is None
    assert letter.envelope_recipients == ("court@example.org",)


@pytest.fixture
def far_east_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's clock set to Almaty, as a critic's laptop there would be."""
    monkeypatch.setenv("TZ", "Asia/Almaty")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("far_east_clock")
def test_date_is_utc_whatever_the_local_zone(tmp_path: Path) -> None:
    court, _ = letters(tmp_path)
    assert time.strftime("%z") != "+0000", "the test needs a local zone other than UTC"
    msg = built(court)
    assert msg["Date"].endswith("+0000")
    assert abs(msg["Date"].datetime - datetime.now(UTC)) < timedelta(minutes=5)
    local = datetime(2011, 9, 21, 15, 30, tzinfo=timezone(timedelta(hours=6)))
    given = built(court, date=local)
    assert given["Date"].endswith("+0000")
    assert given["Date"].datetime == local
    assert given["Date"].datetime.hour == 9


def test_message_id_is_in_the_senders_domain(tmp_path: Path) -> None:
    sender = Sender(name="Ana", email="ana@mail.example.org")
    court, ministry = letters(tmp_path, sender=sender)
    ids = [built(letter)["Message-ID"] for letter in (court, ministry, court)]
    for message_id in ids:
        assert re.fullmatch(r"<[0-9a-f]{32}@mail\.example\.org>", message_id), message_id
    assert len(set(ids)) == 3


def test_no_header_reveals_the_machine_or_the_mailer(tmp_path: Path) -> None:
    court, ministry = letters(tmp_path)
    secrets = {
        socket.gethostname(),
        socket.getfqdn(),
        getpass.getuser(),
        str(tmp_path),
        os.getcwd(),
        str(Path.home()),
    }
    secrets = {s for s in secrets if len(s) >= 4 and s != "localhost"}
    for letter in (court, ministry):
        msg = built(letter)
        names = {name.lower() for name in msg}
        assert names <= {
            "from",
            "to",
            "cc",
            "reply-to",
            "subject",
            "date",
            "message-id",
            "mime-version",
            "content-type",
            "content-transfer-encoding",
        }
        for name, value in msg.items():
            for secret in secrets:
                assert secret not in value, f"{name} reveals {secret!r}"
            assert "/" not in value or name.lower() == "content-type", f"{name}: {value}"
        for part in msg.walk():
            assert not {"x-mailer", "user-agent", "received"} & {n.lower() for n in part}


CYRILLIC = """\
campaign:
  id: kz-appeal
  subject: "Снять обвинения с {{ target.name }}"
targets:
  - id: court
    name: "Алина Булатовна Рахимбекова"
    email: court@example.org
    template: court.ru.md.j2
"""  # noqa: RUF001 - Russian on purpose


def test_cyrillic_round_trips(tmp_path: Path) -> None:
    sender = Sender(name="Айнур Иванова", email="ainur@example.org")
    body = (
        "Уважаемая {{ target.name }}!\n\n"
        "Прошу снять обвинения в **самоуправстве**.\n\n"
        "{{ sender.name }}\n"
    )
    [letter] = letters(tmp_path, CYRILLIC, sender=sender, files={"court.ru.md.j2": body})
    data = message_bytes(
        build_message(letter=letter, message_id=make_message_id(domain=sender.domain))
    )
    assert data.isascii(), "headers are RFC 2047 and bodies quoted-printable: any server takes it"
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    msg = parse(data)
    assert msg["From"].addresses[0].display_name == "Айнур Иванова"
    assert msg["To"].addresses[0].addr_spec == "court@example.org"
    # A long name spans two encoded words; RFC 2047 drops the fold between them, but
    # Python < 3.14's structured-header parser inserts a space (CPython gh-128110), so
    # the name is checked with the stdlib's RFC 2047 decoder instead.
    raw_to = parse(data, policy=compat32)["To"]
    assert (
        str(make_header(decode_header(raw_to))) == "Алина Булатовна Рахимбекова <court@example.org>"
    )
    assert msg["Subject"] == "Снять обвинения с Алина Булатовна Рахимбекова"  # noqa: RUF001 - Russian
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content_charset() == "utf-8"
    assert text_of(plain) == letter.rendered.text
    assert "Уважаемая Алина Булатовна Рахимбекова!" in text_of(plain)
    assert "<strong>самоуправстве</strong>" in html.get_content()


def test_markdown_letter_is_multipart_alternative(tmp_path: Path) -> None:
    court, _ = letters(tmp_path)
    msg = built(court)
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    plain, html = (text_of(p) for p in parts)
    assert plain == court.rendered.text
    assert "**drop the charges**" in plain
    assert "<strong>drop the charges</strong>" in html
    assert "<li>first demand</li>" in html
    assert all(p.get_content_charset() == "utf-8" for p in parts)


def test_text_letter_is_plain_text_only(tmp_path: Path) -> None:
    _, ministry = letters(tmp_path)
    msg = built(ministry)
    assert msg.get_content_type() == "text/plain"
    assert not msg.is_multipart()
    assert text_of(msg) == "To The Ministry:\n\nDrop the charges.\n"


def test_raw_html_in_markdown_is_escaped(tmp_path: Path) -> None:
    hostile = BASIC.replace('"Judge Example"', '"<img src=x onerror=alert(1)>"')
    [letter] = letters(
        tmp_path,
        hostile,
        files={
            "court.md.j2": "Dear {{ target.name }},\n\n<script>alert('x')</script>\n\n"
            "[click](javascript:alert(1))\n"
        },
    )
    msg = built(letter)
    html = msg.get_body(("html",))
    plain = msg.get_body(("plain",))
    assert html is not None
    assert plain is not None
    text = html.get_content()
    assert "<script" not in text
    assert "<img" not in text
    assert "&lt;script&gt;" in text
    assert "&lt;img" in text
    assert 'href="javascript' not in text
    assert "<script>alert('x')</script>" in text_of(plain)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (
            'subject: "Drop the charges, {{ target.name }}"',
            'subject: "Drop the charges\\r\\nBcc: victim@example.org"',
            "campaign.subject",
        ),
        ('name: "Judge Example"', 'name: "Judge\\nBcc: victim@example.org"', "name"),
        (
            '  title: "Free them"',
            '  reply_to: "me@example.org\\nBcc: victim@example.org"',
            "campaign.reply_to",
        ),
        ("template: court.md.j2", 'template: court.md.j2\n    subject: "a\\rb"', "subject"),
        ("template: court.md.j2", 'template: court.md.j2\n    cc: ["a@example.org\\nb"]', "cc[1]"),
        ("email: court@example.org", 'email: "court@example.org\\r\\nBcc: x@example.org"', "email"),
        ('name: "Judge Example"', 'name: "=?utf-8?q?Bcc=3A_x?="', "name"),
    ],
)
def test_line_break_in_a_header_value_is_a_validation_error(
    tmp_path: Path, old: str, new: str, field: str
) -> None:
    path = write_campaign(tmp_path, BASIC.replace(old, new))
    problem = only_problem(path)
    assert problem.field == field
    assert problem.file == path
    assert problem.line is not None


@pytest.mark.parametrize(
    "value",
    ["Ana\r\nBcc: x@example.org <ana@example.org>", "Ana <ana@example.org>\nBcc: x@example.org"],
)
def test_line_break_in_the_sender_is_refused(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.load(env={"PROTEST_FROM": value}).sender()
    assert caught.value.key == "from"
    assert "line break" in caught.value.message


def test_sender_model_refuses_line_breaks() -> None:
    with pytest.raises(ValueError, match="line break"):
        Sender(name="Ana\nBcc: x@example.org", email="ana@example.org")


def _without(msg: EmailMessage, *names: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in msg.items() if k not in names]


def test_two_builds_differ_only_in_date_and_message_id(tmp_path: Path) -> None:
    court, ministry = letters(tmp_path)
    for letter in (court, ministry):
        first = build_message(
            letter=letter, message_id="<1@example.org>", date=datetime(2011, 9, 21, tzinfo=UTC)
        )
        second = build_message(letter=letter, message_id="<2@example.org>")
        a, b = parse(message_bytes(first)), parse(message_bytes(second))
        assert a["Message-ID"] != b["Message-ID"]
        assert a["Date"] != b["Date"]
        assert _without(a, "Date", "Message-ID") == _without(b, "Date", "Message-ID")
        assert [(p.get_content_type(), p.get_payload(decode=True)) for p in a.walk()] == [
            (p.get_content_type(), p.get_payload(decode=True)) for p in b.walk()
        ]
        strip = re.compile(rb"^(Date|Message-ID): .*\r\n", re.MULTILINE)
        assert strip.sub(b"", message_bytes(first)) == strip.sub(b"", message_bytes(second))


def test_eml_file_is_the_message_delivery_sends(tmp_path: Path) -> None:
    court, _ = letters(tmp_path / "campaign")
    out = tmp_path / "out"
    out.mkdir()
    path = write_eml(letter=court, folder=out, message_id="<x@example.org>")
    assert path == out / "court.eml"
    from_file = parse(path.read_bytes())
    sent = parse(message_bytes(build_message(letter=court, message_id="<x@example.org>")))
    assert _without(from_file, "Date") == _without(sent, "Date")
    plain = from_file.get_body(("plain",))
    assert plain is not None
    assert text_of(plain) == court.rendered.text
    assert path.read_bytes().count(b"\r\n") == path.read_bytes().count(b"\n")


# -- nothing remote in the HTML part --------------------------------------------------------

MARKDOWN_PIECES = [
    "![",
    "](",
    ")",
    "[",
    "]",
    "]: ",
    "[r]",
    "[r]: ",
    "https://tracker.example.net/p.png",
    "//tracker.example.net/p.png",
    "data:image/png;base64,iVBORw0KGgo=",
    "javascript:alert(1)",
    "<https://tracker.example.net/a>",
    "<img src=//tracker.example.net/p.png>",
    '<link rel="stylesheet" href="//tracker.example.net/s.css">',
    "<style>p{background:url(//tracker.example.net/p.png)}</style>",
    '<p style="background-image:url(https://tracker.example.net/p.png)">',
    '<table background="https://tracker.example.net/p.png">',
    "<iframe src=//tracker.example.net/>",
    "<object data=//tracker.example.net/x>",
    "<video poster=//tracker.example.net/p.png>",
    '<img srcset="//tracker.example.net/p.png 2x">',
    "<svg><image href=//tracker.example.net/p.png /></svg>",
    ' "title"',
    "\n",
    "\n\n",
    " ",
    "    ",
    "> ",
    "- ",
    "1. ",
    "```\n",
    "`",
    "*",
    "\\",
    "&",
    "x",
]
# Every tag markdown-it makes from CommonMark with raw HTML off, with the only
# attributes it may carry; none of them makes a mail program fetch anything.
HTML_ALLOWED = {
    "html": set(),
    "head": set(),
    "meta": {"charset"},
    "body": set(),
    "p": set(),
    "a": {"href", "title"},
    "em": set(),
    "strong": set(),
    "code": {"class"},
    "pre": set(),
    "blockquote": set(),
    "ul": set(),
    "ol": {"start"},
    "li": set(),
    "h1": set(),
    "h2": set(),
    "h3": set(),
    "h4": set(),
    "h5": set(),
    "h6": set(),
    "hr": set(),
    "br": set(),
}


class _TagCheck(HTMLParser):
    """Collects every tag and attribute that is not on the allowed list."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.bad: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        allowed = HTML_ALLOWED.get(tag)
        if allowed is None:
            self.bad.append((tag, None))
            return
        self.bad += [(tag, name) for name, _ in attrs if name not in allowed]

    handle_startendtag = handle_starttag


def _remote_references(html: str) -> list[tuple[str, str | None]]:
    checker = _TagCheck()
    checker.feed(html)
    checker.close()
    return checker.bad


@settings(max_examples=budget(300))
@given(st.lists(st.sampled_from(MARKDOWN_PIECES), max_size=25).map("".join))
def test_no_html_part_references_a_remote_resource(markdown: str) -> None:
    """Links stay (a reader must click them); nothing a mail program fetches by itself."""
    html = render_html(markdown)
    assert _remote_references(html) == [], (markdown, html)
    assert "<img" not in html
    assert first_image(without_images(markdown) or "") is None


def test_a_notes_image_is_text_in_the_letter_and_never_an_image(tmp_path: Path) -> None:
    note = "I was there. ![me](https://tracker.example.net/p.png?u=ana%40example.org)"
    noted = Sender(name=ANA.name, email=ANA.email, note=note)
    [letter] = letters(
        tmp_path,
        BASIC,
        sender=noted,
        files={"court.md.j2": "Dear {{ target.name }},\n\n{{ sender.note }}\n"},
    )
    html = built(letter).get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert _remote_references(content) == []
    assert "<img" not in content
    assert "![me](https://tracker.example.net/p.png?u=ana%40example.org)" in content


def test_a_letters_own_link_stays_a_link(tmp_path: Path) -> None:
    [letter] = letters(
        tmp_path,
        BASIC,
        files={"court.md.j2": "Read [the appeal](https://example.org/appeal).\n"},
    )
    html = built(letter).get_body(("html",))
    assert html is not None
    assert '<a href="https://example.org/appeal">the appeal</a>' in html.get_content()


def test_an_eml_file_is_not_written_through_a_planted_symlink(tmp_path: Path) -> None:
    court, _ = letters(tmp_path / "campaign")
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep me", encoding="utf-8")
    (out / "court.eml").symlink_to(elsewhere)
    with pytest.raises(InputError, match="Cannot write"):
        write_eml(letter=court, folder=out, message_id="<x@example.org>")
    assert elsewhere.read_text(encoding="utf-8") == "keep me"
