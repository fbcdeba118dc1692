"""``Name <address>`` as RFC 5322 writes a mailbox, parsed by the standard library.

Quoted names with commas or escaped quotes (``"Doe, \\"Ana\\"" <ana@example.org>``)
and names in any script are accepted; line breaks, control characters, encoded
words and anything but exactly one mailbox are refused.
"""

from __future__ import annotations

from email.errors import HeaderParseError
from email.headerregistry import Address

from protest_dispatch.errors import ConfigError

_HINT = 'Write it like "Your Name <you@example.org>" (quote a name with a comma: "Doe, Ana").'


def format_from(*, name: str, email: str) -> str:
    """``Name <address>``, quoting the name where RFC 5322 needs it (``"Doe, Jane"``)."""
    local, _, domain = email.rpartition("@")
    return str(Address(display_name=name, username=local, domain=domain))


def parse_from(value: str, *, source: str) -> tuple[str, str]:
    """The display name and the address of one mailbox; names in any script are fine."""
    from email._header_value_parser import get_mailbox

    from protest_dispatch.campaign.model import email_address, header_safe

    try:
        header_safe(value)
    except ValueError as exc:
        raise ConfigError(f"The sender from {source} {exc}.", key="from", hint=_HINT) from None
    try:
        mailbox, rest = get_mailbox(value.strip())
    except (HeaderParseError, IndexError):
        mailbox, rest = None, value
    if mailbox is None or rest or mailbox.all_defects:
        raise ConfigError(
            f"The sender from {source} is not of the form 'Name <address>': {value!r}.",
            key="from",
            hint=_HINT,
        )
    try:
        address = email_address(mailbox.addr_spec)
    except ValueError as exc:
        raise ConfigError(
            f"The sender's address from {source} {exc}.", key="from", hint=_HINT
        ) from None
    name = " ".join((mailbox.display_name or "").split())
    if not name:
        raise ConfigError(
            f"The sender from {source} has no name; letters are signed with it.",
            key="from",
            hint=f'Write it like "Your Name <{address}>".',
        )
    return name, address
