"""Properties over generated campaigns: whatever goes in, nothing leaks into the headers.

For any campaign (unicode names and subjects, and arbitrary strings with control
characters, CR/LF, ``=?``, quotes, commas and angle brackets in every field),
either validation refuses it, or every built message parses back to exactly the
From, To, Cc, Reply-To and Subject the model says, with no Bcc header, and its
envelope recipients are exactly the To plus the Cc.

The library API is used (a real campaign file on disk, ``load_campaign``,
``Composer``, ``build_message``) rather than the CLI, to keep many examples fast;
``tests/test_hostile.py`` shows the same refusals through the CLI.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import re
import tempfile
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from kit import letters_of
from profiles import budget
from protest_dispatch.campaign.compose import Composer
from protest_dispatch.campaign.fields import header_safe
from protest_dispatch.campaign.loading import load_campaign
from protest_dispatch.campaign.message import build_message, make_message_id, message_bytes
from protest_dispatch.campaign.model import Sender
from protest_dispatch.errors import CampaignError, ConfigError
from protest_dispatch.settings.config import Config
from protest_dispatch.text import TERMINAL_CONTROL, first_invisible, is_invisible, visible

SETTINGS = settings(max_examples=budget(60))

# Characters that have broken mail headers somewhere: line breaks of every kind,
# controls, the pieces of RFC 2047 encoded words and of address lists.
NASTY = (
    "\r",
    "\n",
    "\r\n",
    "\x00",
    "\x0b",
    "\x0c",
    "\x1b",
    "\x7f",
    "\x85",
    "\u2028",
    "\u2029",
    "\t",
    "=?",
    "?=",
    "=?utf-8?q?x=0D=0ABcc:_evil@attacker.example?=",
    '"',
    "\\",
    ",",
    ";",
    ":",
    "<",
    ">",
    "@",
    "(",
    ")",
    "[",
    "]",
    " ",
    "  ",
    "Bcc: evil@attacker.example",
    "Evil <evil@attacker.example>",
    "a@example.org, b@example.org",
    "é",
    "Алина",
    "李",
    "\u202e",
    "\ufeff",
    "\U0001d518",
)
STANDARD_HEADERS = {
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


def _nasty_text(*, max_size: int = 40) -> st.SearchStrategy[str]:
    pieces = st.one_of(
        st.sampled_from(NASTY),
        st.text(max_size=8),
        st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8),
    )
    return st.lists(pieces, max_size=6).map("".join).map(lambda s: s[:max_size])


def _plain_text() -> st.SearchStrategy[str]:
    """Unicode text without template syntax, so a subject renders as itself."""
    return st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"], exclude_characters="{}%#"),
        min_size=1,
        max_size=60,
    )


_LOCAL = r"[a-zA-Z0-9](?:[a-zA-Z0-9+_-]{0,10}[a-zA-Z0-9])?(?:\.[a-z0-9]{1,5})?"
_VALID_ADDRESS = st.from_regex(
    _LOCAL + r"@(?:court\.|press\.)?(?:example|EXAMPLE)\.(?:org|com)", fullmatch=True
)
# A small pool, so copies repeat each other and the To (in any case) often.
_POOL = ("clerk@example.org", "Clerk@EXAMPLE.org", "press@example.org", "t0@example.org")


def _any_address() -> st.SearchStrategy[str]:
    return st.one_of(
        st.emails(domains=st.sampled_from(["example.org", "court.example.org", "EXAMPLE.org"])),
        st.sampled_from(_POOL),
        _nasty_text(),
        st.builds(lambda a, b: a + b, st.sampled_from(_POOL), st.sampled_from(NASTY)),
    )


def _valid_address() -> st.SearchStrategy[str]:
    return st.one_of(_VALID_ADDRESS, st.sampled_from(_POOL))


def _any_name() -> st.SearchStrategy[str]:
    return st.one_of(_plain_text(), _nasty_text())


def _valid_text(*, max_size: int) -> st.SearchStrategy[str]:
    """Any one-line unicode text a person might type, quotes, commas and brackets included."""
    return st.text(
        st.one_of(
            st.characters(
                codec="utf-8",
                # controls, format characters (bidi, zero-width), private use, unassigned
                exclude_categories=["Cs", "Cc", "Cf", "Co", "Cn", "Zl", "Zp"],
                exclude_characters="{}%#",
            ),
            st.sampled_from("\"\\,;:<>@()[] .'-"),
        ),
        min_size=1,
        max_size=max_size,
    ).filter(lambda s: s.strip() and "=?" not in s and first_invisible(s) is None)


def _campaign(
    draw: st.DrawFn,
    *,
    name: st.SearchStrategy[str],
    address: st.SearchStrategy[str],
    text: st.SearchStrategy[str],
    subject: st.SearchStrategy[str],
) -> dict[str, Any]:
    targets = []
    for number in range(draw(st.integers(min_value=1, max_value=3))):
        target: dict[str, Any] = {
            "id": f"t{number}",
            "name": draw(name),
            "email": draw(address),
            "template": "letter.txt.j2",
        }
        if draw(st.booleans()):
            target["role"] = draw(text)
        if draw(st.booleans()):
            target["cc"] = draw(st.lists(address, max_size=3))
        if draw(st.booleans()):
            target["subject"] = draw(st.one_of(subject, st.just("About {{ target.role }}")))
        targets.append(target)
    campaign: dict[str, Any] = {
        "id": "prop",
        "subject": draw(st.one_of(subject, st.just("For {{ target.name }}"))),
    }
    if draw(st.booleans()):
        campaign["cc"] = draw(st.lists(address, max_size=3))
    if draw(st.booleans()):
        campaign["reply_to"] = draw(address)
    return {"campaign": campaign, "targets": targets}


@st.composite
def any_campaigns(draw: st.DrawFn) -> dict[str, Any]:
    """Arbitrary strings in every field: most of these must be refused."""
    return _campaign(
        draw,
        name=_any_name(),
        address=_any_address(),
        text=_nasty_text(),
        subject=st.one_of(_plain_text(), _nasty_text()),
    )


@st.composite
def valid_campaigns(draw: st.DrawFn) -> dict[str, Any]:
    """Awkward but legitimate values: every one of these must be accepted."""
    campaign = _campaign(
        draw,
        name=_valid_text(max_size=60),
        address=_valid_address(),
        text=_valid_text(max_size=60),
        subject=_valid_text(max_size=120),
    )
    taken: set[str] = set()
    for target in campaign["targets"]:
        if target.get("subject") == "About {{ target.role }}":
            target["role"] = draw(_valid_text(max_size=60))
        while target["email"].casefold() in taken:  # one mailbox is one target's To
            target["email"] = f"{target['id']}-{len(taken)}@example.org"
        taken.add(target["email"].casefold())
    return campaign


def _write(folder: Path, data: dict[str, Any]) -> Path:
    (folder / "letters").mkdir()
    (folder / "letters" / "letter.txt.j2").write_text(
        "Dear {{ target.name }},\n\nPlease drop the charges.\n\n{{ sender.name }}\n",
        encoding="utf-8",
    )
    path = folder / "targets.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _expected_copies(to: str, *groups: tuple[str, ...]) -> list[str]:
    seen = {to.casefold()}
    result = []
    for group in groups:
        for address in group:
            if address.casefold() not in seen:
                seen.add(address.casefold())
                result.append(address)
    return result


def _squash(text: str) -> str:
    return "".join(text.split())


def _rfc2047_phrase(raw_value: str, addr_spec: str) -> str:
    """The display name as an RFC 2047 reader sees it (legacy decoder, folds undone)."""
    decoded = str(make_header(decode_header(re.sub(r"\r?\n(?=[ \t])", "", raw_value))))
    assert decoded.endswith(f"<{addr_spec}>"), decoded
    phrase = decoded[: -len(addr_spec) - 2].strip()
    if len(phrase) >= 2 and phrase[0] == phrase[-1] == '"':
        phrase = re.sub(r"\\(.)", r"\1", phrase[1:-1])
    return phrase


def _check_mailbox(
    parsed: email.message.EmailMessage, raw: bytes, header: str, name: str, addr_spec: str
) -> None:
    """Exactly one address, exactly this one, under exactly this display name.

    A name that needs encoded words is compared ignoring whitespace only: Python's
    parser adds a space between adjacent encoded words in address headers
    (CPython gh-128110), and its folder can move a space between two encoded
    words, where RFC 2047 readers drop it. Neither can add or change a letter.
    """
    addresses = parsed[header].addresses
    assert len(addresses) == 1, (header, parsed[header])
    assert addresses[0].addr_spec == addr_spec
    raw_value = _raw_header(raw, header)
    if "=?" not in raw_value:
        assert addresses[0].display_name == name
        return
    assert _squash(addresses[0].display_name) == _squash(name)
    assert _squash(_rfc2047_phrase(raw_value, addr_spec)) == _squash(name)


def _raw_header(raw: bytes, header: str) -> str:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")  # 7-bit headers only
    pattern = rf"^{header}:[ ]?([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)"
    found = re.findall(pattern, head, flags=re.MULTILINE | re.IGNORECASE)
    assert len(found) == 1, (header, found)
    return str(found[0])


def _build(
    data: dict[str, Any], sender_name: str, sender_email: str
) -> tuple[Any, Sender, list[Any]]:
    with tempfile.TemporaryDirectory() as scratch:
        path = _write(Path(scratch), data)
        loaded = load_campaign(path=path)
        sender = Sender(name=sender_name, email=sender_email)
        letters = list(letters_of(Composer(loaded=loaded, sender=sender)))
    return loaded, sender, letters


def _check(data: dict[str, Any], loaded: Any, sender: Sender, letters: list[Any]) -> None:
    """Every header parses back to the model's values; the envelope is To plus Cc."""
    info = loaded.campaign.campaign
    assert len(letters) == len(loaded.campaign.targets)
    for letter, target in zip(letters, loaded.campaign.targets, strict=True):
        assert target.email is not None
        written = next(t for t in data["targets"] if t["id"] == target.id)
        assert target.name == " ".join(written["name"].split())
        copies = _expected_copies(target.email, info.cc, target.cc)
        # the envelope comes from the model, and is exactly To then the copies
        assert letter.envelope_recipients == (target.email, *copies)
        assert set(letter.envelope_recipients) <= {target.email, *info.cc, *target.cc}

        raw = message_bytes(
            build_message(letter=letter, message_id=make_message_id(domain=sender.domain))
        )
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)

        headers = [name.lower() for name in parsed]
        assert set(headers) <= STANDARD_HEADERS, headers
        assert "bcc" not in headers
        assert len(headers) == len(set(headers)), "no header may appear twice"
        _check_mailbox(parsed, raw, "From", sender.name, sender.email)
        _check_mailbox(parsed, raw, "To", target.name, target.email)
        if copies:
            assert [(a.display_name, a.addr_spec) for a in parsed["Cc"].addresses] == [
                ("", a) for a in copies
            ]
        else:
            assert parsed["Cc"] is None
        if info.reply_to is not None:
            _check_mailbox(parsed, raw, "Reply-To", "", info.reply_to)
        else:
            assert parsed["Reply-To"] is None
        assert str(parsed["Subject"]) == letter.subject
        source = target.subject or info.subject
        if "{" not in source:
            assert letter.subject == source.strip()
        assert not any(c in letter.subject for c in "\r\n\x85\u2028\u2029")
        assert "=?" not in letter.subject


