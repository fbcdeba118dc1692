"""``validate --check-domains``: does every domain a letter goes to accept mail?

Every distinct domain of every To, copy and ``reply_to`` is asked once (net/dns.py).
A domain that cannot receive mail is an error naming each target and line that
uses it; "could not check" and free mail for an institution are warnings. When
no server answered at all, the check itself failed: try later (exit 75).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass

from protest_dispatch.campaign.loading import LoadedCampaign
from protest_dispatch.commands.session import Session
from protest_dispatch.errors import DnsUnavailableError, Problem
from protest_dispatch.net.dns import (
    DnsServer,
    DomainAnswer,
    check_domains,
    make_resolver,
    parse_server,
)
from protest_dispatch.net.proxy import Proxy
from protest_dispatch.vocabulary import MailDomain

CONCURRENCY = 16
TIMEOUT = 5.0

FREE_MAIL = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "ymail.com",
        "outlook.com", "hotmail.com", "hotmail.co.uk", "live.com", "msn.com", "aol.com",
        "icloud.com", "me.com", "mail.com", "gmx.com", "gmx.de", "gmx.net", "web.de",
        "proton.me", "protonmail.com", "zoho.com", "yandex.ru", "yandex.com", "ya.ru",
        "mail.ru", "bk.ru", "inbox.ru", "list.ru", "rambler.ru", "qq.com", "163.com",
        "126.com", "rediffmail.com",
    }
)  # fmt: skip
"""Free-mail providers: anyone can open an account there, in any official's name."""

_INSTITUTION = re.compile(
    r"ministr|court|embass|consul|parliament|senat|government|president|prosecut|"
    r"police|judge|justice|office|department|agency|commission|council|administration|"
    r"authorit|mayor|governor|tribunal|"
    r"министер|суд|посольств|прокурат|администрац|правительств|президент|акимат",
    re.IGNORECASE,
)

_ERRORS = {
    MailDomain.NO_SUCH_DOMAIN: "does not exist (NXDOMAIN)",
    MailDomain.NULL_MX: "takes no mail: it publishes a null MX (RFC 7505)",
    MailDomain.NO_MAIL_HOST: "has no MX, A or AAAA record, so no server takes its mail",
}


@dataclass(frozen=True)
class Use:
    """One place an address with the domain is used."""

    target: str | None
    field: str
    line: int | None


@dataclass(frozen=True)
class DomainReport:
    answers: dict[str, DomainAnswer]
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]

    @property
    def unchecked(self) -> int:
        return sum(a.verdict == MailDomain.UNCHECKED for a in self.answers.values())


def uses(loaded: LoadedCampaign) -> dict[str, list[Use]]:
    """Each domain with every place it is used, in file order."""
    found: dict[str, list[Use]] = {}
    info = loaded.campaign.campaign

    def add(address: str, use: Use) -> None:
        found.setdefault(address.rpartition("@")[2].lower(), []).append(use)

    for i, address in enumerate(info.cc):
        add(address, Use(None, f"campaign.cc[{i + 1}]", loaded.lines.get(("campaign", "cc", i))))
    if info.reply_to:
        add(
            info.reply_to,
            Use(None, "campaign.reply_to", loaded.lines.get(("campaign", "reply_to"))),
        )
    for index, target in enumerate(loaded.campaign.targets):
        if target.email:
            add(
                target.email, Use(target.id, "email", loaded.lines.get(("targets", index, "email")))
            )
        for i, address in enumerate(target.cc):
            line = loaded.lines.get(("targets", index, "cc", i))
            add(address, Use(target.id, f"cc[{i + 1}]", line))
    return found


def check_session_domains(*, session: Session, dns_server: str | None) -> DomainReport:
    """The check as ``validate`` runs it: the resolver, time-out and proxy from the settings.

    With a proxy the questions go over TCP through it to the named ``dns_server``
    (net/dns_proxy.py), never to the system's resolver directly.
    """
    settings = session.config.with_options(dns_server=dns_server).settings
    value, timeout = settings.dns_server, settings.dns_timeout or TIMEOUT
    return check_campaign_domains(
        loaded=session.loaded,
        server=None if not value else parse_server(value),
        timeout=timeout,
        proxy=session.config.proxy(),
    )


def check_campaign_domains(
    *,
    loaded: LoadedCampaign,
    server: DnsServer | None,
    concurrency: int = CONCURRENCY,
    timeout: float = TIMEOUT,
    proxy: Proxy | None = None,
) -> DomainReport:
    """Raises DnsUnavailableError when no server answered for any domain."""
    where = uses(loaded)
    resolver = make_resolver(server, timeout=timeout, proxy=proxy)
    answers = asyncio.run(
        check_domains(where, resolver=resolver, concurrency=concurrency, timeout=timeout)
    )
    if answers and not any(a.answered for a in answers.values()):
        named = "the system's resolver" if server is None else f"{server.host} port {server.port}"
        if proxy is not None:
            named += f", asked through the proxy {proxy}"
        raise DnsUnavailableError(
            f"No DNS server answered ({named}): none of the {len(answers)} domain(s) "
            "could be checked.",
            hint="Check the network, or name a resolver with --dns-server HOST[:PORT], "
            "then try again.",
        )
    errors: list[Problem] = []
    warnings: list[Problem] = list(_free_mail(loaded))
    for domain, answer in answers.items():
        places = where[domain]
        if answer.verdict in _ERRORS:
            errors.append(
                _problem(
                    loaded,
                    domain,
                    places,
                    f"{_ERRORS[answer.verdict]}; no "
                    "letter to it can arrive: check the address with its source",
                )
            )
        elif answer.verdict == MailDomain.UNCHECKED:
            warnings.append(_problem(loaded, domain, places, f"could not check ({answer.detail})"))
    return DomainReport(answers=answers, errors=tuple(errors), warnings=tuple(warnings))


def _problem(loaded: LoadedCampaign, domain: str, places: list[Use], what: str) -> Problem:
    first, rest = places[0], places[1:]
    also = ", ".join(_place(u) for u in rest[:5]) + (
        f" and {len(rest) - 5} more" if len(rest) > 5 else ""
    )
    return Problem(
        file=loaded.path,
        line=first.line,
        target=first.target,
        field=first.field,
        others=len({u.target for u in rest} - {first.target}),
        message=f"the domain {domain} {what}" + (f" (also used by {also})" if rest else ""),
    )


def _place(use: Use) -> str:
    who = "the campaign" if use.target is None else f"target '{use.target}'"
    return f"{who} {use.field}" + (f" on line {use.line}" if use.line else "")


def _free_mail(loaded: LoadedCampaign) -> Iterator[Problem]:
    for index, target in enumerate(loaded.campaign.targets):
        if not _INSTITUTION.search(f"{target.name} {target.role or ''}"):
            continue
        addresses = [
            ("email", target.email),
            *((f"cc[{i + 1}]", a) for i, a in enumerate(target.cc)),
        ]
        for field, address in addresses:
            domain = (address or "").rpartition("@")[2].lower()
            if domain in FREE_MAIL:
                key = ("targets", index, "email" if field == "email" else "cc")
                yield Problem(
                    file=loaded.path,
                    line=loaded.lines.get(key),
                    target=target.id,
                    field=field,
                    message=f"{address} is free mail ({domain}) for an institution; official "
                    "bodies rarely use free mail, so check the address against its source",
                )
