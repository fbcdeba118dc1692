"""DNS questions through the SOCKS5 proxy: over TCP, to one named server, never directly.

A SOCKS5 proxy carries TCP (Tor carries nothing else), so with a proxy set every
question goes over TCP (RFC 7766) to the DNS server the sender named, through the
proxy; a UDP socket is refused outright, so dnspython cannot fall back to one. The
system's resolver is not used: it is usually an address on the local network, which
a Tor exit cannot reach and which would learn every domain if asked directly. A
server on this machine (a loopback address) is reached directly, like every other.
"""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING, Any

from protest_dispatch.errors import ConfigError
from protest_dispatch.net.connect import open_proxied
from protest_dispatch.net.proxy import Proxy, route
from protest_dispatch.vocabulary import Route

if TYPE_CHECKING:
    import dns.asyncresolver

DEFAULT_TIMEOUT = 5.0


def needs_server(proxy: Proxy) -> ConfigError:
    return ConfigError(
        f"With the proxy {proxy}, --check-domains asks one DNS server of your choice over "
        "TCP through the proxy, and none is named; nothing was looked up (asking the "
        "system's resolver directly would bypass the proxy).",
        key="dns_server",
        hint="Name a public resolver's address with --dns-server (PROTEST_DNS_SERVER), for "
        "example 9.9.9.9 (Quad9) or 1.1.1.1 (Cloudflare).",
    )


def through_proxy(resolver: dns.asyncresolver.Resolver, proxy: Proxy, host: str) -> Any:
    """``resolver`` asking ``host`` over TCP through ``proxy`` (as is, if ``host`` is local)."""
    if route(proxy, host) is not Route.PROXY:
        return resolver
    import dns._asyncio_backend  # dnspython's own asyncio backend, with a proxied connect
    import dns.asyncresolver

    class Proxied(dns._asyncio_backend.Backend):
        async def make_socket(
            self,
            af: int,
            socktype: int,
            proto: int = 0,
            source: Any = None,
            destination: Any = None,
            timeout: float | None = None,
            ssl_context: Any = None,
            server_hostname: str | None = None,
        ) -> Any:
            if socktype != socket.SOCK_STREAM or destination is None or ssl_context:
                raise OSError("only DNS over TCP goes through the proxy")
            sock = await open_proxied(
                proxy, destination[0], destination[1], timeout=timeout or DEFAULT_TIMEOUT
            )
            reader, writer = await asyncio.open_connection(sock=sock)
            return dns._asyncio_backend._StreamSocket(af, reader, writer)  # type: ignore[no-untyped-call]  # dnspython's private class has no hints

    backend = Proxied()

    class TcpThroughProxy(dns.asyncresolver.Resolver):
        async def resolve(self, *args: Any, **kwargs: Any) -> Any:
            kwargs["tcp"] = True
            kwargs["backend"] = backend
            return await super().resolve(*args, **kwargs)

    proxied = TcpThroughProxy(configure=False)
    proxied.nameservers = list(resolver.nameservers)
    proxied.port = resolver.port
    proxied.lifetime = resolver.lifetime
    proxied.timeout = resolver.timeout
    proxied.cache = None
    return proxied
