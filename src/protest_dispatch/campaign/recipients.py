"""Who a letter goes to: one mailbox once (see :mod:`addresses`), and never more
addresses than providers take."""

from __future__ import annotations

from collections.abc import Sequence

from protest_dispatch.addresses import mailbox

MAX_RECIPIENTS = 100
"""Mail providers refuse a message with more recipients than this."""


def copies(*, to: str, campaign_cc: Sequence[str], target_cc: Sequence[str]) -> tuple[str, ...]:
    """Campaign copies then the target's own, once each (ignoring case), never the To."""
    seen = {mailbox(to)}
    result: list[str] = []
    for address in (*campaign_cc, *target_cc):
        if mailbox(address) not in seen:
            seen.add(mailbox(address))
            result.append(address)
    return tuple(result)


def too_many(count: int) -> str | None:
    """Why a letter to ``count`` addresses cannot go, or None if it can."""
    if count <= MAX_RECIPIENTS:
        return None
    return (
        f"this letter would go to {count} addresses (the target, the campaign's copies, the "
        f"target's own and your copy); mail providers refuse more than {MAX_RECIPIENTS} on "
        "one message, so remove some copies (cc)"
    )
