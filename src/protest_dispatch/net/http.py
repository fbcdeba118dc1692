"""An httpx2 transport whose connections open the way the ``proxy`` setting says.

For the OAuth endpoints now, and any HTTPS fetch later. httpx2 would take a SOCKS
proxy itself, but through a second SOCKS implementation (socksio) and with proxies
from the environment mixed in; this transport opens every connection with
:func:`net.connect.open_connection`, so HTTP fails closed exactly as SMTP and IMAP do.
TLS is httpx2's, verified against the URL's host name with :mod:`net.tls`'s policy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from protest_dispatch.net.connect import open_connection
from protest_dispatch.net.proxy import Proxy
from protest_dispatch.net.tls import verified_context

if TYPE_CHECKING:
    import httpx2

DEFAULT_CONNECT_TIMEOUT = 30.0


def http_transport(proxy: Proxy | None) -> httpx2.HTTPTransport:
    """A transport for ``httpx2.Client(transport=..., trust_env=False)``.

    ``trust_env=False`` on the client matters: with it, ``HTTPS_PROXY`` and friends
    cannot mount another way out beside this transport.
    """
    import httpcore2
    import httpx2

    context = verified_context(None, key="proxy", where="the system's certificate store")
    transport = httpx2.HTTPTransport(verify=context, trust_env=False)
    # httpx2 has no parameter for the network backend; its pool does.
    transport._pool = httpcore2.ConnectionPool(
        ssl_context=context, network_backend=_routed_backend(proxy)
    )
    return transport


def _routed_backend(proxy: Proxy | None) -> Any:
    import httpcore2
    from httpcore2._backends.sync import SyncStream  # the stream httpcore2's own backend returns

    class RoutedBackend(httpcore2.SyncBackend):
        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Iterable[Any] | None = None,
        ) -> Any:
            try:
                sock = open_connection(
                    proxy, host, port, timeout=timeout or DEFAULT_CONNECT_TIMEOUT
                )
            except TimeoutError as exc:
                raise httpcore2.ConnectTimeout(str(exc)) from exc
            except OSError as exc:
                raise httpcore2.ConnectError(str(exc)) from exc
            return SyncStream(sock)

    return RoutedBackend()
