"""The campaign file's contract, as pydantic models.

Everything that can reach a mail header is checked here, once, so the message
builder can trust its input: addresses are bare addresses, header texts carry no
line breaks and no RFC 2047 encoded words (CVE-2024-6923 turned those into
injected headers on unpatched Pythons).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from protest_dispatch.campaign.countries import is_country_code

MAX_RECIPIENTS = 100
MAX_SUBJECT = 250
MAX_NAME = 200

_SLUG = re.compile(r"[a-z0-9-]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
# C0 and C1 controls but tab and newline: ESC and CSI sequences would drive the
# activist's terminal when a preview prints the text (clipboard writes, hidden text).
TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_PHONE = re.compile(r"\+?[0-9 ()./-]{3,40}(?:\s*(?:ext\.?|x)\s*[0-9]{1,6})?")


class FieldError(ValueError):
    """A rule about the whole target that one field can fix, so messages can name it."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def header_safe(value: str) -> str:
    """Refuse what could break out of a header: line breaks, controls, encoded words."""
    if "\r" in value or "\n" in value:
        raise ValueError("must be on one line: it contains a line break")
    if _CONTROL.search(value):
        raise ValueError("contains a control character")
    if "=?" in value:
        raise ValueError(
            "contains '=?', which mail programs decode as an encoded header word; "
            "write the text plainly"
        )
    return value


def printable(value: str) -> str:
    """Text shown in previews and letters: lines and tabs, but no control characters."""
    found = TERMINAL_CONTROL.search(value)
    if found:
        raise ValueError(
            f"contains the control character U+{ord(found.group()):04X} "
            "(terminal escape codes and the like are not allowed)"
        )
    return value


def shown(text: str) -> str:
    """Untrusted text made safe to print in a message: every control character escaped."""
    return _ANY_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


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


def email_address(value: Any) -> str:
    """One bare address: no display name, no list, no quoted tricks."""
    if not isinstance(value, str):
        raise ValueError("must be an email address written as text, like name@example.org")
    header_safe(value)
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


def country_code(value: Any) -> str:
    if isinstance(value, str) and value.strip().upper() == "UK":
        raise ValueError("'UK' is not an ISO 3166-1 code: the United Kingdom is GB")
    if not isinstance(value, str) or not is_country_code(value.strip().upper()):
        raise ValueError("must be a two-letter ISO 3166-1 country code such as GB, DE or KZ")
    return value.strip().upper()


def phone_number(value: Any) -> str:
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not _PHONE.fullmatch(value.strip()):
        raise ValueError('must be a phone number like "+7 7172 747570" (write it in quotes)')
    return value.strip()


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


NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Printable = Annotated[str, AfterValidator(printable)]
Slug = Annotated[NonEmpty, StringConstraints(max_length=64), AfterValidator(slug)]
HeaderText = Annotated[NonEmpty, AfterValidator(header_safe)]
Name = Annotated[HeaderText, StringConstraints(max_length=MAX_NAME), AfterValidator(single_spaced)]
Email = Annotated[str, BeforeValidator(email_address)]
Country = Annotated[str, BeforeValidator(country_code)]
Phone = Annotated[str, BeforeValidator(phone_number)]
TemplateName = Annotated[NonEmpty, AfterValidator(template_name), AfterValidator(printable)]
CallScriptName = Annotated[
    NonEmpty, StringConstraints(pattern=r".*\.j2$"), AfterValidator(printable)
]
TimeZone = Annotated[NonEmpty, AfterValidator(timezone_name)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CampaignInfo(Strict):
    id: Slug
    title: Printable | None = None
    subject: HeaderText
    cc: tuple[Email, ...] = ()
    reply_to: Email | None = None


class Target(Strict):
    id: Slug
    name: Name
    role: Printable | None = None
    email: Email | None = None
    cc: tuple[Email, ...] = ()
    phone: Phone | None = None
    country: Country | None = None
    template: TemplateName | None = None
    subject: HeaderText | None = None
    timezone: TimeZone | None = None
    office_hours: Printable | None = None
    call_script: CallScriptName | None = None

    @model_validator(mode="after")
    def _reachable(self) -> Target:
        if self.email is None and self.phone is None:
            raise FieldError("needs an email address or a phone number (or both)", field="email")
        if self.email is not None and self.template is None:
            raise FieldError(
                "has an email address, so it needs a 'template' (a letter in letters/)",
                field="template",
            )
        return self

    @property
    def is_call(self) -> bool:
        """A target without an email is a call to make, never a failed letter."""
        return self.email is None


class Campaign(Strict):
    campaign: CampaignInfo
    targets: tuple[Target, ...] = Field(min_length=1)


class Sender(Strict):
    """Who the letters are from; notes are the sender's own words, not a header."""

    name: Name
    email: Email
    country: Country | None = None
    note: str | None = None

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2]
