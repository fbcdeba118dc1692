"""The campaign file's field rules, each a plain function the models (and the sender's
settings, and init) check a value with: addresses, names, phones, postal addresses.

Everything that can reach a mail header is checked here, once, so the message
builder can trust its input: addresses are bare addresses, header texts carry no
line breaks and no RFC 2047 encoded words (CVE-2024-6923 turned those into
injected headers on unpatched Pythons).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta
from datetime import datetime as datetime_type
from typing import Any

from protest_dispatch.campaign.countries import is_country_code
from protest_dispatch.campaign.hours import parse_office_hours
from protest_dispatch.text import (
    ANY_CONTROL,
    TERMINAL_CONTROL,
    codepoint,
    first_invisible,
    first_override,
    visible,
)

MAX_SUBJECT = 250
MAX_NAME = 200

MAX_LOCAL_PART = 64  # RFC 5321 4.5.3.1.1: servers may refuse a longer one
MIN_PHONE_DIGITS = 8
MAX_PHONE_DIGITS = 15  # E.164

_SLUG = re.compile(r"[a-z0-9-]+")
# "+", then digits with spaces, dashes, dots or parentheses between them, then an
# optional extension: "+7 7172 747570", "+44 (20) 7946-0000 ext. 12". Linear to match,
# and only tried on at most MAX_PHONE_CHARS characters.
_PHONE = re.compile(r"\+ ?\(?[0-9][0-9 ()./-]*(?:(?:ext\.?|x) ?[0-9]{1,6})?", re.IGNORECASE)
MAX_PHONE_CHARS = 40
MAX_ADDRESS_LINES = 8
MAX_ADDRESS_LINE = 60  # what fits a window envelope's address field
_PHONE_EXTENSION = re.compile(r"\s*(?:ext\.?|x)\s*[0-9]{1,6}$", re.IGNORECASE)


class FieldError(ValueError):
    """A rule about the whole target that one field can fix, so messages can name it."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def header_safe(value: str) -> str:
    """Refuse what could break out of a header: line breaks, controls, encoded words."""
    if "\r" in value or "\n" in value:
        raise ValueError("must be on one line: it contains a line break")
    hidden = first_invisible(value.replace("\t", " "))
    if hidden is not None:
        raise ValueError(_invisible_message(hidden))
    if "=?" in value:
        raise ValueError(
            "contains '=?', which mail programs decode as an encoded header word; "
            "write the text plainly"
        )
    return value


def _invisible_message(char: str) -> str:
    if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
        kind = "the control character"
    else:
        kind = "the invisible or direction-changing character"
    return (
        f"contains {kind} {codepoint(char)}, which would make it read differently from "
        "what it is; delete it (retype the text if you cannot see it)"
    )


def printable(value: str) -> str:
    """Text shown in previews and letters: lines and tabs, no controls, no overrides."""
    found = TERMINAL_CONTROL.search(value)
    if found:
        raise ValueError(
            f"contains the control character U+{ord(found.group()):04X} "
            "(terminal escape codes and the like are not allowed)"
        )
    override = first_override(value)
    if override is not None:
        raise ValueError(_invisible_message(override))
    return value


def shown(text: str) -> str:
    """Untrusted text made safe to quote in a message: controls and invisibles escaped."""
    return visible(ANY_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text))


def single_spaced(value: str) -> str:
    """One space between words: a display name's runs of spaces collapse in mail readers."""
    return " ".join(value.split())


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")


# email_validator.SPECIAL_USE_DOMAIN_NAMES, copied so that importing the library (20 ms)
# waits until an address needs it; tests/test_model.py checks the two stay equal.
SPECIAL_USE_DOMAINS = ("arpa", "invalid", "local", "localhost", "onion", "test")


