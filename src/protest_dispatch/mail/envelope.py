"""What goes on the MAIL, RCPT and EHLO lines, checked before anything is sent."""

from __future__ import annotations

import re
from collections.abc import Sequence

from protest_dispatch.addresses import mailbox
from protest_dispatch.errors import ConfigError
from protest_dispatch.text import ANY_CONTROL

_PLAIN_ADDRESS = re.compile(r"[^@,;:()\[\]\\]+@[^@,;:()\[\]\\]+")  # no lists, comments, groups
_UNSAFE_IN_ADDRESS = re.compile(r"[\s<>\"]")
_LINE_ENDINGS = re.compile(rb"\r\n|\r|\n")
_DNS_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*")


def checked_helo_name(name: str) -> str:
    """The EHLO argument as an ASCII domain (IDNA for non-ASCII), or ConfigError."""
    candidate = name.strip()
    try:
        ascii_name = candidate.encode("idna").decode("ascii") if candidate else ""
    except UnicodeError:
        ascii_name = ""
    if not _DOMAIN.fullmatch(ascii_name) or len(ascii_name) > 253:
        raise ConfigError(
            f"The HELO name {name!r} is not a valid domain name.",
            hint="It should be the domain of the sender's email address, e.g. example.org.",
        )
    return ascii_name


def address_problem(address: str) -> str | None:
    """Why ``address`` cannot go on a MAIL or RCPT line exactly as given, if it cannot."""
    if not address or "@" not in address:
        return "it is not an email address"
    if _UNSAFE_IN_ADDRESS.search(address) or ANY_CONTROL.search(address):
        return "it contains spaces, quotes, angle brackets or control characters"
    if not _PLAIN_ADDRESS.fullmatch(address):
        return "it is not a plain address of the form name@domain"
    return None


def unique_copies(to: str, copies: Sequence[str]) -> list[str]:
    """Copies in order, without the To or repeats: one RCPT per mailbox, one letter each."""
    seen = {mailbox(to)}
    unique: list[str] = []
    for copy in copies:
        if mailbox(copy) not in seen:
            seen.add(mailbox(copy))
            unique.append(copy)
    return unique


def wire_size(data: bytes) -> int:
    """Octets as transmitted with CRLF line endings (RFC 1870), for the SIZE parameter."""
    normalized = _LINE_ENDINGS.sub(b"\r\n", data)
    return len(normalized) + (0 if normalized.endswith(b"\r\n") else 2)
