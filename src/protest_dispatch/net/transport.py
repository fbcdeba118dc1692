"""httpx2 transports whose connections open the way the ``proxy`` setting says.

For the OAuth endpoints, campaign downloads, and any HTTPS request to come. httpx2
could take a SOCKS proxy itself, but through a second SOCKS implementation (socksio)
and with proxies from the environment mixed in; these transports open every
proxied connection with :mod:`net.connect`, so HTTP fails closed exactly as SMTP and
IMAP do (:class:`ProxyUnavailableError`, exit 75, never a direct attempt). A host on
this machine, or every host when no proxy is set, is reached as httpx2 always does.
TLS stays httpx2's, verified against the URL's host name with ``verify``.

Use them with ``trust_env=False`` on the client, so that ``HTTPS_PROXY`` and friends
cannot mount another way out beside the transport::

    httpx2.Client(transport=http_transport(proxy, verify=ctx), trust_env=False)
    httpx2.AsyncClient(transport=async_http_transport(proxy, verify=ctx), trust_env=False)
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from protest_dispatch.net.connect import open_connection, open_proxied
from protest_dispatch.net.proxy import Proxy, route
from protest_dispatch.vocabulary import Route

if TYPE_CHECKING:
    import httpx2

DEFAULT_CONNECT_TIMEOUT = 30.0


def http_transport(proxy: Proxy | None, *, verify: ssl.SSLContext) -> httpx2.HTTPTransport:
    """A blocking transport (``httpx2.Client``) that goes through ``proxy``."""
    import httpcore2
    import httpx2

    transport = httpx2.HTTPTransport(verify=verify, trust_env=False)
    # httpx2 takes no network backend; its connection pool does.
    transport._pool = httpcore2.ConnectionPool(
        ssl_context=verify, network_backend=_sync_backend(proxy)
    )
    return transport


def async_http_transport(
    proxy: Proxy | None, *, verify: ssl.SSLContext
) -> httpx2.AsyncHTTPTransport:
    """An asyncio transport (``httpx2.AsyncClient``) that goes through ``proxy``."""
    import httpcore2
    import httpx2

    transport = httpx2.AsyncHTTPTransport(verify=verify, trust_env=False)
    transport._pool = httpcore2.AsyncConnectionPool(
        ssl_context=verify, network_backend=_async_backend(proxy)
    )
    return transport


def _sync_backend(proxy: Proxy | None) -> Any:
    import httpcore2
    from httpcore2._backends.sync import SyncStream  # what httpcore2's own backend returns

    class Routed(httpcore2.SyncBackend):
        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Iterable[Any] | None = None,
        ) -> Any:
            if proxy is None or route(proxy, host) is not Route.PROXY:
                return super().connect_tcp(host, port, timeout, local_address, socket_options)
            sock = open_connection(proxy, host, port, timeout=timeout or DEFAULT_CONNECT_TIMEOUT)
            return SyncStream(sock)

    return Routed()


def _async_backend(proxy: Proxy | None) -> Any:
    import anyio.abc
    import httpcore2
    from httpcore2._backends.anyio import AnyIOStream  # what httpcore2's own backend returns

    class Routed(httpcore2.AnyIOBackend):
        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Iterable[Any] | None = None,
        ) -> Any:
            if proxy is None or route(proxy, host) is not Route.PROXY:
                return await super().connect_tcp(host, port, timeout, local_address, socket_options)
            sock = await open_proxied(proxy, host, port, timeout=timeout or DEFAULT_CONNECT_TIMEOUT)
            return AnyIOStream(await anyio.abc.SocketStream.from_socket(sock))

    return Routed()