def _plainly_valid(value: str) -> str | None:
    """The address as email-validator would give it, for the common plain ASCII case.

    email-validator costs ~75 microseconds an address, which was most of loading a
    campaign of thousands; this accepts only a subset it accepts unchanged but for
    the domain's case (tests/test_model.py holds the two to the same answers), and
    leaves everything else to it.
    """
    if len(value) > 254 or not _PLAIN_EMAIL.fullmatch(value):
        return None
    local, _, domain = value.rpartition("@")
    domain = domain.lower()
    if len(local) > 64 or "xn--" in domain or "--" in domain:
        return None
    if any(domain == d or domain.endswith("." + d) for d in SPECIAL_USE_DOMAINS):
        return None
    return f"{local}@{domain}"


YAML_BOOLEAN_HINT = (
    "YAML reads a bare yes, no, on or off (or Yes, NO, Off...) as true or false; put the value "
    'in quotes, like "NO" (Norway)'
)


def email_address(value: object) -> str:
    """One bare address: no display name, no list, no quoted tricks."""
    if isinstance(value, bool):
        raise ValueError(f"must be an email address, not {str(value).lower()}: {YAML_BOOLEAN_HINT}")
    if not isinstance(value, str):
        raise ValueError("must be an email address written as text, like name@example.org")
    header_safe(value)
    local = value.strip().rpartition("@")[0]
    if len(local) > MAX_LOCAL_PART:
        raise ValueError(
            f"has {len(local)} characters before the '@'; mail servers may refuse more than "
            f"{MAX_LOCAL_PART} (RFC 5321), so check the address with its owner"
        )
    plain = _plainly_valid(value.strip())
    if plain is not None:
        return plain
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(
            value.strip(),
            check_deliverability=False,
            allow_smtputf8=False,
            allow_display_name=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
        )
    except EmailNotValidError as exc:
        raise ValueError(f"is not a single valid email address ({exc})") from None
    return checked.ascii_email or checked.normalized


def slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise ValueError(
            "must use only lower-case letters a-z, digits and '-', like 'supreme-court'"
        )
    return value


def country_code(value: object) -> str:
    if isinstance(value, bool):
        raise ValueError(
            f"must be a two-letter country code, not true or false: {YAML_BOOLEAN_HINT}"
        )
    if isinstance(value, str) and value.strip().upper() == "UK":
        raise ValueError("'UK' is not an ISO 3166-1 code: the United Kingdom is GB")
    if not isinstance(value, str) or not is_country_code(value.strip().upper()):
        raise ValueError("must be a two-letter ISO 3166-1 country code such as GB, DE or KZ")
    return value.strip().upper()


def phone_number(value: object) -> str:
    """E.164-like: "+", the country code and 8 to 15 digits, any common separators."""
    expected = (
        'must be an international phone number: "+", the country code, then the number, '
        'like "+7 7172 747570" or "+44 20 7946-0000" (spaces, dashes and parentheses may '
        "separate the digits; write it in quotes)"
    )
    if not isinstance(value, str):
        raise ValueError(expected)
    number = value.strip()
    if len(number) > MAX_PHONE_CHARS or not _PHONE.fullmatch(number):
        raise ValueError(expected)
    digits = sum(c.isdigit() for c in _PHONE_EXTENSION.sub("", number))
    if not MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS:
        raise ValueError(
            f"has {digits} digits; an international number has {MIN_PHONE_DIGITS} to "
            f"{MAX_PHONE_DIGITS} with its country code, {expected.removeprefix('must be ')}"
        )
    return number


