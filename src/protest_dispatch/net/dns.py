"""Can a domain receive mail? Asked of DNS with dnspython's asyncio resolver.

RFC 5321 section 5.1: mail goes to a domain's MX hosts or, with no MX record, to
its A or AAAA address. RFC 7505: a single MX of preference 0 and exchange "." (a
null MX) says the domain takes no mail. Every answer is untrusted: a time-out,
SERVFAIL, a refusal, a truncated, garbled or implausibly large answer is "could
not check", never an error about the address and never a traceback.
dnspython is imported only when a check runs.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from protest_dispatch.errors import ConfigError
from protest_dispatch.net.dns_proxy import needs_server, through_proxy
from protest_dispatch.net.proxy import Proxy
from protest_dispatch.vocabulary import MailDomain

if TYPE_CHECKING:
    import dns.asyncresolver

DNS_PORT = 53
MAX_RECORDS = 64
"""More records than any mail domain publishes: a larger answer is not believed."""


@dataclass(frozen=True)
class DnsServer:
    host: str
    port: int = DNS_PORT


@dataclass(frozen=True)
class DomainAnswer:
    domain: str
    verdict: MailDomain
    detail: str
    answered: bool
    """Whether a server said anything usable about it (NXDOMAIN and "no such record" count)."""


def parse_server(value: str) -> DnsServer:
    """``HOST[:PORT]``: an IPv4 or IPv6 address (``[::1]:5353``), as a resolver takes it."""
    text = value.strip()
    host, port_text, ok = text, str(DNS_PORT), True
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        ok = text[1:] != host and (rest == "" or rest.startswith(":"))
        port_text = rest[1:] or port_text
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        ok = False
    port = int(port_text) if port_text.isdigit() else 0
    if not ok or not 0 < port < 65536:
        raise ConfigError(
            f"The DNS server {value!r} is not HOST[:PORT] with an IP address, like "
            "127.0.0.1:5353 or [::1]:53.",
            key="dns_server",
        )
    return DnsServer(host=host, port=port)


def make_resolver(
    server: DnsServer | None, *, timeout: float, proxy: Proxy | None = None
) -> dns.asyncresolver.Resolver:
    """The resolver to ask; with ``proxy``, one that asks ``server`` over TCP through it."""
    import dns.asyncresolver
    import dns.resolver

    if proxy is not None and server is None:
        raise needs_server(proxy)

    try:
        resolver = dns.asyncresolver.Resolver(configure=server is None)
    except dns.resolver.NoResolverConfiguration:
        raise ConfigError(
            "This system has no DNS resolver configured (no /etc/resolv.conf nameserver).",
            key="dns_server",
            hint="Name one with --dns-server HOST[:PORT] (PROTEST_DNS_SERVER).",
        ) from None
    if server is not None:
        resolver.nameservers = [server.host]
        resolver.port = server.port
    resolver.lifetime = timeout
    resolver.timeout = timeout
    resolver.cache = None
    if proxy is not None and server is not None:
        return through_proxy(resolver, proxy, server.host)  # type: ignore[no-any-return]
    return resolver


async def check_domains(
    domains: Iterable[str],
    *,
    resolver: dns.asyncresolver.Resolver,
    concurrency: int,
    timeout: float,
) -> dict[str, DomainAnswer]:
    """Each domain once, ``concurrency`` at a time, each within ``timeout`` seconds."""
    gate = asyncio.Semaphore(concurrency)

    async def one(domain: str) -> DomainAnswer:
        async with gate:
            try:
                return await asyncio.wait_for(_check(domain, resolver), timeout)
            except TimeoutError:
                return _unchecked(domain, f"no answer within {timeout:g} s")

    answers = await asyncio.gather(*(one(d) for d in sorted(set(domains))))
    return {a.domain: a for a in answers}


def _unchecked(domain: str, why: str, *, answered: bool = False) -> DomainAnswer:
    return DomainAnswer(domain, MailDomain.UNCHECKED, why, answered)


async def _check(domain: str, resolver: dns.asyncresolver.Resolver) -> DomainAnswer:
    import dns.exception
    import dns.name
    import dns.resolver

    try:
        name = dns.name.from_text(domain)  # absolute: no search list is tried
        mx = await _records(resolver, name, "MX")
        if mx is None:
            return DomainAnswer(domain, MailDomain.NO_SUCH_DOMAIN, "no such domain", True)
        if mx:
            if len(mx) == 1 and str(mx[0].exchange) == "." and mx[0].preference == 0:
                return DomainAnswer(domain, MailDomain.NULL_MX, "it publishes a null MX", True)
            return DomainAnswer(domain, MailDomain.ACCEPTS_MAIL, f"{len(mx)} MX record(s)", True)
        for kind in ("A", "AAAA"):
            found = await _records(resolver, name, kind)
            if found:
                return DomainAnswer(domain, MailDomain.ACCEPTS_MAIL, f"no MX, an {kind}", True)
        return DomainAnswer(domain, MailDomain.NO_MAIL_HOST, "no MX, A or AAAA record", True)
    except _TooLarge:
        return _unchecked(domain, "the answer was implausibly large", answered=True)
    except _Truncated:
        return _unchecked(domain, "the answer came truncated, even over TCP", answered=True)
    except dns.resolver.LifetimeTimeout:
        return _unchecked(domain, "no answer in time")
    except dns.resolver.NoNameservers as exc:
        return _unchecked(domain, f"the server failed or refused ({_first_error(exc)})")
    except (dns.exception.DNSException, OSError, ValueError, EOFError) as exc:
        return _unchecked(domain, f"a broken answer ({type(exc).__name__})")


class _TooLarge(Exception):
    pass


class _Truncated(Exception):
    """TC still set after dnspython's retry over TCP: an empty answer there proves nothing."""


async def _records(resolver: dns.asyncresolver.Resolver, name: Any, kind: str) -> list[Any] | None:
    """The records of one type; [] when there are none, None when the domain does not exist."""
    import dns.flags
    import dns.resolver

    try:
        answer = await resolver.resolve(name, kind, search=False, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return None
    if answer.response.flags & dns.flags.TC:
        raise _Truncated
    if answer.rrset is None:
        return []
    if len(answer.rrset) > MAX_RECORDS:
        raise _TooLarge
    return list(answer.rrset)


def _first_error(exc: Any) -> str:
    errors = exc.kwargs.get("errors") or []
    for error in errors:
        if len(error) >= 4 and error[3] is not None:
            return (str(error[3]) or type(error[3]).__name__)[:80]
    return "no usable answer"
