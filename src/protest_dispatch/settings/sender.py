"""``Name <address>`` as RFC 5322 writes a mailbox, parsed by the standard library.

Quoted names with commas or escaped quotes (``"Doe, \\"Ana\\"" <ana@example.org>``)
and names in any script are accepted; line breaks, control characters, encoded
words and anything but exactly one mailbox are refused.
"""

from __future__ import annotations

from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Any

from protest_dispatch.errors import ConfigError

_HINT = 'Write it like "Your Name <you@example.org>" (quote a name with a comma: "Doe, Ana").'


def format_from(*, name: str, email: str) -> str:
    """``Name <address>``, quoting the name where RFC 5322 needs it (``"Doe, Jane"``)."""
    local, _, domain = email.rpartition("@")
    return str(Address(display_name=name, username=local, domain=domain))


def parse_from(value: str, *, source: str) -> tuple[str, str]:
    """The display name and the address of one mailbox; names in any script are fine.

    An RFC 5322 mailbox means what the RFC says (``"Doe, Ana" <a@example.org>`` is
    ``Doe, Ana``). What people type that the RFC does not allow, such as
    ``Doe, "Ana" <a@example.org>`` or ``J. Doe <j@example.org>``, is taken as
    plain text before the final ``<address>``; the header writer quotes it.
    """
    from protest_dispatch.campaign.fields import email_address, header_safe

    try:
        header_safe(value)
    except ValueError as exc:
        raise ConfigError(f"The sender from {source} {exc}.", key="from", hint=_HINT) from None
    found = _mailbox(value.strip()) or _typed(value.strip())
    if found is None:
        raise ConfigError(
            f"The sender from {source} is not of the form 'Name <address>': {value!r}.",
            key="from",
            hint=_HINT,
        )
    try:
        address = email_address(found[1])
    except ValueError as exc:
        raise ConfigError(
            f"The sender's address from {source} {exc}.", key="from", hint=_HINT
        ) from None
    name = " ".join(found[0].split())
    if not name:
        raise ConfigError(
            f"The sender from {source} has no name; letters are signed with it.",
            key="from",
            hint=f'Write it like "Your Name <{address}>".',
        )
    return name, address


def _mailbox(value: str) -> tuple[str, str] | None:
    """One RFC 5322 mailbox without defects, by the standard library's parser."""
    from email._header_value_parser import get_mailbox

    try:
        mailbox, rest = get_mailbox(value)
    except (HeaderParseError, IndexError):
        return None
    if rest or mailbox.all_defects or _has_comment(mailbox):
        return None  # a comment, "Ana (Amnesty) <...>", would vanish from the name
    return mailbox.display_name or "", mailbox.addr_spec


def _has_comment(token: Any) -> bool:
    if getattr(token, "token_type", None) == "comment":
        return True
    return isinstance(token, list) and any(_has_comment(part) for part in token)


def _typed(value: str) -> tuple[str, str] | None:
    """``any text <address>``: the text is the name, as long as it holds no ``<`` or ``>``."""
    before, bracket, after = value.rpartition("<")
    if not bracket or not after.endswith(">") or any(c in before + after[:-1] for c in "<>"):
        return None
    return before, after[:-1].strip()