@SETTINGS
@given(data=any_campaigns(), sender_name=_any_name(), sender_email=_any_address())
def test_arbitrary_strings_are_refused_or_every_header_parses_back_exactly(
    data: dict[str, Any], sender_name: str, sender_email: str
) -> None:
    """Most arbitrary strings are refused, so the refusal is checked too: every problem
    names its file and line. test_awkward_but_valid_campaigns... below generates only
    accepted campaigns, so that every one of its examples reaches the header checks."""
    problems = None
    try:
        loaded, sender, letters = _build(data, sender_name, sender_email)
    except CampaignError as exc:  # the CLI turns it into exit 2 (see test_hostile.py)
        problems = exc.problems
    except ValidationError:
        event("refused: the sender")
        return
    if problems is not None:
        event("refused: the campaign")
        assert problems
        assert all(p.file.name == "targets.yaml" and p.line for p in problems), problems
        return
    event("accepted")
    assert sender.name == " ".join(sender_name.split())
    _check(data, loaded, sender, letters)


@SETTINGS
@given(data=valid_campaigns(), sender_name=_valid_text(max_size=60), sender_email=_valid_address())
def test_awkward_but_valid_campaigns_are_accepted_and_parse_back_exactly(
    data: dict[str, Any], sender_name: str, sender_email: str
) -> None:
    loaded, sender, letters = _build(data, sender_name, sender_email)
    assert sender.name == " ".join(sender_name.split())
    local, _, domain = sender_email.rpartition("@")
    assert sender.email == f"{local}@{domain.lower()}"
    _check(data, loaded, sender, letters)


