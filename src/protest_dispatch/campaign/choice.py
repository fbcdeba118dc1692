"""The one hash behind every per-sender choice: variants, subjects, the spread, cron's minute.

Its own module, without Jinja2, so that loading a campaign (which checks the
spread) does not load the template machinery.
"""

from __future__ import annotations

import functools
import hashlib

from protest_dispatch.addresses import mailbox

_SEPARATOR = "\x1f"  # cannot occur in a slug or an address, so the parts cannot run together


@functools.lru_cache(maxsize=4096)
def fraction(*, campaign: str, sender: str, target: str, key: str) -> float:
    """A number in [0, 1) fixed by its inputs: the one hash behind every variant.

    SHA-256, not Python's ``hash``: that one changes with every process
    (PYTHONHASHSEED), and the choice must not. The sender counts as their mailbox
    (case-folded, :func:`protest_dispatch.addresses.mailbox`).
    """
    text = _SEPARATOR.join((campaign, mailbox(sender), target, key))
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick(*, campaign: str, sender: str, target: str, key: str, count: int) -> int:
    """Which of ``count`` alternatives this sender gets for this target."""
    return int(fraction(campaign=campaign, sender=sender, target=target, key=key) * count)