def postal_address(value: object) -> str:
    """A postal address as it goes on an envelope: lines, nothing hidden, nothing too long.

    Each line is trimmed and blank lines are dropped; a control, invisible or
    direction-changing character (which could make the address read as another, or
    hide data on the envelope) is refused, as in header texts.
    """
    if not isinstance(value, str):
        raise ValueError(
            "must be text: the address's lines, one per line (in YAML, after 'postal_address: |')"
        )
    lines = [line.strip() for line in value.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        raise ValueError("is empty; give the address's lines or leave the key out")
    for number, line in enumerate(lines, start=1):
        hidden = first_invisible(line.replace("\t", " "))
        if hidden is not None:
            raise ValueError(f"line {number} {_invisible_message(hidden)}")
        if len(line) > MAX_ADDRESS_LINE:
            raise ValueError(
                f"line {number} has {len(line)} characters; an envelope's address lines hold "
                f"at most {MAX_ADDRESS_LINE}, so split it"
            )
    if len(lines) > MAX_ADDRESS_LINES:
        raise ValueError(
            f"has {len(lines)} lines; an envelope's address window holds at most "
            f"{MAX_ADDRESS_LINES}"
        )
    return "\n".join(" ".join(line.split()) for line in lines)


def template_name(value: str) -> str:
    if not value.endswith((".md.j2", ".txt.j2")):
        raise ValueError("must name a letter file ending in .md.j2 or .txt.j2")
    return value


def timezone_name(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be a time zone name like Asia/Almaty or Europe/London") from None
    return value


_PUBLIC_KEY = re.compile(r"RW[A-Za-z0-9+/]{54}")  # base64 of "Ed", 8-byte id, 32-byte key


def public_key_text(value: str) -> str:
    """A minisign public key as its base64 line; checked fully where it is used."""
    if not _PUBLIC_KEY.fullmatch(value):
        raise ValueError(
            "must be a minisign public key: the line of 56 characters starting 'RW' that "
            "'protest keygen' printed (or the second line of a minisign .pub file)"
        )
    return value


def update_url(value: str) -> str:
    """Where updates come from: HTTPS, or plain HTTP to this machine only (tests)."""
    from urllib.parse import urlsplit

    printable(value)
    parts = urlsplit(value)
    loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
    if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        raise ValueError("must be an https:// address of the campaign archive")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold a user name or password")
    return value


class ItemError(ValueError):
    """A rule about one item of a list, so messages can point at its line."""

    def __init__(self, message: str, *, index: int) -> None:
        super().__init__(message)
        self.index = index


MAX_CLOSED = 2000
"""Characters of a campaign's ``closed`` text, which every cron job prints."""
MAX_ALTERNATIVES = 20
"""Alternatives in one ``choose`` block, and subjects in one subject list."""


def subjects(value: Any) -> str | tuple[str, ...]:
    """One subject template, or a list of them of which each sender gets one."""
    if not isinstance(value, list):
        return _subject(value)
    if not value:
        raise ValueError("is an empty list; give one subject, or a list of subjects")
    if len(value) > MAX_ALTERNATIVES:
        raise ValueError(f"lists {len(value)} subjects; at most {MAX_ALTERNATIVES} are allowed")
    checked = []
    for index, item in enumerate(value):
        try:
            checked.append(_subject(item))
        except ValueError as exc:
            raise ItemError(str(exc), index=index) from None
    return tuple(checked)


def _subject(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError(f"must be text, not {str(value).lower()}: {YAML_BOOLEAN_HINT}")
    if not isinstance(value, str):
        raise ValueError("must be text (put it in quotes), or a list of texts")
    if not value.strip():
        raise ValueError("must not be empty")
    return header_safe(value.strip())


def office_hours(value: str) -> str:
    parse_office_hours(value)
    return value


_DURATION = re.compile(r"(?:(\d{1,3})d)?(?:(\d{1,4})h)?(?:(\d{1,6})m)?")
MAX_SPREAD = timedelta(days=7)


def duration(value: Any) -> timedelta:
    """``3h``, ``90m``, ``1h30m``, ``2d``: a span of time written the way people write it."""
    text = value.strip().replace(" ", "") if isinstance(value, str) else None
    match = _DURATION.fullmatch(text or "") if text else None
    if match is None:
        raise ValueError(
            'must be a duration like "3h", "90m", "1h30m" or "2d" (days, hours, minutes)'
        )
    days, hours, minutes = (int(group or 0) for group in match.groups())
    span = timedelta(days=days, hours=hours, minutes=minutes)
    if not timedelta(0) < span <= MAX_SPREAD:
        raise ValueError(f"must be longer than 0 and at most {MAX_SPREAD.days} days")
    return span


def iso_date(value: Any) -> date:
    """An ISO date (2026-03-01): YAML reads it as a date; quoted, it is text."""
    if isinstance(value, date) and not isinstance(value, datetime_type):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError("must be a date written as YYYY-MM-DD, like 2026-03-01 (in UTC)")