@SETTINGS
@given(name=_any_name(), address=_any_address(), joiner=st.sampled_from([" ", "", "\r\n", " , "]))
def test_a_from_option_is_refused_or_becomes_exactly_that_sender(
    name: str, address: str, joiner: str
) -> None:
    """--from / PROTEST_FROM is parsed by the same code the CLI uses."""
    value = f"{name}{joiner}<{address}>"
    try:
        sender = Config.load(env={}).sender(from_option=value)
    except ConfigError:
        return  # the CLI prints the message and exits 2
    assert sender is not None
    assert not any(c in sender.name for c in "\r\n\x00\x85\u2028\u2029")
    assert "=?" not in sender.name
    assert "=?" not in sender.email
    assert sender.email.count("@") == 1
    assert "," not in sender.email
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(display_name=sender.name, addr_spec=sender.email)
    raw = bytes(message)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    assert [name.lower() for name in parsed] == ["from"]
    _check_mailbox(parsed, raw, "From", sender.name, sender.email)


# -- invisible and direction-changing characters ---------------------------------------------

_INVISIBLE = st.one_of(
    st.characters(categories=["Cf", "Zl", "Zp", "Co"]),
    st.sampled_from("\u034f\u115f\u1160\u3164\uffa0\u2800\u180b\ufe0f\U000e0100\U000e01ef"),
)


@settings(max_examples=budget(300))
@given(_valid_text(max_size=30), _INVISIBLE, _valid_text(max_size=30))
def test_every_invisible_character_in_header_text_is_refused(
    before: str, hidden: str, after: str
) -> None:
    text = before + hidden + after
    with pytest.raises(ValueError, match=f"U\\+{ord(hidden):04X}"):
        header_safe(text)
    with pytest.raises(ValidationError):
        Sender(name=text, email="ana@example.org")


@settings(max_examples=budget(300))
@given(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"])))
def test_the_preview_shows_no_invisible_character_and_no_control_code(text: str) -> None:
    shown = visible(text)
    assert all(c in "\t\n" or not is_invisible(c) for c in shown), repr(shown)
    assert not TERMINAL_CONTROL.search(shown)
