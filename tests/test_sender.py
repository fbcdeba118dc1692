"""--from: every display name RFC 5322 allows, names in any script, and no header injection."""

from __future__ import annotations

import email
import email.policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from profiles import budget
from protest_dispatch.errors import ConfigError
from protest_dispatch.settings.config import Config
from protest_dispatch.settings.sender import format_from, parse_from
from protest_dispatch.text import first_invisible

ADDRESS = "ana@example.org"


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ('Doe, "Ana" <ana@example.org>', 'Doe, "Ana"'),
        ('"Doe, Ana" <ana@example.org>', "Doe, Ana"),
        ('"Ana \\"Red\\" Doe" <ana@example.org>', 'Ana "Red" Doe'),
        ("J. R. Doe <ana@example.org>", "J. R. Doe"),
        ("Ana Doe (Amnesty) <ana@example.org>", "Ana Doe (Amnesty)"),
        ("Ана Бекова <ana@example.org>", "Ана Бекова"),
        ("阿娜 <ana@example.org>", "阿娜"),
        ("  Ana   Example  <ana@example.org>  ", "Ana Example"),
    ],
)
def test_display_names_people_write_are_accepted(value: str, name: str) -> None:
    assert parse_from(value, source="--from") == (name, ADDRESS)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("Ana\r\nBcc: x@example.org <ana@example.org>", "line break"),
        ("Ana <ana@example.org>\nBcc: x@example.org", "line break"),
        ("=?utf-8?q?Bcc=3A_x?= <ana@example.org>", "encoded header word"),
        ("Ana <ana@example.org>, Ben <ben@example.org>", "not of the form"),
        ("Ana <ana@example.org> Ben", "not of the form"),
        ("ana@example.org", "has no name"),
        ('"" <ana@example.org>', "has no name"),
        ('Ana <"a b"@example.org>', "not a single valid email address"),
        ("Ana <ana@example.org", "not of the form"),
    ],
)
def test_anything_but_one_named_mailbox_is_refused(value: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.load(env={}).sender(from_option=value)
    assert says in caught.value.message
    assert caught.value.key == "from"


def _from_header(name: str, address: str) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(display_name=name, addr_spec=address)
    parsed = email.message_from_bytes(bytes(message), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


_NAME_CHARS = st.characters(
    codec="utf-8", exclude_categories=["Cs", "Cc", "Zl", "Zp"], include_characters=',"\\()<>;:@.'
)
_ADDRESSES = st.sampled_from(["ana@example.org", "a.b-c+d@court.example.org", "x@EXAMPLE.org"])


@settings(max_examples=budget(300))
@given(
    name=st.text(_NAME_CHARS, min_size=1, max_size=40),
    address=_ADDRESSES,
    quoted=st.booleans(),
)
def test_an_accepted_from_round_trips_through_a_from_header(
    name: str, address: str, quoted: bool
) -> None:
    value = format_from(name=name, email=address) if quoted else f"{name} <{address}>"
    try:
        sender = Config.load(env={}).sender(from_option=value)
    except ConfigError:
        # invisible and direction-changing characters are refused in every header (text.py)
        acceptable = name.strip() and "=?" not in name and first_invisible(name) is None
        assert not (quoted and acceptable), "RFC 5322 quoting is accepted"
        return
    assert sender is not None
    parsed = _from_header(sender.name, sender.email)
    assert [key.lower() for key in parsed] == ["from"]
    [mailbox] = parsed["From"].addresses
    assert mailbox.addr_spec == sender.email
    # CPython gh-128110: the parser may add a space between adjacent encoded words.
    same = "".join(mailbox.display_name.split()) == "".join(sender.name.split())
    assert same if not sender.name.isascii() else mailbox.display_name == sender.name
    if quoted and "=?" not in name:
        assert sender.name == " ".join(name.split()), "a quoted name comes back as written"
