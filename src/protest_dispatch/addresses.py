"""When two addresses are the same mailbox: one rule for copies, plans and bounces.

The domain is case-insensitive by DNS, and a Unicode domain (U-labels) is the same as
its punycode (A-labels): it is compared in A-labels, as IDNA 2008 with UTS 46 mapping
(the ``idna`` package, which email-validator uses too) writes it. The local part is
case-sensitive in RFC 5321, but no provider a campaign writes to treats ``MFA@`` and
``mfa@`` as two people, and Postfix folds SMTPUTF8 local parts in full: it is compared
after Unicode NFC normalisation and full case folding (``str.casefold``, not
``str.lower``, which differ for ``ß``, ``ς`` and ligatures). Provider-specific aliases
(``name+tag@``, dots in Gmail local parts) are *not* folded: whether they reach one
mailbox depends on the provider, and folding them could merge two real people.
"""

from __future__ import annotations

import unicodedata


def mailbox(address: str) -> str:
    """The key under which two addresses count as the same mailbox."""
    local, at, domain = address.rpartition("@")
    if not at:
        return _folded(address)
    return f"{_folded(local)}@{_domain(domain)}"


def same_mailbox(one: str, other: str) -> bool:
    return mailbox(one) == mailbox(other)


def _folded(text: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


def _domain(domain: str) -> str:
    if domain.isascii():
        return domain.lower()
    import idna  # only for a Unicode domain: its tables cost start-up time

    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:  # not a valid IDN: still one key for its case variants
        return _folded(domain)
