"""Addresses in incoming mail, read as addresses: never as substrings, never guessed.

Two rules keep a hostile message from naming the wrong person:

- A header's address comes from the policy-based parser (``email.policy.default``)
  on the raw header, before any RFC 2047 decoding for display. ``getaddresses`` and
  ``parseaddr`` are never used: before 3.11.10 they read
  ``info@ministry.example.com)<attacker@evil.example>`` as the ministry
  (CVE-2023-27043), and decoded display names holding control characters lose
  their address on 3.13. A header the parser calls invalid, or one naming more
  than one mailbox, gives no address at all.
- In free text (a bounce's human-readable notice), addresses are found with a
  bounded pattern and compared whole with :func:`mailbox`, so the notice naming
  ``press-info@court.example.org`` is not about ``info@court.example.org``.
"""

from __future__ import annotations

import email.policy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.errors import InvalidHeaderDefect

from protest_dispatch.addresses import mailbox

_POLICY = email.policy.default.clone(raise_on_defect=False)

_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}"
_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.){1,8}[A-Za-z]{2,63}"
_WORD = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-"
ADDRESS = re.compile(rf"(?<![{_WORD}])({_LOCAL}@{_DOMAIN})(?![A-Za-z0-9-])")
"""An address in running text: each part bounded (RFC 5321 lengths), whole words only."""

FAILURE = re.compile(
    r"\b5\.\d{1,3}\.\d{1,3}\b|\b5[0-5]\d[ -]|"
    r"user unknown|unknown user|no such (?:user|mailbox|recipient|address)|"
    r"does not exist|doesn't exist|mailbox (?:not found|unavailable|is full|full)|"
    r"(?:recipient|address) (?:rejected|not found|unknown)|not a valid (?:recipient|mailbox)|"
    r"(?:could not|cannot|can't|couldn't|was not|wasn't|has not been) (?:be )?delivered|"
    r"undeliverable|delivery (?:has )?failed|failed permanently|(?:could not|couldn't) be found|"
    r"permanent(?:ly)? (?:error|failure|fatal)|account (?:has been )?disabled|over quota|"
    r"does not like recipient|access denied",
    re.I,
)
"""A failure said in words next to an address: an RFC 3463 5.x.x or SMTP 5xx code, or a
phrase mail servers use for a refused recipient. "delivered to maildir" is none of them."""

_NEARBY = 300
"""Characters after an address in which its failure must be stated."""
_SCANNED = 20_000
"""Characters of a notice searched for addresses (the notice is cut there already)."""


@dataclass(frozen=True)
class Sender:
    address: str | None
    """The one mailbox of the header, lower case; None when invalid, absent or several."""
    text: str
    """The header as a person reads it (encoded words decoded): for display only."""


def sender(value: str | None) -> Sender:
    """The mailbox a From header names. May raise on absurd input (5,000 nested
    comments raise RecursionError); the caller's per-message guard takes that."""
    if not value:
        return Sender(None, "")
    try:
        header = _POLICY.header_factory("From", " ".join(value.split()))
    except ValueError:  # a display name that decodes to CR or LF: refused by the parser
        return Sender(None, " ".join(value.split()))
    text = " ".join(str(header).split())
    if any(isinstance(defect, InvalidHeaderDefect) for defect in header.defects):
        return Sender(None, text)
    found = [a.addr_spec for a in header.addresses if "@" in a.addr_spec and a.domain]
    if len(found) != 1 or len(header.addresses) != 1:
        return Sender(None, text)
    return Sender(found[0].lower(), text)


def addresses_in(text: str) -> Iterator[re.Match[str]]:
    """Every address in ``text`` (group 1), whole: never a piece of a longer one."""
    return ADDRESS.finditer(text)


def failed_near(text: str, address: str) -> tuple[int, int] | None:
    """Where ``text`` names ``address`` with a failure stated beside it, or None.

    Beside means from the start of its line (from the address itself when another
    address comes before it on that line) to the end of its paragraph, at most
    :data:`_NEARBY` characters on, and not past the next other address: "<b@x>:
    delivered" next to "<a@x>: 550 5.1.1" is no failure of b.
    """
    wanted = mailbox(address)
    found = list(addresses_in(text[:_SCANNED]))
    for index, hit in enumerate(found):
        if mailbox(hit.group(1)) != wanted:
            continue
        others_after = (o.start() for o in found[index + 1 :] if mailbox(o.group(1)) != wanted)
        others_before = (o.end() for o in found[:index] if mailbox(o.group(1)) != wanted)
        paragraph_end = text.find("\n\n", hit.end())
        end = min(
            hit.end() + _NEARBY,
            len(text) if paragraph_end < 0 else paragraph_end,
            next(others_after, len(text)),
        )
        line = max(text.rfind("\n", 0, hit.start()), 0)
        start = hit.start() if max(others_before, default=-1) > line else line
        if FAILURE.search(text, start, end):
            return hit.start(), end
    return None
