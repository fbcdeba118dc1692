"""Opening a connection to a server the way the ``proxy`` setting says, failing closed.

Every connection protest makes to another machine starts here (SMTP, IMAP, the OAuth
endpoints, and whatever else connects). Through a proxy the server's *name* goes to
the proxy (SOCKS5 with the name as address type 3, python-socks' ``rdns``), so no
name is resolved on this machine and ``.onion`` hosts work. When the proxy cannot be
reached, breaks off or cannot reach the server, the answer is
:class:`ProxyUnavailableError` (exit 75): never a direct connection instead.
TLS is the caller's, on top of the returned socket, verified against the real name.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

from protest_dispatch.errors import ConfigError, ProxyUnavailableError
from protest_dispatch.net.proxy import Proxy, route
from protest_dispatch.vocabulary import Route

__all__ = ["open_connection", "open_proxied"]

_TOR_PORT_25 = "Tor's exits refuse port 25: use your provider's port 587 (starttls) or 465 (tls)."


def open_connection(proxy: Proxy | None, host: str, port: int, *, timeout: float) -> socket.socket:
    """A connected, blocking TCP socket to ``host:port`` (with ``timeout`` on every call).

    Through ``proxy`` unless :func:`route` says the host is this machine or no proxy is set.
    """
    name = host.strip("[]")
    if route(proxy, host) is not Route.PROXY:
        return socket.create_connection((name, port), timeout=timeout)
    assert proxy is not None
    from python_socks import ProxyType
    from python_socks.sync import Proxy as SocksProxy

    client = SocksProxy(
        ProxyType.SOCKS5, proxy.host, proxy.port, proxy.username, proxy.password, rdns=True
    )
    with failing_closed(proxy, host=name, port=port, timeout=timeout):
        sock = client.connect(name, port, timeout=timeout)
    sock.settimeout(timeout)
    return sock


async def open_proxied(proxy: Proxy, host: str, port: int, *, timeout: float) -> socket.socket:
    """A non-blocking socket to ``host:port`` through ``proxy``, for asyncio (aiosmtplib ``sock=``).

    The caller asks :func:`route` first: this always goes through the proxy.
    """
    from python_socks import ProxyType
    from python_socks.async_.asyncio import Proxy as SocksProxy

    name = host.strip("[]")
    client = SocksProxy(
        ProxyType.SOCKS5, proxy.host, proxy.port, proxy.username, proxy.password, rdns=True
    )
    with failing_closed(proxy, host=name, port=port, timeout=timeout):
        return await client.connect(name, port, timeout=timeout)


@contextlib.contextmanager
def failing_closed(proxy: Proxy, *, host: str, port: int, timeout: float) -> Iterator[None]:
    """python-socks' failures as our errors: a login problem is a setting (exit 2),
    everything else try-later (exit 75)."""
    from python_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError

    where = f"{host}:{port}"
    try:
        yield
    except ProxyConnectionError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise _unavailable(
            proxy, host, port, f"The proxy {proxy} could not be reached ({_tidy(reason)})"
        ) from None
    except ProxyTimeoutError:
        raise _unavailable(
            proxy, host, port, f"The proxy {proxy} did not answer within {timeout:g} s"
        ) from None
    except ProxyError as exc:
        reason = _tidy(str(exc))
        if "authentication" in reason.lower():
            raise _login_refused(proxy, reason) from None
        if exc.error_code is not None:
            raise _unavailable(
                proxy,
                host,
                port,
                f"The proxy {proxy} could not reach {where} ({reason})",
                reached=True,
            ) from None
        raise _unavailable(
            proxy, host, port, f"The proxy {proxy} could not be reached ({reason})"
        ) from None
    except Exception as exc:  # garbage or a hang-up mid-handshake: whatever it was, no connection
        raise _unavailable(
            proxy,
            host,
            port,
            f"The proxy {proxy} could not be reached: it broke off the SOCKS5 handshake "
            f"({_tidy(str(exc)) or type(exc).__name__})",
        ) from None


def _unavailable(
    proxy: Proxy, host: str, port: int, message: str, *, reached: bool = False
) -> ProxyUnavailableError:
    if proxy.tor and port == 25:
        hint = _TOR_PORT_25
    elif reached:
        hint = (
            "Check the server's name and port; if they are right, try again later (a cron "
            "job tries again by itself). Some providers refuse connections from Tor exits."
        )
    elif proxy.tor:
        hint = (
            "Start Tor (for example `sudo systemctl start tor`) and try again; a cron job "
            "tries again by itself."
        )
    else:
        hint = "Check that the proxy is running and the proxy setting, then try again."
    return ProxyUnavailableError(
        f"{message}. Nothing went to {host}:{port}: protest never goes around the proxy.",
        proxy=str(proxy),
        host=host,
        port=port,
        hint=hint + ' To connect without a proxy, set proxy = "none".',
    )


def _login_refused(proxy: Proxy, reason: str) -> ConfigError:
    given = (
        "refused the user name and password in the proxy setting"
        if proxy.username
        else "asks for a user name and password, and the proxy setting gives none"
    )
    return ConfigError(
        f"The proxy {proxy} {given} ({reason}); no connection was made.",
        key="proxy",
        hint="Put the proxy's user name and password in the setting: "
        "socks5://USER:PASSWORD@HOST:PORT.",
    )


def _tidy(text: str) -> str:
    return "".join(ch if ch.isprintable() else " " for ch in text).strip()[:200]
