"""Addresses that are stand-ins: the reserved example domains of RFC 2606 and RFC 6761.

Mail to them reaches nobody, so a campaign that still holds one was not finished:
``validate`` names each (a warning, since test campaigns use them on purpose).
"""

from __future__ import annotations

from collections.abc import Iterator

from protest_dispatch.campaign.loading import LoadedCampaign
from protest_dispatch.campaign.problems import Where
from protest_dispatch.errors import Problem

EXAMPLE_DOMAINS = ("example.org", "example.com", "example.net", "example")


def is_placeholder(address: str) -> bool:
    domain = address.rpartition("@")[2].lower()
    return any(domain == d or domain.endswith("." + d) for d in EXAMPLE_DOMAINS)


def placeholder_addresses(loaded: LoadedCampaign) -> Iterator[Problem]:
    info = loaded.campaign.campaign
    shared = [("cc", f"cc[{i + 1}]", a) for i, a in enumerate(info.cc)]
    if info.reply_to is not None:
        shared.append(("reply_to", "reply_to", info.reply_to))
    for key, name, address in shared:
        if is_placeholder(address):
            yield _problem(loaded, ("campaign", key), f"campaign.{name}", address, None)
    for index, target in enumerate(loaded.campaign.targets):
        fields = [("email", "email", target.email)] if target.email else []
        fields += [("cc", f"cc[{i + 1}]", a) for i, a in enumerate(target.cc)]
        for key, name, address in fields:
            if address is not None and is_placeholder(address):
                yield _problem(loaded, ("targets", index, key), name, address, target.id)


def _problem(
    loaded: LoadedCampaign,
    where: Where,
    field: str,
    address: str,
    target: str | None,
) -> Problem:
    return Problem(
        file=loaded.path,
        line=loaded.lines.get(where),
        target=target,
        field=field,
        message=f"{address} is a placeholder (example domains reach nobody); replace it "
        "with the real address and write its source beside it",
    )
